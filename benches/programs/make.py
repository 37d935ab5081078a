#!/usr/bin/env python3
"""Writes the benchmark programs of this folder, each in two sizes, and their expected output.

    python3 benches/programs/make.py          # writes NAME_SIZE.wsa and NAME_SIZE.out
    cargo run -- asm benches/programs/NAME_SIZE.wsa -o benches/programs/NAME_SIZE.ws

(`make.py --assemble` runs the second command for every program.)  Each program is one listing
below whose parameters ({N}, {R}, ...) differ between the sizes; the `.out` files are computed
here, in Python, from the same algorithm and parameters, independently of any engine.
`cargo bench --bench engines` checks every engine's output against them.
"""

import math
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------
COUNT = """\
; count.wsa -- a counting loop: the sum N + (N-1) + ... + 1, printed.
; Ten instructions per round, no heap, no calls: measures raw dispatch.
        push 0 | push {N}               ; sum k
loop:                                   ; sum k
        dup | jz done
        swap | copy 1 | add | swap      ; sum+k k
        push 1 | sub                    ; sum+k k-1
        jmp loop
done:                                   ; sum 0
        drop | printi | push 10 | printc
        end
"""


def count_out(N):
    return f"{N * (N + 1) // 2}\n"


# ---------------------------------------------------------------------------------------------
PRIMES = """\
; primes.wsa -- how many primes are below N, by trial division of odd n by odd d
; while d*d <= n.  Pure stack code: copy, mul, mod, jn/jz; a tight inner loop.
        push 1                          ; count (2 is prime)
        push 3                          ; count n
outer:                                  ; count n
        dup | push {N} | sub | jn test  ; n < N
        drop | printi | push 10 | printc
        end
test:                                   ; count n
        push 3                          ; count n d
inner:                                  ; count n d
        copy 1 | copy 1 | dup | mul | sub | jn prime   ; n < d*d
        copy 1 | copy 1 | mod | jz composite
        push 2 | add                    ; d+2
        jmp inner
prime:                                  ; count n d
        drop | swap | push 1 | add | swap
        push 2 | add                    ; count+1 n+2
        jmp outer
composite:                              ; count n d
        drop | push 2 | add             ; count n+2
        jmp outer
"""


def primes_out(N):
    sieve = bytearray([1]) * N
    sieve[0:2] = b"\0\0"
    for p in range(2, math.isqrt(N - 1) + 1):
        if sieve[p]:
            sieve[p * p :: p] = bytearray(len(range(p * p, N, p)))
    return f"{sum(sieve)}\n"


# ---------------------------------------------------------------------------------------------
SIEVE = """\
; sieve.wsa -- the sieve of Eratosthenes over heap cells 2..N-1, run R times; prints the
; number of primes below N.  Each round clears the cells, strikes the multiples of each
; prime p from p*p on, then counts: dense heap stores and loads at computed addresses.
; Cell i holds 1 when i is composite.
        push {R}                        ; rounds left
round:                                  ; r
        dup | jz finished
        push 2                          ; r i
clear:                                  ; r i
        dup | push {N} | sub | jz cleared
        dup | push 0 | store
        push 1 | add
        jmp clear
cleared:                                ; r N
        drop | push 2                   ; r p
strike:                                 ; r p
        dup | dup | mul | push {N} | sub | jn try_p    ; p*p < N
        jmp struck
try_p:                                  ; r p
        dup | retrieve | jz multiples   ; p is prime
        push 1 | add
        jmp strike
multiples:                              ; r p
        dup | dup | mul                 ; r p j=p*p
multiple:                               ; r p j
        dup | push {N} | sub | jn mark  ; j < N
        drop | push 1 | add
        jmp strike
mark:                                   ; r p j
        dup | push 1 | store
        copy 1 | add                    ; r p j+p
        jmp multiple
struck:                                 ; r p
        drop | push 0 | push 2          ; r count i
tally:                                  ; r count i
        dup | push {N} | sub | jz tallied
        swap | push 1 | copy 2 | retrieve | sub | add | swap   ; count + (1 - cell i)
        push 1 | add
        jmp tally
tallied:                                ; r count N
        drop | push 0 | swap | store    ; heap[0] = count
        push 1 | sub
        jmp round
finished:                               ; 0
        drop | push 0 | retrieve | printi | push 10 | printc
        end
"""


