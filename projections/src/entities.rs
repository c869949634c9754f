//! The typed current-state table of each aggregate. The row's `document` is the aggregate's state;
//! the typed columns are what analysts and the service filter on. Events are applied with the
//! aggregate's own `apply`, so the read side can never disagree with the write side.
//!
//! Rows are gathered column by column ([`Projected::push_row`], pure) and written with one
//! multi-row `INSERT … SELECT FROM UNNEST … ON CONFLICT (id) DO UPDATE` per chunk
//! ([`Projected::write`]); the live path writes one row that way, a rebuild thousands. A
//! rebuild's first load into tables without keys copies the same values in (`copy` module).

mod care_plan_activity;

use std::future::Future;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use ehealth_aggregates::{Approval, DeviceDispense, MergeRequest, ServiceRequest};
use serde_json::Value;
use sqlx::{PgConnection, SqliteConnection};
use uuid::Uuid;

use crate::copy::CopyRows;
use crate::rows::{chunks, renumber, PgQuery, WriteMode};
use crate::sqlite::{id, opt_id, opt_ts, ts};
use crate::status::Tracked;

/// What the projection needs to know of an aggregate.
pub(crate) trait Projected: Aggregate {
    const TABLE: &'static str;
    /// The table's rows waiting to be written, one `Vec` per column.
    type Columns: Default + crate::rows::Absorb + Send + Sync + 'static;
    /// The attributes whose changes go to the status history and the feed.
    fn tracked(&self) -> Tracked;
    /// When the last applied event happened (the feed's `event_time`).
    fn changed_at(&self) -> Option<DateTime<Utc>>;
    /// Appends this entity's row (nothing while it has no record).
    fn push_row(&self, version: i64, columns: &mut Self::Columns) -> Result<(), serde_json::Error>;
    fn row_count(columns: &Self::Columns) -> usize;
    /// Writes the rows: upserts, where a row never replaces a newer version of itself; or, in
    /// [`WriteMode::Load`], a binary COPY into a table without keys that holds none of them.
    fn write(
        columns: &Self::Columns,
        conn: &mut PgConnection,
        table: &str,
        mode: WriteMode,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
    /// [`write`](Self::write)'s upsert on SQLite: one `INSERT … ON CONFLICT (id) DO UPDATE … WHERE
    /// version < excluded.version` per row, the same columns updated.
    /// The upsert of [`write`](Self::write), its parameters numbered from `$first` (the live path
    /// embeds it in the append statement).
    fn upsert_sql(table: &str, first: usize) -> String;
    /// Binds the upsert's parameters: the rows `r` of `columns`, column by column.
    fn bind_upsert<'q>(
        columns: &'q Self::Columns,
        r: std::ops::Range<usize>,
        q: PgQuery<'q>,
    ) -> PgQuery<'q>;
    fn write_sqlite(
        columns: &Self::Columns,
        conn: &mut SqliteConnection,
        table: &str,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// The stored state of one entity, if it exists.
pub async fn load_document(
    conn: &mut PgConnection,
    table: &str,
    id: Uuid,
) -> Result<Option<Value>, sqlx::Error> {
    // `table` is one of our constants, never user input.
    let sql = format!("SELECT document FROM {table} WHERE id = $1");
    sqlx::query_scalar(&sql).bind(id).fetch_optional(conn).await
}

/// [`load_document`] on SQLite: the stored state of one entity, as its JSON text, if it exists.
pub async fn load_document_sqlite(
    conn: &mut SqliteConnection,
    table: &str,
    entity: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    // `table` is one of our constants, never user input.
    let sql = format!("SELECT document FROM {table} WHERE id = $1");
    sqlx::query_scalar(&sql)
        .bind(id(entity))
        .fetch_optional(conn)
        .await
}

#[derive(Default)]
pub(crate) struct ServiceRequestColumns {
    id: Vec<Uuid>,
    patient_id: Vec<Uuid>,
    status: Vec<&'static str>,
    program_processing_status: Vec<Option<&'static str>>,
    requester_employee_id: Vec<Option<Uuid>>,
    requester_legal_entity_id: Vec<Option<Uuid>>,
    used_by_employee_id: Vec<Option<Uuid>>,
    used_by_legal_entity_id: Vec<Option<Uuid>>,
    status_reason: Vec<Option<String>>,
    inserted_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    updated_by: Vec<Option<Uuid>>,
    version: Vec<i64>,
    document: Vec<String>,
    /// JSON array of the legal entities that released it (they keep seeing it).
    released_by_legal_entity_ids: Vec<String>,
}

crate::rows::absorb_columns!(ServiceRequestColumns {
    id,
    patient_id,
    status,
    program_processing_status,
    requester_employee_id,
    requester_legal_entity_id,
    used_by_employee_id,
    used_by_legal_entity_id,
    status_reason,
    inserted_at,
    updated_at,
    updated_by,
    version,
    document,
    released_by_legal_entity_ids,
});

impl Projected for ServiceRequest {
    const TABLE: &'static str = "service_requests";
    type Columns = ServiceRequestColumns;

    fn tracked(&self) -> Tracked {
        let sr = self.record.as_ref();
        vec![
            ("status", sr.map(|s| s.status.as_str())),
            (
                "program_processing_status",
                sr.and_then(|s| s.program_processing_status)
                    .map(|p| p.as_str()),
            ),
        ]
    }

    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    fn push_row(&self, version: i64, c: &mut Self::Columns) -> Result<(), serde_json::Error> {
        let Some(sr) = &self.record else {
            return Ok(());
        };
        c.document.push(serde_json::to_string(self)?);
        c.id.push(sr.id);
        c.patient_id.push(sr.patient_id);
        c.status.push(sr.status.as_str());
        c.program_processing_status
            .push(sr.program_processing_status.map(|p| p.as_str()));
        c.requester_employee_id.push(sr.requester_employee);
        c.requester_legal_entity_id.push(sr.requester_legal_entity);
        c.used_by_employee_id.push(sr.used_by_employee);
        c.used_by_legal_entity_id.push(sr.used_by_legal_entity);
        c.status_reason
            .push(sr.status_reason.as_ref().map(Value::to_string));
        c.inserted_at.push(sr.inserted_at);
        c.updated_at.push(sr.updated_at);
        c.updated_by.push(sr.updated_by);
        c.version.push(version);
        c.released_by_legal_entity_ids
            .push(serde_json::to_string(&sr.released_by)?);
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
                    copy.row(15);
                    copy.uuid(c.id[i]);
                    copy.uuid(c.patient_id[i]);
                    copy.text(c.status[i]);
                    copy.opt_text(c.program_processing_status[i]);
                    copy.opt_uuid(c.requester_employee_id[i]);
                    copy.opt_uuid(c.requester_legal_entity_id[i]);
                    copy.opt_uuid(c.used_by_employee_id[i]);
                    copy.opt_uuid(c.used_by_legal_entity_id[i]);
                    copy.opt_jsonb(c.status_reason[i].as_deref());
                    copy.timestamptz(c.inserted_at[i])?;
                    copy.timestamptz(c.updated_at[i])?;
                    copy.opt_uuid(c.updated_by[i]);
                    copy.int8(c.version[i]);
                    copy.jsonb(&c.document[i]);
                    copy.jsonb(&c.released_by_legal_entity_ids[i]);
                }
                copy.send(&mut *conn, table, "id, patient_id, status, program_processing_status, requester_employee_id, requester_legal_entity_id, used_by_employee_id, used_by_legal_entity_id, status_reason, inserted_at, updated_at, updated_by, version, document, released_by_legal_entity_ids")
                    .await?;
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
                "INSERT INTO {table} AS t (id, patient_id, status, program_processing_status, \
                 requester_employee_id, requester_legal_entity_id, used_by_employee_id, \
                 used_by_legal_entity_id, status_reason, inserted_at, updated_at, updated_by, version, document, \
                 released_by_legal_entity_ids) \
                 SELECT id, patient_id, status, program_processing_status, requester_employee_id, \
                 requester_legal_entity_id, used_by_employee_id, used_by_legal_entity_id, \
                 status_reason::jsonb, inserted_at, updated_at, updated_by, version, document::jsonb, \
                 released_by_legal_entity_ids::jsonb \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], \
                 $7::uuid[], $8::uuid[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::uuid[], \
                 $13::bigint[], $14::text[], $15::text[]) \
                 AS u(id, patient_id, status, program_processing_status, requester_employee_id, \
                 requester_legal_entity_id, used_by_employee_id, used_by_legal_entity_id, status_reason, \
                 inserted_at, updated_at, updated_by, version, document, released_by_legal_entity_ids) \
                 ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
                 program_processing_status = EXCLUDED.program_processing_status, \
                 requester_employee_id = EXCLUDED.requester_employee_id, \
                 requester_legal_entity_id = EXCLUDED.requester_legal_entity_id, \
                 used_by_employee_id = EXCLUDED.used_by_employee_id, \
                 used_by_legal_entity_id = EXCLUDED.used_by_legal_entity_id, \
                 status_reason = EXCLUDED.status_reason, updated_at = EXCLUDED.updated_at, \
                 updated_by = EXCLUDED.updated_by, version = EXCLUDED.version, document = EXCLUDED.document, \
                 released_by_legal_entity_ids = EXCLUDED.released_by_legal_entity_ids \
                 WHERE t.version < EXCLUDED.version"
            ),
            first,
        )
    }

    fn bind_upsert<'q>(
        c: &'q Self::Columns,
        r: std::ops::Range<usize>,
        q: PgQuery<'q>,
    ) -> PgQuery<'q> {
        q.bind(&c.id[r.clone()])
            .bind(&c.patient_id[r.clone()])
            .bind(&c.status[r.clone()])
            .bind(&c.program_processing_status[r.clone()])
            .bind(&c.requester_employee_id[r.clone()])
            .bind(&c.requester_legal_entity_id[r.clone()])
            .bind(&c.used_by_employee_id[r.clone()])
            .bind(&c.used_by_legal_entity_id[r.clone()])
            .bind(&c.status_reason[r.clone()])
            .bind(&c.inserted_at[r.clone()])
            .bind(&c.updated_at[r.clone()])
            .bind(&c.updated_by[r.clone()])
            .bind(&c.version[r.clone()])
            .bind(&c.document[r.clone()])
            .bind(&c.released_by_legal_entity_ids[r])
    }

    async fn write_sqlite(
        c: &Self::Columns,
        conn: &mut SqliteConnection,
        table: &str,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "INSERT INTO {table} AS t (id, patient_id, status, program_processing_status, \
             requester_employee_id, requester_legal_entity_id, used_by_employee_id, \
             used_by_legal_entity_id, status_reason, inserted_at, updated_at, updated_by, version, document, \
             released_by_legal_entity_ids) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             program_processing_status = excluded.program_processing_status, \
             requester_employee_id = excluded.requester_employee_id, \
             requester_legal_entity_id = excluded.requester_legal_entity_id, \
             used_by_employee_id = excluded.used_by_employee_id, \
             used_by_legal_entity_id = excluded.used_by_legal_entity_id, \
             status_reason = excluded.status_reason, updated_at = excluded.updated_at, \
             updated_by = excluded.updated_by, version = excluded.version, document = excluded.document, \
             released_by_legal_entity_ids = excluded.released_by_legal_entity_ids \
             WHERE t.version < excluded.version"
        );
        for i in 0..c.id.len() {
            sqlx::query(&sql)
                .bind(id(c.id[i]))
                .bind(id(c.patient_id[i]))
                .bind(c.status[i])
                .bind(c.program_processing_status[i])
                .bind(opt_id(c.requester_employee_id[i]))
                .bind(opt_id(c.requester_legal_entity_id[i]))
                .bind(opt_id(c.used_by_employee_id[i]))
                .bind(opt_id(c.used_by_legal_entity_id[i]))
                .bind(c.status_reason[i].as_deref())
                .bind(ts(c.inserted_at[i]))
                .bind(ts(c.updated_at[i]))
                .bind(opt_id(c.updated_by[i]))
                .bind(c.version[i])
                .bind(c.document[i].as_str())
                .bind(c.released_by_legal_entity_ids[i].as_str())
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

#[derive(Default)]
pub(crate) struct MergeRequestColumns {
    id: Vec<Uuid>,
    master_person_id: Vec<Uuid>,
    merge_person_id: Vec<Uuid>,
    status: Vec<&'static str>,
    legal_entity_id: Vec<Uuid>,
    inserted_by: Vec<Uuid>,
    inserted_at: Vec<DateTime<Utc>>,
    updated_by: Vec<Uuid>,
    updated_at: Vec<DateTime<Utc>>,
    version: Vec<i64>,
    document: Vec<String>,
}

crate::rows::absorb_columns!(MergeRequestColumns {
    id,
    master_person_id,
    merge_person_id,
    status,
    legal_entity_id,
    inserted_by,
    inserted_at,
    updated_by,
    updated_at,
    version,
    document,
});

impl Projected for MergeRequest {
    const TABLE: &'static str = "merge_requests";
    type Columns = MergeRequestColumns;

    fn tracked(&self) -> Tracked {
        vec![("status", self.record.as_ref().map(|m| m.status.as_str()))]
    }

    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    fn push_row(&self, version: i64, c: &mut Self::Columns) -> Result<(), serde_json::Error> {
        let Some(mr) = &self.record else {
            return Ok(());
        };
        c.document.push(serde_json::to_string(self)?);
        c.id.push(mr.id);
        c.master_person_id.push(mr.master_person_id);
        c.merge_person_id.push(mr.merge_person_id);
        c.status.push(mr.status.as_str());
        c.legal_entity_id.push(mr.legal_entity_id);
        c.inserted_by.push(mr.inserted_by);
        c.inserted_at.push(mr.inserted_at);
        c.updated_by.push(mr.updated_by);
        c.updated_at.push(mr.updated_at);
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
                    copy.row(11);
                    copy.uuid(c.id[i]);
                    copy.uuid(c.master_person_id[i]);
                    copy.uuid(c.merge_person_id[i]);
                    copy.text(c.status[i]);
                    copy.uuid(c.legal_entity_id[i]);
                    copy.uuid(c.inserted_by[i]);
                    copy.timestamptz(c.inserted_at[i])?;
                    copy.uuid(c.updated_by[i]);
                    copy.timestamptz(c.updated_at[i])?;
                    copy.int8(c.version[i]);
                    copy.jsonb(&c.document[i]);
                }
                copy.send(&mut *conn, table, "id, master_person_id, merge_person_id, status, legal_entity_id, inserted_by, inserted_at, updated_by, updated_at, version, document")
                    .await?;
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
                "INSERT INTO {table} AS t (id, master_person_id, merge_person_id, status, \
                 legal_entity_id, inserted_by, inserted_at, updated_by, updated_at, version, document) \
                 SELECT id, master_person_id, merge_person_id, status, legal_entity_id, inserted_by, \
                 inserted_at, updated_by, updated_at, version, document::jsonb \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::uuid[], \
                 $7::timestamptz[], $8::uuid[], $9::timestamptz[], $10::bigint[], $11::text[]) \
                 AS u(id, master_person_id, merge_person_id, status, legal_entity_id, inserted_by, \
                 inserted_at, updated_by, updated_at, version, document) \
                 ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
                 updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at, \
                 version = EXCLUDED.version, document = EXCLUDED.document \
                 WHERE t.version < EXCLUDED.version"
            ),
            first,
        )
    }

    fn bind_upsert<'q>(
        c: &'q Self::Columns,
        r: std::ops::Range<usize>,
        q: PgQuery<'q>,
    ) -> PgQuery<'q> {
        q.bind(&c.id[r.clone()])
            .bind(&c.master_person_id[r.clone()])
            .bind(&c.merge_person_id[r.clone()])
            .bind(&c.status[r.clone()])
            .bind(&c.legal_entity_id[r.clone()])
            .bind(&c.inserted_by[r.clone()])
            .bind(&c.inserted_at[r.clone()])
            .bind(&c.updated_by[r.clone()])
            .bind(&c.updated_at[r.clone()])
            .bind(&c.version[r.clone()])
            .bind(&c.document[r])
    }

    async fn write_sqlite(
        c: &Self::Columns,
        conn: &mut SqliteConnection,
        table: &str,
    ) -> Result<(), sqlx::Error> {
        let sql = format!(
            "INSERT INTO {table} AS t (id, master_person_id, merge_person_id, status, \
             legal_entity_id, inserted_by, inserted_at, updated_by, updated_at, version, document) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             updated_by = excluded.updated_by, updated_at = excluded.updated_at, \
             version = excluded.version, document = excluded.document \
             WHERE t.version < excluded.version"
        );
        for i in 0..c.id.len() {
            sqlx::query(&sql)
                .bind(id(c.id[i]))
                .bind(id(c.master_person_id[i]))
                .bind(id(c.merge_person_id[i]))
                .bind(c.status[i])
                .bind(id(c.legal_entity_id[i]))
                .bind(id(c.inserted_by[i]))
                .bind(ts(c.inserted_at[i]))
                .bind(id(c.updated_by[i]))
                .bind(ts(c.updated_at[i]))
                .bind(c.version[i])
                .bind(c.document[i].as_str())
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

#[derive(Default)]
pub(crate) struct DeviceDispenseColumns {
    id: Vec<Uuid>,
    patient_id: Vec<Uuid>,
    status: Vec<&'static str>,
    performer_legal_entity_id: Vec<Uuid>,
    inserted_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    updated_by: Vec<Option<Uuid>>,
    version: Vec<i64>,
    document: Vec<String>,
}

crate::rows::absorb_columns!(DeviceDispenseColumns {
    id,
    patient_id,
    status,
    performer_legal_entity_id,
    inserted_at,
    updated_at,
    updated_by,
    version,
    document,
});

impl Projected for DeviceDispense {
    const TABLE: &'static str = "device_dispenses";
    type Columns = DeviceDispenseColumns;

    fn tracked(&self) -> Tracked {
        vec![("status", self.record.as_ref().map(|d| d.status.as_str()))]
    }

    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    fn push_row(&self, version: i64, c: &mut Self::Columns) -> Result<(), serde_json::Error> {
        let Some(dd) = &self.record else {
            return Ok(());
        };
        c.document.push(serde_json::to_string(self)?);
        c.id.push(dd.id);
        c.patient_id.push(dd.patient_id);
        c.status.push(dd.status.as_str());
        c.performer_legal_entity_id.push(dd.performer_legal_entity);
        c.inserted_at.push(dd.inserted_at);
        c.updated_at.push(dd.updated_at);
        c.updated_by.push(dd.updated_by);
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
                    copy.row(9);
                    copy.uuid(c.id[i]);
                    copy.uuid(c.patient_id[i]);
                    copy.text(c.status[i]);
                    copy.uuid(c.performer_legal_entity_id[i]);
                    copy.timestamptz(c.inserted_at[i])?;
                    copy.timestamptz(c.updated_at[i])?;
                    copy.opt_uuid(c.updated_by[i]);
                    copy.int8(c.version[i]);
                    copy.jsonb(&c.document[i]);
                }
                copy.send(&mut *conn, table, "id, patient_id, status, performer_legal_entity_id, inserted_at, updated_at, updated_by, version, document")
                    .await?;
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
                "INSERT INTO {table} AS t (id, patient_id, status, performer_legal_entity_id, \
                 inserted_at, updated_at, updated_by, version, document) \
                 SELECT id, patient_id, status, performer_legal_entity_id, inserted_at, updated_at, \
                 updated_by, version, document::jsonb \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::timestamptz[], \
                 $6::timestamptz[], $7::uuid[], $8::bigint[], $9::text[]) \
                 AS u(id, patient_id, status, performer_legal_entity_id, inserted_at, updated_at, \
                 updated_by, version, document) \
                 ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
                 updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, \
                 version = EXCLUDED.version, document = EXCLUDED.document \
                 WHERE t.version < EXCLUDED.version"
            ),
            first,
        )
    }

    fn bind_upsert<'q>(
        c: &'q Self::Columns,
        r: std::ops::Range<usize>,
        q: PgQuery<'q>,
    ) -> PgQuery<'q> {
        q.bind(&c.id[r.clone()])
            .bind(&c.patient_id[r.clone()])
            .bind(&c.status[r.clone()])
            .bind(&c.performer_legal_entity_id[r.clone()])
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
            "INSERT INTO {table} AS t (id, patient_id, status, performer_legal_entity_id, \
             inserted_at, updated_at, updated_by, version, document) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by, \
             version = excluded.version, document = excluded.document \
             WHERE t.version < excluded.version"
        );
        for i in 0..c.id.len() {
            sqlx::query(&sql)
                .bind(id(c.id[i]))
                .bind(id(c.patient_id[i]))
                .bind(c.status[i])
                .bind(id(c.performer_legal_entity_id[i]))
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

#[derive(Default)]
pub(crate) struct ApprovalColumns {
    id: Vec<Uuid>,
    patient_id: Vec<Uuid>,
    status: Vec<&'static str>,
    reason_service_request: Vec<Option<Uuid>>,
    granted_to: Vec<Option<Uuid>>,
    legal_entity_id: Vec<Option<Uuid>>,
    otp_expires_at: Vec<Option<DateTime<Utc>>>,
    inserted_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    updated_by: Vec<Option<Uuid>>,
    version: Vec<i64>,
    document: Vec<String>,
}

crate::rows::absorb_columns!(ApprovalColumns {
    id,
    patient_id,
    status,
    reason_service_request,
    granted_to,
    legal_entity_id,
    otp_expires_at,
    inserted_at,
    updated_at,
    updated_by,
    version,
    document,
});

impl Projected for Approval {
    const TABLE: &'static str = "approvals";
    type Columns = ApprovalColumns;

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
        c.patient_id.push(a.patient_id);
        c.status.push(a.status.as_str());
        c.reason_service_request.push(a.reason_service_request);
        c.granted_to.push(a.granted_to);
        c.legal_entity_id.push(a.legal_entity_id);
        c.otp_expires_at.push(a.otp.as_ref().map(|o| o.expires_at));
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
                    copy.row(12);
                    copy.uuid(c.id[i]);
                    copy.uuid(c.patient_id[i]);
                    copy.text(c.status[i]);
                    copy.opt_uuid(c.reason_service_request[i]);
                    copy.opt_uuid(c.granted_to[i]);
                    copy.opt_uuid(c.legal_entity_id[i]);
                    copy.opt_timestamptz(c.otp_expires_at[i])?;
                    copy.timestamptz(c.inserted_at[i])?;
                    copy.timestamptz(c.updated_at[i])?;
                    copy.opt_uuid(c.updated_by[i]);
                    copy.int8(c.version[i]);
                    copy.jsonb(&c.document[i]);
                }
                copy.send(&mut *conn, table, "id, patient_id, status, reason_service_request, granted_to, legal_entity_id, otp_expires_at, inserted_at, updated_at, updated_by, version, document")
                    .await?;
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
                "INSERT INTO {table} AS t (id, patient_id, status, reason_service_request, granted_to, \
                 legal_entity_id, otp_expires_at, inserted_at, updated_at, updated_by, version, document) \
                 SELECT id, patient_id, status, reason_service_request, granted_to, legal_entity_id, \
                 otp_expires_at, inserted_at, updated_at, updated_by, version, document::jsonb \
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::uuid[], $6::uuid[], \
                 $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::uuid[], $11::bigint[], \
                 $12::text[]) \
                 AS u(id, patient_id, status, reason_service_request, granted_to, legal_entity_id, \
                 otp_expires_at, inserted_at, updated_at, updated_by, version, document) \
                 ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
                 otp_expires_at = EXCLUDED.otp_expires_at, \
                 updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, \
                 version = EXCLUDED.version, document = EXCLUDED.document \
                 WHERE t.version < EXCLUDED.version"
            ),
            first,
        )
    }

    fn bind_upsert<'q>(
        c: &'q Self::Columns,
        r: std::ops::Range<usize>,
        q: PgQuery<'q>,
    ) -> PgQuery<'q> {
        q.bind(&c.id[r.clone()])
            .bind(&c.patient_id[r.clone()])
            .bind(&c.status[r.clone()])
            .bind(&c.reason_service_request[r.clone()])
            .bind(&c.granted_to[r.clone()])
            .bind(&c.legal_entity_id[r.clone()])
            .bind(&c.otp_expires_at[r.clone()])
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
            "INSERT INTO {table} AS t (id, patient_id, status, reason_service_request, granted_to, \
             legal_entity_id, otp_expires_at, inserted_at, updated_at, updated_by, version, document) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             otp_expires_at = excluded.otp_expires_at, \
             updated_at = excluded.updated_at, updated_by = excluded.updated_by, \
             version = excluded.version, document = excluded.document \
             WHERE t.version < excluded.version"
        );
        for i in 0..c.id.len() {
            sqlx::query(&sql)
                .bind(id(c.id[i]))
                .bind(id(c.patient_id[i]))
                .bind(c.status[i])
                .bind(opt_id(c.reason_service_request[i]))
                .bind(opt_id(c.granted_to[i]))
                .bind(opt_id(c.legal_entity_id[i]))
                .bind(opt_ts(c.otp_expires_at[i]))
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
