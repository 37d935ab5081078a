#!/usr/bin/env bash
# Whole-process, paired timings of twinspace against other Whitespace implementations and C.
#
#   bash benches/compare.sh [--dir DIR] [--small] [--rounds N] [--only NAME,...]
#                           [--interp-runs N] [--no-interp] [--callgrind]
#
# For each of the five benchmarks (primes, sieve, fib, fact, mandel) it prints twinspace's JIT
# time beside its interpreter's, then every peer found here, each run in the same rounds as the
# JIT (one run of every engine per round, the order rotated each round), with the ratio
# twinspace JIT / engine: below 1 means twinspace is faster. A ratio is the median over rounds
# of the paired per-round ratios, for wall time and for CPU time (user + system), which is the
# steadier of the two on a loaded machine. Every engine's output is first checked against the
# benchmark's .out file: a wrong one is reported `wrong` and not timed.
#
# Programs: DIR/NAME.ws with DIR/NAME.out (default DIR: the shared benchmark directory
# ../shared/bench next to the checkout, if there is one; else benches/programs, NAME_large);
# --small takes NAME_small instead.
#
# Nothing but bash and cargo is needed for the twinspace part (the binary is built with
# `cargo build --release` unless TWINSPACE names one). Peers are optional, used when found:
#   C            benches/c/*.c built with `cc -O2` (fact needs GMP), unless NO_C=1;
#                only where its output matches (the C programs' default parameters are the
#                shared benchmarks' large sizes; with --small they get the small ones)
#   wsc          whitespace-rs (`cargo install whitespacers`): WSC, else `wsc` on PATH,
#                else /tmp/wsinst/bin/wsc (WSC=none: not used); run as `wsc FILE` (its
#                default: compiled ahead)
#   koturn       KOTURN=path of koturn/Whitespace's binary: each program translated to C
#                (`-t`) and built with `cc -O2 -DNDEBUG` (its asserts off) before timing
#   drebelsky    DREBELSKY=path of drebelsky/whitespace-jit's `compile`: run as `compile t FILE`
#   nebula       NEBULA=path of thaliaarchi/nebula's `compile` script: each program compiled
#                to a native binary (LLVM -O3) before timing
#   PEER_name    any other command, `{}` standing for the .ws file (e.g. PEER_mine='./ws {}')
# Commands are split at spaces (no quoting): keep paths free of them.
# --callgrind adds valgrind's instruction count of one JIT run (slow: about 50x).
# Translation and compilation of ahead-of-time peers is done before and not timed; twinspace's
# and wsc's compile time is inside their runs.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir=
size=large
rounds=5
only=
interp_runs=1
callgrind=0
while [ $# -gt 0 ]; do
    case $1 in
        --dir) dir=$2; shift 2 ;;
        --small) size=small; shift ;;
        --rounds) rounds=$2; shift 2 ;;
        --only) only=$2; shift 2 ;;
        --interp-runs) interp_runs=$2; shift 2 ;;
        --no-interp) interp_runs=0; shift ;;
        --callgrind) callgrind=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "compare.sh: unknown argument \`$1\` (see --help)" >&2; exit 2 ;;
    esac
done
case $rounds in ''|*[!0-9]*|0) echo "compare.sh: --rounds needs a positive number" >&2; exit 2 ;; esac
case $interp_runs in ''|*[!0-9]*) echo "compare.sh: --interp-runs needs a number" >&2; exit 2 ;; esac

if [ -z "$dir" ]; then
    for d in "$root/../shared/bench" "$root/../../shared/bench"; do
        if [ -f "$d/primes.ws" ]; then dir=$(cd "$d" && pwd); break; fi
    done
