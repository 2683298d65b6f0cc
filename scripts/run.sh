#!/usr/bin/env bash
# Quick start: install what is missing, build, and run `certgate serve` on the
# embedded default (SQLite and the master key in ./certgate-data).
# Extra arguments go to `certgate serve`, e.g. scripts/run.sh --api-listen 127.0.0.1:0
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target certgate
exec build/src/cli/certgate serve --data-dir "${CERTGATE_DATA_DIR:-certgate-data}" "$@"
