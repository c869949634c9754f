//! Odd bytes where no well-behaved client puts them, sent as raw HTTP: in paths and header values
//! (bytes that are not UTF-8, invisible marks, control bytes), and in query strings (NUL, lone
//! surrogates, bytes that are not UTF-8) on every list and read. Each gets its exact 4xx, never a
//! 5xx: in eHealth's envelope from the router, or a bare 400 from the HTTP layer.

use crate::http;
use crate::support::world::*;
use crate::support::{paths, TestApp};

fn recall_path() -> String {
    paths::recall(P_OTP, SR_ACTIVE)
}

/// The odd queries every list and read is asked.
const ODD_QUERIES: [&str; 16] = [
    "status=%00",
    "status=%FF%FE",
    "status=%ED%A0%80",
    "status=%E2%80%8Factive",
    "page_size=%F0%9F%98%80",
    "updated_from=2024-01-01T00:00:00%00Z",
    "cursor=%00",
    "cursor=%FF",
    "entity_type=%00",
    "attribute_name=status&new_value=%00",
    "attribute_name=%00&new_value=a",
    "new_value=%5Cu0000",
    "date=%00",
    "as_of=%00",
    "version=%00",
    "%00=%00",
];

/// What an endpoint answers to an odd query of a parameter it takes: the query, the message and
/// the entries of `error.invalid[]`. A parameter it does not take is refused with [`NOT_ALLOWED`],
/// naming every parameter of the query.
type Judged = (&'static str, &'static str, &'static [&'static str]);

const NOT_ALLOWED: &str = "query parameter is not allowed";
const NO_NUL: &str = "expected a string without NUL characters";
const SEVERAL: &str = "Validation failed. You can find validators description at our API Manifest: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors.";
const NOT_A_CURSOR: &str = "cursor is not a next_cursor of this list";
const NOT_IN_ENUM: &str = "value is not allowed in enum";
const PAGE_SIZE: &str = "expected an integer between 1 and 500";

/// The three analyst lists (`/api/service_requests`, `/api/merge_requests`,
/// `/api/device_dispenses`) answer alike.
const ANALYST_LIST: &[Judged] = &[
    ("status=%00", NOT_IN_ENUM, &["status"]),
    ("status=%FF%FE", NOT_IN_ENUM, &["status"]),
    ("status=%ED%A0%80", NOT_IN_ENUM, &["status"]),
    ("status=%E2%80%8Factive", NOT_IN_ENUM, &["status"]),
    (
        "updated_from=2024-01-01T00:00:00%00Z",
        "expected a date (YYYY-MM-DD) or an RFC 3339 date-time",
        &["updated_from"],
    ),
    ("cursor=%00", NOT_A_CURSOR, &["cursor"]),
    ("cursor=%FF", NOT_A_CURSOR, &["cursor"]),
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
];

/// `/api/events` (the Event Manager).
const EVENTS: &[Judged] = &[
    ("page_size=%F0%9F%98%80", PAGE_SIZE, &["page_size"]),
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
];

/// An entity's history (paging parameters only).
const HISTORY: &[Judged] = &[("page_size=%F0%9F%98%80", PAGE_SIZE, &["page_size"])];

/// An entity's read endpoint (`as_of` and `version` only).
const ENTITY: &[Judged] = &[
    ("as_of=%00", NO_NUL, &["as_of"]),
    ("version=%00", NO_NUL, &["version"]),
];

/// The parameter names of `query`, percent-decoded, in order.
fn parameter_names(query: &str) -> Vec<String> {
    query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let mut bytes = Vec::new();
            let mut rest = name.as_bytes();
            while let Some((&b, tail)) = rest.split_first() {
                match (b, tail.get(..2).map(std::str::from_utf8)) {
                    (b'%', Some(Ok(hex))) => {
                        bytes.push(u8::from_str_radix(hex, 16).expect("hex"));
                        rest = &tail[2..];
                    }
                    _ => {
                        bytes.push(b);
                        rest = tail;
                    }
                }
            }
            String::from_utf8(bytes).expect("UTF-8 name")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_bytes_in_query_strings_answer_422_naming_the_parameter_on_every_list_and_read() {
    let app = TestApp::spawn().await;
    // Every scope, the Event Manager's too, so that every list judges its query.
    let token = app.token(U_DOCTOR, LE_MAIN, &format!("{ALL_SCOPES} event:read"));
    let auth = format!("Authorization: Bearer {token}");
    let entity = paths::service_request(P_OTP, SR_ACTIVE);
    let lists: [(String, &[Judged]); 6] = [
        (paths::SERVICE_REQUESTS.to_string(), ANALYST_LIST),
        (paths::MERGE_REQUESTS.to_string(), ANALYST_LIST),
        (paths::DEVICE_DISPENSES.to_string(), ANALYST_LIST),
        (paths::EVENTS.to_string(), EVENTS),
        (paths::history(&entity), HISTORY),
        (entity.clone(), ENTITY),
    ];
    for (list, judged) in &lists {
        for query in ODD_QUERIES {
            let (message, entries) = match judged.iter().find(|(q, _, _)| *q == query) {
                Some((_, message, entries)) => {
                    (*message, entries.iter().map(|e| e.to_string()).collect())
                }
                None => (NOT_ALLOWED, parameter_names(query)),
            };
            let target = format!("{list}?{query}");
            let reply = http::send(
                &app.base,
                &http::request("GET", target.as_bytes(), &[auth.as_bytes()], b""),
            )
            .await;
            reply.assert_error(&target, 422, "validation_failed", message);
            assert_eq!(reply.invalid_entries(), entries, "{target}: {reply:#?}");
        }
        // A raw NUL in the request target: the HTTP layer refuses the request line.
        let target = format!("{list}?\u{0}");
        let reply = http::send(
            &app.base,
            &http::request("GET", target.as_bytes(), &[auth.as_bytes()], b""),
        )
        .await;
        reply.assert_bare(&target, 400);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_bytes_in_paths_and_headers_answer_a_4xx() {
    let app = TestApp::spawn().await;
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
            reply.assert_bare(&String::from_utf8_lossy(target), 400);
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
        reply.assert_error(&case, status, kind, message);
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
        reply.assert_error(case, *status, kind, message);
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
    reply.assert_bare("NUL in a header", 400);
}
