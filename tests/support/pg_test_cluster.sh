#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for tests: unix socket only (no TCP port is
# opened), trust authentication for the superuser "postgres", and no fsync
# (the data is worthless once the tests end).
#
# Usage: pg_test_cluster.sh start|stop|watch|halt|resume DIR
#   start  Makes a fresh cluster in DIR (stopping and wiping whatever a
#          killed earlier run left there) and starts it. Prints the socket
#          directory, DIR/socket, and also writes it to DIR/socket_dir.
#          On failure prints initdb's or the server's log and exits 1.
#   stop   Stops the cluster in DIR and removes DIR. Idempotent: a missing
#          DIR or a stopped cluster is fine. If pg_ctl cannot stop the
#          server, kills the postmaster by the pid in postmaster.pid. Removes
#          only a DIR this script made (or an empty one).
#   halt   Stops the server in DIR at once (as a crash or an outage would),
#          keeping DIR and its data: for tests of what a client does while
#          the database is away.
#   resume Starts the server in DIR again, on the same data and socket.
#   watch  Waits until its stdin reaches EOF, then does `stop`. A test
#          process that starts its own cluster runs this with a pipe as stdin
#          whose only writer is itself: whichever way the test process ends,
#          even killed, the cluster goes with it.
#
# Who uses it: CTest's certgate_postgres fixture (start/stop on a fixed
# short DIR chosen at configure time, see certgate_test in CMakeLists.txt),
# and src/store/testing/pg_test_server.cc when CERTGATE_TEST_PG_HOST is not
# set (start/watch on a fresh mkdtemp DIR).
#
# DIR must be an absolute path of [A-Za-z0-9._/-] (it goes into
# postgresql.conf, where a quote would end the value), whose parent the
# postgres user can traverse (/tmp), and short: a unix socket path holds at
# most 107 bytes, and the socket is DIR/socket/.s.PGSQL.5432.
#
# initdb refuses to run as root, so as root the server's commands run as the
# postgres user (runuser), and DIR is chowned to it.
#
# Environment: CERTGATE_PG_BINDIR, the directory of initdb and pg_ctl
# (default: the newest /usr/lib/postgresql/*/bin, else initdb on PATH).
# PGPORT, when set, is the port the socket is named for, as clients expect.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|watch|halt|resume DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

if [[ ! "$dir" =~ ^(/[A-Za-z0-9._-]+)+$ ]]; then
  echo "pg_test_cluster: DIR must be an absolute path of [A-Za-z0-9._/-]" \
       "without a trailing /: $dir" >&2
  exit 2
