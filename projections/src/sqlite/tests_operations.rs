//! `rebuild` and `verify` on SQLite against a real (in-memory) database with the service's schema:
//! events appended with their live projections as the store appends them, then the operations.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::DomainEvent;
use ehealth_aggregates::device_dispense::{
    DeviceDispenseEvent, DeviceDispenseRecord, DeviceDispenseStatus,
};
use ehealth_aggregates::service_request::{
    ProgramProcessingStatus, ServiceRequestEvent, ServiceRequestRecord, ServiceRequestStatus,
};
use serde_json::{json, Map};
use sqlx::sqlite::SqlitePool;
use sqlx::SqliteConnection;
use uuid::Uuid;

use crate::test_db::sqlite;

use super::{rebuild, verify};
use crate::verify::DifferenceKind;
use crate::{project_sqlite, StoredEvent, TABLES};

const PATIENT: Uuid = Uuid::from_u128(0x9a00_0000_0000_4000_8000_0000_0000_0001);
const DOCTOR: Uuid = Uuid::from_u128(0xa000_0000_0000_4000_8000_0000_0000_0001);
const LE: Uuid = Uuid::from_u128(0x1e00_0000_0000_4000_8000_0000_0000_0001);

fn at(minutes: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-03-01T09:00:00.250001Z")
        .unwrap()
        .with_timezone(&Utc)
        + Duration::minutes(minutes)
}

fn stored<E: DomainEvent>(
    aggregate_type: &str,
    id: Uuid,
    sequence: i64,
    event: &E,
    recorded_at: DateTime<Utc>,
) -> StoredEvent {
    StoredEvent {
        global_position: 0,
        aggregate_type: aggregate_type.into(),
        aggregate_id: id.to_string(),
        sequence,
        event_type: event.event_type(),
        payload: serde_json::to_value(event).unwrap(),
        metadata: json!({ "user_id": DOCTOR, "request_id": "r" }),
        recorded_at,
    }
}

/// A service request imported and released, and a device dispense imported and stopped.
fn histories(n: u128) -> Vec<StoredEvent> {
    let sr = Uuid::from_u128(0x5a00_0000_0000_4000_8000_0000_0000_0000 + n);
    let dd = Uuid::from_u128(0xdd00_0000_0000_4000_8000_0000_0000_0000 + n);
    let mut other = Map::new();
    other.insert("intent".into(), json!("order"));
    let record = ServiceRequestRecord {
        id: sr,
        patient_id: PATIENT,
        status: ServiceRequestStatus::Active,
        program_processing_status: Some(ProgramProcessingStatus::InQueue),
        requester_employee: Some(DOCTOR),
        requester_legal_entity: Some(LE),
        used_by_employee: Some(DOCTOR),
        used_by_legal_entity: Some(LE),
        status_reason: None,
        explanatory_letter: None,
        status_history: vec![],
        signed_content_links: vec![],
        inserted_at: at(0),
        inserted_by: None,
        updated_at: at(0),
        updated_by: None,
        other,
        released_by: Vec::new(),
    };
    let dispense = DeviceDispenseRecord {
        id: dd,
        patient_id: PATIENT,
        status: DeviceDispenseStatus::InProgress,
        performer_legal_entity: LE,
        performer: Some(DOCTOR),
        inserted_at: at(0),
        inserted_by: None,
        updated_at: at(0),
        updated_by: None,
        other: Map::new(),
    };
    vec![
        stored(
            "ServiceRequest",
            sr,
            1,
            &ServiceRequestEvent::ServiceRequestImported(Box::new(record)),
            at(1),
        ),
        stored(
            "DeviceDispense",
            dd,
            1,
            &DeviceDispenseEvent::DeviceDispenseImported(Box::new(dispense)),
            at(1),
        ),
        stored(
            "ServiceRequest",
            sr,
            2,
            &ServiceRequestEvent::ServiceRequestReleased {
                released_employee: Some(DOCTOR),
                released_legal_entity: Some(LE),
                by: DOCTOR,
                at: at(2),
            },
            at(2),
        ),
        stored(
            "DeviceDispense",
            dd,
            2,
            &DeviceDispenseEvent::DeviceDispenseStopped {
                by: DOCTOR,
                at: at(3),
            },
            at(3),
        ),
    ]
}

