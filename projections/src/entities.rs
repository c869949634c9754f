//! The typed current-state table of each aggregate. The row's `document` is the aggregate's state;
//! the typed columns are what analysts and the service filter on. Events are applied with the
//! aggregate's own `apply`, so the read side can never disagree with the write side.

use cqrs_es::Aggregate;
use ehealth_aggregates::{Approval, DeviceDispense, MergeRequest, ServiceRequest};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::status::{self, ChangeRecord};
use crate::{ProjectionError, StoredEvent};

/// What the projection needs to know of an aggregate.
pub(crate) trait Projected: Aggregate {
    const TABLE: &'static str;
    /// The attributes whose changes go to the status history and the feed.
    fn tracked(&self) -> Vec<(&'static str, Option<String>)>;
    /// When the last applied event happened (the feed's `event_time`).
    fn changed_at(&self) -> Option<chrono::DateTime<chrono::Utc>>;
    fn write_row(
        &self,
        conn: &mut PgConnection,
        version: i64,
        document: &Value,
    ) -> impl std::future::Future<Output = Result<(), sqlx::Error>> + Send;
}

/// The stored state of one entity, if it exists.
pub async fn load_document(
    conn: &mut PgConnection,
    table: &str,
    id: Uuid,
) -> Result<Option<Value>, sqlx::Error> {
    // `table` is one of our four constants, never user input.
    let sql = format!("SELECT document FROM {table} WHERE id = $1");
    sqlx::query_scalar(&sql).bind(id).fetch_optional(conn).await
}

pub(crate) async fn project_run<A: Projected>(
    conn: &mut PgConnection,
    run: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let Some(last) = run.last() else {
        return Ok(());
    };
    let id = Uuid::parse_str(&last.aggregate_id)
        .map_err(|_| ProjectionError::BadId(last.aggregate_id.clone()))?;
    let mut state: A = match load_document(conn, A::TABLE, id).await? {
        Some(doc) => serde_json::from_value(doc).map_err(|source| ProjectionError::Document {
            table: A::TABLE,
            id: id.to_string(),
            source,
        })?,
        None => A::default(),
    };
    for stored in run {
        let event: A::Event = serde_json::from_value(stored.payload.clone()).map_err(|source| {
            ProjectionError::Payload {
                aggregate_type: stored.aggregate_type.clone(),
                aggregate_id: stored.aggregate_id.clone(),
                sequence: stored.sequence,
                source,
            }
        })?;
        let before = state.tracked();
        let creation = before.iter().all(|(_, v)| v.is_none());
        state.apply(event);
        let changes = status::changes(&before, &state.tracked());
        let rec = ChangeRecord {
            entity_type: A::TYPE,
            entity_id: id,
            sequence: stored.sequence,
            global_position: stored.global_position,
            changed_by: stored.user_id(),
            changed_at: state.changed_at().unwrap_or(stored.recorded_at),
            creation,
        };
        status::record(conn, &rec, &changes).await?;
    }
    let document = serde_json::to_value(&state).map_err(|source| ProjectionError::Document {
        table: A::TABLE,
        id: id.to_string(),
        source,
    })?;
    state.write_row(conn, last.sequence, &document).await?;
    Ok(())
}

impl Projected for ServiceRequest {
    const TABLE: &'static str = "service_requests";

    fn tracked(&self) -> Vec<(&'static str, Option<String>)> {
        let sr = self.record.as_ref();
        vec![
            ("status", sr.map(|s| s.status.as_str().to_string())),
            (
                "program_processing_status",
                sr.and_then(|s| s.program_processing_status)
                    .map(|p| p.as_str().to_string()),
            ),
        ]
    }

    fn changed_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    async fn write_row(
        &self,
        conn: &mut PgConnection,
        version: i64,
        document: &Value,
    ) -> Result<(), sqlx::Error> {
        let Some(sr) = &self.record else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO service_requests (id, patient_id, status, program_processing_status, \
             requester_employee_id, requester_legal_entity_id, used_by_employee_id, \
             used_by_legal_entity_id, status_reason, inserted_at, updated_at, updated_by, version, document) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) \
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
             program_processing_status = EXCLUDED.program_processing_status, \
             requester_employee_id = EXCLUDED.requester_employee_id, \
             requester_legal_entity_id = EXCLUDED.requester_legal_entity_id, \
             used_by_employee_id = EXCLUDED.used_by_employee_id, \
             used_by_legal_entity_id = EXCLUDED.used_by_legal_entity_id, \
             status_reason = EXCLUDED.status_reason, updated_at = EXCLUDED.updated_at, \
             updated_by = EXCLUDED.updated_by, version = EXCLUDED.version, document = EXCLUDED.document \
             WHERE service_requests.version < EXCLUDED.version",
        )
        .bind(sr.id)
        .bind(sr.patient_id)
        .bind(sr.status.as_str())
        .bind(sr.program_processing_status.map(|p| p.as_str()))
        .bind(sr.requester_employee)
        .bind(sr.requester_legal_entity)
        .bind(sr.used_by_employee)
        .bind(sr.used_by_legal_entity)
        .bind(&sr.status_reason)
        .bind(sr.inserted_at)
        .bind(sr.updated_at)
        .bind(sr.updated_by)
        .bind(version)
        .bind(document)
        .execute(conn)
        .await?;
        Ok(())
    }
}

