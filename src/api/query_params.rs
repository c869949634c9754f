//! Query-string parameters, parsed by hand so that every refusal is eHealth's 422 with
//! `query_parameter` entries (all of them at once) instead of axum's plain-text rejection. One
//! decoder and one set of value parsers serve every endpoint that takes parameters: the audit read
//! side (`/api/events`, history, `as_of`/`version`: [`QueryParams::parse`]) and the analyst lists
//! ([`QueryParams::in_order`], whose filters `lists::params` checks).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use super::error::{ApiError, VALIDATION_FAILED};

/// The default and largest `page_size` of paged answers.
pub(crate) const DEFAULT_PAGE_SIZE: i64 = 50;
pub(crate) const MAX_PAGE_SIZE: i64 = 500;

/// One `invalid[]` entry for a query parameter.
pub(crate) fn invalid_entry(entry: &str, rule: &str, description: &str, params: Value) -> Value {
    json!({
        "entry_type": "query_parameter",
        "entry": entry,
        "rules": [ { "rule": rule, "description": description, "params": params } ]
    })
}

/// Which refusals of a 422 lend their text to its message (otherwise it is eHealth's generic
/// text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message {
    /// Every entry says the same thing (one entry, or the pair of `oneOf` entries): the audit
    /// read side, as elsewhere in the API.
    Shared,
    /// There is a single entry: the analyst lists.
    Single,
}

/// 422 for refused query parameters, its message chosen by [`Message::Shared`].
pub(crate) fn refused(invalid: Vec<Value>) -> ApiError {
    refused_with(invalid, Message::Shared)
}

/// 422 for refused query parameters, its message chosen by `rule`.
pub(crate) fn refused_with(invalid: Vec<Value>, rule: Message) -> ApiError {
    let first = invalid
        .first()
        .and_then(|e| e["rules"][0]["description"].as_str())
        .map(str::to_string);
    let lends = |text: &str| match rule {
        Message::Shared => invalid
            .iter()
            .all(|e| e["rules"][0]["description"].as_str() == Some(text)),
        Message::Single => invalid.len() == 1,
    };
    let message = match first {
        Some(text) if lends(&text) => text,
        _ => VALIDATION_FAILED.to_string(),
    };
    ApiError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        kind: "validation_failed",
        message,
        invalid: Some(invalid),
        retry_after: None,
    }
}

/// The parameters of one request. An empty value counts as absent, so `?date=&page=2` is what a
/// form with an unset filter sends and means `?page=2`.
#[derive(Debug, Default)]
pub(crate) struct QueryParams(HashMap<String, String>);

impl QueryParams {
    /// Parses a raw query string (`RawQuery`) for an endpoint that accepts `allowed`. Unknown and
    /// repeated parameters are refused, as by the list endpoints: a misspelt filter silently
    /// ignored would answer the unfiltered list (or the current state instead of a past one) as if
    /// it were the one asked for, and a repeated one is ambiguous. Their `invalid[]` entries are
    /// returned for the caller to answer together with its own. Percent-decoding is lossy, as in
    /// every Plug parser, so the query string as a whole is never refused.
    pub(crate) fn parse(raw: Option<&str>, allowed: &[&str]) -> (Self, Vec<Value>) {
        let mut map = HashMap::new();
        let mut invalid = Vec::new();
        let mut repeated: Vec<String> = Vec::new();
        for (key, value) in pairs(raw) {
            if !allowed.contains(&key.as_str()) {
                invalid.push(not_allowed(&key, allowed));
                continue;
            }
            // PostgreSQL text cannot hold a NUL character: no stored value contains one, and a
            // filter with one would make the database refuse the query (a 500).
            if value.contains('\0') {
                invalid.push(invalid_entry(
                    &key,
                    "format",
                    "expected a string without NUL characters",
                    json!([]),
                ));
                continue;
            }
            match map.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                // Reported once, however often it is repeated.
                Entry::Occupied(slot) if !repeated.contains(slot.key()) => {
                    invalid.push(given_twice(slot.key()));
                    repeated.push(slot.key().clone());
                }
                Entry::Occupied(_) => {}
            }
        }
        (Self(map), invalid)
    }

    /// The analyst lists' reading of a raw query string: every parameter in the order given,
    /// with its value or its refusal. A repeated parameter is refused once, at its second
    /// occurrence, whether it is allowed or not; an unknown one is refused with the `allowed`
    /// list. Values are not checked here (every list parameter has a checked type).
    pub(crate) fn in_order(raw: Option<&str>, allowed: &[&str]) -> Vec<Given> {
        let mut given = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut repeated: Vec<String> = Vec::new();
        for (name, value) in pairs(raw) {
            if seen.contains(&name) {
                if !repeated.contains(&name) {
                    given.push(Given::Refused(given_twice(&name)));
                    repeated.push(name);
                }
                continue;
            }
            seen.push(name.clone());
            given.push(if allowed.contains(&name.as_str()) {
                Given::Value(name, value)
            } else {
                Given::Refused(not_allowed(&name, allowed))
            });
        }
        given
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// One parameter of a request, as [`QueryParams::in_order`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Given {
    /// The parameter's name and its (first) value.
    Value(String, String),
    /// Why it is refused: an `invalid[]` entry.
    Refused(Value),
}

