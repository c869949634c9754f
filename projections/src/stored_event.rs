//! An event as it sits in the event log, with its global position, and the borrowed view of it that
//! the projections fold ([`EventRef`]): the live path has the payload as a `serde_json::Value`, a
//! rebuild reads it as text and deserializes it straight into the typed event (on its reader's
//! thread, ahead of the fold: [`Payload::Decoded`]).

use std::any::Any;
use std::sync::Mutex;

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
    /// Deserialized ahead of the fold (a rebuild's reader does it while the fold applies earlier
    /// events), with its text: the typed event is taken by the one decode into its type; any
    /// other decode reads the text, as [`Payload::Text`] would.
    Decoded(&'a Decoded, &'a str),
}

/// A payload deserialized ahead of time, or nothing (when it could not be: the fold then reads
/// the text and reports the error as it always did).
#[derive(Default)]
pub struct Decoded(Mutex<Option<Box<dyn Any + Send>>>);

impl Decoded {
    pub(crate) fn new(value: Option<Box<dyn Any + Send>>) -> Self {
        Self(Mutex::new(value))
    }

    /// The value, if it is a `T` that nobody took yet.
    fn take<T: 'static>(&self) -> Option<T> {
        let mut slot = self.0.lock().ok()?;
        match slot.take()?.downcast::<T>() {
            Ok(value) => Some(*value),
            Err(other) => {
                *slot = Some(other);
                None
            }
        }
    }
}

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decoded")
    }
}

impl Payload<'_> {
    pub(crate) fn decode<T: DeserializeOwned + 'static>(self) -> Result<T, serde_json::Error> {
        match self {
            Payload::Json(value) => T::deserialize(value),
            Payload::Text(text) => serde_json::from_str(text),
            Payload::Decoded(decoded, text) => match decoded.take::<T>() {
                Some(value) => Ok(value),
                None => serde_json::from_str(text),
            },
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
