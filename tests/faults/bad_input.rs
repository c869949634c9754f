//! Bad input: bodies over the limit (413), wrong content types (415), malformed JSON (400),
//! non-uuid ids (404), deeply nested and huge JSON, and odd Unicode in bodies, paths, queries and
//! headers. Each case asserts its exact answer — status, `error.type` (and message where the
//! envelope has one) — so a 5xx, a caught panic included, or a drift from one 4xx to another
//! fails the test.

use reqwest::Method;
use serde_json::{json, Value};

use crate::http;
use crate::support::world::*;
use crate::support::{self, paths, Reply, TestApp};

/// The body limit of the test service (`support::serve_args`).
const LIMIT: usize = 64 * 1024;
const MALFORMED: &str = "Malformed request. Probably, you have sent corrupted JSON.";

fn recall_path() -> String {
    paths::recall(P_OTP, SR_ACTIVE)
}

/// A recall whose body is `raw`, declared JSON.
async fn recall_raw(app: &TestApp, token: &str, raw: Vec<u8>) -> Reply {
    app.patch_raw(&recall_path(), token, "application/json", raw)
        .await
}

/// An error in the envelope: exactly `status` (also in `meta.code`), `error.type` `kind`, and a
/// message.
#[track_caller]
fn assert_status(reply: &Reply, case: &str, status: u16, kind: &str) {
    assert_eq!(reply.status, status, "{case}: {:#}", reply.body);
    assert_eq!(
        reply.body["meta"]["code"], status,
        "{case}: {:#}",
        reply.body
    );
    assert!(
        reply.body["meta"]["request_id"].is_string(),
        "{case}: {:#}",
        reply.body
    );
    assert_eq!(reply.error_type(), kind, "{case}: {:#}", reply.body);
    assert!(!reply.message().is_empty(), "{case}: {:#}", reply.body);
}

/// Sends each named raw body as a recall: every one answers 400 `request_malformed`, and
/// (after them all) nothing was recalled.
async fn assert_each_malformed(app: &TestApp, token: &str, cases: &[(&str, &[u8])]) {
    for (case, raw) in cases {
        let reply = recall_raw(app, token, raw.to_vec()).await;
        reply.assert_case_error(case, (400, "request_malformed", MALFORMED));
    }
    assert_recall_untouched(app).await;
}

