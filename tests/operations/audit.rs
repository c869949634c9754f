//! Tamper evidence: every event is hashed into its aggregate's chain when it is appended, and
//! `ehealth-es audit verify` names the first event that does not match.

use crate::support::service::{self, Db, Pool};
use chrono::{DateTime, Utc};
use ehealth_es::store::hash::{event_hash, HashedFields};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::process::{audit_verify, run};
use crate::state::*;
use crate::support::sqlite_backend;
use crate::support::world::*;

/// Global position, stored hash and stored prev_hash of an event.
async fn event(db: &Db, aggregate: Uuid, sequence: i64) -> (i64, Vec<u8>, Option<Vec<u8>>) {
    let sql = format!(
        "SELECT global_position, hash, prev_hash FROM events \
         WHERE aggregate_id = '{aggregate}' AND sequence = {sequence}"
    );
    match service::pool(db) {
        Pool::Postgres(pool) => sqlx::query_as(&sql).fetch_one(pool).await,
        Pool::Sqlite(lite) => sqlx::query_as(&sql).fetch_one(lite).await,
    }
    .expect("event")
}

type HashedRow = (
    String,
    String,
    i64,
    String,
    String,
    Value,
    Value,
    DateTime<Utc>,
    Option<Vec<u8>>,
);

/// The hash of the stored row at `position`, recomputed from its columns.
async fn recompute(db: &Db, position: i64) -> Vec<u8> {
    let sql = format!(
        "SELECT aggregate_type, aggregate_id, sequence, event_type, event_version, payload, \
         metadata, recorded_at, prev_hash FROM events WHERE global_position = {position}"
    );
    let row: HashedRow = match service::pool(db) {
        Pool::Postgres(pool) => sqlx::query_as(&sql).fetch_one(pool).await,
        Pool::Sqlite(lite) => sqlx::query_as(&sql).fetch_one(lite).await,
    }
    .expect("event row");
    event_hash(
        row.8.as_deref(),
        &HashedFields {
            aggregate_type: &row.0,
            aggregate_id: &row.1,
            sequence: row.2,
            event_type: &row.3,
            event_version: &row.4,
            payload: &row.5,
            metadata: &row.6,
            recorded_at: row.7,
        },
    )
}

/// Stores `hash` as the hash of the event at `position` (a blob literal in each backend's SQL).
async fn set_hash(db: &Db, position: i64, hash: &[u8]) {
    let hex = hex::encode(hash);
    let value = if sqlite_backend() {
        format!("X'{hex}'")
    } else {
        format!("decode('{hex}', 'hex')")
    };
    let sql = format!("UPDATE events SET hash = {value} WHERE global_position = {position}");
    change(db, &sql, 1).await;
}

/// `UPDATE events SET <column> = <column> with the value at `path` set to the JSON `value`,
/// for the event at `position`.
async fn set_json(db: &Db, position: i64, column: &str, path: &[&str], value: &str) {
    let set = if sqlite_backend() {
        format!(
            "json_set({column}, '$.{}', json('{value}'))",
            path.join(".")
        )
    } else {
        format!("jsonb_set({column}, '{{{}}}', '{value}')", path.join(","))
    };
    change(
        db,
        &format!("UPDATE events SET {column} = {set} WHERE global_position = {position}"),
        1,
    )
    .await;
}