/// Appends `events` (positions assigned by the table) with their live projections, in one
/// write transaction, as the event store does.
async fn append(pool: &SqlitePool, mut events: Vec<StoredEvent>) {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    for e in &mut events {
        e.global_position = sqlx::query_scalar(
            "INSERT INTO events (recorded_at, aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, hash) VALUES ($1, $2, $3, $4, $5, '1.0', $6, $7, \
             zeroblob(32)) RETURNING global_position",
        )
        .bind(super::ts(e.recorded_at))
        .bind(&e.aggregate_type)
        .bind(&e.aggregate_id)
        .bind(e.sequence)
        .bind(&e.event_type)
        .bind(e.payload.to_string())
        .bind(e.metadata.to_string())
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    }
    project_sqlite(&mut tx, &events).await.unwrap();
    tx.commit().await.unwrap();
}

/// Every row of every projection table as text (`status_change_events.inserted_at` left out).
async fn dump(conn: &mut SqliteConnection) -> Vec<(&'static str, Vec<String>)> {
    let mut all = Vec::new();
    for table in TABLES {
        let columns: Vec<String> = sqlx::query_scalar(&format!(
            "SELECT name FROM pragma_table_info('{table}') WHERE name <> 'inserted_at' \
             OR '{table}' <> 'status_change_events' ORDER BY cid"
        ))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        let row = columns
            .iter()
            .map(|c| format!("quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || ',' || ");
        let rows: Vec<String> =
            sqlx::query_scalar(&format!("SELECT {row} AS r FROM main.{table} ORDER BY r"))
                .fetch_all(&mut *conn)
                .await
                .unwrap();
        all.push((table, rows));
    }
    all
}

async fn rebuild_committed(pool: &SqlitePool) -> u64 {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
    let events = rebuild::rebuild(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    events
}

#[tokio::test]
async fn rebuild_reproduces_every_row_the_live_path_wrote_and_repairs_damage() {
    let pool = sqlite().await;
    append(&pool, histories(1)).await;
    append(&pool, histories(2)).await;
    let mut conn = pool.acquire().await.unwrap();
    let before = dump(&mut conn).await;
    let rows = |table: &str| before.iter().find(|(t, _)| *t == table).unwrap().1.len();
    assert_eq!(rows("service_requests"), 2, "two service requests");
    assert_eq!(
        rows("status_history"),
        10,
        "history: 2 × (3 created + 2 changes)"
    );
    assert_eq!(rows("status_change_events"), 4, "feed: the four changes");
    drop(conn);

    assert_eq!(rebuild_committed(&pool).await, 8);
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(dump(&mut conn).await, before);

    // Damage of every kind, then a rebuild: the rows the log implies, nothing else.
    for statement in [
        "UPDATE service_requests SET status = 'recalled', document = '{}'",
        "DELETE FROM status_history WHERE sequence = 2",
        "DELETE FROM device_dispenses",
        "INSERT INTO status_change_events (id, event_type, entity_type, entity_id, properties, \
         event_time, changed_by, global_position, sequence) VALUES ('x', 'StatusChangeEvent', \
         'ServiceRequest', 'y', '{}', '2024-01-01T00:00:00.000000Z', 'z', 1, 9)",
    ] {
        sqlx::query(statement).execute(&mut *conn).await.unwrap();
    }
    assert_ne!(dump(&mut conn).await, before);
    drop(conn);
    assert_eq!(rebuild_committed(&pool).await, 8);
    let mut conn = pool.acquire().await.unwrap();
    assert_eq!(dump(&mut conn).await, before);
}

#[tokio::test]
async fn rebuild_of_an_empty_log_empties_the_tables() {
    let pool = sqlite().await;
    append(&pool, histories(1)).await;
    sqlx::query("DELETE FROM events")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(rebuild_committed(&pool).await, 0);
    let mut conn = pool.acquire().await.unwrap();
    for (table, rows) in dump(&mut conn).await {
        assert!(rows.is_empty(), "{table}: {rows:?}");
    }
}

#[tokio::test]
async fn verify_finds_nothing_on_a_consistent_database_and_names_every_difference() {
    let pool = sqlite().await;
    append(&pool, histories(1)).await;
    let mut conn = pool.acquire().await.unwrap();
    let before = dump(&mut conn).await;

    let report = verify::verify(&mut conn).await.unwrap();
    assert_eq!(report.events, 4);
    assert!(report.differences.is_empty(), "{:#?}", report.differences);
    assert_eq!(
        report.tables,
        vec![
            ("service_requests", 1, 1),
            ("merge_requests", 0, 0),
            ("device_dispenses", 1, 1),
            ("approvals", 0, 0),
            ("care_plan_activities", 0, 0),
            ("status_history", 5, 5),
            ("status_change_events", 2, 2),
        ]
    );
    assert_eq!(report.locked, std::time::Duration::ZERO);

    let sr = Uuid::from_u128(0x5a00_0000_0000_4000_8000_0000_0000_0001);
    let dd = Uuid::from_u128(0xdd00_0000_0000_4000_8000_0000_0000_0001);
    for statement in [
        format!("UPDATE service_requests SET status = 'recalled' WHERE id = '{sr}'"),
        format!("DELETE FROM status_history WHERE entity_id = '{dd}' AND sequence = 2"),
        "UPDATE status_change_events SET inserted_at = '2000-01-01T00:00:00.000000Z'".into(),
        format!(
            "INSERT INTO status_change_events (id, event_type, entity_type, entity_id, properties, \
             event_time, changed_by, global_position, sequence) SELECT 'forged', event_type, \
             entity_type, entity_id, properties, event_time, changed_by, global_position, 9 \
             FROM status_change_events WHERE entity_id = '{dd}'"
        ),
    ] {
        sqlx::query(&statement).execute(&mut *conn).await.unwrap();
    }
    let damaged = dump(&mut conn).await;

    let report = verify::verify(&mut conn).await.unwrap();
    let lines: Vec<String> = report.differences.iter().map(|d| d.to_string()).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert_eq!(
        lines[0],
        format!(r#"service_requests id={sr}: status: live "recalled" | rebuilt "active""#)
    );
    assert!(
        lines[1].starts_with(&format!(
            "status_history entity_type=DeviceDispense entity_id={dd} sequence=2 \
             attribute=status: missing from the live table; rebuilt: {{"
        )),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(r#""new_value":"stopped""#),
        "{}",
        lines[1]
    );
    assert!(
        lines[2]
            .starts_with("status_change_events id=forged: not implied by the event log; live: {"),
        "{}",
        lines[2]
    );
    // The feed record's properties are shown as JSON, as PostgreSQL's jsonb is.
    match &report.differences[2].kind {
        DifferenceKind::NotInLog { live } => {
            assert_eq!(
                live["properties"],
                json!({"status": {"new_value": "stopped"}})
            );
            assert!(live.get("inserted_at").is_none(), "{live}");
        }
        other => panic!("{other:?}"),
    }

    // Verify only reads: the live tables are as they were, its copies are gone, and the
    // connection's statements write the live tables again.
    assert_eq!(dump(&mut conn).await, damaged);
    let temp: i64 = sqlx::query_scalar("SELECT count(*) FROM sqlite_temp_master")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(temp, 0);
    drop(conn);
    append(&pool, histories(3)).await;
    let mut conn = pool.acquire().await.unwrap();
    let requests: i64 = sqlx::query_scalar("SELECT count(*) FROM main.service_requests")
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(requests, 2);
    assert_ne!(before, damaged);
}
