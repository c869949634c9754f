//! `ehealth-es projections verify` on the embedded SQLite backend: the whole log folded, in one
//! read transaction, into in-memory copies of the projection tables, then compared with the live
//! tables row by row.
//!
//! The copies are TEMP tables of the verifying connection with the live tables' names and
//! definitions (keys and checks included, read from `sqlite_master`), kept in memory
//! (`temp_store = MEMORY`). SQLite resolves an unqualified name in `temp` before `main`, so the
//! live path's own statements ([`Batch::write_sqlite`](crate::Batch::write_sqlite)) write the
//! copies; the comparison names `main.` and `temp.` explicitly. No other connection can see them,
//! and they are dropped before the connection is handed back.
//!
//! The read transaction is a WAL snapshot: the log folded and the live tables compared are one
//! committed state, however many appends commit meanwhile. Appends are never held (the report's
//! `locked` is zero) and nothing in the database file changes.

use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{Connection, SqliteConnection};

use super::log::fold_log;
use crate::rows::{quote_ident, TABLES};
use crate::verify::{difference, Difference, VerifyReport, EXCLUDED};
use crate::ProjectionError;

/// Whether `column` of `table` is written as JSON text: shown as JSON in a difference, as
/// PostgreSQL's jsonb is.
fn is_json(table: &str, column: &str) -> bool {
    crate::tables::ALL
        .iter()
        .filter(|t| t.name == table)
        .flat_map(|t| t.column(column))
        .any(|c| c.sql.json_on_sqlite())
}

/// Folds the log into in-memory copies and compares them with the live tables. `conn` must not
/// be inside a transaction; it is left as it was found (no temp tables, no cached statements
/// that name them, the same `temp_store`).
pub async fn verify(conn: &mut SqliteConnection) -> Result<VerifyReport, ProjectionError> {
    let started = Instant::now();
    let mut definitions = Vec::new();
    for table in TABLES {
        let sql: Option<String> = sqlx::query_scalar(
            "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = $1",
        )
        .bind(table)
        .fetch_optional(&mut *conn)
        .await?;
        let sql =
            sql.ok_or_else(|| ProjectionError::Schema(format!("there is no table {table}")))?;
        let body = sql
            .strip_prefix("CREATE TABLE ")
            .ok_or_else(|| ProjectionError::Schema(format!("unexpected definition: {sql}")))?;
        definitions.push(format!("CREATE TEMP TABLE {body}"));
    }
    let temp_store: i64 = sqlx::query_scalar("PRAGMA temp_store")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("PRAGMA temp_store = MEMORY")
        .execute(&mut *conn)
        .await?;
    let result = async {
        for definition in &definitions {
            sqlx::query(definition).execute(&mut *conn).await?;
        }
        // Statements prepared before resolved the names to `main`.
        conn.clear_cached_statements().await?;
        compare(conn).await
    }
    .await;
    let cleaned = clean_up(conn, temp_store).await;
    let (events, tables, differences) = result?;
    cleaned?;
    Ok(VerifyReport {
        events,
        tables,
        differences,
        elapsed: started.elapsed(),
        locked: Duration::ZERO,
    })
}

