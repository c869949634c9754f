//! Crash safety of the real process: a 202 means the change is committed, and the work behind it
//! (finishing the job, sending the SMS) is done exactly once after a restart, however the process
//! died — a resent code that a later resend replaced before it went out is superseded, never sent.
//! Also a graceful stop on SIGTERM/SIGINT.

use std::time::Duration;

use serde_json::{json, Value};
use uuid::Uuid;

use crate::process::*;
use crate::support::service::{self, Db};
use crate::support::world::*;
use crate::support::{eventually, workers_idle};

/// What the crash tests start from: the fixture world imported by the binary into a database of
/// its own, a pool to read it, the media folder every server on it shares, and the doctor's token.
struct Site {
    url: crate::support::TestDb,
    pool: Db,
    media: tempfile::TempDir,
    token: String,
}

impl Site {
    async fn new() -> Site {
        let url = imported_world().await;
        Site {
            pool: pool(&url).await,
            url,
            media: tempfile::tempdir().unwrap(),
            token: cli_token(U_DOCTOR, LE_MAIN, ALL_SCOPES).await,
        }
    }

    /// A `serve` process on the site, with or without workers, once it listens.
    async fn server(&self, workers: bool) -> Server {
        Server::start(&self.url, self.media.path(), workers).await
    }
}

async fn events_of(pool: &Db, id: Uuid, event_type: &str) -> Vec<Value> {
    json_rows(
        pool,
        &format!(
            "SELECT sequence, global_position, metadata FROM events \
             WHERE aggregate_id = '{id}' AND event_type = '{event_type}' ORDER BY sequence"
        ),
    )
    .await
}

async fn job_status(pool: &Db, href: &str) -> String {
    let id = href.rsplit('/').next().unwrap();
    assert!(
        id.bytes().all(|b| b.is_ascii_alphanumeric()),
        "a job id: {id}"
    );
    let mut status =
        crate::support::strings(pool, &format!("SELECT status FROM jobs WHERE id = '{id}'")).await;
    assert_eq!(status.len(), 1, "the job row exists");
    status.remove(0)
}

async fn sms(pool: &Db) -> Vec<Value> {
    json_rows(
        pool,
        "SELECT kind, phone_number, status, source_position, attempts, \
         CASE WHEN delivered_text IS NULL THEN 0 ELSE 1 END AS recorded \
         FROM sms_outbox ORDER BY source_position",
    )
    .await
}

/// Waits (at most 30 s) until `n` SMS are sent, then until the workers are idle (every event
/// processed, no SMS or job pending), so that a duplicate would show.
async fn settled_sms(pool: &Db, n: usize) -> Vec<Value> {
    let sent = eventually(Duration::from_secs(30), || async {
        sms(pool)
            .await
            .iter()
            .filter(|s| s["status"] == "sent")
            .count()
            >= n
    })
    .await;
    assert!(sent, "{n} SMS were not sent: {:#?}", sms(pool).await);
    workers_idle(pool).await;
    sms(pool).await
}

