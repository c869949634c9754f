//! The PostgreSQL pool and migrations (with the one-time hash backfill of migration 0005).

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The deadline of a request when none is configured (`EHEALTH_REQUEST_TIMEOUT`).
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);

/// A pool sized for the load, with the default request deadline (see [`connect_with_deadline`]).
pub async fn connect(url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
    connect_with_deadline(url, max_connections, DEFAULT_DEADLINE).await
}

/// A pool sized for the load, whose connections abort any transaction left idle (a cancelled
/// request must never hold row locks) and any statement, lock wait or pool wait longer than a
/// request may take, so no request waits on the database past its deadline.
pub async fn connect_with_deadline(
    url: &str,
    max_connections: u32,
    deadline: Duration,
) -> Result<PgPool, sqlx::Error> {
    let options = connect_options(url, Some(deadline))?
        .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(2));
    pool_options(max_connections)
        .acquire_timeout(deadline)
        .min_connections(1)
        .connect_with(options)
        .await
}

/// A pool for the operations commands (`projections rebuild|verify`, `audit verify`): their
/// streaming reads of the whole log are long by design, so they have no statement timeout and
/// only a statement slower than a minute is worth a warning.
pub(super) async fn connect_for_operations(url: &str) -> Result<PgPool, sqlx::Error> {
    let options = connect_options(url, None)?
        .log_slow_statements(log::LevelFilter::Warn, Duration::from_secs(60));
    pool_options(4)
        .min_connections(1)
        .connect_with(options)
        .await
}

/// The session settings of every connection. `statement_timeout` and `lock_timeout` bound what
/// the server does for us; the TCP settings make the *server* notice within seconds a client whose
/// link went dead (so a vanished instance's transactions and locks do not outlive it). sqlx opens
/// its sockets itself and offers no way to set keepalive or `TCP_USER_TIMEOUT` on the client
/// side, so the client bounds every wait with deadlines of its own instead (the request deadline,
/// the group writers' and readers' deadlines, the timed test of a returned connection).
fn connect_options(url: &str, deadline: Option<Duration>) -> Result<PgConnectOptions, sqlx::Error> {
    let mut settings = vec![
        ("idle_in_transaction_session_timeout", "15s".to_string()),
        ("lock_timeout", "10s".to_string()),
        ("tcp_keepalives_idle", "5".to_string()),
        ("tcp_keepalives_interval", "2".to_string()),
        ("tcp_keepalives_count", "3".to_string()),
        ("tcp_user_timeout", "10000".to_string()),
    ];
    if let Some(deadline) = deadline {
        let ms = deadline.as_millis().max(1);
        settings.push(("statement_timeout", format!("{ms}ms")));
        settings[1].1 = format!("{ms}ms");
    }
    Ok(url.parse::<PgConnectOptions>()?.options(settings))
}

/// How long a returned connection may take to show it is idle; past it, it is closed instead of
/// pooled (a request cut off by its deadline may leave it mid-statement on a dead link).
const RELEASE_CHECK: Duration = Duration::from_secs(1);

/// A connection idle for this long is tested with a round trip before it is handed out.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The options of every pool of the service. sqlx tests each connection with a round trip when
/// it is acquired (and again when it returns to the pool): under load that added a round trip to
/// every query, and the pings were ≈ 15 % of the service's CPU (`perf`). Here a connection is
/// tested on acquire only when it has been idle for [`IDLE_CHECK`] or more — the one that may have
/// outlived a database restart; a connection in steady use was tested when it was returned.
pub(super) fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_CHECK {
                    timed_ping(conn).await?;
                }
                Ok(true)
            })
        })
        .after_release(|conn, _| Box::pin(async move { timed_ping(conn).await.map(|()| true) }))
}

