//! The SQLite live path against a real (in-memory) SQLite database with the service's schema.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::DomainEvent;
use ehealth_aggregates::approval::{ApprovalEvent, ApprovalRecord, ApprovalStatus, OtpChallenge};
use ehealth_aggregates::device_dispense::{
    DeviceDispenseEvent, DeviceDispenseRecord, DeviceDispenseStatus,
};
use ehealth_aggregates::merge_request::{
    MergeRequestEvent, MergeRequestRecord, MergeRequestStatus,
};
use ehealth_aggregates::service_request::{
    ProgramProcessingStatus, ServiceRequestEvent, ServiceRequestRecord, ServiceRequestStatus,
    StatusHistoryEntry,
};
use ehealth_aggregates::ServiceRequest;
use serde_json::{json, Map, Value};
use sqlx::sqlite::SqlitePool;
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::test_db::sqlite;

use crate::status::FEED_NAMESPACE;
use crate::{load_document_sqlite, project_sqlite, Fold, ProjectionError, StoredEvent};

const SR: Uuid = Uuid::from_u128(0x5a00_0000_0000_4000_8000_0000_0000_00a1);
const PATIENT: Uuid = Uuid::from_u128(0x9a00_0000_0000_4000_8000_0000_0000_0001);
const AUTHOR: Uuid = Uuid::from_u128(0xa000_0000_0000_4000_8000_0000_0000_0001);
const RECALLER: Uuid = Uuid::from_u128(0xa000_0000_0000_4000_8000_0000_0000_0002);
const REQUESTER_EMPLOYEE: Uuid = Uuid::from_u128(0xe000_0000_0000_4000_8000_0000_0000_0001);
const REQUESTER_LE: Uuid = Uuid::from_u128(0x1e00_0000_0000_4000_8000_0000_0000_0001);
const USING_EMPLOYEE: Uuid = Uuid::from_u128(0xe000_0000_0000_4000_8000_0000_0000_0002);
const USING_LE: Uuid = Uuid::from_u128(0x1e00_0000_0000_4000_8000_0000_0000_0002);

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn created_at() -> DateTime<Utc> {
    at("2024-03-01T09:00:00Z")
}

/// Sub-microsecond digits, which the stored text drops as PostgreSQL does.
fn recalled_at() -> DateTime<Utc> {
    at("2024-03-02T10:30:15.123456Z") + Duration::nanoseconds(789)
}

/// An event as the event store keeps it: the payload serialized as the aggregates serialize it,
/// the acting user in the metadata.
fn stored<E: DomainEvent>(
    aggregate_type: &str,
    aggregate_id: Uuid,
    sequence: i64,
    global_position: i64,
    event: &E,
    user: Uuid,
    recorded_at: DateTime<Utc>,
) -> StoredEvent {
    StoredEvent {
        global_position,
        aggregate_type: aggregate_type.to_string(),
        aggregate_id: aggregate_id.to_string(),
        sequence,
        event_type: event.event_type(),
        payload: serde_json::to_value(event).unwrap(),
        metadata: json!({ "user_id": user }),
        recorded_at,
    }
}

fn sr_record() -> ServiceRequestRecord {
    let mut other = Map::new();
    other.insert("intent".into(), json!("order"));
    other.insert("requisition".into(), json!("AX12-3456-7890"));
    ServiceRequestRecord {
        id: SR,
        patient_id: PATIENT,
        status: ServiceRequestStatus::Active,
        program_processing_status: Some(ProgramProcessingStatus::InQueue),
        requester_employee: Some(REQUESTER_EMPLOYEE),
        requester_legal_entity: Some(REQUESTER_LE),
        used_by_employee: Some(USING_EMPLOYEE),
        used_by_legal_entity: Some(USING_LE),
        status_reason: None,
        explanatory_letter: None,
        status_history: vec![StatusHistoryEntry {
            status: ServiceRequestStatus::Active,
            status_reason: None,
            inserted_at: created_at(),
            inserted_by: Some(AUTHOR),
        }],
        signed_content_links: vec![],
        inserted_at: created_at(),
        inserted_by: Some(AUTHOR),
        updated_at: created_at(),
        updated_by: Some(AUTHOR),
        other,
        released_by: Vec::new(),
    }
}

