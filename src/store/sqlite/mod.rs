//! The embedded SQLite backend: every storage interface over one database file
//! (`crate::db::sqlite` opens it). Writes queue on the process's write gate and run one at a
//! time (`BEGIN IMMEDIATE`); reads never wait (WAL).

mod audit;
mod event_log;
mod feed;
mod idempotency;
mod jobs;
mod operations;
mod otp_limit;
mod probe;
mod read_models;
mod reference;
mod sms_outbox;

use std::sync::Arc;

use super::{history, Store};
use crate::db::Lite;

/// Every interface over `lite`. Appends are never grouped: there is one writer at a time.
pub(super) fn store(lite: &Lite) -> Store {
    Store {
        event_log: Arc::new(event_log::SqliteEventLog::new(lite.clone())),
        history: Arc::new(history::SqliteHistory(lite.clone())),
        feed: Arc::new(feed::SqliteFeed(lite.clone())),
        idempotency: Arc::new(idempotency::SqliteIdempotency(lite.clone())),
        jobs: Arc::new(jobs::SqliteJobs(lite.clone())),
        reference: Arc::new(reference::SqliteReferenceData(lite.clone())),
        audit: Arc::new(audit::SqliteAudit(lite.clone())),
        read_models: Arc::new(read_models::SqliteReadModels(lite.clone())),
        otp_claims: Arc::new(otp_limit::SqliteOtpClaims(lite.clone())),
        sms_outbox: Arc::new(sms_outbox::SqliteSmsOutbox(lite.clone())),
        probe: Arc::new(probe::SqliteProbe(lite.clone())),
        operations: Arc::new(operations::SqliteOperations(lite.clone())),
    }
}
