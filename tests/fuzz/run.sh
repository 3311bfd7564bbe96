#!/usr/bin/env bash
# Fuzzes lmx/io's readers with libFuzzer + AddressSanitizer for SECONDS
# (default 60), starting from tests/python/io_corpus. Needs clang and a
# built build/liblmx.a (scripts/setup.sh). Only the readers are instrumented;
# the rest of lmx links from the normal build.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-60}
OUT=build/fuzz
mkdir -p "$OUT/corpus"
# Seed corpus: each seed file prefixed with its format selector byte.
declare -A selector=([npy]=0 [npz]=1 [safetensors]=2 [gguf]=3)
for f in tests/python/io_corpus/seed*; do
  ext=${f##*.}
  [ -n "${selector[$ext]:-}" ] || continue
  { printf "\\x0${selector[$ext]}"; cat "$f"; } > "$OUT/corpus/$(basename "$f")"
done
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address -I. tests/fuzz/fuzz_load.cpp lmx/io/*.cpp \
  build/liblmx.a $(pkg-config --libs openblas lapacke) -lz -lpthread -o "$OUT/fuzz_load"
"$OUT/fuzz_load" -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -detect_leaks=1 "$OUT/corpus"
