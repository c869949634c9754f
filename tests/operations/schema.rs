//! The two schemas cannot drift apart: a fresh PostgreSQL database and a fresh SQLite file, each
//! migrated with the service's own migrations, have the same tables with the same columns, and
//! each column's SQLite type is the one its PostgreSQL type is stored as. The differences the
//! backends need are listed in [`INTENDED`]; any other difference fails the test, and so does an
//! intended one that is gone.
//!
//! How a PostgreSQL type is stored on SQLite ([`sqlite_type`]), following the conventions of
//! migrations/sqlite/0001_schema.sql:
//!
//! | PostgreSQL | SQLite |
//! |---|---|
//! | `bigint`, `integer`, `smallint` | `INTEGER` |
//! | `boolean` | `INTEGER` (0/1) |
//! | `text`, `character varying` | `TEXT` |
//! | `uuid` | `TEXT` (lower-case, hyphenated) |
//! | `timestamp with time zone`, `date` | `TEXT` (fixed-width UTC, so text order is time order) |
//! | `jsonb`, arrays (`uuid[]`) | `TEXT` (JSON) |
//! | `numeric` | `TEXT` (the exact decimal; a REAL would round it) |
//! | `bytea` | `BLOB` |

use std::collections::BTreeMap;

use sqlx::PgPool;

use crate::support;

/// A table's columns: name → declared type (PostgreSQL's `data_type`, SQLite's declared type).
type Tables = BTreeMap<String, BTreeMap<String, String>>;

/// The differences the backends need, as [`differences`] words them.
const INTENDED: &[&str] = &[
    // The feed on PostgreSQL reads events in commit order by the transaction that wrote them
    // (an event that commits late must not appear behind a reader's checkpoint); SQLite has one
    // writer at a time, so its positions already commit in order.
    "events.tx_id: only on PostgreSQL (xid8)",
    "subscriber_checkpoints.last_tx: only on PostgreSQL (xid8)",
];

/// The SQLite type a PostgreSQL type is stored as; `None` for a type SQLite has no column for.
fn sqlite_type(postgres: &str) -> Option<&'static str> {
    Some(match postgres {
        "bigint" | "integer" | "smallint" | "boolean" => "INTEGER",
        "text"
        | "character varying"
        | "uuid"
        | "timestamp with time zone"
        | "date"
        | "jsonb"
        | "numeric"
        | "ARRAY" => "TEXT",
        "bytea" => "BLOB",
        _ => return None,
    })
}

async fn postgres_tables(pool: &PgPool) -> Tables {
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text \
         FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await
    .expect("information_schema.columns");
    tables(columns)
}

async fn sqlite_tables(db: &ehealth_es::db::Db) -> Tables {
    let ehealth_es::db::Db::Sqlite(lite) = db else {
        panic!("a SQLite database");
    };
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT m.name, c.name, upper(c.type) FROM sqlite_master AS m \
         JOIN pragma_table_info(m.name) AS c \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '_sqlx_migrations' \
         ORDER BY m.name, c.cid",
    )
    .fetch_all(&lite.pool)
    .await
    .expect("pragma_table_info");
    tables(columns)
}

fn tables(columns: Vec<(String, String, String)>) -> Tables {
    let mut tables = Tables::new();
    for (table, column, kind) in columns {
        tables.entry(table).or_default().insert(column, kind);
    }
    tables
}

/// Every difference between the two schemas, one line each.
fn differences(postgres: &Tables, sqlite: &Tables) -> Vec<String> {
    let mut found = Vec::new();
    for table in postgres.keys().filter(|t| !sqlite.contains_key(*t)) {
        found.push(format!("{table}: a table only on PostgreSQL"));
    }
    for table in sqlite.keys().filter(|t| !postgres.contains_key(*t)) {
        found.push(format!("{table}: a table only on SQLite"));
    }
    for (table, pg_columns) in postgres {
        let Some(lite_columns) = sqlite.get(table) else {
            continue;
        };
        for (column, pg_type) in pg_columns {
            match lite_columns.get(column) {
                None => found.push(format!("{table}.{column}: only on PostgreSQL ({pg_type})")),
                Some(lite_type) if sqlite_type(pg_type) != Some(lite_type.as_str()) => found.push(
                    format!("{table}.{column}: {pg_type} on PostgreSQL but {lite_type} on SQLite"),
                ),
                Some(_) => {}
            }
        }
        for (column, lite_type) in lite_columns {
            if !pg_columns.contains_key(column) {
                found.push(format!("{table}.{column}: only on SQLite ({lite_type})"));
            }
        }
    }
    found
}

#[tokio::test]
async fn both_backends_migrate_to_the_same_tables_and_columns() {
    let name = support::fresh_database().await;
    let admin = support::admin_url();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let pool = PgPool::connect(&url).await.expect("PostgreSQL");
    let (lite, _dir) = support::fresh_sqlite().await;

    let postgres = postgres_tables(&pool).await;
    let sqlite = sqlite_tables(&lite).await;
    assert!(
        postgres.len() >= 20 && postgres.contains_key("events"),
        "{postgres:?}"
    );
    assert_eq!(differences(&postgres, &sqlite), INTENDED);
}

#[test]
fn a_missing_table_a_missing_column_and_a_wrong_type_are_differences() {
    let schema = |columns: &[(&str, &str, &str)]| {
        tables(
            columns
                .iter()
                .map(|(t, c, k)| (t.to_string(), c.to_string(), k.to_string()))
                .collect(),
        )
    };
    let postgres = schema(&[
        ("jobs", "id", "text"),
        ("jobs", "eta", "timestamp with time zone"),
        ("jobs", "attempts", "integer"),
        ("persons", "id", "uuid"),
    ]);
    let sqlite = schema(&[
        ("jobs", "id", "TEXT"),
        ("jobs", "eta", "TEXT"),
        ("jobs", "attempts", "TEXT"),
        ("jobs", "extra", "BLOB"),
        ("outbox", "id", "TEXT"),
    ]);
    assert_eq!(
        differences(&postgres, &sqlite),
        [
            "persons: a table only on PostgreSQL",
            "outbox: a table only on SQLite",
            "jobs.attempts: integer on PostgreSQL but TEXT on SQLite",
            "jobs.extra: only on SQLite (BLOB)",
        ]
    );
    let matching = schema(&[
        ("jobs", "id", "TEXT"),
        ("jobs", "eta", "TEXT"),
        ("jobs", "attempts", "INTEGER"),
        ("persons", "id", "TEXT"),
    ]);
    assert_eq!(differences(&postgres, &matching), Vec::<String>::new());
}
