#!/bin/bash -eu
# Builds the cargo-fuzz targets of fuzz/ for ClusterFuzzLite or OSS-Fuzz, inside their build
# image: $SRC is the source, $OUT receives each fuzzer, its options and its seed corpus. The
# image's environment carries the sanitizer and coverage flags; `cargo fuzz build -O` passes
# them on.
cd "$SRC/twinspace"

# Release build with debug assertions: the JIT's own assertions are part of what is checked.
cargo fuzz build -O --debug-assertions

targets="differential raw parse"
release=fuzz/target/x86_64-unknown-linux-gnu/release
for target in $targets; do
    cp "$release/$target" "$OUT/"
    # Value profiling: libFuzzer keeps inputs that bring a compared value closer to the
    # constant it is compared with, so the thresholds where the JIT changes shape (32-bit
    # immediates, copy distances, power-of-two divisors) are found by the fuzzer itself.
    printf '[libfuzzer]\nuse_value_profile = 1\n' > "$OUT/$target.options"
done
printf '[libfuzzer]\nuse_value_profile = 1\ndict = whitespace.dict\n' > "$OUT/raw.options"
printf '[libfuzzer]\nuse_value_profile = 1\ndict = whitespace.dict\n' > "$OUT/parse.options"
cp fuzz/whitespace.dict "$OUT/"

# Seed corpora: the repository's own programs. `raw` reads 4 bytes of limits and input length
# first (fuzz/src/lib.rs, RAW_SEED_PREFIX: fuel 2048, ordinary limits, no input).
seeds=$(mktemp -d)
mkdir -p "$seeds/raw" "$seeds/parse"
for program in corpus/programs/*.ws; do
    name=$(basename "$program" .ws)
    cp "$program" "$seeds/parse/$name"
    { printf '\x08\x00\xff\x00'; cat "$program"; } > "$seeds/raw/$name"
done
(cd "$seeds/raw" && zip -q "$OUT/raw_seed_corpus.zip" ./*)
(cd "$seeds/parse" && zip -q "$OUT/parse_seed_corpus.zip" ./*)
rm -rf "$seeds"
