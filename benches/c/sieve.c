/* sieve: the sieve of Eratosthenes over cells [0, N), repeated R times, as
 * /work/shared/bench/sieve.wsa does: set every cell to 1, clear the multiples j = i*i, i*i+i, ...
 * of every i with i*i < N whose cell is still 1, then sum cells [2, N); print the last sum.
 * 64-bit cells and indices.  Usage: sieve [N [R]] (10^6, 5). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int64_t limit = argc > 1 ? strtoll(argv[1], NULL, 10) : 1000000;
    int64_t reps = argc > 2 ? strtoll(argv[2], NULL, 10) : 5;
    if (limit < 2 || reps < 1) {
        fprintf(stderr, "sieve: N must be at least 2 and R at least 1\n");
        return 2;
    }
    int64_t *heap = malloc((size_t)limit * sizeof *heap);
    if (heap == NULL) {
        fprintf(stderr, "sieve: out of memory\n");
        return 4;
    }
    int64_t count = 0;
    for (int64_t r = reps; r != 0; r--) {
        for (int64_t i = 0; i != limit; i++)
            heap[i] = 1;
        for (int64_t i = 2; i * i - limit < 0; i++) {
            if (heap[i] == 0)
                continue;
            for (int64_t j = i * i; j - limit < 0; j += i)
                heap[j] = 0;
        }
        count = 0;
        for (int64_t i = 2; i != limit; i++)
            count += heap[i];
    }
    printf("%lld\n", (long long)count);
    free(heap);
    return 0;
}
