//! Group commit on a real PostgreSQL (`EHEALTH_TEST_DATABASE_URL`, as the black-box suites). The commits of
//! a test are queued before any writer runs (a current-thread runtime: the writers start on
//! the first append and run only when the test awaits), so the first writer takes them all.

use chrono::Utc;
use cqrs_es::persist::SerializedEvent;
use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::store::event_log::{map_sqlx, DuplicateJob};
use crate::store::NewJob;

async fn database() -> PgPool {
    crate::store::postgres::test_database("ehealth_gc", 8).await
}

fn event(aggregate_id: &str, sequence: usize) -> SerializedEvent {
    SerializedEvent::new(
        aggregate_id.to_owned(),
        sequence,
        "Approval".to_owned(),
        "ApprovalOtpResent".to_owned(),
        "1.0".to_owned(),
        json!({"ApprovalOtpResent": {"n": sequence}}),
        json!({"user_id": "test"}),
    )
}

/// One commit: `events` of one aggregate, with an idempotency key when given.
fn commit(events: &[SerializedEvent], key: Option<&str>) -> PreparedCommit {
    PreparedCommit {
        command: key.map(|key| CommandRecord {
            command_id: key.to_owned(),
            request_hash: "hash".to_owned(),
            response: None,
            last_sequence: events.last().map_or(0, |e| e.sequence as i64),
        }),
        job: None,
        events: events
            .iter()
            .map(|e| ChainedEvent {
                event: e.clone(),
                recorded_at: Utc::now(),
                prev_hash: None,
                hash: vec![e.sequence as u8; 32],
            })
            .collect(),
        projections: Batch::default(),
    }
}

async fn scalar(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

fn constraint(result: &Result<Vec<Position>, sqlx::Error>) -> Option<String> {
    match result {
        Err(sqlx::Error::Database(db)) => db.constraint().map(str::to_owned),
        _ => None,
    }
}

#[tokio::test(flavor = "current_thread")]
async fn concurrent_commits_are_written_in_one_transaction_and_each_learns_its_own_positions() {
    let pool = database().await;
    let group = GroupCommit::new(&pool, crate::db::DEFAULT_DEADLINE);
    let ids: Vec<String> = (0..8).map(|i| format!("agg-{i}")).collect();
    let commits: Vec<Vec<SerializedEvent>> = ids
        .iter()
        .map(|id| vec![event(id, 1), event(id, 2)])
        .collect();
    let results = futures::future::join_all(
        commits
            .iter()
            .enumerate()
            .map(|(i, events)| group.append(commit(events, Some(&format!("key-{i}"))))),
    )
    .await;

    for (id, result) in ids.iter().zip(&results) {
        let positions = result.as_ref().expect("committed");
        assert_eq!(positions.len(), 2, "{positions:?}");
        assert!(positions.iter().all(|p| p.0 == "Approval" && &p.1 == id));
        let mut sequences: Vec<i64> = positions.iter().map(|p| p.2).collect();
        sequences.sort();
        assert_eq!(sequences, [1, 2]);
    }
    let mut all: Vec<i64> = results
        .iter()
        .flat_map(|r| r.as_ref().unwrap().iter().map(|p| p.3))
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 16, "every event has a position of its own");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM events").await, 16);
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM processed_commands").await,
        8
    );
    assert_eq!(
        scalar(&pool, "SELECT count(DISTINCT tx_id) FROM events").await,
        1,
        "the eight commits were written by one statement"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_conflicting_commit_fails_alone_and_the_rest_of_its_group_is_written() {
    let pool = database().await;
    let group = GroupCommit::new(&pool, crate::db::DEFAULT_DEADLINE);
    // Another instance appended event 1 of `taken` first.
    commit(&[event("taken", 1)], None)
        .write(&pool)
        .await
        .expect("first append");
    let commits = [
        vec![event("a", 1)],
        vec![event("taken", 1)],
        vec![event("b", 1)],
        vec![event("c", 1)],
    ];
    let results = futures::future::join_all(
        commits
            .iter()
            .enumerate()
            .map(|(i, events)| group.append(commit(events, Some(&format!("k{i}"))))),
    )
    .await;

    assert_eq!(constraint(&results[1]).as_deref(), Some("events_pkey"));
    for i in [0, 2, 3] {
        assert_eq!(results[i].as_ref().expect("written").len(), 1);
    }
    assert_eq!(scalar(&pool, "SELECT count(*) FROM events").await, 4);
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM processed_commands").await,
        3,
        "the refused commit left no idempotency record"
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM events WHERE aggregate_id = 'taken'"
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "current_thread")]
async fn two_commits_with_one_idempotency_key_are_not_grouped_and_the_second_is_a_duplicate() {
    let pool = database().await;
    let group = GroupCommit::new(&pool, crate::db::DEFAULT_DEADLINE);
    let (first, second, other) = ([event("x", 1)], [event("y", 1)], [event("z", 1)]);
    let results = futures::future::join_all([
        group.append(commit(&first, Some("same"))),
        group.append(commit(&second, Some("same"))),
        group.append(commit(&other, Some("another"))),
    ])
    .await;

    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert_eq!(
        constraint(&results[1]).as_deref(),
        Some("processed_commands_pkey")
    );
    assert!(results[2].is_ok(), "{:?}", results[2]);
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM events WHERE aggregate_id = 'y'"
        )
        .await,
        0
    );
    assert_eq!(
        scalar(&pool, "SELECT count(DISTINCT tx_id) FROM events").await,
        1,
        "the commits that could go together did"
    );
}

