//! The analyst read side: `GET /api/service_requests`, `/api/merge_requests` and
//! `/api/device_dispenses` — filtered lists of the projection tables with cursor paging, as eHealth
//! JSON (each item rendered like the entity's read endpoint) or as CSV of the typed columns.
//!
//! Rows are ordered by `(updated_at, id)` ascending and a page continues strictly after the
//! previous page's last key, so paging is stable under concurrent writes: a row changed while a
//! client pages moves to the end and is delivered again with its new state, and no row is skipped.
//! Every query is confined to the caller's legal entity before any filter applies; where two
//! columns grant visibility (a service request's requester and user), each is scanned as its own
//! index-ordered branch of a `UNION ALL`, so the database never has to sort a tenant's whole list.

mod csv;
mod cursor;
mod params;

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_TYPE, LINK, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use ehealth_aggregates::{DeviceDispense, MergeRequest, ServiceRequest};
use serde_json::{json, Value};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::types::Json;
use sqlx::{Database, Postgres, QueryBuilder, Row, Sqlite};
use uuid::fmt::Hyphenated;
use uuid::Uuid;

use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::Caller;
use super::openapi::schemas as doc;
use super::openapi::AuthenticatedErrors;
use super::query_params::{sqlite_instant, DateOrInstant};
use crate::app::AppState;
use crate::db::Db;
use cursor::Cursor;
use params::{Bind, Filter, Kind, ListQuery};

type RawQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// How a typed column is read and written to CSV.
#[derive(Clone, Copy)]
enum Type {
    Uuid,
    Text,
    Time,
    Json,
    Int,
}

struct Column {
    name: &'static str,
    kind: Type,
}

const fn col(name: &'static str, kind: Type) -> Column {
    Column { name, kind }
}

/// One list endpoint: its table, who may read it and how it filters.
struct Resource {
    table: &'static str,
    scope: &'static str,
    /// Columns naming a legal entity that may see the row; a row is visible when any of them is
    /// the caller's.
    tenancy: &'static [&'static str],
    /// A column holding a JSON array of further legal entities that see the row (those that
    /// released a service request keep seeing it).
    granted: Option<&'static str>,
    filters: &'static [Filter],
    /// The CSV columns: the table's typed columns, without the JSON `document`.
    columns: &'static [Column],
    /// The eHealth rendering of a row's `document`.
    render: fn(Value) -> Option<Value>,
}

// Enum values, exactly as the aggregates store them (a unit test below keeps them in step).
const SERVICE_REQUEST_STATUSES: &[&str] = &[
    "active",
    "in_progress",
    "completed",
    "recalled",
    "entered_in_error",
];
const PROGRAM_PROCESSING_STATUSES: &[&str] = &["new", "in_queue", "in_progress", "completed"];
const MERGE_REQUEST_STATUSES: &[&str] = &[
    "NEW",
    "APPROVED",
    "REJECTED",
    "CANCELLED",
    "SIGNED",
    "MERGED",
    "EXPIRED",
];
const DEVICE_DISPENSE_STATUSES: &[&str] = &[
    "in_progress",
    "completed",
    "declined",
    "stopped",
    "entered_in_error",
    "unknown",
    "preparation",
    "canceled",
];

const SERVICE_REQUESTS: Resource = Resource {
    table: "service_requests",
    scope: "service_request:read",
    tenancy: &["requester_legal_entity_id", "used_by_legal_entity_id"],
    granted: Some("released_by_legal_entity_ids"),
    filters: &[
        Filter {
            param: "status",
            column: "status",
            kind: Kind::Enum(SERVICE_REQUEST_STATUSES),
        },
        Filter {
            param: "program_processing_status",
            column: "program_processing_status",
            kind: Kind::Enum(PROGRAM_PROCESSING_STATUSES),
        },
        Filter {
            param: "requester_legal_entity",
            column: "requester_legal_entity_id",
            kind: Kind::Uuid,
        },
        Filter {
            param: "used_by_legal_entity",
            column: "used_by_legal_entity_id",
            kind: Kind::Uuid,
        },
        Filter {
            param: "patient_id",
            column: "patient_id",
            kind: Kind::Uuid,
        },
    ],
    columns: &[
        col("id", Type::Uuid),
        col("patient_id", Type::Uuid),
        col("status", Type::Text),
        col("program_processing_status", Type::Text),
        col("requester_employee_id", Type::Uuid),
        col("requester_legal_entity_id", Type::Uuid),
        col("used_by_employee_id", Type::Uuid),
        col("used_by_legal_entity_id", Type::Uuid),
        col("status_reason", Type::Json),
        col("inserted_at", Type::Time),
        col("updated_at", Type::Time),
        col("updated_by", Type::Uuid),
        col("version", Type::Int),
    ],
    render: |doc| {
        serde_json::from_value::<ServiceRequest>(doc)
            .ok()?
            .record
            .map(|r| r.render())
    },
};

