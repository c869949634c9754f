//! `ehealth-es import FILE`: reference data upserted, entities created through commands (so in the
//! event log), idempotent, and all-or-nothing for the entities of an invalid file.

use crate::support::service::Db;
use serde_json::{json, Value};

use crate::process::*;
use crate::support::{world, TestDb};

/// Every table the import or the projections write.
const TABLES: [(&str, &str); 16] = [
    ("settings", "key"),
    ("dictionaries", "name"),
    ("legal_entities", "id"),
    ("parties", "id"),
    ("users", "id"),
    ("employees", "id"),
    ("persons", "id"),
    ("events", "global_position"),
    ("service_requests", "id"),
    ("merge_requests", "id"),
    ("device_dispenses", "id"),
    ("approvals", "id"),
    ("care_plan_activities", "id"),
    ("status_history", "entity_id, sequence, attribute"),
    ("status_change_events", "global_position"),
    ("jobs", "id"),
];

async fn snapshot(pool: &Db) -> Vec<(String, Vec<Value>)> {
    let mut all = Vec::new();
    for (table, order) in TABLES {
        let rows = json_rows(pool, &format!("SELECT * FROM {table} ORDER BY {order}")).await;
        all.push((table.to_string(), rows));
    }
    all
}

/// The entity lists of the import file, each projected to the table of the same name.
const ENTITY_TABLES: [&str; 5] = [
    "service_requests",
    "merge_requests",
    "device_dispenses",
    "approvals",
    "care_plan_activities",
];

/// The reference lists of the import file, each upserted to the table of the same name.
const REFERENCE_TABLES: [&str; 5] = ["legal_entities", "parties", "users", "employees", "persons"];

/// How many entities `file` holds, in all its lists.
fn entity_count(file: &Value) -> usize {
    ENTITY_TABLES.iter().map(|k| len(file, k)).sum()
}

fn len(file: &Value, key: &str) -> usize {
    file[key].as_array().map(Vec::len).unwrap_or(0)
}

async fn import(url: &str, file: &Value) -> Output {
    let dir = tempfile::tempdir().unwrap();
    import_path(url, &write_json(dir.path(), "import.json", file)).await
}

/// Runs `import` on `file` and asserts it fails with each of `said` in its error output (the
/// entry it names, the value it refuses); answers its output.
async fn assert_import_refused(url: &str, file: &Value, said: &[&str]) -> Output {
    let out = import(url, file).await;
    out.assert_failure();
    for words in said {
        assert!(out.stderr.contains(words), "{words:?} in {out:#?}");
    }
    out
}

/// Runs `import` on the file at `path`, whatever it holds (or if it is not there).
async fn import_path(url: &str, path: &std::path::Path) -> Output {
    run(
        &["import", path.to_str().unwrap()],
        &[("DATABASE_URL", url)],
    )
    .await
}