def sieve_out(N, R):
    return primes_out(N)


# ---------------------------------------------------------------------------------------------
FIB = """\
; fib.wsa -- fib(N) by the doubly recursive definition: calls and returns.
        push {N} | call fib | printi | push 10 | printc
        end
fib:                                    ; n -> fib(n)
        dup | push 2 | sub | jn small   ; n < 2: fib(n) = n
        dup | push 1 | sub | call fib   ; n fib(n-1)
        swap | push 2 | sub | call fib  ; fib(n-1) fib(n-2)
        add
small:
        ret
"""


def fib_out(N):
    a, b = 0, 1
    for _ in range(N):
        a, b = b, a + b
    return f"{a}\n"


# ---------------------------------------------------------------------------------------------
FACT = """\
; fact.wsa -- 1000! computed R times with big integers; each time its trailing zeros are
; counted by div and mod by 10; then 1000!, its digit sum and the trailing zeros are printed.
; Stresses big-integer mul (up to 8530 bits), div and mod by small numbers, printi.
        push {R}                        ; rounds left
round:                                  ; r
        dup | jz finished
        push 1 | push 1000              ; r acc n
product:                                ; r acc n
        dup | jz multiplied
        swap | copy 1 | mul | swap      ; r acc*n n
        push 1 | sub
        jmp product
multiplied:                             ; r 1000! 0
        drop | push 1 | swap | store    ; heap[1] = 1000!
        push 2 | push 0 | store         ; heap[2] = zeros
zeros:
        push 1 | retrieve | push 10 | mod | jz zero
        push 1 | sub                    ; r-1
        jmp round
zero:
        push 1 | dup | retrieve | push 10 | div | store
        push 2 | dup | retrieve | push 1 | add | store
        jmp zeros
finished:                               ; 0
        drop
        push 1000 | push 1              ; n acc: 1000! once more, to print
again:                                  ; n acc
        copy 1 | jz print
        copy 1 | mul | swap | push 1 | sub | swap
        jmp again
print:                                  ; 0 1000!
        slide 1 | dup | printi | push 10 | printc
        push 0 | swap                   ; sum f
digits:                                 ; sum f
        dup | jz summed
        swap | copy 1 | push 10 | mod | add | swap   ; sum+digit f
        push 10 | div
        jmp digits
summed:                                 ; sum 0
        drop | printi | push 10 | printc
        push 2 | retrieve | printi | push 10 | printc
        end
"""


def fact_out(R):
    f = math.factorial(1000)
    s = str(f)
    zeros = len(s) - len(s.rstrip("0"))
    return f"{s}\n{sum(map(int, s))}\n{zeros}\n"


