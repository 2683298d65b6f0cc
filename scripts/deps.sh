#!/usr/bin/env bash
# Installs the Debian packages certgate needs, only those that are missing.
# Usage: scripts/deps.sh build|test|bench
#   build: what compiling and running certgate needs
#   test:  the above plus the real peers the test suite starts: Pebble and
#          pebble-challtestsrv (the ACME CA and a customer's DNS), unbound
#          (the recursive resolver), the PostgreSQL server (each ctest run
#          starts a throw-away cluster from its binaries for the PostgreSQL
#          store's tests: tests/support/pg_test_cluster.sh; Debian's package
#          also makes a system cluster, which the tests leave alone), dig,
#          sqlite3, openssl and curl, and for the dashboard's browser tests
#          chromium, Node.js and the npm packages pinned in
#          tests/e2e/package-lock.json (playwright-core, and
#          @ngrok/ngrok-api for ngrok's own client against certgate);
#          lintian and systemd-analyze for the Debian package's check
#   bench: build plus the peers the benchmarks compare with or need: HAProxy
#          and nginx (bench/handshake_bench, bench/scale_bench
#          --distinct-certs), lego, Pebble and unbound (bench/acme_bench);
#          each bench starts its own instances
#          and promtool (tests of /metrics), taken out of Debian's prometheus
#          package into ~/.cache/certgate rather than installed: installing
#          it would start a Prometheus server on this machine
# Idempotent: a second run installs nothing and prints nothing but a summary.
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  libssl-dev libsodium-dev libsqlite3-dev libpq-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libldns-dev libpsl-dev libidn2-dev
  libcli11-dev libyaml-cpp-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# clang-16 and its runtimes: the libFuzzer harnesses (tests/fuzz); Debian's
# default clang 14 cannot compile the edge.
# testssl.sh checks the edge's TLS posture (tests/integration/edge_tls_posture_test.cc).
# lintian and systemd-analyze (package systemd; installing it starts nothing
# where systemd is not already running) check the Debian package
# (scripts/check_deb.sh, the CTest test debian_package).
test_pkgs=(openssl curl sqlite3 postgresql pebble unbound bind9-dnsutils chromium testssl.sh
           clang-16 libclang-rt-16-dev libfuzzer-16-dev lintian systemd)
bench_pkgs=(haproxy nginx lego pebble unbound)

want=("${build_pkgs[@]}")
mode=${1:-build}
case "$mode" in
  build) ;;
  test)
    want+=("${test_pkgs[@]}")
    # The machine's own Node.js is used when there is one.
    command -v node >/dev/null && command -v npm >/dev/null || want+=(nodejs npm)
    ;;
  bench) want+=("${bench_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

# promtool, from Debian's prometheus package unpacked (not installed: its
# postinst would start a server), where tests/support finds it.
promtool_dir="${XDG_CACHE_HOME:-$HOME/.cache}/certgate/prometheus"
promtool_dep() {
  [ "$mode" = test ] || return 0
  command -v promtool >/dev/null && return 0
  [ -x "$promtool_dir/usr/bin/promtool" ] && return 0
  echo "deps: unpacking promtool from Debian's prometheus package into $promtool_dir"
  local tmp
  tmp=$(mktemp -d)
  # (as root, apt warns that its _apt user cannot write the temp dir)
  chmod 755 "$tmp"
  if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
    "${sudo_cmd[@]}" apt-get update >/dev/null
    (cd "$tmp" && apt-get download prometheus >/dev/null)
  fi
  mkdir -p "$promtool_dir"
  dpkg-deb -x "$tmp"/prometheus_*.deb "$promtool_dir"
  rm -rf "$tmp"
}

# The e2e tests' npm packages, exactly as locked; again only when missing.
npm_deps() {
  [ "$mode" = test ] || return 0
  local dir
  dir="$(dirname "$0")/../tests/e2e"
  if [ -f "$dir/node_modules/playwright-core/package.json" ] &&
     [ -f "$dir/node_modules/@ngrok/ngrok-api/package.json" ] &&
     [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
    return 0
  fi
  echo "deps: installing the e2e tests' npm packages (tests/e2e/package-lock.json)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

sudo_cmd=()
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#want[@]} packages present"
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo_cmd=(sudo); fi
  promtool_dep
  npm_deps
  exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# Package lists may be absent on a fresh machine; refresh them once if the install fails.
if ! "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
  "${sudo_cmd[@]}" apt-get update
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi
promtool_dep
npm_deps
