//! WAL segments: a fresh cluster has none to reuse, so each new 16 MB segment is written full of
//! zeroes and synced while every commit waits — a stall of ≈ 60 ms about once a second at the
//! service's write rate, which a running server does not have (at each checkpoint it renames the
//! segments it no longer needs into future ones). [`prime`] writes WAL once before the timed
//! points so that they run on reused segments; [`segments`] counts the segment files, so the
//! report can show that no point created one.

use sqlx::PgConnection;

/// Writes about `mib` MiB of WAL (logical messages: no table is touched), then checkpoints, so
/// the segments written become reusable. Returns the seconds it took.
pub async fn prime(conn: &mut PgConnection, mib: i32) -> anyhow::Result<f64> {
    let started = std::time::Instant::now();
    sqlx::query(
        "SELECT count(pg_logical_emit_message(false, 'ehealth-bench', repeat('x', 1048576))) \
         FROM generate_series(1, $1)",
    )
    .bind(mib)
    .execute(&mut *conn)
    .await?;
    sqlx::query("CHECKPOINT").execute(&mut *conn).await?;
    Ok(started.elapsed().as_secs_f64())
}

/// WAL segment files in `pg_wal` (needs a superuser or `pg_monitor`); `None` where not allowed.
/// A count that grows during a point means segments were created (zero-filled) during it.
pub async fn segments(conn: &mut PgConnection) -> Option<i64> {
    sqlx::query_scalar("SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'")
        .fetch_one(conn)
        .await
        .ok()
}