/// Rewrites by hand the value at `path` of the payload of `aggregate`'s event `sequence`, leaving
/// its stored hash as it was; answers the event's position and that hash.
async fn alter_payload(
    db: &Db,
    aggregate: Uuid,
    sequence: i64,
    path: &[&str],
    value: &str,
) -> (i64, Vec<u8>) {
    let (position, stored, _) = event(db, aggregate, sequence).await;
    set_json(db, position, "payload", path, value).await;
    (position, stored)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_hashed_and_chains_to_its_aggregates_previous_event() {
    let app = populated(200).await;

    // Each query counts the events that break the rule.
    for (rule, sql) in [
        (
            "every event has a 32-byte hash",
            "SELECT count(*) FROM events WHERE hash IS NULL OR length(hash) <> 32",
        ),
        (
            "prev_hash is the previous event's hash; time never goes back",
            "SELECT count(*) FROM (SELECT prev_hash, lag(hash) OVER w AS previous, \
             recorded_at < lag(recorded_at) OVER w AS backwards FROM events \
             WINDOW w AS (PARTITION BY aggregate_type, aggregate_id ORDER BY sequence)) c \
             WHERE prev_hash IS DISTINCT FROM previous OR backwards",
        ),
        (
            "no two events have the same hash",
            "SELECT count(*) - count(DISTINCT hash) FROM events",
        ),
    ] {
        assert_eq!(scalar(&app.db, sql).await, 0, "{rule}");
    }
    // The stored hash is the hash of the stored row: recomputable by anyone with the formula.
    let positions: Vec<(i64, Vec<u8>)> = {
        let sql = "SELECT global_position, hash FROM events ORDER BY global_position";
        match service::pool(&app.db) {
            Pool::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await,
            Pool::Sqlite(lite) => sqlx::query_as(sql).fetch_all(lite).await,
        }
        .unwrap()
    };
    assert!(positions.len() > 200, "{}", positions.len());
    for (position, stored) in positions {
        assert_eq!(
            recompute(&app.db, position).await,
            stored,
            "event {position}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_passes_on_a_clean_log_and_counts_every_event() {
    let app = populated(200).await;
    let events = scalar(&app.db, "SELECT count(*) FROM events").await;
    let chains = scalar(
        &app.db,
        "SELECT count(*) FROM (SELECT DISTINCT aggregate_type, aggregate_id FROM events) c",
    )
    .await;
    assert!(chains > 1 && events > chains);

    let summary = format!("checked {events} events in {chains} chains: 0 broken chain(s)");

    audit_verify(&app)
        .await
        .assert_success()
        .assert_stdout_has(&summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_names_the_first_altered_event() {
    let app = populated(100).await;
    // The release of SR_QUEUED now claims someone else did it; and a later event is altered too.
    let by = ["ServiceRequestReleased", "by"];
    let other = format!("\"{U_OTHER}\"");
    let (position, stored) = alter_payload(&app.db, SR_QUEUED, 2, &by, &other).await;
    let later: i64 = scalar(&app.db, "SELECT max(global_position) FROM events").await;
    set_json(&app.db, later, "metadata", &["user_id"], "\"x\"").await;
    let expected = recompute(&app.db, position).await;
    assert_ne!(expected, stored);

    let line = format!(
        "event global_position={position} ServiceRequest/{SR_QUEUED} sequence=2: content does not \
         match its hash: expected hash {} stored hash {}",
        hex::encode(&expected),
        hex::encode(&stored)
    );
    let first = format!(
        "does not match its hashes from event global_position={position} \
         (ServiceRequest/{SR_QUEUED} sequence 2)"
    );

    audit_verify(&app)
        .await
        .assert_failure()
        .assert_stdout_has(&line)
        .assert_stdout_has(&format!("event global_position={later} "))
        .assert_stdout_has("2 broken chain(s)")
        .assert_stderr_has(&first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_event_stored_with_a_fresh_hash_breaks_the_link_to_the_next() {
    let app = populated(0).await;
    // AP_OTP: imported, resent, resent. The first resend is rewritten and re-hashed.
    let phone = ["ApprovalOtpResent", "phone_number"];
    let (position, _) = alter_payload(&app.db, AP_OTP, 2, &phone, "\"+380000000000\"").await;
    let rehashed = recompute(&app.db, position).await;
    set_hash(&app.db, position, &rehashed).await;
    let (next, _, next_prev) = event(&app.db, AP_OTP, 3).await;

    let out = audit_verify(&app).await;

    out.assert_failure();
    let line = format!(
        "event global_position={next} Approval/{AP_OTP} sequence=3: prev_hash is not the previous \
         event's hash: expected {} stored {}",
        hex::encode(&rehashed),
        hex::encode(next_prev.unwrap())
    );
    out.assert_stdout_has(&line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_event_is_a_gap_in_its_chain() {
    let app = populated(0).await;
    let (position, _, _) = event(&app.db, AP_OTP, 2).await;
    let (next, _, _) = event(&app.db, AP_OTP, 3).await;
    change(
        &app.db,
        &format!("DELETE FROM events WHERE global_position = {position}"),
        1,
    )
    .await;

    let out = audit_verify(&app).await;

    out.assert_failure();
    let line = format!(
        "event global_position={next} Approval/{AP_OTP} sequence=3: sequence 2 is missing before it"
    );
    out.assert_stdout_has(&line);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_hashes_the_events_appended_before_hash_chains_existed() {
    crate::postgres_only!(
        "the backfill of PostgreSQL's migration 0005 (events appended before hash chains \
         existed); the SQLite schema has had hashes since its first migration"
    );
    let app = populated(100).await;
    let hashes = |pool: PgPool| async move {
        sqlx::query_as::<_, (i64, Option<Vec<u8>>, Option<Vec<u8>>)>(
            "SELECT global_position, prev_hash, hash FROM events ORDER BY global_position",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let before = hashes(app.pool.clone()).await;
    // The state a database migrated before 0005 is in right after 0005's SQL.
    for statement in [
        "ALTER TABLE events DROP CONSTRAINT events_hash_present",
        "UPDATE events SET prev_hash = NULL, hash = NULL",
        "ALTER TABLE events ADD CONSTRAINT events_hash_present \
         CHECK (hash IS NOT NULL AND octet_length(hash) = 32) NOT VALID",
    ] {
        sqlx::query(statement).execute(&app.pool).await.unwrap();
    }

    run(&["migrate"], &app.database_url, 60)
        .await
        .assert_success();

    assert_eq!(
        hashes(app.pool.clone()).await,
        before,
        "the same hashes, recomputed"
    );
    let validated: bool = sqlx::query_scalar(
        "SELECT convalidated FROM pg_constraint WHERE conname = 'events_hash_present'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(validated, "every event must now carry a hash");
    audit_verify(&app).await.assert_success();
}
