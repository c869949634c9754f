//! Job deduplication: the same command (action, user, legal entity and parameters) sent again
//! while its job is pending is answered with that job — 200, exactly as `GET /api/jobs/{id}`
//! renders it — and appends nothing. Most tests run an API-only node (workers off), so a job stays
//! pending until the test starts a node with workers on the same database.

use serde_json::json;
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{Reply, TestApp};

/// A node without workers (its jobs stay pending), and the doctor's token.
async fn api_only() -> (TestApp, String) {
    let app = TestApp::spawn_without_workers().await;
    let doctor = app.doctor_token();
    (app, doctor)
}

/// A second node, with workers, on the same database: it finishes the pending jobs.
async fn start_workers(app: &TestApp) -> TestApp {
    app.another_instance(|_| {}).await
}

/// A duplicate's answer: 200 with the pending job `href`, the same `data` as `GET /api/jobs/{id}`.
async fn assert_answers_the_pending_job(app: &TestApp, token: &str, reply: &Reply, href: &str) {
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["meta"]["code"], 200, "{:#}", reply.body);
    assert_eq!(reply.data()["status"], "pending", "{:#}", reply.body);
    assert_eq!(
        reply.data()["links"],
        json!([{ "entity": "job", "href": href }]),
        "{:#}",
        reply.body
    );
    assert!(reply.data().get("status_code").is_none());
    let shown = app.job(href, token).await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    assert_eq!(reply.data(), shown.data());
}

/// The job every reply of a race of one command on `id` names (one 202, the others 200 with that
/// pending job), which is the only job of the one command executed.
async fn the_one_job_of(app: &TestApp, token: &str, replies: &[Reply], id: Uuid) -> String {
    let accepted: Vec<&Reply> = replies.iter().filter(|r| r.status == 202).collect();
    assert_eq!(accepted.len(), 1, "one 202: {replies:#?}");
    let href = accepted[0].job_href();
    for reply in replies.iter().filter(|r| r.status != 202) {
        assert_answers_the_pending_job(app, token, reply, &href).await;
    }
    assert_executed_once(app, id).await;
    href
}

