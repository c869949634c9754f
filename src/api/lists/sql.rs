//! The page query of a list and the reading of its rows, on either backend.
//!
//! Rows are ordered by the listing's order, `(updated_at, id)`, ascending, and a page continues
//! strictly after the previous page's last key. Every query is confined to the caller's legal
//! entity by the entity's visibility rule before any filter applies; each holder of the rule is
//! scanned as its own index-ordered branch of a `UNION ALL`, so the database never has to sort a
//! tenant's whole list.

use chrono::{DateTime, Utc};
use ehealth_aggregates::visibility::Holder;
use ehealth_projections::visibility::{push_does_not_name, push_names, Dialect};
use ehealth_projections::{Column, Sql};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row, Sqlite};
use uuid::fmt::Hyphenated;
use uuid::Uuid;

use super::params::{Bind, ListQuery};
use super::resources::Resource;
use crate::api::error::ApiError;
use crate::api::query_params::sqlite_instant;
use crate::db::Db;

/// A fetched row, the same on both backends.
pub(super) struct ListedRow {
    pub id: Uuid,
    pub updated_at: DateTime<Utc>,
    /// The stored state (JSON pages).
    pub document: Option<Value>,
    /// The CSV cells of the typed columns (CSV pages).
    pub cells: Vec<String>,
}

/// Fetches one page (up to one row more than the limit, which says there is more) as JSON
/// documents or as CSV cells.
pub(super) async fn fetch(
    db: &Db,
    resource: &Resource,
    query: &ListQuery,
    legal_entity: Uuid,
    as_csv: bool,
) -> Result<Vec<ListedRow>, ApiError> {
    let selected = if as_csv {
        resource
            .csv_columns()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        "id, updated_at, document".to_string()
    };
    let columns: Vec<&Column> = resource.csv_columns().collect();
    let columns = if as_csv { &columns[..] } else { &[] };
    Ok(match db {
        Db::Postgres(pool) => match select::<Postgres>(resource, query, legal_entity, &selected) {
            Some(mut sql) => sql
                .build()
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| read(row, columns, !as_csv))
                .collect::<Result<_, sqlx::Error>>()?,
            None => Vec::new(),
        },
        Db::Sqlite(lite) => match select::<Sqlite>(resource, query, legal_entity, &selected) {
            Some(mut sql) => sql
                .build()
                .fetch_all(&lite.pool)
                .await?
                .iter()
                .map(|row| read(row, columns, !as_csv))
                .collect::<Result<_, sqlx::Error>>()?,
            None => Vec::new(),
        },
    })
}

fn read<R: ListRow>(
    row: &R,
    columns: &[&Column],
    document: bool,
) -> Result<ListedRow, sqlx::Error> {
    Ok(ListedRow {
        id: row.id()?,
        updated_at: row.updated_at()?,
        document: document.then(|| row.document()).transpose()?,
        cells: columns
            .iter()
            .map(|c| row.cell(c))
            .collect::<Result<_, _>>()?,
    })
}

/// What differs between the backends in a page query beyond the visibility conditions: how
/// values are bound (SQLite stores instants as text, see `db::sqlite`) and how a branch opens.
pub(super) trait ListDialect: Dialect {
    /// How a branch of the page query opens (it closes with `)`): PostgreSQL takes a
    /// parenthesized `SELECT … ORDER BY … LIMIT` as a member of a `UNION ALL`, SQLite only as a
    /// subquery.
    const BRANCH: &'static str;
    fn push_instant(sql: &mut QueryBuilder<'_, Self>, at: DateTime<Utc>);
    fn push_text<'a>(sql: &mut QueryBuilder<'a, Self>, text: &'a str);
    fn push_int(sql: &mut QueryBuilder<'_, Self>, n: i64);
}

impl ListDialect for Postgres {
    const BRANCH: &'static str = "(";
    fn push_instant(sql: &mut QueryBuilder<'_, Self>, at: DateTime<Utc>) {
        sql.push_bind(at);
    }
    fn push_text<'a>(sql: &mut QueryBuilder<'a, Self>, text: &'a str) {
        sql.push_bind(text);
    }
    fn push_int(sql: &mut QueryBuilder<'_, Self>, n: i64) {
        sql.push_bind(n);
    }
}

impl ListDialect for Sqlite {
    const BRANCH: &'static str = "SELECT * FROM (";
    fn push_instant(sql: &mut QueryBuilder<'_, Self>, at: DateTime<Utc>) {
        sql.push_bind(sqlite_instant(at));
    }
    fn push_text<'a>(sql: &mut QueryBuilder<'a, Self>, text: &'a str) {
        sql.push_bind(text);
    }
    fn push_int(sql: &mut QueryBuilder<'_, Self>, n: i64) {
        sql.push_bind(n);
    }
}

