//! The OpenAPI document at `GET /api/openapi.json`: served without a token, OpenAPI 3, and complete.
//!
//! Completeness is checked three ways, so that a route added without documentation fails: the
//! documented operations equal the `.route(...)` calls of `src/api/mod.rs` (read from the source),
//! and both equal the list kept below. Each operation documents its error statuses, and the
//! service's own answers are held against the document: a request without a token is a documented
//! 401, one without the scope a documented 403, and an unknown query parameter is refused naming
//! exactly the parameters the document lists.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::Value;

use crate::harness::request;
use crate::support::world::*;
use crate::support::TestApp;

/// Every route of the router, `(method, path template)`. A new route belongs here, in
/// `src/api/mod.rs` and, with a `#[utoipa::path]`, in `src/api/openapi.rs`.
const ROUTES: [(&str, &str); 25] = [
    ("get", "/api/service_requests"),
    ("get", "/api/merge_requests"),
    ("get", "/api/device_dispenses"),
    ("patch", "/api/service_requests/{id}/actions/release"),
    (
        "patch",
        "/api/patients/{patient_id}/service_requests/{id}/actions/recall",
    ),
    ("get", "/api/patients/{patient_id}/service_requests/{id}"),
    ("patch", "/api/merge_requests/{id}/actions/reject"),
    ("get", "/api/merge_requests/{id}"),
    (
        "patch",
        "/api/patients/{patient_id}/device_dispenses/{id}/actions/stop",
    ),
    ("get", "/api/patients/{patient_id}/device_dispenses/{id}"),
    (
        "patch",
        "/api/patients/{patient_id}/approvals/{id}/actions/resend",
    ),
    ("get", "/api/patients/{patient_id}/approvals/{id}"),
    ("get", "/api/jobs/{id}"),
    ("get", "/api/events"),
    ("get", "/api/events/{id}"),
    (
        "get",
        "/api/patients/{patient_id}/service_requests/{id}/history",
    ),
    ("get", "/api/merge_requests/{id}/history"),
    (
        "get",
        "/api/patients/{patient_id}/device_dispenses/{id}/history",
    ),
    ("get", "/api/patients/{patient_id}/approvals/{id}/history"),
    (
        "get",
        "/api/patients/{patient_id}/care_plans/{care_plan_id}/activities/{id}",
    ),
    (
        "get",
        "/api/patients/{patient_id}/care_plans/{care_plan_id}/activities/{id}/history",
    ),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/api/openapi.json"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// `(method, path)` of every `.route("<path>", <method>(…)[.<method>(…)])` in `src/api/mod.rs`.
fn routes_in_source() -> BTreeSet<(String, String)> {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/api/mod.rs"))
        .expect("src/api/mod.rs is readable");
    let compact: String = source.chars().filter(|c| !c.is_whitespace()).collect();
    let mut routes = BTreeSet::new();
    for (start, _) in compact.match_indices(".route(\"") {
        let rest = &compact[start + ".route(\"".len()..];
        let (path, rest) = rest.split_once("\",").expect("a route path literal");
        // The method router: the text up to the parenthesis that closes `.route(`.
        let mut depth = 0;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' if depth == 0 => return true,
                    ')' => depth -= 1,
                    _ => {}
                }
                false
            })
            .map(|(i, _)| i)
            .expect("a closed .route(");
        // Top-level calls of the method router: `get(x)`, `.patch(y)`.
        let mut depth = 0;
        let mut word = String::new();
        for c in rest[..end].chars() {
            match c {
                '(' => {
                    if depth == 0 && METHODS.contains(&word.as_str()) {
                        routes.insert((word.clone(), path.to_string()));
                    }
                    depth += 1;
                    word.clear();
                }
                ')' => depth -= 1,
                '.' if depth == 0 => word.clear(),
                c if depth == 0 => word.push(c),
                _ => {}
            }
        }
    }
    routes
}

/// `(method, path)` of every operation of the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(method).is_some() {
                operations.insert((method.to_string(), path.clone()));
            }
        }
    }
    operations
}

async fn document(app: &TestApp) -> Value {
    let reply = app.get("/api/openapi.json", None).await;
    reply.assert_status(200).assert_json();
    reply.body
}

/// A concrete path for a template: the demo-like ids the document gives as examples, or a
/// well-formed id that names nothing.
fn concrete(path: &str) -> String {
    path.replace("{patient_id}", &P_OTP.to_string())
        .replace("{care_plan_id}", &CP_OTHER_LE.to_string())
        .replace("/jobs/{id}", "/jobs/0b3aa308441779e9602a2c28")
        .replace("{id}", &SR_ACTIVE.to_string())
}

