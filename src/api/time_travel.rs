//! Time travel for the entity read endpoints: `?as_of=<RFC 3339 instant>` or `?version=<n>` answers
//! the entity as it was, rebuilt by replaying its own events from the `events` table onto
//! `Default` with the aggregate's `apply` — the same function the write side and the projections
//! use, so a past state can never be rendered differently from how it was served then.
//!
//! `as_of` is judged on the event log's clock (`recorded_at`, when the service recorded the event),
//! not on business times inside payloads: it answers "what did the service hold at that instant".
//! Visibility is not replayed: the read endpoints check the caller against the current state first
//! (see README, Audit).

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde_json::{json, Value};
use sqlx::types::Json;
use sqlx::Row;
use uuid::Uuid;

use super::error::ApiError;
use super::query_params::{self, invalid_entry, refused, QueryParams};
use crate::app::AppState;
use crate::db::Db;

/// The past point an entity read asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointInTime {
    /// After the event with this sequence (the entity's `version`); 0 is before it existed.
    Version(i64),
    /// After every event recorded at or before this instant.
    AsOf(DateTime<Utc>),
}

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
    // The primary key (aggregate_type, aggregate_id, sequence) serves both bounds.
    const BY_VERSION: &str = "SELECT sequence, payload FROM events \
        WHERE sequence <= $1 AND aggregate_type = $2 AND aggregate_id = $3 ORDER BY sequence";
    const BY_TIME: &str = "SELECT sequence, payload FROM events \
        WHERE recorded_at <= $1 AND aggregate_type = $2 AND aggregate_id = $3 ORDER BY sequence";
    let version = match point {
        PointInTime::Version(v) => Some(v),
        PointInTime::AsOf(_) => None,
    };
    let sql = match point {
        PointInTime::Version(_) => BY_VERSION,
        PointInTime::AsOf(_) => BY_TIME,
    };
    let rows: Vec<(i64, Value)> = match &app.db {
        Db::Postgres(pool) => {
            let query = match point {
                PointInTime::Version(v) => sqlx::query(sql).bind(v),
                PointInTime::AsOf(t) => sqlx::query(sql).bind(t),
            };
            query
                .bind(A::TYPE)
                .bind(id.to_string())
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| (row.get("sequence"), row.get("payload")))
                .collect()
        }
        Db::Sqlite(lite) => {
            let query = match point {
                PointInTime::Version(v) => sqlx::query(sql).bind(v),
                PointInTime::AsOf(t) => sqlx::query(sql).bind(query_params::sqlite_instant(t)),
            };
            query
                .bind(A::TYPE)
                .bind(crate::db::sqlite::id(id))
                .fetch_all(&lite.pool)
                .await?
                .iter()
                .map(|row| (row.get("sequence"), row.get::<Json<Value>, _>("payload").0))
                .collect()
        }
    };

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
