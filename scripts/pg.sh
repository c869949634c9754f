#!/usr/bin/env bash
# Starts a throwaway PostgreSQL for the tests: initdb in a temp folder, a free port, fsync on.
# EHEALTH_PG_STATS=1 also loads pg_stat_statements. EHEALTH_PG_BENCH=1 (scripts/bench.sh) does that
# and keeps 1 GB of WAL segments for reuse, as a server that has been running does. Prints the admin URL on stdout. Usage: eval "$(scripts/pg.sh start)"; scripts/pg.sh stop "$EHEALTH_PG_DIR"
# `scripts/pg.sh bin NAME` prints the path of a PostgreSQL program (psql, pg_ctl…): on PATH, else
# in the distribution's /usr/lib/postgresql/*/bin.
set -euo pipefail

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/$name" ]; then echo "$d/$name"; return; fi
  done
  return 1
}

case "${1:-start}" in
  start)
    INITDB=$(find_bin initdb); PG_CTL=$(find_bin pg_ctl)
    # EHEALTH_PG_PARENT: the folder to create the cluster in (a small volume, for the full-disk test).
    dir=$(mktemp -d "${EHEALTH_PG_PARENT:-/tmp}/ehealth-pg.XXXXXX")
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    run=()
    if [ "$(id -u)" = "0" ]; then
      chown postgres:postgres "$dir"
      run=(runuser -u postgres --)
    fi
    "${run[@]}" "$INITDB" -D "$dir/data" -U postgres -A trust --no-sync >/dev/null
    cat >> "$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
shared_buffers = 256MB
CONF
    if [ "${EHEALTH_PG_BENCH:-0}" = "1" ]; then
      EHEALTH_PG_STATS=1
      # A fresh cluster has no WAL segment to reuse: each new 16 MB segment is written full of
      # zeroes and synced while every commit waits (≈ 60 ms, once a second at the benchmark's
      # write rate). A running server renames segments it no longer needs into future ones at
      # each checkpoint; min_wal_size keeps 1 GB of them, and ehealth-bench writes that much WAL
      # once before its timed points so they run on reused segments.
      cat >> "$dir/data/postgresql.conf" <<CONF
min_wal_size = 1GB
max_wal_size = 4GB
CONF
    fi
    # EHEALTH_PG_STATS=1: per-statement timings for `ehealth-bench --statements`.
    if [ "${EHEALTH_PG_STATS:-0}" = "1" ] && [ -e "$(dirname "$(readlink -f "$INITDB")")/../lib/pg_stat_statements.so" ]; then
      echo "shared_preload_libraries = 'pg_stat_statements'" >> "$dir/data/postgresql.conf"
      echo "pg_stat_statements.track_planning = on" >> "$dir/data/postgresql.conf"
    fi
    "${run[@]}" "$PG_CTL" -D "$dir/data" -l "$dir/log" -w start >/dev/null
    echo "export EHEALTH_PG_DIR=$dir"
    echo "export EHEALTH_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  bin)
    name=${2:?usage: pg.sh bin NAME}
    find_bin "$name" || { echo "pg.sh: $name not found" >&2; exit 1; }
    ;;
  stop)
    dir=${2:?usage: pg.sh stop DIR}
    PG_CTL=$(find_bin pg_ctl)
    run=()
    if [ "$(id -u)" = "0" ]; then run=(runuser -u postgres --); fi
    "${run[@]}" "$PG_CTL" -D "$dir/data" -m fast -w stop >/dev/null || true
    rm -rf "$dir"
    ;;
esac
