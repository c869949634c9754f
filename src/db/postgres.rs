//! The PostgreSQL pool and migrations (with the one-time hash backfill of migration 0005).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

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
    PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
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
