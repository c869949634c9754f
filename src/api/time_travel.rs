//! Time travel for the entity read endpoints: `?as_of=<RFC 3339 instant>` or `?version=<n>` answers
//! the entity as it was, rebuilt by replaying its own events from the `events` table onto
//! `Default` with the aggregate's `apply` — the same function the write side and the projections
//! use, so a past state can never be rendered differently from how it was served then.
//!
//! `as_of` is judged on the event log's clock (`recorded_at`, when the service recorded the event),
//! not on business times inside payloads: it answers "what did the service hold at that instant".
//! Visibility is not replayed: the read endpoints check the caller against the current state first
//! (see docs/audit.md, Time travel).

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde_json::json;
use uuid::Uuid;

use super::error::ApiError;
use super::query_params::{self, invalid_entry, refused, QueryParams};
use crate::app::AppState;
/// The past point an entity read asks for.
pub use crate::store::PointInTime;

/// `as_of` and `version`, for the OpenAPI document only: [`requested`] parses them by hand.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // never constructed: the derive reads the declaration
pub struct TimeTravelParams {
    /// The state as of this RFC 3339 instant (the event log's clock, `recorded_at`), e.g.
    /// `2026-01-02T03:04:05Z`; a bare date is refused. Not together with `version`.
    as_of: Option<DateTime<Utc>>,
    /// The state after this many events (1 is the imported state). Not together with `as_of`.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64)]
    version: Option<i64>,
}

/// The point asked for by `as_of` or `version`, `None` for the current state; 422 for a malformed
/// value, for both at once, or for any other parameter.
pub fn requested(raw_query: Option<&str>) -> Result<Option<PointInTime>, ApiError> {
    let (params, mut invalid) = QueryParams::parse(raw_query, &["as_of", "version"]);
    let mut point = None;
    match (params.get("as_of"), params.get("version")) {
        (Some(_), Some(_)) => {
            for entry in ["as_of", "version"] {
                invalid.push(invalid_entry(
                    entry,
                    "oneOf",
                    "Only one of the parameters must be present",
                    json!(["as_of", "version"]),
                ));
            }
        }
        (Some(raw), None) => match query_params::instant(raw) {
            Some(t) => point = Some(PointInTime::AsOf(t)),
            None => invalid.push(invalid_entry(
                "as_of",
                "cast",
                "expected an RFC 3339 date-time, e.g. 2026-01-02T03:04:05Z",
                json!(["datetime"]),
            )),
        },
        (None, Some(raw)) => match query_params::integer_in(raw, 0, i64::MAX) {
            Some(n) => point = Some(PointInTime::Version(n)),
            None => invalid.push(invalid_entry(
                "version",
                "number",
                "expected a non-negative integer",
                json!({ "greater_than_or_equal_to": 0 }),
            )),
        },
        (None, None) => {}
    }
    if invalid.is_empty() {
        Ok(point)
    } else {
        Err(refused(invalid))
    }
}

/// The aggregate `A` with id `id` as it was at `point`, or `None` when it did not exist then: no
/// event recorded yet at `as_of`, `version` 0, or a `version` beyond its last event (a version that
/// has not happened is not a state the entity ever had).
pub async fn replay<A: Aggregate>(
    app: &AppState,
    id: Uuid,
    point: PointInTime,
) -> Result<Option<A>, ApiError> {
    let version = match point {
        PointInTime::Version(v) => Some(v),
        PointInTime::AsOf(_) => None,
    };
    let rows = app.store.history.until(A::TYPE, id, point).await?;

    let mut state = A::default();
    let mut last = 0;
    for (sequence, payload) in rows {
        // Sequences start at 1 and have no gaps; an event that happened after a later-numbered one
        // cannot be part of a past state, so the replay stops at the first gap (only possible for
        // `as_of` with a clock that stepped back).
        if sequence != last + 1 {
            break;
        }
        let event: A::Event = serde_json::from_value(payload).map_err(|err| {
            tracing::error!(error = %err, aggregate_type = A::TYPE, %id, sequence, "stored event unreadable");
            ApiError::internal()
        })?;
        state.apply(event);
        last = sequence;
    }
    let existed = last > 0 && version.is_none_or(|v| v == last);
    Ok(existed.then_some(state))
}
