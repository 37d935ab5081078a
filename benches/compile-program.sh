#!/bin/sh
# Writes a Whitespace assembly listing of exactly N instructions (a label is one: `mark`) to
# standard output, for measuring the JIT's compile time on large programs:
#   sh benches/compile-program.sh 10000 > /tmp/p10k.wsa
#   twinspace bench /tmp/p10k.wsa --engine jit --fuel 0 --repeat 5     # the `compile` column
# The code is a chain of blocks of 26 instructions, each stack-neutral, mixing arithmetic, a
# conditional forward jump, heap store and retrieve, a backward jump, a call, copy/slide and an
# unconditional jump: every block is a few basic blocks, as compiled Whitespace programs are.
# `--fuel 0` stops it before its first instruction: only compiling is measured.
set -eu
n=${1:?usage: compile-program.sh N}
case $n in ""|*[!0-9]*|[0-5]) echo "compile-program.sh: N must be a number of at least 6" >&2; exit 2 ;; esac
awk -v n="$n" 'BEGIN {
    chunks = int((n - 6) / 26); if (chunks < 0) chunks = 0
    for (i = 0; i < chunks; i++) {
        printf "L%d: push %d | push 3 | mul | push 7 | mod | jz L%d\n", i, i, i + 1
        printf "    push 100 | push %d | store\n", i
        printf "    push 100 | retrieve | dup | add | jn L%d\n", int(i / 2)
        printf "    push %d | call S | drop\n", i
        printf "    push 1 | push 2 | swap | copy 1 | slide 1 | add | drop | jmp L%d\n", i + 1
    }
    printf "L%d:\n", chunks
    # What the blocks leave of N, then end and the subroutine (6 with their labels).
    for (k = chunks * 26 + 6; k < n; k++) print "    push 0"
    print "    end"
    print "S: dup | add | ret"
}'
