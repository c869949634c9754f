//! `ehealth-es projections verify`: rebuild every projection aside (unlogged tables in
//! [`SCHEMA`]) and compare it with the live tables row by row.
//!
//! The comparison must see the live tables and the log at one instant. A second connection takes
//! `LOCK TABLE events IN EXCLUSIVE MODE` (so no append is in flight), the comparing transaction
//! (REPEATABLE READ) takes its snapshot, and the lock is released at once: appends wait only for
//! that instant, not for the comparison. Inside the snapshot the events after the last catch-up
//! pass are folded into the aside tables, then each table pair is compared with one `FULL JOIN`
//! on the primary key. Columns that legitimately differ ([`EXCLUDED`]) are left out.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{Connection, PgConnection, PgPool};

use crate::rebuild::engine::Engine;
use crate::rebuild::swap::{lock_log, TablePair};
use crate::rows::quote_ident;
use crate::ProjectionError;

pub(crate) use crate::rebuild::Options;

/// Where the comparison copy is built.
pub(crate) const SCHEMA: &str = "projections_verify";

/// Columns that differ between a rebuild and the live path by design: when the row was written.
pub(crate) const EXCLUDED: [(&str, &str); 1] = [("status_change_events", "inserted_at")];

/// One row that differs.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub table: &'static str,
    /// The primary key, `column=value` pairs.
    pub key: String,
    pub kind: DifferenceKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DifferenceKind {
    /// The log implies this row; the live table lacks it.
    MissingFromLive { rebuilt: Value },
    /// The live table has a row the log does not imply.
    NotInLog { live: Value },
    /// Both have the row; these columns differ: `(column, live, rebuilt)`.
    Columns(Vec<(String, Value, Value)>),
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (table, key) = (self.table, &self.key);
        match &self.kind {
            DifferenceKind::MissingFromLive { rebuilt } => {
                write!(
                    f,
                    "{table} {key}: missing from the live table; rebuilt: {rebuilt}"
                )
            }
            DifferenceKind::NotInLog { live } => {
                write!(
                    f,
                    "{table} {key}: not implied by the event log; live: {live}"
                )
            }
            DifferenceKind::Columns(columns) if columns.is_empty() => {
                write!(f, "{table} {key}: the rows differ")
            }
            DifferenceKind::Columns(columns) => {
                let mut first = true;
                for (column, live, rebuilt) in columns {
                    if !first {
                        writeln!(f)?;
                    }
                    first = false;
                    write!(
                        f,
                        "{table} {key}: {column}: live {live} | rebuilt {rebuilt}"
                    )?;
                }
                Ok(())
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Events folded (the whole log, as of the comparison's snapshot).
    pub events: u64,
    /// Rows compared, per table: `(table, live rows, rebuilt rows)`.
    pub tables: Vec<(&'static str, i64, i64)>,
    pub differences: Vec<Difference>,
    pub elapsed: Duration,
    /// How long appends were held.
    pub locked: Duration,
}

/// Rebuilds aside, compares, drops the aside tables.
pub async fn verify(pool: &PgPool, options: Options) -> Result<VerifyReport, ProjectionError> {
    let mut engine = Engine::start(pool, SCHEMA, true, options).await?;
    let result = run(&mut engine).await;
    engine.release_states();
    let dropped = engine.drop_aside().await;
    let report = result?;
    dropped?;
    Ok(report)
}

async fn run(engine: &mut Engine) -> Result<VerifyReport, ProjectionError> {
    engine.catch_up().await?;
    for attempt in 1..=engine.options.lock_attempts {
        let mut writer = engine
            .writer
            .take()
            .ok_or_else(|| ProjectionError::Task("the writer connection is gone".into()))?;
        let outcome = compare_step(engine, &mut writer).await;
        engine.writer = Some(writer);
        if let Some((tables, differences, locked)) = outcome? {
            return Ok(VerifyReport {
                events: engine.events,
                tables,
                differences,
                elapsed: engine.started.elapsed(),
                locked,
            });
        }
        tracing::warn!(
            attempt,
            "projections verify: lock not granted in time; retrying"
        );
        tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
        engine.catch_up().await?;
    }
    Err(ProjectionError::LockTimeout(format!(
        "no lock within {:?} in {} attempts",
        engine.options.lock_timeout, engine.options.lock_attempts
    )))
}

type Compared = (Vec<(&'static str, i64, i64)>, Vec<Difference>, Duration);

async fn compare_step(
    engine: &mut Engine,
    writer: &mut PgConnection,
) -> Result<Option<Compared>, ProjectionError> {
    let mut snapshot = writer.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *snapshot)
        .await?;
    let mut locker = engine.pool.acquire().await?;
    let mut lock = locker.begin().await?;
    // Appends are held from the request of the lock (new ones queue behind it).
    let requested = Instant::now();
    if !lock_log(&mut lock, engine.options.lock_timeout, &[]).await? {
        lock.rollback().await?;
        snapshot.rollback().await?;
        return Ok(None);
    }
    // The first query fixes the snapshot: every append has committed or waits on the lock.
    sqlx::query("SELECT 1").execute(&mut *snapshot).await?;
    lock.commit().await?;
    let locked = requested.elapsed();
    engine.fold_rest(&mut snapshot).await?;
    let mut tables = Vec::new();
    let mut differences = Vec::new();
    for pair in &engine.pairs {
        let (live, rebuilt) = compare_table(&mut snapshot, pair, &mut differences).await?;
        tables.push((pair.name, live, rebuilt));
    }
    snapshot.rollback().await?;
    Ok(Some((tables, differences, locked)))
}

/// Compares one table pair; appends its differences and returns the row counts.
async fn compare_table(
    conn: &mut PgConnection,
    pair: &TablePair,
    out: &mut Vec<Difference>,
) -> Result<(i64, i64), ProjectionError> {
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 \
         AND NOT attisdropped ORDER BY attnum",
    )
    .bind(&pair.live)
    .fetch_all(&mut *conn)
    .await?;
    let key: Vec<String> = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_index i \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
         WHERE i.indrelid = $1::regclass AND i.indisprimary \
         ORDER BY array_position(i.indkey::int2[], a.attnum)",
    )
    .bind(&pair.live)
    .fetch_all(&mut *conn)
    .await?;
    if key.is_empty() {
        return Err(ProjectionError::Schema(format!(
            "{} has no primary key to compare by",
            pair.live
        )));
    }
    let compared: Vec<&String> = columns
        .iter()
        .filter(|c| !EXCLUDED.contains(&(pair.name, c.as_str())))
        .collect();
    let side = |alias: &str, cols: &[&String]| {
        cols.iter()
            .map(|c| format!("{alias}.{}", quote_ident(c)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let join = key
        .iter()
        .map(|k| format!("l.{0} = r.{0}", quote_ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let first_key = quote_ident(&key[0]);
    let order = key
        .iter()
        .map(|k| format!("coalesce(l.{0}, r.{0})", quote_ident(k)))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT to_jsonb(l), to_jsonb(r) FROM {live} l FULL JOIN {aside} r ON {join} \
         WHERE l.{first_key} IS NULL OR r.{first_key} IS NULL \
            OR ROW({l}) IS DISTINCT FROM ROW({r}) \
         ORDER BY {order}",
        live = pair.live,
        aside = pair.aside,
        l = side("l", &compared),
        r = side("r", &compared),
    );
    let rows: Vec<(Option<Value>, Option<Value>)> =
        sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    for (live, rebuilt) in rows {
        out.extend(difference(pair.name, &key, &compared, live, rebuilt));
    }
    let counts: (i64, i64) = sqlx::query_as(&format!(
        "SELECT (SELECT count(*) FROM {}), (SELECT count(*) FROM {})",
        pair.live, pair.aside
    ))
    .fetch_one(&mut *conn)
    .await?;
    Ok(counts)
}

/// The difference between the two sides of one row, as JSON objects of its columns (`None`: no
/// row on that side), over the `compared` columns; `None` when both sides are missing. Shared by
/// both backends, so their verify prints differences alike.
pub(crate) fn difference(
    table: &'static str,
    key: &[String],
    compared: &[&String],
    live: Option<Value>,
    rebuilt: Option<Value>,
) -> Option<Difference> {
    let live = live.map(|v| strip_excluded(table, v));
    let rebuilt = rebuilt.map(|v| strip_excluded(table, v));
    let keyed = live
        .as_ref()
        .or(rebuilt.as_ref())
        .cloned()
        .unwrap_or_default();
    let key_text = key
        .iter()
        .map(|k| format!("{k}={}", render(&keyed[k.as_str()])))
        .collect::<Vec<_>>()
        .join(" ");
    let kind = match (live, rebuilt) {
        (None, Some(rebuilt)) => DifferenceKind::MissingFromLive { rebuilt },
        (Some(live), None) => DifferenceKind::NotInLog { live },
        (Some(live), Some(rebuilt)) => DifferenceKind::Columns(
            compared
                .iter()
                .filter(|c| live[c.as_str()] != rebuilt[c.as_str()])
                .map(|c| {
                    (
                        c.to_string(),
                        live[c.as_str()].clone(),
                        rebuilt[c.as_str()].clone(),
                    )
                })
                .collect(),
        ),
        (None, None) => return None,
    };
    Some(Difference {
        table,
        key: key_text,
        kind,
    })
}

fn strip_excluded(table: &str, mut row: Value) -> Value {
    if let Some(object) = row.as_object_mut() {
        for (t, column) in EXCLUDED {
            if t == table {
                object.remove(column);
            }
        }
    }
    row
}

/// A key value as people read it: strings without quotes.
fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
