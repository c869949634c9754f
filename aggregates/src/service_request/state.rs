//! The service request's stored state and its eHealth rendering.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::common::{optional_reference, reference};

/// `status` of a service request (ehealth-notes §3). `completed`, `recalled` and
/// `entered_in_error` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceRequestStatus {
    Active,
    InProgress,
    Completed,
    Recalled,
    EnteredInError,
}

impl ServiceRequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Recalled => "recalled",
            Self::EnteredInError => "entered_in_error",
        }
    }
}

/// `program_processing_status`, present only for service requests with a medical program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgramProcessingStatus {
    New,
    InQueue,
    InProgress,
    Completed,
}

impl ProgramProcessingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::InQueue => "in_queue",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
        }
    }
}

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
}

/// Keys the recall comparison ignores on both sides (DESIGN.md, recall signature).
pub const CONTENT_COMPARISON_IGNORED: [&str; 4] = [
    "status_reason",
    "explanatory_letter",
    "inserted_at",
    "updated_at",
];

impl ServiceRequestRecord {
    /// A legal entity sees a service request it requested or is using; nobody else does.
    pub fn visible_to(&self, legal_entity: Uuid) -> bool {
        self.requester_legal_entity == Some(legal_entity)
            || self.used_by_legal_entity == Some(legal_entity)
    }

    /// The public eHealth view of the service request (`data` of the read endpoint). The recall's
    /// signed content is compared with exactly this document.
    pub fn render(&self) -> Value {
        let mut doc = self.other.clone();
        let mut put = |k: &str, v: Value| {
            doc.insert(k.to_string(), v);
        };
        put("id", Value::String(self.id.to_string()));
        put("status", Value::String(self.status.as_str().into()));
        put(
            "program_processing_status",
            self.program_processing_status
                .map_or(Value::Null, |s| Value::String(s.as_str().into())),
        );
        put("subject", reference("patient", self.patient_id));
        put(
            "requester_employee",
            optional_reference("employee", self.requester_employee),
        );
        put(
            "requester_legal_entity",
            optional_reference("legal_entity", self.requester_legal_entity),
        );
        put(
            "used_by_employee",
            optional_reference("employee", self.used_by_employee),
        );
        put(
            "used_by_legal_entity",
            optional_reference("legal_entity", self.used_by_legal_entity),
        );
        put(
            "status_reason",
            self.status_reason.clone().unwrap_or(Value::Null),
        );
        put(
            "explanatory_letter",
            self.explanatory_letter
                .clone()
                .map_or(Value::Null, Value::String),
        );
        put(
            "status_history",
            serde_json::to_value(&self.status_history).unwrap_or(Value::Null),
        );
        put("inserted_at", serde_json::json!(self.inserted_at));
        put("updated_at", serde_json::json!(self.updated_at));
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
