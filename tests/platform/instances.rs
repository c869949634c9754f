//! Two instances of the service on one database, as a deployment runs several. Within one instance
//! the commands on an entity queue behind an in-process lock, so they never race to the store;
//! across instances nothing serialises them but the store itself. Here both instances have loaded
//! the entity and reach the append together (the event log is held until an append of each waits
//! on it): the optimistic-concurrency check on the events' primary key lets one commit, the other
//! conflicts and retries on the replayed log, and the rules answer for the state the winner left.
//! Afterwards the log is gapless and every projection agrees with it.

use serde_json::Value;
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{Call, Reply, TestApp};

const REQUESTS: usize = 8;

/// Tokens of `n` different users of LE_MAIN: different commands (the same command while its job
/// is pending would be answered with that job, tests/actions/dedup.rs).
fn users(app: &TestApp, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| app.token(Uuid::new_v4(), LE_MAIN, ALL_SCOPES))
        .collect()
}

/// Starts a second instance on `app`'s database and races `REQUESTS` commands by different users
/// through both, alternately, to the event log (see `TestApp::race_through`); answers the second
/// instance and the replies in order.
async fn race_through_two_instances<F>(app: &TestApp, request: F) -> (TestApp, Vec<Reply>)
where
    F: for<'a> Fn(&'a TestApp, &'a str) -> Call<'a>,
{
    let other = app.another_instance(|_| {}).await;
    let users = users(app, REQUESTS);
    let replies = app
        .race_through(2, REQUESTS, |i| {
            let instance = if i % 2 == 0 { app } else { &other };
            request(instance, &users[i])
        })
        .await;
    (other, replies)
}

/// The sum over `instances` of one counter of their `/metrics`.
async fn counted(instances: [&TestApp; 2], sample: &str) -> f64 {
    let mut total = 0.0;
    for instance in instances {
        total += instance.metric(sample).await;
    }
    total
}

