#!/usr/bin/env bash
# The whole test suite: installs what the tests need, builds with warnings as
# errors, runs every unit and integration test, then builds everything again
# under AddressSanitizer + UndefinedBehaviorSanitizer and runs every test again,
# and last runs each libFuzzer harness for a short bounded time.
# The last line is the summary: "<passed> passed, <failed> failed".
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
finish() {
  echo "${passed} passed, ${failed} failed"
  [ "$failed" -eq 0 ]
  exit
}

# run_ctest <label for humans> <ctest args...>: adds its counts to the totals.
run_ctest() {
  local what=$1
  shift
  local log
  log=$(mktemp)
  ctest "$@" --output-on-failure 2>&1 | tee "$log"
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "test.sh: $what: ctest printed no summary" >&2
    failed=$((failed + 1))
  else
    local f total
    f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
    passed=$((passed + total - f))
    failed=$((failed + f))
  fi
  rm -f "$log"
}

scripts/deps.sh test || { echo "test.sh: installing dependencies failed" >&2; failed=1; finish; }
jobs=$(nproc)

echo "== build (warnings are errors)"
if ! { cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTGATE_WERROR=ON &&
       cmake --build build -j "$jobs"; }; then
  echo "test.sh: the build failed" >&2
  failed=$((failed + 1))
  finish
fi

echo "== all tests"
run_ctest "all tests" --test-dir build -j "$jobs" --timeout 600

echo "== every test again under ASan + UBSan"
# The whole project, integration tests included: the edge and the API are
# where memory bugs would hide, and only real traffic reaches them.
if { cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCERTGATE_SANITIZE=ON \
       -DCERTGATE_BENCH=OFF &&
     cmake --build build-asan -j "$jobs"; }; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  run_ctest "sanitized tests" --test-dir build-asan -j "$jobs" --timeout 600
else
  echo "test.sh: the sanitizer build failed" >&2
  failed=$((failed + 1))
fi

echo "== every fuzzer for a short bounded time on its seed corpus"
# The libFuzzer harnesses (tests/fuzz), built with clang 16 under ASan + UBSan;
# each CTest test runs one for CERTGATE_FUZZ_SECONDS (10) on a copy of its
# seeds. Longer runs: scripts/fuzz.sh.
if { cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCERTGATE_FUZZ=ON \
       -DCMAKE_CXX_COMPILER=clang++-16 &&
     cmake --build build-fuzz -j "$jobs"; }; then
  run_ctest "fuzzers" --test-dir build-fuzz -L fuzz -j "$jobs"
else
  echo "test.sh: the fuzz build failed" >&2
  failed=$((failed + 1))
fi

finish