/// The `(name, value)` pairs of a raw query string, form-decoded, in order; an empty value
/// counts as absent, so `?date=&page=2` (what a form with an unset filter sends) means `?page=2`.
/// Percent-decoding is lossy, as in every Plug parser, so the query string as a whole is never
/// refused.
fn pairs(raw: Option<&str>) -> impl Iterator<Item = (String, String)> + '_ {
    raw.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .filter(|(_, value)| !value.is_empty())
}

/// The refusal of a parameter the endpoint does not take: a misspelt filter silently ignored
/// would answer the unfiltered list (or the current state instead of a past one) as if it were
/// the one asked for.
fn not_allowed(name: &str, allowed: &[&str]) -> Value {
    invalid_entry(
        name,
        "schema",
        "query parameter is not allowed",
        json!(allowed),
    )
}

/// The refusal of a repeated parameter, which is ambiguous (AND or OR?).
fn given_twice(name: &str) -> Value {
    invalid_entry(
        name,
        "invalid",
        "query parameter must be given at most once",
        json!([]),
    )
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; a `%` that is not
/// followed by two hex digits stays as it is.
fn decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi * 16 + lo);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// An RFC 3339 instant (`2026-01-02T03:04:05Z`, `…+02:00`, with or without a fraction).
pub(crate) fn instant(raw: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(raw)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A date (`YYYY-MM-DD`, midnight UTC) or an RFC 3339 instant.
pub(crate) fn date_or_instant(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    instant(raw)
}

/// An instant to compare with a stored one on SQLite, where instants are fixed-width text
/// ([`crate::db::sqlite::ts`]) and text order is time order only for the years 0000–9999 that
/// the text can hold. An instant outside them (a date with an offset across year 0 or 9999, a
/// made-up cursor) becomes a bound below or above every stored instant, which is how PostgreSQL
/// compares it.
pub(crate) fn sqlite_instant(at: DateTime<Utc>) -> String {
    match at.year() {
        year if year < 0 => String::new(),
        year if year > 9999 => "~".to_string(),
        _ => crate::db::sqlite::ts(at),
    }
}

pub(crate) fn uuid(raw: &str) -> Option<Uuid> {
    Uuid::parse_str(raw).ok()
}

/// An integer within `min..=max`.
pub(crate) fn integer_in(raw: &str, min: i64, max: i64) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|n| (min..=max).contains(n))
}

/// `page` and `page_size`, for the OpenAPI document only: [`Page::from_params`] parses them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // never constructed: the derive reads the declaration
pub(crate) struct PageParams {
    /// The page, from 1 (default 1). A page past the end is empty, with the true totals.
    #[param(minimum = 1, maximum = 2_147_483_647)]
    page: Option<i64>,
    /// Entries per page, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    page_size: Option<i64>,
}

/// A date (`YYYY-MM-DD`, midnight UTC) or an RFC 3339 instant, as the `date` and `*_from`/`*_to`
/// query parameters take it; a schema for the OpenAPI document.
pub(crate) struct DateOrInstant;

impl utoipa::PartialSchema for DateOrInstant {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type,
        };
        let string = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        AnyOfBuilder::new()
            .item(string(KnownFormat::Date))
            .item(string(KnownFormat::DateTime))
            .description(Some(
                "A date `YYYY-MM-DD` (midnight UTC) or an RFC 3339 instant (`2026-01-02T03:04:05Z`, \
                 `…+02:00`; send `+` as `%2B`)",
            ))
            .into()
    }
}

impl utoipa::ToSchema for DateOrInstant {}

/// The requested page of a paged answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Page {
    pub number: i64,
    pub size: i64,
}

impl Page {
    /// `page` (from 1, default 1) and `page_size` (1..=500, default 50); refusals are added to
    /// `invalid` so that they are answered together with the caller's other refusals.
    pub(crate) fn from_params(params: &QueryParams, invalid: &mut Vec<Value>) -> Page {
        let mut page = Page {
            number: 1,
            size: DEFAULT_PAGE_SIZE,
        };
        if let Some(raw) = params.get("page") {
            match integer_in(raw, 1, i64::from(i32::MAX)) {
                Some(n) => page.number = n,
                None => invalid.push(invalid_entry(
                    "page",
                    "number",
                    "expected an integer greater than or equal to 1",
                    json!({ "greater_than_or_equal_to": 1 }),
                )),
            }
        }
        if let Some(raw) = params.get("page_size") {
            match integer_in(raw, 1, MAX_PAGE_SIZE) {
                Some(n) => page.size = n,
                None => invalid.push(invalid_entry(
                    "page_size",
                    "number",
                    &format!("expected an integer between 1 and {MAX_PAGE_SIZE}"),
                    json!({ "greater_than_or_equal_to": 1, "less_than_or_equal_to": MAX_PAGE_SIZE }),
                )),
            }
        }
        page
    }

    pub(crate) fn offset(&self) -> i64 {
        (self.number - 1).saturating_mul(self.size)
    }