# ---------------------------------------------------------------------------------------------
MANDEL = """\
; mandel.wsa -- the Mandelbrot set in fixed point (scale 1024) over [-2, 0.5) x [-1.25, 1.25),
; W x H characters, at most M iterations: '@' inside, else a character chosen by the
; iteration count mod 8.  Then the total of iterations.  cr, ci and the count live on the
; stack; zr, zi and the loop variables in heap cells (1 zr, 2 zi, 3 total, 4 x, 5 y); the
; character ramp in cells 10..17.  Floored div by 1024 throughout.
        push 10 | push ' ' | store | push 11 | push '.' | store
        push 12 | push ':' | store | push 13 | push '-' | store
        push 14 | push '=' | store | push 15 | push '+' | store
        push 16 | push '*' | store | push 17 | push '#' | store
        push 3 | push 0 | store | push 5 | push 0 | store
row:
        push 5 | retrieve | push {H} | sub | jz picture
        push 4 | push 0 | store
pixel:
        push 4 | retrieve | push {W} | sub | jz row_done
        push 4 | retrieve | push {DX} | mul | push -2048 | add        ; cr
        push 5 | retrieve | push {DY} | mul | push -1280 | add        ; cr ci
        push 1 | push 0 | store | push 2 | push 0 | store
        push 0                                                        ; cr ci it
iterate:                                                              ; cr ci it
        push 1 | retrieve | dup | mul | push 1024 | div               ; cr ci it zr2
        push 2 | retrieve | dup | mul | push 1024 | div               ; cr ci it zr2 zi2
        push 4096 | copy 2 | sub | copy 1 | sub | jn escaped          ; zr2 + zi2 > 4
        copy 2 | push {M} | sub | jz inside
        push 2 | push 1 | retrieve | push 2 | retrieve | mul | push 512 | div
        copy 5 | add | store                                          ; zi = 2 zr zi + ci
        sub | copy 3 | add | push 1 | swap | store                    ; zr = zr2 - zi2 + cr
        push 1 | add                                                  ; it+1
        jmp iterate
inside:                                                               ; cr ci it zr2 zi2
        push '@' | printc
        jmp pixel_done
escaped:
        copy 2 | push 8 | mod | push 10 | add | retrieve | printc
pixel_done:                                                           ; cr ci it zr2 zi2
        drop | drop
        push 3 | dup | retrieve | copy 2 | add | store                ; total += it
        drop | drop | drop
        push 4 | dup | retrieve | push 1 | add | store
        jmp pixel
row_done:
        push 10 | printc
        push 5 | dup | retrieve | push 1 | add | store
        jmp row
picture:
        push 3 | retrieve | printi | push 10 | printc
        end
"""


def mandel_out(W, H, M, DX, DY):
    ramp = " .:-=+*#"
    out, total = [], 0
    for y in range(H):
        ci = y * DY - 1280
        for x in range(W):
            cr = x * DX - 2048
            zr = zi = it = 0
            while True:
                zr2, zi2 = zr * zr // 1024, zi * zi // 1024
                if 4096 - zr2 - zi2 < 0:
                    out.append(ramp[it % 8])
                    break
                if it == M:
                    out.append("@")
                    break
                zi = zr * zi // 512 + ci
                zr = zr2 - zi2 + cr
                it += 1
            total += it
        out.append("\n")
    return "".join(out) + f"{total}\n"


def mandel_params(W, H, M):
    assert 2560 % W == 0 and 2560 % H == 0
    return dict(W=W, H=H, M=M, DX=2560 // W, DY=2560 // H)


# ---------------------------------------------------------------------------------------------
PROGRAMS = {
    # name: (listing, model, small parameters, large parameters)
    "count": (COUNT, count_out, dict(N=1_000_000), dict(N=50_000_000)),
    "primes": (PRIMES, primes_out, dict(N=100_000), dict(N=1_000_000)),
    "sieve": (SIEVE, sieve_out, dict(N=100_000, R=2), dict(N=1_000_000, R=5)),
    "fib": (FIB, fib_out, dict(N=24), dict(N=35)),
    "fact": (FACT, fact_out, dict(R=1), dict(R=1000)),
    "mandel": (MANDEL, mandel_out, mandel_params(64, 32, 100), mandel_params(256, 128, 1000)),
}


def main():
    for name, (listing, model, *sizes) in PROGRAMS.items():
        for size, params in zip(["small", "large"], sizes):
            stem = HERE / f"{name}_{size}"
            shown = ", ".join(f"{k}={v}" for k, v in params.items())
            header = f"; {name}_{size}: {shown}. Written by make.py: edit the listing there.\n"
            stem.with_suffix(".wsa").write_text(header + listing.format(**params))
            stem.with_suffix(".out").write_text(model(**params))
            if "--assemble" in sys.argv:
                command = ["cargo", "run", "-q", "--", "asm", str(stem) + ".wsa"]
                subprocess.run(command + ["-o", str(stem) + ".ws"], check=True, cwd=HERE)
            print(f"{stem.name}: {shown}")


if __name__ == "__main__":
    main()
