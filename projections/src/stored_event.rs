//! An event as it sits in the event log, with its global position, and the borrowed view of it that
//! the projections fold ([`EventRef`]): the live path has the payload as a `serde_json::Value`, a
//! rebuild reads it as text and deserializes it straight into the typed event.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub global_position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
}

impl StoredEvent {
    /// The user on whose authority the event was recorded (`metadata.user_id`).
    pub fn user_id(&self) -> Option<Uuid> {
        self.metadata
            .get("user_id")
            .and_then(Value::as_str)
            .and_then(|s| Uuid::parse_str(s).ok())
    }

    pub fn as_ref(&self) -> EventRef<'_> {
        EventRef {
            aggregate_type: &self.aggregate_type,
            aggregate_id: &self.aggregate_id,
            sequence: self.sequence,
            global_position: self.global_position,
            payload: Payload::Json(&self.payload),
            user_id: self.user_id(),
            recorded_at: self.recorded_at,
        }
    }
}

/// The event's payload, in whichever form the caller has it.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    Json(&'a Value),
    Text(&'a str),
}

impl Payload<'_> {
    pub(crate) fn decode<T: DeserializeOwned>(self) -> Result<T, serde_json::Error> {
        match self {
            Payload::Json(value) => T::deserialize(value),
            Payload::Text(text) => serde_json::from_str(text),
        }
    }
}

/// What the projections need of one event.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub global_position: i64,
    pub payload: Payload<'a>,
    /// `metadata.user_id`: who changed the entity.
    pub user_id: Option<Uuid>,
    pub recorded_at: DateTime<Utc>,
}
