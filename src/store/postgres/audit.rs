//! Audit on PostgreSQL: the chain walk (in one repeatable-read snapshot), the one-time backfill
//! that hashes events appended before hashes existed, and the Event Manager's records.

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgPool, Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::store::audit::{
    chain_columns, chain_query, push_visible_to, status_changes_query, Audit, AuditReport,
    AuditRow, ChainCheck, ChainRow, StatusChange, StatusChangeFilter, STATUS_CHANGE_COLUMNS,
};

/// Key of the session advisory lock that keeps two instances from backfilling at once.
const BACKFILL_LOCK: i64 = 0x6568_6561_6c74_6802;
const BACKFILL_CHUNK: i64 = 5_000;

pub(crate) struct PgAudit(pub PgPool);

#[async_trait]
impl Audit for PgAudit {
    async fn verify(&self) -> Result<AuditReport, anyhow::Error> {
        let mut conn = self.0.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let sql = chain_query("::text");
        let report = ChainCheck::all(sqlx::query_as::<_, ChainRow>(&sql).fetch(&mut *tx)).await;
        tx.rollback().await?;
        report
    }

    async fn status_changes(
        &self,
        filter: &StatusChangeFilter,
        legal_entity: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(i64, Vec<StatusChange>), sqlx::Error> {
        let mut sql = status_changes_query(filter, legal_entity, (limit, offset), push_conditions);
        let rows = sql.build().fetch_all(&self.0).await?;
        let total: i64 = rows.first().map_or(0, |r| r.get("total"));
        let records = rows
            .iter()
            .filter(|r| r.get::<Option<Uuid>, _>("id").is_some())
            .map(status_change)
            .collect();
        Ok((total, records))
    }

    async fn status_change(
        &self,
        id: Uuid,
        legal_entity: Uuid,
    ) -> Result<Option<StatusChange>, sqlx::Error> {
        let mut sql = QueryBuilder::<Postgres>::new("SELECT ");
        sql.push(STATUS_CHANGE_COLUMNS)
            .push(" FROM status_change_events e");
        push_conditions(&mut sql, &StatusChangeFilter::default(), legal_entity);
        sql.push(" AND e.id = ").push_bind(id);
        let row = sql.build().fetch_optional(&self.0).await?;
        Ok(row.as_ref().map(status_change))
    }
}

fn status_change(row: &PgRow) -> StatusChange {
    StatusChange {
        id: row.get("id"),
        event_type: row.get("event_type"),
        entity_type: row.get("entity_type"),
        entity_id: row.get("entity_id"),
        properties: row.get("properties"),
        event_time: row.get("event_time"),
        changed_by: row.get("changed_by"),
    }
}

fn push_conditions(
    sql: &mut QueryBuilder<'_, Postgres>,
    filter: &StatusChangeFilter,
    legal_entity: Uuid,
) {
    sql.push(" WHERE ");
    push_visible_to(sql, legal_entity);
    if let Some(since) = filter.since {
        sql.push(" AND e.event_time >= ").push_bind(since);
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
        sql.push(" AND e.entity_id = ").push_bind(entity_id);
    }
    match (&filter.attribute_name, &filter.new_value) {
        (Some(name), Some(value)) => {
            sql.push(" AND e.properties -> ")
                .push_bind(name.clone())
                .push(" ->> 'new_value' = ")
                .push_bind(value.clone());
        }
        (Some(name), None) => {
            sql.push(" AND e.properties ? ").push_bind(name.clone());
        }
        _ => {}
    }
}

/// Hashes the events appended before migration 0005 (`hash IS NULL`), chain by chain, then
/// validates the constraint that every event has a hash. Runs with `migrate`; a no-op once done.
/// Those hashes attest the log as it was at the backfill, not as it was first written.
pub(crate) async fn backfill(pool: &PgPool) -> Result<u64, sqlx::Error> {
    let validated: Option<bool> = sqlx::query_scalar(
        "SELECT convalidated FROM pg_constraint \
         WHERE conname = 'events_hash_present' AND conrelid = 'events'::regclass",
    )
    .fetch_optional(pool)
    .await?;
    if validated != Some(false) {
        return Ok(0);
    }
    // A detached connection: the session lock goes away with it, whatever happens.
    let mut conn = pool.acquire().await?.detach();
    // Hashing a long log takes longer than a request may: no statement or lock timeout here.
    sqlx::raw_sql("SET statement_timeout = 0; SET lock_timeout = 0")
        .execute(&mut conn)
        .await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(BACKFILL_LOCK)
        .execute(&mut conn)
        .await?;
    let mut hashed = 0u64;
    let mut after: (String, String, i64) = (String::new(), String::new(), 0);
    loop {
        let sql = format!(
            "SELECT {} FROM events \
             WHERE hash IS NULL AND (aggregate_type, aggregate_id, sequence) > ($1, $2, $3) \
             ORDER BY aggregate_type, aggregate_id, sequence LIMIT $4",
            chain_columns("::text")
        );
        let rows: Vec<AuditRow> = sqlx::query_as::<_, ChainRow>(&sql)
            .bind(&after.0)
            .bind(&after.1)
            .bind(after.2)
            .bind(BACKFILL_CHUNK)
            .fetch_all(&mut conn)
            .await?
            .into_iter()
            .map(AuditRow::from)
            .collect();
        let Some(last) = rows.last() else { break };
        after = (
            last.aggregate_type.clone(),
            last.aggregate_id.clone(),
            last.sequence,
        );
        let mut heads: HashMap<(String, String), (i64, Vec<u8>)> = HashMap::new();
        let (mut types, mut ids, mut seqs, mut prevs, mut hashes) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut tx = conn.begin().await?;
        for row in &rows {
            let key = (row.aggregate_type.clone(), row.aggregate_id.clone());
            let prev: Option<Vec<u8>> = match heads.get(&key) {
                Some((seq, hash)) if *seq == row.sequence - 1 => Some(hash.clone()),
                _ if row.sequence > 1 => sqlx::query_scalar(
                    "SELECT hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 \
                     AND sequence = $3",
                )
                .bind(&row.aggregate_type)
                .bind(&row.aggregate_id)
                .bind(row.sequence - 1)
                .fetch_optional(&mut *tx)
                .await?
                .flatten(),
                _ => None,
            };
            let hash = row
                .hash_after(prev.as_deref())
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            heads.insert(key, (row.sequence, hash.clone()));
            types.push(row.aggregate_type.clone());
            ids.push(row.aggregate_id.clone());
            seqs.push(row.sequence);
            prevs.push(prev);
            hashes.push(hash);
        }
        sqlx::query(
            "UPDATE events e SET prev_hash = u.prev_hash, hash = u.hash \
             FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::bytea[]) \
               AS u(aggregate_type, aggregate_id, sequence, prev_hash, hash) \
             WHERE e.aggregate_type = u.aggregate_type AND e.aggregate_id = u.aggregate_id \
               AND e.sequence = u.sequence AND e.hash IS NULL",
        )
        .bind(&types)
        .bind(&ids)
        .bind(&seqs)
        .bind(&prevs)
        .bind(&hashes)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        hashed += rows.len() as u64;
    }
    sqlx::query("ALTER TABLE events VALIDATE CONSTRAINT events_hash_present")
        .execute(&mut conn)
        .await?;
    if hashed > 0 {
        tracing::info!(
            hashed,
            "hashed the events appended before hash chains existed"
        );
    }
    Ok(hashed)
}
