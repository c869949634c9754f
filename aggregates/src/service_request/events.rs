//! Events of a service request.

use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::state::ServiceRequestRecord;
use crate::common::EVENT_VERSION;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ServiceRequestEvent {
    ServiceRequestImported(Box<ServiceRequestRecord>),
    /// The reservation is removed: `used_by_*` erased, `program_processing_status` back to `new`.
    ServiceRequestReleased {
        released_employee: Option<Uuid>,
        released_legal_entity: Option<Uuid>,
        by: Uuid,
        at: DateTime<Utc>,
    },
    ServiceRequestRecalled {
        status_reason: Value,
        explanatory_letter: Option<String>,
        signed_content_link: String,
        by: Uuid,
        at: DateTime<Utc>,
    },
}

impl DomainEvent for ServiceRequestEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ServiceRequestImported(_) => "ServiceRequestImported",
            Self::ServiceRequestReleased { .. } => "ServiceRequestReleased",
            Self::ServiceRequestRecalled { .. } => "ServiceRequestRecalled",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        EVENT_VERSION.to_string()
    }
}
