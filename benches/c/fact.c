/* fact: N! computed R times with big integers, then N! printed and the sum of its decimal
 * digits, taken as /work/shared/bench/fact.wsa does: repeated mod 10 and div 10 of the whole
 * number (floored; every operand is non-negative).  GMP (libgmp-dev) for the big integers.
 * Usage: fact [N [R]] (1000, 1000). */
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    long reps = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
    if (n < 0 || reps < 1) {
        fprintf(stderr, "fact: N must be non-negative and R at least 1\n");
        return 2;
    }
    mpz_t acc, sum, digit;
    mpz_inits(acc, sum, digit, NULL);
    for (long r = reps; r != 0; r--) {
        mpz_set_ui(acc, 1);
        for (long k = 2; n - k >= 0; k++)
            mpz_mul_si(acc, acc, k);
    }
    mpz_out_str(stdout, 10, acc);
    putchar('\n');
    mpz_set_ui(sum, 0);
    while (mpz_sgn(acc) != 0) {
        mpz_fdiv_r_ui(digit, acc, 10);
        mpz_add(sum, sum, digit);
        mpz_fdiv_q_ui(acc, acc, 10);
    }
    mpz_out_str(stdout, 10, sum);
    putchar('\n');
    mpz_clears(acc, sum, digit, NULL);
    return 0;
}