fi
if [ -z "$dir" ]; then dir=$root/benches/programs; fi
[ -d "$dir" ] || { echo "compare.sh: no directory $dir" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/twinspace-compare.XXXXXX")
trap 'rm -rf "$work"' EXIT

ts=${TWINSPACE:-}
if [ -z "$ts" ]; then
    (cd "$root" && cargo build --release --locked --quiet) || exit 4
    ts=$root/target/release/twinspace
fi

# The file of benchmark NAME: DIR/NAME.ws, else DIR/NAME_SIZE.ws.
program_file() {
    if [ $size = large ] && [ -f "$dir/$1.ws" ]; then echo "$dir/$1.ws"
    elif [ -f "$dir/$1_$size.ws" ]; then echo "$dir/$1_$size.ws"
    fi
}

# Parameters of the C versions for the small shared sizes (large: their defaults).
c_args() {
    [ $size = small ] || return 0
    case $1 in
        primes) echo 100000 ;; sieve) echo 100000 2 ;; fib) echo 25 ;;
        fact) echo 1000 1 ;; mandel) echo 64 32 200 ;;
    esac
}

cdir=
if [ "${NO_C:-0}" != 1 ] && command -v "${CC:-cc}" >/dev/null; then
    cdir=$work/c
    sh "$root/benches/c/build.sh" "$cdir" >/dev/null || cdir=
fi
wsc=${WSC:-$(command -v wsc || true)}
if [ -z "$wsc" ] && [ -x /tmp/wsinst/bin/wsc ]; then wsc=/tmp/wsinst/bin/wsc; fi
if [ "$wsc" = none ]; then wsc=; fi

# Median of the numbers on standard input.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# time_run OUTFILE TIMESFILE CMD...: runs CMD (no input, output to OUTFILE) and appends its
# "wall-seconds cpu-seconds" to TIMESFILE.
time_run() {
    local out=$1 times=$2; shift 2
    local TIMEFORMAT='%3R %3U %3S' t
    t=$( { time "$@" </dev/null >"$out" 2>/dev/null; } 2>&1 ) || true
    echo "$t" | awk '{ printf "%.3f %.3f\n", $1, $2 + $3 }' >>"$times"
}

