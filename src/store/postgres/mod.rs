//! The PostgreSQL backend: every storage interface over a pool (`crate::db::postgres` opens it).
//! Appends and replays of the service's commands are grouped ([`group_commit`], [`group_read`]);
//! the feed is ordered by transaction id ([`feed`]).

mod audit;
mod event_log;
pub mod feed;
mod group_commit;
mod group_read;
mod held;
mod idempotency;
mod jobs;
mod operations;
mod otp_limit;
mod probe;
mod read_models;
mod reference;
mod sms_outbox;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use super::{history, Store};

pub(crate) use audit::backfill;

/// Every interface over `pool`; the event log grouped with `grouped` as its deadline, if given.
pub(super) fn store(pool: &PgPool, grouped: Option<Duration>) -> Store {
    let event_log = match grouped {
        Some(deadline) => event_log::PgEventLog::grouped(pool.clone(), deadline),
        None => event_log::PgEventLog::new(pool.clone()),
    };
    Store {
        event_log: Arc::new(event_log),
        history: Arc::new(history::PgHistory(pool.clone())),
        feed: Arc::new(feed::PgFeed(pool.clone())),
        idempotency: Arc::new(idempotency::PgIdempotency(pool.clone())),
        jobs: Arc::new(jobs::PgJobs(pool.clone())),
        reference: Arc::new(reference::PgReferenceData(pool.clone())),
        audit: Arc::new(audit::PgAudit(pool.clone())),
        read_models: Arc::new(read_models::PgReadModels(pool.clone())),
        otp_claims: Arc::new(otp_limit::PgOtpClaims(pool.clone())),
        sms_outbox: Arc::new(sms_outbox::PgSmsOutbox(pool.clone())),
        probe: Arc::new(probe::PgProbe(pool.clone())),
        operations: Arc::new(operations::PgOperations(pool.clone())),
    }
}

/// A fresh, migrated database on the test server (`EHEALTH_TEST_DATABASE_URL`, as the black-box
/// suites), named after `prefix`, with a pool of `connections`.
#[cfg(test)]
pub(crate) async fn test_database(prefix: &str, connections: u32) -> PgPool {
    use sqlx::{Connection, PgConnection};
    let admin = std::env::var("EHEALTH_TEST_DATABASE_URL").expect(
        "EHEALTH_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
    );
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin)
        .await
        .expect("admin connection");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create database");
    let (base, _) = admin.rsplit_once('/').expect("admin URL names a database");
    let pool = crate::db::connect(&format!("{base}/{name}"), connections)
        .await
        .expect("connect");
    crate::db::migrate(&pool).await.expect("migrate");
    pool
}