/// The statuses an operation documents.
fn statuses(operation: &Value) -> BTreeSet<String> {
    operation["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .cloned()
        .collect()
}

/// The schema of an error response: a shared response (`$ref` to components) or inline content;
/// both must be the error envelope.
fn error_schema<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    let response = match response["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/responses/")
                .expect("a response reference");
            &doc["components"]["responses"][name]
        }
        None => response,
    };
    &response["content"]["application/json"]["schema"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_served_without_a_token_and_lists_every_route_of_the_router() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    assert!(
        doc["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3."),
        "an OpenAPI 3 document: {}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "ehealth-es");

    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed.len(), ROUTES.len(), "ROUTES has no duplicates");
    assert_eq!(
        routes_in_source(),
        listed,
        "the routes of src/api/mod.rs are the routes listed in this test"
    );
    assert_eq!(
        documented(&doc),
        listed,
        "every route is documented, and nothing else is"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_documents_its_parameters_scopes_and_error_statuses() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let scheme = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(scheme["type"], "http", "{scheme:#}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme:#}");
    assert_eq!(scheme["bearerFormat"], "JWT", "{scheme:#}");
    let envelope = doc["components"]["schemas"]["ErrorEnvelope"].clone();
    assert_eq!(
        envelope["required"],
        serde_json::json!(["meta", "error"]),
        "{envelope:#}"
    );
    let invalid = &doc["components"]["schemas"]["InvalidEntry"];
    assert!(
        invalid["properties"]["rules"].is_object(),
        "the invalid[] entry shape: {invalid:#}"
    );

    for (method, path) in ROUTES {
        let operation = &doc["paths"][path][method];
        let what = format!("{} {path}", method.to_uppercase());
        let statuses = statuses(operation);
        assert!(
            statuses.iter().any(|s| s.starts_with('2')),
            "{what}: a success answer"
        );
        // Every path parameter of the template is documented.
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(['{', '}']);
            assert!(
                parameters
                    .iter()
                    .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true),
                "{what}: path parameter {name}"
            );
        }
        // Every error answer of the API is the error envelope (readiness answers its own report
        // with 503).
        let api = path.starts_with("/api/");
        for status in statuses.iter().filter(|s| api && s.as_str() >= "400") {
            let response = &operation["responses"][status.as_str()];
            assert_eq!(
                error_schema(&doc, response)["$ref"],
                "#/components/schemas/ErrorEnvelope",
                "{what} {status}: {response:#}"
            );
        }
        if !api || path == "/api/openapi.json" {
            assert!(operation.get("security").is_none(), "{what}: no token");
            continue;
        }
        // The bearer scheme with the operation's scope, and what every authenticated call can
        // answer.
        let scopes = &operation["security"][0]["bearer"];
        assert_eq!(
            scopes.as_array().map(Vec::len),
            Some(1),
            "{what}: one scope: {operation:#}"
        );
        for status in ["401", "403", "422", "500", "503"] {
            assert!(statuses.contains(status), "{what}: documents {status}");
        }
        if path.contains("{id}") {
            assert!(statuses.contains("404"), "{what}: documents 404");
        }
        if method == "patch" {
            assert!(statuses.contains("409"), "{what}: documents 409");
        }
    }
    let recall =
        &doc["paths"]["/api/patients/{patient_id}/service_requests/{id}/actions/recall"]["patch"];
    for status in ["400", "413", "415"] {
        assert!(
            statuses(recall).contains(status),
            "recall documents {status}"
        );
    }
    let body = &recall["requestBody"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(body, "#/components/schemas/RecallRequest");
    let job = &doc["paths"]["/api/jobs/{id}"]["get"]["responses"];
    assert!(job["303"]["headers"]["Location"].is_object(), "{job:#}");
    assert!(
        statuses(&doc["paths"]["/health/ready"]["get"]).contains("503"),
        "readiness documents 503"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_answers_what_the_document_says_about_tokens_scopes_and_query_parameters() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let other_scope = app.token(U_DOCTOR, LE_MAIN, "job:read");
    let all_scopes = app.token(
        U_DOCTOR,
        LE_MAIN,
        &format!("{ALL_SCOPES} event:read {CARE_PLAN_READ}"),
    );

    for (method, path) in ROUTES {
        let operation = &doc["paths"][path][method];
        let Some(scope) = operation["security"][0]["bearer"][0].as_str() else {
            continue;
        };
        let what = format!("{} {path}", method.to_uppercase());
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let target = concrete(path);

        let reply = request(&app, method.clone(), &target, &[], None).await;
        assert_eq!(
            reply.status, 401,
            "{what} without a token: {:#}",
            reply.body
        );

        let token = if scope == "job:read" {
            app.token(U_DOCTOR, LE_MAIN, "event:read")
        } else {
            other_scope.clone()
        };
        let auth = format!("Bearer {token}");
        let reply = request(
            &app,
            method.clone(),
            &target,
            &[("authorization", &auth)],
            None,
        )
        .await;
        assert_eq!(
            reply.status, 403,
            "{what} without {scope}: {:#}",
            reply.body
        );
        assert!(
            reply
                .message()
                .ends_with(&format!("Missing allowances: {scope}")),
            "{what}: the documented scope is the one the service asks for: {:#}",
            reply.body
        );

        // The query parameters the service accepts are the ones documented: an unknown one is
        // refused with the accepted names as the rule's params.
        let documented: BTreeSet<String> = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter(|p| p["in"] == "query")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        if method != Method::GET || path == "/api/jobs/{id}" || path == "/api/events/{id}" {
            assert!(documented.is_empty(), "{what} takes no query parameter");
            continue;
        }
        let auth = format!("Bearer {all_scopes}");
        let reply = request(
            &app,
            method,
            &format!("{target}?not_a_parameter=1"),
            &[("authorization", &auth)],
            None,
        )
        .await;
        assert_eq!(reply.status, 422, "{what}: {:#}", reply.body);
        let accepted: BTreeSet<String> = reply.body["error"]["invalid"][0]["rules"][0]["params"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: accepted names: {:#}", reply.body))
            .iter()
            .map(|p| p.as_str().unwrap().to_string())
            .collect();
        assert_eq!(accepted, documented, "{what}: documented query parameters");
        assert!(
            operation["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "query")
                .all(|p| p["allowEmptyValue"] == true),
            "{what}: an empty value counts as absent"
        );
    }
}
