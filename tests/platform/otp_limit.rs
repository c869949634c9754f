//! The OTP service's initialisation limit (`EHEALTH_OTP_INIT_LIMIT`): inside the window a second
//! code for the same phone — whichever approval asks — is 429 `too many requests` with
//! `Retry-After`, and leaves nothing behind; the limit is held in the database, so it holds across
//! instances, and a resend refused after it claimed the phone gives the claim back.

use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::harness::*;
use crate::support::world::*;
use crate::support::{Options, Reply, TestApp};

/// The service with the OTP initialization limit set to `seconds`, and the doctor's token.
async fn app_with_limit(seconds: u64) -> (TestApp, String) {
    let app = spawn_configured(|args| args.otp_init_limit = seconds).await;
    let doctor = app.doctor_token();
    (app, doctor)
}

/// Asserts the OTP service's refusal and returns its `Retry-After` seconds.
#[track_caller]
fn assert_too_many_requests(reply: &Reply) -> u64 {
    reply.assert_error(429, "too_many_requests", "too many requests");
    reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After seconds in {:?}", reply.headers))
}

/// Resends and waits until the job is processed (the SMS sent).
async fn resend_done(app: &TestApp, token: &str, patient: Uuid, approval: Uuid) {
    let href = app.resend_otp(patient, approval, token).await.job_href();
    let job = app.wait_job(&href, token).await;
    assert_eq!(job.data()["status"], "processed", "{:#}", job.body);
}

