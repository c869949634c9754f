//! Our `EventStore` for cqrs-es: an in-process cache of entity states in front of the event log,
//! validated by the events' primary key (the crate's own snapshot modes corrupt state).
//!
//! - **Loads** replay the entity's events, and (on PostgreSQL) read the newest one's hash and time
//!   with them (the chain head the next append builds on). The state is then kept in a bounded LRU cache, so the
//!   next command on the same entity reads nothing: a long stream (an approval whose OTP was resent
//!   many times) is replayed once per process, not once per command.
//! - **A cached state is never trusted blindly**: it is the state after its event `sequence`, and
//!   the append writes the next sequences under the events' primary key. If another instance
//!   appended meanwhile, the append fails with a conflict, the entry is dropped, and the retry
//!   replays the log. A failed append of any kind drops the entry too.
//! - **Commits** hand the state before the command to the projections (no projection row is read
//!   back) and the chain head to the hash chain (no event is read back), so on PostgreSQL a
//!   command is one read on a cache miss and one append statement.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use cqrs_es::persist::SerializedEvent;
use cqrs_es::{Aggregate, AggregateContext, AggregateError, EventEnvelope, EventStore};
use lru::LruCache;
use uuid::Uuid;

use super::event_log::{ChainHead, Seed};
use super::EventRepository;

/// Entity states kept per aggregate type. A state is a few kilobytes at most, so the caches
/// stay within tens of megabytes.
pub const CACHED_STATES: usize = 4_096;

/// A loaded entity: its state, the state it was loaded with (for the projections), its last
/// sequence and chain head.
pub struct Loaded<A: Aggregate> {
    id: String,
    aggregate: A,
    before: A,
    sequence: usize,
    head: Option<ChainHead>,
}

impl<A: Aggregate> AggregateContext<A> for Loaded<A> {
    fn aggregate(&mut self) -> &mut A {
        &mut self.aggregate
    }
}

struct Cached<A> {
    state: A,
    sequence: usize,
    head: Option<ChainHead>,
}

/// The event store of one aggregate type.
pub struct CachedEventStore<A: Aggregate> {
    repo: EventRepository,
    /// Shared with the bus's handle on the same type ([`sharing_cache`](Self::sharing_cache)).
    cache: Arc<Mutex<LruCache<String, Cached<A>>>>,
}

impl<A: Aggregate + Clone + 'static> CachedEventStore<A> {
    pub fn new(repo: EventRepository, capacity: usize) -> Self {
        Self {
            repo,
            cache: Arc::new(Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            ))),
        }
    }

    /// Another store over the same cache: what one loads or commits, the other sees.
    pub fn sharing_cache(&self, repo: EventRepository) -> Self {
        Self {
            repo,
            cache: self.cache.clone(),
        }
    }

    /// An entity's state for a handler's checks before its command. `cached` allows a state
    /// this process already holds (exact for what it wrote itself; another instance's newer
    /// events are not in it, so only attributes fixed at creation may be read from it);
    /// otherwise the log is read. A state read from the log is kept, so the command that
    /// follows does not read it again (its append is checked by the events' primary key as for
    /// any cached state).
    pub async fn current(&self, id: &str, cached: bool) -> Result<A, AggregateError<A::Error>> {
        if cached {
            if let Some(hit) = self.cache().get(id) {
                return Ok(hit.state.clone());
            }
        }
        let loaded = self.replay(id).await?;
        if loaded.sequence > 0 {
            let mut cache = self.cache();
            // A command that committed meanwhile left a newer state: keep that one.
            if cache.peek(id).is_none_or(|c| c.sequence < loaded.sequence) {
                cache.put(
                    id.to_string(),
                    Cached {
                        state: loaded.aggregate.clone(),
                        sequence: loaded.sequence,
                        head: loaded.head.clone(),
                    },
                );
            }
        }
        Ok(loaded.aggregate)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, LruCache<String, Cached<A>>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets an entity's state (tests, and after a failed append).
    pub fn forget(&self, id: &str) {
        self.cache().pop(id);
    }

    /// Replays an entity from the log, with its chain head where the backend gives it.
    async fn replay(&self, id: &str) -> Result<Loaded<A>, AggregateError<A::Error>> {
        let mut loaded = Loaded {
            id: id.to_string(),
            aggregate: A::default(),
            before: A::default(),
            sequence: 0,
            head: None,
        };
        let replayed = self.repo.load(A::TYPE, id).await?;
        for event in replayed.events {
            let envelope = EventEnvelope::<A>::try_from(event)?;
            loaded.aggregate.apply(envelope.payload);
            loaded.sequence = envelope.sequence;
        }
        loaded.head = replayed.head;
        loaded.before = loaded.aggregate.clone();
        Ok(loaded)
    }
}

impl<A: Aggregate + Clone + 'static> EventStore<A> for CachedEventStore<A> {
    type AC = Loaded<A>;

    async fn load_events(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let replayed = self.repo.load(A::TYPE, aggregate_id).await?;
        replayed
            .events
            .into_iter()
            .map(|event| Ok(EventEnvelope::try_from(event)?))
            .collect()
    }

    async fn load_aggregate(
        &self,
        aggregate_id: &str,
    ) -> Result<Loaded<A>, AggregateError<A::Error>> {
        if let Some(cached) = self.cache().get(aggregate_id) {
            return Ok(Loaded {
                id: aggregate_id.to_string(),
                aggregate: cached.state.clone(),
                before: cached.state.clone(),
                sequence: cached.sequence,
                head: cached.head.clone(),
            });
        }
        self.replay(aggregate_id).await
    }

    async fn commit(
        &self,
        events: Vec<A::Event>,
        context: Loaded<A>,
        metadata: HashMap<String, String>,
    ) -> Result<Vec<EventEnvelope<A>>, AggregateError<A::Error>> {
        let Loaded {
            id,
            aggregate,
            before,
            sequence,
            head,
        } = context;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let envelopes: Vec<EventEnvelope<A>> = events
            .into_iter()
            .enumerate()
            .map(|(i, payload)| EventEnvelope {
                aggregate_id: id.clone(),
                sequence: sequence + i + 1,
                payload,
                metadata: metadata.clone(),
            })
            .collect();
        let serialized = envelopes
            .iter()
            .map(SerializedEvent::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let entity = Uuid::parse_str(&id).ok();
        let seed = entity.map(|entity| Seed {
            fold: Box::new(move |fold: &mut ehealth_projections::Fold| {
                fold.seed(entity, sequence as i64, before)
            }),
            head,
        });
        match self.repo.append(&serialized, seed).await {
            Ok(new_head) => {
                self.cache().put(
                    id,
                    Cached {
                        state: aggregate,
                        sequence: sequence + envelopes.len(),
                        head: new_head,
                    },
                );
                Ok(envelopes)
            }
            Err(err) => {
                self.forget(&id);
                Err(err.into())
            }
        }
    }
}
