//! Query parameters of the list endpoints, validated here rather than by a serde extractor so that
//! every mistake is answered in eHealth's 422 envelope (`entry_type: "query_parameter"`), all of
//! them at once, and never with axum's plain-text rejection.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::cursor::Cursor;
use crate::api::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// How a filter's value is checked and bound.
pub enum Kind {
    /// One of these values, exactly (enum values are case-sensitive, as stored).
    Enum(&'static [&'static str]),
    Uuid,
}

/// An equality filter: `?<param>=<value>` becomes `<column> = value`.
pub struct Filter {
    pub param: &'static str,
    pub column: &'static str,
    pub kind: Kind,
}

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
pub enum Bind {
    Text(String),
    Uuid(Uuid),
}

/// A validated list request.
#[derive(Debug)]
pub struct ListQuery {
    /// `(column, value)`: the row's column must equal the value.
    pub equals: Vec<(&'static str, Bind)>,
    /// `(column, operator, instant)`.
    pub ranges: Vec<(&'static str, &'static str, DateTime<Utc>)>,
    pub limit: i64,
    pub after: Option<Cursor>,
    /// Every parameter but `cursor`, as given, to build the link of the next page.
    pub kept: Vec<(String, String)>,
}

/// One `invalid[]` entry about a query parameter.
fn entry(param: &str, rule: &str, description: &str, params: Value) -> Value {
    json!({
        "entry_type": "query_parameter",
        "entry": param,
        "rules": [ { "rule": rule, "description": description, "params": params } ]
    })
}

/// An RFC 3339 instant, or a calendar date meaning its midnight UTC.
fn instant(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

/// Validates `pairs` against a list's filters; every problem becomes one entry of a single 422.
pub fn parse(
    table: &str,
    filters: &[Filter],
    pairs: Vec<(String, String)>,
) -> Result<ListQuery, ApiError> {
    let mut invalid = Vec::new();
    let mut query = ListQuery {
        equals: Vec::new(),
        ranges: Vec::new(),
        limit: DEFAULT_LIMIT,
        after: None,
        kept: Vec::new(),
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut repeated: Vec<&str> = Vec::new();
    // An empty value counts as absent, as in the audit endpoints (`?status=&limit=10` is what a
    // form with an unset filter sends).
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        if seen.contains(&name.as_str()) {
            // A repeated parameter is ambiguous (AND or OR?); it is reported once.
            if !repeated.contains(&name.as_str()) {
                repeated.push(name);
                invalid.push(entry(
                    name,
                    "invalid",
                    "query parameter must be given at most once",
                    json!([]),
                ));
            }
            continue;
        }
        seen.push(name);
        if name != "cursor" {
            query.kept.push((name.clone(), value.clone()));
        }
        if let Some(filter) = filters.iter().find(|f| f.param == name) {
            match filter.kind {
                Kind::Enum(allowed) => {
                    if allowed.contains(&value.as_str()) {
                        query
                            .equals
                            .push((filter.column, Bind::Text(value.clone())));
                    } else {
                        invalid.push(entry(
                            name,
                            "inclusion",
                            "value is not allowed in enum",
                            json!(allowed),
                        ));
                    }
                }
                Kind::Uuid => match Uuid::parse_str(value) {
                    Ok(id) => query.equals.push((filter.column, Bind::Uuid(id))),
                    Err(_) => invalid.push(entry(name, "uuid", "expected a uuid", json!(["uuid"]))),
                },
            }
        } else if let Some((_, column, op)) = RANGES.iter().find(|(p, _, _)| p == name) {
            match instant(value) {
                Some(t) => query.ranges.push((column, op, t)),
                None => invalid.push(entry(
                    name,
                    "date",
                    "expected a date (YYYY-MM-DD) or an RFC 3339 date-time",
                    json!(["date", "datetime"]),
                )),
            }
        } else if name == "limit" {
            match value.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => query.limit = n,
                _ => invalid.push(entry(
                    name,
                    "number",
                    &format!("expected an integer between 1 and {MAX_LIMIT}"),
                    json!({ "greater_than_or_equal_to": 1, "less_than_or_equal_to": MAX_LIMIT }),
                )),
            }
        } else if name == "cursor" {
            match Cursor::decode(value, table) {
                Some(c) => query.after = Some(c),
                None => invalid.push(entry(
                    name,
                    "invalid",
                    "cursor is not a next_cursor of this list",
                    json!([]),
                )),
            }
        } else {
            // An unknown parameter is refused: a misspelt filter (`stauts=recalled`) silently
            // ignored would answer the whole list as if it were the filtered one.
            invalid.push(entry(
                name,
                "schema",
                "query parameter is not allowed",
                json!(allowed_parameters(filters)),
            ));
        }
    }
    match invalid.len() {
        0 => Ok(query),
        1 => {
            let description = invalid[0]["rules"][0]["description"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let mut error = ApiError::validation(invalid);
            error.message = description;
            Err(error)
        }
        _ => Err(ApiError::validation(invalid)),
    }
}

/// Every parameter a list accepts, in the order the README lists them.
pub fn allowed_parameters(filters: &[Filter]) -> Vec<&'static str> {
    filters
        .iter()
        .map(|f| f.param)
        .chain(RANGES.iter().map(|(p, _, _)| *p))
        .chain(["limit", "cursor"])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILTERS: [Filter; 2] = [
        Filter {
            param: "status",
            column: "status",
            kind: Kind::Enum(&["active", "recalled"]),
        },
        Filter {
            param: "patient_id",
            column: "patient_id",
            kind: Kind::Uuid,
        },
    ];

    fn pairs(raw: &[(&str, &str)]) -> Vec<(String, String)> {
        raw.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn entries(err: &ApiError) -> Vec<(String, String)> {
        err.invalid
            .as_ref()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["entry"].as_str().unwrap().to_string(),
                    e["rules"][0]["rule"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn dates_are_rfc_3339_instants_or_utc_days() {
        assert_eq!(
            instant("2024-05-01T13:00:00+03:00").unwrap().to_rfc3339(),
            "2024-05-01T10:00:00+00:00"
        );
        assert_eq!(
            instant("2024-05-01").unwrap().to_rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        for bad in [
            "2024-13-01",
            "yesterday",
            "2024-05-01T10:00:00",
            "1714557600",
        ] {
            assert_eq!(instant(bad), None, "{bad}");
        }
    }

    #[test]
    fn valid_parameters_become_conditions_and_the_limit() {
        let id = Uuid::from_u128(7);
        let q = parse(
            "service_requests",
            &FILTERS,
            pairs(&[
                ("status", "active"),
                ("patient_id", &id.to_string()),
                ("updated_from", "2024-05-01"),
                ("limit", "500"),
            ]),
        )
        .unwrap();
        assert_eq!(
            q.equals,
            vec![
                ("status", Bind::Text("active".into())),
                ("patient_id", Bind::Uuid(id))
            ]
        );
        assert_eq!(q.ranges.len(), 1);
        assert_eq!(q.limit, 500);
        assert_eq!(q.kept.len(), 4);
    }

    #[test]
    fn every_invalid_parameter_is_reported_at_once() {
        let err = parse(
            "service_requests",
            &FILTERS,
            pairs(&[
                ("status", "ACTIVE"),
                ("patient_id", "42"),
                ("inserted_to", "soon"),
                ("limit", "0"),
                ("cursor", "x"),
                ("stauts", "recalled"),
                ("status", "active"),
                ("status", "recalled"),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.status, 422);
        assert_eq!(err.message, crate::api::error::VALIDATION_FAILED);
        assert_eq!(
            entries(&err),
            [
                ("status", "inclusion"),
                ("patient_id", "uuid"),
                ("inserted_to", "date"),
                ("limit", "number"),
                ("cursor", "invalid"),
                ("stauts", "schema"),
                ("status", "invalid"),
            ]
            .map(|(a, b)| (a.to_string(), b.to_string()))
        );
    }

    #[test]
    fn empty_values_are_absent_parameters() {
        let q = parse(
            "service_requests",
            &FILTERS,
            pairs(&[("status", ""), ("limit", ""), ("cursor", "")]),
        )
        .unwrap();
        assert!(q.equals.is_empty());
        assert_eq!(q.limit, DEFAULT_LIMIT);
        assert_eq!(q.after, None);
        assert!(q.kept.is_empty());
    }

    #[test]
    fn a_single_invalid_parameter_carries_its_rule_as_the_message() {
        let err = parse("service_requests", &FILTERS, pairs(&[("limit", "501")])).unwrap_err();
        assert_eq!(err.message, "expected an integer between 1 and 500");
        let err = parse("service_requests", &FILTERS, pairs(&[("limit", "ten")])).unwrap_err();
        assert_eq!(err.message, "expected an integer between 1 and 500");
    }
}
