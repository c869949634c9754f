//! The two read endpoints of each entity kind: `GET <path>` (the entity, now or in the past) and
//! `GET <path>/history` (its events), as `read_endpoints::<kind>::{show, history}`.
//!
//! Both do the same for every kind, in this order: the scope (403), the query parameters (422),
//! the path and the caller's visibility on the current record (404), then the answer (the record,
//! at the point in time asked for, or a page of its events). The kinds differ only in their path,
//! scope and documentation, so each kind is one row of the table below and the macro writes its
//! two handlers with their OpenAPI operations.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use ehealth_aggregates::{
    Approval, CarePlanActivity, DeviceDispense, MergeRequest, ServiceRequest,
};

use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::Caller;
use super::history;
use super::openapi::care_plan_schemas::CarePlanActivityEnvelope;
use super::openapi::schemas::{
    ApprovalEnvelope, DeviceDispenseEnvelope, ErrorEnvelope, HistoryList, MergeRequestEnvelope,
    ServiceRequestEnvelope,
};
use super::openapi::AuthenticatedErrors;
use super::query_params::PageParams;
use super::read::{visible, Entity};
use super::time_travel::{self, TimeTravelParams};
use crate::app::AppState;

const SHOW_REFUSED: &str = "A malformed `as_of` or `version`, both at once, another query \
parameter, or a too long Idempotency-Key";
const HISTORY_REFUSED: &str = "A malformed `page` or `page_size`, another query parameter, a \
repeated one, or a too long Idempotency-Key";
/// The history of an entity whose events may hold OTP salts or phone numbers.
const REDACTED_HISTORY: &str = "Every event of the entity in sequence order, with its position in \
the log and the authority it was recorded on; salts redacted, phones masked. Scope, visibility and \
404 of the entity's read endpoint.";

/// One module per row: `show` at `path` (with the time travel parameters) and `history` at
/// `path/history` (with the page parameters), both with the row's path ids, scope and 404.
macro_rules! read_endpoints {
    ($(
        $kind:ident {
            entity: $entity:ident,
            path: $path:tt,
            path_ids: $ids:ty,
            params: [$($param:tt),+ $(,)?],
            scope: $scope:tt,
            not_found: $not_found:tt,
            show: {
                operation_id: $show_id:tt,
                summary: $show_summary:tt,
                description: $show_description:tt,
                found: $found:tt,
                body: $body:ident $(,)?
            },
            history: {
                operation_id: $history_id:tt,
                summary: $history_summary:tt,
                description: $history_description:tt $(,)?
            } $(,)?
        }
    )+) => {
        /// The operations of every row, which the document merges into its own.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($kind::show, $kind::history),+))]
        pub struct Operations;
    $(
        pub mod $kind {
            use super::*;

            #[doc = concat!("`GET ", $path, "` (scope `", $scope, "`).")]
            #[utoipa::path(
                get,
                path = $path,
                tag = "entities",
                operation_id = $show_id,
                summary = $show_summary,
                description = $show_description,
                params($($param,)+ TimeTravelParams),
                security(("bearer" = [$scope])),
                responses(
                    AuthenticatedErrors,
                    (status = 200, description = $found, body = $body),
                    (status = 404, description = $not_found, body = ErrorEnvelope),
                    (status = 422, description = SHOW_REFUSED, body = ErrorEnvelope),
                )
            )]
            pub async fn show(
                State(app): State<Arc<AppState>>,
                caller: Caller,
                Path(path): Path<$ids>,
                RawQuery(query): RawQuery,
            ) -> Result<ApiResponse, ApiError> {
                caller.require(&[$scope])?;
                let point = time_travel::requested(query.as_deref())?;
                let (_, record) = visible::<$entity>(&app, &caller, path, point).await?;
                Ok(ApiResponse::ok($entity::render(&record)))
            }

            #[doc = concat!("`GET ", $path, "/history` (scope `", $scope, "`).")]
            #[utoipa::path(
                get,
                path = concat!($path, "/history"),
                tag = "audit",
                operation_id = $history_id,
                summary = $history_summary,
                description = $history_description,
                params($($param,)+ PageParams),
                security(("bearer" = [$scope])),
                responses(
                    AuthenticatedErrors,
                    (status = 200, description = "A page of events", body = HistoryList),
                    (status = 404, description = $not_found, body = ErrorEnvelope),
                    (status = 422, description = HISTORY_REFUSED, body = ErrorEnvelope),
                )
            )]
            pub async fn history(
                State(app): State<Arc<AppState>>,
                caller: Caller,
                Path(path): Path<$ids>,
                RawQuery(query): RawQuery,
            ) -> Result<ApiResponse, ApiError> {
                caller.require(&[$scope])?;
                let page = history::page(query.as_deref())?;
                let (id, _) = visible::<$entity>(&app, &caller, path, None).await?;
                history::answer::<$entity>(&app, id, page).await
            }
        }
    )+};
}

