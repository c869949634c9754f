//! Release Service Request: `PATCH /api/service_requests/{id}/actions/release`.

use serde_json::json;

use crate::support::world::*;
use crate::support::{paths, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_of_a_queued_service_request_clears_the_reservation_and_finishes_its_job() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;

    let reply = app.release(SR_QUEUED, &token).await;

    let href = reply.job_href();
    assert_eq!(reply.body["meta"]["code"], 202);
    assert!(reply.body["meta"]["url"]
        .as_str()
        .unwrap()
        .ends_with(&paths::release(SR_QUEUED)));
    app.wait_job(&href, &token)
        .await
        .assert_processed_linking("service_request", &paths::service_request(P_OTP, SR_QUEUED));

    app.assert_one_event_appended(SR_QUEUED, "ServiceRequestReleased", U_DOCTOR, LE_MAIN)
        .await;
    let row = app.current("service_requests", SR_QUEUED).await.unwrap();
    assert_eq!(row["program_processing_status"], "new");
    assert_eq!(row["status"], "active");
    assert_eq!(row["used_by_employee_id"], json!(null));
    assert_eq!(row["used_by_legal_entity_id"], json!(null));
    assert_eq!(row["updated_by"], U_DOCTOR.to_string());
    assert_eq!(row["version"], 2);
    app.assert_status_changed(
        SR_QUEUED,
        "ServiceRequest",
        ("program_processing_status", "in_queue", "new"),
        U_DOCTOR,
    )
    .await;
    let job_row = app.job_row(&href).await;
    assert_eq!(job_row["status"], "processed");

    let shown = app.service_request(P_OTP, SR_QUEUED, &token).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.data()["program_processing_status"], "new");
    assert_eq!(shown.data()["used_by_legal_entity"], json!(null));
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
