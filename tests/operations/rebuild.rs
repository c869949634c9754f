//! `ehealth-es projections rebuild`: identical rows on a populated database, the same names for
//! every index and constraint and the same storage parameters, a bounded-memory rebuild, and the
//! leftovers of a rebuild that died after its swap. A rebuild beside other work is in
//! `rebuild_beside`.

use ehealth_projections::rebuild::{rebuild, Options};

use crate::process::run;
use crate::state::*;
use crate::support::world::*;
use crate::support::{service, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_of_a_populated_database_reproduces_every_projection_row() {
    let app = TestApp::spawn().await;
    populate(&app, 600).await;
    let events = scalar(&app.db, "SELECT count(*) FROM events").await;
    let before = snapshot(&app.db).await;
    let catalog_before = catalog(&app.db).await;
    assert!(!catalog_before.is_empty());
    // The Event Manager's pages (ordered by event time and position): what a client paging
    // through the feed sees must not change under it.
    let reader = app.token(U_DOCTOR, LE_MAIN, "event:read");
    let pages = || async {
        let mut pages = Vec::new();
        for page in 1..=3 {
            let reply = app
                .get(
                    &format!("/api/events?page={page}&page_size=50"),
                    Some(&reader),
                )
                .await;
            assert_eq!(reply.status, 200, "{:#}", reply.body);
            pages.push(reply.body["data"].clone());
        }
        pages
    };
    let feed_before = pages().await;
    assert_eq!(
        feed_before[2].as_array().map(Vec::len),
        Some(50),
        "three full pages"
    );

    let out = run(&["projections", "rebuild"], &app.database_url, 120).await;

    out.assert_success();
    assert_eq!(
        number_before(&out.stdout, "events in"),
        events as u64,
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("events/s"), "{}", out.stdout);
    assert_same(&before, &snapshot(&app.db).await);
    assert_eq!(
        pages().await,
        feed_before,
        "the Event Manager feed, page by page"
    );
    assert_eq!(
        catalog(&app.db).await,
        catalog_before,
        "indexes and constraints"
    );
    assert_eq!(leftovers(&app.db).await, Vec::<String>::new());

    // The running service writes to, and reads from, the new tables.
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let resend = app.resend_otp(P_OTP, AP_OTP, &token).await;
    app.wait_job(&resend.job_href(), &token).await;
    let row = app
        .current("approvals", AP_OTP)
        .await
        .expect("approval row");
    assert_eq!(row["version"], 4, "import and three resends: {row:#}");
    let shown = app.approval(P_OTP, AP_OTP, &token).await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    run(&["projections", "verify"], &app.database_url, 120)
        .await
        .assert_success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_of_an_empty_log_leaves_empty_tables() {
    let app = TestApp::spawn_with(crate::support::Options {
        import_world: false,
        ..Default::default()
    })
    .await;
    let out = run(&["projections", "rebuild"], &app.database_url, 60).await;
    out.assert_success();
    assert_eq!(number_before(&out.stdout, "events in"), 0);
    for (table, rows) in snapshot(&app.db).await {
        assert!(rows.is_empty(), "{table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_that_keeps_few_states_in_memory_reproduces_every_row() {
    crate::postgres_only!(
        "the PostgreSQL rebuild's bounded memory (states evicted and read back from the aside \
         schema); the SQLite rebuild folds inside one transaction with no aside tables"
    );
    let app = TestApp::spawn().await;
    populate(&app, 400).await;
    let events = scalar(&app.db, "SELECT count(*) FROM events").await;
    let before = snapshot(&app.db).await;
    let pool = service::connect_postgres(&app.database_url, 4).await;

    // Seven states at most: entities are written, forgotten, and loaded back from the aside tables.
    let report = rebuild(
        &pool,
        Options {
            cache_entities: 7,
            ..Options::default()
        },
    )
    .await
    .expect("rebuild");

    assert_eq!(report.events, events as u64);
    assert_same(&before, &snapshot(&app.db).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_copied_in_early_and_changed_later_end_in_their_latest_state() {
    crate::postgres_only!(
        "the PostgreSQL rebuild's first load (binary COPY into key-less aside tables, then \
         upserts); the SQLite rebuild writes the live tables in one transaction"
    );
    let app = TestApp::spawn().await;
    // The world's entities are imported first and acted on later: copied in after every three
    // new entities, most of them change again after their row was written.
    populate(&app, 100).await;
    let before = snapshot(&app.db).await;
    let pool = service::connect_postgres(&app.database_url, 4).await;

    rebuild(
        &pool,
        Options {
            copy_entities: 3,
            ..Options::default()
        },
    )
    .await
    .expect("rebuild");

    assert_same(&before, &snapshot(&app.db).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_rows_held_back_in_small_batches_reproduce_every_row() {
    crate::postgres_only!(
        "the PostgreSQL rebuild's first load (status rows held back and copied in key order); \
         the SQLite rebuild writes the live tables in one transaction"
    );
    let app = TestApp::spawn().await;
    populate(&app, 200).await;
    let before = snapshot(&app.db).await;
    let pool = service::connect_postgres(&app.database_url, 4).await;

    // The held rows are copied every ten rows or so instead of once at the end of the pass.
    rebuild(
        &pool,
        Options {
            held_status_rows: 10,
            copy_entities: 5,
            ..Options::default()
        },
    )
    .await
    .expect("rebuild");

    assert_same(&before, &snapshot(&app.db).await);
}

/// `reloptions` of a table and of its TOAST table.
async fn storage_parameters(pool: &sqlx::PgPool, table: &str) -> (Vec<String>, Vec<String>) {
    sqlx::query_as(
        "SELECT coalesce(c.reloptions, '{}')::text[], coalesce(t.reloptions, '{}')::text[] \
         FROM pg_class c LEFT JOIN pg_class t ON t.oid = c.reltoastrelid \
         WHERE c.oid = $1::regclass",
    )
    .bind(table)
    .fetch_one(pool)
    .await
    .expect("reloptions")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilt_tables_keep_the_live_storage_parameters_and_autovacuum() {
    crate::postgres_only!("storage parameters and autovacuum are PostgreSQL's");
    let app = TestApp::spawn().await;
    populate(&app, 100).await;
    let pool = service::connect_postgres(&app.database_url, 4).await;
    for sql in [
        "ALTER TABLE service_requests SET (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.05)",
        "ALTER TABLE approvals SET (toast.autovacuum_vacuum_cost_delay = 5)",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    let tables = [
        "service_requests",
        "merge_requests",
        "device_dispenses",
        "approvals",
        "status_history",
        "status_change_events",
    ];
    let mut before = Vec::new();
    for table in tables {
        before.push(storage_parameters(&pool, table).await);
    }

    rebuild(&pool, Options::default()).await.expect("rebuild");

    for (table, expected) in tables.iter().zip(&before) {
        // Built with autovacuum off, given the live table's parameters (autovacuum on) at the swap.
        assert_eq!(&storage_parameters(&pool, table).await, expected, "{table}");
    }
    assert_eq!(
        before[0].0,
        vec![
            "fillfactor=90".to_string(),
            "autovacuum_vacuum_scale_factor=0.05".to_string()
        ]
    );
    assert_eq!(
        before[3].1,
        vec!["autovacuum_vacuum_cost_delay=5".to_string()]
    );
    assert_eq!(leftovers(&app.db).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_left_by_a_rebuild_that_died_after_its_swap_are_dropped_by_the_next() {
    crate::postgres_only!("the replaced tables are PostgreSQL's (SQLite rebuilds in place)");
    let app = TestApp::spawn().await;
    populate(&app, 50).await;
    let before = snapshot(&app.db).await;
    let pool = service::connect_postgres(&app.database_url, 4).await;
    // What a rebuild that died between its swap and dropping the replaced tables leaves.
    for sql in [
        "CREATE SCHEMA projections_retired",
        "CREATE TABLE projections_retired.service_requests (LIKE public.service_requests)",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }

    rebuild(&pool, Options::default()).await.expect("rebuild");

    assert_same(&before, &snapshot(&app.db).await);
    assert_eq!(leftovers(&app.db).await, Vec::<String>::new());
}
