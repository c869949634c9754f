//! `GET /api/jobs/{id}`: pending 200, processed 303 with the entity link or
//! 200 with `response_data`, unknown or malformed ids 404.

use std::collections::BTreeSet;

use serde_json::json;

use crate::harness::*;
use crate::support::world::*;
use crate::support::TestApp;

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn keys(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_job_id_answers_404_job_not_found() {
    let app = TestApp::spawn().await;
    let token = app.token(U_DOCTOR, LE_MAIN, "job:read");
    for id in ["0123456789abcdef01234567", "FFFFFFFFFFFFFFFFFFFFFFFF"] {
        let reply = app.get(&format!("/api/jobs/{id}"), Some(&token)).await;
        reply.assert_error(404, "not_found", "Job not found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_job_id_answers_404_job_not_found() {
    let app = TestApp::spawn().await;
    let token = app.token(U_DOCTOR, LE_MAIN, "job:read");
    let uuid = uuid::Uuid::new_v4().to_string();
    for id in [
        "abc",
        "0123456789abcdef0123456",
        "0123456789abcdef012345678",
        "zzzzzzzzzzzzzzzzzzzzzzzz",
        "0123456789abcdef0123456%27",
        uuid.as_str(),
    ] {
        let reply = app.get(&format!("/api/jobs/{id}"), Some(&token)).await;
        reply.assert_error(404, "not_found", "Job not found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processed_release_job_answers_303_with_the_location_and_links_of_the_service_request() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let accepted = app.release(SR_QUEUED, &token).await;
    let href = accepted.job_href();
    assert!(href.starts_with("/api/jobs/"));
    let id = href.trim_start_matches("/api/jobs/");
    assert_eq!(id.len(), 24);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));

    let reply = app.wait_job(&href, &token).await;
    assert_eq!(reply.status, 303, "{:#}", reply.body);
    let link = service_request(P_OTP, SR_QUEUED);
    assert_eq!(reply.headers["location"], link.as_str());
    assert_eq!(
        keys(reply.data()),
        set(&["eta", "links", "status", "status_code"])
    );
    assert_eq!(reply.data()["status"], "processed");
    assert_eq!(reply.data()["status_code"], 200);
    assert_eq!(reply.data()["eta"], accepted.data()["eta"]);
    assert_eq!(
        reply.data()["links"],
        json!([{ "entity": "service_request", "href": link }])
    );
    assert_eq!(reply.body["meta"]["code"], 303);

    // The stop job links to the device dispense the same way.
    let href = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        .await
        .job_href();
    let reply = app.wait_job(&href, &token).await;
    assert_eq!(reply.status, 303, "{:#}", reply.body);
    let link = device_dispense(P_OTP, DD_IN_PROGRESS);
    assert_eq!(reply.headers["location"], link.as_str());
    assert_eq!(
        reply.data()["links"],
        json!([{ "entity": "device_dispense", "href": link }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processed_resend_job_answers_200_with_empty_response_data() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let href = app.resend_otp(P_OTP, AP_OTP, &token).await.job_href();
    let reply = app.wait_job(&href, &token).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(
        keys(reply.data()),
        set(&["eta", "response_data", "status", "status_code"])
    );
    assert_eq!(reply.data()["status"], "processed");
    assert_eq!(reply.data()["status_code"], 200);
    assert_eq!(reply.data()["response_data"], "");
    assert!(reply.headers.get("location").is_none());
    let row = app.job_row(&href).await;
    assert_eq!(row["status"], "processed");
    assert_eq!(row["action"], "resend_approval_otp");
    assert_eq!(row["user_id"], U_DOCTOR.to_string());
    assert_eq!(row["legal_entity_id"], LE_MAIN.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_job_answers_200_with_its_eta_and_own_link_and_no_status_code() {
    let app = spawn_without_workers().await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let accepted = app.release(SR_QUEUED, &token).await;
    let href = accepted.job_href();
    let eta = accepted.data()["eta"].as_str().expect("eta").to_string();
    chrono::DateTime::parse_from_rfc3339(&eta).expect("eta is ISO 8601");
    assert!(eta.ends_with('Z'), "UTC: {eta}");

    // The state change is committed at once; only the job's processing waits for a worker.
    assert_eq!(app.log(SR_QUEUED).await.len(), 2);
    let resend_href = app.resend_otp(P_OTP, AP_OTP, &token).await.job_href();
    // No worker runs on this node, so nothing is waited for: the jobs cannot move on, and the
    // effects checkpoint, asserted untouched below, shows that nothing processed them.

    for href in [&href, &resend_href] {
        let reply = app.get(href, Some(&token)).await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        assert_eq!(keys(reply.data()), set(&["eta", "links", "status"]));
        assert_eq!(reply.data()["status"], "pending");
        assert!(reply.data().get("status_code").is_none());
        assert_eq!(
            reply.data()["links"],
            json!([{ "entity": "job", "href": href }])
        );
        assert!(reply.headers.get("location").is_none());
        assert_eq!(app.job_row(href).await["status"], "pending");
    }
    assert_eq!(
        app.get(&href, Some(&token)).await.data(),
        accepted.data(),
        "a pending job shows what the 202 said"
    );
    assert!(app.sms().await.is_empty(), "no worker, no SMS");
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM subscriber_checkpoints WHERE last_position > 0"
        )
        .await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_left_pending_by_an_api_only_node_are_finished_by_a_node_with_workers() {
    let app = spawn_without_workers().await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let release_job = app.release(SR_QUEUED, &token).await.job_href();
    let resend_job = app.resend_otp(P_OTP, AP_OTP, &token).await.job_href();

    // A second node on the same database, with workers.
    let worker = app.another_instance(|_| {}).await;

    let reply = app.wait_job(&release_job, &token).await;
    assert_eq!(reply.status, 303, "{:#}", reply.body);
    let reply = app.wait_job(&resend_job, &token).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.data()["status"], "processed");
    let sms = app.settled_sms(1).await;
    assert_eq!(sms.len(), 1, "{sms:#?}");
    assert_eq!(sms[0]["status"], "sent");
    assert_eq!(sms[0]["phone_number"], PHONE_OTP);

    worker.stop().await;
}

/// One of the `ehealth_…` counters of `GET /metrics`.
async fn counter(app: &TestApp, name: &str) -> u64 {
    let text = app.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
        .parse()
        .unwrap()
}

/// Commits that follow each other closely are processed in passes at least `PACE` apart, several
/// events a pass, not a pass per commit; every job is still finished — a resend's by the SMS
/// dispatcher: processed, or failed when a later code of the burst superseded its SMS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_effects_worker_takes_close_commits_together_and_every_job_is_finished() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let pace = crate::support::service::effects_pace();
    // The world's import is processed first.
    app.effects_idle().await;
    let (passes_before, events_before) = (
        counter(&app, "ehealth_effects_passes_total").await,
        counter(&app, "ehealth_effects_events_total").await,
    );

    let started = std::time::Instant::now();
    let mut jobs = Vec::new();
    for _ in 0..30 {
        // Thirty users: the same resend while its job is pending would be answered with that job.
        let user = app.token(uuid::Uuid::new_v4(), LE_MAIN, ALL_SCOPES);
        let reply = app.resend_otp(P_OTP, AP_OTP, &user).await;
        assert_eq!(reply.status, 202, "{:#}", reply.body);
        jobs.push(reply.job_href());
    }
    for href in &jobs {
        let job = app.wait_job(href, &token).await;
        assert_eq!(job.status, 200, "{:#}", job.body);
        let finished = (
            job.data()["status"].as_str(),
            job.data()["status_code"].as_i64(),
        );
        assert!(
            matches!(
                finished,
                (Some("processed"), Some(200)) | (Some("failed"), Some(409))
            ),
            "{:#}",
            job.body
        );
    }
    let last = app.wait_job(jobs.last().unwrap(), &token).await;
    assert_eq!(last.data()["status"], "processed", "{:#}", last.body);
    let elapsed = started.elapsed();

    let passes = counter(&app, "ehealth_effects_passes_total").await - passes_before;
    let events = counter(&app, "ehealth_effects_events_total").await - events_before;
    assert_eq!(events, 30, "one event per resend");
    // Passes start at least `pace` apart: no more than one per `pace` of the burst, plus one.
    let bound = (elapsed.as_millis() / pace.as_millis()) as u64 + 1;
    assert!(
        passes <= bound,
        "{passes} passes for {events} events in {elapsed:?} (at most {bound})"
    );
}