/// Once the workers are idle: how many SMS were queued, and to which phones.
async fn sms_phones(app: &TestApp) -> Vec<String> {
    app.workers_idle().await;
    app.sms()
        .await
        .iter()
        .map(|s| s["phone_number"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn resend_events(app: &TestApp) -> impl std::future::Future<Output = i64> + '_ {
    app.count("SELECT count(*) FROM events WHERE event_type = 'ApprovalOtpResent'")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_resend_to_the_same_phone_within_the_window_answers_429_and_changes_nothing() {
    let (app, token) = app_with_limit(60).await;
    resend_done(&app, &token, P_OTP, AP_OTP).await;
    let salt = app.current("approvals", AP_OTP).await.unwrap()["document"]["record"]["otp"]["salt"]
        .clone();

    let second = app.resend_otp(P_OTP, AP_OTP, &token).await;

    let retry_after = assert_too_many_requests(&second);
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(app.log(AP_OTP).await.len(), 2);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 1);
    assert_eq!(sms_phones(&app).await, vec![PHONE_OTP.to_string()]);
    let current = app.current("approvals", AP_OTP).await.unwrap();
    assert_eq!(current["document"]["record"]["otp"]["salt"], salt);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvals_of_one_person_share_the_limit_of_its_phone() {
    let (app, token) = app_with_limit(60).await;
    resend_done(&app, &token, P_OTP, AP_OTP).await;

    let other_approval = app.resend_otp(P_OTP, AP_SR_1, &token).await;

    assert_too_many_requests(&other_approval);
    assert_eq!(app.log(AP_SR_1).await.len(), 1);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 1);
    assert_eq!(sms_phones(&app).await, vec![PHONE_OTP.to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_to_two_phones_do_not_limit_each_other() {
    let (app, token) = app_with_limit(60).await;

    resend_done(&app, &token, P_OTP, AP_OTP).await;
    resend_done(&app, &token, P_THIRD, AP_THIRD).await;

    let mut phones = sms_phones(&app).await;
    phones.sort();
    assert_eq!(
        phones,
        vec![PHONE_CONFIDANT.to_string(), PHONE_OTP.to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_window_the_phone_may_receive_a_new_code() {
    let (app, token) = app_with_limit(1).await;
    let started = Instant::now();
    resend_done(&app, &token, P_OTP, AP_OTP).await;
    let inside = app.resend_otp(P_OTP, AP_OTP, &token).await;
    assert_eq!(assert_too_many_requests(&inside), 1);

    // The window is time-based: wait for it by asking again (a refusal leaves nothing behind).
    let mut accepted = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while accepted.is_none() && Instant::now() < deadline {
        let reply = app.resend_otp(P_OTP, AP_OTP, &token).await;
        if reply.status == 202 {
            accepted = Some(reply.job_href());
        } else {
            assert_too_many_requests(&reply);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    let href = accepted.expect("a resend is accepted once the window is over");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    let job = app.wait_job(&href, &token).await;
    assert_eq!(job.data()["status"], "processed", "{:#}", job.body);
    assert_eq!(app.log(AP_OTP).await.len(), 3);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 2);
    assert_eq!(sms_phones(&app).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_limit_of_zero_lets_every_resend_through_and_records_nothing() {
    let (app, token) = app_with_limit(0).await;

    resend_done(&app, &token, P_OTP, AP_OTP).await;
    resend_done(&app, &token, P_OTP, AP_SR_1).await;

    assert_eq!(sms_phones(&app).await.len(), 2);
    assert_eq!(
        count(&app, "SELECT count(*) FROM otp_initializations").await,
        0
    );
}

/// The limit is the OTP service's own refusal: every rule of the spec answers before it, and the
/// ownership rule after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_the_window_the_spec_rules_answer_first_and_ownership_last() {
    let (app, token) = app_with_limit(60).await;
    resend_done(&app, &token, P_OTP, AP_OTP).await;
    let events = app.event_count().await;

    // Same phone (P_OTP's), but the approval is not new / not found.
    app.resend_otp(P_OTP, AP_ACTIVE, &token)
        .await
        .assert_conflict("Approval in status active can not be resent");
    app.patch(&resend(P_OTP, Uuid::new_v4()), Some(&token), None)
        .await
        .assert_error(404, "not_found", "Approval with such id is not found");
    // Another legal entity's approval to the same phone: the phone's 429 before ownership.
    assert_too_many_requests(&app.resend_otp(P_OTP, AP_OTHER_LE, &token).await);

    assert_eq!(app.event_count().await, events);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 1);
    assert_eq!(sms_phones(&app).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_holds_across_two_instances_on_one_database() {
    let (app, token) = app_with_limit(60).await;
    let other = app.another_instance(|args| args.otp_init_limit = 60).await;

    // Two approvals of one phone, one on each instance, at the same moment: one code only.
    let [here, there]: [Reply; 2] = app
        .concurrently(2, |i| match i {
            0 => app.resend_otp(P_OTP, AP_OTP, &token),
            _ => other.resend_otp(P_OTP, AP_SR_1, &token),
        })
        .await
        .try_into()
        .unwrap();
    let mut statuses = [here.status, there.status];
    statuses.sort();
    assert_eq!(statuses, [202, 429], "{here:#?}\n{there:#?}");
    let refused = if here.status == 429 { &here } else { &there };
    assert_too_many_requests(refused);
    // And the phone stays refused afterwards, on either instance and for either approval. (Asked
    // by a colleague: the same user's identical resend would be answered with its pending job.)
    let colleague = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    assert_too_many_requests(&other.resend_otp(P_OTP, AP_OTP, &colleague).await);
    assert_too_many_requests(&app.resend_otp(P_OTP, AP_SR_1, &colleague).await);

    assert_eq!(resend_events(&app).await, 1);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 1);
    let accepted = if here.status == 202 { &here } else { &there };
    let job = app.wait_job(&accepted.job_href(), &token).await;
    assert_eq!(job.data()["status"], "processed", "{:#}", job.body);
    assert_eq!(sms_phones(&app).await, vec![PHONE_OTP.to_string()]);
    other.stop().await;
}

/// A resend that claimed the phone and whose command was then refused gives the claim back. An
/// API-only instance holds AP_SR_1 as `new` in its state cache while the other revokes it (by a
/// recall): its resend passes the cached checks, claims the phone, and its command — run on the
/// current state — answers the status. The phone is free for the next code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_refused_after_claiming_the_phone_gives_the_claim_back() {
    let app = TestApp::spawn_configured(Options::default(), |args| args.otp_init_limit = 60).await;
    let stale = app
        .another_instance(|args| {
            args.otp_init_limit = 60;
            args.workers = false;
        })
        .await;
    let doctor = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    // The other legal entity's refused resend loads AP_SR_1 (new) into the stale instance's cache.
    let other = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);
    stale
        .resend_otp(P_OTP, AP_SR_1, &other)
        .await
        .assert_conflict("Approval belongs to another legal entity");
    let recall = app
        .recall(P_OTP, SR_ACTIVE, &recall_body(&app, "1").await, &doctor)
        .await
        .job_href();
    assert_eq!(app.wait_job(&recall, &doctor).await.status, 303);
    assert_eq!(
        app.current("approvals", AP_SR_1).await.unwrap()["status"],
        "cancelled"
    );

    let refused = stale.resend_otp(P_OTP, AP_SR_1, &doctor).await;

    refused.assert_conflict("Approval in status cancelled can not be resent");
    assert_eq!(
        count(&app, "SELECT count(*) FROM otp_initializations").await,
        0
    );
    // The phone was not initialised: the next code goes out at once.
    resend_done(&app, &doctor, P_OTP, AP_OTP).await;
    assert_eq!(resend_events(&app).await, 1);
    stale.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_same_idempotency_key_inside_the_window_gets_the_first_answer() {
    let (app, token) = app_with_limit(60).await;
    let key = "resend-limit-1";

    // Concurrent duplicates (a client retrying while the first is in flight), then a late retry.
    let mut hrefs: Vec<String> = app
        .concurrently(4, |_| {
            app.resend_otp(P_OTP, AP_OTP, &token).idempotency_key(key)
        })
        .await
        .iter()
        .map(Reply::job_href)
        .collect();
    hrefs.push(
        app.resend_otp(P_OTP, AP_OTP, &token)
            .idempotency_key(key)
            .await
            .job_href(),
    );

    hrefs.dedup();
    assert_eq!(hrefs.len(), 1, "{hrefs:#?}");
    let job = app.wait_job(&hrefs[0], &token).await;
    assert_eq!(job.data()["status"], "processed", "{:#}", job.body);
    assert_eq!(app.log(AP_OTP).await.len(), 2);
    assert_eq!(sms_phones(&app).await, vec![PHONE_OTP.to_string()]);
    // Without the key it is a new request, and the phone's window refuses it.
    assert_too_many_requests(&app.resend_otp(P_OTP, AP_OTP, &token).await);
}
