//! The reference-data cache of one instance.
//!
//! Reference data changes rarely (an import, an operator's fix) and is read on every action, so
//! reads are cached. Correct invalidation comes from the database itself: the store watches for
//! changes (`ReferenceData::watch`: on PostgreSQL a listener of the notifications a trigger on
//! every reference table sends when a change commits) and empties the cache on each. The cache is
//! used only while something watches: when the watch stops (changes may be missed meanwhile), the
//! cache is emptied and bypassed until a new watch starts.
//!
//! A read that started before an invalidation must not put its older value into the emptied
//! cache: every invalidation moves a generation on, and a value is stored only if the generation
//! it was read in is still current.
//!
//! A value missing from the cache is read once however many requests want it at that moment: the
//! first reads it and the others wait for it at the key's gate. Without the gate, the first burst
//! after a start or an invalidation sent one identical query per request, each on a connection of
//! its own — the benchmark's 64 clients grew the pool by 60 connections at once, and each new
//! backend built its catalog caches while every request waited (≈ 160 ms).
//!
//! On SQLite nothing watches, so nothing is cached: its reads are in-process, and another process
//! (an import) could change the file without telling this one.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use super::{Employee, LegalEntity, PartyFacts, Person};

/// Entries per map before the map is emptied (a bound on memory, not an eviction policy: reference
/// data of one region fits many times over).
const MAX_ENTRIES: usize = 50_000;

/// The cached values of one kind, and the gates of the keys being read.
pub(super) struct Slot<K, V> {
    values: HashMap<K, V>,
    /// One gate per key whose value is being read: whoever holds it reads, the others wait.
    loading: HashMap<K, Arc<tokio::sync::Mutex<()>>>,
}

