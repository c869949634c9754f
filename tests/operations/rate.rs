//! The rebuild rate: a measurement, not a check, so it is ignored by default. Run it with
//! a release build; `EHEALTH_REBUILD_EVENTS` sets the size of the log (default 100 000), and
//! `EHEALTH_TEST_BACKEND=sqlite` measures the SQLite backend:
//!
//! ```sh
//! cargo test --release --test operations rebuild_rate -- --ignored --nocapture
//! ```

use std::time::Instant;

use crate::support::service::{self, Pool};

use crate::generate;
use crate::process::run;
use crate::state::*;
use crate::support::{self, TestDb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run with --release --ignored --nocapture"]
async fn rebuild_rate_on_a_large_log() {
    let wanted: u64 = std::env::var("EHEALTH_REBUILD_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let url = TestDb::fresh().await;
    let db = service::connect(&url, 8).await;
    let started = Instant::now();
    let events = generate::generate(&db, wanted).await;
    println!(
        "generated {events} events through persist in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (average, checkpoint) = match service::pool(&db) {
        Pool::Postgres(_) => (
            "SELECT avg(octet_length(payload::text))::bigint FROM events",
            "CHECKPOINT",
        ),
        Pool::Sqlite(_) => (
            "SELECT CAST(avg(length(payload)) AS INTEGER) FROM events",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ),
    };
    let payload: i64 = scalar(&db, average).await;
    println!("average payload: {payload} bytes");
    support::execute(&db, checkpoint).await;

    let out = run(&["projections", "rebuild"], &url, 600).await;
    out.assert_success();
    print!("{}", out.stdout);
    assert_eq!(number_before(&out.stdout, "events in"), events);

    let out = run(&["projections", "verify"], &url, 600).await;
    out.assert_success();
    print!("{}", out.stdout);
}
