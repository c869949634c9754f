//! Bad input: bodies over the limit (413), wrong content types (415), malformed JSON (400),
//! non-uuid ids (404), deeply nested and huge JSON, and odd Unicode in bodies, paths, queries and
//! headers. Each case asserts its exact answer — status, `error.type` (and message where the
//! envelope has one) — so a 5xx, a caught panic included, or a drift from one 4xx to another
//! fails the test.

use reqwest::Method;
use serde_json::{json, Value};

use crate::http::{self, RawReply};
use crate::support::world::*;
use crate::support::{self, Reply, TestApp};

/// The body limit of the test service (`support::serve_args`).
const LIMIT: usize = 64 * 1024;
const MALFORMED: &str = "Malformed request. Probably, you have sent corrupted JSON.";

fn recall_path() -> String {
    format!("/api/patients/{P_OTP}/service_requests/{SR_ACTIVE}/actions/recall")
}

fn token(app: &TestApp) -> String {
    app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES)
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

/// A raw answer in the envelope: JSON whose `meta.code` is the status and `error.type` is set.
#[track_caller]
fn assert_raw_clear(reply: &RawReply, case: &str) {
    assert!(
        reply.head.to_ascii_lowercase().contains("application/json"),
        "{case}: {reply:#?}"
    );
    assert_eq!(
        reply.body["meta"]["code"], reply.status,
        "{case}: {reply:#?}"
    );
    assert!(
        reply.body["error"]["type"].is_string(),
        "{case}: {reply:#?}"
    );
}

