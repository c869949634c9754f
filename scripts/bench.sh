#!/usr/bin/env bash
# The benchmark (issue 5): builds release binaries, starts a throwaway PostgreSQL (unless
# EHEALTH_BENCH_DATABASE_URL is set), loads the real service over loopback HTTP at 1, 16 and 64
# clients and measures raw PostgreSQL inserts in the same run. Extra arguments go to ehealth-bench
# (e.g. scripts/bench.sh --seconds 20 --out bench-report.md).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p ehealth-es -p ehealth-bench
if [ -z "${EHEALTH_BENCH_DATABASE_URL:-}" ]; then
  eval "$(EHEALTH_PG_BENCH=1 scripts/pg.sh start)"
  trap 'scripts/pg.sh stop "$EHEALTH_PG_DIR"' EXIT
  EHEALTH_BENCH_DATABASE_URL=$EHEALTH_TEST_DATABASE_URL
fi
export EHEALTH_BENCH_DATABASE_URL
target/release/ehealth-bench "$@"
