/* primes: count the primes below N by trial division, as /work/shared/bench/primes.wsa does:
 * for each n from 2, try d = 2, 3, 4, ... while d*d <= n; n is prime when no d divides it.
 * 64-bit integers throughout, like twinspace's JIT fast path.  Usage: primes [N] (10^6). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int64_t limit = argc > 1 ? strtoll(argv[1], NULL, 10) : 1000000;
    int64_t count = 0;
    for (int64_t n = 2; n != limit; n++) {
        int64_t d = 2;
        for (;;) {
            if (n - d * d < 0) {
                count++;
                break;
            }
            if (n % d == 0)
                break;
            d++;
        }
    }
    printf("%lld\n", (long long)count);
    return 0;
}
