#!/usr/bin/env bash
# Runs every test of the workspace against a throwaway PostgreSQL.
# If EHEALTH_TEST_DATABASE_URL is set, that server is used instead.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh --test api release).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${EHEALTH_TEST_DATABASE_URL:-}" ]; then
  eval "$(scripts/pg.sh start)"
  trap 'scripts/pg.sh stop "$EHEALTH_PG_DIR"' EXIT
fi
export EHEALTH_TEST_DATABASE_URL
cargo test --workspace "$@"
