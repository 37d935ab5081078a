/* fib: doubly recursive Fibonacci, as /work/shared/bench/fib.wsa does (n < 2 gives n).
 * 64-bit integers.  The recursion is kept: the function is called through a volatile pointer so
 * the compiler cannot turn it into a loop or memoise it, as a Whitespace `call` cannot be.
 * Usage: fib [N] (35). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int64_t fib(int64_t n);
static int64_t (*volatile fib_ptr)(int64_t) = fib;

static int64_t fib(int64_t n) {
    if (n - 2 < 0)
        return n;
    int64_t a = fib_ptr(n - 1);
    int64_t b = fib_ptr(n - 2);
    return a + b;
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? strtoll(argv[1], NULL, 10) : 35;
    printf("%lld\n", (long long)fib_ptr(n));
    return 0;
}
