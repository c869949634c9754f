//! Concurrent commands on one entity of one instance: they queue behind the instance's entity lock,
//! so every request gets the answer of the state it really ran against — never a 500 or a generic
//! conflict. (Across instances nothing queues them: the optimistic-concurrency check and its
//! retries decide, tests/platform/instances.rs.) The commands are sent by different users of one
//! legal entity, so that they are different commands (the same command sent again while its job
//! is pending is answered with that job: tests/actions/dedup.rs).

use crate::harness::*;
use crate::support::world::*;
use crate::support::{Reply, TestApp};

/// Tokens of `n` different users of LE_MAIN.
fn users(app: &TestApp, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| app.token(uuid::Uuid::new_v4(), LE_MAIN, ALL_SCOPES))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_releases_commit_exactly_one_and_refuse_the_rest_with_409() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let users = users(&app, 16);
    let replies = app
        .concurrently(16, |i| app.release(SR_QUEUED, &users[i]))
        .await;

    let accepted: Vec<&Reply> = replies.iter().filter(|r| r.status == 202).collect();
    assert_eq!(accepted.len(), 1, "{replies:#?}");
    for reply in replies.iter().filter(|r| r.status != 202) {
        reply.assert_conflict("Invalid program processing status");
    }
    let events = app.log(SR_QUEUED).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[1]["event_type"], "ServiceRequestReleased");
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 1);
    assert_eq!(app.feed(SR_QUEUED).await.len(), 1);
    let job = app.wait_job(&accepted[0].job_href(), &token).await;
    assert_eq!(job.status, 303, "{:#}", job.body);
}

/// What every committed resend must leave behind, however many were refused: gapless sequences
/// from 2, one distinct salt, one job and one SMS per event — the SMS sent and its job processed,
/// unless a later code replaced it before it went out (superseded, its job failed); the last code
/// is always sent.
async fn assert_each_resend_left_one_event_one_job_and_one_sms(
    app: &TestApp,
    token: &str,
    accepted: &[&Reply],
) {
    let n = accepted.len();
    let mut hrefs: Vec<String> = accepted.iter().map(|r| r.job_href()).collect();
    hrefs.sort();
    hrefs.dedup();
    assert_eq!(hrefs.len(), n, "one job per resend");
    assert_eq!(count(app, "SELECT count(*) FROM jobs").await, n as i64);

    let events = app
        .assert_appended_in_order(AP_OTP, n, "ApprovalOtpResent")
        .await;
    let mut salts: Vec<&str> = events[1..]
        .iter()
        .map(|e| e["payload"]["ApprovalOtpResent"]["salt"].as_str().unwrap())
        .collect();
    salts.sort();
    salts.dedup();
    assert_eq!(salts.len(), n, "a new code each time");
    assert_eq!(
        app.current("approvals", AP_OTP).await.unwrap()["version"],
        n as i64 + 1
    );

    for href in &hrefs {
        let job = app.wait_job(href, token).await;
        assert_eq!(job.status, 200, "{:#}", job.body);
        assert_ne!(job.data()["status"], "pending", "{:#}", job.body);
    }
    let sms = app.sms().await;
    assert_eq!(sms.len(), n, "{sms:#?}");
    for message in &sms {
        let job = app
            .job_row(message["job_id"].as_str().expect("the SMS names its job"))
            .await;
        let pair = (message["status"].as_str(), job["status"].as_str());
        assert!(
            matches!(
                pair,
                (Some("sent"), Some("processed")) | (Some("superseded"), Some("failed"))
            ),
            "{pair:?}: {message:#} {job:#}"
        );
    }
    let last = sms
        .iter()
        .max_by_key(|s| s["source_position"].as_i64())
        .unwrap();
    assert_eq!(last["status"], "sent", "{sms:#?}");
    assert!(sms.iter().all(|s| s["phone_number"] == PHONE_OTP));
    let mut positions: Vec<i64> = sms
        .iter()
        .map(|s| s["source_position"].as_i64().unwrap())
        .collect();
    positions.sort();
    let mut event_positions: Vec<i64> = events[1..]
        .iter()
        .map(|e| e["global_position"].as_i64().unwrap())
        .collect();
    event_positions.sort();
    assert_eq!(positions, event_positions, "one SMS per resend event");
}

/// Sixteen resends of AP_OTP by different users, sent at once.
async fn sixteen_concurrent_resends(app: &TestApp) -> Vec<Reply> {
    let users = users(app, 16);
    app.concurrently(16, |i| app.resend_otp(P_OTP, AP_OTP, &users[i]))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resends_never_lose_nor_duplicate_an_event_a_job_or_an_sms() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let replies = sixteen_concurrent_resends(&app).await;
    for reply in replies.iter().filter(|r| r.status != 202) {
        // At worst the bounded retries run out: a conflict, never a 500.
        assert_eq!(reply.status, 409, "{:#}", reply.body);
        assert_eq!(reply.error_type(), "request_conflict");
    }
    let accepted: Vec<&Reply> = replies.iter().filter(|r| r.status == 202).collect();
    assert!(!accepted.is_empty());
    assert_each_resend_left_one_event_one_job_and_one_sms(&app, &token, &accepted).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_resends_all_commit_with_gapless_sequences_and_settle_sixteen_sms() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let replies = sixteen_concurrent_resends(&app).await;
    let refused: Vec<(u16, &str)> = replies
        .iter()
        .filter(|r| r.status != 202)
        .map(|r| (r.status, r.message()))
        .collect();
    assert!(
        refused.is_empty(),
        "{} of 16 resends refused: {refused:#?}",
        refused.len()
    );
    let accepted: Vec<&Reply> = replies.iter().collect();
    assert_each_resend_left_one_event_one_job_and_one_sms(&app, &token, &accepted).await;
}

/// Two instances on one database, taking turns: each one's cached state of the approval is
/// overtaken by the other's append (the handler's check reads the cache, so does the command), and
/// every resend still commits once, with the next sequence — the stale state is caught by the
/// events' primary key and the command replays the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_taking_turns_on_two_instances_never_build_on_a_stale_cached_state() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let other = app.another_instance(|_| {}).await;

    let mut replies = Vec::new();
    let mut tokens = users(&app, 4).into_iter();
    for _ in 0..2 {
        let token = tokens.next().unwrap();
        replies.push(app.resend_otp(P_OTP, AP_OTP, &token).await);
        let token = tokens.next().unwrap();
        replies.push(other.resend_otp(P_OTP, AP_OTP, &token).await);
    }
    for reply in &replies {
        assert_eq!(reply.status, 202, "{:#}", reply.body);
    }
    let accepted: Vec<&Reply> = replies.iter().collect();
    assert_each_resend_left_one_event_one_job_and_one_sms(&app, &token, &accepted).await;
    // The first instance's second resend started from its cached state (sequence 2) after the
    // other had appended 3: its append conflicted once and was retried on the replayed log.
    let metrics = app.metrics().await;
    let retries = "ehealth_command_conflict_retries_total{aggregate=\"Approval\"} 1";
    assert!(
        metrics.lines().any(|l| l == retries),
        "missing `{retries}` in\n{metrics}"
    );

    other.stop().await;
}
