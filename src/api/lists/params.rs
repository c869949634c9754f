//! The query parameters of a list, checked against its filters: every mistake is one entry of a
//! single 422 (`entry_type: "query_parameter"`), in the order the parameters were given. The
//! query string is read by the API's one parser ([`QueryParams::in_order`]).

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::cursor::Cursor;
use super::resources::{Filter, Kind};
use crate::api::error::ApiError;
use crate::api::query_params::{
    date_or_instant, integer_in, invalid_entry, refused_with, Given, Message, QueryParams,
};

pub(crate) const DEFAULT_LIMIT: i64 = 50;
pub(crate) const MAX_LIMIT: i64 = 500;

/// The date-range parameters every list accepts: `(param, column, operator)`. `_from` is
/// inclusive and `_to` exclusive, so consecutive ranges never overlap or leave a gap.
const RANGES: [(&str, &str, &str); 4] = [
    ("updated_from", "updated_at", ">="),
    ("updated_to", "updated_at", "<"),
    ("inserted_from", "inserted_at", ">="),
    ("inserted_to", "inserted_at", "<"),
];

/// A value to compare a column with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Bind {
    Text(String),
    Uuid(Uuid),
}

/// A validated list request.
#[derive(Debug)]
pub(crate) struct ListQuery {
    /// `(column, value)`: the row's column must equal the value.
    pub equals: Vec<(&'static str, Bind)>,
    /// `(column, operator, instant)`.
    pub ranges: Vec<(&'static str, &'static str, DateTime<Utc>)>,
    pub limit: i64,
    pub after: Option<Cursor>,
    /// Every parameter but `cursor`, as given, to build the link of the next page.
    pub kept: Vec<(String, String)>,
}

/// Validates the raw query string against a list's filters; every problem becomes one entry of
/// a single 422, whose message is the entry's when there is one.
pub(crate) fn parse(
    table: &str,
    filters: &[Filter],
    raw: Option<&str>,
) -> Result<ListQuery, ApiError> {
    let mut invalid = Vec::new();
    let mut query = ListQuery {
        equals: Vec::new(),
        ranges: Vec::new(),
        limit: DEFAULT_LIMIT,
        after: None,
        kept: Vec::new(),
    };
    for given in QueryParams::in_order(raw, &allowed_parameters(filters)) {
        let (name, value) = match given {
            Given::Value(name, value) => (name, value),
            Given::Refused(entry) => {
                invalid.push(entry);
                continue;
            }
        };
        if name != "cursor" {
            query.kept.push((name.clone(), value.clone()));
        }
        if let Some(filter) = filters.iter().find(|f| f.param == name) {
            match filter.kind {
                Kind::Enum(allowed) if allowed.contains(&value.as_str()) => {
                    query.equals.push((filter.column, Bind::Text(value)));
                }
                Kind::Enum(allowed) => invalid.push(invalid_entry(
                    &name,
                    "inclusion",
                    "value is not allowed in enum",
                    json!(allowed),
                )),
                Kind::Uuid => match Uuid::parse_str(&value) {
                    Ok(id) => query.equals.push((filter.column, Bind::Uuid(id))),
                    Err(_) => invalid.push(invalid_entry(
                        &name,
                        "uuid",
                        "expected a uuid",
                        json!(["uuid"]),
                    )),
                },
            }
        } else if let Some((_, column, op)) = RANGES.iter().find(|(p, _, _)| *p == name) {
            match date_or_instant(&value) {
                Some(t) => query.ranges.push((column, op, t)),
                None => invalid.push(invalid_entry(
                    &name,
                    "date",
                    "expected a date (YYYY-MM-DD) or an RFC 3339 date-time",
                    json!(["date", "datetime"]),
                )),
            }
        } else if name == "limit" {
            match integer_in(&value, 1, MAX_LIMIT) {
                Some(n) => query.limit = n,
                None => invalid.push(invalid_entry(
                    &name,
                    "number",
                    &format!("expected an integer between 1 and {MAX_LIMIT}"),
                    json!({ "greater_than_or_equal_to": 1, "less_than_or_equal_to": MAX_LIMIT }),
                )),
            }
        } else {
            match Cursor::decode(&value, table) {
                Some(c) => query.after = Some(c),
                None => invalid.push(invalid_entry(
                    &name,
                    "invalid",
                    "cursor is not a next_cursor of this list",
                    json!([]),
                )),
            }
        }
    }
    if invalid.is_empty() {
        Ok(query)
    } else {
        Err(refused_with(invalid, Message::Single))
    }
}

/// Every parameter a list accepts, in the order the README lists them.
pub(crate) fn allowed_parameters(filters: &[Filter]) -> Vec<&'static str> {
    filters
        .iter()
        .map(|f| f.param)
        .chain(RANGES.iter().map(|(p, _, _)| *p))
        .chain(["limit", "cursor"])
        .collect()
}

#[cfg(test)]
mod tests;
