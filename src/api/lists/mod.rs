//! The analyst read side: `GET /api/service_requests`, `/api/merge_requests` and
//! `/api/device_dispenses` — filtered lists of the projection tables with cursor paging, as eHealth
//! JSON (each item rendered like the entity's read endpoint) or as CSV of the typed columns.
//!
//! Rows are ordered by `(updated_at, id)` ascending and a page continues strictly after the
//! previous page's last key, so paging is stable under concurrent writes: a row changed while a
//! client pages moves to the end and is delivered again with its new state, and no row is skipped.
//! A list shows the rows its entity's visibility rule lets the caller's legal entity see (`sql`).
//!
//! `resources` says which table each endpoint lists; its filters, enum values, order and CSV
//! columns come from the table's declaration (`ehealth_projections::tables`).

mod csv;
mod cursor;
mod list_doc;
mod params;
mod resources;
mod sql;

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::header::VARY;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::Caller;
use super::openapi::schemas as doc;
use super::openapi::AuthenticatedErrors;
use crate::app::AppState;
use crate::store::ListedRow;
use cursor::Cursor;
use params::ListQuery;
use resources::Resource;

/// One analyst list endpoint per row, with its OpenAPI operation: all run [`list`] over the row's
/// resource and differ only in their path, scope, filters and the rows they list.
macro_rules! list_endpoints {
    ($(
        $name:ident {
            path: $path:tt,
            operation_id: $operation_id:tt,
            summary: $summary:tt,
            lists: $lists:tt,
            filters: $filters:ident,
            page: $page:ident,
            scope: $scope:tt,
            resource: $resource:ident $(,)?
        }
    )+) => {$(
        #[doc = concat!("`GET ", $path, "` (scope `", $scope, "`).")]
        #[utoipa::path(
            get,
            path = $path,
            tag = "analyst lists",
            operation_id = $operation_id,
            summary = $summary,
            description = concat!($lists, ", ordered by `(updated_at, id)`, one page at a time: \
pass `next_cursor` back as `cursor` (with the same filters and `limit`) for the next page. With \
`Accept: text/csv` (preferred over `application/json`) the page is CSV of the table's typed \
columns and the next page is in a `Link: <…>; rel=\"next\"` header. An empty value counts as \
absent."),
            params(list_doc::$filters, list_doc::ListParams),
            security(("bearer" = [$scope])),
            responses(
                AuthenticatedErrors,
                (status = 200, description = "A page", content(
                    (doc::$page = "application/json"),
                    (String = "text/csv"),
                ), headers(("Link" = String, description = "CSV only: the next page, `<url>; rel=\"next\"`; absent on the last page"))),
                (status = 422, description = "A value not in the enum, a malformed uuid, date, `limit` or `cursor`, an unknown or repeated parameter (all reported together), or a too long Idempotency-Key", body = doc::ErrorEnvelope),
            )
        )]
        pub(crate) async fn $name(
            State(app): State<Arc<AppState>>,
            caller: Caller,
            headers: HeaderMap,
            RawQuery(query): RawQuery,
        ) -> Result<Response, ApiError> {
            list(&app, &caller, &headers, query, $scope, &resources::$resource).await
        }
    )+};
}

list_endpoints! {
    service_requests {
        path: "/api/service_requests",
        operation_id: "list_service_requests",
        summary: "Analyst list of service requests",
        lists: "The service requests the caller's legal entity requested or uses",
        filters: ServiceRequestFilters,
        page: ServiceRequestList,
        scope: "service_request:read",
        resource: SERVICE_REQUESTS,
    }
    merge_requests {
        path: "/api/merge_requests",
        operation_id: "list_merge_requests",
        summary: "Analyst list of merge requests",
        lists: "The merge requests created at the caller's legal entity",
        filters: MergeRequestFilters,
        page: MergeRequestList,
        scope: "merge_request:read",
        resource: MERGE_REQUESTS,
    }
    device_dispenses {
        path: "/api/device_dispenses",
        operation_id: "list_device_dispenses",
        summary: "Analyst list of device dispenses",
        lists: "The device dispenses the caller's legal entity performed",
        filters: DeviceDispenseFilters,
        page: DeviceDispenseList,
        scope: "device_dispense:read",
        resource: DEVICE_DISPENSES,
    }
}

async fn list(
    app: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    query: Option<String>,
    scope: &str,
    resource: &Resource,
) -> Result<Response, ApiError> {
    caller.require(&[scope])?;
    let query = params::parse(resource.table.name, &resource.filters(), query.as_deref())?;
    let as_csv = csv::wants_csv(headers);
    let rows = sql::fetch(
        &*app.store.read_models,
        resource,
        &query,
        caller.identity.client_id,
        as_csv,
    )
    .await?;
    answer(resource, rows, &query, as_csv, &caller.meta.url)
}

/// The answer for the rows fetched (up to one more than the limit, which says there is more).
fn answer(
    resource: &Resource,
    mut rows: Vec<ListedRow>,
    query: &ListQuery,
    as_csv: bool,
    url: &str,
) -> Result<Response, ApiError> {
    let has_more = rows.len() as i64 > query.limit;
    rows.truncate(query.limit as usize);
    let next = match rows.last() {
        Some(last) if has_more => Some(
            Cursor {
                updated_at: last.updated_at,
                id: last.id,
            }
            .encode(resource.table.name),
        ),
        _ => None,
    };
    if as_csv {
        return Ok(csv::response(resource, &rows, next, query, url));
    }
    let data = rows
        .into_iter()
        .map(|row| {
            row.document
                .and_then(resource.render)
                .ok_or_else(|| {
                    tracing::error!(table = resource.table.name, id = %row.id, "stored document unreadable");
                    ApiError::internal()
                })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let mut answer = ApiResponse::ok(Value::Array(data));
    answer.body.insert(
        "paging".into(),
        json!({ "limit": query.limit, "next_cursor": next, "has_more": has_more }),
    );
    Ok(answer.with_header(VARY, "accept").into_response())
}
