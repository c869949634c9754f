//! The aside tables and the swap: creating the empty twins of the live tables, the locks of the
//! final step, and handing the live tables' storage parameters over.

use std::time::Duration;

use sqlx::PgConnection;

use crate::rows::{quote_ident, Tables, TABLES};
use crate::ProjectionError;

/// A live projection table and its aside twin.
#[derive(Debug, Clone)]
pub(crate) struct TablePair {
    pub name: &'static str,
    pub live_schema: String,
    /// As PostgreSQL prints it in index definitions (`public.service_requests`).
    pub live: String,
    pub aside: String,
    /// The live table's storage parameters (`name=value`), and those of its TOAST table: the
    /// aside table gets them at the swap (until then its autovacuum is off).
    pub reloptions: Vec<String>,
    pub toast_reloptions: Vec<String>,
}

pub(super) async fn drop_tables(
    conn: &mut PgConnection,
    tables: &Tables,
    names: &[&str],
) -> Result<(), ProjectionError> {
    for name in names {
        execute(conn, &format!("DROP TABLE IF EXISTS {}", tables.name(name))).await?;
    }
    Ok(())
}

pub(crate) async fn drop_schema(
    conn: &mut PgConnection,
    schema: &str,
) -> Result<(), ProjectionError> {
    let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", quote_ident(schema));
    execute(conn, &sql).await
}

/// Runs one statement built from our own names (never user input).
async fn execute(conn: &mut PgConnection, sql: &str) -> Result<(), ProjectionError> {
    sqlx::query(sql).execute(conn).await?;
    Ok(())
}

/// A table's storage parameters as `name=value` (none: empty).
async fn reloptions(
    conn: &mut PgConnection,
    relation: &str,
    toast: bool,
) -> Result<Vec<String>, ProjectionError> {
    let sql = if toast {
        "SELECT coalesce(t.reloptions, '{}')::text[] FROM pg_class c \
         JOIN pg_class t ON t.oid = c.reltoastrelid WHERE c.oid = $1::regclass"
    } else {
        "SELECT coalesce(reloptions, '{}')::text[] FROM pg_class WHERE oid = $1::regclass"
    };
    let found: Option<Vec<String>> = sqlx::query_scalar(sql)
        .bind(relation)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.unwrap_or_default())
}

/// `SET (…)` items for storage parameters `name=value`, prefixed (`toast.`), values quoted.
fn option_items(options: &[String], prefix: &str) -> Vec<String> {
    options
        .iter()
        .filter_map(|o| o.split_once('='))
        .map(|(name, value)| {
            format!(
                "{prefix}{} = '{}'",
                quote_ident(name),
                value.replace('\'', "''")
            )
        })
        .collect()
}

/// Creates `schema` afresh with an empty twin of every projection table: columns, defaults,
/// checks, comments and storage, but no index or key yet, and autovacuum off: nothing reads
/// them before the swap, and an autovacuum of a freshly loaded table would compete with the
/// build and hold up the swap until it is cancelled.
pub(super) async fn create_aside(
    conn: &mut PgConnection,
    schema: &str,
    unlogged: bool,
) -> Result<Vec<TablePair>, ProjectionError> {
    // A schema left by a rebuild that died half-way is garbage: the advisory lock says nobody
    // else is using it.
    drop_schema(conn, schema).await?;
    execute(conn, &format!("CREATE SCHEMA {}", quote_ident(schema))).await?;
    let mut pairs = Vec::new();
    for name in TABLES {
        let found: Option<(String, String)> = sqlx::query_as(
            "SELECT n.nspname::text, quote_ident(n.nspname) || '.' || quote_ident(c.relname) \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = to_regclass($1)",
        )
        .bind(name)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((live_schema, live)) = found else {
            return Err(ProjectionError::Schema(format!(
                "table {name} does not exist (run `ehealth-es migrate` first)"
            )));
        };
        let pair = TablePair {
            name,
            live_schema,
            reloptions: reloptions(conn, &live, false).await?,
            toast_reloptions: reloptions(conn, &live, true).await?,
            live,
            aside: Tables::in_schema(schema).name(name),
        };
        let sql = format!(
            "CREATE {}TABLE {} (LIKE {} INCLUDING ALL EXCLUDING INDEXES) \
             WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)",
            if unlogged { "UNLOGGED " } else { "" },
            pair.aside,
            pair.live
        );
        execute(conn, &sql).await?;
        pairs.push(pair);
    }
    Ok(pairs)
}

