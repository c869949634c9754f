//! The kinds of column a declaration names: for each, the Rust value a row holds, the SQL type,
//! and how the value is bound on PostgreSQL (one array per column), bound on SQLite (one value)
//! and written in a binary COPY. The encodings are those the service always used: sqlx's for
//! PostgreSQL, the `sqlite` module's text forms for SQLite.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::{Sql, SqliteQuery};
use crate::copy::CopyRows;
use crate::rows::PgQuery;
use crate::sqlite::{id, opt_id, opt_ts, ts};

pub(crate) trait Kind {
    type Value: Clone + Send + Sync + 'static;
    const SQL: Sql;
    const NULLABLE: bool;
    fn bind_pg<'q>(values: &'q [Self::Value], q: PgQuery<'q>) -> PgQuery<'q>;
    fn bind_sqlite<'q>(
        value: &'q Self::Value,
        q: SqliteQuery<'q>,
    ) -> Result<SqliteQuery<'q>, sqlx::Error>;
    fn copy(value: &Self::Value, copy: &mut CopyRows) -> Result<(), sqlx::Error>;
}

/// Declares a kind whose values bind on PostgreSQL as they are.
macro_rules! kind {
    (
        $(#[$doc:meta])* $name:ident: $value:ty, $sql:ident, $nullable:expr,
        sqlite |$v:ident| $sqlite:expr,
        copy |$c:ident, $cv:ident| $copy:expr
    ) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl Kind for $name {
            type Value = $value;
            const SQL: Sql = Sql::$sql;
            const NULLABLE: bool = $nullable;
            fn bind_pg<'q>(values: &'q [Self::Value], q: PgQuery<'q>) -> PgQuery<'q> {
                q.bind(values)
            }
            fn bind_sqlite<'q>(
                $v: &'q Self::Value,
                q: SqliteQuery<'q>,
            ) -> Result<SqliteQuery<'q>, sqlx::Error> {
                Ok(q.bind($sqlite))
            }
            fn copy($cv: &Self::Value, $c: &mut CopyRows) -> Result<(), sqlx::Error> {
                $copy;
                Ok(())
            }
        }
    };
}

kind!(
    /// A uuid.
    Uuid: uuid::Uuid, Uuid, false,
    sqlite |v| id(*v),
    copy |c, v| c.uuid(*v)
);
kind!(
    /// A uuid or NULL.
    OptUuid: Option<uuid::Uuid>, Uuid, true,
    sqlite |v| opt_id(*v),
    copy |c, v| c.opt_uuid(*v)
);
kind!(
    /// One of the service's own texts (an enum value, an entity type, an attribute name).
    Text: &'static str, Text, false,
    sqlite |v| *v,
    copy |c, v| c.text(v)
);
kind!(
    /// [`Text`] or NULL.
    OptText: Option<&'static str>, Text, true,
    sqlite |v| *v,
    copy |c, v| c.opt_text(*v)
);
kind!(
    /// An instant.
    Time: DateTime<Utc>, Timestamptz, false,
    sqlite |v| ts(*v),
    copy |c, v| c.timestamptz(*v)?
);
kind!(
    /// An instant or NULL.
    OptTime: Option<DateTime<Utc>>, Timestamptz, true,
    sqlite |v| opt_ts(*v),
    copy |c, v| c.opt_timestamptz(*v)?
);
kind!(
    /// A 64-bit integer.
    Int8: i64, Bigint, false,
    sqlite |v| *v,
    copy |c, v| c.int8(*v)
);
kind!(
    /// An exact decimal or NULL (SQLite: its text).
    OptNumeric: Option<Decimal>, Numeric, true,
    sqlite |v| v.map(|d| d.to_string()),
    copy |c, v| c.opt_numeric(*v)?
);
kind!(
    /// A JSON value, as its text (bound as `text[]` and cast to `jsonb` on PostgreSQL).
    Json: String, Jsonb, false,
    sqlite |v| v.as_str(),
    copy |c, v| c.jsonb(v)
);
kind!(
    /// [`Json`] or NULL.
    OptJson: Option<String>, Jsonb, true,
    sqlite |v| v.as_deref(),
    copy |c, v| c.opt_jsonb(v.as_deref())
);

/// A list of uuids: `uuid[]` on PostgreSQL, a JSON array on SQLite.
pub(crate) struct UuidList;

impl Kind for UuidList {
    type Value = Vec<uuid::Uuid>;
    const SQL: Sql = Sql::UuidArray;
    const NULLABLE: bool = false;

    /// One `uuid[]` literal per row, bound as `text[]` and cast back: `UNNEST` flattens an
    /// array of arrays.
    fn bind_pg<'q>(values: &'q [Self::Value], q: PgQuery<'q>) -> PgQuery<'q> {
        q.bind(values.iter().map(|ids| pg_array(ids)).collect::<Vec<_>>())
    }

    fn bind_sqlite<'q>(
        value: &'q Self::Value,
        q: SqliteQuery<'q>,
    ) -> Result<SqliteQuery<'q>, sqlx::Error> {
        let json = serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(e.into()))?;
        Ok(q.bind(json))
    }

    fn copy(value: &Self::Value, copy: &mut CopyRows) -> Result<(), sqlx::Error> {
        copy.uuid_array(value);
        Ok(())
    }
}

/// A `uuid[]` literal (`{a,b}`).
fn pg_array(ids: &[uuid::Uuid]) -> String {
    let items: Vec<String> = ids.iter().map(uuid::Uuid::to_string).collect();
    format!("{{{}}}", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uuid_list_binds_as_an_array_literal_per_row() {
        let a = uuid::Uuid::from_u128(1);
        let b = uuid::Uuid::from_u128(0xff);
        assert_eq!(pg_array(&[]), "{}");
        assert_eq!(pg_array(&[a, b]), format!("{{{a},{b}}}"));
    }
}
