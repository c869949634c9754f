//! Storage: one interface per concern, each a trait with one method per operation, implemented
//! side by side for PostgreSQL ([`postgres`]) and SQLite ([`sqlite`]). The backend is chosen
//! once, when a [`Store`] is built from a [`Db`]; nothing else asks which backend it runs on.
//! Where a statement is the same text on both backends, it is one `const` in the concern's module;
//! where a whole implementation is the same but for how values are bound (history, jobs, reference
//! data, audit), it is written once there, by a macro that writes it for each backend's handle.
//!
//! | concern | interface | what it holds |
//! |---|---|---|
//! | event log | [`EventLog`] | an entity's events (replay), the append transaction |
//! | history | [`History`] | an entity's events for auditors: pages, up to a past point |
//! | feed | [`Feed`] | the ordered feed the effects worker follows, with its checkpoint |
//! | idempotency | [`Idempotency`] | commands processed under an Idempotency-Key |
//! | jobs | [`Jobs`] | async jobs as `GET /api/jobs/{id}` reads them |
//! | reference data | [`ReferenceData`] | the imported registries' copy |
//! | audit | [`Audit`] | hash-chain verification, the Event Manager's records (`status_changes`) |
//! | read models | [`ReadModels`] | an entity's stored state, lookups across entities |
//! | OTP limit | [`OtpClaims`] | the last code initialised per phone |
//! | SMS outbox | [`SmsOutbox`] | queued messages, claimed and marked one at a time |
//! | readiness | [`Probe`] | what `/health/ready` and the gauges read |
//! | operations | [`Operations`] | projections rebuild/verify, audit verify |
//!
//! Each interface is its own handle, so one may later be served by another pool (a replica for
//! the auditors' and analysts' reads) without touching its callers.

mod audit;
mod chain;
mod context;
mod event_log;
pub(crate) mod event_store;
mod feed;
pub mod hash;
#[cfg(feature = "histories")]
pub mod histories;
mod history;
mod idempotency;
mod jobs;
mod operations;
mod otp_limit;
pub mod postgres;
mod probe;
mod read_models;
mod reference;
mod repository;
mod sms_outbox;
mod sqlite;
mod status_changes;

use std::sync::Arc;
use std::time::Duration;

pub use audit::{Audit, AuditReport, Broken, Problem};
pub use context::{CommandContext, CommitOutcome, NewJob, COMMAND_CONTEXT};
pub use event_log::{
    Appended, ChainHead, DuplicateCommand, DuplicateJob, EventLog, OutcomeUnknown, Replayed, Seed,
};
pub use feed::{Effects, Feed, FeedBatch, FeedCursor, Recalled};
pub use history::{History, HistoryEvent, PointInTime};
pub use idempotency::{Idempotency, Processed};
pub use jobs::{JobEnd, JobLink, JobQuery, JobView, Jobs};
pub use operations::Operations;
pub use otp_limit::{LastClaim, OtpClaims};
pub use probe::Probe;
pub use read_models::{ListedRow, PageQuery, ReadModels};
pub use reference::{ReferenceData, ReferenceRow};
pub use repository::EventRepository;
pub use sms_outbox::{Due, DueSms, NewSms, SendOutcome, SmsOutbox};
pub use status_changes::{StatusChange, StatusChangeFilter};

use crate::db::Db;

/// Every storage interface over one database.
#[derive(Clone)]
pub struct Store {
    pub event_log: Arc<dyn EventLog>,
    pub history: Arc<dyn History>,
    pub feed: Arc<dyn Feed>,
    pub idempotency: Arc<dyn Idempotency>,
    pub jobs: Arc<dyn Jobs>,
    pub reference: Arc<dyn ReferenceData>,
    pub audit: Arc<dyn Audit>,
    pub read_models: Arc<dyn ReadModels>,
    pub otp_claims: Arc<dyn OtpClaims>,
    pub sms_outbox: Arc<dyn SmsOutbox>,
    pub probe: Arc<dyn Probe>,
    pub operations: Arc<dyn Operations>,
}

impl Store {
    /// The store of `db`, whose every append and replay is a statement of its own.
    pub fn new(db: &Db) -> Store {
        Self::build(db, None)
    }

    /// The store of `db` whose event log, on PostgreSQL, writes the appends of concurrent
    /// commands by one statement and reads their replays by one statement, each bounded by
    /// `deadline` (the command bus's: see `postgres::group_commit`, `postgres::group_read`).
    pub fn grouped(db: &Db, deadline: Duration) -> Store {
        Self::build(db, Some(deadline))
    }

    /// The one place the backend is chosen.
    fn build(db: &Db, grouped: Option<Duration>) -> Store {
        match db {
            Db::Postgres(pool) => postgres::store(pool, grouped),
            Db::Sqlite(lite) => sqlite::store(lite),
        }
    }
}
