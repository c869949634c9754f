//! Release Service Request: `PATCH /api/service_requests/{id}/actions/release`.

use serde_json::json;

use crate::support::world::*;
use uuid::Uuid;

use crate::support::client::Error;
use crate::support::{paths, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_of_a_queued_service_request_clears_the_reservation_and_finishes_its_job() {
    let app = TestApp::spawn().await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);

    let reply = app.release(SR_QUEUED, &token).await;

    let href = reply.job_href();
    assert_eq!(reply.body["meta"]["code"], 202);
    assert!(reply.body["meta"]["url"]
        .as_str()
        .unwrap()
        .ends_with(&paths::release(SR_QUEUED)));
    let job = app.wait_job(&href, &token).await;
    assert_eq!(job.status, 303, "{:#}", job.body);
    let link = format!("/api/patients/{P_OTP}/service_requests/{SR_QUEUED}");
    assert_eq!(job.data()["status"], "processed");
    assert_eq!(job.data()["status_code"], 200);
    assert_eq!(
        job.data()["links"],
        json!([{ "entity": "service_request", "href": link }])
    );
    assert_eq!(job.headers["location"], link.as_str());

    let events = app.log(SR_QUEUED).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["event_type"], "ServiceRequestReleased");
    assert_eq!(events[1]["metadata"]["user_id"], U_DOCTOR.to_string());
    assert_eq!(events[1]["metadata"]["client_id"], LE_MAIN.to_string());
    let row = app.current("service_requests", SR_QUEUED).await.unwrap();
    assert_eq!(row["program_processing_status"], "new");
    assert_eq!(row["status"], "active");
    assert_eq!(row["used_by_employee_id"], json!(null));
    assert_eq!(row["used_by_legal_entity_id"], json!(null));
    assert_eq!(row["updated_by"], U_DOCTOR.to_string());
    assert_eq!(row["version"], 2);
    let history = app.status_history(SR_QUEUED).await;
    assert_eq!(
        history.last().unwrap(),
        &json!({ "sequence": 2, "attribute": "program_processing_status", "old_value": "in_queue", "new_value": "new", "changed_by": U_DOCTOR })
    );
    let feed = app.feed(SR_QUEUED).await;
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0]["event_type"], "StatusChangeEvent");
    assert_eq!(feed[0]["entity_type"], "ServiceRequest");
    assert_eq!(
        feed[0]["properties"],
        json!({ "program_processing_status": { "new_value": "new" } })
    );
    assert_eq!(feed[0]["changed_by"], U_DOCTOR.to_string());
    let job_row = app.job_row(&href).await;
    assert_eq!(job_row["status"], "processed");

    let shown = app.service_request(P_OTP, SR_QUEUED, &token).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.data()["program_processing_status"], "new");
    assert_eq!(shown.data()["used_by_legal_entity"], json!(null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_of_an_unknown_or_malformed_service_request_answers_404() {
    let app = TestApp::spawn().await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let unknown = uuid::Uuid::new_v4();
    let reply = app.release(unknown, &token).await;
    reply.assert_error(404, "not_found", "Service request not found");
    let reply = app
        .patch(
            "/api/service_requests/not-a-uuid/actions/release",
            Some(&token),
            None,
        )
        .await;
    reply.assert_error(404, "not_found", "Service request not found");
    assert!(app.log(unknown).await.is_empty());
    assert_eq!(app.job_count().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legal_entity_reads_the_service_request_it_released_its_history_and_feed_record() {
    let app = TestApp::spawn().await;
    app.import(&more_service_requests()).await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);

    let reply = app.release(SR_QUEUED_FROM_OTHER, &token).await;
    let job = app.wait_job(&reply.job_href(), &token).await;
    assert_eq!(job.status, 303, "{:#}", job.body);

    // The job's link answers, though LE_MAIN neither requested nor uses it any more.
    let link = job.headers["location"].to_str().unwrap().to_string();
    let shown = app.get(&link, Some(&token)).await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    assert_eq!(shown.data()["id"], SR_QUEUED_FROM_OTHER.to_string());
    assert_eq!(shown.data()["used_by_legal_entity"], json!(null));
    assert!(shown.data().get("released_by").is_none());
    let history = app.history(&link, &token).await;
    assert_eq!(history.status, 200, "{:#}", history.body);
    let types: Vec<&str> = history
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["ServiceRequestImported", "ServiceRequestReleased"]);
    let feed = app
        .events(&app.token(U_DOCTOR, LE_MAIN, "event:read"))
        .query(&format!("entity_id={SR_QUEUED_FROM_OTHER}"))
        .await;
    assert_eq!(feed.status, 200, "{:#}", feed.body);
    assert_eq!(feed.data().as_array().unwrap().len(), 1, "{:#}", feed.body);
    let list = app
        .get(paths::SERVICE_REQUESTS, Some(&token))
        .query("limit=500")
        .await;
    assert_eq!(list.status, 200, "{:#}", list.body);
    assert!(list
        .data()
        .as_array()
        .unwrap()
        .iter()
        .any(|sr| sr["id"] == SR_QUEUED_FROM_OTHER.to_string()));
    let row = app
        .current("service_requests", SR_QUEUED_FROM_OTHER)
        .await
        .unwrap();
    assert_eq!(row["released_by_legal_entity_ids"], json!([LE_MAIN]));

    // A legal entity that never touched it still does not see it.
    let stranger = app.token(U_DOCTOR, LE_PRIMARY, ALL_SCOPES);
    let hidden = app.get(&link, Some(&stranger)).await;
    hidden.assert_error(404, "not_found", "Service request not found");
}

const CONFLICT: &str = "request_conflict";
const LE_NOT_ALLOWED: &str = "Action is not allowed for the legal entity";
const NOT_IN_QUEUE: &str = "Invalid program processing status";
const USED_BY_ANOTHER: &str = "Service request is used by another legal entity";
const MISSING_USE_SCOPE: &str =
    "Your scope does not allow to access this resource. Missing allowances: service_request:use";

/// A refused release: the case, who asks (user, legal entity, scopes), the service request and
/// the answer.
type Refusal = (&'static str, Uuid, Uuid, &'static str, Uuid, Error<'static>);

const REFUSALS: [Refusal; 11] = [
    (
        "without the use scope: 403 with the missing scope",
        U_DOCTOR,
        LE_MAIN,
        "service_request:read",
        SR_QUEUED,
        (403, "forbidden", MISSING_USE_SCOPE),
    ),
    (
        "by a pharmacy: 409",
        U_DOCTOR,
        LE_PHARMACY,
        ALL_SCOPES,
        SR_QUEUED,
        (409, CONFLICT, LE_NOT_ALLOWED),
    ),
    (
        "by a closed legal entity: 409",
        U_DOCTOR,
        LE_CLOSED,
        ALL_SCOPES,
        SR_QUEUED,
        (409, CONFLICT, LE_NOT_ALLOWED),
    ),
    (
        "by an unknown legal entity: 409",
        U_DOCTOR,
        LE_UNKNOWN,
        ALL_SCOPES,
        SR_QUEUED,
        (409, CONFLICT, LE_NOT_ALLOWED),
    ),
    // Another legal entity's service request meets the spec's rules, not a 404. Requested by
    // LE_OTHER, used by nobody, no program: the spec's program-status rule answers.
    (
        "of another legal entity's service request not in queue: 409",
        U_DOCTOR,
        LE_MAIN,
        ALL_SCOPES,
        SR_OTHER_LE,
        (409, CONFLICT, NOT_IN_QUEUE),
    ),
    // In queue for LE_MAIN, released by LE_OTHER: the spec's rules pass, ours answers last.
    (
        "by another legal entity than the one using it: 409",
        U_OTHER,
        LE_OTHER,
        ALL_SCOPES,
        SR_QUEUED,
        (409, CONFLICT, USED_BY_ANOTHER),
    ),
    (
        "of an expired service request: 409",
        U_DOCTOR,
        LE_MAIN,
        ALL_SCOPES,
        SR_EXPIRED,
        (409, CONFLICT, "Service request is expired"),
    ),
    (
        "of a recalled service request: 409 invalid status",
        U_DOCTOR,
        LE_MAIN,
        ALL_SCOPES,
        SR_RECALLED,
        (409, CONFLICT, "Invalid service request status"),
    ),
    (
        "of a service request whose program status is new: 409",
        U_DOCTOR,
        LE_MAIN,
        ALL_SCOPES,
        SR_PPS_NEW,
        (409, CONFLICT, NOT_IN_QUEUE),
    ),
    (
        "of a service request with no program: 409",
        U_DOCTOR,
        LE_MAIN,
        ALL_SCOPES,
        SR_ACTIVE,
        (409, CONFLICT, NOT_IN_QUEUE),
    ),
    (
        "of a service request used by another legal entity: 409",
        U_DOCTOR,
        LE_MAIN,
        ALL_SCOPES,
        SR_USED_BY_OTHER,
        (409, CONFLICT, USED_BY_ANOTHER),
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_refused_by_scope_legal_entity_status_or_use_answers_its_error_and_changes_nothing(
) {
    let app = TestApp::spawn().await;
    app.import(&more_service_requests()).await;
    for (case, user, legal_entity, scopes, id, error) in REFUSALS {
        let before = app.snapshot("service_requests", id).await;
        let token = app.token(user, legal_entity, scopes);
        let reply = app.release(id, &token).await;
        reply.assert_case_error(case, error);
        app.assert_unchanged(case, "service_requests", id, &before)
            .await;
    }
}
