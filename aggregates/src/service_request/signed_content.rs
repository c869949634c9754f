//! The first check of a recall's signed content: eHealth's JSON Schema of it
//! (`schemas/service_request_recall_signed_content.json`, medical_events'
//! `service_request_recall_signed_content.json`), then the rule that `occurrence_date_time` and
//! `occurrence_period` exclude each other. Both run before the content is compared with anything
//! stored, and every violation is reported at once, as eHealth reports it.
//!
//! The schema file is eHealth's, with the properties of the newer service request model the
//! service renders and eHealth's 2019 schema predates (`program_processing_status`, `program`,
//! `performer`, `based_on`, `quantity`) added, so that the rendering a client signs is valid.
//!
//! Violations are rendered like eHealth's validator (NExJsonSchema 0.8 behind EView): one
//! `invalid[]` entry per violation, its JSONPath in eHealth's style (`$.status_reason.coding.[0].code`),
//! its rule and description in eHealth's words (`required`, `cast`, `inclusion`, `length`,
//! `format`, `datetime`, `schema`), in eHealth's order: violations inside properties first (by
//! property name), then properties the schema does not allow, then the missing required properties
//! in the schema's `required` order, then the type of the content itself.

use std::sync::LazyLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde_json::{json, Value};

/// The schema's text, kept as a file so it can be read and compared with eHealth's.
pub const SCHEMA: &str = include_str!("../../schemas/service_request_recall_signed_content.json");

/// One `invalid[]` entry: where (`$.…`), which rule, its description and parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub entry: String,
    pub rule: String,
    pub description: String,
    pub params: Value,
}

impl Invalid {
    fn new(entry: String, rule: &str, description: String, params: Value) -> Self {
        Self {
            entry,
            rule: rule.to_string(),
            description,
            params,
        }
    }
}

struct Compiled {
    schema: Value,
    validator: Validator,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(SCHEMA).expect("the signed-content schema is JSON");
    let validator = jsonschema::draft4::options()
        .should_validate_formats(true)
        .with_format("date-time", is_date_time)
        .build(&schema)
        .expect("the signed-content schema compiles");
    Compiled { schema, validator }
});

/// eHealth's `date-time`: ISO 8601 with `T`, an optional fraction and an optional offset (a
/// date-time without one is accepted, as eHealth accepts it), naming a day that exists.
fn is_date_time(text: &str) -> bool {
    date_time_shape(text)
        .is_some_and(|(y, m, d)| chrono::NaiveDate::from_ymd_opt(y, m, d).is_some())
}

/// The year, month and day of a text shaped like eHealth's date-time, if it is.
fn date_time_shape(text: &str) -> Option<(i32, u32, u32)> {
    let (date, rest) = text.split_once('T')?;
    let mut parts = date.splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(year, 4) && digits(month, 2) && digits(day, 2)) {
        return None;
    }
    let (month, day): (u32, u32) = (month.parse().ok()?, day.parse().ok()?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    // HH:MM:SS, then an optional fraction, then an optional `Z` or ±HH:MM.
    let time = rest.get(..8)?;
    let b = time.as_bytes();
    if b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, mi, s) = (&time[..2], &time[3..5], &time[6..8]);
    if !(digits(h, 2) && digits(mi, 2) && digits(s, 2)) {
        return None;
    }
    if h.parse::<u32>().ok()? > 23 || mi.parse::<u32>().ok()? > 59 || s.parse::<u32>().ok()? > 59 {
        return None;
    }
    let mut tail = &rest[8..];
    if let Some(fraction) = tail.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        tail = &fraction[n..];
    }
    let offset_ok = match tail {
        "" | "Z" => true,
        _ => {
            let (sign, hm) = tail.split_at(1);
            let ok_sign = sign == "+" || sign == "-";
            let b = hm.as_bytes();
            ok_sign
                && hm.len() == 5
                && b[2] == b':'
                && digits(&hm[..2], 2)
                && digits(&hm[3..], 2)
                && hm[..2].parse::<u32>().ok()? <= 23
                && hm[3..].parse::<u32>().ok()? <= 59
        }
    };
    offset_ok.then_some((year.parse().ok()?, month, day))
}

/// Checks the signed content; `Err` holds every violation, in eHealth's order.
pub fn validate(content: &Value) -> Result<(), Vec<Invalid>> {
    let compiled = &*COMPILED;
    let mut found: Vec<(Order, Invalid)> = Vec::new();
    for error in compiled.validator.iter_errors(content) {
        for invalid in describe(&compiled.schema, &error) {
            found.push((order(&compiled.schema, &error, &invalid), invalid));
        }
    }
    if !found.is_empty() {
        // A stable sort keeps the validator's order within one property.
        found.sort_by(|a, b| a.0.cmp(&b.0));
        return Err(found.into_iter().map(|(_, invalid)| invalid).collect());
    }
    occurrence_is_one_of(content)
}

