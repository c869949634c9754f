//! The statements that write a declared table, generated from its [`Table`] descriptor.

use super::{Conflict, Sql, Table};
use crate::rows::renumber;

/// How `UNNEST` takes a column's values, and the cast back to its type.
fn unnest(sql: Sql) -> (&'static str, &'static str) {
    match sql {
        Sql::Uuid => ("uuid[]", ""),
        Sql::Text => ("text[]", ""),
        Sql::Jsonb => ("text[]", "::jsonb"),
        Sql::Timestamptz => ("timestamptz[]", ""),
        Sql::Bigint => ("bigint[]", ""),
        Sql::Numeric => ("numeric[]", ""),
        Sql::UuidArray => ("text[]", "::uuid[]"),
    }
}

/// `ON CONFLICT …`; `excluded` is how the dialect spells the proposed row.
fn on_conflict(table: &Table, excluded: &str) -> String {
    match table.conflict {
        Conflict::Ignore => "ON CONFLICT DO NOTHING".to_string(),
        Conflict::NewerVersion => {
            let set = table
                .columns
                .iter()
                .filter(|c| !c.fixed)
                .map(|c| format!("{0} = {excluded}.{0}", c.name))
                .collect::<Vec<_>>()
                .join(", ");
            format!("ON CONFLICT (id) DO UPDATE SET {set} WHERE t.version < {excluded}.version")
        }
    }
}

/// The multi-row write into `name` (the table, as the statement addresses it), one array
/// parameter per column numbered from `$first`: `INSERT … SELECT FROM UNNEST(…) ON CONFLICT …`.
///
/// With `in_append`, the statement is a CTE of the live append statement, which defines
/// `ev (aggregate_type, aggregate_id, sequence, global_position)` for the appended events: the
/// `from_log` columns are then not parameters but the position `ev` assigned to the row's event
/// (found by `entity_type`, `entity_id` and `sequence`).
pub(crate) fn upsert_pg(table: &Table, name: &str, first: usize, in_append: bool) -> String {
    let bound: Vec<_> = table
        .columns
        .iter()
        .filter(|c| !(in_append && c.from_log))
        .collect();
    let params = bound
        .iter()
        .enumerate()
        .map(|(i, c)| format!("${}::{}", i + 1, unnest(c.sql).0))
        .collect::<Vec<_>>()
        .join(", ");
    let aliases = bound.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
    let select = table
        .columns
        .iter()
        .map(|c| {
            if in_append && c.from_log {
                format!("ev.{}", c.name)
            } else {
                format!("u.{}{}", c.name, unnest(c.sql).1)
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let join = if in_append && table.columns.iter().any(|c| c.from_log) {
        " JOIN ev ON ev.aggregate_type = u.entity_type \
         AND ev.aggregate_id = u.entity_id::text AND ev.sequence = u.sequence"
    } else {
        ""
    };
    renumber(
        &format!(
            "INSERT INTO {name} AS t ({}) SELECT {select} FROM UNNEST({params}) AS u({aliases}){join} {}",
            table.column_list(),
            on_conflict(table, "EXCLUDED"),
        ),
        first,
    )
}

/// The one-row write into `name` on SQLite.
pub(crate) fn upsert_sqlite(table: &Table, name: &str) -> String {
    let values = (1..=table.columns.len())
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {name} AS t ({}) VALUES ({values}) {}",
        table.column_list(),
        on_conflict(table, "excluded"),
    )
}

/// A rebuild's first load into `name`, which has no keys yet.
pub(crate) fn copy_in(table: &Table, name: &str) -> String {
    format!(
        "COPY {name} ({}) FROM STDIN WITH (FORMAT binary)",
        table.column_list()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{MERGE_REQUESTS, STATUS_HISTORY};

    #[test]
    fn an_entity_upsert_replaces_only_older_versions_and_leaves_the_fixed_columns() {
        assert_eq!(
            upsert_pg(&MERGE_REQUESTS, "merge_requests", 3, false),
            "INSERT INTO merge_requests AS t (id, master_person_id, merge_person_id, status, \
             legal_entity_id, inserted_by, inserted_at, updated_by, updated_at, version, document) \
             SELECT u.id, u.master_person_id, u.merge_person_id, u.status, u.legal_entity_id, \
             u.inserted_by, u.inserted_at, u.updated_by, u.updated_at, u.version, u.document::jsonb \
             FROM UNNEST($3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::uuid[], $8::uuid[], \
             $9::timestamptz[], $10::uuid[], $11::timestamptz[], $12::bigint[], $13::text[]) \
             AS u(id, master_person_id, merge_person_id, status, legal_entity_id, inserted_by, \
             inserted_at, updated_by, updated_at, version, document) \
             ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, updated_by = \
             EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at, version = EXCLUDED.version, \
             document = EXCLUDED.document WHERE t.version < EXCLUDED.version"
        );
        assert_eq!(
            upsert_sqlite(&MERGE_REQUESTS, "\"merge_requests\""),
            "INSERT INTO \"merge_requests\" AS t (id, master_person_id, merge_person_id, status, \
             legal_entity_id, inserted_by, inserted_at, updated_by, updated_at, version, document) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (id) DO UPDATE SET status = excluded.status, updated_by = \
             excluded.updated_by, updated_at = excluded.updated_at, version = excluded.version, \
             document = excluded.document WHERE t.version < excluded.version"
        );
    }

    #[test]
    fn in_the_append_statement_history_rows_take_their_position_from_the_appended_events() {
        assert_eq!(
            upsert_pg(&STATUS_HISTORY, "status_history", 1, true),
            "INSERT INTO status_history AS t (entity_type, entity_id, sequence, attribute, \
             old_value, new_value, global_position, changed_by, changed_at) \
             SELECT u.entity_type, u.entity_id, u.sequence, u.attribute, u.old_value, \
             u.new_value, ev.global_position, u.changed_by, u.changed_at \
             FROM UNNEST($1::text[], $2::uuid[], $3::bigint[], $4::text[], $5::text[], \
             $6::text[], $7::uuid[], $8::timestamptz[]) AS u(entity_type, entity_id, sequence, \
             attribute, old_value, new_value, changed_by, changed_at) \
             JOIN ev ON ev.aggregate_type = u.entity_type AND ev.aggregate_id = u.entity_id::text \
             AND ev.sequence = u.sequence ON CONFLICT DO NOTHING"
        );
        // Elsewhere (a rebuild) the position is a column like the others.
        assert!(upsert_pg(&STATUS_HISTORY, "h", 1, false).contains("$7::bigint[]"));
    }
}
