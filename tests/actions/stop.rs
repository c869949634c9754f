//! Stop device dispense: `PATCH /api/patients/{patient_id}/device_dispenses/{id}/actions/stop`
//! (scope `device_dispense:stop`, async 202 with a job).

use crate::support::world::*;
use crate::support::{paths, Reply, TestApp};

/// The stop whose job is at `href` finished (303) and is the one change stored: the dispense
/// stopped, two events, one job, one feed record and two status history rows.
async fn assert_stopped_once(app: &TestApp, href: &str, token: &str) {
    let job = app.wait_job(href, token).await;
    assert_eq!(job.status, 303, "{:#}", job.body);
    assert_eq!(app.log(DD_IN_PROGRESS).await.len(), 2);
    assert_eq!(app.job_count().await, 1);
    assert_eq!(app.feed(DD_IN_PROGRESS).await.len(), 1);
    assert_eq!(app.status_history(DD_IN_PROGRESS).await.len(), 2);
    assert_eq!(
        app.current_value("device_dispenses", DD_IN_PROGRESS, "status")
            .await,
        "stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_of_an_in_progress_device_dispense_answers_202_and_its_job_links_the_stopped_dispense()
{
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;

    let reply = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        .await;

    let href = reply.job_href();
    assert_eq!(reply.body["meta"]["code"], 202);
    assert!(reply.body["meta"]["url"]
        .as_str()
        .unwrap()
        .ends_with(&paths::stop(P_OTP, DD_IN_PROGRESS)));
    assert!(reply.data()["eta"].is_string());
    let job_id = href.rsplit('/').next().unwrap().to_string();
    assert_eq!(job_id.len(), 24);
    assert!(job_id.chars().all(|c| c.is_ascii_hexdigit()));

    let link = paths::device_dispense(P_OTP, DD_IN_PROGRESS);
    app.wait_job(&href, &token)
        .await
        .assert_processed_linking("device_dispense", &link);

    let event = app
        .assert_one_event_appended(DD_IN_PROGRESS, "DeviceDispenseStopped", U_DOCTOR, LE_MAIN)
        .await;
    assert_eq!(
        event["payload"]["DeviceDispenseStopped"]["by"],
        U_DOCTOR.to_string()
    );
    assert_eq!(event["metadata"]["job_id"], job_id);

    let row = app
        .current("device_dispenses", DD_IN_PROGRESS)
        .await
        .unwrap();
    assert_eq!(row["status"], "stopped");
    assert_eq!(row["updated_by"], U_DOCTOR.to_string());
    assert_eq!(row["performer_legal_entity_id"], LE_MAIN.to_string());
    assert_eq!(row["version"], 2);

    let history = app
        .assert_status_changed(
            DD_IN_PROGRESS,
            "DeviceDispense",
            ("status", "in_progress", "stopped"),
            U_DOCTOR,
        )
        .await;
    assert_eq!(history.len(), 2, "{history:#?}");

    // The job is visible to its own legal entity only.
    let foreign = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);
    app.job(&href, &foreign)
        .await
        .assert_error(404, "not_found", "Job not found");

    let job_row = app.job_row(&href).await;
    assert_eq!(job_row["status"], "processed");
    assert_eq!(job_row["status_code"], 200);
    assert_eq!(job_row["action"], "stop_device_dispense");
    assert_eq!(job_row["aggregate_type"], "DeviceDispense");
    assert_eq!(job_row["aggregate_id"], DD_IN_PROGRESS.to_string());
    assert_eq!(job_row["legal_entity_id"], LE_MAIN.to_string());
    assert_eq!(job_row["user_id"], U_DOCTOR.to_string());

    let shown = app.get(&link, Some(&token)).await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    assert_eq!(shown.data()["id"], DD_IN_PROGRESS.to_string());
    assert_eq!(shown.data()["status"], "stopped");
    assert_eq!(shown.data()["updated_by"], U_DOCTOR.to_string());

    // Stopping a dispense sends no SMS.
    app.workers_idle().await;
    assert!(app.sms().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_same_device_dispense_twice_answers_409_stopped_the_second_time() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;

    let first: Reply = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        .await;
    let href = first.job_href();
    // By a colleague: the same user's stop while its job is pending would be answered with that
    // job (tests/actions/dedup.rs).
    let colleague = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let second = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &colleague)
        .await;

    second.assert_conflict("Device dispense in status stopped cannot be stopped");
    assert_stopped_once(&app, &href, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_retried_with_the_same_idempotency_key_answers_the_same_job_and_appends_nothing() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let key = "stop-dd-1";

    let stop = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        .idempotency_key(key);
    let first = stop.clone().await;
    let href = first.job_href();
    assert_eq!(app.wait_job(&href, &token).await.status, 303);
    let retry = stop.await;

    assert_eq!(retry.job_href(), href);
    assert_eq!(retry.data(), first.data());
    assert_stopped_once(&app, &href, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stops_of_one_device_dispense_let_exactly_one_win() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    // Two users: two different commands (the same one twice is deduplicated, dedup.rs).
    let colleague = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);

    let [a, b] = app
        .race_two(|i| {
            if i == 0 {
                app.stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
            } else {
                app.stop_device_dispense(P_OTP, DD_IN_PROGRESS, &colleague)
            }
        })
        .await;

    let (won, lost) = if a.status == 202 { (a, b) } else { (b, a) };
    let href = won.job_href();
    lost.assert_conflict("Device dispense in status stopped cannot be stopped");
    assert_stopped_once(&app, &href, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stops_with_the_same_idempotency_key_both_answer_the_same_job() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let stop = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        .idempotency_key("stop-dd-race");

    let [a, b] = app.race_twice(stop).await;

    assert_eq!(a.status, 202, "{:#}", a.body);
    assert_eq!(b.status, 202, "{:#}", b.body);
    assert_eq!(a.job_href(), b.job_href());
    assert_stopped_once(&app, &a.job_href(), &token).await;
}
