#!/usr/bin/env bash
# The benchmark (docs/benchmark.md): builds the release binaries, starts a throwaway PostgreSQL
# (unless EHEALTH_BENCH_DATABASE_URL is set), imports the data set with `ehealth-es import`, and
# loads the service over loopback HTTP — the mix of the five actions and the release scenario —
# at 1, 16 and 64 clients, each point next to pgbench's inserts on the same server. Extra
# arguments go to ehealth-bench (e.g. scripts/bench.sh --seconds 20 --out bench-report.md).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p ehealth-es -p ehealth-bench
if [ -z "${EHEALTH_BENCH_DATABASE_URL:-}" ]; then
  eval "$(EHEALTH_PG_BENCH=1 scripts/pg.sh start)"
  trap 'scripts/pg.sh stop "$EHEALTH_PG_DIR"' EXIT
  EHEALTH_BENCH_DATABASE_URL=$EHEALTH_TEST_DATABASE_URL
fi
export EHEALTH_BENCH_DATABASE_URL
if [ -z "${EHEALTH_BENCH_COMMIT:-}" ]; then
  EHEALTH_BENCH_COMMIT=$(git describe --always --dirty 2>/dev/null || echo unknown)
fi
export EHEALTH_BENCH_COMMIT
export EHEALTH_BENCH_COMMAND="scripts/bench.sh $*"
target/release/ehealth-bench "$@"