/// The page query: one index-ordered branch per holder of the visibility rule, each limited,
/// merged and limited again. A later branch excludes rows an earlier one already yields, so a
/// service request that its requester also uses appears once. A branch that a filter makes
/// impossible (the caller's requester branch under `requester_legal_entity=<another>`) is left
/// out, and `None` means no branch is left: the answer is empty without asking the database.
pub(super) fn select<'a, D: ListDialect>(
    resource: &Resource,
    query: &'a ListQuery,
    legal_entity: Uuid,
    selected: &str,
) -> Option<QueryBuilder<'a, D>> {
    let rule = resource.visibility;
    let filtered = |column: &str| {
        query.equals.iter().find_map(|(c, v)| match v {
            Bind::Uuid(id) if *c == column => Some(*id),
            _ => None,
        })
    };
    // A holder of one legal entity pinned to the caller by a filter: its branch has every row
    // the caller may see, so the later branches have none.
    let pinned = |holder: &Holder| match holder {
        Holder::One(column) => filtered(column) == Some(legal_entity),
        Holder::Each(_) => false,
    };
    let branches: Vec<usize> = (0..rule.holders.len())
        .filter(|&i| {
            let possible = match rule.holders[i] {
                Holder::One(column) => filtered(column).is_none_or(|id| id == legal_entity),
                Holder::Each(_) => true,
            };
            possible && !rule.holders[..i].iter().any(pinned)
        })
        .collect();
    if branches.is_empty() {
        return None;
    }
    let [first, second] = resource.listing.order;
    let order = format!(" ORDER BY {first}, {second} LIMIT ");
    let fetch = query.limit + 1;
    let mut sql = QueryBuilder::new("");
    if branches.len() > 1 {
        sql.push(format!("SELECT {selected} FROM ("));
    }
    for (n, &i) in branches.iter().enumerate() {
        if n > 0 {
            sql.push(" UNION ALL ");
        }
        // Identifiers come from the constant declarations, never from the request.
        sql.push(format!(
            "{}SELECT {selected} FROM {} WHERE ",
            D::BRANCH,
            resource.table.name,
        ));
        push_names(&mut sql, rule, rule.holders[i], legal_entity);
        for earlier in &rule.holders[..i] {
            sql.push(" AND ");
            push_does_not_name(&mut sql, rule, *earlier, legal_entity);
        }
        for (column, value) in &query.equals {
            sql.push(format!(" AND {column} = "));
            match value {
                Bind::Text(text) => D::push_text(&mut sql, text),
                Bind::Uuid(id) => D::push_uuid(&mut sql, *id),
            };
        }
        for (column, op, at) in &query.ranges {
            sql.push(format!(" AND {column} {op} "));
            D::push_instant(&mut sql, *at);
        }
        if let Some(after) = &query.after {
            sql.push(format!(" AND ({first}, {second}) > ("));
            D::push_instant(&mut sql, after.updated_at);
            sql.push(", ");
            D::push_uuid(&mut sql, after.id);
            sql.push(")");
        }
        sql.push(&order);
        D::push_int(&mut sql, fetch);
        sql.push(")");
    }
    if branches.len() > 1 {
        sql.push(format!(") page{order}"));
        D::push_int(&mut sql, fetch);
    }
    Some(sql)
}

/// A fetched row, read the same way on both backends.
trait ListRow {
    fn id(&self) -> Result<Uuid, sqlx::Error>;
    fn updated_at(&self) -> Result<DateTime<Utc>, sqlx::Error>;
    fn document(&self) -> Result<Value, sqlx::Error>;
    /// The CSV cell of a typed column; NULL is an empty field.
    fn cell(&self, column: &Column) -> Result<String, sqlx::Error>;
}

impl ListRow for PgRow {
    fn id(&self) -> Result<Uuid, sqlx::Error> {
        self.try_get("id")
    }
    fn updated_at(&self) -> Result<DateTime<Utc>, sqlx::Error> {
        self.try_get("updated_at")
    }
    fn document(&self) -> Result<Value, sqlx::Error> {
        self.try_get("document")
    }
    fn cell(&self, column: &Column) -> Result<String, sqlx::Error> {
        let name = column.name;
        Ok(match column.sql {
            Sql::Uuid => self
                .try_get::<Option<Uuid>, _>(name)?
                .map(|id| id.to_string()),
            Sql::Text => self.try_get::<Option<String>, _>(name)?,
            Sql::Timestamptz => self
                .try_get::<Option<DateTime<Utc>>, _>(name)?
                .map(super::csv::instant),
            Sql::Jsonb => self
                .try_get::<Option<Value>, _>(name)?
                .and_then(super::csv::json),
            Sql::Bigint => self.try_get::<Option<i64>, _>(name)?.map(|n| n.to_string()),
            Sql::Numeric => self
                .try_get::<Option<rust_decimal::Decimal>, _>(name)?
                .map(|d| d.to_string()),
            Sql::UuidArray => self
                .try_get::<Option<Vec<Uuid>>, _>(name)?
                .map(|ids| serde_json::json!(ids).to_string()),
        }
        .unwrap_or_default())
    }
}

impl ListRow for SqliteRow {
    fn id(&self) -> Result<Uuid, sqlx::Error> {
        self.try_get::<Hyphenated, _>("id")
            .map(Hyphenated::into_uuid)
    }
    fn updated_at(&self) -> Result<DateTime<Utc>, sqlx::Error> {
        self.try_get("updated_at")
    }
    fn document(&self) -> Result<Value, sqlx::Error> {
        self.try_get::<Json<Value>, _>("document").map(|j| j.0)
    }
    fn cell(&self, column: &Column) -> Result<String, sqlx::Error> {
        let name = column.name;
        Ok(match column.sql {
            Sql::Uuid => self
                .try_get::<Option<Hyphenated>, _>(name)?
                .map(|id| id.into_uuid().to_string()),
            Sql::Text | Sql::Numeric => self.try_get::<Option<String>, _>(name)?,
            Sql::Timestamptz => self
                .try_get::<Option<DateTime<Utc>>, _>(name)?
                .map(super::csv::instant),
            Sql::Jsonb | Sql::UuidArray => self
                .try_get::<Option<Json<Value>>, _>(name)?
                .and_then(|j| super::csv::json(j.0)),
            Sql::Bigint => self.try_get::<Option<i64>, _>(name)?.map(|n| n.to_string()),
        }
        .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests;
