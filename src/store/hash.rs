//! Tamper evidence: the hash of an event.
//!
//! `hash = SHA-256(prev_hash ‖ canonical(event))`, where `prev_hash` is the hash of the same
//! aggregate's previous event (empty for an aggregate's first event) and `canonical(event)` is
//! the UTF-8 of a JSON object with the keys `aggregate_id`, `aggregate_type`, `event_type`,
//! `event_version`, `metadata`, `payload`, `recorded_at`, `sequence`.
//!
//! The canonical JSON must come out the same from the `serde_json::Value` the application appends
//! and from the `jsonb` PostgreSQL gives back, so it depends on neither's key order or number
//! spelling:
//! - object keys are sorted by their UTF-8 bytes, at every depth; no whitespace;
//! - strings are escaped as serde_json escapes them;
//! - a number whose value is an integer that fits in i64/u64 is written as that integer,
//!   any other number as serde_json writes the nearest f64. jsonb keeps a number's value but
//!   not its spelling (`1e19` comes back as `10000000000000000000`, `-0.0` as `0.0`), so the
//!   canonical form is a function of the value;
//! - `recorded_at` is RFC 3339 UTC with exactly six fractional digits. The application sets it
//!   (truncated to microseconds, PostgreSQL's precision) instead of the database's clock, so the
//!   hash computed before the insert is the hash of the stored row.

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

/// The fields of an event that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct HashedFields<'a> {
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: i64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub payload: &'a Value,
    pub metadata: &'a Value,
    pub recorded_at: DateTime<Utc>,
}

/// The current time at the database's precision (microseconds).
pub fn now_micros() -> DateTime<Utc> {
    truncate_micros(Utc::now())
}

pub fn truncate_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.nanosecond() / 1_000 * 1_000;
    at.with_nanosecond(nanos).unwrap_or(at)
}

/// `SHA-256(prev_hash ‖ canonical(fields))`.
pub fn event_hash(prev_hash: Option<&[u8]>, fields: &HashedFields<'_>) -> Vec<u8> {
    let mut hasher = Sha256::new();
    if let Some(prev) = prev_hash {
        hasher.update(prev);
    }
    hasher.update(canonical(fields));
    hasher.finalize().to_vec()
}

/// The canonical JSON of an event (see the module docs).
pub fn canonical(fields: &HashedFields<'_>) -> Vec<u8> {
    /// A member's value, written without copying the payload into a new `Value`.
    enum Member<'a> {
        Text(&'a str),
        Json(&'a Value),
        Integer(i64),
    }
    let recorded_at = fields
        .recorded_at
        .to_rfc3339_opts(SecondsFormat::Micros, true);
    // In key byte order.
    let members = [
        ("aggregate_id", Member::Text(fields.aggregate_id)),
        ("aggregate_type", Member::Text(fields.aggregate_type)),
        ("event_type", Member::Text(fields.event_type)),
        ("event_version", Member::Text(fields.event_version)),
        ("metadata", Member::Json(fields.metadata)),
        ("payload", Member::Json(fields.payload)),
        ("recorded_at", Member::Text(&recorded_at)),
        ("sequence", Member::Integer(fields.sequence)),
    ];
    let mut out = Vec::with_capacity(256);
    out.push(b'{');
    for (i, (key, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(key, &mut out);
        out.push(b':');
        match value {
            Member::Text(text) => write_str(text, &mut out),
            Member::Json(json) => write_canonical(json, &mut out),
            Member::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        }
    }
    out.push(b'}');
    out
}

/// Writes `value` as canonical JSON.
pub fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                write_canonical(item, out);
            }
            out.push(b'}');
        }
    }
}

fn write_str(s: &str, out: &mut Vec<u8>) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// -2^63 and 2^64, exactly representable as f64.
const I64_MIN_F: f64 = -9_223_372_036_854_775_808.0;
const U64_END_F: f64 = 18_446_744_073_709_551_616.0;

