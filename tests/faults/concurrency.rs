//! N concurrent conflicting actions on one entity change it exactly once; every other request gets
//! the spec's answer for the state the winner left (never a 500 or a generic conflict) — or, when
//! it is the winner's very command (same user, legal entity and parameters) and the winner's job
//! is still pending, that job. Release is covered in tests/platform/concurrency.rs; these are
//! stop, reject and recall.

use uuid::Uuid;

use crate::support::world::*;
use crate::support::{Reply, TestApp};

const CLIENTS: usize = 16;

/// Exactly one reply has `winner` status; all others are the rule's 409 with `message`.
#[track_caller]
fn assert_one_winner(replies: &[Reply], winner: u16, message: &str) {
    let won = replies.iter().filter(|r| r.status == winner).count();
    assert_eq!(won, 1, "exactly one {winner}: {replies:#?}");
    for reply in replies.iter().filter(|r| r.status != winner) {
        reply.assert_conflict(message);
    }
}

/// Exactly one 202; every other reply is the rule's 409 with `message`, or 200 with the 202's job
/// (the same command while that job was pending).
#[track_caller]
fn assert_one_job(replies: &[Reply], message: &str) {
    let accepted: Vec<&Reply> = replies.iter().filter(|r| r.status == 202).collect();
    assert_eq!(accepted.len(), 1, "exactly one 202: {replies:#?}");
    let href = accepted[0].job_href();
    for reply in replies.iter().filter(|r| r.status != 202) {
        if reply.status == 200 {
            assert_eq!(reply.data()["links"][0]["href"], href, "{:#}", reply.body);
        } else {
            reply.assert_conflict(message);
        }
    }
}

async fn events_of_type(app: &TestApp, id: Uuid, event_type: &str) -> usize {
    app.log(id)
        .await
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_stops_of_one_dispense_commit_exactly_one_and_refuse_the_rest_with_409()
{
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;

    // Sixteen users: sixteen different commands.
    let users: Vec<String> = (0..CLIENTS)
        .map(|_| app.token(Uuid::new_v4(), LE_MAIN, ALL_SCOPES))
        .collect();
    let replies = app
        .concurrently(CLIENTS, |i| {
            app.stop_device_dispense(P_OTP, DD_IN_PROGRESS, &users[i])
        })
        .await;

    assert_one_winner(
        &replies,
        202,
        "Device dispense in status stopped cannot be stopped",
    );
    assert_eq!(
        events_of_type(&app, DD_IN_PROGRESS, "DeviceDispenseStopped").await,
        1
    );
    assert_eq!(app.job_count().await, 1);
    let href = replies.iter().find(|r| r.status == 202).unwrap().job_href();
    let job = app.wait_job(&href, &token).await;
    assert_eq!(job.status, 303, "{:#}", job.body);
    assert_eq!(
        app.current("device_dispenses", DD_IN_PROGRESS)
            .await
            .unwrap()["status"],
        "stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_rejects_of_one_merge_request_commit_exactly_one_and_refuse_the_rest_with_409(
) {
    let (app, token) = TestApp::spawn_for(U_SPECIALIST, LE_MAIN).await;

    let replies = app
        .concurrently(CLIENTS, |_| app.reject_merge_request(MR_NEW, &token))
        .await;

    assert_one_winner(&replies, 200, "Invalid merge request status");
    let winner = replies.iter().find(|r| r.status == 200).unwrap();
    assert_eq!(winner.data()["status"], "REJECTED");
    assert_eq!(
        events_of_type(&app, MR_NEW, "MergeRequestRejected").await,
        1
    );
    assert_eq!(app.feed(MR_NEW).await.len(), 1, "one status change");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_recalls_of_one_service_request_commit_exactly_one_revoke_once_and_send_one_sms(
) {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let body = app.doctor_recall_body(P_OTP, SR_ACTIVE, "1").await;

    let replies = app
        .concurrently(CLIENTS, |_| app.recall(P_OTP, SR_ACTIVE, &body, &token))
        .await;

    assert_one_job(
        &replies,
        "Service request in status recalled cannot be recalled",
    );
    assert_eq!(
        events_of_type(&app, SR_ACTIVE, "ServiceRequestRecalled").await,
        1
    );
    let href = replies.iter().find(|r| r.status == 202).unwrap().job_href();
    let job = app.wait_job(&href, &token).await;
    assert_eq!(job.status, 303, "{:#}", job.body);
    // The one recall's effects ran once: each open approval revoked once, one SMS.
    for approval in [AP_SR_1, AP_SR_2] {
        assert_eq!(events_of_type(&app, approval, "ApprovalRevoked").await, 1);
    }
    let sms = app.settled_sms(1).await;
    assert_eq!(sms.len(), 1, "{sms:#?}");
    assert_eq!(sms[0]["kind"], "service_request_recalled");
}
