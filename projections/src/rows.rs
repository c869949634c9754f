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
pub const TABLES: [&str; 7] = {
    let mut names = [""; 7];
    let mut i = 0;
    while i < names.len() {
        names[i] = crate::tables::ALL[i].name;
        i += 1;
    }
    names
};

/// How entity rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteMode {
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
    pub(crate) fn in_schema(schema: &str) -> Self {
        Self {
            schema: Some(schema.to_string()),
        }
    }

    /// The SQL name of `table`. Schema and table names are our own constants, never user input;
    /// they are quoted all the same.
    pub(crate) fn name(&self, table: &str) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
            None => quote_ident(table),
        }
    }
}

/// Quotes an SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A statement being bound on PostgreSQL.
pub(crate) type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// `sql` with its parameters `$1…$n` renumbered to start at `$first`, so that statements written
/// on their own can be embedded in a larger one (the live append statement).
pub(crate) fn renumber(sql: &str, first: usize) -> String {
    if first == 1 {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        if ch != '$' {
            out.push(ch);
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while let Some(&(j, d)) = chars.peek() {
            if !d.is_ascii_digit() {
                break;
            }
            end = j + d.len_utf8();
            chars.next();
        }
        match sql[start..end].parse::<usize>() {
            Ok(n) => out.push_str(&format!("${}", n + first - 1)),
            Err(_) => out.push('$'),
        }
    }
    out
}

/// The highest parameter number `$n` in `sql` (0 when there is none).
pub(crate) fn param_count(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{param_count, renumber};

    #[test]
    fn renumber_shifts_every_parameter_and_nothing_else() {
        assert_eq!(renumber("a = $1 AND b = $12", 1), "a = $1 AND b = $12");
        assert_eq!(
            renumber("a = $1::uuid[] AND b = $12, '$' || $2", 5),
            "a = $5::uuid[] AND b = $16, '$' || $6"
        );
        assert_eq!(param_count("a = $5::uuid[] AND b = $16, '$' || $6"), 16);
        assert_eq!(param_count("no parameters, '$'"), 0);
    }
}
