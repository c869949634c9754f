#!/usr/bin/env bash
# Fault tests: builds release binaries, starts a throwaway PostgreSQL of its own
# (scenario (b) stops and starts it, so never a shared one), runs ehealth-faults — SIGKILL during
# load, a PostgreSQL restart during load, two instances on one database — and stops the server.
# Exits non-zero when a promise is broken. Extra arguments go to ehealth-faults
# (e.g. scripts/faults.sh --scenarios kill --kills 5 --out faults-report.md).
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p ehealth-es -p ehealth-bench
eval "$(scripts/pg.sh start)"
trap 'scripts/pg.sh stop "$EHEALTH_PG_DIR"' EXIT
export EHEALTH_PG_DIR
EHEALTH_FAULTS_DATABASE_URL=$EHEALTH_TEST_DATABASE_URL target/release/ehealth-faults "$@"