/// Gives an aside table the live table's storage parameters, autovacuum included (part of the
/// swap, so that autovacuum analyzes the new tables soon after).
pub(crate) async fn restore_options(
    conn: &mut PgConnection,
    pair: &TablePair,
) -> Result<(), ProjectionError> {
    let reset = format!(
        "ALTER TABLE {} RESET (autovacuum_enabled, toast.autovacuum_enabled)",
        pair.aside
    );
    execute(conn, &reset).await?;
    let mut items = option_items(&pair.reloptions, "");
    items.extend(option_items(&pair.toast_reloptions, "toast."));
    if !items.is_empty() {
        let set = format!("ALTER TABLE {} SET ({})", pair.aside, items.join(", "));
        execute(conn, &set).await?;
    }
    Ok(())
}

/// Sets the final step's lock timeout and takes `LOCK TABLE events IN EXCLUSIVE MODE`, then an
/// ACCESS EXCLUSIVE lock on `exclusive` tables. `Ok(false)` when a lock was not granted in time:
/// the transaction is then aborted and must be rolled back.
pub(crate) async fn lock_log(
    conn: &mut PgConnection,
    timeout: Duration,
    exclusive: &[String],
) -> Result<bool, ProjectionError> {
    let mut statements = vec!["LOCK TABLE events IN EXCLUSIVE MODE".to_string()];
    if !exclusive.is_empty() {
        statements.push(format!(
            "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            exclusive.join(", ")
        ));
    }
    lock_within(conn, timeout, statements).await
}

/// The swap's locks that do not hold appends, taken first: ACCESS EXCLUSIVE on the aside tables
/// (nobody else uses them) and SHARE UPDATE EXCLUSIVE on the live ones and on `events`, which
/// keeps autovacuum off them (a running autovacuum is cancelled after `deadlock_timeout`) while
/// appends and reads go on. The locks that hold appends ([`lock_log`]) then wait only for appends
/// and reads in flight. Without `events` here, an autovacuum of the log (frequent while it grows)
/// made `LOCK TABLE events IN EXCLUSIVE MODE` wait for its cancellation, and every append queued
/// behind that request: appends were held for 1 s (`deadlock_timeout`) instead of milliseconds.
/// `Ok(false)` when a lock was not granted in time: the transaction must be rolled back.
pub(crate) async fn prepare_swap(
    conn: &mut PgConnection,
    timeout: Duration,
    pairs: &[TablePair],
) -> Result<bool, ProjectionError> {
    let aside: Vec<&str> = pairs.iter().map(|p| p.aside.as_str()).collect();
    let live: Vec<&str> = pairs.iter().map(|p| p.live.as_str()).collect();
    let statements = [
        format!("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE", aside.join(", ")),
        format!(
            "LOCK TABLE events, {} IN SHARE UPDATE EXCLUSIVE MODE",
            live.join(", ")
        ),
    ];
    lock_within(conn, timeout, statements).await
}

/// Runs the `LOCK TABLE` `statements` in order, each waiting at most `timeout` for its lock.
/// `Ok(false)` when a lock was not granted in time: the transaction is then aborted and must be
/// rolled back.
async fn lock_within(
    conn: &mut PgConnection,
    timeout: Duration,
    statements: impl IntoIterator<Item = String>,
) -> Result<bool, ProjectionError> {
    let ms = timeout.as_millis().max(1);
    execute(conn, &format!("SET LOCAL lock_timeout = '{ms}ms'")).await?;
    for statement in statements {
        match sqlx::query(&statement).execute(&mut *conn).await {
            Ok(_) => {}
            Err(err) if is_lock_timeout(&err) => return Ok(false),
            Err(err) => return Err(err.into()),
        }
    }
    Ok(true)
}

fn is_lock_timeout(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}
