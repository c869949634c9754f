//! Events of a service request.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::state::ServiceRequestRecord;

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

domain_event!(ServiceRequestEvent {
    ServiceRequestImported,
    ServiceRequestReleased,
    ServiceRequestRecalled,
});
