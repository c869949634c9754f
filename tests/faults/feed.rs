//! The ordered feed never skips an event that commits out of order: a later transaction may
//! commit before an earlier one, and the feed waits for it.
//!
//! Two transactions are opened by hand on a fresh database: T1 appends first but commits last.
//! A reader by `global_position` alone would see T2's event, save its checkpoint past T1's
//! position and never see T1's event; `feed::read_after` holds everything back while T1 may still
//! commit, then returns both in commit-consistent `(tx_id, global_position)` order.

use std::time::{Duration, Instant};

use ehealth_es::store::postgres::feed;
use ehealth_es::store::FeedCursor;
use sqlx::{Connection, PgConnection, Row};

use crate::support;

/// An aggregate type the effects worker ignores (no worker runs here anyway).
const PROBE: &str = "FaultProbe";

async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url).await.expect("connection")
}

/// Whether `events` has migration 0005's hash columns: a new row must then carry a 32-byte hash.
async fn hashed(conn: &mut PgConnection) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns \
         WHERE table_name = 'events' AND column_name = 'hash')",
    )
    .fetch_one(conn)
    .await
    .expect("catalog query")
}

/// Appends one probe event inside the connection's open transaction; returns its
/// `(tx_id, global_position)`.
async fn append(conn: &mut PgConnection, id: &str, with_hash: bool) -> (u64, i64) {
    let sql = if with_hash {
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata, hash) VALUES ($1, $2, 1, 'Probed', '1.0', '{}', '{}', sha256($2::bytea)) \
         RETURNING tx_id::text AS tx_id, global_position"
    } else {
        "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, \
         payload, metadata) VALUES ($1, $2, 1, 'Probed', '1.0', '{}', '{}') \
         RETURNING tx_id::text AS tx_id, global_position"
    };
    let row = sqlx::query(sql)
        .bind(PROBE)
        .bind(id)
        .fetch_one(conn)
        .await
        .expect("probe event appends");
    (
        row.get::<String, _>("tx_id").parse().expect("xid8"),
        row.get("global_position"),
    )
}

/// The probe events the feed returns from the start, as `(aggregate_id, cursor)`.
async fn probes_in_feed(reader: &mut PgConnection) -> Vec<(String, FeedCursor)> {
    feed::read_after(reader, FeedCursor::default(), 1_000)
        .await
        .expect("feed reads")
        .into_iter()
        .filter(|(_, e)| e.aggregate_type == PROBE)
        .map(|(cursor, e)| (e.aggregate_id, cursor))
        .collect()
}

/// What a naive subscriber reads: committed events after its checkpoint, by position only.
async fn naive_read(reader: &mut PgConnection, after: i64) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT aggregate_id, global_position FROM events \
         WHERE aggregate_type = $1 AND global_position > $2 ORDER BY global_position",
    )
    .bind(PROBE)
    .bind(after)
    .fetch_all(reader)
    .await
    .expect("naive read")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_holds_back_a_later_commit_until_an_earlier_append_commits_and_never_skips_it() {
    crate::postgres_only!(
        "concurrent write transactions and xid8 horizons; SQLite has one writer, so its positions are commit order"
    );
    let url = {
        let admin = support::admin_url();
        let (base, _) = admin.rsplit_once('/').expect("admin URL names a database");
        format!("{base}/{}", support::fresh_database().await)
    };
    let mut t1 = connect(&url).await;
    let mut t2 = connect(&url).await;
    let mut reader = connect(&url).await;
    let with_hash = hashed(&mut reader).await;

    // T1 appends first and stays open; T2 appends after it and commits.
    sqlx::query("BEGIN").execute(&mut t1).await.unwrap();
    let (t1_tx, t1_pos) = append(&mut t1, "t1", with_hash).await;
    sqlx::query("BEGIN").execute(&mut t2).await.unwrap();
    let (t2_tx, t2_pos) = append(&mut t2, "t2", with_hash).await;
    sqlx::query("COMMIT").execute(&mut t2).await.unwrap();

    // The trap: T1's event has the smaller position, yet T2's is the one committed first.
    assert!(t1_pos < t2_pos, "T1 appended first: {t1_pos} < {t2_pos}");
    assert!(
        t1_tx < t2_tx,
        "T1's transaction id is older: {t1_tx} < {t2_tx}"
    );

    // A naive reader sees only T2 and would save its checkpoint at T2's position…
    let naive = naive_read(&mut reader, 0).await;
    assert_eq!(naive, vec![("t2".to_string(), t2_pos)]);
    let naive_checkpoint = naive[0].1;

    // …while the feed returns nothing at all: T1 holds the horizon.
    assert_eq!(
        probes_in_feed(&mut reader).await,
        vec![],
        "the feed must not return T2's event while T1 may still commit before it"
    );

    sqlx::query("COMMIT").execute(&mut t1).await.unwrap();

    // The naive reader has now skipped T1 for good: it is behind the saved checkpoint.
    assert_eq!(naive_read(&mut reader, naive_checkpoint).await, vec![]);

    // The feed returns T1's event, then T2's. Other tests share the cluster, and any transaction of
    // theirs older than T2 also holds the horizon, so this is awaited (briefly), never assumed.
    let deadline = Instant::now() + Duration::from_secs(15);
    let probes = loop {
        let probes = probes_in_feed(&mut reader).await;
        if probes.len() == 2 || Instant::now() > deadline {
            break probes;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        probes,
        vec![
            (
                "t1".to_string(),
                FeedCursor {
                    tx_id: t1_tx,
                    position: t1_pos
                }
            ),
            (
                "t2".to_string(),
                FeedCursor {
                    tx_id: t2_tx,
                    position: t2_pos
                }
            ),
        ]
    );

    // A subscriber that checkpointed after T1 gets exactly T2 next; after T2, nothing.
    let after_t1: Vec<String> = feed::read_after(&mut reader, probes[0].1, 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, e)| e.aggregate_type == PROBE)
        .map(|(_, e)| e.aggregate_id)
        .collect();
    assert_eq!(after_t1, vec!["t2".to_string()]);
    let after_t2 = feed::read_after(&mut reader, probes[1].1, 1_000)
        .await
        .unwrap();
    assert!(
        after_t2.iter().all(|(_, e)| e.aggregate_type != PROBE),
        "{after_t2:?}"
    );
}
