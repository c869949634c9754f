//! Writing a declared table's rows, the same way for every table.

use sqlx::{PgConnection, SqliteConnection};

use super::sql::{copy_in, upsert_pg, upsert_sqlite};
use super::Rows;
use crate::copy::CopyRows;
use crate::rows::{chunks, param_count, quote_ident, PgQuery, Tables, WriteMode};

/// Writes `rows` into their table of `tables`: in chunks of multi-row upserts, or, in
/// [`WriteMode::Load`], with binary COPYs into a table without keys that holds none of them.
pub(crate) async fn write_pg<R: Rows>(
    rows: &R,
    conn: &mut PgConnection,
    tables: &Tables,
    mode: WriteMode,
) -> Result<(), sqlx::Error> {
    let name = tables.name(R::TABLE.name);
    if mode == WriteMode::Load {
        for r in chunks(rows.len()) {
            let mut copy = CopyRows::new();
            for i in r {
                rows.copy_row(i, &mut copy)?;
            }
            copy.send(&mut *conn, &copy_in(R::TABLE, &name)).await?;
        }
        return Ok(());
    }
    let sql = upsert_pg(R::TABLE, &name, 1, false);
    for r in chunks(rows.len()) {
        rows.bind_pg(r, true, sqlx::query(&sql))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Copies rows of several batches into their table (without keys), in the order `order` gives
/// as `(batch, row)` pairs.
pub(crate) async fn copy_ordered<R: Rows>(
    parts: &[&R],
    order: &[(u32, u32)],
    conn: &mut PgConnection,
    tables: &Tables,
) -> Result<(), sqlx::Error> {
    let sql = copy_in(R::TABLE, &tables.name(R::TABLE.name));
    for r in chunks(order.len()) {
        let mut copy = CopyRows::new();
        for &(part, i) in &order[r] {
            parts[part as usize].copy_row(i as usize, &mut copy)?;
        }
        copy.send(&mut *conn, &sql).await?;
    }
    Ok(())
}

/// Writes `rows` into the live tables of a SQLite database, one upsert per row.
pub(crate) async fn write_sqlite<R: Rows>(
    rows: &R,
    conn: &mut SqliteConnection,
) -> Result<(), sqlx::Error> {
    let sql = upsert_sqlite(R::TABLE, &quote_ident(R::TABLE.name));
    for i in 0..rows.len() {
        rows.bind_sqlite(i, sqlx::query(&sql))?
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The write of `rows` as the CTE `<table>_rows` of the live append statement, its parameters
/// from `*next` (moved past them); nothing when there are no rows, unless `even_empty` (the
/// statement then always has a CTE after its own).
pub(crate) fn append_cte<R: Rows>(
    rows: &R,
    even_empty: bool,
    next: &mut usize,
    ctes: &mut Vec<String>,
) {
    if rows.len() == 0 && !even_empty {
        return;
    }
    let sql = upsert_pg(R::TABLE, &quote_ident(R::TABLE.name), *next, true);
    *next = param_count(&sql) + 1;
    ctes.push(format!("{}_rows AS ({sql})", R::TABLE.name));
}

/// Binds the parameters of [`append_cte`] with the same `even_empty`.
pub(crate) fn bind_append<'q, R: Rows>(
    rows: &'q R,
    even_empty: bool,
    q: PgQuery<'q>,
) -> PgQuery<'q> {
    match rows.len() {
        0 if !even_empty => q,
        n => rows.bind_pg(0..n, false, q),
    }
}
