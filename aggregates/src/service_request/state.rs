//! The service request's stored state and its eHealth rendering.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::common::{optional_reference, overlay, reference};
pub use crate::status::{ProgramProcessingStatus, ServiceRequestStatus};

/// One entry of `status_history`, as eHealth renders it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusHistoryEntry {
    pub status: ServiceRequestStatus,
    pub status_reason: Option<Value>,
    pub inserted_at: DateTime<Utc>,
    pub inserted_by: Option<Uuid>,
}

/// A service request as this service keeps it: the fields the actions touch are typed; every other
/// field of the imported document is kept verbatim in `other` and rendered back unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceRequestRecord {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub status: ServiceRequestStatus,
    pub program_processing_status: Option<ProgramProcessingStatus>,
    pub requester_employee: Option<Uuid>,
    pub requester_legal_entity: Option<Uuid>,
    pub used_by_employee: Option<Uuid>,
    pub used_by_legal_entity: Option<Uuid>,
    pub status_reason: Option<Value>,
    pub explanatory_letter: Option<String>,
    pub status_history: Vec<StatusHistoryEntry>,
    pub signed_content_links: Vec<String>,
    pub inserted_at: DateTime<Utc>,
    pub inserted_by: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub updated_by: Option<Uuid>,
    pub other: Map<String, Value>,
    /// Legal entities that released the service request: they changed it, so they keep reading
    /// it and its history after their reservation is gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released_by: Vec<Uuid>,
}

/// Keys the recall comparison ignores on both sides.
pub const CONTENT_COMPARISON_IGNORED: [&str; 4] = [
    "status_reason",
    "explanatory_letter",
    "inserted_at",
    "updated_at",
];

impl ServiceRequestRecord {
    /// A legal entity sees a service request it requested, is using, or released (a legal entity
    /// can always read what it changed); nobody else does.
    pub fn visible_to(&self, legal_entity: Uuid) -> bool {
        self.requester_legal_entity == Some(legal_entity)
            || self.used_by_legal_entity == Some(legal_entity)
            || self.released_by.contains(&legal_entity)
    }

    /// Whether `expiration_date` has passed at `at`. A date-time expires at that instant; a bare
    /// date (`YYYY-MM-DD`) at the end of that day (UTC). No expiration date: never.
    pub fn is_expired(&self, at: DateTime<Utc>) -> bool {
        let Some(text) = self.other.get("expiration_date").and_then(Value::as_str) else {
            return false;
        };
        if let Ok(instant) = DateTime::parse_from_rfc3339(text) {
            return instant.with_timezone(&Utc) < at;
        }
        if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
            return naive.and_utc() < at;
        }
        if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return day < at.date_naive();
        }
        false
    }

    /// The care plan the service request is based on: a `based_on` reference (or list of
    /// references) whose code is `care_plan`.
    pub fn based_on_care_plan(&self) -> Option<Uuid> {
        self.based_on("care_plan")
    }

    /// The care-plan activity the service request is based on: a `based_on` reference whose code
    /// is `activity` (or `care_plan_activity`).
    pub fn based_on_activity(&self) -> Option<Uuid> {
        self.based_on("activity")
            .or_else(|| self.based_on("care_plan_activity"))
    }

    fn based_on(&self, code: &str) -> Option<Uuid> {
        let named = |reference: &Value| {
            let codings = reference.pointer("/identifier/type/coding")?.as_array()?;
            if !codings
                .iter()
                .any(|c| c.get("code").and_then(Value::as_str) == Some(code))
            {
                return None;
            }
            let value = reference.pointer("/identifier/value")?.as_str()?;
            Uuid::parse_str(value).ok()
        };
        match self.other.get("based_on")? {
            Value::Array(items) => items.iter().find_map(named),
            single => named(single),
        }
    }

    /// The public eHealth view of the service request (`data` of the read endpoint). The recall's
    /// signed content is compared with exactly this document.
    pub fn render(&self) -> Value {
        let mut doc = overlay(
            &self.other,
            [
                ("id", Value::String(self.id.to_string())),
                ("status", Value::String(self.status.as_str().into())),
                ("subject", reference("patient", self.patient_id)),
                (
                    "requester_employee",
                    optional_reference("employee", self.requester_employee),
                ),
                (
                    "requester_legal_entity",
                    optional_reference("legal_entity", self.requester_legal_entity),
                ),
                (
                    "used_by_employee",
                    optional_reference("employee", self.used_by_employee),
                ),
                (
                    "used_by_legal_entity",
                    optional_reference("legal_entity", self.used_by_legal_entity),
                ),
                (
                    "status_reason",
                    self.status_reason.clone().unwrap_or(Value::Null),
                ),
                (
                    "status_history",
                    serde_json::to_value(&self.status_history).unwrap_or(Value::Null),
                ),
                ("inserted_at", serde_json::json!(self.inserted_at)),
                ("updated_at", serde_json::json!(self.updated_at)),
            ],
        );
        // Present only for service requests with a medical program, as eHealth renders them.
        if let Some(status) = self.program_processing_status {
            doc.insert(
                "program_processing_status".into(),
                Value::String(status.as_str().into()),
            );
        }
        // eHealth's view has no explanatory letter until a recall gives one.
        if let Some(letter) = &self.explanatory_letter {
            doc.insert("explanatory_letter".into(), Value::String(letter.clone()));
        }
        Value::Object(doc)
    }
}

/// Drops the keys the recall comparison ignores.
pub fn comparable(mut doc: Value) -> Value {
    if let Some(map) = doc.as_object_mut() {
        for key in CONTENT_COMPARISON_IGNORED {
            map.remove(key);
        }
    }
    doc
}
