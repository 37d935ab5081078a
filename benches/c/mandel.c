/* mandel: fixed-point (scale 4096) Mandelbrot over [-2,1) x [-1.5,1.5), W x H pixels, at most
 * MAXIT iterations, as /work/shared/bench/mandel.wsa does: '#' for a pixel still inside after
 * MAXIT iterations, ' ' for one that escaped (zr2 + zi2 > 4 * 4096), a line feed per row, then
 * the total iteration count.  zr*zr and zi*zi are divided directly (they are non-negative);
 * 2*zr*zi goes through tdiv, division of the magnitude, as the listing's subroutine does.
 * 64-bit integers.  Usage: mandel [W H MAXIT] (256 128 2000; 3*4096 divisible by W and H). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int64_t tdiv(int64_t a) {
    if (a < 0)
        return -(-a / 4096);
    return a / 4096;
}

int main(int argc, char **argv) {
    int64_t w = 256, h = 128, maxit = 2000;
    if (argc > 3) {
        w = strtoll(argv[1], NULL, 10);
        h = strtoll(argv[2], NULL, 10);
        maxit = strtoll(argv[3], NULL, 10);
    }
    if (w <= 0 || h <= 0 || maxit < 0) {
        fprintf(stderr, "mandel: W and H must be positive, MAXIT non-negative\n");
        return 2;
    }
    int64_t total = 0;
    for (int64_t y = 0; y != h; y++) {
        int64_t ci = y * (3 * 4096 / h) - 6144;
        for (int64_t x = 0; x != w; x++) {
            int64_t cr = x * (3 * 4096 / w) - 8192;
            int64_t zr = 0, zi = 0, it = 0;
            for (;;) {
                int64_t zr2 = zr * zr / 4096;
                int64_t zi2 = zi * zi / 4096;
                if (16384 - zr2 - zi2 < 0) {
                    putchar(' ');
                    break;
                }
                if (it == maxit) {
                    putchar('#');
                    break;
                }
                zi = tdiv(zr * zi * 2) + ci;
                zr = zr2 - zi2 + cr;
                it++;
            }
            total += it;
        }
        putchar('\n');
    }
    printf("%lld\n", (long long)total);
    return 0;
}
