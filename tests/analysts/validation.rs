//! Refusals: 401 without a token, 403 without the read scope, and 422 with `query_parameter`
//! entries for every parameter that cannot be used.

use serde_json::{json, Value};

use crate::support::world::*;
use crate::support::TestApp;
use crate::*;

fn entry(param: &str, rule: &str, description: &str, params: Value) -> Value {
    json!({
        "entry_type": "query_parameter",
        "entry": param,
        "rules": [ { "rule": rule, "description": description, "params": params } ]
    })
}

/// The parameters every list takes after its own filters, in the order refusals name them.
const EVERY_LIST_TAKES: &[&str] = &[
    "updated_from",
    "updated_to",
    "inserted_from",
    "inserted_to",
    "limit",
    "cursor",
];

/// The entry of a value that is not one of `allowed`.
fn not_in_enum(param: &str, allowed: Value) -> Value {
    entry(param, "inclusion", "value is not allowed in enum", allowed)
}

/// The entry of a value that is not a uuid.
fn not_a_uuid(param: &str) -> Value {
    entry(param, "uuid", "expected a uuid", json!(["uuid"]))
}

/// The entry of a value that is neither a date nor an instant.
fn not_a_date(param: &str) -> Value {
    entry(
        param,
        "date",
        "expected a date (YYYY-MM-DD) or an RFC 3339 date-time",
        json!(["date", "datetime"]),
    )
}

/// The entry of a `limit` outside 1 to 500.
fn limit_out_of_range() -> Value {
    entry(
        "limit",
        "number",
        "expected an integer between 1 and 500",
        json!({ "greater_than_or_equal_to": 1, "less_than_or_equal_to": 500 }),
    )
}

/// The entry of a `cursor` the list did not make.
fn foreign_cursor() -> Value {
    entry(
        "cursor",
        "invalid",
        "cursor is not a next_cursor of this list",
        json!([]),
    )
}

/// The entry of a parameter the list does not take; the list takes its own `filters`, then the
/// date filters and paging every list takes.
fn not_allowed(param: &str, filters: &[&str]) -> Value {
    entry(
        param,
        "schema",
        "query parameter is not allowed",
        json!([filters, EVERY_LIST_TAKES].concat()),
    )
}

/// GETs `url` and asserts a 422 with exactly `expected` as its one entry, whose description is
/// also the message.
async fn assert_refused(app: &TestApp, token: &str, url: &str, expected: Value) {
    let reply = app.get(url, Some(token)).await;
    let description = expected["rules"][0]["description"].as_str().unwrap();
    reply.assert_case_error(url, (422, "validation_failed", description));
    assert_eq!(
        reply.body["error"]["invalid"],
        json!([expected]),
        "{url}: {:#}",
        reply.body
    );
    assert!(reply.body.get("data").is_none(), "{url}");
}

