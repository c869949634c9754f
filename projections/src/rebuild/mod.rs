//! `ehealth-es projections rebuild`: every projection rebuilt from the event log while the
//! service keeps running.
//!
//! The tables are built aside in the schema [`SCHEMA`] (the `engine` module runs the catch-up
//! passes). The final step is one transaction: `LOCK TABLE events IN EXCLUSIVE MODE` (it waits
//! for the appends in flight; new appends wait behind it, reads go on), ACCESS EXCLUSIVE locks on
//! the live projection tables, the events committed since the last pass are folded in, then the
//! live tables are moved out into [`RETIRED`] and the aside ones moved into their schema (catalog
//! changes only: dropping the old tables, which frees their files, happens after the commit, while
//! appends go on). Appends that were waiting resume against the new tables (PostgreSQL re-plans
//! cached statements when a table they name is moved away). No event is missed or doubled: the last pass's horizon guarantees nothing committed
//! behind its cursor, and under the lock nothing is in flight.
//!
//! Locks are taken with a short `lock_timeout`; when one is not granted (a long reader of a
//! projection table, say), the transaction is rolled back before anything was folded, another
//! catch-up pass runs and the step is tried again.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection, PgPool};

mod decode;
pub(crate) mod engine;
mod indexes;
mod log;
mod options;
pub(crate) mod swap;
mod writers;

use crate::rows::quote_ident;
use crate::ProjectionError;
use engine::Engine;
use swap::{drop_schema, lock_log, prepare_swap, restore_options};

pub use options::{Options, MAINTENANCE_LOCK};

/// Where the new tables are built.
pub(crate) const SCHEMA: &str = "projections_rebuild";
/// Where the replaced tables go at the swap, to be dropped right after it.
pub(crate) const RETIRED: &str = "projections_retired";

#[derive(Debug, Clone)]
pub struct RebuildReport {
    /// Events folded (the whole log).
    pub events: u64,
    /// From start to the end (the swap committed and the replaced tables dropped).
    pub elapsed: Duration,
    /// How long appends were held by the final step.
    pub locked: Duration,
    /// Final-step attempts (more than one when a lock was not granted in time).
    pub attempts: u32,
}

impl RebuildReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Rebuilds every projection and swaps the new tables in.
pub async fn rebuild(pool: &PgPool, options: Options) -> Result<RebuildReport, ProjectionError> {
    let mut engine = Engine::start(pool, SCHEMA, false, options).await?;
    let result = retire_leftovers(&mut engine).await;
    let result = match result {
        Ok(()) => run(&mut engine).await,
        Err(e) => Err(e),
    };
    if result.is_err() {
        if let Err(cleanup) = engine.drop_aside().await {
            tracing::warn!(error = %cleanup, "the aside schema of a failed rebuild was not dropped");
        }
    }
    engine.release_states();
    result
}

/// Drops what a rebuild that died right after its swap left in [`RETIRED`] (the advisory lock
/// says no rebuild is running).
async fn retire_leftovers(engine: &mut Engine) -> Result<(), ProjectionError> {
    let writer = engine
        .writer
        .as_mut()
        .ok_or_else(|| ProjectionError::Task("the writer connection is gone".into()))?;
    drop_schema(writer, RETIRED).await
}

async fn run(engine: &mut Engine) -> Result<RebuildReport, ProjectionError> {
    engine.catch_up().await?;
    for attempt in 1..=engine.options.lock_attempts {
        let mut writer = engine
            .writer
            .take()
            .ok_or_else(|| ProjectionError::Task("the writer connection is gone".into()))?;
        let outcome = final_step(engine, &mut writer).await;
        engine.writer = Some(writer);
        if matches!(outcome, Ok(Some(_))) {
            // The old tables are no longer reachable: free their files, appends going on.
            let t = Instant::now();
            match engine.drop_tables(RETIRED).await {
                Ok(()) => tracing::debug!(
                    ms = t.elapsed().as_millis() as u64,
                    "projections rebuild: replaced tables dropped"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "projections rebuild: the replaced tables were not dropped (the next rebuild drops them)")
                }
            }
        }
        if let Some(locked) = outcome? {
            return Ok(RebuildReport {
                events: engine.events,
                elapsed: engine.started.elapsed(),
                locked,
                attempts: attempt,
            });
        }
        tracing::warn!(
            attempt,
            "projections rebuild: lock not granted in time; retrying"
        );
        tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
        engine.catch_up().await?;
    }
    Err(ProjectionError::LockTimeout(format!(
        "no lock within {:?} in {} attempts",
        engine.options.lock_timeout, engine.options.lock_attempts
    )))
}

/// Makes the WAL written so far durable (the aside build commits asynchronously): one small
/// synchronous commit, before appends are held, so the swap's own commit has little to flush.
async fn flush_wal(conn: &mut PgConnection) -> Result<(), ProjectionError> {
    let mut tx = conn.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = on")
        .execute(&mut *tx)
        .await?;
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The locked step; `None` when a lock was not granted in time (nothing changed). Appends are
/// held from the request of the lock on `events` (new appends queue behind it) to the commit.
async fn final_step(
    engine: &mut Engine,
    writer: &mut PgConnection,
) -> Result<Option<Duration>, ProjectionError> {
    let t = Instant::now();
    flush_wal(writer).await?;
    let flushed = t.elapsed();
    let mut tx = writer.begin().await?;
    sqlx::query("SET LOCAL synchronous_commit = on")
        .execute(&mut *tx)
        .await?;
    if !prepare_swap(&mut tx, engine.options.lock_timeout, &engine.pairs).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    let requested = Instant::now();
    tracing::debug!(
        flush_ms = flushed.as_millis() as u64,
        prepare_ms = (requested - t - flushed).as_millis() as u64,
        "projections rebuild: ready to swap"
    );
    let live: Vec<String> = engine.pairs.iter().map(|p| p.live.clone()).collect();
    if !lock_log(&mut tx, engine.options.lock_timeout, &live).await? {
        tx.rollback().await?;
        return Ok(None);
    }
    let rest = engine.fold_rest(&mut tx).await?;
    sqlx::query(&format!("CREATE SCHEMA {}", quote_ident(RETIRED)))
        .execute(&mut *tx)
        .await?;
    for pair in &engine.pairs {
        sqlx::query(&format!(
            "ALTER TABLE {} SET SCHEMA {}",
            pair.live,
            quote_ident(RETIRED)
        ))
        .execute(&mut *tx)
        .await?;
        restore_options(&mut tx, pair).await?;
        sqlx::query(&format!(
            "ALTER TABLE {} SET SCHEMA {}",
            pair.aside,
            quote_ident(&pair.live_schema)
        ))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(&format!("DROP SCHEMA {}", quote_ident(SCHEMA)))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let locked = requested.elapsed();
    tracing::info!(
        rest,
        events = engine.events,
        locked_ms = locked.as_millis() as u64,
        "projections rebuild: swapped"
    );
    Ok(Some(locked))
}
