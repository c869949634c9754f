//! Reading an entity's current state from its projection table, and the record a read endpoint
//! answers (visibility judged on the current state, then time travel if asked for).

use cqrs_es::Aggregate;
use ehealth_aggregates::approval::ApprovalRecord;
use ehealth_aggregates::care_plan_activity::CarePlanActivityRecord;
use ehealth_aggregates::device_dispense::DeviceDispenseRecord;
use ehealth_aggregates::merge_request::MergeRequestRecord;
use ehealth_aggregates::service_request::ServiceRequestRecord;
use ehealth_aggregates::{
    Approval, CarePlanActivity, DeviceDispense, MergeRequest, ServiceRequest,
};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::error::ApiError;
use super::time_travel::{self, PointInTime};
use crate::app::AppState;

/// An aggregate whose state is "not created yet" or one record, kept in a projection table.
pub trait Entity: Aggregate {
    type Record;
    const TABLE: &'static str;
    fn into_record(self) -> Option<Self::Record>;
}

macro_rules! entity {
    ($agg:ty, $record:ty, $table:literal) => {
        impl Entity for $agg {
            type Record = $record;
            const TABLE: &'static str = $table;
            fn into_record(self) -> Option<$record> {
                self.record
            }
        }
    };
}

entity!(ServiceRequest, ServiceRequestRecord, "service_requests");
entity!(MergeRequest, MergeRequestRecord, "merge_requests");
entity!(DeviceDispense, DeviceDispenseRecord, "device_dispenses");
entity!(Approval, ApprovalRecord, "approvals");
entity!(
    CarePlanActivity,
    CarePlanActivityRecord,
    "care_plan_activities"
);

/// The record a read endpoint answers: the current one when `visible` accepts it (404 with
/// `not_found` otherwise), replayed to `point` when time travel was asked for. Visibility is judged
/// on the current state, so a past version is never a way around it.
pub async fn record<A: Entity>(
    app: &AppState,
    id: Uuid,
    point: Option<PointInTime>,
    not_found: &str,
    visible: impl FnOnce(&A::Record) -> bool,
) -> Result<A::Record, ApiError> {
    let current = document::<A>(app, A::TABLE, id)
        .await?
        .and_then(A::into_record)
        .filter(visible)
        .ok_or_else(|| ApiError::not_found(not_found))?;
    match point {
        None => Ok(current),
        Some(point) => time_travel::replay::<A>(app, id, point)
            .await?
            .and_then(A::into_record)
            .ok_or_else(|| ApiError::not_found(not_found)),
    }
}

/// The stored aggregate state of one entity of `table`, if it exists.
pub async fn document<A: DeserializeOwned>(
    app: &AppState,
    table: &str,
    id: Uuid,
) -> Result<Option<A>, ApiError> {
    let Some(doc) = app.store.read_models.document(table, id).await? else {
        return Ok(None);
    };
    serde_json::from_value(doc).map(Some).map_err(|err| {
        tracing::error!(error = %err, table, %id, "stored document unreadable");
        ApiError::internal()
    })
}
