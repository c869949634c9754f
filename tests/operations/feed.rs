//! The ordered feed that the rebuild shares with the workers: transaction ids compare as numbers.

use ehealth_es::store::postgres::feed::read_after;
use ehealth_es::store::FeedCursor;

use crate::support::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_reads_transactions_in_numeric_order_across_a_digit_boundary() {
    crate::postgres_only!(
        "PostgreSQL's feed orders by transaction id (xid8); SQLite's events carry none, their \
         positions are commit order"
    );
    let app = TestApp::spawn_with(crate::support::Options {
        import_world: false,
        ..Default::default()
    })
    .await;
    // Two committed transactions whose ids have different numbers of digits (the server's own
    // ids are far beyond these, so both are below the feed's horizon).
    for (tx, aggregate) in [(1000, "b"), (999, "a")] {
        sqlx::query(
            "INSERT INTO events (tx_id, aggregate_type, aggregate_id, sequence, event_type, \
             event_version, payload, metadata, hash) \
             VALUES ($1::text::xid8, 'Test', $2, 1, 'Tested', '1.0', '{}', '{}', sha256('x'))",
        )
        .bind(tx.to_string())
        .bind(aggregate)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    let mut conn = app.pool.acquire().await.unwrap();

    let read = read_after(&mut conn, FeedCursor::default(), 10)
        .await
        .unwrap();

    let order: Vec<u64> = read.iter().map(|(cursor, _)| cursor.tx_id).collect();
    assert_eq!(order, vec![999, 1000]);
    let rest = read_after(&mut conn, read[0].0, 10).await.unwrap();
    assert_eq!(rest.len(), 1, "after 999 comes 1000, once");
}