const MERGE_REQUESTS: Resource = Resource {
    table: "merge_requests",
    scope: "merge_request:read",
    tenancy: &["legal_entity_id"],
    granted: None,
    filters: &[Filter {
        param: "status",
        column: "status",
        kind: Kind::Enum(MERGE_REQUEST_STATUSES),
    }],
    columns: &[
        col("id", Type::Uuid),
        col("master_person_id", Type::Uuid),
        col("merge_person_id", Type::Uuid),
        col("status", Type::Text),
        col("legal_entity_id", Type::Uuid),
        col("inserted_by", Type::Uuid),
        col("inserted_at", Type::Time),
        col("updated_by", Type::Uuid),
        col("updated_at", Type::Time),
        col("version", Type::Int),
    ],
    render: |doc| {
        serde_json::from_value::<MergeRequest>(doc)
            .ok()?
            .record
            .map(|r| r.render())
    },
};

const DEVICE_DISPENSES: Resource = Resource {
    table: "device_dispenses",
    scope: "device_dispense:read",
    tenancy: &["performer_legal_entity_id"],
    granted: None,
    filters: &[
        Filter {
            param: "status",
            column: "status",
            kind: Kind::Enum(DEVICE_DISPENSE_STATUSES),
        },
        Filter {
            param: "patient_id",
            column: "patient_id",
            kind: Kind::Uuid,
        },
    ],
    columns: &[
        col("id", Type::Uuid),
        col("patient_id", Type::Uuid),
        col("status", Type::Text),
        col("performer_legal_entity_id", Type::Uuid),
        col("inserted_at", Type::Time),
        col("updated_at", Type::Time),
        col("updated_by", Type::Uuid),
        col("version", Type::Int),
    ],
    render: |doc| {
        serde_json::from_value::<DeviceDispense>(doc)
            .ok()?
            .record
            .map(|r| r.render())
    },
};

/// The parameters every list takes, for the OpenAPI document only: [`params::parse`] parses them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // never constructed: the derive reads the declaration
struct ListParams {
    /// `updated_at` at or after this date (midnight UTC) or instant.
    #[param(value_type = Option<DateOrInstant>)]
    updated_from: Option<String>,
    /// `updated_at` before this date or instant.
    #[param(value_type = Option<DateOrInstant>)]
    updated_to: Option<String>,
    /// `inserted_at` at or after this date or instant.
    #[param(value_type = Option<DateOrInstant>)]
    inserted_from: Option<String>,
    /// `inserted_at` before this date or instant.
    #[param(value_type = Option<DateOrInstant>)]
    inserted_to: Option<String>,
    /// Items per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// A `next_cursor` of the same list (opaque, base64url): the page after it.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    cursor: Option<String>,
}

/// The filters of `GET /api/service_requests` (OpenAPI document only).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // never constructed: the derive reads the declaration
struct ServiceRequestFilters {
    #[param(value_type = Option<doc::ServiceRequestStatus>)]
    status: Option<String>,
    #[param(value_type = Option<doc::ProgramProcessingStatus>)]
    program_processing_status: Option<String>,
    /// Requested by this legal entity (never widens what the caller sees).
    requester_legal_entity: Option<Uuid>,
    /// Used by this legal entity (never widens what the caller sees).
    used_by_legal_entity: Option<Uuid>,
    patient_id: Option<Uuid>,
}

/// The filters of `GET /api/merge_requests` (OpenAPI document only).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // never constructed: the derive reads the declaration
struct MergeRequestFilters {
    #[param(value_type = Option<doc::MergeRequestStatus>)]
    status: Option<String>,
}

