//! Hashing a commit's events into their aggregates' chains ([`super::hash`]), the same on both
//! backends: each backend only says how to read an event's predecessor ([`Predecessor`]).
//!
//! The chain is per aggregate, not global: an event's `prev_hash` is the hash of the same
//! aggregate's previous event, read with one primary-key lookup when the command does not already
//! know it. If another transaction appends to the same aggregate concurrently, one of the two
//! fails on the events' primary key and retries, so every chain stays linear.

use std::future::Future;

use chrono::{DateTime, Utc};
use cqrs_es::persist::SerializedEvent;
use ehealth_projections::StoredEvent;

use super::event_log::ChainHead;
use super::hash;

/// The chain fields of one event about to be appended.
pub(crate) struct Chained {
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Option<Vec<u8>>,
    pub hash: Vec<u8>,
}

/// The hash and time of an event, as its successor links to it.
pub(crate) type Link = (Option<Vec<u8>>, DateTime<Utc>);

/// Reads the hash and time of an aggregate's event `sequence` (the backend's query of
/// [`super::event_log::PREVIOUS`], on the append's connection).
pub(crate) trait Predecessor: Send {
    fn previous(
        &mut self,
        key: (&str, &str),
        sequence: i64,
    ) -> impl Future<Output = Result<Option<Link>, sqlx::Error>> + Send;
}

/// The newest event of an aggregate, as far as this commit knows.
struct Head<'a> {
    key: (&'a str, &'a str),
    head: ChainHead,
}

/// Hashes `events` into their aggregates' chains. The previous event of an aggregate is `known`
/// when the caller has it, else read through `predecessor`. `recorded_at` never goes back within
/// an aggregate (clocks of several instances may differ), so reading an entity `as_of` an instant
/// sees a prefix of its events.
pub(crate) async fn chain(
    predecessor: &mut impl Predecessor,
    events: &[SerializedEvent],
    known: Option<&ChainHead>,
) -> Result<Vec<Chained>, sqlx::Error> {
    let now = hash::now_micros();
    let mut heads: Vec<Head<'_>> = Vec::new();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let key = (e.aggregate_type.as_str(), e.aggregate_id.as_str());
        let sequence = e.sequence as i64;
        if !heads.iter().any(|h| h.key == key) {
            let first_of_commit = heads.is_empty();
            let previous = match known {
                Some(k) if first_of_commit && k.sequence == sequence - 1 => {
                    Some((k.hash.clone(), k.recorded_at))
                }
                _ if sequence > 1 => predecessor.previous(key, sequence - 1).await?,
                _ => None,
            };
            let (hash, recorded_at) = previous.unwrap_or((None, now));
            heads.push(Head {
                key,
                head: ChainHead {
                    sequence: sequence - 1,
                    hash,
                    recorded_at,
                },
            });
        }
        let Some(head) = heads.iter_mut().find(|h| h.key == key) else {
            continue;
        };
        // A missing predecessor leaves the chain unlinked here; `audit verify` reports the gap.
        let prev_hash = if head.head.sequence == sequence - 1 {
            head.head.hash.clone()
        } else {
            None
        };
        let recorded_at = now.max(head.head.recorded_at);
        let hash = hash::event_hash(
            prev_hash.as_deref(),
            &hash::HashedFields {
                aggregate_type: key.0,
                aggregate_id: key.1,
                sequence,
                event_type: &e.event_type,
                event_version: &e.event_version,
                payload: &e.payload,
                metadata: &e.metadata,
                recorded_at,
            },
        );
        head.head = ChainHead {
            sequence,
            hash: Some(hash.clone()),
            recorded_at,
        };
        out.push(Chained {
            recorded_at,
            prev_hash,
            hash,
        });
    }
    Ok(out)
}

/// The chain head after a commit whose last event is `last` and chained as `chained`.
pub(crate) fn head_after(last: i64, chained: &[Chained]) -> Option<ChainHead> {
    chained.last().map(|c| ChainHead {
        sequence: last,
        hash: Some(c.hash.clone()),
        recorded_at: c.recorded_at,
    })
}

/// The events as the projections see them, with their positions and chain times.
pub(crate) fn stored_events(
    events: &[SerializedEvent],
    chained: &[Chained],
    mut position: impl FnMut(&SerializedEvent) -> i64,
) -> Vec<StoredEvent> {
    events
        .iter()
        .zip(chained)
        .map(|(e, c)| StoredEvent {
            global_position: position(e),
            aggregate_type: e.aggregate_type.clone(),
            aggregate_id: e.aggregate_id.clone(),
            sequence: e.sequence as i64,
            event_type: e.event_type.clone(),
            payload: e.payload.clone(),
            metadata: e.metadata.clone(),
            recorded_at: c.recorded_at,
        })
        .collect()
}
