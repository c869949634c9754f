//! Audit on SQLite: every event read in chain order in one read transaction (a WAL snapshot, so
//! appends go on and are not seen) and checked by the same [`ChainCheck`] as on PostgreSQL.
//! Payload and metadata are stored as JSON text, hashes as BLOBs, `recorded_at` as fixed-width
//! UTC text; the canonical form hashes values, not spelling, so the hashes computed at append time
//! are recomputed exactly. And the Event Manager's records, in SQLite's SQL.

use async_trait::async_trait;
use futures::TryStreamExt;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::{Connection, QueryBuilder, Row, Sqlite};
use uuid::fmt::Hyphenated;
use uuid::Uuid;

use crate::db::sqlite::{id as text_id, ts_bound};
use crate::db::Lite;
use crate::store::audit::{
    Audit, AuditReport, ChainCheck, ChainRow, StatusChange, StatusChangeFilter,
    STATUS_CHANGE_COLUMNS,
};
use crate::store::visibility::ENTITIES;

pub(crate) struct SqliteAudit(pub Lite);

#[async_trait]
impl Audit for SqliteAudit {
    async fn verify(&self) -> Result<AuditReport, anyhow::Error> {
        let mut conn = self.0.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let mut rows = sqlx::query_as::<_, ChainRow>(
            "SELECT global_position, aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, recorded_at, prev_hash, hash \
             FROM events ORDER BY aggregate_type, aggregate_id, sequence",
        )
        .fetch(&mut *tx);
        let mut check = ChainCheck::default();
        while let Some(row) = rows.try_next().await? {
            check.push(row.into())?;
        }
        drop(rows);
        tx.rollback().await?;
        Ok(check.finish())
    }

    /// No LATERAL on SQLite; the page does not refer to the count, so a plain join does.
    async fn status_changes(
        &self,
        filter: &StatusChangeFilter,
        legal_entity: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<StatusChange>), sqlx::Error> {
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT t.total, p.* FROM (SELECT count(*) AS total FROM status_change_events e",
        );
        push_conditions(&mut sql, filter, legal_entity);
        sql.push(") t LEFT JOIN (SELECT ")
            .push(STATUS_CHANGE_COLUMNS)
            .push(" FROM status_change_events e");
        push_conditions(&mut sql, filter, legal_entity);
        sql.push(" ORDER BY e.event_time, e.global_position LIMIT ")
            .push_bind(limit)
            .push(" OFFSET ")
            .push_bind(offset)
            .push(") p ON 1 ORDER BY p.event_time, p.global_position");
        let rows = sql.build().fetch_all(&self.0.pool).await?;
        let total: i64 = rows.first().map_or(0, |r| r.get("total"));
        let records = rows
            .iter()
            .filter(|r| r.get::<Option<String>, _>("id").is_some())
            .map(status_change)
            .collect();
        Ok((total, records))
    }

    async fn status_change(
        &self,
        id: Uuid,
        legal_entity: Uuid,
    ) -> Result<Option<StatusChange>, sqlx::Error> {
        let mut sql = QueryBuilder::<Sqlite>::new("SELECT ");
        sql.push(STATUS_CHANGE_COLUMNS)
            .push(" FROM status_change_events e");
        push_conditions(&mut sql, &StatusChangeFilter::default(), legal_entity);
        sql.push(" AND e.id = ").push_bind(text_id(id));
        let row = sql.build().fetch_optional(&self.0.pool).await?;
        Ok(row.as_ref().map(status_change))
    }
}

fn status_change(row: &SqliteRow) -> StatusChange {
    let uuid = |column: &str| row.get::<Hyphenated, _>(column).into_uuid();
    StatusChange {
        id: uuid("id"),
        event_type: row.get("event_type"),
        entity_type: row.get("entity_type"),
        entity_id: uuid("entity_id"),
        properties: row.get::<Json<Value>, _>("properties").0,
        event_time: row.get("event_time"),
        changed_by: uuid("changed_by"),
    }
}

/// The conditions in SQLite's SQL: uuids and instants bound as the text they are stored as, and
/// the `properties` tests through JSON1 (`json_each` finds a top-level key whatever characters it
/// holds, where a `json_extract` path would have to quote it).
fn push_conditions(
    sql: &mut QueryBuilder<'_, Sqlite>,
    filter: &StatusChangeFilter,
    legal_entity: Uuid,
) {
    sql.push(" WHERE ");
    push_visible_to(sql, legal_entity);
    if let Some(since) = filter.since {
        sql.push(" AND e.event_time >= ").push_bind(ts_bound(since));
    }
    if let Some(event_type) = &filter.event_type {
        sql.push(" AND e.event_type = ")
            .push_bind(event_type.clone());
    }
    if let Some(entity_type) = &filter.entity_type {
        sql.push(" AND e.entity_type = ")
            .push_bind(entity_type.clone());
    }
    if let Some(entity_id) = filter.entity_id {
        sql.push(" AND e.entity_id = ")
            .push_bind(text_id(entity_id));
    }
    match (&filter.attribute_name, &filter.new_value) {
        (Some(name), Some(value)) => {
            // `->> 'new_value'` of PostgreSQL: the text of the member of an object, NULL for
            // any other value (the CASE keeps json_extract away from a non-JSON atom).
            sql.push(" AND EXISTS (SELECT 1 FROM json_each(e.properties) AS p WHERE p.key = ")
                .push_bind(name.clone())
                .push(
                    " AND CASE WHEN p.type = 'object' \
                     THEN CAST(json_extract(p.value, '$.new_value') AS TEXT) END = ",
                )
                .push_bind(value.clone())
                .push(")");
        }
        (Some(name), None) => {
            sql.push(" AND EXISTS (SELECT 1 FROM json_each(e.properties) AS p WHERE p.key = ")
                .push_bind(name.clone())
                .push(")");
        }
        _ => {}
    }
}

/// The tenancy condition ([`crate::store::visibility`]) in SQLite's SQL: a row value `IN` a
/// subquery (SQLite 3.15 and later), lists of legal entities searched with `json_each`.
fn push_visible_to(sql: &mut QueryBuilder<'_, Sqlite>, legal_entity: Uuid) {
    let legal_entity = text_id(legal_entity);
    sql.push("(e.entity_type, e.entity_id) IN (");
    for (i, entity) in ENTITIES.iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push(format_args!(
            "SELECT '{}', id FROM {} WHERE ",
            entity.entity_type, entity.table
        ));
        for (j, owner) in entity.owners.iter().enumerate() {
            if j > 0 {
                sql.push(" OR ");
            }
            sql.push(format_args!("{owner} = ")).push_bind(legal_entity);
        }
        if let Some((column, _)) = entity.granted {
            sql.push(format_args!(
                " OR EXISTS (SELECT 1 FROM json_each({column}) WHERE value = "
            ))
            .push_bind(legal_entity)
            .push(")");
        }
    }
    sql.push(")");
}
