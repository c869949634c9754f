//! The Event Manager records and entity histories.

// Never constructed: the derives read the declarations, nothing else does.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// One Event Manager record (`StatusChangeEvent`).
#[derive(ToSchema)]
#[schema(example = json!({ "id": "9e1c3f0a-0d7b-5c6e-8f0a-1b2c3d4e5f60", "event_type": "StatusChangeEvent",
                           "entity_type": "MergeRequest", "entity_id": "77777777-7777-4777-8777-777777777777",
                           "properties": { "status": { "new_value": "REJECTED" } },
                           "event_time": "2026-01-02T10:00:00.123456Z", "changed_by": "33333333-3333-4333-8333-333333333333" }))]
pub struct StatusChangeEvent {
    id: Uuid,
    /// Always `StatusChangeEvent`.
    event_type: String,
    /// `ServiceRequest`, `MergeRequest`, `DeviceDispense`, `Approval` or `CarePlanActivity`.
    entity_type: String,
    entity_id: Uuid,
    /// The changed attributes: `{"<attribute>": {"new_value": <value or null>}}`.
    #[schema(value_type = Object)]
    properties: Value,
    event_time: DateTime<Utc>,
    /// The user who made the change.
    changed_by: Uuid,
}

/// One event of an entity's history.
#[derive(ToSchema)]
pub struct HistoryEntry {
    /// The event's sequence within the entity (its `version`), from 1.
    #[schema(minimum = 1)]
    sequence: i64,
    /// The event's position in the whole event log.
    global_position: i64,
    event_type: String,
    event_version: String,
    /// The event's data without the enum tag, salts redacted and phones masked.
    #[schema(value_type = Value)]
    payload: Value,
    recorded_at: DateTime<Utc>,
    authority: Authority,
}

/// Who recorded an event and through what (from its metadata); `null` where not recorded.
#[derive(ToSchema)]
pub struct Authority {
    #[schema(required = true)]
    user_id: Option<Uuid>,
    /// The token's `client_id`.
    #[schema(required = true)]
    legal_entity_id: Option<Uuid>,
    #[schema(required = true)]
    request_id: Option<String>,
    #[schema(required = true)]
    command_id: Option<String>,
    #[schema(required = true)]
    correlation_id: Option<String>,
    #[schema(required = true)]
    causation_id: Option<String>,
    #[schema(required = true)]
    job_id: Option<String>,
}