/// Drops the copies and forgets the statements that named them.
async fn clean_up(conn: &mut SqliteConnection, temp_store: i64) -> Result<(), ProjectionError> {
    for table in TABLES {
        sqlx::query(&format!("DROP TABLE IF EXISTS temp.{}", quote_ident(table)))
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(&format!("PRAGMA temp_store = {temp_store}"))
        .execute(&mut *conn)
        .await?;
    conn.clear_cached_statements().await?;
    Ok(())
}

type Compared = (u64, Vec<(&'static str, i64, i64)>, Vec<Difference>);

/// In one read transaction: the log folded into the copies, then every table compared.
async fn compare(conn: &mut SqliteConnection) -> Result<Compared, ProjectionError> {
    let mut snapshot = conn.begin().await?;
    let events = fold_log(&mut snapshot).await?;
    let mut tables = Vec::new();
    let mut differences = Vec::new();
    for table in TABLES {
        let (live, rebuilt) = compare_table(&mut snapshot, table, &mut differences).await?;
        tables.push((table, live, rebuilt));
    }
    // Only the copies were written.
    snapshot.rollback().await?;
    Ok((events, tables, differences))
}

/// A column as a JSON value: JSON text as JSON, a blob as hex.
fn json_value(table: &str, alias: &str, column: &str) -> String {
    let c = format!("{alias}.{}", quote_ident(column));
    if is_json(table, column) {
        format!("CASE WHEN typeof({c}) = 'text' AND json_valid({c}) THEN json({c}) ELSE {c} END")
    } else {
        format!("CASE WHEN typeof({c}) = 'blob' THEN hex({c}) ELSE {c} END")
    }
}

/// Compares `main.<table>` with `temp.<table>`; appends the differences and returns the row
/// counts.
async fn compare_table(
    conn: &mut SqliteConnection,
    table: &'static str,
    out: &mut Vec<Difference>,
) -> Result<(i64, i64), ProjectionError> {
    let info: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT name, pk FROM pragma_table_info({}, 'main') ORDER BY cid",
        sql_string(table)
    ))
    .fetch_all(&mut *conn)
    .await?;
    let mut keyed: Vec<&(String, i64)> = info.iter().filter(|(_, pk)| *pk > 0).collect();
    keyed.sort_by_key(|(_, pk)| *pk);
    let key: Vec<String> = keyed.into_iter().map(|(name, _)| name.clone()).collect();
    if key.is_empty() {
        return Err(ProjectionError::Schema(format!(
            "{table} has no primary key to compare by"
        )));
    }
    let compared: Vec<&String> = info
        .iter()
        .map(|(name, _)| name)
        .filter(|c| !EXCLUDED.contains(&(table, c.as_str())))
        .collect();
    let object = |alias: &str| {
        let pairs = compared
            .iter()
            .map(|c| format!("{}, {}", sql_string(c), json_value(table, alias, c)))
            .collect::<Vec<_>>()
            .join(", ");
        format!("json_object({pairs})")
    };
    let join = key
        .iter()
        .map(|k| format!("l.{0} = r.{0}", quote_ident(k)))
        .collect::<Vec<_>>()
        .join(" AND ");
    let differs = compared
        .iter()
        .map(|c| format!("l.{0} IS NOT r.{0}", quote_ident(c)))
        .collect::<Vec<_>>()
        .join(" OR ");
    let first_key = quote_ident(&key[0]);
    let order = key
        .iter()
        .map(|k| format!("coalesce(l.{0}, r.{0})", quote_ident(k)))
        .collect::<Vec<_>>()
        .join(", ");
    let name = quote_ident(table);
    let sql = format!(
        "SELECT l.{first_key} IS NOT NULL, r.{first_key} IS NOT NULL, {l}, {r} \
         FROM main.{name} AS l FULL JOIN temp.{name} AS r ON {join} \
         WHERE l.{first_key} IS NULL OR r.{first_key} IS NULL OR {differs} \
         ORDER BY {order}",
        l = object("l"),
        r = object("r"),
    );
    let rows: Vec<(bool, bool, String, String)> =
        sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
    for (has_live, has_rebuilt, live, rebuilt) in rows {
        let parse = |present: bool, text: &str| {
            present.then(|| serde_json::from_str::<Value>(text).unwrap_or(Value::Null))
        };
        out.extend(difference(
            table,
            &key,
            &compared,
            parse(has_live, &live),
            parse(has_rebuilt, &rebuilt),
        ));
    }
    let counts: (i64, i64) = sqlx::query_as(&format!(
        "SELECT (SELECT count(*) FROM main.{name}), (SELECT count(*) FROM temp.{name})"
    ))
    .fetch_one(&mut *conn)
    .await?;
    Ok(counts)
}

/// An SQL string literal of one of our own names.
fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