/// Every accepted resend of AP_OTP settled exactly once: one outbox row per resend event, in order,
/// `sent` with its job processed or — when a later resend's code replaced it before it went out —
/// `superseded` with its job failed; the last code is always sent.
async fn assert_each_resend_settled_once(server: &Server, pool: &Db, token: &str, jobs: &[String]) {
    let mut job_statuses = Vec::new();
    for job in jobs {
        let reply = server.wait_job(job, token).await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        job_statuses.push(
            reply.data()["status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    let resent = events_of(pool, AP_OTP, "ApprovalOtpResent").await;
    assert_eq!(resent.len(), jobs.len());
    // Every event processed and every SMS settled, so that a duplicate would show.
    workers_idle(pool).await;
    let settled = sms(pool).await;
    let positions: Vec<&Value> = settled.iter().map(|s| &s["source_position"]).collect();
    let expected: Vec<&Value> = resent.iter().map(|e| &e["global_position"]).collect();
    assert_eq!(
        positions, expected,
        "one SMS per resend event: {settled:#?}"
    );
    for (row, job) in settled.iter().zip(&job_statuses) {
        let pair = (row["status"].as_str().unwrap_or_default(), job.as_str());
        assert!(
            matches!(pair, ("sent", "processed") | ("superseded", "failed")),
            "{pair:?} in {settled:#?}"
        );
    }
    assert_eq!(settled.last().map(|s| &s["status"]), Some(&json!("sent")));
}

async fn checkpoint_reaches_the_last_event(pool: &Db) -> bool {
    eventually(Duration::from_secs(30), || async {
        let last = scalar(pool, "SELECT max(global_position) FROM events").await;
        let at = scalar(
            pool,
            "SELECT coalesce((SELECT last_position FROM subscriber_checkpoints WHERE name = 'effects'), 0)",
        )
        .await;
        at == last
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_accepted_by_a_killed_api_only_node_is_done_exactly_once_by_the_restarted_node() {
    let site = Site::new().await;
    let (pool, token) = (&site.pool, &site.token);

    let mut api_only = site.server(false).await;
    let resend_job = api_only.resend_otp(P_OTP, AP_OTP, token).await.job_href();
    let release_job = api_only.release(SR_QUEUED, token).await.job_href();
    let stop_job = api_only
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, token)
        .await
        .job_href();
    api_only.crash();

    // Acknowledged means committed: the events and pending jobs are there, nothing was sent.
    let resent = events_of(pool, AP_OTP, "ApprovalOtpResent").await;
    assert_eq!(resent.len(), 1);
    assert_eq!(resent[0]["sequence"], 2);
    assert_eq!(
        resent[0]["metadata"]["job_id"],
        resend_job.rsplit('/').next().unwrap()
    );
    assert_eq!(
        events_of(pool, SR_QUEUED, "ServiceRequestReleased")
            .await
            .len(),
        1
    );
    assert_eq!(
        events_of(pool, DD_IN_PROGRESS, "DeviceDispenseStopped")
            .await
            .len(),
        1
    );
    for job in [&resend_job, &release_job, &stop_job] {
        assert_eq!(job_status(pool, job).await, "pending", "{job}");
    }
    assert!(sms(pool).await.is_empty());

    let worker = site.server(true).await;
    let reply = worker.wait_job(&resend_job, token).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.data()["status"], "processed");
    assert_eq!(reply.data()["response_data"], "");
    let reply = worker.wait_job(&release_job, token).await;
    assert_eq!(reply.status, 303, "{:#}", reply.body);
    assert_eq!(
        reply.headers["location"],
        format!("/api/patients/{P_OTP}/service_requests/{SR_QUEUED}").as_str()
    );
    let reply = worker.wait_job(&stop_job, token).await;
    assert_eq!(reply.status, 303, "{:#}", reply.body);

    let sent = settled_sms(pool, 1).await;
    assert_eq!(
        sent,
        vec![json!({
            "kind": "otp", "phone_number": PHONE_OTP, "status": "sent",
            "source_position": resent[0]["global_position"], "attempts": 1, "recorded": 1
        })]
    );
    assert!(checkpoint_reaches_the_last_event(pool).await);
    // Nothing was appended twice.
    assert_eq!(events_of(pool, AP_OTP, "ApprovalOtpResent").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_right_after_accepting_a_resend_sends_its_sms_exactly_once_after_a_restart() {
    let site = Site::new().await;
    let (pool, token) = (&site.pool, &site.token);

    let mut first = site.server(true).await;
    let accepted = first.resend_otp(P_OTP, AP_OTP, token).await;
    first.crash();
    let job = accepted.job_href();
    let resent = events_of(pool, AP_OTP, "ApprovalOtpResent").await;
    assert_eq!(resent.len(), 1, "the 202 was committed before the crash");

    let second = site.server(true).await;
    let reply = second.wait_job(&job, token).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.data()["status"], "processed");
    let sent = settled_sms(pool, 1).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0]["status"], "sent");
    assert_eq!(sent[0]["phone_number"], PHONE_OTP);
    assert_eq!(sent[0]["source_position"], resent[0]["global_position"]);
    assert!(checkpoint_reaches_the_last_event(pool).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_crashes_at_any_moment_leave_exactly_one_sms_per_accepted_resend() {
    let site = Site::new().await;
    let (pool, token) = (&site.pool, &site.token);

    let mut jobs = Vec::new();
    for round in 0..4u64 {
        // Each round's resend by another user: the same resend while the last one's job is still
        // pending would be answered with that job.
        let user = cli_token(Uuid::new_v4(), LE_MAIN, ALL_SCOPES).await;
        let mut server = site.server(true).await;
        jobs.push(server.resend_otp(P_OTP, AP_OTP, &user).await.job_href());
        // Kill at a different point of the work each round: at once, or a little later (the
        // moment of the crash is what varies; nothing is asserted after it).
        tokio::time::sleep(Duration::from_millis(round * 40)).await;
        server.crash();
    }
    let server = site.server(true).await;
    assert_each_resend_settled_once(&server, pool, token, &jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigint_stop_the_server_gracefully_with_exit_code_0() {
    let site = Site::new().await;
    let token = &site.token;
    for signal in ["TERM", "INT"] {
        let mut server = site.server(true).await;
        let reply = server.approval(P_OTP, AP_OTP, token).await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);

        server.signal(signal);
        let status = server
            .wait_exit(15)
            .await
            .unwrap_or_else(|| panic!("SIG{signal}: still running after 15 s"));
        assert_eq!(
            status.code(),
            Some(0),
            "SIG{signal}: {status}\nstderr: {}",
            server.stderr()
        );
        assert!(
            std::net::TcpStream::connect(&server.listen).is_err(),
            "SIG{signal}: the port is closed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigterm_while_work_is_pending_exits_0_and_the_next_node_finishes_it() {
    let site = Site::new().await;
    let (pool, token) = (&site.pool, &site.token);

    // Three users: the same resend while its job is pending would be answered with that job.
    let mut users = Vec::new();
    for _ in 0..3 {
        users.push(cli_token(Uuid::new_v4(), LE_MAIN, ALL_SCOPES).await);
    }
    let mut server = site.server(true).await;
    let mut jobs = Vec::new();
    for user in &users {
        jobs.push(server.resend_otp(P_OTP, AP_OTP, user).await.job_href());
    }
    server.signal("TERM");
    let status = server.wait_exit(15).await.expect("stops");
    assert_eq!(status.code(), Some(0), "{}", server.stderr());

    let next = site.server(true).await;
    assert_each_resend_settled_once(&next, pool, token, &jobs).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_an_invalid_sms_gateway_setting_exits_with_an_error() {
    let gateway = ("EHEALTH_SMS_GATEWAY", "carrier-pigeon");
    let (mut server, _db, _media) = Server::spawn_on_world(&[gateway]).await;
    let status = server
        .listening()
        .await
        .expect_err("a bad gateway setting must not serve");
    assert!(!status.success());
    assert!(
        server.stderr().contains("EHEALTH_SMS_GATEWAY"),
        "{}",
        server.stderr()
    );
}

/// A set-but-empty secret is a configuration mistake; serving with it lets anyone forge tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_an_empty_jwt_secret_refuses_to_start() {
    let (mut server, _db, _media) = Server::spawn_on_world(&[("EHEALTH_JWT_SECRET", "")]).await;
    if server.listening().await.is_ok() {
        let forged = service::mint(b"", U_DOCTOR, LE_MAIN, ALL_SCOPES, 600);
        let reply = server.approval(P_OTP, AP_OTP, &forged).await;
        panic!(
            "serve started with an empty JWT secret; a token signed with the empty key got {}",
            reply.status
        );
    }
}
