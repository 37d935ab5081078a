#!/bin/sh
# Builds the C versions of the five shared benchmarks with nothing but `cc` (and GMP's
# libgmp-dev for fact, skipped with a note when it does not link):
#   sh benches/c/build.sh [OUTDIR]        (default OUTDIR: target/bench-c)
# Each program takes its parameters on the command line; the defaults are the large sizes of
# the shared benchmarks (see each file's opening comment).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../target/bench-c}
cc=${CC:-cc}
cflags=${CFLAGS:--O2}
mkdir -p "$out"
for p in primes sieve fib mandel; do
    $cc $cflags -o "$out/$p" "$here/$p.c"
done
if $cc $cflags -o "$out/fact" "$here/fact.c" -lgmp 2>/dev/null; then :; else
    echo "build.sh: fact not built: it needs GMP (apt-get install libgmp-dev)" >&2
fi
echo "$out"
