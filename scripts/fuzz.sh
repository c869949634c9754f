#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document: builds the release binary, starts
# a throwaway PostgreSQL (unless EHEALTH_TEST_DATABASE_URL is set) with a fresh database, imports
# examples/demo.json, serves on a free loopback port with a JWT secret and a generated CA as trust
# anchors, mints a token with every scope, installs schemathesis into a venv under the temp dir and
# runs every check against /api/openapi.json. Prints a summary (cases run, 5xx seen, schema
# violations, other failures) and exits non-zero when any check failed.
#
# Knobs: FUZZ_MAX_EXAMPLES (per operation, default 50), FUZZ_TIME_LIMIT (seconds for the
# schemathesis run, default 900), FUZZ_SEED (default random), FUZZ_OUT (where the report and the
# server log are kept, default target/fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

max_examples=${FUZZ_MAX_EXAMPLES:-50}
time_limit=${FUZZ_TIME_LIMIT:-900}
seed=${FUZZ_SEED:-$RANDOM}
out=${FUZZ_OUT:-$root/target/fuzz}
# Pinned: a newer release may add checks or change the report format the summary reads.
schemathesis_version=4.32.5
scopes="service_request:use service_request:recall service_request:read merge_request:write \
merge_request:read device_dispense:stop device_dispense:read approval:create approval:read \
job:read event:read care_plan:read"
# The demo world's doctor and legal entity (examples/demo.json).
user=33333333-3333-4333-8333-333333333333
legal_entity=11111111-1111-4111-8111-111111111111

cargo build --release -p ehealth-es
bin=$root/target/release/ehealth-es
PSQL=$(scripts/pg.sh bin psql)

work=$(mktemp -d /tmp/ehealth-fuzz.XXXXXX)
server_pid=""
pg_dir=""
db=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$db" ]; then
    "$PSQL" "$EHEALTH_TEST_DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  fi
  if [ -n "$pg_dir" ]; then scripts/pg.sh stop "$pg_dir"; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${EHEALTH_TEST_DATABASE_URL:-}" ]; then
  eval "$(scripts/pg.sh start)"
  pg_dir=$EHEALTH_PG_DIR
