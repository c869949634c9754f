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
use serde_json::Value;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{path_id, Caller};
use super::time_travel::{self, PointInTime};
use crate::app::AppState;

/// An aggregate whose state is "not created yet" or one record, kept in a projection table, with
/// what its read endpoints need: the 404 message, who may see it, and the record's place under
/// its path's parent ids. (Their scope is in [`super::read_endpoints`], with their documentation.)
pub trait Entity: Aggregate {
    type Record;
    const TABLE: &'static str;
    const NOT_FOUND: &'static str;
    fn into_record(self) -> Option<Self::Record>;
    fn render(record: &Self::Record) -> Value;
    fn visible_to(record: &Self::Record, legal_entity: Uuid) -> bool;
    /// The ids of the path segments before the entity's own, in path order.
    fn parents(record: &Self::Record) -> Vec<Uuid>;
}

macro_rules! entity {
    ($agg:ty, $record:ty, $table:literal, $not_found:expr,
     visible_to: |$r:ident, $le:ident| $visible:expr, parents: $parents:expr) => {
        impl Entity for $agg {
            type Record = $record;
            const TABLE: &'static str = $table;
            const NOT_FOUND: &'static str = $not_found;
            fn into_record(self) -> Option<$record> {
                self.record
            }
            fn render(record: &$record) -> Value {
                record.render()
            }
            fn visible_to($r: &$record, $le: Uuid) -> bool {
                $visible
            }
            fn parents(record: &$record) -> Vec<Uuid> {
                ($parents)(record)
            }
        }
    };
}

entity!(ServiceRequest, ServiceRequestRecord, "service_requests",
    super::service_requests::NOT_FOUND,
    visible_to: |r, le| r.visible_to(le),
    parents: |r: &ServiceRequestRecord| vec![r.patient_id]);
entity!(MergeRequest, MergeRequestRecord, "merge_requests",
    super::merge_requests::NOT_FOUND,
    visible_to: |r, le| r.legal_entity_id == le,
    parents: |_: &MergeRequestRecord| Vec::new());
entity!(DeviceDispense, DeviceDispenseRecord, "device_dispenses",
    super::device_dispenses::NOT_FOUND,
    visible_to: |r, le| r.performer_legal_entity == le,
    parents: |r: &DeviceDispenseRecord| vec![r.patient_id]);
entity!(Approval, ApprovalRecord, "approvals",
    super::approvals::NOT_FOUND,
    visible_to: |r, le| r.visible_to(le),
    parents: |r: &ApprovalRecord| vec![r.patient_id]);
// An activity is visible to its care plan's managing legal entity and to every legal entity on
// whose behalf it was changed (a recall's give-back is done on behalf of the recalling legal
// entity, which may then follow what its recall did). Anything else is 404, like an unknown id.
entity!(CarePlanActivity, CarePlanActivityRecord, "care_plan_activities",
    "Care plan activity not found",
    visible_to: |r, le| r.visible_to(le),
    parents: |r: &CarePlanActivityRecord| vec![r.patient_id, r.care_plan_id]);

/// The ids of a read path (`{patient_id}/…/{id}` and the like), parsed in path order: 404 for a
/// non-uuid, as everywhere.
pub trait ReadPath {
    /// The parent ids and the entity's own id.
    fn ids(self, not_found: &str) -> Result<(Vec<Uuid>, Uuid), ApiError>;
}

impl ReadPath for String {
    fn ids(self, not_found: &str) -> Result<(Vec<Uuid>, Uuid), ApiError> {
        Ok((Vec::new(), path_id(&self, not_found)?))
    }
}

impl ReadPath for (String, String) {
    fn ids(self, not_found: &str) -> Result<(Vec<Uuid>, Uuid), ApiError> {
        Ok((
            vec![path_id(&self.0, not_found)?],
            path_id(&self.1, not_found)?,
        ))
    }
}

impl ReadPath for (String, String, String) {
    fn ids(self, not_found: &str) -> Result<(Vec<Uuid>, Uuid), ApiError> {
        let parents = vec![path_id(&self.0, not_found)?, path_id(&self.1, not_found)?];
        Ok((parents, path_id(&self.2, not_found)?))
    }
}

/// The entity the path names (404 for a non-uuid), if it is under the path's parents and the
/// caller may see it; then [`record`] at `point`.
pub(super) async fn visible<A: Entity>(
    app: &AppState,
    caller: &Caller,
    path: impl ReadPath,
    point: Option<PointInTime>,
) -> Result<(Uuid, A::Record), ApiError> {
    let (parents, id) = path.ids(A::NOT_FOUND)?;
    let legal_entity = caller.identity.client_id;
    let record = record::<A>(app, id, point, A::NOT_FOUND, |r| {
        A::parents(r) == parents && A::visible_to(r, legal_entity)
    })
    .await?;
    Ok((id, record))
}

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
