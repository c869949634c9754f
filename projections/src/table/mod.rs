//! How a projection table is declared. Each table is declared once, with [`projection_table!`]
//! (the declarations are in `tables`): its columns in their order, each with its kind (which
//! fixes the Rust value, the SQL type on both backends and the wire encodings) and what the
//! service does with it. From that one declaration come
//!
//! - the row type (`…Row`, one typed field per column) and the column-wise batch (`…Rows`),
//! - the writes on both backends: PostgreSQL's multi-row `INSERT … SELECT FROM UNNEST`, as a
//!   statement or as a CTE of the live append statement, SQLite's per-row upsert, and a
//!   rebuild's binary `COPY` (`sql`, `write`),
//! - the descriptor [`Table`], which the list endpoints read for their filters, enum values and
//!   CSV columns, the visibility conditions for the SQL type of a holder, and `verify` on SQLite
//!   for the columns it shows as JSON.
//!
//! Adding a column to a table is one line in its declaration (and the column in both
//! migrations): the compiler then asks for its value where the entity's row is built.

pub(crate) mod kinds;
pub(crate) mod sql;
pub(crate) mod write;

use std::ops::Range;

use crate::copy::CopyRows;
use crate::rows::PgQuery;

/// A statement being bound on SQLite.
pub(crate) type SqliteQuery<'q> =
    sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// A column's SQL type. On SQLite uuids and instants are TEXT (`sqlite::id`, `sqlite::ts`),
/// JSON, exact decimals and uuid lists are their text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sql {
    Uuid,
    Text,
    /// JSON; on PostgreSQL `jsonb`.
    Jsonb,
    Timestamptz,
    Bigint,
    /// Exact decimals; on SQLite their text (`0.3`).
    Numeric,
    /// A list of uuids: `uuid[]` on PostgreSQL, a JSON array on SQLite.
    UuidArray,
}

impl Sql {
    /// The name of the type on PostgreSQL (the data dictionary's, and the tests' casts).
    #[cfg(test)]
    pub(crate) fn postgres(self) -> &'static str {
        match self {
            Sql::Uuid => "uuid",
            Sql::Text => "text",
            Sql::Jsonb => "jsonb",
            Sql::Timestamptz => "timestamptz",
            Sql::Bigint => "bigint",
            Sql::Numeric => "numeric",
            Sql::UuidArray => "uuid[]",
        }
    }

    /// Whether SQLite stores the value as JSON text.
    pub(crate) fn json_on_sqlite(self) -> bool {
        matches!(self, Sql::Jsonb | Sql::UuidArray)
    }
}

/// What happens when a written row meets a row with the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// An entity's current state, keyed by `id`: a row replaces an older version of itself
    /// (the columns that are not `fixed`), never a newer one.
    NewerVersion,
    /// A record of one event: written once, a second write of the same event changes nothing.
    Ignore,
}

/// One column of a projection table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    /// What it holds, for the data dictionary.
    pub doc: &'static str,
    pub sql: Sql,
    pub nullable: bool,
    /// Set when the row is first written; an upsert leaves it as it is.
    pub fixed: bool,
    /// The event's position in the log, which the live append statement assigns: its CTEs take
    /// it from the appended events (`ev`) instead of a parameter.
    pub from_log: bool,
    /// One of the CSV columns of the table's list endpoint.
    pub in_csv: bool,
    /// The values it can hold, when they are an enum's.
    pub values: Option<&'static [&'static str]>,
}

impl Column {
    pub(crate) const fn new(
        name: &'static str,
        doc: &'static str,
        sql: Sql,
        nullable: bool,
    ) -> Self {
        Column {
            name,
            doc,
            sql,
            nullable,
            fixed: false,
            from_log: false,
            in_csv: true,
            values: None,
        }
    }

    pub(crate) const fn fixed(self) -> Self {
        Column {
            fixed: true,
            ..self
        }
    }

    pub(crate) const fn taken_from_log(self) -> Self {
        Column {
            from_log: true,
            ..self
        }
    }

    pub(crate) const fn not_in_csv(self) -> Self {
        Column {
            in_csv: false,
            ..self
        }
    }

    pub(crate) const fn values(self, values: &'static [&'static str]) -> Self {
        Column {
            values: Some(values),
            ..self
        }
    }
}

/// An equality filter of a list endpoint: `?<param>=<value>` keeps the rows whose `column`
/// holds the value (one of the column's `values` when it has them, else a uuid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    pub param: &'static str,
    pub column: &'static str,
    /// What it selects, for the API document (empty when its name says it).
    pub doc: &'static str,
}

/// How a table is listed by its list endpoint.
#[derive(Debug, PartialEq, Eq)]
pub struct Listing {
    /// The order of a page and the key of its cursor: an instant column, then a uuid column.
    pub order: [&'static str; 2],
    /// In the order the endpoint documents them.
    pub filters: &'static [Filter],
}

/// One projection table: what the declaration says about it.
#[derive(Debug, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    /// What a row is, for the data dictionary.
    pub doc: &'static str,
    pub columns: &'static [Column],
    pub conflict: Conflict,
    /// Its list endpoint, if it has one.
    pub listing: Option<Listing>,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The names of the columns, comma-separated, in their order.
    pub(crate) fn column_list(&self) -> String {
        self.columns
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Rows of one table, column by column (the shape `UNNEST` takes), as the declaration generates
/// them.
pub(crate) trait Rows: Default + Send + Sync + 'static {
    const TABLE: &'static Table;
    type Row;
    /// Appends one row.
    fn push(&mut self, row: Self::Row);
    fn len(&self) -> usize;
    /// Appends copies of `other`'s rows after these.
    fn absorb(&mut self, other: &Self);
    /// Binds rows `r` as one array per column, in column order, leaving out the `from_log`
    /// columns when `from_log` is false.
    fn bind_pg<'q>(&'q self, r: Range<usize>, from_log: bool, q: PgQuery<'q>) -> PgQuery<'q>;
    /// Binds row `i`, one value per column.
    fn bind_sqlite<'q>(
        &'q self,
        i: usize,
        q: SqliteQuery<'q>,
    ) -> Result<SqliteQuery<'q>, sqlx::Error>;
    /// Appends row `i` to a binary COPY.
    fn copy_row(&self, i: usize, copy: &mut CopyRows) -> Result<(), sqlx::Error>;
}

