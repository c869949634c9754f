//! The reference-data cache of one instance (PostgreSQL only).
//!
//! Reference data changes rarely (an import, an operator's fix) and is read on every action, so
//! reads are cached. Correct invalidation comes from the database itself: a statement trigger on
//! every reference table announces each change on the channel [`CHANNEL`] when it commits
//! (migration 0008), and [`watch`] empties the cache on each announcement. The cache is used only
//! while the listening connection is up: when it drops (notifications may be lost meanwhile), the
//! cache is emptied and bypassed until a new connection listens again.
//!
//! A read that started before an invalidation must not put its older value into the emptied
//! cache: every invalidation moves a generation on, and a value is stored only if the generation
//! it was read in is still current.
//!
//! On SQLite nothing is cached: its reads are in-process, and another process (an import) could
//! change the file without telling this one.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Employee, LegalEntity, Person};

/// The notification channel of reference-data changes.
pub const CHANNEL: &str = "ehealth_reference";

/// Entries per map before the map is emptied (a bound on memory, not an eviction policy: reference
/// data of one region fits many times over).
const MAX_ENTRIES: usize = 50_000;

#[derive(Default)]
pub(super) struct Maps {
    pub legal_entities: HashMap<Uuid, Option<LegalEntity>>,
    pub allowed_types: HashMap<(), Vec<String>>,
    pub dictionaries: HashMap<String, Vec<String>>,
    pub user_employees: HashMap<(Uuid, Uuid), Vec<Employee>>,
    pub tax_ids: HashMap<Uuid, Option<String>>,
    pub employee_legal_entities: HashMap<Uuid, Option<Uuid>>,
    pub persons: HashMap<Uuid, Option<Person>>,
}

#[derive(Default)]
struct Inner {
    /// Whether a connection is listening for changes (only then is anything cached).
    listening: bool,
    generation: u64,
    maps: Maps,
}

/// The cache shared by every clone of one instance's `Reference`.
#[derive(Default, Clone)]
pub struct Cache {
    inner: Arc<Mutex<Inner>>,
}

pub(super) type Pick<K, V> = fn(&mut Maps) -> &mut HashMap<K, V>;

impl Cache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached value of `key`, else `load`'s, which is kept if no change was announced
    /// meanwhile.
    pub(super) async fn get<K, V, Fut>(
        &self,
        pick: Pick<K, V>,
        key: K,
        load: impl FnOnce() -> Fut,
    ) -> Result<V, sqlx::Error>
    where
        K: Eq + Hash,
        V: Clone,
        Fut: Future<Output = Result<V, sqlx::Error>>,
    {
        let generation = {
            let mut inner = self.lock();
            if let Some(hit) = pick(&mut inner.maps).get(&key) {
                return Ok(hit.clone());
            }
            inner.listening.then_some(inner.generation)
        };
        let value = load().await?;
        let Some(generation) = generation else {
            return Ok(value);
        };
        let mut inner = self.lock();
        if inner.listening && inner.generation == generation {
            let map = pick(&mut inner.maps);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(key, value.clone());
        }
        Ok(value)
    }

    /// Drops everything cached; `listening` says whether caching may go on.
    pub fn invalidate(&self, listening: bool) {
        let mut inner = self.lock();
        inner.generation += 1;
        inner.listening = listening;
        inner.maps = Maps::default();
    }

    #[cfg(test)]
    fn cached_legal_entities(&self) -> usize {
        self.lock().maps.legal_entities.len()
    }
}

/// Listens for reference-data changes until `shutdown`, reconnecting after a lost connection.
pub async fn watch(cache: Cache, pool: sqlx::PgPool, shutdown: CancellationToken) {
    loop {
        let listener = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            l = listener => l,
            _ = shutdown.cancelled() => return,
        };
        match listener.as_mut() {
            Ok(listener) => {
                // Anything cached before now may be older than a change we did not hear of.
                cache.invalidate(true);
                loop {
                    let next = tokio::select! {
                        n = listener.try_recv() => n,
                        _ = shutdown.cancelled() => return,
                    };
                    match next {
                        Ok(Some(notification)) => {
                            tracing::debug!(
                                table = notification.payload(),
                                "reference data changed"
                            );
                            cache.invalidate(true);
                        }
                        // The connection was lost: changes may go unheard until a new one listens.
                        Ok(None) | Err(_) => break,
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot listen for reference-data changes"),
        }
        cache.invalidate(false);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.cancelled() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(status: &str) -> Option<LegalEntity> {
        Some(LegalEntity {
            id: Uuid::nil(),
            kind: "OUTPATIENT".into(),
            status: status.into(),
            nhs_verified: true,
        })
    }

    #[tokio::test]
    async fn nothing_is_cached_while_no_connection_listens() {
        let cache = Cache::default();
        let pick: Pick<Uuid, Option<LegalEntity>> = |m| &mut m.legal_entities;
        let v = cache
            .get(pick, Uuid::nil(), || async { Ok(le("ACTIVE")) })
            .await;
        assert_eq!(v.unwrap().unwrap().status, "ACTIVE");
        assert_eq!(cache.cached_legal_entities(), 0);
        let v = cache
            .get(pick, Uuid::nil(), || async { Ok(le("CLOSED")) })
            .await;
        assert_eq!(v.unwrap().unwrap().status, "CLOSED");
    }

    #[tokio::test]
    async fn a_cached_value_is_served_until_a_change_is_announced() {
        let cache = Cache::default();
        cache.invalidate(true);
        let pick: Pick<Uuid, Option<LegalEntity>> = |m| &mut m.legal_entities;
        let first = cache
            .get(pick, Uuid::nil(), || async { Ok(le("ACTIVE")) })
            .await;
        assert_eq!(first.unwrap().unwrap().status, "ACTIVE");
        let hit = cache
            .get(pick, Uuid::nil(), || async { Ok(le("CLOSED")) })
            .await;
        assert_eq!(
            hit.unwrap().unwrap().status,
            "ACTIVE",
            "served from the cache"
        );
        cache.invalidate(true);
        let after = cache
            .get(pick, Uuid::nil(), || async { Ok(le("CLOSED")) })
            .await;
        assert_eq!(after.unwrap().unwrap().status, "CLOSED");
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
}
