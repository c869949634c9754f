//! Operators' endpoints: liveness, readiness (database and feed lag) and Prometheus metrics.

use crate::harness::{spawn_configured, spawn_without_workers};
use crate::support::world::*;
use crate::support::{TestApp, PATIENCE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_answers_200_without_a_token() {
    let app = TestApp::spawn().await;
    let reply = app.get("/health/live", None).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.data()["status"], "ok");
    assert_eq!(reply.body["meta"]["code"], 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_answers_200_with_the_database_reachable_and_the_feed_caught_up() {
    let app = TestApp::spawn().await;
    // The imported world is processed by the worker within moments; readiness reads the lag in
    // the background, so it is asked until it shows the worker caught up.
    app.effects_idle().await;
    let mut reply = app.ready().await;
    let deadline = std::time::Instant::now() + PATIENCE;
    while reply.data()["feed_lag"] != 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        reply = app.ready().await;
    }
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.data()["status"], "ok");
    assert_eq!(reply.data()["database"], "ok");
    assert_eq!(reply.data()["feed_lag"], 0);
    assert_eq!(reply.data()["feed_lag_limit"], 10_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_answers_503_when_the_worker_is_further_behind_than_allowed() {
    // No workers, and a limit below the imported world's event count.
    let app = spawn_configured(|args| {
        args.workers = false;
        args.ready_max_lag = 5;
    })
    .await;
    let reply = app.get("/health/ready", None).await;
    assert_eq!(reply.status, 503, "{:#}", reply.body);
    assert_eq!(reply.data()["status"], "unavailable");
    assert_eq!(reply.data()["database"], "ok");
    assert!(
        reply.data()["feed_lag"].as_i64().unwrap() > 5,
        "{:#}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_template_and_status_and_commands_by_outcome() {
    let app = spawn_without_workers().await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    assert_eq!(app.release(SR_QUEUED, &token).await.status, 202);
    // A colleague's release is refused by the state (the same user's, while its job is pending,
    // would be answered with that job).
    let colleague = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    assert_eq!(app.release(SR_QUEUED, &colleague).await.status, 409);
    assert_eq!(app.release(SR_PPS_NEW, &token).await.status, 409);

    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    // The database's gauges are refreshed in the background every two seconds (so that /metrics
    // never waits on the database): wait for the first refresh after the release.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut text = response.text().await.unwrap();
    while !text.lines().any(|l| l == "ehealth_jobs_pending 1")
        && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        text = app.metrics().await;
    }
    let route = "/api/service_requests/{id}/actions/release";
    for line in [
        format!(
            "ehealth_http_requests_total{{method=\"PATCH\",route=\"{route}\",status=\"202\"}} 1"
        ),
        format!(
            "ehealth_http_requests_total{{method=\"PATCH\",route=\"{route}\",status=\"409\"}} 2"
        ),
        "ehealth_commands_total{aggregate=\"ServiceRequest\",outcome=\"committed\"} 1".to_string(),
        "ehealth_commands_total{aggregate=\"ServiceRequest\",outcome=\"rejected\"} 2".to_string(),
        // Without workers the release's job stays pending.
        "ehealth_jobs_pending 1".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in\n{text}"
        );
    }
    assert!(text.contains(&format!(
        "ehealth_http_request_duration_seconds_count{{method=\"PATCH\",route=\"{route}\"}} 3"
    )));
    let lag: i64 = text
        .lines()
        .find_map(|l| l.strip_prefix("ehealth_feed_lag_events "))
        .expect("feed lag gauge")
        .parse()
        .unwrap();
    assert!(lag > 0, "no worker runs, so the feed lags: {lag}");
    // Ids never become labels.
    assert!(!text.contains(&SR_QUEUED.to_string()));
}