/// The filters of `GET /api/device_dispenses` (OpenAPI document only).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // never constructed: the derive reads the declaration
struct DeviceDispenseFilters {
    #[param(value_type = Option<doc::DeviceDispenseStatus>)]
    status: Option<String>,
    patient_id: Option<Uuid>,
}

/// `GET /api/service_requests` (scope `service_request:read`).
#[utoipa::path(
    get,
    path = "/api/service_requests",
    tag = "analyst lists",
    operation_id = "list_service_requests",
    summary = "Analyst list of service requests",
    description = "The service requests the caller's legal entity requested or uses, ordered by `(updated_at, id)`, one page at a time: pass `next_cursor` back as \
`cursor` (with the same filters and `limit`) for the next page. With `Accept: text/csv` (preferred \
over `application/json`) the page is CSV of the table's typed columns and the next page is in a \
`Link: <…>; rel=\"next\"` header. An empty value counts as absent.",
    params(ServiceRequestFilters, ListParams),
    security(("bearer" = ["service_request:read"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "A page", content(
            (doc::ServiceRequestList = "application/json"),
            (String = "text/csv"),
        ), headers(("Link" = String, description = "CSV only: the next page, `<url>; rel=\"next\"`; absent on the last page"))),
        (status = 400, description = "A query string that cannot be decoded", body = doc::ErrorEnvelope),
        (status = 422, description = "A value not in the enum, a malformed uuid, date, `limit` or `cursor`, an unknown or repeated parameter (all reported together), or a too long Idempotency-Key", body = doc::ErrorEnvelope),
    )
)]
pub async fn service_requests(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    list(&app, &caller, &headers, query, &SERVICE_REQUESTS).await
}

/// `GET /api/merge_requests` (scope `merge_request:read`).
#[utoipa::path(
    get,
    path = "/api/merge_requests",
    tag = "analyst lists",
    operation_id = "list_merge_requests",
    summary = "Analyst list of merge requests",
    description = "The merge requests created at the caller's legal entity, ordered by `(updated_at, id)`, one page at a time: pass `next_cursor` back as \
`cursor` (with the same filters and `limit`) for the next page. With `Accept: text/csv` (preferred \
over `application/json`) the page is CSV of the table's typed columns and the next page is in a \
`Link: <…>; rel=\"next\"` header. An empty value counts as absent.",
    params(MergeRequestFilters, ListParams),
    security(("bearer" = ["merge_request:read"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "A page", content(
            (doc::MergeRequestList = "application/json"),
            (String = "text/csv"),
        ), headers(("Link" = String, description = "CSV only: the next page, `<url>; rel=\"next\"`; absent on the last page"))),
        (status = 400, description = "A query string that cannot be decoded", body = doc::ErrorEnvelope),
        (status = 422, description = "A value not in the enum, a malformed uuid, date, `limit` or `cursor`, an unknown or repeated parameter (all reported together), or a too long Idempotency-Key", body = doc::ErrorEnvelope),
    )
)]
pub async fn merge_requests(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    list(&app, &caller, &headers, query, &MERGE_REQUESTS).await
}

/// `GET /api/device_dispenses` (scope `device_dispense:read`).
#[utoipa::path(
    get,
    path = "/api/device_dispenses",
    tag = "analyst lists",
    operation_id = "list_device_dispenses",
    summary = "Analyst list of device dispenses",
    description = "The device dispenses the caller's legal entity performed, ordered by `(updated_at, id)`, one page at a time: pass `next_cursor` back as \
`cursor` (with the same filters and `limit`) for the next page. With `Accept: text/csv` (preferred \
over `application/json`) the page is CSV of the table's typed columns and the next page is in a \
`Link: <…>; rel=\"next\"` header. An empty value counts as absent.",
    params(DeviceDispenseFilters, ListParams),
    security(("bearer" = ["device_dispense:read"])),
    responses(
        AuthenticatedErrors,
        (status = 200, description = "A page", content(
            (doc::DeviceDispenseList = "application/json"),
            (String = "text/csv"),
        ), headers(("Link" = String, description = "CSV only: the next page, `<url>; rel=\"next\"`; absent on the last page"))),
        (status = 400, description = "A query string that cannot be decoded", body = doc::ErrorEnvelope),
        (status = 422, description = "A value not in the enum, a malformed uuid, date, `limit` or `cursor`, an unknown or repeated parameter (all reported together), or a too long Idempotency-Key", body = doc::ErrorEnvelope),
    )
)]
pub async fn device_dispenses(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    query: RawQuery,
) -> Result<Response, ApiError> {
    list(&app, &caller, &headers, query, &DEVICE_DISPENSES).await
}

