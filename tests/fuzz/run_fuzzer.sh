#!/usr/bin/env bash
# run_fuzzer.sh <fuzzer> <seed corpus dir> <work dir> <seconds>: one bounded
# fuzzing run, as CTest runs each harness. The seeds are copied into
# <work dir>/corpus, so the tree's corpus never changes; a crash, leak or
# timeout leaves its input in <work dir> (crash-*, leak-*, timeout-*) and
# fails the test.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3 seconds=$4
rm -rf "$work"
mkdir -p "$work/corpus"
cp -r "$seeds"/. "$work/corpus/"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Stacks with function names and lines (Debian's clang-16 comes without one).
[ -n "${ASAN_SYMBOLIZER_PATH:-}" ] || ! command -v llvm-symbolizer >/dev/null ||
  export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
if ! "$fuzzer" "$work/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$work/" 2>"$work/log"; then
  tail -n 60 "$work/log"
  echo "run_fuzzer: $(basename "$fuzzer") failed; the input is in $work:" >&2
  ls "$work" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' >&2 || true
  exit 1
fi
grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/log" || true
