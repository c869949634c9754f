//! CSV for analysts (RFC 4180) and the `Accept` negotiation that selects it.
//!
//! Records end with CRLF, as RFC 4180 prescribes; a field is quoted only when it holds a comma, a
//! double quote, CR or LF, and quotes inside a quoted field are doubled. Spreadsheet formula
//! escaping is not needed: every exported column is a uuid, an enum value, a timestamp, a number or
//! a JSON object, none of which can start with `=`, `+`, `-` or `@`.

use axum::http::header::{ACCEPT, CONTENT_TYPE as CONTENT_TYPE_HEADER, LINK, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use super::params::ListQuery;
use super::resources::Resource;
use super::sql::ListedRow;

pub(crate) const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// Appends one field, quoted when its content requires it.
pub(crate) fn push_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// Appends one record (fields separated by commas, terminated by CRLF).
pub(crate) fn push_record<S: AsRef<str>>(out: &mut String, fields: impl IntoIterator<Item = S>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, field.as_ref());
    }
    out.push_str("\r\n");
}

/// Whether the client prefers CSV: `Accept` names `text/csv` with a higher quality than
/// `application/json`. Wildcards do not count for JSON, so `text/csv, */*;q=0.1` is CSV while a
/// missing header, `*/*` or `application/json, text/csv` (a tie) stay JSON, the API's default.
pub(crate) fn wants_csv(headers: &HeaderMap) -> bool {
    let mut csv = 0.0_f32;
    let mut json = 0.0_f32;
    for value in headers.get_all(ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for range in value.split(',') {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok())
                .unwrap_or(0.0);
            match media.as_str() {
                "text/csv" => csv = csv.max(q),
                "application/json" => json = json.max(q),
                _ => {}
            }
        }
    }
    csv > 0.0 && csv > json
}

/// A timestamp cell: the same form as the JSON rendering of timestamps.
pub(super) fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A JSON cell; a JSON `null` is an empty field, like NULL.
pub(super) fn json(value: Value) -> Option<String> {
    (!value.is_null()).then(|| value.to_string())
}

/// The page as CSV; the next page, if any, is announced in a `Link: <…>; rel="next"` header that
/// repeats the request's filters and limit with the new cursor.
pub(super) fn response(
    resource: &Resource,
    rows: &[ListedRow],
    next: Option<String>,
    query: &ListQuery,
    url: &str,
) -> Response {
    let mut out = String::new();
    push_record(&mut out, resource.csv_columns().map(|c| c.name));
    for row in rows {
        push_record(&mut out, &row.cells);
    }
    let mut response = (StatusCode::OK, out).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE_HEADER, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(VARY, HeaderValue::from_static("accept"));
    if let Some(cursor) = next {
        let mut pairs: Vec<(&str, &str)> = query
            .kept
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.push(("cursor", &cursor));
        let query_string = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let link = format!("<{url}?{query_string}>; rel=\"next\"");
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(LINK, value);
        }
    }
    response
}

/// Percent-encodes everything but RFC 3986 unreserved characters (a `+` of a time zone offset
/// must not reach the server as a space).
fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn record(fields: &[&str]) -> String {
        let mut out = String::new();
        push_record(&mut out, fields);
        out
    }

    #[test]
    fn plain_fields_are_written_as_they_are_and_records_end_with_crlf() {
        assert_eq!(
            record(&["a", "", "2024-05-01T10:00:00Z"]),
            "a,,2024-05-01T10:00:00Z\r\n"
        );
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(record(&["a,b"]), "\"a,b\"\r\n");
        assert_eq!(
            record(&[r#"{"code":"1"}"#]),
            "\"{\"\"code\"\":\"\"1\"\"}\"\r\n"
        );
        assert_eq!(
            record(&["line\nbreak", "cr\rlf"]),
            "\"line\nbreak\",\"cr\rlf\"\r\n"
        );
        assert_eq!(record(&["say \"hi\""]), "\"say \"\"hi\"\"\"\r\n");
    }

    fn accept(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(ACCEPT, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn next_links_keep_offsets_and_reserved_characters_intact() {
        assert_eq!(
            percent_encode("2024-05-01T10:00:00+03:00"),
            "2024-05-01T10%3A00%3A00%2B03%3A00"
        );
        assert_eq!(percent_encode("a b&c=d"), "a%20b%26c%3Dd");
    }

    #[test]
    fn csv_is_chosen_only_when_the_client_prefers_it_over_json() {
        assert!(wants_csv(&accept(&["text/csv"])));
        assert!(wants_csv(&accept(&["Text/CSV; charset=utf-8"])));
        assert!(wants_csv(&accept(&["text/csv, */*;q=0.1"])));
        assert!(wants_csv(&accept(&["application/json;q=0.5, text/csv"])));
        assert!(wants_csv(&accept(&["application/json;q=0.5", "text/csv"])));
        assert!(!wants_csv(&accept(&[])));
        assert!(!wants_csv(&accept(&["*/*"])));
        assert!(!wants_csv(&accept(&["application/json"])));
        assert!(!wants_csv(&accept(&["application/json, text/csv"])));
        assert!(!wants_csv(&accept(&["text/csv;q=0"])));
        assert!(!wants_csv(&accept(&["text/*"])));
    }
}
