//! Where projection rows are written: the live tables (found through the connection's
//! `search_path`, as the service always did) or a schema of tables being rebuilt aside.

/// Rows per multi-row statement: large enough that a rebuild is not round-trip bound, small enough
/// that one statement's arrays stay a few megabytes.
pub(crate) const CHUNK: usize = 5_000;

/// The index ranges of `len` rows in chunks of at most [`CHUNK`].
pub(crate) fn chunks(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    (0..len)
        .step_by(CHUNK)
        .map(move |start| start..(start + CHUNK).min(len))
}

/// The projection tables, by name.
pub const TABLES: [&str; 6] = [
    "service_requests",
    "merge_requests",
    "device_dispenses",
    "approvals",
    "status_history",
    "status_change_events",
];

/// How entity rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// `ON CONFLICT (id) DO UPDATE … WHERE version < EXCLUDED.version`: the live path, and a
    /// rebuild once its tables have their keys.
    Upsert,
    /// A binary `COPY`: only for a rebuild's first load into tables that have no keys or indexes
    /// yet, where each row is written once (entities once per table, events once in all).
    Load,
}

/// Which copy of the projection tables a statement addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    schema: Option<String>,
}

impl Tables {
    /// The tables the service reads, resolved through `search_path`.
    pub fn live() -> Self {
        Self { schema: None }
    }

    /// The tables of one schema (a rebuild's aside copy).
    pub fn in_schema(schema: &str) -> Self {
        Self {
            schema: Some(schema.to_string()),
        }
    }

    /// The SQL name of `table`. Schema and table names are our own constants, never user input;
    /// they are quoted all the same.
    pub fn name(&self, table: &str) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
            None => quote_ident(table),
        }
    }
}

/// Quotes an SQL identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
