#!/usr/bin/env bash
# A/B comparison of two builds of the service (docs/benchmark.md). Builds ehealth-es at COMMIT_A and
# at COMMIT_B (release profile, each from `git archive` of its commit in a temp folder, with a
# target folder of its own) and ehealth-bench from this checkout, starts one throwaway PostgreSQL
# (unless EHEALTH_BENCH_DATABASE_URL is set), then runs the benchmark alternately A B A B …, RUNS
# times each (3 by default), on the same machine and server, and prints every run with its own
# pgbench figures and each side's spread (min–max, median). Arguments after `--` replace the
# default ehealth-bench arguments.
#
#   scripts/bench-ab.sh main HEAD
#   scripts/bench-ab.sh 1a2b3c4 HEAD 5 -- --clients 16,64 --seconds 20 --rebuild-runs 0 --hot-seconds 0
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/bench-ab.sh COMMIT_A COMMIT_B [RUNS] [-- ehealth-bench arguments]"
commit_a=$(git rev-parse --verify "${1:?$usage}^{commit}")
commit_b=$(git rev-parse --verify "${2:?$usage}^{commit}")
shift 2
runs=3
if [ $# -gt 0 ] && [ "$1" != "--" ]; then runs=$1; shift; fi
if [ "${1:-}" = "--" ]; then shift; fi
bench_args=(--clients 64 --rebuild-runs 0 --hot-seconds 0)
if [ $# -gt 0 ]; then bench_args=("$@"); fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ehealth-ab.XXXXXX")
out=${EHEALTH_AB_OUT:-target/bench-ab/$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$out"
stamp=$(date +%s)
own_pg=
cleanup() {
  if [ -n "$own_pg" ]; then
    scripts/pg.sh stop "$own_pg"
  elif [ -n "${EHEALTH_BENCH_DATABASE_URL:-}" ] && [ -n "${started:-}" ]; then
    for side in a b; do
      psql -q "$EHEALTH_BENCH_DATABASE_URL" -c "DROP DATABASE IF EXISTS ehealth_ab_${stamp}_$side" || true
    done
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

cargo build --release -p ehealth-bench
for side in a b; do
  if [ "$side" = a ]; then commit=$commit_a; else commit=$commit_b; fi
  # A plain copy of the commit's files: no worktree is registered in the repository, so nothing is
  # left behind in it if the run is interrupted.
  mkdir -p "$tmp/$side"
  git archive "$commit" | tar -x -C "$tmp/$side"
  # The dependencies built for this checkout are reused: only the service itself is compiled.
  if [ -d target/release ]; then
    mkdir -p "$tmp/$side/target"
    cp -a --reflink=auto target/release "$tmp/$side/target/"
  fi
  (cd "$tmp/$side" && cargo build --release -p ehealth-es)
done

if [ -z "${EHEALTH_BENCH_DATABASE_URL:-}" ]; then
  eval "$(EHEALTH_PG_BENCH=1 scripts/pg.sh start)"
  own_pg=$EHEALTH_PG_DIR
  EHEALTH_BENCH_DATABASE_URL=$EHEALTH_TEST_DATABASE_URL
fi
export EHEALTH_BENCH_DATABASE_URL
started=1
export EHEALTH_BENCH_COMMAND="scripts/bench-ab.sh $commit_a $commit_b $runs -- ${bench_args[*]}"
echo "A = ${commit_a:0:12}, B = ${commit_b:0:12}, $runs runs each, alternated" > "$out/labels.txt"

for run in $(seq 1 "$runs"); do
  for side in A B; do
    if [ "$side" = A ]; then dir=$tmp/a; commit=$commit_a; else dir=$tmp/b; commit=$commit_b; fi
    echo "== run $run, side $side (${commit:0:12}), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
    # Each side's data set is imported once into a template database of its own (its migrations
    # made the schema) and copied for every run.
    EHEALTH_BENCH_COMMIT=${commit:0:12} target/release/ehealth-bench \
      --binary "$dir/target/release/ehealth-es" \
      --template "ehealth_ab_${stamp}_${side,,}" \
      --json "$out/$side-$run.json" --out "$out/$side-$run.md" \
      "${bench_args[@]}" >/dev/null
  done
done

target/release/ehealth-bench --ab-summary "$out" | tee "$out/summary.md"
echo "reports of every run and this summary: $out" >&2
