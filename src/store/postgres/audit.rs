//! Audit on PostgreSQL: the one-time backfill that hashes events appended before hashes existed,
//! and how the Event Manager's records are filtered in PostgreSQL's SQL. The chain walk is the
//! shared one (`store::audit`), in one repeatable-read snapshot.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgPool, Postgres, QueryBuilder};

use crate::store::audit::{chain_columns, AuditRow, ChainRow};
use crate::store::status_changes::EventManagerSql;

/// Written once for both backends, in `store::audit`.
pub(super) use crate::store::audit::PgAudit;

/// Key of the session advisory lock that keeps two instances from backfilling at once.
const BACKFILL_LOCK: i64 = 0x6568_6561_6c74_6802;
const BACKFILL_CHUNK: i64 = 5_000;

/// The record's `properties` through `jsonb`'s operators.
impl EventManagerSql for Postgres {
    fn push_instant(sql: &mut QueryBuilder<'_, Self>, at: DateTime<Utc>) {
        sql.push_bind(at);
    }

    fn push_property(sql: &mut QueryBuilder<'_, Self>, name: &str, new_value: Option<&str>) {
        match new_value {
            Some(value) => {
                sql.push(" AND e.properties -> ")
                    .push_bind(name.to_owned())
                    .push(" ->> 'new_value' = ")
                    .push_bind(value.to_owned());
            }
            None => {
                sql.push(" AND e.properties ? ").push_bind(name.to_owned());
            }
        }
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