impl<K, V> Default for Slot<K, V> {
    fn default() -> Self {
        Self {
            values: HashMap::new(),
            loading: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash, V> Slot<K, V> {
    /// Forgets the key's gate once nobody but the slot holds it.
    fn release(&mut self, key: &K, gate: Arc<tokio::sync::Mutex<()>>) {
        drop(gate);
        if self
            .loading
            .get(key)
            .is_some_and(|g| Arc::strong_count(g) == 1)
        {
            self.loading.remove(key);
        }
    }
}

#[derive(Default)]
pub(super) struct Maps {
    pub legal_entities: Slot<Uuid, Option<LegalEntity>>,
    pub allowed_types: Slot<(), Vec<String>>,
    pub dictionaries: Slot<String, Vec<String>>,
    pub user_employees: Slot<(Uuid, Uuid), Vec<Employee>>,
    pub tax_ids: Slot<Uuid, Option<String>>,
    pub employee_legal_entities: Slot<Uuid, Option<Uuid>>,
    pub persons: Slot<Uuid, Option<Person>>,
    pub user_parties: Slot<Uuid, Option<PartyFacts>>,
}

#[derive(Default)]
struct Inner {
    /// Whether something watches for changes (only then is anything cached).
    listening: bool,
    generation: u64,
    maps: Maps,
}

/// The cache shared by every clone of one instance's `Reference`.
#[derive(Default, Clone)]
pub struct Cache {
    inner: Arc<Mutex<Inner>>,
}

pub(super) type Pick<K, V> = fn(&mut Maps) -> &mut Slot<K, V>;

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached value of `key`, else `load`'s, which is kept if no change was announced
    /// meanwhile. Concurrent misses of one key wait for one read.
    pub(super) async fn get<K, V, Fut>(
        &self,
        pick: Pick<K, V>,
        key: K,
        load: impl FnOnce() -> Fut,
    ) -> Result<V, sqlx::Error>
    where
        K: Eq + Hash + Clone,
        V: Clone,
        Fut: Future<Output = Result<V, sqlx::Error>>,
    {
        let gate = {
            let mut inner = self.lock();
            let listening = inner.listening;
            let slot = pick(&mut inner.maps);
            match slot.values.get(&key) {
                Some(hit) => return Ok(hit.clone()),
                // Nothing is cached, so there is nothing to wait for.
                None if !listening => None,
                None => Some(slot.loading.entry(key.clone()).or_default().clone()),
            }
        };
        let Some(gate) = gate else {
            return load().await;
        };
        let turn = gate.lock().await;
        // Whoever held the gate before may have read the value.
        let generation = {
            let mut inner = self.lock();
            let generation = inner.generation;
            let slot = pick(&mut inner.maps);
            if let Some(hit) = slot.values.get(&key).cloned() {
                drop(turn);
                slot.release(&key, gate);
                return Ok(hit);
            }
            generation
        };
        let value = load().await;
        let mut inner = self.lock();
        let keep = inner.listening && inner.generation == generation;
        let slot = pick(&mut inner.maps);
        drop(turn);
        slot.release(&key, gate);
        if let (true, Ok(value)) = (keep, &value) {
            if slot.values.len() >= MAX_ENTRIES {
                slot.values.clear();
            }
            slot.values.insert(key, value.clone());
        }
        value
    }

    /// Drops everything cached; `listening` says whether caching may go on (something watches
    /// for changes).
    pub fn invalidate(&self, listening: bool) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.listening = listening;
        inner.maps = Maps::default();
    }

    #[cfg(test)]
    fn cached_legal_entities(&self) -> usize {
        self.lock().maps.legal_entities.values.len()
    }

    #[cfg(test)]
    fn legal_entity_gates(&self) -> usize {
        self.lock().maps.legal_entities.loading.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn le(status: &str) -> Option<LegalEntity> {
        Some(LegalEntity {
            id: Uuid::nil(),
            kind: "OUTPATIENT".into(),
            status: status.into(),
            nhs_verified: true,
            edrpou: None,
        })
    }

    /// The status of the legal entity the cache answers when the database holds it with `status`.
    async fn served(cache: &Cache, status: &'static str) -> String {
        let pick: Pick<Uuid, Option<LegalEntity>> = |m| &mut m.legal_entities;
        let answer = cache
            .get(pick, Uuid::nil(), || async move { Ok(le(status)) })
            .await;
        answer.unwrap().unwrap().status
    }

    #[tokio::test]
    async fn nothing_is_cached_while_no_connection_listens() {
        let cache = Cache::default();
        assert_eq!(served(&cache, "ACTIVE").await, "ACTIVE");
        assert_eq!(cache.cached_legal_entities(), 0);
        assert_eq!(served(&cache, "CLOSED").await, "CLOSED");
    }

    #[tokio::test]
    async fn a_cached_value_is_served_until_a_change_is_announced() {
        let cache = Cache::default();
        cache.invalidate(true);
        assert_eq!(served(&cache, "ACTIVE").await, "ACTIVE");
        assert_eq!(
            served(&cache, "CLOSED").await,
            "ACTIVE",
            "served from the cache"
        );
        cache.invalidate(true);
        assert_eq!(served(&cache, "CLOSED").await, "CLOSED");
    }

    #[tokio::test]
    async fn a_read_overtaken_by_a_change_is_not_kept() {
        let cache = Cache::default();
        cache.invalidate(true);
        let pick: Pick<Uuid, Option<LegalEntity>> = |m| &mut m.legal_entities;
        let racing = cache.clone();
        let stale = cache
            .get(pick, Uuid::nil(), || async move {
                // The change commits while this read is on its way back.
                racing.invalidate(true);
                Ok(le("ACTIVE"))
            })
            .await;
        assert_eq!(stale.unwrap().unwrap().status, "ACTIVE");
        assert_eq!(
            cache.cached_legal_entities(),
            0,
            "the overtaken value was dropped"
        );
    }

    /// `n` requests missing the legal entity at once, each with a read that counts itself, takes
    /// 20 ms and fails if it is the first; their answers and how many reads ran.
    async fn concurrent_misses(
        cache: &Cache,
        n: usize,
        first_read_fails: bool,
    ) -> (Vec<Result<Option<LegalEntity>, sqlx::Error>>, usize) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let pick: Pick<Uuid, Option<LegalEntity>> = |m| &mut m.legal_entities;
        let reads = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..n)
            .map(|_| {
                let (cache, reads) = (cache.clone(), reads.clone());
                tokio::spawn(async move {
                    cache
                        .get(pick, Uuid::nil(), || async move {
                            let n = reads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            if first_read_fails && n == 0 {
                                Err(sqlx::Error::PoolTimedOut)
                            } else {
                                Ok(le("ACTIVE"))
                            }
                        })
                        .await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for w in waiters {
            answers.push(w.await.unwrap());
        }
        (answers, reads.load(Ordering::SeqCst))
    }

    /// Many requests missing the same value at once (the first burst after a start or an
    /// invalidation) read it once; the others are answered with what that read returned.
    #[tokio::test]
    async fn concurrent_misses_of_one_key_read_it_once() {
        let cache = Cache::default();
        cache.invalidate(true);
        let (answers, reads) = concurrent_misses(&cache, 32, false).await;
        for answer in answers {
            assert_eq!(answer.unwrap().unwrap().status, "ACTIVE");
        }
        assert_eq!(reads, 1, "one read for 32 misses");
        assert_eq!(cache.cached_legal_entities(), 1);
        assert_eq!(cache.legal_entity_gates(), 0, "the gate is forgotten");
    }

    /// A read that fails is nobody else's answer: it is not kept, and the next request in line
    /// reads again.
    #[tokio::test]
    async fn a_failed_read_is_not_shared_with_the_waiting_requests() {
        let cache = Cache::default();
        cache.invalidate(true);
        let (answers, reads) = concurrent_misses(&cache, 8, true).await;
        let mut failed = 0;
        for answer in answers {
            match answer {
                Ok(v) => assert_eq!(v.unwrap().status, "ACTIVE"),
                Err(sqlx::Error::PoolTimedOut) => failed += 1,
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(
            failed, 1,
            "only the request whose read failed sees the failure"
        );
        assert_eq!(reads, 2, "the next in line read again");
        assert_eq!(cache.legal_entity_gates(), 0);
    }
}