/// Declares a projection table: its descriptor (a [`Table`] constant), its row type and its
/// batch of rows ([`Rows`]).
///
/// ```text
/// projection_table! {
///     /// What a row is.
///     pub TABLE_CONST = "table_name", conflict NewerVersion, row RowType, rows RowsType {
///         /// What the column holds.
///         column_name: Kind [.fixed().not_in_csv()],
///         …
///     }
///     listed by (updated_at, id) {
///         /// What the filter selects.
///         column_name = "query_parameter",
///         …
///     }
/// }
/// ```
///
/// `Kind` is one of the markers of `kinds`; the bracketed [`Column`] builder calls are optional.
macro_rules! projection_table {
    (@listing) => { None };
    (@listing ($first:ident, $second:ident) {
        $($(#[doc = $fdoc:literal])* $filtered:ident = $param:literal),*
    }) => {
        Some($crate::table::Listing {
            order: [stringify!($first), stringify!($second)],
            filters: &[$($crate::table::Filter {
                param: $param,
                column: stringify!($filtered),
                doc: concat!($($fdoc),*),
            }),*],
        })
    };
    (
        $(#[doc = $doc:literal])*
        $vis:vis $table:ident = $name:literal, conflict $conflict:ident, row $row:ident, rows $rows:ident {
            $(
                $(#[doc = $cdoc:literal])*
                $column:ident : $kind:ident $([ $($option:tt)* ])?
            ),* $(,)?
        }
        $(
            listed by ($first:ident, $second:ident) {
                $($(#[doc = $fdoc:literal])* $filtered:ident = $param:literal),* $(,)?
            }
        )?
    ) => {
        $(#[doc = $doc])*
        $vis const $table: $crate::table::Table = $crate::table::Table {
            name: $name,
            doc: concat!($($doc),*),
            columns: &[$(
                $crate::table::Column::new(
                    stringify!($column),
                    concat!($($cdoc),*),
                    <$crate::table::kinds::$kind as $crate::table::kinds::Kind>::SQL,
                    <$crate::table::kinds::$kind as $crate::table::kinds::Kind>::NULLABLE,
                ) $($($option)*)?
            ),*],
            conflict: $crate::table::Conflict::$conflict,
            listing: $crate::table::projection_table!(
                @listing $(($first, $second) { $($(#[doc = $fdoc])* $filtered = $param),* })?
            ),
        };

        #[doc = concat!("One row of `", $name, "`.")]
        pub(crate) struct $row {
            $(pub $column: <$crate::table::kinds::$kind as $crate::table::kinds::Kind>::Value,)*
        }

        #[doc = concat!("Rows of `", $name, "`, column by column.")]
        #[derive(Default)]
        pub(crate) struct $rows {
            $(pub(crate) $column: Vec<<$crate::table::kinds::$kind as $crate::table::kinds::Kind>::Value>,)*
        }

        impl $crate::table::Rows for $rows {
            const TABLE: &'static $crate::table::Table = &$table;
            type Row = $row;

            fn push(&mut self, row: $row) {
                $(self.$column.push(row.$column);)*
            }

            fn len(&self) -> usize {
                [$(self.$column.len()),*][0]
            }

            fn absorb(&mut self, other: &Self) {
                $(self.$column.extend_from_slice(&other.$column);)*
            }

            fn bind_pg<'q>(
                &'q self,
                r: ::std::ops::Range<usize>,
                from_log: bool,
                q: $crate::rows::PgQuery<'q>,
            ) -> $crate::rows::PgQuery<'q> {
                $(
                    let q = if from_log
                        || !$crate::table::Table::column(&$table, stringify!($column))
                            .is_some_and(|c| c.from_log)
                    {
                        <$crate::table::kinds::$kind as $crate::table::kinds::Kind>::bind_pg(
                            &self.$column[r.clone()],
                            q,
                        )
                    } else {
                        q
                    };
                )*
                q
            }

            fn bind_sqlite<'q>(
                &'q self,
                i: usize,
                q: $crate::table::SqliteQuery<'q>,
            ) -> Result<$crate::table::SqliteQuery<'q>, sqlx::Error> {
                $(
                    let q = <$crate::table::kinds::$kind as $crate::table::kinds::Kind>::bind_sqlite(
                        &self.$column[i],
                        q,
                    )?;
                )*
                Ok(q)
            }

            fn copy_row(
                &self,
                i: usize,
                copy: &mut $crate::copy::CopyRows,
            ) -> Result<(), sqlx::Error> {
                copy.row($table.columns.len() as i16);
                $(
                    <$crate::table::kinds::$kind as $crate::table::kinds::Kind>::copy(
                        &self.$column[i],
                        copy,
                    )?;
                )*
                Ok(())
            }
        }
    };
}
pub(crate) use projection_table;