fn sr_imported() -> StoredEvent {
    let event = ServiceRequestEvent::ServiceRequestImported(Box::new(sr_record()));
    stored("ServiceRequest", SR, 1, 1, &event, AUTHOR, created_at())
}

fn recall_reason() -> Value {
    json!({"coding": [{"system": "eHealth/service_request_recall_reasons", "code": "1"}]})
}

fn sr_recalled() -> StoredEvent {
    let event = ServiceRequestEvent::ServiceRequestRecalled {
        status_reason: recall_reason(),
        explanatory_letter: Some("Wrong patient".into()),
        signed_content_link: format!("{SR}/recall"),
        by: RECALLER,
        at: recalled_at(),
    };
    stored(
        "ServiceRequest",
        SR,
        2,
        2,
        &event,
        RECALLER,
        recalled_at() + Duration::milliseconds(5),
    )
}

/// Projects `events` in one write transaction, as the append does.
async fn project_committed(
    pool: &SqlitePool,
    events: &[StoredEvent],
) -> Result<(), ProjectionError> {
    let mut tx = pool.begin().await?;
    project_sqlite(&mut tx, events).await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, PartialEq, sqlx::FromRow)]
struct SrRow {
    id: String,
    patient_id: String,
    status: String,
    program_processing_status: Option<String>,
    requester_employee_id: Option<String>,
    requester_legal_entity_id: Option<String>,
    used_by_employee_id: Option<String>,
    used_by_legal_entity_id: Option<String>,
    status_reason: Option<String>,
    inserted_at: String,
    updated_at: String,
    updated_by: Option<String>,
    version: i64,
}

/// The one row `sql` selects.
async fn one<T>(conn: &mut SqliteConnection, sql: &str) -> T
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    sqlx::query_as(sql).fetch_one(conn).await.unwrap()
}

async fn sr_row(conn: &mut SqliteConnection) -> SrRow {
    one(
        conn,
        "SELECT id, patient_id, status, program_processing_status, requester_employee_id, \
         requester_legal_entity_id, used_by_employee_id, used_by_legal_entity_id, status_reason, \
         inserted_at, updated_at, updated_by, version FROM service_requests",
    )
    .await
}

type HistoryRow = (
    String,
    String,
    i64,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    String,
);