printf '%-8s %-14s %9s %9s %10s %10s %14s\n' program engine "wall s" "cpu s" "jit/x wall" "jit/x cpu" "notes"
for name in primes sieve fib fact mandel; do
    if [ -n "$only" ] && [[ ",$only," != *",$name,"* ]]; then continue; fi
    ws=$(program_file $name)
    if [ -z "$ws" ]; then echo "compare.sh: no $name in $dir" >&2; continue; fi
    expected=${ws%.ws}.out
    labels=(jit)
    cmds=("$ts run $ws")
    if [ -n "$cdir" ] && [ -x "$cdir/$name" ]; then
        labels+=(C); cmds+=("$cdir/$name $(c_args $name)")
    fi
    if [ -n "$wsc" ]; then labels+=(wsc); cmds+=("$wsc $ws"); fi
    if [ -n "${KOTURN:-}" ]; then
        if "$KOTURN" "$ws" -t -o "$work/koturn-$name.c" >/dev/null 2>&1 &&
            "${CC:-cc}" -O2 -DNDEBUG -w -o "$work/koturn-$name" "$work/koturn-$name.c" 2>/dev/null; then
            labels+=(koturn); cmds+=("$work/koturn-$name")
        else
            printf '%-8s %-14s %s\n' $name koturn "does not translate or build"
        fi
    fi
    if [ -n "${DREBELSKY:-}" ]; then labels+=(drebelsky); cmds+=("$DREBELSKY t $ws"); fi
    if [ -n "${NEBULA:-}" ]; then
        if "$NEBULA" "$ws" "$work/nebula-$name" >/dev/null 2>&1; then
            labels+=(nebula); cmds+=("$work/nebula-$name")
        else
            printf '%-8s %-14s %s\n' $name nebula "does not compile"
        fi
    fi
    for var in $(compgen -v PEER_ || true); do
        labels+=("${var#PEER_}"); cmds+=("${!var//\{\}/$ws}")
    done

    # Check every engine's output (and, with GNU time, take its peak memory).
    ok=()
    wrong=()
    for i in "${!labels[@]}"; do
        mem=
        if [ -x /usr/bin/time ]; then
            /usr/bin/time -f %M -o "$work/mem" ${cmds[$i]} </dev/null >"$work/out" 2>/dev/null || true
            mem="$(($(tail -n 1 "$work/mem" 2>/dev/null || echo 0) / 1024)) MiB"
        else
            ${cmds[$i]} </dev/null >"$work/out" 2>/dev/null || true
        fi
        if cmp -s "$work/out" "$expected"; then
            ok+=("$i"); echo "$mem" >"$work/mem-$i"
        else
            wrong+=("${labels[$i]}")
            if [ $i = 0 ]; then echo "compare.sh: twinspace is wrong on $ws" >&2; exit 5; fi
        fi
    done

    # Paired rounds: every engine once per round, starting one later each round.
    for i in "${ok[@]}"; do : >"$work/t-$i"; done
    n=${#ok[@]}
    for ((r = 0; r < rounds; r++)); do
        for ((k = 0; k < n; k++)); do
            i=${ok[$(((k + r) % n))]}
            time_run "$work/out" "$work/t-$i" ${cmds[$i]}
        done
    done
    jw=$(awk '{ print $1 }' "$work/t-0" | median)
    jc=$(awk '{ print $2 }' "$work/t-0" | median)
    notes=$(cat "$work/mem-0")
    if [ $callgrind = 1 ] && command -v valgrind >/dev/null; then
        ir=$(valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" $ts run "$ws" 2>&1 >/dev/null </dev/null |
            awk '/refs:/ { gsub(",", "", $NF); print $NF }')
        notes="$notes, Ir $ir"
    fi
    printf '%-8s %-14s %9s %9s %10s %10s %14s\n' $name "twinspace jit" "$jw" "$jc" - - "$notes"
    for i in "${ok[@]:1}"; do
        w=$(awk '{ print $1 }' "$work/t-$i" | median)
        c=$(awk '{ print $2 }' "$work/t-$i" | median)
        rw=$(paste -d' ' "$work/t-0" "$work/t-$i" | awk '{ if ($3 > 0) print $1 / $3 }' | median)
        rc=$(paste -d' ' "$work/t-0" "$work/t-$i" | awk '{ if ($4 > 0) print $2 / $4 }' | median)
        printf '%-8s %-14s %9s %9s %10.3f %10.3f %14s\n' $name "${labels[$i]}" "$w" "$c" "$rw" "$rc" "$(cat "$work/mem-$i")"
    done
    for label in "${wrong[@]}"; do
        printf '%-8s %-14s %9s %9s %10s %10s %14s\n' $name "$label" - - - - wrong
    done
    # The interpreter is 20 to 100 times slower: a few runs of its own, not paired.
    if [ "$interp_runs" -gt 0 ]; then
        : >"$work/t-interp"
        for ((r = 0; r < interp_runs; r++)); do
            time_run "$work/out" "$work/t-interp" $ts run --engine interp "$ws"
        done
        if cmp -s "$work/out" "$expected"; then
            w=$(awk '{ print $1 }' "$work/t-interp" | median)
            c=$(awk '{ print $2 }' "$work/t-interp" | median)
            printf '%-8s %-14s %9s %9s %10.3f %10.3f %14s\n' $name "twinspace int" "$w" "$c" \
                "$(echo "$jw $w" | awk '{ print $1 / $2 }')" "$(echo "$jc $c" | awk '{ print ($2 > 0 ? $1 / $2 : 0) }')" unpaired
        else
            printf '%-8s %-14s %9s %9s %10s %10s %14s\n' $name "twinspace int" - - - - wrong
            echo "compare.sh: twinspace's interpreter is wrong on $ws" >&2; exit 5
        fi
    fi
done
