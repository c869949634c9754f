//! The `care_plan_activities` table: one row per care plan activity. Quantities are `numeric` on
//! PostgreSQL and the exact decimal's text on SQLite; the legal entities that changed an activity
//! are a `uuid[]` on PostgreSQL and a JSON array on SQLite.

use chrono::{DateTime, Utc};
use ehealth_aggregates::CarePlanActivity;
use rust_decimal::Decimal;
use sqlx::{PgConnection, SqliteConnection};
use uuid::Uuid;

use super::Projected;
use crate::copy::CopyRows;
use crate::rows::{chunks, renumber, PgQuery, WriteMode};
use crate::sqlite::{id, opt_id, ts};
use crate::status::Tracked;

const COLUMNS: &str = "id, care_plan_id, patient_id, status, quantity_value, \
    remaining_quantity_value, legal_entity_id, changed_by_legal_entity_ids, inserted_at, \
    updated_at, updated_by, version, document";

/// What an upsert changes: everything but the id and the creation.
const UPDATED: [&str; 10] = [
    "care_plan_id",
    "patient_id",
    "status",
    "quantity_value",
    "remaining_quantity_value",
    "legal_entity_id",
    "changed_by_legal_entity_ids",
    "updated_at",
    "updated_by",
    "version",
];

fn set_clause(excluded: &str) -> String {
    UPDATED
        .iter()
        .chain(["document"].iter())
        .map(|c| format!("{c} = {excluded}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Default)]
pub(crate) struct CarePlanActivityColumns {
    id: Vec<Uuid>,
    care_plan_id: Vec<Uuid>,
    patient_id: Vec<Uuid>,
    status: Vec<&'static str>,
    quantity_value: Vec<Option<Decimal>>,
    remaining_quantity_value: Vec<Option<Decimal>>,
    legal_entity_id: Vec<Uuid>,
    changed_by_legal_entity_ids: Vec<Vec<Uuid>>,
    inserted_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    updated_by: Vec<Option<Uuid>>,
    version: Vec<i64>,
    document: Vec<String>,
}

crate::rows::absorb_columns!(CarePlanActivityColumns {
    id,
    care_plan_id,
    patient_id,
    status,
    quantity_value,
    remaining_quantity_value,
    legal_entity_id,
    changed_by_legal_entity_ids,
    inserted_at,
    updated_at,
    updated_by,
    version,
    document,
});

/// A `uuid[]` literal (`{a,b}`): one text per row binds as `text[]`, each cast to `uuid[]`, since
/// `UNNEST` flattens an array of arrays.
fn pg_array(ids: &[Uuid]) -> String {
    let items: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    format!("{{{}}}", items.join(","))
}

impl Projected for CarePlanActivity {
    const TABLE: &'static str = "care_plan_activities";
    type Columns = CarePlanActivityColumns;

    fn tracked(&self) -> Tracked {
        vec![("status", self.record.as_ref().map(|a| a.status.as_str()))]
    }

    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    fn push_row(&self, version: i64, c: &mut Self::Columns) -> Result<(), serde_json::Error> {
        let Some(a) = &self.record else {
            return Ok(());
        };
        c.document.push(serde_json::to_string(self)?);
        c.id.push(a.id);
        c.care_plan_id.push(a.care_plan_id);
        c.patient_id.push(a.patient_id);
        c.status.push(a.status.as_str());
        c.quantity_value
            .push(a.quantity.as_ref().map(|q| q.value.decimal()));
        c.remaining_quantity_value
            .push(a.remaining_quantity.as_ref().map(|q| q.value.decimal()));
        c.legal_entity_id.push(a.legal_entity_id);
        c.changed_by_legal_entity_ids
            .push(a.changed_by_legal_entities.clone());
        c.inserted_at.push(a.inserted_at);
        c.updated_at.push(a.updated_at);
        c.updated_by.push(a.updated_by);
        c.version.push(version);
        Ok(())
    }

    fn row_count(c: &Self::Columns) -> usize {
        c.id.len()
    }

    async fn write(
        c: &Self::Columns,
        conn: &mut PgConnection,
        table: &str,
        mode: WriteMode,
    ) -> Result<(), sqlx::Error> {
        if mode == WriteMode::Load {
            for r in chunks(c.id.len()) {
                let mut copy = CopyRows::new();
                for i in r {
                    copy.row(13);
                    copy.uuid(c.id[i]);
                    copy.uuid(c.care_plan_id[i]);
                    copy.uuid(c.patient_id[i]);
                    copy.text(c.status[i]);
                    copy.opt_numeric(c.quantity_value[i])?;
                    copy.opt_numeric(c.remaining_quantity_value[i])?;
                    copy.uuid(c.legal_entity_id[i]);
                    copy.uuid_array(&c.changed_by_legal_entity_ids[i]);
                    copy.timestamptz(c.inserted_at[i])?;
                    copy.timestamptz(c.updated_at[i])?;
                    copy.opt_uuid(c.updated_by[i]);
                    copy.int8(c.version[i]);
                    copy.jsonb(&c.document[i]);
                }
                copy.send(&mut *conn, table, COLUMNS).await?;
            }
            return Ok(());
        }
        let sql = Self::upsert_sql(table, 1);
        for r in chunks(c.id.len()) {
            Self::bind_upsert(c, r, sqlx::query(&sql))
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    fn upsert_sql(table: &str, first: usize) -> String {
        renumber(
            &format!(
                "INSERT INTO {table} AS t ({COLUMNS}) \
                 SELECT id, care_plan_id, patient_id, status, quantity_value, \
                 remaining_quantity_value, legal_entity_id, changed_by_legal_entity_ids::uuid[], \
                 inserted_at, updated_at, updated_by, version, document::jsonb \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::numeric[], \
                 $6::numeric[], $7::uuid[], $8::text[], $9::timestamptz[], $10::timestamptz[], \
                 $11::uuid[], $12::bigint[], $13::text[]) AS u({COLUMNS}) \
                 ON CONFLICT (id) DO UPDATE SET {} WHERE t.version < EXCLUDED.version",
                set_clause("EXCLUDED")
            ),
            first,
        )
    }

    fn bind_upsert<'q>(
        c: &'q Self::Columns,
        r: std::ops::Range<usize>,
        q: PgQuery<'q>,
    ) -> PgQuery<'q> {
        let changed_by: Vec<String> = c.changed_by_legal_entity_ids[r.clone()]
            .iter()
            .map(|ids| pg_array(ids))
            .collect();
        q.bind(&c.id[r.clone()])
            .bind(&c.care_plan_id[r.clone()])
            .bind(&c.patient_id[r.clone()])
            .bind(&c.status[r.clone()])
            .bind(&c.quantity_value[r.clone()])
            .bind(&c.remaining_quantity_value[r.clone()])
            .bind(&c.legal_entity_id[r.clone()])
            .bind(changed_by)
            .bind(&c.inserted_at[r.clone()])
            .bind(&c.updated_at[r.clone()])
            .bind(&c.updated_by[r.clone()])
            .bind(&c.version[r.clone()])
            .bind(&c.document[r])
    }

    async fn write_sqlite(
        c: &Self::Columns,
        conn: &mut SqliteConnection,
        table: &str,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "INSERT INTO {table} AS t ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (id) DO UPDATE SET {} WHERE t.version < excluded.version",
            set_clause("excluded")
        );
        for i in 0..c.id.len() {
            let changed_by = serde_json::to_string(&c.changed_by_legal_entity_ids[i])
                .map_err(|e| sqlx::Error::Encode(e.into()))?;
            sqlx::query(&sql)
                .bind(id(c.id[i]))
                .bind(id(c.care_plan_id[i]))
                .bind(id(c.patient_id[i]))
                .bind(c.status[i])
                .bind(c.quantity_value[i].map(|d| d.to_string()))
                .bind(c.remaining_quantity_value[i].map(|d| d.to_string()))
                .bind(id(c.legal_entity_id[i]))
                .bind(changed_by)
                .bind(ts(c.inserted_at[i]))
                .bind(ts(c.updated_at[i]))
                .bind(opt_id(c.updated_by[i]))
                .bind(c.version[i])
                .bind(c.document[i].as_str())
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legal_entities_bind_as_an_array_literal_per_row() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(0xff);
        assert_eq!(pg_array(&[]), "{}");
        assert_eq!(pg_array(&[a, b]), format!("{{{a},{b}}}"));
    }
}