async fn history(conn: &mut SqliteConnection) -> Vec<HistoryRow> {
    sqlx::query_as(
        "SELECT entity_type, entity_id, sequence, attribute, old_value, new_value, \
         global_position, changed_by, changed_at FROM status_history \
         ORDER BY global_position, entity_id, sequence, attribute",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

type FeedRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
);

async fn feed(conn: &mut SqliteConnection) -> Vec<FeedRow> {
    sqlx::query_as(
        "SELECT id, event_type, entity_type, entity_id, properties, event_time, changed_by, \
         global_position, sequence FROM status_change_events ORDER BY global_position, entity_id",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

fn s(id: Uuid) -> String {
    id.hyphenated().to_string()
}

fn feed_id(entity_type: &str, entity: Uuid, sequence: i64) -> String {
    s(Uuid::new_v5(
        &FEED_NAMESPACE,
        format!("{entity_type}/{entity}/{sequence}").as_bytes(),
    ))
}

/// The `service_requests` row the import writes.
fn sr_row_of_import() -> SrRow {
    SrRow {
        id: s(SR),
        patient_id: s(PATIENT),
        status: "active".into(),
        program_processing_status: Some("in_queue".into()),
        requester_employee_id: Some(s(REQUESTER_EMPLOYEE)),
        requester_legal_entity_id: Some(s(REQUESTER_LE)),
        used_by_employee_id: Some(s(USING_EMPLOYEE)),
        used_by_legal_entity_id: Some(s(USING_LE)),
        status_reason: None,
        inserted_at: "2024-03-01T09:00:00.000000Z".into(),
        updated_at: "2024-03-01T09:00:00.000000Z".into(),
        updated_by: Some(s(AUTHOR)),
        version: 1,
    }
}

#[tokio::test]
async fn a_service_request_import_then_recall() {
    let pool = sqlite().await;

    // The import: the row, and history of both tracked attributes but no feed record (a creation).
    project_committed(&pool, &[sr_imported()]).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(sr_row(&mut conn).await, sr_row_of_import());
    let created = |attribute: &str, value: &str| {
        (
            "ServiceRequest".to_string(),
            s(SR),
            1,
            attribute.to_string(),
            None,
            Some(value.to_string()),
            1,
            Some(s(AUTHOR)),
            "2024-03-01T09:00:00.000000Z".to_string(),
        )
    };
    assert_eq!(
        history(&mut conn).await,
        vec![
            created("program_processing_status", "in_queue"),
            created("status", "active"),
        ]
    );
    assert!(feed(&mut conn).await.is_empty());
    drop(conn);

    // The recall, in a commit of its own: the state is loaded from the table, not kept in memory.
    project_committed(&pool, &[sr_recalled()]).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let recalled_ts = "2024-03-02T10:30:15.123456Z".to_string();
    let row = sr_row(&mut conn).await;
    let reason: Value = serde_json::from_str(row.status_reason.as_deref().unwrap()).unwrap();
    assert_eq!(reason, recall_reason());
    assert_eq!(
        row,
        SrRow {
            status: "recalled".into(),
            status_reason: row.status_reason.clone(),
            updated_at: recalled_ts.clone(),
            updated_by: Some(s(RECALLER)),
            version: 2,
            ..sr_row_of_import()
        }
    );

    let rows = history(&mut conn).await;
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[2],
        (
            "ServiceRequest".to_string(),
            s(SR),
            2,
            "status".to_string(),
            Some("active".to_string()),
            Some("recalled".to_string()),
            2,
            Some(s(RECALLER)),
            recalled_ts.clone(),
        )
    );
    assert_eq!(
        feed(&mut conn).await,
        vec![(
            feed_id("ServiceRequest", SR, 2),
            "StatusChangeEvent".to_string(),
            "ServiceRequest".to_string(),
            s(SR),
            r#"{"status":{"new_value":"recalled"}}"#.to_string(),
            recalled_ts.clone(),
            s(RECALLER),
            2,
            2,
        )]
    );

    // Every uuid and instant is TEXT, as the schema's conventions say.
    let types: (String, String, String, String) = one(
        &mut conn,
        "SELECT typeof(s.id), typeof(s.updated_at), typeof(h.entity_id), typeof(f.entity_id) \
         FROM service_requests s, status_history h, status_change_events f LIMIT 1",
    )
    .await;
    assert_eq!(
        types,
        ("text".into(), "text".into(), "text".into(), "text".into())
    );

    // The stored document is the aggregate's state.
    let doc = load_document_sqlite(&mut conn, "service_requests", SR)
        .await
        .unwrap()
        .unwrap();
    let state: ServiceRequest = serde_json::from_str(&doc).unwrap();
    let record = state.record.unwrap();
    assert_eq!(record.status, ServiceRequestStatus::Recalled);
    assert_eq!(record.status_reason, Some(recall_reason()));
    assert_eq!(record.explanatory_letter.as_deref(), Some("Wrong patient"));
    assert_eq!(record.updated_at, recalled_at());
    assert_eq!(
        load_document_sqlite(&mut conn, "service_requests", PATIENT)
            .await
            .unwrap(),
        None
    );
    drop(conn);

    // The loaded version guards against an event read twice, as on PostgreSQL.
    let err = project_committed(&pool, &[sr_recalled()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProjectionError::OutOfOrder { version: 2, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn an_older_version_never_replaces_a_newer_row() {
    let pool = sqlite().await;
    project_committed(&pool, &[sr_imported(), sr_recalled()])
        .await
        .unwrap();

    // The rows of version 1 only (a fold that saw the import alone), written over version 2.
    let imported = sr_imported();
    let mut fold = Fold::from_empty();
    fold.apply(&imported.as_ref()).unwrap();
    let batch = fold.take_batch(true).unwrap();
    let mut conn = pool.acquire().await.unwrap();
    batch.write_sqlite(&mut conn).await.unwrap();

    let row = sr_row(&mut conn).await;
    assert_eq!((row.status.as_str(), row.version), ("recalled", 2));
    // History and feed rows already present are left alone.
    assert_eq!(history(&mut conn).await.len(), 3);
    assert_eq!(feed(&mut conn).await.len(), 1);
}

mod mixed;
