//! A link between the service and PostgreSQL that stops carrying anything (half-open: a switch,
//! a failover, a paused VM), that is slow, or that is cut — through a TCP proxy the test controls
//! (`support::proxy`). Every request is answered within its deadline (503 with `Retry-After`
//! when the database does not answer), readiness says so and recovers, and nothing acknowledged is
//! lost or done twice.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::queued;
use crate::support::proxy::{Link, Proxy};
use crate::support::world::*;
use crate::support::{eventually, paths, TestApp};

/// One answer of the load: when it was sent, how long it took, its status, and what it released.
#[derive(Debug, Clone)]
struct Answer {
    sent: Instant,
    took: Duration,
    status: u16,
    released: Option<Uuid>,
    retry_after: bool,
}

/// Releases of distinct service requests by `clients` clients, and a read between each, until
/// `stop`; every answer recorded (a request the client gave up on as status 0).
async fn load(
    app: Arc<TestApp>,
    ids: Arc<Vec<Uuid>>,
    clients: usize,
    stop: Instant,
) -> Vec<Answer> {
    let next = AtomicUsize::new(0);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let per_client = app
        .concurrently(clients, |_| async {
            let mut answers = Vec::new();
            while Instant::now() < stop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&id) = ids.get(i) else { break };
                for (method, path) in [
                    ("PATCH", paths::release(id)),
                    ("GET", paths::service_request(P_OTP, SR_ACTIVE)),
                ] {
                    let sent = Instant::now();
                    let request = match method {
                        "PATCH" => client.patch(format!("{}{path}", app.base)),
                        _ => client.get(format!("{}{path}", app.base)),
                    };
                    let reply = request.bearer_auth(&token).send().await;
                    let took = sent.elapsed();
                    let (status, retry_after) = match &reply {
                        Ok(r) => (r.status().as_u16(), r.headers().contains_key("retry-after")),
                        Err(_) => (0, false),
                    };
                    answers.push(Answer {
                        sent,
                        took,
                        status,
                        released: (method == "PATCH").then_some(id),
                        retry_after,
                    });
                }
            }
            answers
        })
        .await;
    per_client.into_iter().flatten().collect()
}

/// `/health/ready`'s status every 200 ms until `stop`.
async fn readiness(app: Arc<TestApp>, stop: Instant) -> Vec<(Instant, u16)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut seen = Vec::new();
    while Instant::now() < stop {
        let at = Instant::now();
        let status = client
            .get(format!("{}/health/ready", app.base))
            .send()
            .await
            .map_or(0, |r| r.status().as_u16());
        seen.push((at, status));
        // The sampling interval of the probe (what is tested is its answer over time).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    seen
}