/// A round trip bounded by [`RELEASE_CHECK`]; a connection that does not answer in time is closed
/// by the pool (an error closes it without a goodbye, which a dead link would never carry).
async fn timed_ping(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    match tokio::time::timeout(RELEASE_CHECK, conn.ping()).await {
        Ok(answered) => answered,
        Err(_) => Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the connection did not answer a ping in time",
        ))),
    }
}

/// A small pool of `size` connections of their own, with `pool`'s settings, whose statements keep
/// their generic plan (`plan_cache_mode`): for the group writers and readers, whose one statement
/// has the same plan whatever its arrays hold. Left to choose, PostgreSQL planned such a statement
/// anew at every execution (its custom plans looked cheaper than the generic one), which cost about
/// as much as running it.
pub(crate) fn generic_plan_pool(pool: &PgPool, size: u32) -> PgPool {
    let options = (*pool.connect_options())
        .clone()
        .options([("plan_cache_mode", "force_generic_plan")]);
    pool_options(size).connect_lazy_with(options)
}

/// Migrations whose comments were reworded after they shipped: `(version, checksum as applied
/// then)`. Their SQL is unchanged, so a database that applied the earlier text gets the current
/// checksum recorded instead of failing the migrator's "previously applied but modified" check.
const REWORDED: [(i64, &str); 3] = [
    (1, "41d534e7d70e2c220f795ca114b308a9be3902af010bda65b1d463782120d50a9745c01f003388acf3c3d32db04e1c13"),
    (3, "f2e21b11c364d079e49bffacc861fa6b79e658a2b4012ee6a9d68242f7d3c1985bf60914e4abdb640f5cdecfd7f9cfa8"),
    (4, "73d5469363100291f86e047a086d38b498d6504f4332491ddd9e637b8268428892bbfadb8fc0c870c322ac22baba7217"),
];

/// Records the current checksum of each [`REWORDED`] migration where the earlier one is recorded.
async fn restamp_reworded(conn: &mut sqlx::PgConnection) -> Result<(), sqlx::Error> {
    let recorded: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
            .fetch_one(&mut *conn)
            .await?;
    if recorded.is_none() {
        return Ok(());
    }
    for (version, earlier) in REWORDED {
        let Some(current) = MIGRATOR.iter().find(|m| m.version == version) else {
            continue;
        };
        sqlx::query(
            "UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2 AND checksum = $3",
        )
        .bind(current.checksum.as_ref())
        .bind(version)
        .bind(hex::decode(earlier).expect("a hex constant"))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Applies pending migrations, then hashes any event appended before hash chains existed (the
/// SQL migration cannot: the hash is computed in Rust, over canonical JSON).
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    // A migration (or its backfill) may take longer than a request: no statement or lock timeout.
    let mut conn = pool.acquire().await?;
    sqlx::raw_sql("SET statement_timeout = 0; SET lock_timeout = 0")
        .execute(&mut *conn)
        .await?;
    let migrated = match restamp_reworded(&mut conn).await {
        Ok(()) => MIGRATOR.run(&mut *conn).await,
        Err(err) => Err(err.into()),
    };
    // The session's settings go with the connection rather than back into the pool.
    drop(conn.detach());
    migrated?;
    crate::store::postgres::backfill(pool)
        .await
        .map_err(sqlx::migrate::MigrateError::Execute)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_database_that_applied_a_reworded_migration_before_its_rewording_still_migrates() {
        let pool = crate::store::postgres::test_database("ehealth_t_reworded", 2).await;
        for (version, earlier) in REWORDED {
            sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2")
                .bind(hex::decode(earlier).unwrap())
                .bind(version)
                .execute(&pool)
                .await
                .unwrap();
        }
        migrate(&pool)
            .await
            .expect("the earlier checksums are restamped");
        for (version, _) in REWORDED {
            let recorded: Vec<u8> =
                sqlx::query_scalar("SELECT checksum FROM _sqlx_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            let current = MIGRATOR.iter().find(|m| m.version == version).unwrap();
            assert_eq!(recorded, current.checksum.as_ref(), "version {version}");
        }
    }
}