impl Projected for MergeRequest {
    const TABLE: &'static str = "merge_requests";

    fn tracked(&self) -> Vec<(&'static str, Option<String>)> {
        vec![(
            "status",
            self.record.as_ref().map(|m| m.status.as_str().to_string()),
        )]
    }

    fn changed_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    async fn write_row(
        &self,
        conn: &mut PgConnection,
        version: i64,
        document: &Value,
    ) -> Result<(), sqlx::Error> {
        let Some(mr) = &self.record else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO merge_requests (id, master_person_id, merge_person_id, status, \
             legal_entity_id, inserted_by, inserted_at, updated_by, updated_at, version, document) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) \
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
             updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at, \
             version = EXCLUDED.version, document = EXCLUDED.document \
             WHERE merge_requests.version < EXCLUDED.version",
        )
        .bind(mr.id)
        .bind(mr.master_person_id)
        .bind(mr.merge_person_id)
        .bind(mr.status.as_str())
        .bind(mr.legal_entity_id)
        .bind(mr.inserted_by)
        .bind(mr.inserted_at)
        .bind(mr.updated_by)
        .bind(mr.updated_at)
        .bind(version)
        .bind(document)
        .execute(conn)
        .await?;
        Ok(())
    }
}

impl Projected for DeviceDispense {
    const TABLE: &'static str = "device_dispenses";

    fn tracked(&self) -> Vec<(&'static str, Option<String>)> {
        vec![(
            "status",
            self.record.as_ref().map(|d| d.status.as_str().to_string()),
        )]
    }

    fn changed_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    async fn write_row(
        &self,
        conn: &mut PgConnection,
        version: i64,
        document: &Value,
    ) -> Result<(), sqlx::Error> {
        let Some(dd) = &self.record else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO device_dispenses (id, patient_id, status, performer_legal_entity_id, \
             inserted_at, updated_at, updated_by, version, document) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) \
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
             updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, \
             version = EXCLUDED.version, document = EXCLUDED.document \
             WHERE device_dispenses.version < EXCLUDED.version",
        )
        .bind(dd.id)
        .bind(dd.patient_id)
        .bind(dd.status.as_str())
        .bind(dd.performer_legal_entity)
        .bind(dd.inserted_at)
        .bind(dd.updated_at)
        .bind(dd.updated_by)
        .bind(version)
        .bind(document)
        .execute(conn)
        .await?;
        Ok(())
    }
}

impl Projected for Approval {
    const TABLE: &'static str = "approvals";

    fn tracked(&self) -> Vec<(&'static str, Option<String>)> {
        vec![(
            "status",
            self.record.as_ref().map(|a| a.status.as_str().to_string()),
        )]
    }

    fn changed_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    async fn write_row(
        &self,
        conn: &mut PgConnection,
        version: i64,
        document: &Value,
    ) -> Result<(), sqlx::Error> {
        let Some(a) = &self.record else { return Ok(()) };
        sqlx::query(
            "INSERT INTO approvals (id, patient_id, status, reason_service_request, granted_to, \
             legal_entity_id, otp_expires_at, inserted_at, updated_at, updated_by, version, document) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) \
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
             otp_expires_at = EXCLUDED.otp_expires_at, \
             updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, \
             version = EXCLUDED.version, document = EXCLUDED.document \
             WHERE approvals.version < EXCLUDED.version",
        )
        .bind(a.id)
        .bind(a.patient_id)
        .bind(a.status.as_str())
        .bind(a.reason_service_request)
        .bind(a.granted_to)
        .bind(a.legal_entity_id)
        .bind(a.otp.as_ref().map(|o| o.expires_at))
        .bind(a.inserted_at)
        .bind(a.updated_at)
        .bind(a.updated_by)
        .bind(version)
        .bind(document)
        .execute(conn)
        .await?;
        Ok(())
    }
}