/// Every service request the load released: released once at most, and each 202 among them.
async fn assert_acknowledged_present_and_none_twice(app: &TestApp, answers: &[Answer]) {
    let releases: Vec<(String, i64)> = app
        .select(
            "SELECT aggregate_id, count(*) AS n FROM events \
             WHERE event_type = 'ServiceRequestReleased' GROUP BY aggregate_id",
        )
        .await
        .into_iter()
        .map(|row| {
            (
                row["aggregate_id"].as_str().unwrap().to_string(),
                row["n"].as_i64().unwrap(),
            )
        })
        .collect();
    for (id, n) in &releases {
        assert_eq!(*n, 1, "service request {id} released {n} times");
    }
    for answer in answers.iter().filter(|a| a.status == 202) {
        let id = answer.released.unwrap().to_string();
        assert!(
            releases.iter().any(|(r, _)| *r == id),
            "acknowledged release of {id} is not in the log"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_link_frozen_every_request_is_answered_within_its_deadline_and_nothing_acknowledged_is_lost(
) {
    crate::postgres_only!("a link between the service and a database server");
    let deadline = Duration::from_secs(2);
    let (app, proxy) = TestApp::spawn_behind_proxy(|args| args.request_timeout = deadline).await;
    let (file, ids) = queued(2_000);
    app.import(&file).await;
    let app = Arc::new(app);
    // EHEALTH_FREEZE_SECONDS lengthens the freeze (the operations guide's 30 s run).
    let frozen_for = std::env::var("EHEALTH_FREEZE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(8), Duration::from_secs);
    let started = Instant::now();
    let freeze_at = started + Duration::from_secs(2);
    let resume_at = freeze_at + frozen_for;
    let stop = resume_at + Duration::from_secs(4);
    let proxy = Arc::new(proxy);
    let faults = {
        let proxy: Arc<Proxy> = proxy.clone();
        tokio::spawn(async move {
            // The fault's schedule: frozen at `freeze_at`, back at `resume_at`.
            tokio::time::sleep_until(freeze_at.into()).await;
            proxy.freeze();
            tokio::time::sleep_until(resume_at.into()).await;
            proxy.resume();
        })
    };
    let (answers, ready) = tokio::join!(
        load(app.clone(), Arc::new(ids), 8, stop),
        readiness(app.clone(), stop + Duration::from_secs(4)),
    );
    faults.await.unwrap();

    // Every answer within the deadline and a small margin; never anything but 202, 200 or 503.
    let margin = Duration::from_millis(1500);
    let slowest = answers.iter().map(|a| a.took).max().unwrap();
    assert!(
        slowest <= deadline + margin,
        "slowest answer took {slowest:?}"
    );
    for a in &answers {
        assert!(matches!(a.status, 200 | 202 | 503), "answer {a:?}");
        if a.status == 503 {
            assert!(a.retry_after, "a 503 without Retry-After: {a:?}");
        }
    }
    let frozen = |a: &&Answer| a.sent >= freeze_at + deadline && a.sent + a.took <= resume_at;
    assert!(
        answers.iter().filter(frozen).all(|a| a.status == 503),
        "while the link is frozen nothing succeeds"
    );
    assert!(
        answers.iter().filter(frozen).count() > 0,
        "the load ran during the freeze"
    );
    // Readiness turns 503 during the freeze and back to 200 after it.
    assert!(
        ready
            .iter()
            .any(|(at, s)| *at > freeze_at && *at < resume_at && *s == 503),
        "readiness never said 503: {ready:?}"
    );
    let back = ready.iter().rev().take(3).all(|(_, s)| *s == 200);
    assert!(back, "readiness did not recover: {ready:?}");
    // The first success after the link returns comes within a second.
    let first = answers
        .iter()
        .filter(|a| a.status == 202 && a.sent >= resume_at)
        .map(|a| a.sent + a.took)
        .min()
        .expect("releases succeed after the link returns");
    assert!(
        first <= resume_at + Duration::from_secs(1),
        "first success {:?} after the link returned",
        first - resume_at
    );

    app.workers_idle().await;
    assert_acknowledged_present_and_none_twice(&app, &answers).await;
    let count = |status| answers.iter().filter(|a| a.status == status).count();
    eprintln!(
        "link frozen {frozen_for:?}: {} answers (202: {}, 200: {}, 503: {}), slowest {slowest:?}, \
         first success {:?} after the link returned, readiness 503 seen {} times",
        answers.len(),
        count(202),
        count(200),
        count(503),
        first - resume_at,
        ready.iter().filter(|(_, s)| *s == 503).count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_a_slow_link_nothing_fails_and_readiness_holds_under_a_burst_of_reads() {
    crate::postgres_only!("a link between the service and a database server");
    let (app, proxy) = TestApp::spawn_behind_proxy(|_| {}).await;
    let app = Arc::new(app);
    // Ready first (the probe's connections open and the lag gauge read, as after any start).
    assert!(
        eventually(Duration::from_secs(10), || async {
            app.ready().await.status == 200
        })
        .await,
        "never ready"
    );
    // 200 ms each way on every packet, as across a congested WAN.
    proxy.set(Link::Delayed(Duration::from_millis(200)));
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let stop = Instant::now() + Duration::from_secs(4);
    // 40 readers at once: more than the pool's connections, so requests queue for them.
    let (reads, ready) = tokio::join!(
        app.concurrently(40, |_| async {
            let mut statuses = Vec::new();
            while Instant::now() < stop {
                statuses.push(app.service_request(P_OTP, SR_ACTIVE, &token).await.status);
            }
            statuses
        }),
        readiness(app.clone(), stop)
    );
    let reads: Vec<u16> = reads.into_iter().flatten().collect();
    assert!(reads.iter().all(|s| *s == 200), "a read failed: {reads:?}");
    assert!(
        ready.iter().all(|(_, s)| *s == 200),
        "readiness flapped under the burst: {ready:?}"
    );
    proxy.resume();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cut_link_answers_503_at_once_and_the_service_reconnects_by_itself() {
    crate::postgres_only!("a link between the service and a database server");
    let deadline = Duration::from_secs(2);
    let (app, proxy) = TestApp::spawn_behind_proxy(|args| args.request_timeout = deadline).await;
    let (file, ids) = queued(20);
    app.import(&file).await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    assert_eq!(app.release(ids[0], &token).await.status, 202);

    // Every connection is cut, and new ones are refused while the link is frozen.
    proxy.freeze();
    proxy.cut();
    let sent = Instant::now();
    let reply = app.release(ids[1], &token).await;
    assert_eq!(reply.status, 503, "{:#}", reply.body);
    assert!(reply.headers.contains_key("retry-after"));
    assert!(
        reply
            .message()
            .starts_with("Service temporarily unavailable, please retry"),
        "{:#}",
        reply.body
    );
    assert!(
        sent.elapsed() < deadline + Duration::from_millis(1500),
        "{:?}",
        sent.elapsed()
    );

    // The link comes back: the next requests succeed on new connections.
    proxy.resume();
    let back = Instant::now();
    let mut released = 0;
    for id in &ids[2..] {
        let reply = app.release(*id, &token).await;
        if reply.status == 202 {
            released += 1;
            break;
        }
        assert!(back.elapsed() < Duration::from_secs(10), "{:#}", reply.body);
    }
    assert_eq!(released, 1);
    app.workers_idle().await;
}