/// On a fresh service, asserts each `(list, parameter, value)` is refused with the one entry
/// `expected(parameter)`.
async fn assert_each_refused(cases: &[(&str, &str, &str)], expected: impl Fn(&str) -> Value) {
    let (app, token) = doctor_app().await;
    for (path, param, value) in cases {
        let url = format!("{path}?{param}={value}");
        assert_refused(&app, &token, &url, expected(param)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_outside_the_enum_answers_422_with_the_allowed_values() {
    let (app, token) = doctor_app().await;
    for (path, param, value, allowed) in [
        (
            SERVICE_REQUESTS,
            "status",
            "open",
            json!([
                "active",
                "in_progress",
                "completed",
                "recalled",
                "entered_in_error"
            ]),
        ),
        (
            SERVICE_REQUESTS,
            "program_processing_status",
            "queued",
            json!(["new", "in_queue", "in_progress", "completed"]),
        ),
        // Values are case-sensitive, as stored.
        (
            MERGE_REQUESTS,
            "status",
            "new",
            json!([
                "NEW",
                "APPROVED",
                "REJECTED",
                "CANCELLED",
                "SIGNED",
                "MERGED",
                "EXPIRED"
            ]),
        ),
        (
            DEVICE_DISPENSES,
            "status",
            "cancelled",
            json!([
                "in_progress",
                "completed",
                "declined",
                "stopped",
                "entered_in_error",
                "unknown",
                "preparation",
                "canceled"
            ]),
        ),
    ] {
        let url = format!("{path}?{param}={value}");
        assert_refused(&app, &token, &url, not_in_enum(param, allowed)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_uuid_answers_422() {
    let cases = [
        (SERVICE_REQUESTS, "requester_legal_entity"),
        (SERVICE_REQUESTS, "used_by_legal_entity"),
        (SERVICE_REQUESTS, "patient_id"),
        (DEVICE_DISPENSES, "patient_id"),
    ]
    .map(|(path, param)| (path, param, "42"));
    assert_each_refused(&cases, not_a_uuid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_date_answers_422() {
    assert_each_refused(
        &[
            (SERVICE_REQUESTS, "updated_from", "yesterday"),
            (SERVICE_REQUESTS, "updated_to", "2024-02-30"),
            (SERVICE_REQUESTS, "inserted_from", "2024-05-01T10:00:00"),
            // An unencoded `+` of an offset arrives as a space.
            (SERVICE_REQUESTS, "inserted_to", "2024-05-01T10:00:00+03:00"),
            (MERGE_REQUESTS, "updated_from", "01.05.2024"),
            (DEVICE_DISPENSES, "inserted_to", "1714557600"),
        ],
        not_a_date,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_outside_1_to_500_answers_422() {
    let cases = ["0", "501", "-1", "ten", "2.5"].map(|value| (MERGE_REQUESTS, "limit", value));
    assert_each_refused(&cases, |_| limit_out_of_range()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_that_is_not_a_next_cursor_of_this_list_answers_422() {
    let (app, token) = doctor_app().await;
    let merge_page = app
        .get(&format!("{MERGE_REQUESTS}?limit=1"), Some(&token))
        .await;
    let merge_cursor = merge_page.body["paging"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    // The cursor is valid where it came from.
    assert_eq!(
        list_ids(
            &app,
            MERGE_REQUESTS,
            &format!("limit=1&cursor={merge_cursor}"),
            &token
        )
        .await,
        [MR_APPROVED]
    );
    for cursor in [merge_cursor.as_str(), "not-a-cursor", "MTIz", "%FF"] {
        let url = format!("{SERVICE_REQUESTS}?cursor={cursor}");
        assert_refused(&app, &token, &url, foreign_cursor()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_query_parameter_answers_422_naming_the_accepted_ones() {
    let (app, token) = doctor_app().await;

    for (url, expected) in [
        (
            format!("{SERVICE_REQUESTS}?stauts=recalled"),
            not_allowed(
                "stauts",
                &[
                    "status",
                    "program_processing_status",
                    "requester_legal_entity",
                    "used_by_legal_entity",
                    "patient_id",
                ],
            ),
        ),
        // Offset paging is not offered.
        (
            format!("{MERGE_REQUESTS}?page=2"),
            not_allowed("page", &["status"]),
        ),
    ] {
        assert_refused(&app, &token, &url, expected).await;
    }
    // A filter of another list is unknown here.
    let reply = app
        .get(
            &format!("{DEVICE_DISPENSES}?program_processing_status=new"),
            Some(&token),
        )
        .await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.invalid_entries(), ["program_processing_status"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_parameter_answers_422_once() {
    let (app, token) = doctor_app().await;
    assert_refused(
        &app,
        &token,
        &format!("{SERVICE_REQUESTS}?status=active&status=recalled&status=completed"),
        entry(
            "status",
            "invalid",
            "query parameter must be given at most once",
            json!([]),
        ),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refused_parameter_is_reported_in_one_answer_with_the_generic_message() {
    let (app, token) = doctor_app().await;
    let reply = app
        .get(
            &format!(
                "{SERVICE_REQUESTS}?status=open&patient_id=x&updated_from=soon&limit=0&cursor=x&foo=1"
            ),
            Some(&token),
        )
        .await;
    reply.assert_error(
        422,
        "validation_failed",
        "Validation failed. You can find validators description at our API Manifest: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors.",
    );
    assert_eq!(
        reply.invalid_entries(),
        [
            "status",
            "patient_id",
            "updated_from",
            "limit",
            "cursor",
            "foo"
        ]
    );
    assert!(reply.body["error"]["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["entry_type"] == "query_parameter"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_values_are_treated_as_absent_parameters() {
    let (app, token) = doctor_app().await;
    assert_eq!(
        list_ids(
            &app,
            SERVICE_REQUESTS,
            "status=&patient_id=&limit=&cursor=",
            &token
        )
        .await,
        MAIN_SERVICE_REQUESTS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_list_needs_its_read_scope_before_its_parameters_are_looked_at() {
    let app = TestApp::spawn().await;
    for (path, scope) in [
        (SERVICE_REQUESTS, "service_request:read"),
        (MERGE_REQUESTS, "merge_request:read"),
        (DEVICE_DISPENSES, "device_dispense:read"),
    ] {
        let others: Vec<&str> = ALL_SCOPES.split(' ').filter(|s| *s != scope).collect();
        let token = app.token(U_DOCTOR, LE_MAIN, &others.join(" "));
        for query in ["", "?status=nonsense"] {
            let reply = app.get(&format!("{path}{query}"), Some(&token)).await;
            reply.assert_error(
                403,
                "forbidden",
                &format!(
                    "Your scope does not allow to access this resource. Missing allowances: {scope}"
                ),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_without_a_token_answers_401() {
    let app = TestApp::spawn().await;
    for path in [SERVICE_REQUESTS, MERGE_REQUESTS, DEVICE_DISPENSES] {
        let reply = app.get(path, None).await;
        reply.assert_error(
            401,
            "access_denied",
            "Authorization header is not set or doesn't contain Bearer token",
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_answer_get_only() {
    let (app, token) = doctor_app().await;
    let reply = app.patch(SERVICE_REQUESTS, Some(&token), None).await;
    assert_eq!(reply.status, 405, "{:#}", reply.body);
}

/// Regression (found by fuzzing): a made-up cursor naming an instant before PostgreSQL's earliest
/// timestamp (4714 BC) decoded, and the database refused the comparison with a 500. Such a cursor
/// is not one the service made: 422 like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_before_the_earliest_timestamp_answers_422() {
    use base64::Engine;
    let (app, token) = doctor_app().await;
    for micros in [-210_866_803_200_000_001_i64, -8_000_000_000_000_000_000] {
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("service_requests:{micros}:{}", uuid::Uuid::nil()));
        let url = format!("{SERVICE_REQUESTS}?cursor={cursor}");
        assert_refused(&app, &token, &url, foreign_cursor()).await;
    }
}
