#!/usr/bin/env bash
# Runs every test of the workspace against a throwaway PostgreSQL, then the black-box suites again
# on the embedded SQLite backend (EHEALTH_TEST_BACKEND=sqlite: each test gets its own database file).
# If EHEALTH_TEST_DATABASE_URL is set, that server is used instead.
# Extra arguments go to `cargo test` and run on PostgreSQL only (e.g. scripts/test.sh --test actions release).
set -euo pipefail
cd "$(dirname "$0")/.."

# The black-box suites that run on both backends.
SQLITE_SUITES=(actions recall platform audit analysts faults binary operations)

if [ -z "${EHEALTH_TEST_DATABASE_URL:-}" ]; then
  eval "$(scripts/pg.sh start)"
  trap 'scripts/pg.sh stop "$EHEALTH_PG_DIR"' EXIT
fi
export EHEALTH_TEST_DATABASE_URL
echo "== every test, PostgreSQL backend"
cargo test --workspace "$@"
if [ $# -eq 0 ]; then
  echo "== black-box suites on the SQLite backend: ${SQLITE_SUITES[*]}"
  EHEALTH_TEST_BACKEND=sqlite cargo test "${SQLITE_SUITES[@]/#/--test=}"
fi