/// Nothing of a refused recall reached the store.
async fn assert_recall_untouched(app: &TestApp) {
    let recalled = app
        .count("SELECT count(*) FROM events WHERE event_type = 'ServiceRequestRecalled'")
        .await;
    assert_eq!(recalled, 0);
    assert_eq!(
        app.current("service_requests", SR_ACTIVE).await.unwrap()["status"],
        "active"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_body_one_byte_over_the_limit_answers_413_request_too_large() {
    let app = TestApp::spawn().await;
    let token = token(&app);
    // `{"signed_data":"AAAA…"}` padded to exactly `len` bytes.
    let body_of_len = |len: usize| {
        let overhead = r#"{"signed_data":""}"#.len();
        format!(r#"{{"signed_data":"{}"}}"#, "A".repeat(len - overhead)).into_bytes()
    };

    let over = app
        .patch_raw(
            &recall_path(),
            &token,
            "application/json",
            body_of_len(LIMIT + 1),
        )
        .await;
    over.assert_error(413, "request_too_large", "Request body is too large");

    // At the limit the body is read and judged on its content: base64 of no envelope.
    let at = app
        .patch_raw(
            &recall_path(),
            &token,
            "application/json",
            body_of_len(LIMIT),
        )
        .await;
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
    let app = TestApp::spawn().await;
    let token = token(&app);
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
    let app = TestApp::spawn().await;
    let token = token(&app);
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
    for (case, raw) in cases {
        let reply = app
            .patch_raw(&recall_path(), &token, "application/json", raw.to_vec())
            .await;
        reply.assert_error(400, "request_malformed", MALFORMED);
        let _ = case;
    }
    assert_recall_untouched(&app).await;
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
    let app = TestApp::spawn().await;
    let token = token(&app);
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
        let reply = app
            .patch_raw(
                &recall_path(),
                &token,
                "application/json",
                body.into_bytes(),
            )
            .await;
        reply.assert_error(400, "request_malformed", MALFORMED);
        let _ = case;
    }

    // Just under the limit: parsed, then refused by the schema.
    for body in [
        arrays(120),
        format!(r#"{{"signed_data":{}}}"#, objects(120)),
    ] {
        let reply = app
            .patch_raw(
                &recall_path(),
                &token,
                "application/json",
                body.into_bytes(),
            )
            .await;
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
    let app = TestApp::spawn().await;
    let token = token(&app);
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
        let reply = app
            .patch_raw(&recall_path(), &token, "application/json", bytes)
            .await;
        assert_status(&reply, case, 422, "validation_failed");
    }
    assert_recall_untouched(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_unicode_in_the_body_answers_400_or_422() {
    let app = TestApp::spawn().await;
    let token = token(&app);
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
        let reply = app
            .patch_raw(&recall_path(), &token, "application/json", raw.to_vec())
            .await;
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
    for (case, raw) in malformed {
        let reply = app
            .patch_raw(&recall_path(), &token, "application/json", raw.to_vec())
            .await;
        reply.assert_error(400, "request_malformed", MALFORMED);
        let _ = case;
    }
    assert_recall_untouched(&app).await;
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
    let app = TestApp::spawn().await;
    let token = token(&app);
    let shown = app
        .get(
            &format!("/api/patients/{P_OTP}/service_requests/{SR_ACTIVE}"),
            Some(&token),
        )
        .await;
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
    let shown = app
        .get(
            &format!("/api/patients/{P_OTP}/service_requests/{SR_ACTIVE}"),
            Some(&token),
        )
        .await;
    assert_eq!(shown.data()["status_reason"], reason, "{:#}", shown.body);
    assert_eq!(shown.data()["explanatory_letter"], odd, "{:#}", shown.body);
}

/// What a list or read answers to an odd query: 422 `validation_failed` with this message and
/// these entries in `error.invalid[]`.
type Refusal = (&'static str, &'static str, &'static [&'static str]);

const NOT_ALLOWED: &str = "query parameter is not allowed";
const NO_NUL: &str = "expected a string without NUL characters";
const SEVERAL: &str = "Validation failed. You can find validators description at our API Manifest: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors.";
const NOT_A_CURSOR: &str = "cursor is not a next_cursor of this list";

/// The three analyst lists (`/api/service_requests`, `/api/merge_requests`,
/// `/api/device_dispenses`) answer alike.
const ANALYST_LIST: [Refusal; 16] = [
    ("status=%00", "value is not allowed in enum", &["status"]),
    ("status=%FF%FE", "value is not allowed in enum", &["status"]),
    (
        "status=%ED%A0%80",
        "value is not allowed in enum",
        &["status"],
    ),
    (
        "status=%E2%80%8Factive",
        "value is not allowed in enum",
        &["status"],
    ),
    ("page_size=%F0%9F%98%80", NOT_ALLOWED, &["page_size"]),
    (
        "updated_from=2024-01-01T00:00:00%00Z",
        "expected a date (YYYY-MM-DD) or an RFC 3339 date-time",
        &["updated_from"],
    ),
    ("cursor=%00", NOT_A_CURSOR, &["cursor"]),
    ("cursor=%FF", NOT_A_CURSOR, &["cursor"]),
    ("entity_type=%00", NOT_ALLOWED, &["entity_type"]),
    (
        "attribute_name=status&new_value=%00",
        SEVERAL,
        &["attribute_name", "new_value"],
    ),
    (
        "attribute_name=%00&new_value=a",
        SEVERAL,
        &["attribute_name", "new_value"],
    ),
    ("new_value=%5Cu0000", NOT_ALLOWED, &["new_value"]),
    ("date=%00", NOT_ALLOWED, &["date"]),
    ("as_of=%00", NOT_ALLOWED, &["as_of"]),
    ("version=%00", NOT_ALLOWED, &["version"]),
    ("%00=%00", NOT_ALLOWED, &["\u{0}"]),
];

/// `/api/events` (the Event Manager).
const EVENTS: [Refusal; 16] = [
    ("status=%00", NOT_ALLOWED, &["status"]),
    ("status=%FF%FE", NOT_ALLOWED, &["status"]),
    ("status=%ED%A0%80", NOT_ALLOWED, &["status"]),
    ("status=%E2%80%8Factive", NOT_ALLOWED, &["status"]),
    (
        "page_size=%F0%9F%98%80",
        "expected an integer between 1 and 500",
        &["page_size"],
    ),
    (
        "updated_from=2024-01-01T00:00:00%00Z",
        NOT_ALLOWED,
        &["updated_from"],
    ),
    ("cursor=%00", NOT_ALLOWED, &["cursor"]),
    ("cursor=%FF", NOT_ALLOWED, &["cursor"]),
    ("entity_type=%00", NO_NUL, &["entity_type"]),
    (
        "attribute_name=status&new_value=%00",
        NO_NUL,
        &["new_value"],
    ),
    (
        "attribute_name=%00&new_value=a",
        SEVERAL,
        &["attribute_name", "attribute_name"],
    ),
    (
        "new_value=%5Cu0000",
        "attribute_name must be set",
        &["attribute_name"],
    ),
    ("date=%00", NO_NUL, &["date"]),
    ("as_of=%00", NOT_ALLOWED, &["as_of"]),
    ("version=%00", NOT_ALLOWED, &["version"]),
    ("%00=%00", NOT_ALLOWED, &["\u{0}"]),
];

/// An entity's history (paging parameters only).
const HISTORY: [Refusal; 16] = [
    ("status=%00", NOT_ALLOWED, &["status"]),
    ("status=%FF%FE", NOT_ALLOWED, &["status"]),
    ("status=%ED%A0%80", NOT_ALLOWED, &["status"]),
    ("status=%E2%80%8Factive", NOT_ALLOWED, &["status"]),
    (
        "page_size=%F0%9F%98%80",
        "expected an integer between 1 and 500",
        &["page_size"],
    ),
    (
        "updated_from=2024-01-01T00:00:00%00Z",
        NOT_ALLOWED,
        &["updated_from"],
    ),
    ("cursor=%00", NOT_ALLOWED, &["cursor"]),
    ("cursor=%FF", NOT_ALLOWED, &["cursor"]),
    ("entity_type=%00", NOT_ALLOWED, &["entity_type"]),
    (
        "attribute_name=status&new_value=%00",
        NOT_ALLOWED,
        &["attribute_name", "new_value"],
    ),
    (
        "attribute_name=%00&new_value=a",
        NOT_ALLOWED,
        &["attribute_name", "new_value"],
    ),
    ("new_value=%5Cu0000", NOT_ALLOWED, &["new_value"]),
    ("date=%00", NOT_ALLOWED, &["date"]),
    ("as_of=%00", NOT_ALLOWED, &["as_of"]),
    ("version=%00", NOT_ALLOWED, &["version"]),
    ("%00=%00", NOT_ALLOWED, &["\u{0}"]),
];

/// An entity's read endpoint (`as_of` and `version` only).
const ENTITY: [Refusal; 16] = [
    ("status=%00", NOT_ALLOWED, &["status"]),
    ("status=%FF%FE", NOT_ALLOWED, &["status"]),
    ("status=%ED%A0%80", NOT_ALLOWED, &["status"]),
    ("status=%E2%80%8Factive", NOT_ALLOWED, &["status"]),
    ("page_size=%F0%9F%98%80", NOT_ALLOWED, &["page_size"]),
    (
        "updated_from=2024-01-01T00:00:00%00Z",
        NOT_ALLOWED,
        &["updated_from"],
    ),
    ("cursor=%00", NOT_ALLOWED, &["cursor"]),
    ("cursor=%FF", NOT_ALLOWED, &["cursor"]),
    ("entity_type=%00", NOT_ALLOWED, &["entity_type"]),
    (
        "attribute_name=status&new_value=%00",
        NOT_ALLOWED,
        &["attribute_name", "new_value"],
    ),
    (
        "attribute_name=%00&new_value=a",
        NOT_ALLOWED,
        &["attribute_name", "new_value"],
    ),
    ("new_value=%5Cu0000", NOT_ALLOWED, &["new_value"]),
    ("date=%00", NOT_ALLOWED, &["date"]),
    ("as_of=%00", NO_NUL, &["as_of"]),
    ("version=%00", NO_NUL, &["version"]),
    ("%00=%00", NOT_ALLOWED, &["\u{0}"]),
];

/// A raw answer of the HTTP layer itself, before the router: `status` with no body at all.
#[track_caller]
fn assert_bare(reply: &RawReply, case: &str, status: u16) {
    assert_eq!(reply.status, status, "{case}: {reply:#?}");
    assert!(reply.text.is_empty(), "{case}: {reply:#?}");
}

/// A raw answer in eHealth's envelope: `status`, `error.type` and `error.message`.
#[track_caller]
fn assert_raw_error(reply: &RawReply, case: &str, status: u16, kind: &str, message: &str) {
    assert_raw_clear(reply, case);
    assert_eq!(reply.status, status, "{case}: {reply:#?}");
    assert_eq!(reply.body["error"]["type"], kind, "{case}: {reply:#?}");
    assert_eq!(
        reply.body["error"]["message"], message,
        "{case}: {reply:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_bytes_in_paths_headers_and_query_strings_answer_a_4xx() {
    let app = TestApp::spawn().await;
    // Every scope, the Event Manager's too, so that every list judges its query.
    let token = app.token(U_DOCTOR, LE_MAIN, &format!("{ALL_SCOPES} event:read"));
    let auth = format!("Authorization: Bearer {token}");
    let release = format!("/api/service_requests/{SR_QUEUED}/actions/release");

    // Raw bytes that are not UTF-8 (or are invisible) in the request target: a path that is not
    // UTF-8 is refused by the HTTP layer; an invisible mark is a path no route has.
    let not_utf8: [&[u8]; 2] = [
        b"/api/service_requests/\xff\xfe/actions/release",
        b"/api/patients/\xff/service_requests/\xc0\xaf",
    ];
    for target in not_utf8 {
        for method in ["PATCH", "GET"] {
            let reply = http::send(
                &app.base,
                &http::request(method, target, &[auth.as_bytes()], b""),
            )
            .await;
            assert_bare(&reply, &String::from_utf8_lossy(target), 400);
        }
    }
    let routed: [(&[u8], &str, u16, &str, &str); 4] = [
        (
            b"/api/\xe2\x80\x8f/jobs",
            "PATCH",
            404,
            "not_found",
            "Route not found",
        ),
        (
            b"/api/\xe2\x80\x8f/jobs",
            "GET",
            404,
            "not_found",
            "Route not found",
        ),
        (
            b"/api/jobs/\xf0\x9f\x98\x80",
            "PATCH",
            405,
            "method_not_allowed",
            "Method not allowed",
        ),
        (
            b"/api/jobs/\xf0\x9f\x98\x80",
            "GET",
            404,
            "not_found",
            "Job not found",
        ),
    ];
    for (target, method, status, kind, message) in routed {
        let reply = http::send(
            &app.base,
            &http::request(method, target, &[auth.as_bytes()], b""),
        )
        .await;
        let case = format!("{method} {}", String::from_utf8_lossy(target));
        assert_raw_error(&reply, &case, status, kind, message);
    }

    // Header values that are not UTF-8 (obs-text), or odd: the request is still judged sanely.
    let body = br#"{"signed_data":"AAAA"}"#;
    /// A case: its name, its header lines, and the answer's status, type and message.
    type HeaderCase<'a> = (&'a str, Vec<&'a [u8]>, u16, &'a str, &'a str);
    let header_cases: [HeaderCase; 3] = [
        (
            "authorization not UTF-8",
            vec![b"Authorization: Bearer \xff\xfe"],
            401,
            "access_denied",
            "Authorization header is not set or doesn't contain Bearer token",
        ),
        (
            "authorization emoji",
            vec!["Authorization: Bearer 😀".as_bytes()],
            401,
            "access_denied",
            "Authorization header is not set or doesn't contain Bearer token",
        ),
        (
            "content type not UTF-8",
            vec![auth.as_bytes(), b"Content-Type: application/json\xff"],
            415,
            "content_type_invalid",
            "Invalid Content-Type header. Try to set 'Content-Type: application/json' header: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/content-type.",
        ),
    ];
    for (case, headers, status, kind, message) in &header_cases {
        let reply = http::send(
            &app.base,
            &http::request("PATCH", recall_path().as_bytes(), headers, body),
        )
        .await;
        assert_raw_error(&reply, case, *status, kind, message);
    }
    // An unreadable request id or Idempotency-Key is ignored, never echoed nor stored.
    for header in [
        b"X-Request-Id: \xff\xfe".to_vec(),
        "X-Request-Id: \u{202e}😀".as_bytes().to_vec(),
        b"Idempotency-Key: \xff\xfe".to_vec(),
    ] {
        let reply = http::send(
            &app.base,
            &http::request(
                "GET",
                format!("/api/patients/{P_OTP}/service_requests/{SR_ACTIVE}").as_bytes(),
                &[auth.as_bytes(), &header],
                b"",
            ),
        )
        .await;
        assert_eq!(reply.status, 200, "{reply:#?}");
        let id = reply.body["meta"]["request_id"]
            .as_str()
            .unwrap_or_default();
        assert!(
            uuid::Uuid::parse_str(id).is_ok(),
            "a generated request id: {reply:#?}"
        );
    }
    // Control bytes are not allowed in a header at all: the HTTP layer refuses the request.
    let reply = http::send(
        &app.base,
        &http::request(
            "PATCH",
            release.as_bytes(),
            &[auth.as_bytes(), b"X-Request-Id: a\x00b"],
            b"",
        ),
    )
    .await;
    assert_bare(&reply, "NUL in a header", 400);

    // Query strings with NUL, lone surrogates, invalid UTF-8 and odd marks on every list and read.
    let lists: [(String, &[Refusal; 16]); 6] = [
        ("/api/service_requests".to_string(), &ANALYST_LIST),
        ("/api/merge_requests".to_string(), &ANALYST_LIST),
        ("/api/device_dispenses".to_string(), &ANALYST_LIST),
        ("/api/events".to_string(), &EVENTS),
        (
            format!("/api/patients/{P_OTP}/service_requests/{SR_ACTIVE}/history"),
            &HISTORY,
        ),
        (
            format!("/api/patients/{P_OTP}/service_requests/{SR_ACTIVE}"),
            &ENTITY,
        ),
    ];
    for (list, refusals) in &lists {
        for (query, message, entries) in refusals.iter() {
            let target = format!("{list}?{query}");
            let reply = http::send(
                &app.base,
                &http::request("GET", target.as_bytes(), &[auth.as_bytes()], b""),
            )
            .await;
            assert_raw_error(&reply, &target, 422, "validation_failed", message);
            let named: Vec<&str> = reply.body["error"]["invalid"]
                .as_array()
                .map(|all| all.iter().filter_map(|e| e["entry"].as_str()).collect())
                .unwrap_or_default();
            assert_eq!(&named, entries, "{target}: {reply:#?}");
        }
        // A raw NUL in the request target: the HTTP layer refuses the request line.
        let target = format!("{list}?\u{0}");
        let reply = http::send(
            &app.base,
            &http::request("GET", target.as_bytes(), &[auth.as_bytes()], b""),
        )
        .await;
        assert_bare(&reply, &target, 400);
    }
}