/// One command on `id` was executed, however many were sent: one event appended, one job.
async fn assert_executed_once(app: &TestApp, id: Uuid) {
    assert_eq!(app.log(id).await.len(), 2, "events of {id}");
    assert_eq!(app.job_count().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_sent_again_while_its_job_is_pending_answers_200_with_that_job_and_appends_nothing(
) {
    let (app, token) = api_only().await;
    let first = app.release(SR_QUEUED, &token).await;
    let href = first.job_href();
    let events = app.event_count().await;

    let again = app.release(SR_QUEUED, &token).await;

    assert_answers_the_pending_job(&app, &token, &again, &href).await;
    assert_eq!(again.data(), first.data(), "what the 202 said");
    assert_eq!(app.event_count().await, events);
    assert_executed_once(&app, SR_QUEUED).await;
    assert_eq!(app.feed(SR_QUEUED).await.len(), 1);
    let row = app.current("service_requests", SR_QUEUED).await.unwrap();
    assert_eq!(row["version"], 2, "{row:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_whose_job_has_finished_is_a_new_command_and_meets_the_state_rules_409() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let href = app.release(SR_QUEUED, &token).await.job_href();
    assert_eq!(app.wait_job(&href, &token).await.status, 303);

    let again = app.release(SR_QUEUED, &token).await;

    again.assert_conflict("Invalid program processing status");
    assert_executed_once(&app, SR_QUEUED).await;
    app.workers_idle().await;
    assert_eq!(app.job_row(&href).await["status"], "processed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_sent_again_while_its_job_is_pending_answers_200_with_that_job_and_appends_nothing()
{
    let (app, token) = api_only().await;
    let href = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        .await
        .job_href();
    let events = app.event_count().await;

    let again = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        .await;

    assert_answers_the_pending_job(&app, &token, &again, &href).await;
    assert_eq!(app.event_count().await, events);
    assert_executed_once(&app, DD_IN_PROGRESS).await;
    assert_eq!(app.feed(DD_IN_PROGRESS).await.len(), 1);

    // Finished, the same stop is a new command: the dispense is stopped already.
    let workers = start_workers(&app).await;
    assert_eq!(app.wait_job(&href, &token).await.status, 303);
    let later = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        .await;
    later.assert_conflict("Device dispense in status stopped cannot be stopped");
    assert_eq!(app.job_count().await, 1);
    workers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_sent_again_while_its_job_is_pending_answers_that_job_issues_no_new_code_and_sends_one_sms(
) {
    let (app, token) = api_only().await;
    let href = app.resend_otp(P_OTP, AP_OTP, &token).await.job_href();
    let events = app.event_count().await;
    let challenge =
        app.current("approvals", AP_OTP).await.unwrap()["document"]["record"]["otp"].clone();

    let again = app.resend_otp(P_OTP, AP_OTP, &token).await;

    assert_answers_the_pending_job(&app, &token, &again, &href).await;
    assert_eq!(app.event_count().await, events);
    assert_executed_once(&app, AP_OTP).await;
    assert_eq!(
        app.current("approvals", AP_OTP).await.unwrap()["document"]["record"]["otp"],
        challenge,
        "the code issued first still stands"
    );

    let workers = start_workers(&app).await;
    let job = app.wait_job(&href, &token).await;
    assert_eq!(job.data()["status"], "processed", "{:#}", job.body);
    app.wait_sms_sent(1).await;
    app.workers_idle().await;
    let sms = app.sms().await;
    assert_eq!(sms.len(), 1, "{sms:#?}");
    assert_eq!(sms[0]["phone_number"], PHONE_OTP);
    workers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_sent_again_while_its_job_is_pending_answers_that_job_however_its_base64_is_wrapped(
) {
    let (app, token) = api_only().await;
    let body = app.doctor_recall_body(P_OTP, SR_ACTIVE, "1").await;
    let href = app.recall(P_OTP, SR_ACTIVE, &body, &token).await.job_href();
    let events = app.event_count().await;
    // The same envelope as a MIME tool writes it: lines of 64 characters.
    let signed = body["signed_data"].as_str().unwrap();
    let wrapped: Vec<String> = signed
        .as_bytes()
        .chunks(64)
        .map(|line| String::from_utf8(line.to_vec()).unwrap())
        .collect();
    let rewrapped = json!({ "signed_data": wrapped.join("\r\n") });

    let again = app.recall(P_OTP, SR_ACTIVE, &body, &token).await;
    let again_wrapped = app.recall(P_OTP, SR_ACTIVE, &rewrapped, &token).await;

    assert_answers_the_pending_job(&app, &token, &again, &href).await;
    assert_answers_the_pending_job(&app, &token, &again_wrapped, &href).await;
    assert_eq!(app.event_count().await, events);
    assert_executed_once(&app, SR_ACTIVE).await;
    assert_eq!(
        app.media_files().len(),
        1,
        "a duplicate is answered before its envelope is stored"
    );

    let workers = start_workers(&app).await;
    assert_eq!(app.wait_job(&href, &token).await.status, 303);
    app.wait_sms_sent(1).await;
    app.workers_idle().await;
    assert_eq!(app.sms().await.len(), 1, "{:#?}", app.sms().await);
    workers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_with_another_signed_envelope_while_the_first_is_pending_is_another_command_and_answers_409(
) {
    let (app, token) = api_only().await;
    let first = app.doctor_recall_body(P_OTP, SR_ACTIVE, "1").await;
    let other = app.doctor_recall_body(P_OTP, SR_ACTIVE, "2").await;
    app.recall(P_OTP, SR_ACTIVE, &first, &token)
        .await
        .job_href();

    let reply = app.recall(P_OTP, SR_ACTIVE, &other, &token).await;

    reply.assert_conflict("Service request in status recalled cannot be recalled");
    assert_executed_once(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_release_by_another_user_or_legal_entity_is_not_deduplicated() {
    let (app, doctor) = api_only().await;
    app.release(SR_QUEUED, &doctor).await.job_href();

    let colleague = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let by_colleague = app.release(SR_QUEUED, &colleague).await;
    let stranger = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);
    let by_stranger = app.release(SR_QUEUED, &stranger).await;
    // The doctor's token naming another legal entity is another command too.
    let elsewhere = app.token(U_DOCTOR, LE_OTHER, ALL_SCOPES);
    let by_doctor_elsewhere = app.release(SR_QUEUED, &elsewhere).await;

    // Each meets the state the first release left (never a 404 for one that exists).
    for reply in [by_colleague, by_stranger, by_doctor_elsewhere] {
        reply.assert_conflict("Invalid program processing status");
    }
    assert_executed_once(&app, SR_QUEUED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_resend_by_another_user_is_another_command_with_a_job_of_its_own() {
    let (app, doctor) = api_only().await;
    let first = app.resend_otp(P_OTP, AP_OTP, &doctor).await.job_href();

    let colleague = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let second = app.resend_otp(P_OTP, AP_OTP, &colleague).await.job_href();

    assert_ne!(first, second);
    assert_eq!(app.log(AP_OTP).await.len(), 3);
    assert_eq!(app.job_count().await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_identical_concurrent_releases_make_one_job_and_one_event_and_every_answer_names_it()
{
    let (app, token) = api_only().await;

    let replies = app
        .concurrently(8, |_| app.release(SR_QUEUED, &token))
        .await;

    the_one_job_of(&app, &token, &replies, SR_QUEUED).await;
    assert_eq!(app.feed(SR_QUEUED).await.len(), 1);
}

/// The appends are held until every request has looked for a pending job and found none, so the
/// copies that follow the first are refused by the unique index on pending jobs' keys (resend's
/// state rules accept a second resend).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_identical_concurrent_resends_make_one_job_one_event_and_one_sms_and_every_answer_names_it(
) {
    let (app, token) = api_only().await;

    let replies = app.race(8, |_| app.resend_otp(P_OTP, AP_OTP, &token)).await;

    let href = the_one_job_of(&app, &token, &replies, AP_OTP).await;
    let metrics = app.metrics().await;
    let refused = "ehealth_commands_total{aggregate=\"Approval\",outcome=\"duplicate\"} 7";
    assert!(
        metrics.lines().any(|l| l == refused),
        "missing `{refused}` in\n{metrics}"
    );
    let workers = start_workers(&app).await;
    assert_eq!(
        app.wait_job(&href, &token).await.data()["status"],
        "processed"
    );
    app.wait_sms_sent(1).await;
    app.workers_idle().await;
    assert_eq!(app.sms().await.len(), 1, "{:#?}", app.sms().await);
    workers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_identical_concurrent_recalls_make_one_job_and_one_event_and_every_answer_names_it() {
    let (app, token) = api_only().await;
    let body = app.doctor_recall_body(P_OTP, SR_ACTIVE, "1").await;

    let replies = app
        .concurrently(8, |_| app.recall(P_OTP, SR_ACTIVE, &body, &token))
        .await;

    the_one_job_of(&app, &token, &replies, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_identical_concurrent_stops_make_one_job_and_one_event_and_every_answer_names_it() {
    let (app, token) = api_only().await;

    let replies = app
        .concurrently(8, |_| {
            app.stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        })
        .await;

    the_one_job_of(&app, &token, &replies, DD_IN_PROGRESS).await;
}

/// A request with an Idempotency-Key is deduplicated by its key alone: it neither finds a pending
/// job of the same command nor leaves one to be found, and its retry answers its first answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_an_idempotency_key_neither_find_nor_leave_a_job_for_deduplication() {
    let (app, token) = api_only().await;
    let key = "release-queued-1";
    let plain = app.release(SR_QUEUED, &token).await;
    plain.job_href();

    // Pending job of the same command, but the key decides: the state rules answer.
    let keyed = app.release(SR_QUEUED, &token).idempotency_key(key).await;
    keyed.assert_conflict("Invalid program processing status");

    // A keyed resend makes a job; the same resend without a key does not find it.
    let resend_key = "resend-ap-otp-1";
    let first = app
        .resend_otp(P_OTP, AP_OTP, &token)
        .idempotency_key(resend_key)
        .await;
    let retry = app
        .resend_otp(P_OTP, AP_OTP, &token)
        .idempotency_key(resend_key)
        .await;
    let without_key = app.resend_otp(P_OTP, AP_OTP, &token).await;

    assert_eq!(retry.status, 202, "{:#}", retry.body);
    assert_eq!(
        retry.data(),
        first.data(),
        "the retry answers the first 202"
    );
    assert_ne!(without_key.job_href(), first.job_href());
    assert_eq!(app.log(SR_QUEUED).await.len(), 2);
    assert_eq!(app.log(AP_OTP).await.len(), 3);
    assert_eq!(app.job_count().await, 3);
    assert_eq!(
        app.count("SELECT count(*) FROM jobs WHERE dedup_key IS NULL")
            .await,
        1,
        "only the keyed request's job has no command key"
    );
}