    /// eHealth's top-level `paging` object. As in Scrivener (which eHealth pages with), an empty
    /// result still has one (empty) page.
    pub(crate) fn paging(&self, total_entries: i64) -> Value {
        let total_pages = ((total_entries + self.size - 1) / self.size).max(1);
        json!({
            "page_number": self.number,
            "page_size": self.size,
            "total_entries": total_entries,
            "total_pages": total_pages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_form_decoded_and_empty_values_are_absent() {
        let (p, invalid) = QueryParams::parse(
            Some("date=2026-01-02T03%3A04%3A05%2B02%3A00&a=x+y&b=&c&d=z%"),
            &["date", "a", "b", "c", "d"],
        );
        assert!(invalid.is_empty(), "{invalid:?}");
        assert_eq!(p.get("date"), Some("2026-01-02T03:04:05+02:00"));
        assert_eq!(p.get("a"), Some("x y"));
        assert_eq!(p.get("b"), None);
        assert_eq!(p.get("c"), None);
        assert_eq!(p.get("d"), Some("z%"));
    }

    #[test]
    fn unknown_and_repeated_parameters_are_refused_once_each() {
        let (p, invalid) = QueryParams::parse(Some("a=1&zz=2&a=3&a=4&b=&b=5"), &["a", "b"]);
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), Some("5"));
        let got: Vec<(&str, &str)> = invalid
            .iter()
            .map(|e| {
                (
                    e["entry"].as_str().unwrap(),
                    e["rules"][0]["rule"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(got, vec![("zz", "schema"), ("a", "invalid")]);
        assert_eq!(invalid[0]["rules"][0]["params"], json!(["a", "b"]));
    }

    #[test]
    fn in_order_the_lists_see_every_parameter_where_it_was_given() {
        let given = QueryParams::in_order(Some("b=1&zz=2&a=&b=3&b=4&zz=5&a=x+y"), &["a", "b"]);
        let shape: Vec<(String, &str)> = given
            .iter()
            .map(|g| match g {
                Given::Value(name, value) => (format!("{name}={value}"), "value"),
                Given::Refused(e) => (
                    e["entry"].as_str().unwrap().to_string(),
                    e["rules"][0]["rule"].as_str().unwrap(),
                ),
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("b=1".to_string(), "value"),
                ("zz".to_string(), "schema"),
                ("b".to_string(), "invalid"),
                ("zz".to_string(), "invalid"),
                ("a=x y".to_string(), "value"),
            ]
        );
    }

    #[test]
    fn a_value_with_a_nul_character_is_refused() {
        let (p, invalid) = QueryParams::parse(Some("a=x%00y&b=ok"), &["a", "b"]);
        assert_eq!(p.get("a"), None);
        assert_eq!(p.get("b"), Some("ok"));
        assert_eq!(invalid.len(), 1);
        assert_eq!(invalid[0]["entry"], "a");
        assert_eq!(invalid[0]["rules"][0]["rule"], "format");
    }

    #[test]
    fn the_message_is_the_shared_description_or_the_generic_text() {
        let one = invalid_entry("a", "r", "text", json!([]));
        assert_eq!(refused(vec![one.clone()]).message, "text");
        assert_eq!(refused(vec![one.clone(), one.clone()]).message, "text");
        let other = invalid_entry("b", "r", "other", json!([]));
        assert_eq!(refused(vec![one, other]).message, VALIDATION_FAILED);
    }

    #[test]
    fn dates_are_midnight_utc_and_instants_keep_their_offset() {
        assert_eq!(
            date_or_instant("2026-01-02").unwrap().to_rfc3339(),
            "2026-01-02T00:00:00+00:00"
        );
        assert_eq!(
            date_or_instant("2026-01-02T03:04:05+02:00")
                .unwrap()
                .to_rfc3339(),
            "2026-01-02T01:04:05+00:00"
        );
        assert!(date_or_instant("2026-13-02").is_none());
        assert!(date_or_instant("yesterday").is_none());
    }

    #[test]
    fn sqlite_instants_outside_the_stored_years_bound_every_stored_one() {
        let stored = crate::db::sqlite::ts(date_or_instant("2026-01-02").unwrap());
        assert_eq!(stored, "2026-01-02T00:00:00.000000Z");
        let at = |raw| sqlite_instant(instant(raw).unwrap());
        assert_eq!(at("2026-01-02T00:00:00Z"), stored);
        let (early, late) = (
            at("0000-01-01T00:00:00+01:00"),
            at("9999-12-31T23:00:00-02:00"),
        );
        assert!(early < crate::db::sqlite::ts(date_or_instant("0000-01-01").unwrap()));
        assert!(late > crate::db::sqlite::ts(instant("9999-12-31T23:59:59.999999Z").unwrap()));
    }

    #[test]
    fn paging_counts_pages_like_scrivener() {
        let page = Page { number: 2, size: 2 };
        assert_eq!(page.offset(), 2);
        assert_eq!(page.paging(5)["total_pages"], 3);
        assert_eq!(page.paging(4)["total_pages"], 2);
        assert_eq!(page.paging(0)["total_pages"], 1);
    }
}