read_endpoints! {
    service_request {
        entity: ServiceRequest,
        path: "/api/patients/{patient_id}/service_requests/{id}",
        path_ids: (String, String),
        params: [
            ("patient_id" = uuid::Uuid, Path, description = "The patient (person) id", example = "55555555-5555-4555-8555-555555555555"),
            ("id" = uuid::Uuid, Path, description = "Service request id", example = "66666666-6666-4666-8666-666666666666"),
        ],
        scope: "service_request:read",
        not_found: "`Service request not found`",
        show: {
            operation_id: "get_service_request",
            summary: "A service request, now or in the past",
            description: "Visible to its requester and its user (`used_by_legal_entity`), judged \
on the current state. `as_of` or `version` answers the state it had then (404 before it existed \
or for a version that has not happened).",
            found: "The service request",
            body: ServiceRequestEnvelope,
        },
        history: {
            operation_id: "service_request_history",
            summary: "The history of a service request",
            description: REDACTED_HISTORY,
        },
    }
    merge_request {
        entity: MergeRequest,
        path: "/api/merge_requests/{id}",
        path_ids: String,
        params: [
            ("id" = uuid::Uuid, Path, description = "Merge request id", example = "77777777-7777-4777-8777-777777777777"),
        ],
        scope: "merge_request:read",
        not_found: "`Merge request not found`",
        show: {
            operation_id: "get_merge_request",
            summary: "A merge request, now or in the past",
            description: "Visible to the legal entity where it was created. `as_of` or `version` \
answers the state it had then.",
            found: "The merge request",
            body: MergeRequestEnvelope,
        },
        history: {
            operation_id: "merge_request_history",
            summary: "The history of a merge request",
            description: REDACTED_HISTORY,
        },
    }
    device_dispense {
        entity: DeviceDispense,
        path: "/api/patients/{patient_id}/device_dispenses/{id}",
        path_ids: (String, String),
        params: [
            ("patient_id" = uuid::Uuid, Path, description = "The patient (person) id", example = "55555555-5555-4555-8555-555555555555"),
            ("id" = uuid::Uuid, Path, description = "Device dispense id", example = "88888888-8888-4888-8888-888888888888"),
        ],
        scope: "device_dispense:read",
        not_found: "`Device dispense not found`",
        show: {
            operation_id: "get_device_dispense",
            summary: "A device dispense, now or in the past",
            description: "Visible to the legal entity that performed it. `as_of` or `version` \
answers the state it had then.",
            found: "The device dispense",
            body: DeviceDispenseEnvelope,
        },
        history: {
            operation_id: "device_dispense_history",
            summary: "The history of a device dispense",
            description: REDACTED_HISTORY,
        },
    }
    approval {
        entity: Approval,
        path: "/api/patients/{patient_id}/approvals/{id}",
        path_ids: (String, String),
        params: [
            ("patient_id" = uuid::Uuid, Path, description = "The patient (person) id", example = "55555555-5555-4555-8555-555555555555"),
            ("id" = uuid::Uuid, Path, description = "Approval id", example = "99999999-9999-4999-8999-999999999999"),
        ],
        scope: "approval:read",
        not_found: "`Approval with such id is not found`",
        show: {
            operation_id: "get_approval",
            summary: "An approval, now or in the past",
            description: "Visible to the legal entity of the employee it is granted to; the phone \
is masked. `as_of` or `version` answers the state it had then.",
            found: "The approval",
            body: ApprovalEnvelope,
        },
        history: {
            operation_id: "approval_history",
            summary: "The history of an approval",
            description: REDACTED_HISTORY,
        },
    }
    care_plan_activity {
        entity: CarePlanActivity,
        path: "/api/patients/{patient_id}/care_plans/{care_plan_id}/activities/{id}",
        path_ids: (String, String, String),
        params: [
            ("patient_id" = uuid::Uuid, Path, description = "The patient (person) id", example = "55555555-5555-4555-8555-555555555555"),
            ("care_plan_id" = uuid::Uuid, Path, description = "The care plan id", example = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"),
            ("id" = uuid::Uuid, Path, description = "Care plan activity id", example = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"),
        ],
        scope: "care_plan:read",
        not_found: "`Care plan activity not found`",
        show: {
            operation_id: "get_care_plan_activity",
            summary: "A care plan activity, now or in the past",
            // Who changed it decides who sees it: a recall gives quantity back on behalf of the
            // recalling legal entity, which may then follow what its recall did.
            description: "Visible to the care plan's managing legal entity and to every legal \
entity on whose behalf the activity was changed (a recall of a service request based on it gives \
its quantity back on behalf of the recalling legal entity). `as_of` or `version` answers the \
state it had then.",
            found: "The care plan activity",
            body: CarePlanActivityEnvelope,
        },
        history: {
            operation_id: "care_plan_activity_history",
            summary: "The history of a care plan activity",
            // Its events carry no salts or phones.
            description: "Every event of the entity in sequence order, with its position in the \
log and the authority it was recorded on. Scope, visibility and 404 of the entity's read \
endpoint.",
        },
    }
}