fi
data=$dir/data
socket_dir=$dir/socket
port=${PGPORT:-5432}
socket_path=$socket_dir/.s.PGSQL.$port
if [ ${#socket_path} -gt 107 ]; then
  echo "pg_test_cluster: the socket path $socket_path is longer than the 107 bytes" \
       "a unix socket address holds; use a shorter DIR" >&2
  exit 2
fi

find_bindir() {
  if [ -n "${CERTGATE_PG_BINDIR:-}" ]; then
    echo "$CERTGATE_PG_BINDIR"
    return
  fi
  local newest
  newest=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$newest" ] && [ -x "$newest/initdb" ]; then
    echo "$newest"
    return
  fi
  if command -v initdb >/dev/null; then
    dirname "$(command -v initdb)"
    return
  fi
  echo "pg_test_cluster: no initdb found: install the PostgreSQL server" \
       "(Debian: postgresql) or set CERTGATE_PG_BINDIR" >&2
  exit 1
}

# Runs a server command as the postgres user when we are root (initdb and
# postgres refuse root), else as ourselves.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# The postmaster's pid from its lock file, if that pid is a live postgres
# process (a stale file's pid may belong to anything by now).
postmaster_pid() {
  local pid comm
  [ -f "$data/postmaster.pid" ] || return 1
  pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  comm=$(cat "/proc/$pid/comm" 2>/dev/null || true)
  [ "$comm" = postgres ] || [ "$comm" = postmaster ] || return 1
  echo "$pid"
}

# Whether DIR is one this script made (or an empty one, as mkdtemp leaves
# it): stop removes DIR, and a mistyped DIR such as /tmp must survive that.
made_here() {
  [ -z "$(ls -A "$dir")" ] || [ -e "$dir/initdb.log" ] || [ -e "$data/PG_VERSION" ] ||
    [ -e "$dir/socket_dir" ]
}

stop_cluster() {
  [ -e "$dir" ] || return 0
  if ! made_here; then
    echo "pg_test_cluster: $dir holds files this script did not make; not removing it" >&2
    exit 1
  fi
  local pid
  if pid=$(postmaster_pid); then
    # immediate: the data is thrown away, so no shutdown checkpoint.
    if ! (cd / && as_pg "$bindir/pg_ctl" stop -D "$data" -m immediate -w -t 20 >/dev/null 2>&1); then
      echo "pg_test_cluster: pg_ctl stop failed; killing the postmaster, pid $pid" >&2
      kill -KILL "$pid" 2>/dev/null || true
      # Its backends notice the postmaster's death and exit on their own.
      for _ in $(seq 50); do
        [ -d "/proc/$pid" ] || break
        sleep 0.1
      done
    fi
  fi
  rm -rf "$dir"
}

start_cluster() {
  # A run killed before its cleanup leaves a cluster behind: replace it.
  stop_cluster
  # mkdir (not -p) fails if something, such as a planted symlink, took the
  # name between the removal and now.
  mkdir -m 0700 "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
  fi
  # The server's commands run in a directory the postgres user may enter.
  cd "$dir"
  if ! as_pg "$bindir/initdb" -D "$data" --no-sync --no-instructions -A trust -U postgres \
         -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
    echo "pg_test_cluster: initdb failed:" >&2
    cat "$dir/initdb.log" >&2
    stop_cluster
    exit 1
  fi
  as_pg mkdir -m 0700 "$socket_dir"
  # Settings go in the file rather than on pg_ctl's -o, which a shell splits.
  # fsync, synchronous_commit, full_page_writes: nothing here must survive a
  # crash. autovacuum: the tests' databases live seconds. max_connections:
  # every test process of a parallel ctest run holds a pool per store.
  cat >>"$data/postgresql.conf" <<EOF

# pg_test_cluster.sh: a throw-away cluster for tests.
listen_addresses = ''
unix_socket_directories = '$socket_dir'
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
autovacuum = off
max_connections = 300
EOF
  if ! as_pg "$bindir/pg_ctl" start -D "$data" -l "$dir/server.log" -w -t 60 >/dev/null 2>&1; then
    echo "pg_test_cluster: the server did not start; its log:" >&2
    cat "$dir/server.log" >&2 || true
    stop_cluster
    exit 1
  fi
  echo "$socket_dir" >"$dir/socket_dir"
  echo "$socket_dir"
}

case "$cmd" in
  start)
    bindir=$(find_bindir)
    start_cluster
    ;;
  stop)
    # Without the binaries (uninstalled meanwhile), pg_ctl fails and the
    # postmaster is killed by pid: stop still works.
    bindir=$(find_bindir 2>/dev/null || true)
    stop_cluster
    ;;
  halt)
    bindir=$(find_bindir)
    if postmaster_pid >/dev/null; then
      (cd / && as_pg "$bindir/pg_ctl" stop -D "$data" -m immediate -w -t 20 >/dev/null)
    fi
    ;;
  resume)
    bindir=$(find_bindir)
    if ! (cd / && as_pg "$bindir/pg_ctl" start -D "$data" -l "$dir/server.log" -w -t 60 \
            >/dev/null 2>&1); then
      echo "pg_test_cluster: the server did not start again; its log:" >&2
      cat "$dir/server.log" >&2 || true
      exit 1
    fi
    ;;
  watch)
    bindir=$(find_bindir 2>/dev/null || true)
    # The terminal's ^C reaches the whole foreground process group; the
    # watcher must outlive the test process to clean up after it.
    trap '' INT TERM HUP
    cat >/dev/null || true
    stop_cluster
    ;;
  *) usage ;;
esac
