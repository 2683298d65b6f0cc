#!/usr/bin/env bash
# Try a certgate cluster on one machine: a throw-away PostgreSQL, one master
# key, and three `certgate serve` nodes on 127.0.0.1 sharing that database.
# See --help. Nothing here is fit for production: the database runs without
# fsync and everything is deleted when the cluster stops.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
pg_script=$repo/tests/support/pg_test_cluster.sh

usage() {
  cat <<EOF
Usage: scripts/cluster.sh [start] [OPTIONS] [-- SERVE-FLAGS...]
       scripts/cluster.sh stop [--work-dir DIR]

start (the default) tries a certgate cluster on this machine:
  1. a throw-away PostgreSQL in WORK/pg (tests/support/pg_test_cluster.sh:
     unix socket only, no TCP port, trust authentication, fsync off),
  2. one master key (\`certgate admin keys generate\`), kept in
     WORK/master-key and given to every node as CERTGATE_MASTER_KEY,
  3. NODES \`certgate serve\` processes, started at once, each with its own
     --data-dir (WORK/node<i>: its node id) and the same --store, listening
     on 127.0.0.1 only: node i (from 1) gets API port API-PORT+i-1, edge
     HTTPS port HTTPS-PORT+i-1, edge HTTP port HTTP-PORT+i-1.
Once every node is ready it prints each node's API URL and edge ports, and
the first API key (printed by whichever node made the first account; it
works on every node), then waits. A change made through any node's API
reaches the others through the store's change feed (LISTEN/NOTIFY, and a
poll every 250 ms).

Ctrl-C, or \`scripts/cluster.sh stop\` from another terminal, stops the
nodes and the database and removes WORK. If a node exits on its own, the
tail of its log is printed and the cluster is stopped too.

Automatic certificates go to certgate's default ACME directory (Let's
Encrypt) unless a SERVE-FLAG says otherwise (-- --acme-directory URL, e.g. a
local Pebble): a managed domain whose name does not point at this machine
will fail validation there, so try uploaded certificates, or a local CA.

Options:
  --work-dir DIR     where everything goes (default \$CERTGATE_CLUSTER_DIR,
                     else /tmp/certgate-cluster-\$(id -u)); it must be short
                     (PostgreSQL's socket is DIR/pg/socket/.s.PGSQL.5432 and
                     a socket path holds 107 bytes) and of [A-Za-z0-9._/-]
  --nodes N          how many nodes (default 3, at most 9)
  --api-port P       first node's API port (default 8441)
  --https-port P     first node's edge HTTPS port (default 9441)
  --http-port P      first node's edge HTTP port (default 9081)
  --base-domain D    serve's --base-domain (default certgate.localhost)
  --binary PATH      the certgate binary (default \$CERTGATE_BINARY, else
                     build/src/cli/certgate, built as scripts/run.sh builds it
                     when missing)
  -h, --help         this text
Arguments after -- go to every \`certgate serve\`, e.g.
  scripts/cluster.sh -- --edge-workers 1 --acme-directory URL

Needs the PostgreSQL server binaries (Debian: postgresql; scripts/deps.sh
test installs them). As root, PostgreSQL runs as the postgres user.
EOF
}

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

work=${CERTGATE_CLUSTER_DIR:-/tmp/certgate-cluster-$(id -u)}
nodes=3
api_port=8441
https_port=9441
http_port=9081
base_domain=certgate.localhost
binary=${CERTGATE_BINARY:-$repo/build/src/cli/certgate}
serve_extra=()

cmd=start
if [ $# -gt 0 ] && { [ "$1" = start ] || [ "$1" = stop ]; }; then
  cmd=$1
  shift
fi
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --work-dir) work=${2:?--work-dir needs a value}; shift 2 ;;
    --nodes) nodes=${2:?--nodes needs a value}; shift 2 ;;
    --api-port) api_port=${2:?--api-port needs a value}; shift 2 ;;
    --https-port) https_port=${2:?--https-port needs a value}; shift 2 ;;
    --http-port) http_port=${2:?--http-port needs a value}; shift 2 ;;
    --base-domain) base_domain=${2:?--base-domain needs a value}; shift 2 ;;
    --binary) binary=${2:?--binary needs a value}; shift 2 ;;
    --) shift; serve_extra=("$@"); break ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done
work=${work%/}
[[ "$work" =~ ^(/[A-Za-z0-9._-]+)+$ ]] ||
  die "--work-dir must be an absolute path of [A-Za-z0-9._/-]: $work"
[[ "$nodes" =~ ^[1-9]$ ]] || die "--nodes must be from 1 to 9"
for p in "$api_port" "$https_port" "$http_port"; do
  if ! [[ "$p" =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ $((p + nodes - 1)) -gt 65535 ]; then
    die "bad port '$p'"
  fi
done

marker=$work/.certgate-cluster
pg_dir=$work/pg

# The pid in a pid file, if that process still runs.
live_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Stops what WORK's pid files name (nodes by SIGTERM, then SIGKILL after
# 15 s), then the database, then removes WORK. Only a WORK this script made.
teardown() {
  [ -e "$work" ] || return 0
  if [ ! -e "$marker" ]; then
    echo "cluster.sh: $work was not made by cluster.sh; leaving it alone" >&2
    return 1
  fi
  local f pid pids=()
  for f in "$work"/node*.pid; do
    [ -e "$f" ] || continue
    if pid=$(live_pid "$f"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for _ in $(seq 150); do
    local alive=0
    for pid in "${pids[@]}"; do
      if kill -0 "$pid" 2>/dev/null; then alive=1; fi
    done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster.sh: node pid $pid did not stop within 15 s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  if [ -e "$pg_dir" ]; then
    bash "$pg_script" stop "$pg_dir" || echo "cluster.sh: stopping PostgreSQL failed" >&2
  fi
  rm -rf "$work"
}

if [ "$cmd" = stop ]; then
  [ -e "$work" ] || { echo "cluster.sh: no cluster in $work"; exit 0; }
  [ -e "$marker" ] || die "$work was not made by cluster.sh; leaving it alone"
  if pid=$(live_pid "$work/cluster.pid"); then
    # The running script's trap stops everything and removes WORK.
    kill -TERM "$pid"
    for _ in $(seq 300); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && die "the cluster script (pid $pid) did not stop within 30 s"
    [ -e "$work" ] && teardown
  else
    # Its script is gone (killed): clean up after it.
    teardown
  fi
  echo "cluster.sh: stopped; $work removed"
  exit 0
fi

# ---- start ----

if [ ! -x "$binary" ]; then
  if [ "$binary" != "$repo/build/src/cli/certgate" ]; then
    die "no certgate binary at $binary"
  fi
  echo "cluster.sh: $binary is missing; building it as scripts/run.sh does" >&2
  (cd "$repo" && scripts/deps.sh build &&
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
    cmake --build build --target certgate) || die "the build failed"
fi

if [ -e "$work" ]; then
  if pid=$(live_pid "$work/cluster.pid"); then
    die "a cluster runs in $work already (pid $pid): scripts/cluster.sh stop --work-dir $work"
  fi
  echo "cluster.sh: removing what a cluster that did not stop left in $work" >&2
  teardown || die "cannot reuse $work"
fi

# Ports taken now make a node fail later; say so up front.
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for ((i = 0; i < nodes; i++)); do
  for p in $((api_port + i)) $((https_port + i)) $((http_port + i)); do
    if port_taken "$p"; then
      die "127.0.0.1:$p is taken: choose other ports (--api-port, --https-port, --http-port)"
    fi
  done
done

# From here on, whatever way this script ends, the cluster goes with it.
trap 'teardown' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
# The postgres user (as root) must be able to reach WORK/pg.
mkdir -m 0755 "$work"
touch "$marker"
echo $$ >"$work/cluster.pid"

echo "cluster.sh: starting PostgreSQL in $pg_dir"
socket_dir=$(bash "$pg_script" start "$pg_dir") || die "PostgreSQL did not start"
store="host=$socket_dir user=postgres dbname=postgres"

master_key=$("$binary" admin keys generate) || die "certgate admin keys generate failed"
(umask 077 && printf '%s\n' "$master_key" >"$work/master-key")

echo "cluster.sh: starting $nodes nodes"
for ((i = 1; i <= nodes; i++)); do
  CERTGATE_MASTER_KEY=$master_key "$binary" serve \
    --data-dir "$work/node$i" --store "$store" --base-domain "$base_domain" \
    --api-listen "127.0.0.1:$((api_port + i - 1))" \
    --https-listen "127.0.0.1:$((https_port + i - 1))" \
    --http-listen "127.0.0.1:$((http_port + i - 1))" \
    "${serve_extra[@]}" >"$work/node$i.out" 2>"$work/node$i.log" &
  echo $! >"$work/node$i.pid"
done

# The tail of a node's log, for when it failed.
show_log() {
  echo "--- node $1: stdout" >&2
  tail -n 20 "$work/node$1.out" >&2 || true
  echo "--- node $1: log" >&2
  tail -n 40 "$work/node$1.log" >&2 || true
}

for ((i = 1; i <= nodes; i++)); do
  for ((tick = 0; ; tick++)); do
    grep -q '^certgate ready$' "$work/node$i.out" 2>/dev/null && break
    if ! live_pid "$work/node$i.pid" >/dev/null; then
      show_log "$i"
      die "node $i exited before it was ready"
    fi
    if [ "$tick" -ge 1200 ]; then
      show_log "$i"
      die "node $i was not ready within 120 s"
    fi
    sleep 0.1
  done
done

# "api: http://127.0.0.1:8441" -> "http://127.0.0.1:8441"
field() { sed -n "s/^$2: //p" "$work/node$1.out" | head -n 1; }
api_key=$(sed -n 's/^  export CERTGATE_API_KEY=//p' "$work"/node*.out | head -n 1)

echo
echo "certgate cluster: $nodes nodes on one PostgreSQL ($store)"
for ((i = 1; i <= nodes; i++)); do
  printf 'node %d  api %-24s https %-17s http %-17s pid %s\n' "$i" "$(field "$i" api)" \
    "$(field "$i" https)" "$(field "$i" http)" "$(cat "$work/node$i.pid")"
done
echo
if [ -n "$api_key" ]; then
  echo "first API key (works on every node; shown only this once):"
  echo "  export CERTGATE_API_KEY=$api_key"
else
  echo "no node printed a first API key (the store had an account already)"
fi
cat <<EOF

Try:
  curl -s -H "Authorization: Bearer \$CERTGATE_API_KEY" -H "Ngrok-Version: 2" \\
    $(field 1 api)/reserved_domains
Data dirs: $work/node<i>; logs: $work/node<i>.log; master key: $work/master-key
Another node by hand: CERTGATE_MASTER_KEY=\$(cat $work/master-key) $binary serve \\
    --data-dir $work/nodeX --store "$store" --api-listen 127.0.0.1:0 \\
    --https-listen 127.0.0.1:0 --http-listen 127.0.0.1:0
Ctrl-C or \`scripts/cluster.sh stop --work-dir $work\` stops the cluster and removes $work.
EOF

# Wait until a signal, or until a node exits on its own.
while :; do
  for ((i = 1; i <= nodes; i++)); do
    if ! live_pid "$work/node$i.pid" >/dev/null; then
      show_log "$i"
      echo "cluster.sh: node $i exited; stopping the cluster" >&2
      exit 1
    fi
  done
  sleep 1 &
  wait $! || true
done
