//! Reference data on PostgreSQL: the statements are the shared ones (`store::reference`); here is
//! the listener that keeps the instance's cache correct. A statement trigger on every reference table announces each change on [`CHANNEL`] when it commits
//! (migration 0008), and [`watch`] empties the cache on each announcement. The cache is used only
//! while the listening connection is up: when it drops (notifications may be lost meanwhile), the
//! cache is emptied and bypassed until a new connection listens again.

use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::reference::cache::Cache;

/// Written once for both backends, in `store::reference`.
pub(super) use crate::store::reference::PgReferenceData;

/// How long the listening connection may stay quiet before it is tested.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// How long the test (or connecting and listening) may take before the connection counts as lost.
const HEARTBEAT_ANSWER: Duration = Duration::from_secs(2);

/// The notification channel of reference-data changes.
const CHANNEL: &str = "ehealth_reference";

impl PgReferenceData {
    /// Empties `cache` on every announced change, until `shutdown` ([`watch`]).
    pub(in crate::store) async fn watch_changes(&self, cache: Cache, shutdown: CancellationToken) {
        watch(cache, self.0.clone(), shutdown).await
    }
}

/// Listens for reference-data changes until `shutdown`, reconnecting after a lost connection.
#[tracing::instrument(name = "reference_watch", skip_all)]
async fn watch(cache: Cache, pool: PgPool, shutdown: CancellationToken) {
    loop {
        let listener = async {
            let connect = async {
                let mut listener = PgListener::connect_with(&pool).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(listener)
            };
            tokio::time::timeout(HEARTBEAT_ANSWER, connect)
                .await
                .unwrap_or(Err(sqlx::Error::PoolTimedOut))
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
                        n = tokio::time::timeout(HEARTBEAT, listener.try_recv()) => n,
                        _ = shutdown.cancelled() => return,
                    };
                    let Ok(next) = next else {
                        // Quiet for a while: make sure the link still carries anything. On a
                        // half-open link nothing would ever arrive, and changes would go unheard
                        // while the cache kept serving.
                        let ping = sqlx::query("SELECT 1").execute(&mut *listener);
                        match tokio::time::timeout(HEARTBEAT_ANSWER, ping).await {
                            Ok(Ok(_)) => continue,
                            _ => break,
                        }
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