async fn fresh() -> (TestDb, Db) {
    let db = TestDb::fresh().await;
    let pool = db.connect().await;
    (db, pool)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_the_world_exits_0_reports_the_counts_and_creates_every_entity_through_an_event()
{
    let (url, pool) = fresh().await;
    let file = world::import_file();
    let out = import(&url, &file).await;
    out.assert_success();

    let reference = 1
        + file["dictionaries"].as_object().unwrap().len()
        + REFERENCE_TABLES
            .iter()
            .map(|k| len(&file, k))
            .sum::<usize>();
    let entities = entity_count(&file);
    assert_eq!(
        out.stdout.trim(),
        format!(
            "imported: {reference} reference rows, {entities} entities created, 0 already present"
        )
    );

    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM events").await,
        entities as i64
    );
    for table in ENTITY_TABLES.iter().chain(&REFERENCE_TABLES) {
        assert_eq!(
            scalar(&pool, &format!("SELECT count(*) FROM {table}")).await,
            len(&file, table) as i64,
            "{table}"
        );
    }
    let kinds = json_rows(
        &pool,
        "SELECT event_type, count(*) AS n, min(sequence) AS first, max(sequence) AS last \
         FROM events GROUP BY event_type ORDER BY event_type",
    )
    .await;
    assert_eq!(
        kinds,
        vec![
            json!({ "event_type": "ApprovalImported", "n": len(&file, "approvals"), "first": 1, "last": 1 }),
            json!({ "event_type": "CarePlanActivityImported", "n": len(&file, "care_plan_activities"), "first": 1, "last": 1 }),
            json!({ "event_type": "DeviceDispenseImported", "n": len(&file, "device_dispenses"), "first": 1, "last": 1 }),
            json!({ "event_type": "MergeRequestImported", "n": len(&file, "merge_requests"), "first": 1, "last": 1 }),
            json!({ "event_type": "ServiceRequestImported", "n": len(&file, "service_requests"), "first": 1, "last": 1 }),
        ]
    );
    assert_eq!(scalar(&pool, "SELECT count(*) FROM jobs").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn importing_the_same_file_twice_changes_nothing() {
    let (url, pool) = fresh().await;
    let file = world::import_file();
    import(&url, &file).await.assert_success();
    let before = snapshot(&pool).await;

    let out = import(&url, &file).await;
    out.assert_success();
    let entities = entity_count(&file);
    assert!(
        out.stdout
            .contains(&format!("0 entities created, {entities} already present")),
        "{out:#?}"
    );
    let after = snapshot(&pool).await;
    for ((table, a), (_, b)) in before.iter().zip(after.iter()) {
        assert_eq!(a.len(), b.len(), "rows of {table}");
        assert_eq!(a, b, "contents of {table}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_with_an_invalid_status_fails_the_import_naming_the_entry_and_writes_nothing() {
    let (url, pool) = fresh().await;
    let mut file = world::import_file();
    file["service_requests"][0]["status"] = json!("bogus");
    let out = assert_import_refused(&url, &file, &["service_requests[0].status", "bogus"]).await;
    assert!(!out.stdout.contains("imported"), "{out:#?}");
    assert_eq!(scalar(&pool, "SELECT count(*) FROM events").await, 0);
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM service_requests").await,
        0
    );
    // Entities are checked before anything is written: the reference data is untouched too.
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM legal_entities").await,
        0
    );

    // Fixed, the same file imports completely.
    file["service_requests"][0]["status"] = json!("active");
    import(&url, &file).await.assert_success();
    let entities = entity_count(&file);
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM events").await,
        entities as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_whose_id_is_not_a_uuid_fails_the_import_naming_the_entry_and_writes_no_event() {
    for (list, index, field) in [
        ("service_requests", 3, "id"),
        ("merge_requests", 1, "inserted_by"),
        ("device_dispenses", 2, "id"),
        ("approvals", 0, "id"),
        ("care_plan_activities", 1, "care_plan_id"),
    ] {
        let (url, pool) = fresh().await;
        let mut file = world::import_file();
        file[list][index][field] = json!("not-a-uuid");
        let entry = format!("{list}[{index}].{field}");
        assert_import_refused(&url, &file, &[&entry, "not-a-uuid"]).await;
        assert_eq!(
            scalar(&pool, "SELECT count(*) FROM events").await,
            0,
            "{entry}"
        );
        for table in ENTITY_TABLES {
            assert_eq!(
                scalar(&pool, &format!("SELECT count(*) FROM {table}")).await,
                0,
                "{entry}: {table}"
            );
        }
    }
}

/// The import's own documentation: "entities are validated before anything is written".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_approval_writes_no_reference_data_either() {
    let (url, pool) = fresh().await;
    let mut file = world::import_file();
    file["approvals"][0]["id"] = json!("not-a-uuid");
    import(&url, &file).await.assert_failure();
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM legal_entities").await,
        0
    );
    assert_eq!(scalar(&pool, "SELECT count(*) FROM persons").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_json_object_fails_clearly() {
    let (url, pool) = fresh().await;
    let dir = tempfile::tempdir().unwrap();

    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, b"{ \"legal_entities\": [ ").unwrap();
    let list = write_json(dir.path(), "list.json", &json!([1, 2]));
    let missing = dir.path().join("missing.json");
    // Each file, and what the error output must say about it.
    let cases: [(&std::path::Path, &[&str]); 3] = [
        (&broken, &["is not valid JSON", "broken.json"]),
        (&list, &["the import file must hold one JSON object"]),
        (&missing, &["cannot read", "missing.json"]),
    ];
    for (path, said) in cases {
        let out = import_path(&url, path).await;
        out.assert_failure();
        for words in said {
            assert!(out.stderr.contains(words), "{words:?} in {out:#?}");
        }
    }

    assert_eq!(scalar(&pool, "SELECT count(*) FROM events").await, 0);
    assert_eq!(
        scalar(&pool, "SELECT count(*) FROM legal_entities").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partys_verification_and_death_are_imported_and_an_unknown_status_is_refused() {
    let (url, pool) = fresh().await;
    let mut file = world::import_file();
    let parties = file["parties"].as_array().unwrap().len();
    file["parties"][0]["verification_status"] = json!("MAYBE");
    assert_import_refused(&url, &file, &["parties[0].verification_status"]).await;
    assert_eq!(scalar(&pool, "SELECT count(*) FROM parties").await, 0);
    file["parties"][0]["death_date"] = json!("yesterday");
    file["parties"][0]["verification_status"] = json!("VERIFIED");
    assert_import_refused(&url, &file, &["parties[0].death_date"]).await;

    // A file without either field (written before they existed) imports as before.
    let mut old = world::import_file();
    for party in old["parties"].as_array_mut().unwrap() {
        let party = party.as_object_mut().unwrap();
        party.remove("verification_status");
        party.remove("death_date");
    }
    import(&url, &old).await.assert_success();
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM parties WHERE verification_status IS NULL"
        )
        .await,
        parties as i64
    );
    // The world's file sets them; importing it updates the parties.
    import(&url, &world::import_file()).await.assert_success();
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM parties WHERE verification_status = 'NOT_VERIFIED'"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &pool,
            "SELECT count(*) FROM parties WHERE death_date IS NOT NULL"
        )
        .await,
        1
    );
}
