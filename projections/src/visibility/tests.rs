//! The generated conditions and the domain's pure rule agree on the same rows, on both backends:
//! rows with every combination of holder values are inserted into each entity table, then each
//! condition's rows are compared with those [`Visibility::admits`] admits.

use std::collections::BTreeSet;

use ehealth_aggregates::visibility::Facts;
use sqlx::{PgPool, SqlitePool};

use super::*;

const A: Uuid = Uuid::from_u128(0xa);
const B: Uuid = Uuid::from_u128(0xb);
const C: Uuid = Uuid::from_u128(0xc);
const NOBODY: Uuid = Uuid::from_u128(0xd);
const CALLERS: [Uuid; 4] = [A, B, C, NOBODY];

/// Every combination of values of the rule's holders (a holder that can be NULL includes none).
fn combinations(rule: &Visibility) -> Vec<Facts> {
    let mut all = vec![Facts::new()];
    for holder in rule.holders {
        let nullable = table_of(rule)
            .column(holder.name())
            .is_some_and(|c| c.nullable);
        let mut next = Vec::new();
        for facts in &all {
            match holder {
                Holder::One(name) => {
                    let mut values = vec![Some(A), Some(B)];
                    if nullable {
                        values.push(None);
                    }
                    for value in values {
                        next.push(facts.clone().one(name, value));
                    }
                }
                Holder::Each(name) => {
                    for ids in [&[][..], &[A][..], &[B, C][..]] {
                        next.push(facts.clone().each(name, ids));
                    }
                }
            }
        }
        all = next;
    }
    all
}

/// A row's values as text, column by column (NULL: `None`): the holders' from `facts`, the id,
/// and a placeholder of the column's type elsewhere.
fn row(rule: &Visibility, id: Uuid, facts: &Facts, postgres: bool) -> Vec<Option<String>> {
    table_of(rule)
        .columns
        .iter()
        .map(|column| {
            let holder = rule.holders.iter().find(|h| h.name() == column.name);
            match holder {
                Some(Holder::One(name)) => facts.named(name).first().map(Uuid::to_string),
                Some(Holder::Each(name)) => {
                    let ids: Vec<String> = facts.named(name).iter().map(Uuid::to_string).collect();
                    Some(if postgres && column.sql == Sql::UuidArray {
                        format!("{{{}}}", ids.join(","))
                    } else {
                        serde_json::to_string(&ids).unwrap()
                    })
                }
                None if column.name == "id" => Some(id.to_string()),
                None if column.nullable => None,
                None => Some(match column.sql {
                    Sql::Uuid => Uuid::new_v4().to_string(),
                    Sql::Text => "x".into(),
                    Sql::Jsonb => "{}".into(),
                    Sql::Timestamptz => "2024-01-01T00:00:00.000000Z".into(),
                    Sql::Bigint | Sql::Numeric => "1".into(),
                    Sql::UuidArray if postgres => "{}".into(),
                    Sql::UuidArray => "[]".into(),
                }),
            }
        })
        .collect()
}

fn insert_sql(table: &Table, postgres: bool) -> String {
    let values = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| match postgres {
            true => format!("${}::{}", i + 1, c.sql.postgres()),
            false => format!("${}", i + 1),
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {} ({}) VALUES ({values})",
        table.name,
        table.column_list()
    )
}

/// The rows of every rule, with the facts of each.
fn rows() -> Vec<(&'static Visibility, Uuid, Facts)> {
    let mut n = 0u128;
    let mut out = Vec::new();
    for rule in ALL {
        for facts in combinations(rule) {
            n += 1;
            out.push((rule, Uuid::from_u128(0x1000 + n), facts));
        }
    }
    out
}