/// eHealth's separate rule after its schema: a service request happens at a moment or during a
/// period, never both.
fn occurrence_is_one_of(content: &Value) -> Result<(), Vec<Invalid>> {
    const PAIR: [&str; 2] = ["occurrence_date_time", "occurrence_period"];
    if PAIR.iter().all(|key| content.get(key).is_some()) {
        let params = json!(PAIR.map(|key| format!("$.{key}")));
        return Err(PAIR
            .iter()
            .map(|key| {
                Invalid::new(
                    format!("$.{key}"),
                    "oneOf",
                    "Only one of the parameters must be present".into(),
                    params.clone(),
                )
            })
            .collect());
    }
    Ok(())
}

/// Where a violation sorts: `(group, rank, property, path, keyword)`. Groups follow eHealth's
/// validator, which checks a schema's keywords in alphabetical order: `properties` (each property
/// in name order), then additional properties, then `required` (in the schema's order), then
/// `type`; at one place, keywords are alphabetical too (`enum` before `type`).
type Order = (u8, usize, String, String, String);

fn order(schema: &Value, error: &ValidationError<'_>, invalid: &Invalid) -> Order {
    let top = error
        .instance_path()
        .iter()
        .next()
        .map(|segment| segment.to_string());
    let keyword = error.kind().keyword().to_string();
    match (error.kind(), top) {
        (ValidationErrorKind::Required { property }, None) => {
            let required = schema["required"].as_array().map(Vec::as_slice);
            let rank = required
                .and_then(|r| r.iter().position(|p| p == property))
                .unwrap_or(usize::MAX);
            (2, rank, String::new(), String::new(), keyword)
        }
        (ValidationErrorKind::AdditionalProperties { .. }, None) => {
            (1, 0, invalid.entry.clone(), String::new(), keyword)
        }
        (_, None) => (3, 0, String::new(), String::new(), keyword),
        (_, Some(property)) => (0, 0, property, invalid.entry.clone(), keyword),
    }
}

/// The `invalid[]` entries of one violation (an unexpected-properties violation names each).
fn describe(schema: &Value, error: &ValidationError<'_>) -> Vec<Invalid> {
    let at = json_path(error);
    let instance = error.instance();
    let one = |rule: &str, description: String, params: Value| {
        vec![Invalid::new(at.clone(), rule, description, params)]
    };
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            vec![Invalid::new(
                format!("{at}.{name}"),
                "required",
                format!("required property {name} was not present"),
                json!([]),
            )]
        }
        ValidationErrorKind::Type { .. } => {
            let expected = keyword_value(schema, error);
            let names: Vec<String> = match &expected {
                Value::Array(types) => types
                    .iter()
                    .filter_map(Value::as_str)
                    .map(capitalize)
                    .collect(),
                Value::String(t) => vec![capitalize(t)],
                _ => Vec::new(),
            };
            one(
                "cast",
                format!(
                    "type mismatch. Expected {} but got {}",
                    names.join(", "),
                    capitalize(type_of(instance))
                ),
                json!([expected]),
            )
        }
        ValidationErrorKind::Enum { options } => one(
            "inclusion",
            "value is not allowed in enum".into(),
            (**options).clone(),
        ),
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|name| {
                Invalid::new(
                    format!("{at}.{name}"),
                    "schema",
                    "schema does not allow additional properties".into(),
                    json!([]),
                )
            })
            .collect(),
        ValidationErrorKind::MinItems { limit } => one(
            "length",
            format!(
                "expected a minimum of {limit} items but got {}",
                instance.as_array().map_or(0, Vec::len)
            ),
            json!({ "min": limit }),
        ),
        ValidationErrorKind::MinLength { limit } => one(
            "length",
            format!(
                "expected value to have a minimum length of {limit} but was {}",
                instance.as_str().map_or(0, |s| s.chars().count())
            ),
            json!({ "min": limit }),
        ),
        ValidationErrorKind::Pattern { pattern } => one(
            "format",
            format!("string does not match pattern {pattern:?}"),
            json!([pattern]),
        ),
        ValidationErrorKind::Format { format } if format == "date-time" => {
            let text = instance.as_str().unwrap_or_default();
            let description = if date_time_shape(text).is_some() {
                format!("expected {text:?} to be an existing date-time")
            } else {
                format!("expected {text:?} to be a valid ISO 8601 date-time")
            };
            one("datetime", description, json!([]))
        }
        _ => one("schema", error.to_string(), json!([])),
    }
}

/// The violation's place as eHealth writes it: `$`, then each key, array indexes as `[i]`.
fn json_path(error: &ValidationError<'_>) -> String {
    let mut path = String::from("$");
    for segment in error.instance_path().iter() {
        let text = segment.to_string();
        path.push('.');
        if matches!(segment, jsonschema::paths::LocationSegment::Index(_)) {
            path.push_str(&format!("[{text}]"));
        } else {
            path.push_str(&text);
        }
    }
    path
}

/// The value of the schema keyword that failed (`type`'s list, say), found by its schema path.
fn keyword_value(schema: &Value, error: &ValidationError<'_>) -> Value {
    schema
        .pointer(error.schema_path().as_str())
        .cloned()
        .unwrap_or(Value::Null)
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::String(_) => "string",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests;
