//! The typed current-state table of each aggregate (declared in `tables`). The row's `document`
//! is the aggregate's state; the typed columns are what analysts and the service filter on.
//! Events are applied with the aggregate's own `apply`, so the read side can never disagree with
//! the write side.
//!
//! [`Projected::push_row`] is pure: it builds the entity's row from its state. The rows are
//! written with the statements generated from the table's declaration (`table::write`).

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use ehealth_aggregates::{
    Approval, CarePlanActivity, DeviceDispense, MergeRequest, ServiceRequest,
};
use serde_json::Value;
use sqlx::{PgConnection, SqliteConnection};
use uuid::Uuid;

use crate::sqlite::id;
use crate::status::Tracked;
use crate::table::Rows;
use crate::tables::{
    ApprovalRow, ApprovalRows, CarePlanActivityRow, CarePlanActivityRows, DeviceDispenseRow,
    DeviceDispenseRows, MergeRequestRow, MergeRequestRows, ServiceRequestRow, ServiceRequestRows,
};

/// What the projection needs to know of an aggregate.
pub(crate) trait Projected: Aggregate {
    /// The table's rows waiting to be written.
    type Rows: Rows;
    /// The attributes whose changes go to the status history and the feed.
    fn tracked(&self) -> Tracked;
    /// When the last applied event happened (the feed's `event_time`).
    fn changed_at(&self) -> Option<DateTime<Utc>>;
    /// Appends this entity's row (nothing while it has no record).
    fn push_row(&self, version: i64, rows: &mut Self::Rows) -> Result<(), serde_json::Error>;
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

impl Projected for ServiceRequest {
    type Rows = ServiceRequestRows;

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

    fn push_row(&self, version: i64, rows: &mut Self::Rows) -> Result<(), serde_json::Error> {
        let Some(sr) = &self.record else {
            return Ok(());
        };
        rows.push(ServiceRequestRow {
            id: sr.id,
            patient_id: sr.patient_id,
            status: sr.status.as_str(),
            program_processing_status: sr.program_processing_status.map(|p| p.as_str()),
            requester_employee_id: sr.requester_employee,
            requester_legal_entity_id: sr.requester_legal_entity,
            used_by_employee_id: sr.used_by_employee,
            used_by_legal_entity_id: sr.used_by_legal_entity,
            status_reason: sr.status_reason.as_ref().map(Value::to_string),
            inserted_at: sr.inserted_at,
            updated_at: sr.updated_at,
            updated_by: sr.updated_by,
            version,
            document: serde_json::to_string(self)?,
            released_by_legal_entity_ids: serde_json::to_string(&sr.released_by)?,
        });
        Ok(())
    }
}

impl Projected for MergeRequest {
    type Rows = MergeRequestRows;

    fn tracked(&self) -> Tracked {
        vec![("status", self.record.as_ref().map(|m| m.status.as_str()))]
    }

    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    fn push_row(&self, version: i64, rows: &mut Self::Rows) -> Result<(), serde_json::Error> {
        let Some(mr) = &self.record else {
            return Ok(());
        };
        rows.push(MergeRequestRow {
            id: mr.id,
            master_person_id: mr.master_person_id,
            merge_person_id: mr.merge_person_id,
            status: mr.status.as_str(),
            legal_entity_id: mr.legal_entity_id,
            inserted_by: mr.inserted_by,
            inserted_at: mr.inserted_at,
            updated_by: mr.updated_by,
            updated_at: mr.updated_at,
            version,
            document: serde_json::to_string(self)?,
        });
        Ok(())
    }
}

impl Projected for DeviceDispense {
    type Rows = DeviceDispenseRows;

    fn tracked(&self) -> Tracked {
        vec![("status", self.record.as_ref().map(|d| d.status.as_str()))]
    }

    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    fn push_row(&self, version: i64, rows: &mut Self::Rows) -> Result<(), serde_json::Error> {
        let Some(dd) = &self.record else {
            return Ok(());
        };
        rows.push(DeviceDispenseRow {
            id: dd.id,
            patient_id: dd.patient_id,
            status: dd.status.as_str(),
            performer_legal_entity_id: dd.performer_legal_entity,
            inserted_at: dd.inserted_at,
            updated_at: dd.updated_at,
            updated_by: dd.updated_by,
            version,
            document: serde_json::to_string(self)?,
        });
        Ok(())
    }
}

impl Projected for Approval {
    type Rows = ApprovalRows;

    fn tracked(&self) -> Tracked {
        vec![("status", self.record.as_ref().map(|a| a.status.as_str()))]
    }

    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    fn push_row(&self, version: i64, rows: &mut Self::Rows) -> Result<(), serde_json::Error> {
        let Some(a) = &self.record else {
            return Ok(());
        };
        rows.push(ApprovalRow {
            id: a.id,
            patient_id: a.patient_id,
            status: a.status.as_str(),
            reason_service_request: a.reason_service_request,
            granted_to: a.granted_to,
            legal_entity_id: a.legal_entity_id,
            otp_expires_at: a.otp.as_ref().map(|o| o.expires_at),
            inserted_at: a.inserted_at,
            updated_at: a.updated_at,
            updated_by: a.updated_by,
            version,
            document: serde_json::to_string(self)?,
        });
        Ok(())
    }
}

impl Projected for CarePlanActivity {
    type Rows = CarePlanActivityRows;

    fn tracked(&self) -> Tracked {
        vec![("status", self.record.as_ref().map(|a| a.status.as_str()))]
    }

    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.record.as_ref().map(|r| r.updated_at)
    }

    fn push_row(&self, version: i64, rows: &mut Self::Rows) -> Result<(), serde_json::Error> {
        let Some(a) = &self.record else {
            return Ok(());
        };
        rows.push(CarePlanActivityRow {
            id: a.id,
            care_plan_id: a.care_plan_id,
            patient_id: a.patient_id,
            status: a.status.as_str(),
            quantity_value: a.quantity.as_ref().map(|q| q.value.decimal()),
            remaining_quantity_value: a.remaining_quantity.as_ref().map(|q| q.value.decimal()),
            legal_entity_id: a.legal_entity_id,
            changed_by_legal_entity_ids: a.changed_by_legal_entities.clone(),
            inserted_at: a.inserted_at,
            updated_at: a.updated_at,
            updated_by: a.updated_by,
            version,
            document: serde_json::to_string(self)?,
        });
        Ok(())
    }
}
