//! The typed current-state table of each aggregate (declared in `tables`). The row's `document`
//! is the aggregate's state; the typed columns are what analysts and the service filter on.
//! Events are applied with the aggregate's own `apply`, so the read side can never disagree with
//! the write side.
//!
//! [`Projected::row`] is pure: it builds the entity's row from its record. The rows are
//! written with the statements generated from the table's declaration (`table::write`).

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use ehealth_aggregates::approval::ApprovalRecord;
use ehealth_aggregates::care_plan_activity::CarePlanActivityRecord;
use ehealth_aggregates::device_dispense::DeviceDispenseRecord;
use ehealth_aggregates::merge_request::MergeRequestRecord;
use ehealth_aggregates::service_request::ServiceRequestRecord;
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

/// What the projection needs to know of an aggregate: its record (the entity, once imported)
/// and how the record makes a row of its table.
pub(crate) trait Projected: Aggregate {
    /// The table's rows waiting to be written.
    type Rows: Rows;
    type Record: Record;
    /// The entity, once it exists.
    fn record(&self) -> Option<&Self::Record>;
    /// The entity's row; `document` is the aggregate's state as JSON.
    fn row(
        record: &Self::Record,
        version: i64,
        document: String,
    ) -> Result<<Self::Rows as Rows>::Row, serde_json::Error>;

    /// The attributes whose changes go to the status history and the feed: the status.
    fn tracked(&self) -> Tracked {
        vec![("status", self.record().map(Record::status))]
    }
    /// When the last applied event happened (the feed's `event_time`).
    fn changed_at(&self) -> Option<DateTime<Utc>> {
        self.record().map(Record::updated_at)
    }
    /// Appends this entity's row (nothing while it has no record).
    fn push_row(&self, version: i64, rows: &mut Self::Rows) -> Result<(), serde_json::Error> {
        if let Some(record) = self.record() {
            rows.push(Self::row(record, version, serde_json::to_string(self)?)?);
        }
        Ok(())
    }
}

/// What every entity's record has: a status and the time of its last change.
pub(crate) trait Record {
    fn status(&self) -> &'static str;
    fn updated_at(&self) -> DateTime<Utc>;
}

macro_rules! record {
    ($($record:ty),*) => {$(
        impl Record for $record {
            fn status(&self) -> &'static str {
                self.status.as_str()
            }
            fn updated_at(&self) -> DateTime<Utc> {
                self.updated_at
            }
        }
    )*};
}

record!(
    ServiceRequestRecord,
    MergeRequestRecord,
    DeviceDispenseRecord,
    ApprovalRecord,
    CarePlanActivityRecord
);

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
    type Record = ServiceRequestRecord;

    fn record(&self) -> Option<&ServiceRequestRecord> {
        self.record.as_ref()
    }

    /// The status and the medical program's processing status.
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

    fn row(
        sr: &ServiceRequestRecord,
        version: i64,
        document: String,
    ) -> Result<ServiceRequestRow, serde_json::Error> {
        Ok(ServiceRequestRow {
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
            document,
            released_by_legal_entity_ids: serde_json::to_string(&sr.released_by)?,
        })
    }
}

impl Projected for MergeRequest {
    type Rows = MergeRequestRows;
    type Record = MergeRequestRecord;

    fn record(&self) -> Option<&MergeRequestRecord> {
        self.record.as_ref()
    }

    fn row(
        mr: &MergeRequestRecord,
        version: i64,
        document: String,
    ) -> Result<MergeRequestRow, serde_json::Error> {
        Ok(MergeRequestRow {
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
            document,
        })
    }
}

impl Projected for DeviceDispense {
    type Rows = DeviceDispenseRows;
    type Record = DeviceDispenseRecord;

    fn record(&self) -> Option<&DeviceDispenseRecord> {
        self.record.as_ref()
    }

    fn row(
        dd: &DeviceDispenseRecord,
        version: i64,
        document: String,
    ) -> Result<DeviceDispenseRow, serde_json::Error> {
        Ok(DeviceDispenseRow {
            id: dd.id,
            patient_id: dd.patient_id,
            status: dd.status.as_str(),
            performer_legal_entity_id: dd.performer_legal_entity,
            inserted_at: dd.inserted_at,
            updated_at: dd.updated_at,
            updated_by: dd.updated_by,
            version,
            document,
        })
    }
}

impl Projected for Approval {
    type Rows = ApprovalRows;
    type Record = ApprovalRecord;

    fn record(&self) -> Option<&ApprovalRecord> {
        self.record.as_ref()
    }

    fn row(
        a: &ApprovalRecord,
        version: i64,
        document: String,
    ) -> Result<ApprovalRow, serde_json::Error> {
        Ok(ApprovalRow {
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
            document,
        })
    }
}

impl Projected for CarePlanActivity {
    type Rows = CarePlanActivityRows;
    type Record = CarePlanActivityRecord;

    fn record(&self) -> Option<&CarePlanActivityRecord> {
        self.record.as_ref()
    }

    fn row(
        a: &CarePlanActivityRecord,
        version: i64,
        document: String,
    ) -> Result<CarePlanActivityRow, serde_json::Error> {
        Ok(CarePlanActivityRow {
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
            document,
        })
    }
}
