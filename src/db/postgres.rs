//! The PostgreSQL pool and migrations (with the one-time hash backfill of migration 0005).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// A pool sized for the load, whose connections abort any transaction left idle (a cancelled
/// request must never hold row locks: DESIGN.md, cancellation).
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    pool(url, max_connections, Duration::from_secs(2)).await
}

/// A pool for the operations commands (`projections rebuild|verify`, `audit verify`): their
/// streaming reads of the whole log are long by design, so only a statement slower than a minute
/// is worth a warning.
pub async fn connect_for_operations(url: &str) -> Result<PgPool, sqlx::Error> {
    pool(url, 4, Duration::from_secs(60)).await
}

async fn pool(url: &str, max_connections: u32, slow: Duration) -> Result<PgPool, sqlx::Error> {
    let options: PgConnectOptions = url
        .parse::<PgConnectOptions>()?
        .options([
            ("idle_in_transaction_session_timeout", "15s"),
            ("lock_timeout", "10s"),
        ])
        .log_slow_statements(log::LevelFilter::Warn, slow);
    pool_options(max_connections)
        .min_connections(1)
        .connect_with(options)
        .await
}

/// A connection idle for this long is tested with a round trip before it is handed out.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The options of every pool of the service. sqlx tests each connection with a round trip when
/// it is acquired (and again when it returns to the pool): under load that added a round trip to
/// every query, and the pings were ≈ 15 % of the service's CPU (`perf`). Here a connection is
/// tested on acquire only when it has been idle for [`IDLE_CHECK`] or more — the one that may have
/// outlived a database restart; a connection in steady use was tested when it was returned.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_CHECK {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// A small pool of `size` connections of their own, with `pool`'s settings, whose statements keep
/// their generic plan (`plan_cache_mode`): for the group writers and readers, whose one statement
/// has the same plan whatever its arrays hold. Left to choose, PostgreSQL planned such a statement
/// anew at every execution (its custom plans looked cheaper than the generic one), which cost about
/// as much as running it.
pub fn generic_plan_pool(pool: &PgPool, size: u32) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .options([("plan_cache_mode", "force_generic_plan")]);
    pool_options(size).connect_lazy_with(options)
}

/// Applies pending migrations, then hashes any event appended before hash chains existed (the
/// SQL migration cannot: the hash is computed in Rust, over canonical JSON).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await?;
    crate::store::audit::backfill(pool)
        .await
        .map_err(sqlx::migrate::MigrateError::Execute)?;
    Ok(())
}