/// One commit with a job carrying the command key `dedup_key`.
fn commit_with_job(events: &[SerializedEvent], dedup_key: &str) -> PreparedCommit {
    PreparedCommit {
        job: Some(NewJob {
            id: crate::jobs::new_job_id(),
            legal_entity_id: Uuid::nil(),
            user_id: Uuid::nil(),
            action: "resend_approval_otp",
            eta: Utc::now(),
            dedup_key: Some(dedup_key.to_owned()),
        }),
        ..commit(events, None)
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_commit_whose_job_key_is_pending_fails_alone_with_the_index_name_and_its_group_is_written(
) {
    let pool = database().await;
    let group = GroupCommit::new(&pool, crate::db::DEFAULT_DEADLINE);
    // The same command's job, still pending (written by another instance).
    commit_with_job(&[event("first", 1)], "same-command")
        .write(&pool)
        .await
        .expect("first append");
    let commits = [
        commit_with_job(&[event("a", 1)], "command-a"),
        commit_with_job(&[event("twin", 1)], "same-command"),
        commit(&[event("b", 1)], None),
    ];
    let results = futures::future::join_all(commits.into_iter().map(|c| group.append(c))).await;

    assert_eq!(
        constraint(&results[1]).as_deref(),
        Some("jobs_pending_dedup_key")
    );
    assert!(matches!(
        map_sqlx(results.into_iter().nth(1).unwrap().unwrap_err()),
        cqrs_es::persist::PersistenceError::UnknownError(e)
            if e.downcast_ref::<DuplicateJob>().is_some()
    ));
    assert_eq!(scalar(&pool, "SELECT count(*) FROM events").await, 3);
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM events WHERE aggregate_id = 'twin'"
        )
        .await,
        0
    );
    assert_eq!(scalar(&pool, "SELECT count(*) FROM jobs").await, 2);

    // Once that job is finished, the key is free again.
    sqlx::query("UPDATE jobs SET status = 'processed' WHERE dedup_key = 'same-command'")
        .execute(&pool)
        .await
        .unwrap();
    group
        .append(commit_with_job(&[event("twin", 1)], "same-command"))
        .await
        .expect("a new command");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM jobs").await, 3);
}

#[test]
fn commits_overlap_when_they_share_an_aggregate_or_a_key() {
    let a = commit(&[event("a", 1)], Some("k1"));
    assert!(a.overlaps(&commit(&[event("a", 2)], Some("k2"))));
    assert!(a.overlaps(&commit(&[event("b", 1)], Some("k1"))));
    assert!(!a.overlaps(&commit(&[event("b", 1)], Some("k2"))));
    assert!(!a.overlaps(&commit(&[event("b", 1)], None)));
    let keyed = commit_with_job(&[event("c", 1)], "command");
    assert!(keyed.overlaps(&commit_with_job(&[event("d", 1)], "command")));
    assert!(!keyed.overlaps(&commit_with_job(&[event("d", 1)], "another")));
}
