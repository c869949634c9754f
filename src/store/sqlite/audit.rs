//! Audit on SQLite: how the Event Manager's records are filtered in SQLite's SQL. The chain walk
//! is the shared one (`store::audit`): every event read in chain order in one read transaction
//! (a WAL snapshot, so appends go on and are not seen). Payload and metadata are stored as JSON
//! text, hashes as BLOBs, `recorded_at` as fixed-width UTC text; the canonical form hashes
//! values, not spelling, so the hashes computed at append time are recomputed exactly.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

use crate::db::sqlite::ts_bound;
use crate::store::status_changes::EventManagerSql;

/// Written once for both backends, in `store::audit`.
pub(super) use crate::store::audit::SqliteAudit;

/// Instants bound as the text they are stored as, and the `properties` tests through JSON1
/// (`json_each` finds a top-level key whatever characters it holds, where a `json_extract` path
/// would have to quote it).
impl EventManagerSql for Sqlite {
    fn push_instant(sql: &mut QueryBuilder<'_, Self>, at: DateTime<Utc>) {
        sql.push_bind(ts_bound(at));
    }

    fn push_property(sql: &mut QueryBuilder<'_, Self>, name: &str, new_value: Option<&str>) {
        sql.push(" AND EXISTS (SELECT 1 FROM json_each(e.properties) AS p WHERE p.key = ")
            .push_bind(name.to_owned());
        if let Some(value) = new_value {
            // `->> 'new_value'` of PostgreSQL: the text of the member of an object, NULL for
            // any other value (the CASE keeps json_extract away from a non-JSON atom).
            sql.push(
                " AND CASE WHEN p.type = 'object' \
                 THEN CAST(json_extract(p.value, '$.new_value') AS TEXT) END = ",
            )
            .push_bind(value.to_owned());
        }
        sql.push(")");
    }
}
