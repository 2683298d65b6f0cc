#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, clang, ASan + UBSan) in
# build-fuzz and runs each for SECONDS (default 600), one after the other.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   TARGET: a harness name, e.g. certificate_pem dns_query (default: all;
#           `scripts/fuzz.sh --list` prints them)
# Each target reads its seeds from tests/fuzz/corpus/<name> (never written)
# and keeps the inputs it finds interesting in build-fuzz/corpus/<name>, so a
# later run goes on from there. Crashes, leaks, timeouts and out-of-memory
# inputs go to build-fuzz/findings/<name>/; reproduce one with
#   build-fuzz/tests/fuzz/<name>_fuzz build-fuzz/findings/<name>/crash-...
# The environment variable FUZZ_ARGS adds libFuzzer flags (e.g. "-jobs=2").
# Exits 1 if any target found something.
set -uo pipefail
cd "$(dirname "$0")/.."

all_targets() {
  sed -nE 's/^certgate_fuzzer\(([a-z0-9_]+) .*/\1/p' tests/fuzz/CMakeLists.txt
}
if [ "${1:-}" = --list ]; then
  all_targets
  exit 0
fi

seconds=${1:-600}
shift || true
case "$seconds" in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(all_targets)
for t in "${targets[@]}"; do
  [ -d "tests/fuzz/corpus/$t" ] || { echo "fuzz: no target '$t' (see $0 --list)" >&2; exit 2; }
done

jobs=$(nproc)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTGATE_FUZZ=ON \
      -DCMAKE_CXX_COMPILER="${FUZZ_CXX:-clang++-16}" >/dev/null &&
  cmake --build build-fuzz -j "$jobs" --target "${targets[@]/%/_fuzz}" ||
  { echo "fuzz: the build failed" >&2; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Stacks with function names and lines (Debian's clang-16 comes without one).
[ -n "${ASAN_SYMBOLIZER_PATH:-}" ] || ! command -v llvm-symbolizer >/dev/null ||
  export ASAN_SYMBOLIZER_PATH=$(command -v llvm-symbolizer)
found=()
for t in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$t
  findings=build-fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  echo "== $t: ${seconds}s (corpus $corpus, findings $findings)"
  # The first directory receives new inputs; the tree's seeds are only read.
  # shellcheck disable=SC2086
  if ! "build-fuzz/tests/fuzz/${t}_fuzz" "$corpus" "tests/fuzz/corpus/$t" \
         -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
         -print_final_stats=1 -artifact_prefix="$findings/" ${FUZZ_ARGS:-} \
         2>"build-fuzz/findings/$t.log"; then
    tail -n 40 "build-fuzz/findings/$t.log"
    found+=("$t")
  else
    grep -E '^stat::number_of_executed_units|DONE' "build-fuzz/findings/$t.log" || true
  fi
done

if [ ${#found[@]} -gt 0 ]; then
  echo "fuzz: findings in ${found[*]}: see build-fuzz/findings/<name>/ and <name>.log"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, nothing found"