fn write_number(n: &Number, out: &mut Vec<u8>) {
    if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(f) = n.as_f64() {
        if f.fract() == 0.0 && (I64_MIN_F..0.0).contains(&f) {
            out.extend_from_slice((f as i64).to_string().as_bytes());
        } else if f.fract() == 0.0 && (0.0..U64_END_F).contains(&f) {
            // `-0.0` lands here (it equals 0.0) and is written `0`: jsonb has no negative zero.
            out.extend_from_slice((f as u64).to_string().as_bytes());
        } else {
            let _ = serde_json::to_writer(&mut *out, &f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(v: &Value) -> String {
        let mut out = Vec::new();
        write_canonical(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keys_are_sorted_at_every_depth_without_whitespace() {
        let v = json!({"b": 1, "a": {"z": [ {"y": 1, "x": 2} ], "aa": null}, "A": "é\"\n"});
        assert_eq!(
            text(&v),
            r#"{"A":"é\"\n","a":{"aa":null,"z":[{"x":2,"y":1}]},"b":1}"#
        );
    }

    #[test]
    fn a_number_is_written_by_its_value_not_its_spelling() {
        // What jsonb gives back for what serde_json wrote.
        let pairs = [
            (json!(1e19), json!(10_000_000_000_000_000_000u64)),
            (json!(-0.0), json!(0.0)),
            (json!(100.0), json!(100)),
            (json!(-3.0), json!(-3)),
        ];
        for (written, read_back) in pairs {
            assert_eq!(text(&written), text(&read_back), "{written} vs {read_back}");
        }
        assert_eq!(text(&json!(0.1)), "0.1");
        assert_eq!(text(&json!(1e-7)), "1e-7");
        assert_eq!(text(&json!(1e300)), "1e+300");
        assert_eq!(text(&json!(-7)), "-7");
    }

    #[test]
    fn the_same_event_read_back_from_jsonb_hashes_the_same() {
        let at = truncate_micros(Utc::now());
        let payload =
            json!({"ServiceRequestReleased": {"by": "u", "at": "2024-01-01T00:00:00Z", "n": 1e19}});
        // jsonb reorders keys (shorter first) and respells numbers.
        let stored: Value = serde_json::from_str(
            r#"{"ServiceRequestReleased": {"n": 10000000000000000000, "at": "2024-01-01T00:00:00Z", "by": "u"}}"#,
        )
        .unwrap();
        let meta = json!({"user_id": "x"});
        let fields = |payload| HashedFields {
            aggregate_type: "ServiceRequest",
            aggregate_id: "id",
            sequence: 2,
            event_type: "ServiceRequestReleased",
            event_version: "1.0",
            payload,
            metadata: &meta,
            recorded_at: at,
        };
        let prev = [7u8; 32];
        assert_eq!(
            event_hash(Some(&prev), &fields(&payload)),
            event_hash(Some(&prev), &fields(&stored))
        );
        assert_ne!(
            event_hash(Some(&prev), &fields(&payload)),
            event_hash(None, &fields(&payload)),
            "the previous hash is part of the input"
        );
    }

    #[test]
    fn recorded_at_is_written_with_six_fractional_digits() {
        let at = DateTime::parse_from_rfc3339("2024-05-01T10:00:00.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = truncate_micros(at);
        let meta = json!({});
        let fields = HashedFields {
            aggregate_type: "A",
            aggregate_id: "1",
            sequence: 1,
            event_type: "E",
            event_version: "1.0",
            payload: &meta,
            metadata: &meta,
            recorded_at: at,
        };
        let text = String::from_utf8(canonical(&fields)).unwrap();
        assert_eq!(
            text,
            r#"{"aggregate_id":"1","aggregate_type":"A","event_type":"E","event_version":"1.0","metadata":{},"payload":{},"recorded_at":"2024-05-01T10:00:00.123456Z","sequence":1}"#
        );
    }
}
