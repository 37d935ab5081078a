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
    # The libFuzzer options of each target (fuzz/options/, explained there and in
    # fuzz/README.md): value profiling everywhere, long inputs for `differential`, the
    # dictionary for `raw` and `parse`.
    cp "fuzz/options/$target.options" "$OUT/"
done
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