async fn list(
    app: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    query: RawQuery,
    resource: &Resource,
) -> Result<Response, ApiError> {
    caller.require(&[resource.scope])?;
    let Query(pairs) = query.map_err(|_| ApiError::bad_request("Malformed query string"))?;
    let query = params::parse(resource.table, resource.filters, pairs)?;
    let as_csv = csv::wants_csv(headers);
    let selected = if as_csv {
        resource
            .columns
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        "id, updated_at, document".to_string()
    };
    let legal_entity = caller.identity.client_id;
    match &app.db {
        Db::Postgres(pool) => {
            let rows = match select::<Postgres>(resource, &query, legal_entity, &selected) {
                Some(mut sql) => sql.build().fetch_all(pool).await?,
                None => Vec::new(),
            };
            answer(resource, rows, &query, as_csv, &caller.meta.url)
        }
        Db::Sqlite(lite) => {
            let rows = match select::<Sqlite>(resource, &query, legal_entity, &selected) {
                Some(mut sql) => sql.build().fetch_all(&lite.pool).await?,
                None => Vec::new(),
            };
            answer(resource, rows, &query, as_csv, &caller.meta.url)
        }
    }
}

/// The answer for the rows fetched (up to one more than the limit, which says there is more).
fn answer<R: ListRow>(
    resource: &Resource,
    mut rows: Vec<R>,
    query: &ListQuery,
    as_csv: bool,
    url: &str,
) -> Result<Response, ApiError> {
    let has_more = rows.len() as i64 > query.limit;
    rows.truncate(query.limit as usize);
    let next = match rows.last() {
        Some(last) if has_more => Some(
            Cursor {
                updated_at: last.updated_at()?,
                id: last.id()?,
            }
            .encode(resource.table),
        ),
        _ => None,
    };
    if as_csv {
        return csv_response(resource, &rows, next, query, url);
    }
    let data = rows
        .iter()
        .map(|row| {
            let id = row.id()?;
            let document = row.document()?;
            (resource.render)(document).ok_or_else(|| {
                tracing::error!(table = resource.table, %id, "stored document unreadable");
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

/// What differs between the backends in a page query: how values are bound (SQLite stores uuids
/// and instants as text, see `db::sqlite`) and two pieces of syntax.
trait Dialect: Database + Sized {
    /// How a branch of the page query opens (it closes with `)`): PostgreSQL takes a
    /// parenthesized `SELECT … ORDER BY … LIMIT` as a member of a `UNION ALL`, SQLite only as a
    /// subquery.
    const BRANCH: &'static str;
    /// `IS DISTINCT FROM`: a NULL column is not the caller.
    const IS_DISTINCT_FROM: &'static str;
    fn push_uuid(sql: &mut QueryBuilder<'_, Self>, id: Uuid);
    /// `column` (a JSON array of legal entity ids) holds `id`.
    fn push_holds(sql: &mut QueryBuilder<'_, Self>, column: &str, id: Uuid);
    fn push_instant(sql: &mut QueryBuilder<'_, Self>, at: DateTime<Utc>);
    fn push_text<'a>(sql: &mut QueryBuilder<'a, Self>, text: &'a str);
    fn push_int(sql: &mut QueryBuilder<'_, Self>, n: i64);
}

impl Dialect for Postgres {
    const BRANCH: &'static str = "(";
    const IS_DISTINCT_FROM: &'static str = "IS DISTINCT FROM";
    fn push_uuid(sql: &mut QueryBuilder<'_, Self>, id: Uuid) {
        sql.push_bind(id);
    }
    fn push_holds(sql: &mut QueryBuilder<'_, Self>, column: &str, id: Uuid) {
        // `@>` on a GIN (jsonb_path_ops) index.
        sql.push(format!("{column} @> jsonb_build_array("))
            .push_bind(id.to_string())
            .push(")");
    }
    fn push_instant(sql: &mut QueryBuilder<'_, Self>, at: DateTime<Utc>) {
        sql.push_bind(at);
    }
    fn push_text<'a>(sql: &mut QueryBuilder<'a, Self>, text: &'a str) {
        sql.push_bind(text);
    }
    fn push_int(sql: &mut QueryBuilder<'_, Self>, n: i64) {
        sql.push_bind(n);
    }
}

impl Dialect for Sqlite {
    const BRANCH: &'static str = "SELECT * FROM (";
    const IS_DISTINCT_FROM: &'static str = "IS NOT";
    fn push_uuid(sql: &mut QueryBuilder<'_, Self>, id: Uuid) {
        sql.push_bind(crate::db::sqlite::id(id));
    }
    fn push_holds(sql: &mut QueryBuilder<'_, Self>, column: &str, id: Uuid) {
        sql.push(format!(
            "EXISTS (SELECT 1 FROM json_each({column}) WHERE value = "
        ))
        .push_bind(id.to_string())
        .push(")");
    }
    fn push_instant(sql: &mut QueryBuilder<'_, Self>, at: DateTime<Utc>) {
        sql.push_bind(sqlite_instant(at));
    }
    fn push_text<'a>(sql: &mut QueryBuilder<'a, Self>, text: &'a str) {
        sql.push_bind(text);
    }
    fn push_int(sql: &mut QueryBuilder<'_, Self>, n: i64) {
        sql.push_bind(n);
    }
}

/// A fetched row, read the same way on both backends.
trait ListRow {
    fn id(&self) -> Result<Uuid, sqlx::Error>;
    fn updated_at(&self) -> Result<DateTime<Utc>, sqlx::Error>;
    fn document(&self) -> Result<Value, sqlx::Error>;
    /// The CSV cell of a typed column; NULL is an empty field.
    fn cell(&self, column: &Column) -> Result<String, sqlx::Error>;
}

impl ListRow for PgRow {
    fn id(&self) -> Result<Uuid, sqlx::Error> {
        self.try_get("id")
    }
    fn updated_at(&self) -> Result<DateTime<Utc>, sqlx::Error> {
        self.try_get("updated_at")
    }
    fn document(&self) -> Result<Value, sqlx::Error> {
        self.try_get("document")
    }
    fn cell(&self, column: &Column) -> Result<String, sqlx::Error> {
        let name = column.name;
        Ok(match column.kind {
            Type::Uuid => self
                .try_get::<Option<Uuid>, _>(name)?
                .map(|id| id.to_string()),
            Type::Text => self.try_get::<Option<String>, _>(name)?,
            Type::Time => self
                .try_get::<Option<DateTime<Utc>>, _>(name)?
                .map(csv_instant),
            Type::Json => self.try_get::<Option<Value>, _>(name)?.and_then(csv_json),
            Type::Int => self.try_get::<Option<i64>, _>(name)?.map(|n| n.to_string()),
        }
        .unwrap_or_default())
    }
}

impl ListRow for SqliteRow {
    fn id(&self) -> Result<Uuid, sqlx::Error> {
        self.try_get::<Hyphenated, _>("id")
            .map(Hyphenated::into_uuid)
    }
    fn updated_at(&self) -> Result<DateTime<Utc>, sqlx::Error> {
        self.try_get("updated_at")
    }
    fn document(&self) -> Result<Value, sqlx::Error> {
        self.try_get::<Json<Value>, _>("document").map(|j| j.0)
    }
    fn cell(&self, column: &Column) -> Result<String, sqlx::Error> {
        let name = column.name;
        Ok(match column.kind {
            Type::Uuid => self
                .try_get::<Option<Hyphenated>, _>(name)?
                .map(|id| id.into_uuid().to_string()),
            Type::Text => self.try_get::<Option<String>, _>(name)?,
            Type::Time => self
                .try_get::<Option<DateTime<Utc>>, _>(name)?
                .map(csv_instant),
            Type::Json => self
                .try_get::<Option<Json<Value>>, _>(name)?
                .and_then(|j| csv_json(j.0)),
            Type::Int => self.try_get::<Option<i64>, _>(name)?.map(|n| n.to_string()),
        }
        .unwrap_or_default())
    }
}

/// A timestamp cell: the same form as the JSON rendering of timestamps.
fn csv_instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A JSON cell; a JSON `null` is an empty field, like NULL.
fn csv_json(value: Value) -> Option<String> {
    (!value.is_null()).then(|| value.to_string())
}

/// The page query: one index-ordered branch per tenancy column, each limited, merged and limited
/// again. A later branch excludes rows an earlier one already yields, so a service request that
/// its requester also uses appears once. A branch that a filter makes impossible (the caller's
/// requester branch under `requester_legal_entity=<another>`) is left out, and `None` means no
/// branch is left: the answer is empty without asking the database.
fn select<'a, D: Dialect>(
    resource: &Resource,
    query: &'a ListQuery,
    legal_entity: Uuid,
    selected: &str,
) -> Option<QueryBuilder<'a, D>> {
    let filtered = |column: &str| {
        query.equals.iter().find_map(|(c, v)| match v {
            Bind::Uuid(id) if *c == column => Some(*id),
            _ => None,
        })
    };
    let mut branches: Vec<Branch> = (0..resource.tenancy.len())
        .filter(|&i| {
            let own = filtered(resource.tenancy[i]).is_none_or(|id| id == legal_entity);
            let earlier_excluded = resource.tenancy[..i]
                .iter()
                .any(|c| filtered(c) == Some(legal_entity));
            own && !earlier_excluded
        })
        .map(Branch::Column)
        .collect();
    // Rows the caller sees through the granted list, and through no tenancy column: possible
    // unless a filter pins a tenancy column to the caller (then the earlier branch has them).
    if let Some(granted) = resource.granted {
        if !resource
            .tenancy
            .iter()
            .any(|c| filtered(c) == Some(legal_entity))
        {
            branches.push(Branch::Granted(granted));
        }
    }
    if branches.is_empty() {
        return None;
    }
    let fetch = query.limit + 1;
    let mut sql = QueryBuilder::new("");
    if branches.len() > 1 {
        sql.push(format!("SELECT {selected} FROM ("));
    }
    for (n, branch) in branches.iter().enumerate() {
        if n > 0 {
            sql.push(" UNION ALL ");
        }
        // Identifiers come from the constant resource descriptions, never from the request.
        sql.push(format!(
            "{}SELECT {selected} FROM {} WHERE ",
            D::BRANCH,
            resource.table,
        ));
        let earlier = match *branch {
            Branch::Column(i) => {
                sql.push(format!("{} = ", resource.tenancy[i]));
                D::push_uuid(&mut sql, legal_entity);
                &resource.tenancy[..i]
            }
            Branch::Granted(column) => {
                D::push_holds(&mut sql, column, legal_entity);
                resource.tenancy
            }
        };
        for earlier in earlier {
            sql.push(format!(" AND {earlier} {} ", D::IS_DISTINCT_FROM));
            D::push_uuid(&mut sql, legal_entity);
        }
        for (column, value) in &query.equals {
            sql.push(format!(" AND {column} = "));
            match value {
                Bind::Text(text) => D::push_text(&mut sql, text),
                Bind::Uuid(id) => D::push_uuid(&mut sql, *id),
            };
        }
        for (column, op, at) in &query.ranges {
            sql.push(format!(" AND {column} {op} "));
            D::push_instant(&mut sql, *at);
        }
        if let Some(after) = &query.after {
            sql.push(" AND (updated_at, id) > (");
            D::push_instant(&mut sql, after.updated_at);
            sql.push(", ");
            D::push_uuid(&mut sql, after.id);
            sql.push(")");
        }
        sql.push(" ORDER BY updated_at, id LIMIT ");
        D::push_int(&mut sql, fetch);
        sql.push(")");
    }
    if branches.len() > 1 {
        sql.push(") page ORDER BY updated_at, id LIMIT ");
        D::push_int(&mut sql, fetch);
    }
    Some(sql)
}

/// One branch of the page query: a tenancy column equal to the caller, or the granted list
/// holding it.
enum Branch {
    Column(usize),
    Granted(&'static str),
}

/// The page as CSV; the next page, if any, is announced in a `Link: <…>; rel="next"` header that
/// repeats the request's filters and limit with the new cursor.
fn csv_response<R: ListRow>(
    resource: &Resource,
    rows: &[R],
    next: Option<String>,
    query: &ListQuery,
    url: &str,
) -> Result<Response, ApiError> {
    let mut out = String::new();
    csv::push_record(&mut out, resource.columns.iter().map(|c| c.name));
    for row in rows {
        let cells = resource
            .columns
            .iter()
            .map(|c| row.cell(c))
            .collect::<Result<Vec<_>, _>>()?;
        csv::push_record(&mut out, cells);
    }
    let mut response = (StatusCode::OK, out).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(csv::CONTENT_TYPE));
    headers.insert(VARY, HeaderValue::from_static("accept"));
    if let Some(cursor) = next {
        let mut pairs: Vec<(&str, &str)> = query
            .kept
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("cursor", &cursor));
        let query_string = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let link = format!("<{url}?{query_string}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(LINK, value);
        }
    }
    Ok(response)
}

/// Percent-encodes everything but RFC 3986 unreserved characters (a `+` of a time zone offset
/// must not reach the server as a space).
fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ehealth_aggregates::device_dispense::DeviceDispenseStatus;
    use ehealth_aggregates::merge_request::MergeRequestStatus;
    use ehealth_aggregates::service_request::{ProgramProcessingStatus, ServiceRequestStatus};
    use serde::de::DeserializeOwned;

    /// Every listed value is a value of the aggregate's enum, and the list is complete.
    fn matches_enum<E: DeserializeOwned>(
        listed: &[&str],
        variants: usize,
        as_str: fn(E) -> &'static str,
    ) {
        for value in listed {
            let parsed: E = serde_json::from_value(json!(value))
                .unwrap_or_else(|_| panic!("{value} is not a stored value"));
            assert_eq!(as_str(parsed), *value);
        }
        assert_eq!(listed.len(), variants);
    }

    #[test]
    fn filter_values_are_exactly_the_stored_enum_values() {
        // The variant counts come from exhaustive matches: a new variant fails to compile here.
        let sr = |s: ServiceRequestStatus| match s {
            ServiceRequestStatus::Active
            | ServiceRequestStatus::InProgress
            | ServiceRequestStatus::Completed
            | ServiceRequestStatus::Recalled
            | ServiceRequestStatus::EnteredInError => 5,
        };
        let pps = |s: ProgramProcessingStatus| match s {
            ProgramProcessingStatus::New
            | ProgramProcessingStatus::InQueue
            | ProgramProcessingStatus::InProgress
            | ProgramProcessingStatus::Completed => 4,
        };
        let mr = |s: MergeRequestStatus| match s {
            MergeRequestStatus::New
            | MergeRequestStatus::Approved
            | MergeRequestStatus::Rejected
            | MergeRequestStatus::Cancelled
            | MergeRequestStatus::Signed
            | MergeRequestStatus::Merged
            | MergeRequestStatus::Expired => 7,
        };
        let dd = |s: DeviceDispenseStatus| match s {
            DeviceDispenseStatus::InProgress
            | DeviceDispenseStatus::Completed
            | DeviceDispenseStatus::Declined
            | DeviceDispenseStatus::Stopped
            | DeviceDispenseStatus::EnteredInError
            | DeviceDispenseStatus::Unknown
            | DeviceDispenseStatus::Preparation
            | DeviceDispenseStatus::Canceled => 8,
        };
        matches_enum(
            SERVICE_REQUEST_STATUSES,
            sr(ServiceRequestStatus::Active),
            ServiceRequestStatus::as_str,
        );
        matches_enum(
            PROGRAM_PROCESSING_STATUSES,
            pps(ProgramProcessingStatus::New),
            ProgramProcessingStatus::as_str,
        );
        matches_enum(
            MERGE_REQUEST_STATUSES,
            mr(MergeRequestStatus::New),
            MergeRequestStatus::as_str,
        );
        matches_enum(
            DEVICE_DISPENSE_STATUSES,
            dd(DeviceDispenseStatus::InProgress),
            DeviceDispenseStatus::as_str,
        );
    }

    #[test]
    fn next_links_keep_offsets_and_reserved_characters_intact() {
        assert_eq!(
            percent_encode("2024-05-01T10:00:00+03:00"),
            "2024-05-01T10%3A00%3A00%2B03%3A00"
        );
        assert_eq!(percent_encode("a b&c=d"), "a%20b%26c%3Dd");
    }

    #[test]
    fn a_service_request_page_is_one_ordered_branch_per_tenancy_column() {
        let query = params::parse(
            "service_requests",
            SERVICE_REQUESTS.filters,
            vec![("status".into(), "active".into())],
        )
        .unwrap();
        let sql = select::<Postgres>(&SERVICE_REQUESTS, &query, Uuid::nil(), "id")
            .unwrap()
            .into_sql();
        assert_eq!(
            sql,
            "SELECT id FROM (\
             (SELECT id FROM service_requests WHERE requester_legal_entity_id = $1 AND status = $2 \
             ORDER BY updated_at, id LIMIT $3) UNION ALL \
             (SELECT id FROM service_requests WHERE used_by_legal_entity_id = $4 \
             AND requester_legal_entity_id IS DISTINCT FROM $5 AND status = $6 \
             ORDER BY updated_at, id LIMIT $7) UNION ALL \
             (SELECT id FROM service_requests WHERE released_by_legal_entity_ids @> jsonb_build_array($8) \
             AND requester_legal_entity_id IS DISTINCT FROM $9 \
             AND used_by_legal_entity_id IS DISTINCT FROM $10 AND status = $11 \
             ORDER BY updated_at, id LIMIT $12)) page ORDER BY updated_at, id LIMIT $13"
        );
    }

    #[test]
    fn on_sqlite_each_branch_is_a_subquery() {
        let query = params::parse(
            "service_requests",
            SERVICE_REQUESTS.filters,
            vec![("status".into(), "active".into())],
        )
        .unwrap();
        let sql = select::<Sqlite>(&SERVICE_REQUESTS, &query, Uuid::nil(), "id")
            .unwrap()
            .into_sql();
        assert_eq!(
            sql,
            "SELECT id FROM (\
             SELECT * FROM (SELECT id FROM service_requests WHERE requester_legal_entity_id = ? \
             AND status = ? ORDER BY updated_at, id LIMIT ?) UNION ALL \
             SELECT * FROM (SELECT id FROM service_requests WHERE used_by_legal_entity_id = ? \
             AND requester_legal_entity_id IS NOT ? AND status = ? \
             ORDER BY updated_at, id LIMIT ?) UNION ALL \
             SELECT * FROM (SELECT id FROM service_requests WHERE EXISTS (SELECT 1 FROM \
             json_each(released_by_legal_entity_ids) WHERE value = ?) \
             AND requester_legal_entity_id IS NOT ? AND used_by_legal_entity_id IS NOT ? \
             AND status = ? ORDER BY updated_at, id LIMIT ?)) page ORDER BY updated_at, id LIMIT ?"
        );
    }

    fn branch_count(params: &[(&str, Uuid)], caller: Uuid) -> usize {
        let pairs = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let query = params::parse("service_requests", SERVICE_REQUESTS.filters, pairs).unwrap();
        select::<Postgres>(&SERVICE_REQUESTS, &query, caller, "id")
            .map_or(0, |sql| sql.into_sql().matches("(SELECT").count())
    }

    #[test]
    fn a_legal_entity_filter_leaves_out_the_branches_it_makes_impossible() {
        let (me, other) = (Uuid::from_u128(1), Uuid::from_u128(2));
        // Requested by me, used by me, or released by me (and neither of the others).
        assert_eq!(branch_count(&[], me), 3);
        // Requested by me: only the requester branch; by another: what I use or released.
        assert_eq!(branch_count(&[("requester_legal_entity", me)], me), 1);
        assert_eq!(branch_count(&[("requester_legal_entity", other)], me), 2);
        // Used by me but requested by me is the requester branch; used by another: what I
        // requested or released.
        assert_eq!(branch_count(&[("used_by_legal_entity", me)], me), 2);
        assert_eq!(branch_count(&[("used_by_legal_entity", other)], me), 2);
        // Neither side is mine: only what I released can be visible.
        assert_eq!(
            branch_count(
                &[
                    ("requester_legal_entity", other),
                    ("used_by_legal_entity", other)
                ],
                me
            ),
            1
        );
        // Resources without a granted list keep one branch per tenancy column.
        let query = params::parse("merge_requests", MERGE_REQUESTS.filters, vec![]).unwrap();
        let sql = select::<Postgres>(&MERGE_REQUESTS, &query, me, "id")
            .unwrap()
            .into_sql();
        assert_eq!(sql.matches("(SELECT").count(), 1, "{sql}");
    }
}