/// The log holds, for every aggregate, sequences 1..=n without a gap or a repeat, and each
/// projection row's version is its aggregate's last sequence.
async fn assert_log_gapless_and_projections_agree(app: &TestApp) {
    let gaps = app
        .select(
            "SELECT aggregate_id, count(*) AS n, max(sequence) AS last FROM events \
             GROUP BY aggregate_id HAVING count(*) <> max(sequence) \
             OR count(DISTINCT sequence) <> count(*)",
        )
        .await;
    assert!(gaps.is_empty(), "sequences with gaps or repeats: {gaps:#?}");
    for (table, aggregate) in [
        ("service_requests", "ServiceRequest"),
        ("approvals", "Approval"),
    ] {
        let disagreeing = app
            .select(&format!(
                "SELECT e.aggregate_id, e.version, t.version AS row_version \
                 FROM (SELECT aggregate_id, max(sequence) AS version FROM events \
                       WHERE aggregate_type = '{aggregate}' GROUP BY aggregate_id) e \
                 LEFT JOIN {table} t ON t.id::text = e.aggregate_id \
                 WHERE t.version IS NULL OR t.version <> e.version"
            ))
            .await;
        assert!(disagreeing.is_empty(), "{table}: {disagreeing:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_releases_through_two_instances_commit_one_and_the_loser_retries_into_the_rules_409(
) {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;

    let (other, replies) =
        race_through_two_instances(&app, |instance, user| instance.release(SR_QUEUED, user)).await;

    let accepted: Vec<&Reply> = replies.iter().filter(|r| r.status == 202).collect();
    assert_eq!(accepted.len(), 1, "one release: {replies:#?}");
    for reply in replies.iter().filter(|r| r.status != 202) {
        reply.assert_conflict("Invalid program processing status");
    }
    // Both instances built on the imported state; one append lost and was retried once.
    let sample = "ehealth_command_conflict_retries_total{aggregate=\"ServiceRequest\"}";
    assert_eq!(counted([&app, &other], sample).await, 1.0);
    let committed = "ehealth_commands_total{aggregate=\"ServiceRequest\",outcome=\"committed\"}";
    assert_eq!(counted([&app, &other], committed).await, 1.0);
    let rejected = "ehealth_commands_total{aggregate=\"ServiceRequest\",outcome=\"rejected\"}";
    assert_eq!(
        counted([&app, &other], rejected).await,
        (REQUESTS - 1) as f64
    );

    let log = app.log(SR_QUEUED).await;
    let sequences: Vec<&Value> = log.iter().map(|e| &e["sequence"]).collect();
    assert_eq!(sequences, [1, 2], "{log:#?}");
    assert_eq!(log[1]["event_type"], "ServiceRequestReleased");
    let row = app.current("service_requests", SR_QUEUED).await.unwrap();
    assert_eq!(row["version"], 2, "{row:#}");
    assert_eq!(row["program_processing_status"], "new", "{row:#}");
    let released: Vec<Value> = app
        .status_history(SR_QUEUED)
        .await
        .into_iter()
        .filter(|h| h["sequence"] == 2)
        .collect();
    assert_eq!(released.len(), 1, "{released:#?}");
    assert_eq!(released[0]["attribute"], "program_processing_status");
    assert_eq!(released[0]["old_value"], "in_queue");
    assert_eq!(released[0]["new_value"], "new");
    assert_eq!(app.feed(SR_QUEUED).await.len(), 1);
    assert_eq!(app.job_count().await, 1);
    let job = app.wait_job(&accepted[0].job_href(), &token).await;
    assert_eq!(job.status, 303, "{:#}", job.body);
    app.workers_idle().await;
    assert_log_gapless_and_projections_agree(&app).await;
    // Either instance reads the one state the log implies.
    for instance in [&app, &other] {
        let shown = instance.service_request(P_OTP, SR_QUEUED, &token).await;
        assert_eq!(shown.ok()["program_processing_status"], "new");
    }
    other.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resends_through_two_instances_all_commit_through_retries_with_contiguous_sequences(
) {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;

    let (other, replies) = race_through_two_instances(&app, |instance, user| {
        instance.resend_otp(P_OTP, AP_OTP, user)
    })
    .await;

    // Every resend is a transition of its own: all are accepted, none is lost.
    for reply in &replies {
        assert_eq!(reply.status, 202, "{:#}", reply.body);
    }
    let sample = "ehealth_command_conflict_retries_total{aggregate=\"Approval\"}";
    let retries = counted([&app, &other], sample).await;
    assert!(retries >= 1.0, "no append lost the race: {retries} retries");
    eprintln!("{REQUESTS} resends through two instances: {retries} conflict retries");
    let committed = "ehealth_commands_total{aggregate=\"Approval\",outcome=\"committed\"}";
    assert_eq!(counted([&app, &other], committed).await, REQUESTS as f64);

    let log = app
        .assert_appended_in_order(AP_OTP, REQUESTS, "ApprovalOtpResent")
        .await;
    let row = app.current("approvals", AP_OTP).await.unwrap();
    assert_eq!(row["version"], REQUESTS as i64 + 1, "{row:#}");
    // The last committed challenge is the one the projection holds.
    assert_eq!(
        row["document"]["record"]["otp"]["salt"],
        log.last().unwrap()["payload"]["ApprovalOtpResent"]["salt"]
    );
    let mut hrefs: Vec<String> = replies.iter().map(Reply::job_href).collect();
    hrefs.sort();
    hrefs.dedup();
    assert_eq!(hrefs.len(), REQUESTS, "a job per resend");
    assert_eq!(app.job_count().await, REQUESTS as i64);
    for href in &hrefs {
        let job = app.wait_job(href, &token).await;
        assert_ne!(job.data()["status"], "pending", "{:#}", job.body);
    }
    app.workers_idle().await;
    let sms = app.sms().await;
    assert_eq!(sms.len(), REQUESTS, "one SMS per resend: {sms:#?}");
    assert_log_gapless_and_projections_agree(&app).await;
    other.stop().await;
}
