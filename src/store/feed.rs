//! The ordered feed over the event log, which the effects worker follows from a checkpoint of
//! its own (`subscriber_checkpoints`). A pass reads a batch past the checkpoint and commits what
//! it did about it (the SMS it queued, the jobs it finished) together with the checkpoint moved
//! past it, so after a crash the work is redone exactly once.
//!
//! On PostgreSQL a pass is one transaction holding the checkpoint's row lock (two instances never
//! process the same events at once), and the feed is ordered by transaction id, so an event that
//! commits late never appears behind a checkpoint ([`super::postgres::feed`]). On SQLite writes
//! are serialized, so positions commit in order; the batch is read and planned outside the single
//! write transaction, which commits only if no other pass moved the checkpoint meanwhile
//! ([`super::sqlite::feed`]).

use async_trait::async_trait;
use ehealth_projections::StoredEvent;
use uuid::Uuid;

use super::jobs::JobLink;
use super::sms_outbox::NewSms;

/// A position in the feed: the transaction id (PostgreSQL; 0 on SQLite) and the global position of
/// the last event read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FeedCursor {
    pub tx_id: u64,
    pub position: i64,
}

#[async_trait]
pub trait Feed: Send + Sync {
    /// A pass of `subscriber`: the next events past its checkpoint (at most `limit`); `None` when
    /// there are none.
    async fn next_batch(
        &self,
        subscriber: &'static str,
        limit: i64,
    ) -> Result<Option<Box<dyn FeedBatch>>, sqlx::Error>;

    /// How many events `subscriber` has not processed yet.
    async fn lag(&self, subscriber: &str) -> Result<i64, sqlx::Error>;
}

/// One pass over a batch of the feed.
#[async_trait]
pub trait FeedBatch: Send {
    fn events(&self) -> &[(FeedCursor, StoredEvent)];

    /// The stored states (JSON text) of the service requests `ids`, and `(approval, service
    /// request)` of the approvals in force made for them, in approval id order: what planning a
    /// recall reads.
    async fn recalled(&mut self, ids: &[Uuid]) -> Result<Recalled, sqlx::Error>;

    /// Writes `effects` and moves the checkpoint past the batch, together; whether an SMS was
    /// queued (the dispatcher is then woken). `None` when another pass moved the checkpoint first:
    /// nothing is written.
    async fn commit(self: Box<Self>, effects: &Effects) -> Result<Option<bool>, sqlx::Error>;
}

/// What planning a batch's recalls reads.
#[derive(Default)]
pub struct Recalled {
    pub documents: Vec<(Uuid, String)>,
    pub approvals_in_force: Vec<(Uuid, Uuid)>,
}

/// The effects of one batch, written together with its checkpoint.
#[derive(Default)]
pub struct Effects {
    /// Messages to queue in the outbox; `(kind, source_position)` makes each insert idempotent.
    pub sms: Vec<NewSms>,
    /// Jobs finished by their event, with a link to their entity.
    pub finished: Vec<JobLink>,
}
