//! Black-box tests of the analyst read side (see tests/support): the list
//! endpoints `GET /api/service_requests`, `/api/merge_requests` and `/api/device_dispenses` — every
//! filter, cursor paging, tenancy, CSV and every refusal.

#[path = "../support/mod.rs"]
mod support;

mod csv;
mod device_dispenses;
mod merge_requests;
mod paging;
mod service_requests;
mod validation;

use std::collections::HashSet;

use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use uuid::Uuid;

use support::world::*;
use support::{Reply, TestApp};

pub use support::paths::{self, DEVICE_DISPENSES, MERGE_REQUESTS, SERVICE_REQUESTS};

/// The service requests LE_MAIN may see (it requested or uses them), in page order: the fixture
/// gives them all the same `updated_at`, so the order is the id's.
pub const MAIN_SERVICE_REQUESTS: [Uuid; 10] = [
    SR_QUEUED,
    SR_PPS_NEW,
    SR_RECALLED,
    SR_USED_BY_OTHER,
    SR_ACTIVE,
    SR_PASSPORT,
    SR_COMPLETED,
    SR_USED_BY_MAIN,
    SR_PERFORMER,
    SR_OFFLINE_PATIENT,
];

/// An empty list of ids, for comparisons.
pub const NONE: [Uuid; 0] = [];

/// A token of LE_MAIN's doctor with every scope.
pub fn main_token(app: &TestApp) -> String {
    app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES)
}

/// The ids of a JSON list answer, in order, after checking it is a 200 list envelope.
#[track_caller]
pub fn ids(reply: &Reply) -> Vec<Uuid> {
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["meta"]["type"], "list", "{:#}", reply.body);
    assert_eq!(reply.body["meta"]["code"], 200);
    reply
        .data()
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|item| Uuid::parse_str(item["id"].as_str().expect("item id")).expect("uuid id"))
        .collect()
}

/// The ids a list answers for `query` (a query string without `?`).
pub async fn list_ids(app: &TestApp, path: &str, query: &str, token: &str) -> Vec<Uuid> {
    ids(&app.get(&format!("{path}?{query}"), Some(token)).await)
}

/// Asserts, for each `(query, expected)`, that the list at `path` answers `token` exactly the ids
/// `expected`, in order; the failure names the query.
pub async fn assert_lists<Q: AsRef<str>>(
    app: &TestApp,
    path: &str,
    token: &str,
    cases: impl IntoIterator<Item = (Q, Vec<Uuid>)>,
) {
    for (query, expected) in cases {
        let query = query.as_ref();
        assert_eq!(
            list_ids(app, path, query, token).await,
            expected,
            "{path}?{query}"
        );
    }
}

/// An item's id and, for the lists whose read endpoints are under a patient, its patient.
pub fn item_id(item: &Value) -> Uuid {
    item["id"]
        .as_str()
        .expect("item id")
        .parse()
        .expect("uuid id")
}

pub fn item_patient(item: &Value) -> Uuid {
    let patient = item["subject"]["identifier"]["value"].as_str();
    patient.expect("subject").parse().expect("uuid patient")
}

/// Asserts every item of a list answer is exactly what its read endpoint, at `read_path(item)`,
/// serves.
pub async fn assert_items_as_read(
    app: &TestApp,
    token: &str,
    list: &Reply,
    read_path: impl Fn(&Value) -> String,
) {
    for item in list.data().as_array().expect("data is a list") {
        let path = read_path(item);
        let shown = app.get(&path, Some(token)).await;
        assert_eq!(shown.status, 200, "{path}: {:#}", shown.body);
        assert_eq!(item, shown.data(), "list item read at {path}");
    }
}

/// Every page of a list, following `paging.next_cursor`; checks the paging object of each page.
pub async fn walk(app: &TestApp, path: &str, query: &str, token: &str) -> Vec<Vec<Value>> {
    walk_from(app, path, query, token, None).await
}

/// Like [`walk`], starting after `cursor`.
pub async fn walk_from(
    app: &TestApp,
    path: &str,
    query: &str,
    token: &str,
    mut cursor: Option<String>,
) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?{query}&cursor={c}"),
            None => format!("{path}?{query}"),
        };
        let reply = app.get(&url, Some(token)).await;
        ids(&reply);
        let paging = &reply.body["paging"];
        let has_more = paging["has_more"].as_bool().expect("has_more");
        assert_eq!(paging["next_cursor"].is_string(), has_more, "{paging}");
        pages.push(reply.data().as_array().unwrap().clone());
        assert!(pages.len() < 100, "paging does not end");
        if !has_more {
            assert_eq!(paging["next_cursor"], Value::Null);
            return pages;
        }
        cursor = paging["next_cursor"].as_str().map(str::to_string);
    }
}

/// The ids of every item of every page, in order.
pub fn page_ids(pages: &[Vec<Value>]) -> Vec<Uuid> {
    pages
        .iter()
        .flatten()
        .map(|item| Uuid::parse_str(item["id"].as_str().unwrap()).unwrap())
        .collect()
}

#[track_caller]
pub fn assert_no_repeats(ids: &[Uuid]) {
    let unique: HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an item was repeated: {ids:?}");
}

/// A raw answer (CSV or JSON) to a GET with extra headers.
pub struct RawReply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl RawReply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).expect("a JSON body")
    }
}

/// GET `path_and_query` (relative, or an absolute URL from a `Link` header) asking for CSV.
pub async fn get_csv(app: &TestApp, path_and_query: &str, token: &str) -> RawReply {
    let url = if path_and_query.starts_with("http") {
        path_and_query.to_string()
    } else {
        format!("{}{path_and_query}", app.base)
    };
    let response = app
        .client
        .get(url)
        .bearer_auth(token)
        .header("accept", "text/csv")
        .send()
        .await
        .expect("answered");
    RawReply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    }
}

/// Parses RFC 4180 CSV (CRLF records, quoted fields with doubled quotes), independently of the
/// service's writer.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => record.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "a CR not followed by LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            '\n' => panic!("a bare LF ends a record"),
            other => field.push(other),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record is not terminated by CRLF"
    );
    records
}

/// A service request of LE_MAIN (requested by E_DOCTOR) with the given extra fields.
pub fn service_request(id: Uuid, extra: Value) -> Value {
    let mut sr = json!({
        "id": id, "patient_id": P_OTP, "status": "active",
        "requester_employee": E_DOCTOR, "requester_legal_entity": LE_MAIN,
        "requisition": "0000-0000-0000-XX"
    });
    for (k, v) in extra.as_object().expect("an object") {
        sr[k] = v.clone();
    }
    sr
}

/// Ids for entities a test imports (distinct from the fixture's).
pub fn extra_id(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_00aa_0000 | n)
}