/// Nothing of a refused recall reached the store.
async fn assert_recall_untouched(app: &TestApp) {
    let recalled = app
        .count("SELECT count(*) FROM events WHERE event_type = 'ServiceRequestRecalled'")
        .await;
    assert_eq!(recalled, 0);
    assert_eq!(
        app.current_value("service_requests", SR_ACTIVE, "status")
            .await,
        "active"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_body_one_byte_over_the_limit_answers_413_request_too_large() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    // `{"signed_data":"AAAA…"}` padded to exactly `len` bytes.
    let body_of_len = |len: usize| {
        let overhead = r#"{"signed_data":""}"#.len();
        format!(r#"{{"signed_data":"{}"}}"#, "A".repeat(len - overhead)).into_bytes()
    };

    let over = recall_raw(&app, &token, body_of_len(LIMIT + 1)).await;
    over.assert_error(413, "request_too_large", "Request body is too large");

    // At the limit the body is read and judged on its content: base64 of no envelope.
    let at = recall_raw(&app, &token, body_of_len(LIMIT)).await;
    assert_status(&at, "at the limit", 422, "validation_failed");

    // A chunked body carries no length to refuse up front; it is cut off at the limit.
    let mut chunked = format!(
        "PATCH {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        recall_path()
    )
    .into_bytes();
    let body = body_of_len(LIMIT + 100);
    for chunk in body.chunks(8 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let reply = http::send(&app.base, &chunked).await;
    assert_eq!(reply.status, 413, "{reply:#?}");
    assert_eq!(
        reply.body["error"]["type"], "request_too_large",
        "{reply:#?}"
    );
    assert_recall_untouched(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_body_that_is_not_declared_json_answers_415() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let body = br#"{"signed_data":"AAAA"}"#.to_vec();
    for content_type in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "json",
        "",
    ] {
        let reply = app
            .patch_raw(&recall_path(), &token, content_type, body.clone())
            .await;
        assert_status(&reply, content_type, 415, "content_type_invalid");
    }
    // No Content-Type header at all.
    let reply = app
        .request(Method::PATCH, &recall_path())
        .token(&token)
        .raw_untyped(body)
        .await;
    assert_status(&reply, "no content type", 415, "content_type_invalid");
    assert_recall_untouched(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_answers_400_request_malformed() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let cases: &[(&str, &[u8])] = &[
        ("truncated", br#"{"signed_data": "AAAA""#),
        ("trailing comma", br#"{"signed_data": "AAAA",}"#),
        ("trailing garbage", br#"{"signed_data": "AAAA"} x"#),
        ("two documents", br#"{"signed_data": "AAAA"}{}"#),
        ("single quotes", b"{'signed_data': 'AAAA'}"),
        ("bare word", b"signed_data"),
        ("NaN", br#"{"signed_data": NaN}"#),
        (
            "byte order mark",
            b"\xef\xbb\xbf{\"signed_data\": \"AAAA\"}",
        ),
        ("empty", b""),
        ("whitespace", b"  \r\n\t "),
    ];
    assert_each_malformed(&app, &token, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_that_are_not_uuids_answer_404_on_every_route_with_an_id() {
    let app = TestApp::spawn().await;
    let doctor = app.token(U_DOCTOR, LE_MAIN, &format!("{ALL_SCOPES} event:read"));
    let specialist = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let bad_ids = [
        "not-a-uuid",
        "123",
        "0",
        "00000000-0000-4000-8000-00000000500",
        "00000000-0000-4000-8000-0000000050055",
        "00000000-0000-4000-8000-00000000500g",
        "%20",
        "%2e%2e",
        "null",
        "undefined",
        "-1",
        "1e10",
        "%F0%9F%98%80",
        "%E2%80%8F00000000-0000-4000-8000-000000005005",
        "%00",
        // Percent-encoded bytes that are not UTF-8: axum refuses them before any handler, which
        // was a plain-text 400 outside the envelope.
        "%FF%FE",
        "%C0%AF",
        "%ED%A0%80",
        "00000000-0000-4000-8000-00000000500%FF",
    ];
    for bad in bad_ids {
        let patches = [
            (
                format!("/api/service_requests/{bad}/actions/release"),
                &doctor,
            ),
            (
                format!("/api/patients/{bad}/service_requests/{SR_ACTIVE}/actions/recall"),
                &doctor,
            ),
            (
                format!("/api/patients/{P_OTP}/service_requests/{bad}/actions/recall"),
                &doctor,
            ),
            (
                format!("/api/merge_requests/{bad}/actions/reject"),
                &specialist,
            ),
            (
                format!("/api/patients/{P_OTP}/device_dispenses/{bad}/actions/stop"),
                &doctor,
            ),
            (
                format!("/api/patients/{bad}/device_dispenses/{DD_IN_PROGRESS}/actions/stop"),
                &doctor,
            ),
            (
                format!("/api/patients/{P_OTP}/approvals/{bad}/actions/resend"),
                &doctor,
            ),
        ];
        for (path, token) in patches {
            // Recall needs a well-formed body to get as far as its ids.
            let body = path
                .ends_with("recall")
                .then(|| json!({ "signed_data": "AAAA" }));
            let reply = app.patch(&path, Some(token), body.as_ref()).await;
            assert_status(&reply, &path, 404, "not_found");
        }
        let gets = [
            format!("/api/patients/{P_OTP}/service_requests/{bad}"),
            format!("/api/patients/{bad}/service_requests/{SR_ACTIVE}"),
            format!("/api/merge_requests/{bad}"),
            format!("/api/patients/{P_OTP}/device_dispenses/{bad}"),
            format!("/api/patients/{P_OTP}/approvals/{bad}"),
            format!("/api/jobs/{bad}"),
            format!("/api/events/{bad}"),
            format!("/api/merge_requests/{bad}/history"),
        ];
        for path in gets {
            let reply = app.get(&path, Some(&doctor)).await;
            assert_status(&reply, &path, 404, "not_found");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_json_answers_400_or_422_and_never_overflows_the_stack() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let arrays = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = |depth: usize| format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));

    // Deeper than serde_json's recursion limit (128): refused while parsing.
    for (case, body) in [
        ("10 000 nested arrays", arrays(10_000)),
        ("30 000 nested arrays", arrays(30_000)),
        ("5 000 nested objects", objects(5_000)),
        (
            "10 000 nested arrays as signed_data",
            format!(r#"{{"signed_data":{}}}"#, arrays(10_000)),
        ),
        ("unclosed 30 000 arrays", "[".repeat(30_000)),
    ] {
        let reply = recall_raw(&app, &token, body.into_bytes()).await;
        reply.assert_case_error(case, (400, "request_malformed", MALFORMED));
    }

    // Just under the limit: parsed, then refused by the schema.
    for body in [
        arrays(120),
        format!(r#"{{"signed_data":{}}}"#, objects(120)),
    ] {
        let reply = recall_raw(&app, &token, body.into_bytes()).await;
        assert_status(&reply, "nested under the limit", 422, "validation_failed");
    }

    // Signed content nested 10 000 deep: the signature is valid, the content is refused.
    let content = format!(r#"{{"id":"{SR_ACTIVE}","x":{}}}"#, arrays(10_000));
    let signed = support::pki().doctor.sign(content.as_bytes());
    let reply = app
        .patch(
            &recall_path(),
            Some(&token),
            Some(&json!({ "signed_data": signed })),
        )
        .await;
    assert_status(&reply, "deep signed content", 422, "validation_failed");
    assert_eq!(
        reply.message(),
        "Malformed encoded content. Probably, you have encoded corrupted JSON."
    );
    assert_recall_untouched(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_json_within_the_limit_answers_422() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let many_keys: serde_json::Map<String, Value> =
        (0..3_000).map(|n| (format!("k{n}"), json!(n))).collect();
    let cases = [
        // 60 KB of base64 that decodes to no envelope.
        (
            "60 KB base64 string",
            json!({ "signed_data": "A".repeat(60_000) }),
        ),
        // 60 KB that is not base64.
        (
            "60 KB non-base64 string",
            json!({ "signed_data": "x".repeat(60_001) }),
        ),
        ("20 000 numbers", json!({ "signed_data": vec![1; 20_000] })),
        ("3 000 extra keys", Value::Object(many_keys)),
    ];
    for (case, body) in cases {
        let bytes = serde_json::to_vec(&body).unwrap();
        assert!(bytes.len() <= LIMIT, "{case}: {} bytes", bytes.len());
        let reply = recall_raw(&app, &token, bytes).await;
        assert_status(&reply, case, 422, "validation_failed");
    }
    assert_recall_untouched(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_unicode_in_the_body_answers_400_or_422() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    // Well-formed JSON whose strings are odd: schema or base64 refusals.
    let unprocessable: &[(&str, &[u8])] = &[
        ("escaped NUL", br#"{"signed_data":"\u0000"}"#),
        ("NUL inside base64", br#"{"signed_data":"AA\u0000AA"}"#),
        ("NUL in a key", br#"{"signed\u0000data":"AAAA"}"#),
        ("RTL mark", "{\"signed_data\":\"\u{200f}AAAA\"}".as_bytes()),
        (
            "RTL override",
            "{\"signed_data\":\"\u{202e}AAAA\u{202c}\"}".as_bytes(),
        ),
        ("emoji", "{\"signed_data\":\"😀😀😀😀\"}".as_bytes()),
        (
            "zero-width joiner",
            "{\"signed_data\":\"A\u{200d}A\"}".as_bytes(),
        ),
        (
            "noncharacter",
            "{\"signed_data\":\"\u{fffe}\u{ffff}\"}".as_bytes(),
        ),
        (
            "escaped surrogate pair",
            br#"{"signed_data":"\ud83d\ude00"}"#,
        ),
    ];
    for (case, raw) in unprocessable {
        let reply = recall_raw(&app, &token, raw.to_vec()).await;
        assert_status(&reply, case, 422, "validation_failed");
    }
    // Not valid JSON text: lone surrogates, raw control bytes, bytes that are not UTF-8.
    let malformed: &[(&str, &[u8])] = &[
        ("lone high surrogate", br#"{"signed_data":"\ud800"}"#),
        ("lone low surrogate", br#"{"signed_data":"\udc00"}"#),
        ("reversed pair", br#"{"signed_data":"\udc00\ud800"}"#),
        ("raw NUL byte", b"{\"signed_data\":\"AA\x00AA\"}"),
        (
            "raw NUL after the document",
            b"{\"signed_data\":\"AAAA\"}\x00",
        ),
        ("invalid UTF-8", b"{\"signed_data\":\"\xff\xfe\"}"),
        ("overlong UTF-8", b"{\"signed_data\":\"\xc0\xaf\"}"),
        (
            "UTF-8 encoded surrogate",
            b"{\"signed_data\":\"\xed\xa0\x80\"}",
        ),
        ("truncated UTF-8", b"{\"signed_data\":\"\xe2\x82\"}"),
        ("UTF-16 body", b"\xff\xfe{\x00\"\x00}\x00"),
    ];
    assert_each_malformed(&app, &token, malformed).await;
}

/// The content `rendering` with `status_reason` and `explanatory_letter` set, signed by the doctor.
fn signed_recall(rendering: &Value, reason: Value, letter: &str) -> Value {
    let mut content = rendering.clone();
    content["status_reason"] = reason;
    content["explanatory_letter"] = json!(letter);
    let signed = support::pki()
        .doctor
        .sign(&serde_json::to_vec(&content).unwrap());
    json!({ "signed_data": signed })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validly_signed_content_with_a_nul_character_answers_422_and_other_odd_unicode_is_kept() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let shown = app.service_request(P_OTP, SR_ACTIVE, &token).await;
    let rendering = shown.data().clone();
    let system = "eHealth/service_request_recall_reasons";
    let reason = json!({ "coding": [ { "system": system, "code": "1" } ] });

    // The reason and the letter are kept in the event (jsonb), where PostgreSQL refuses U+0000:
    // this was a 500 before the recall refused such content.
    let with_nul = [
        (
            json!({ "coding": [ { "system": system, "code": "1", "display": "a\u{0}b" } ], "text": "\u{0}" }),
            "letter",
        ),
        (reason.clone(), "лист\u{0}"),
        (
            json!({ "coding": [ { "system": system, "code": "1" } ], "a\u{0}": 1 }),
            "letter",
        ),
        (
            json!({ "coding": [ { "system": system, "code": "1\u{0}" } ] }),
            "letter",
        ),
    ];
    for (n, (reason, letter)) in with_nul.into_iter().enumerate() {
        let body = signed_recall(&rendering, reason, letter);
        let reply = app.patch(&recall_path(), Some(&token), Some(&body)).await;
        reply.assert_error(
            422,
            "validation_failed",
            "Signed content must not contain NUL (\\u0000) characters",
        );
        assert_eq!(reply.invalid_entries(), vec!["$.signed_data"], "case {n}");
    }
    assert_recall_untouched(&app).await;

    // Everything else Unicode allows is kept as signed: RTL marks, overrides, emoji, joiners.
    let odd = "\u{202e}😀\u{200f}‍👩‍⚕️\u{fffe}";
    let reason = json!({ "coding": [ { "system": system, "code": "1" } ], "text": odd });
    let body = signed_recall(&rendering, reason.clone(), odd);
    let reply = app.patch(&recall_path(), Some(&token), Some(&body)).await;
    let job = app.wait_job(&reply.job_href(), &token).await;
    assert_eq!(job.status, 303, "{:#}", job.body);
    let stored = app.current("service_requests", SR_ACTIVE).await.unwrap();
    assert_eq!(stored["status"], "recalled");
    let shown = app.service_request(P_OTP, SR_ACTIVE, &token).await;
    assert_eq!(shown.data()["status_reason"], reason, "{:#}", shown.body);
    assert_eq!(shown.data()["explanatory_letter"], odd, "{:#}", shown.body);
}