fi
db=ehealth_fuzz_$$
"$PSQL" "$EHEALTH_TEST_DATABASE_URL" -qc "CREATE DATABASE $db" >/dev/null
export DATABASE_URL=${EHEALTH_TEST_DATABASE_URL%/*}/$db
EHEALTH_JWT_SECRET=$(openssl rand -hex 32)
export EHEALTH_JWT_SECRET

# Any CA will do: no fuzzed signature can chain to it, but with trust anchors set, recall gets
# past its 503 and the signature checks themselves are fuzzed.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=ehealth-es fuzz CA" \
  -keyout "$work/ca.key" -out "$work/ca.pem" >/dev/null 2>&1

"$bin" migrate >/dev/null
"$bin" import examples/demo.json

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
EHEALTH_LISTEN=127.0.0.1:$port EHEALTH_TRUST_ANCHORS=$work/ca.pem EHEALTH_MEDIA_DIR=$work/media \
  RUST_LOG=${RUST_LOG:-warn} "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if curl -fsS "$base/health/live" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/server.log" >&2
    echo "fuzz: the server did not start" >&2
    exit 1
  fi
  sleep 0.2
done
token=$("$bin" token --user "$user" --client "$legal_entity" --scope "$scopes" --ttl 7200)

# Two jobs for GET /api/jobs/{id} to find (their ids cannot be guessed): a stop, processed with a
# link (303), and a resend, processed with data (200). The dispense stays stopped, so fuzzed stops
# meet 409; release, recall, reject and resend still reach their success answers.
job_of() {
  curl -fsS -X PATCH -H "Authorization: Bearer $token" "$base$1" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["links"][0]["href"].rsplit("/", 1)[1])'
}
stop_job=$(job_of /api/patients/55555555-5555-4555-8555-555555555555/device_dispenses/88888888-8888-4888-8888-888888888888/actions/stop)
resend_job=$(job_of /api/patients/55555555-5555-4555-8555-555555555555/approvals/99999999-9999-4999-8999-999999999999/actions/resend)

python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"

# Where a request the document calls valid is refused on purpose, positive_data_acceptance must
# expect that refusal for that operation only; every other check keeps its defaults.
cat >"$work/schemathesis.toml" <<'TOML'
# Reads with time travel: `as_of` and `version` exclude each other (422 `oneOf`), which OpenAPI
# cannot say between two parameters.
[[operations]]
include-operation-id = ["get_service_request", "get_merge_request", "get_device_dispense", "get_approval", "get_care_plan_activity"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422"]

# The Event Manager: `new_value` needs `attribute_name` (422 `required`), a dependency between
# two parameters.
[[operations]]
include-operation-id = "list_events"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422"]

# Analyst lists: `cursor` is opaque; only a `next_cursor` the service made is a valid one (422).
[[operations]]
include-operation-id = ["list_service_requests", "list_merge_requests", "list_device_dispenses"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422"]

# Recall: a schema cannot describe a CMS signature that chains to the trust anchors and signs the
# stored service request, so every generated `signed_data` is refused (422). The other actions:
# generated `Idempotency-Key` values repeat, and a key already used for another request is 422.
[[operations]]
include-operation-id = ["recall_service_request", "release_service_request", "reject_merge_request", "stop_device_dispense", "resend_approval_otp"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422"]

# Jobs: ids are random, so half of the generated requests use the jobs made above.
[dictionaries.jobs]
values = ["@STOP_JOB@", "@RESEND_JOB@"]

[[operations]]
include-operation-id = "get_job"
parameters = { "path.id" = { dictionary = "jobs", probability = 0.5 } }
TOML
sed -i "s/@STOP_JOB@/$stop_job/; s/@RESEND_JOB@/$resend_job/" "$work/schemathesis.toml"

echo "fuzz: schemathesis $schemathesis_version against $base/api/openapi.json" \
  "(max $max_examples examples per operation, seed $seed, at most ${time_limit}s)"
set +e
# From the temp dir: schemathesis keeps a `.schemathesis/` cache in its working directory.
(
  cd "$work" && timeout "$time_limit" "$work/venv/bin/schemathesis" \
    --config-file "$work/schemathesis.toml" \
    run "$base/api/openapi.json" \
    --checks all \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --header "Authorization: Bearer $token" \
    --report ndjson,json --report-dir "$work/report" \
    --no-color
) 2>&1 | tee "$work/schemathesis.log"
status=${PIPESTATUS[0]}
set -e

mkdir -p "$out"
rm -rf "$out/report"
cp -r "$work/report" "$out/report" 2>/dev/null || true
cp "$work/server.log" "$work/schemathesis.log" "$out/"

# The summary, from the NDJSON event stream: every request schemathesis recorded with its answer,
# and every failed check by name.
summary=$("$work/venv/bin/python" - "$work/report" <<'PY'
import collections, glob, json, sys

conformance = {"response_schema_conformance", "status_code_conformance",
               "content_type_conformance", "response_headers_conformance"}
cases = server_errors = violations = 0
other = collections.Counter()
seen = set()
for path in glob.glob(f"{sys.argv[1]}/*.ndjson"):
    for line in open(path):
        event = json.loads(line)
        recorder = event.get("ScenarioFinished", {}).get("recorder")
        if not recorder:
            continue
        for case_id, interaction in recorder.get("interactions", {}).items():
            response = interaction.get("response")
            if response is None or case_id in seen:
                continue
            seen.add(case_id)
            cases += 1
            if response["status_code"] >= 500:
                server_errors += 1
        for case_id, checks in recorder.get("checks", {}).items():
            failed = {c["name"] for c in checks if c["status"] == "failure"}
            failed.discard("not_a_server_error")  # counted from the answers above
            if failed & conformance:
                violations += 1
            for name in failed - conformance:
                other[name] += 1
print(f"cases run: {cases}")
print(f"5xx seen: {server_errors}")
print(f"schema violations: {violations}")
print("other failed checks: " + (", ".join(f"{k} {v}" for k, v in sorted(other.items())) or "0"))
PY
)
echo
echo "=== fuzz summary ==="
echo "$summary"
echo "schemathesis exit code: $status (report and server log in $out)"
if [ "$status" -eq 124 ]; then
  echo "fuzz: schemathesis did not finish within ${time_limit}s" >&2
fi
if [ "$status" -ne 0 ] || ! grep -q '^5xx seen: 0$' <<<"$summary" \
  || ! grep -q '^schema violations: 0$' <<<"$summary"; then
  exit 1
fi