/// What each condition should select, from the pure rule.
fn admitted(
    rows: &[(&'static Visibility, Uuid, Facts)],
    keep: impl Fn(&Visibility, &Facts) -> bool,
) -> BTreeSet<(String, Uuid)> {
    rows.iter()
        .filter(|(rule, _, facts)| keep(rule, facts))
        .map(|(rule, id, _)| (rule.entity_type.to_string(), *id))
        .collect()
}

async fn sqlite_select(
    pool: &SqlitePool,
    mut sql: QueryBuilder<'_, Sqlite>,
) -> BTreeSet<(String, Uuid)> {
    let found: Vec<(String, String)> = sql.build_query_as().fetch_all(pool).await.unwrap();
    found
        .into_iter()
        .map(|(t, id)| (t, Uuid::parse_str(&id).unwrap()))
        .collect()
}

async fn pg_select(pool: &PgPool, mut sql: QueryBuilder<'_, Postgres>) -> BTreeSet<(String, Uuid)> {
    let found: Vec<(String, Uuid)> = sql.build_query_as().fetch_all(pool).await.unwrap();
    found.into_iter().collect()
}

/// Inserts `$rows` (their values as `postgres` or SQLite binds them), then checks every condition
/// against the pure rule with `select` (one backend).
macro_rules! check_conditions {
    ($pool:expr, $select:ident, $db:ty, $rows:expr, postgres: $postgres:expr) => {{
        let rows = $rows;
        for (rule, id, facts) in rows {
            let sql = insert_sql(table_of(rule), $postgres);
            let mut query = sqlx::query(&sql);
            for value in row(rule, *id, facts, $postgres) {
                query = query.bind(value);
            }
            query.execute($pool).await.unwrap();
        }
        for caller in CALLERS {
            for rule in ALL {
                let head = format!(
                    "SELECT '{}', id FROM {} WHERE ",
                    rule.entity_type,
                    table_of(rule).name
                );
                let mut sql = QueryBuilder::<$db>::new(&head);
                push_visible(&mut sql, rule, caller);
                let expected = admitted(rows, |r, facts| r == rule && r.admits(facts, caller));
                assert_eq!(
                    $select($pool, sql).await,
                    expected,
                    "{} seen by {caller}",
                    rule.entity_type
                );
                for holder in rule.holders {
                    let mut sql = QueryBuilder::<$db>::new(&head);
                    push_does_not_name(&mut sql, rule, *holder, caller);
                    let expected = admitted(rows, |r, facts| {
                        r == rule && !facts.named(holder.name()).contains(&caller)
                    });
                    assert_eq!(
                        $select($pool, sql).await,
                        expected,
                        "{holder:?} not naming {caller}"
                    );
                }
            }
            let mut sql = QueryBuilder::<$db>::new("SELECT * FROM (");
            push_visible_entities(&mut sql, caller);
            sql.push(") visible");
            let expected = admitted(rows, |r, facts| r.admits(facts, caller));
            assert_eq!(
                $select($pool, sql).await,
                expected,
                "entities seen by {caller}"
            );
        }
    }};
}

#[tokio::test]
async fn on_sqlite_the_conditions_select_exactly_what_the_rule_admits() {
    let pool = crate::test_db::sqlite().await;
    check_conditions!(&pool, sqlite_select, Sqlite, &rows(), postgres: false);
}

#[tokio::test]
async fn on_postgres_the_conditions_select_exactly_what_the_rule_admits() {
    let pool = crate::test_db::postgres().await;
    check_conditions!(&pool, pg_select, Postgres, &rows(), postgres: true);
}

#[test]
fn every_rule_names_columns_of_its_table_of_the_holder_s_kind() {
    for rule in ALL {
        let table = table_of(rule);
        assert!(table.column("id").is_some(), "{}", table.name);
        for holder in rule.holders {
            let column = table
                .column(holder.name())
                .unwrap_or_else(|| panic!("{}.{}", table.name, holder.name()));
            match holder {
                Holder::One(_) => assert_eq!(column.sql, Sql::Uuid, "{}", column.name),
                Holder::Each(_) => assert!(
                    matches!(column.sql, Sql::Jsonb | Sql::UuidArray),
                    "{}",
                    column.name
                ),
            }
        }
    }
}
