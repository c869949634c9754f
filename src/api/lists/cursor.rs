//! The paging cursor: the sort key `(updated_at, id)` of the last row of a page, opaque to clients.
//!
//! A cursor is base64url (no padding) of `<table>:<updated_at in µs since the epoch>:<id>`. The
//! timestamp is kept in whole microseconds because that is PostgreSQL's `timestamptz` precision, so
//! the decoded key compares exactly equal to the stored one and the next page starts strictly after
//! it. The table name is part of the cursor so that a cursor of one list given to another is
//! refused instead of silently skipping rows.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The earliest instant PostgreSQL's `timestamptz` holds (4714-11-24 BC, 00:00 UTC), in
/// microseconds since the Unix epoch. chrono reaches further back, so a made-up cursor could name
/// an instant the database refuses to compare with (a 500); no stored row can be earlier.
const EARLIEST_MICROS: i64 = -210_866_803_200_000_000;

/// A position in a list: the sort key of the last row already delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub updated_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub(crate) fn encode(&self, table: &str) -> String {
        let key = format!("{table}:{}:{}", self.updated_at.timestamp_micros(), self.id);
        URL_SAFE_NO_PAD.encode(key)
    }

    /// `None` for anything this service did not produce for `table`.
    pub(crate) fn decode(raw: &str, table: &str) -> Option<Cursor> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let key = String::from_utf8(bytes).ok()?;
        let mut parts = key.splitn(3, ':');
        if parts.next()? != table {
            return None;
        }
        let micros: i64 = parts
            .next()?
            .parse()
            .ok()
            .filter(|m| *m >= EARLIEST_MICROS)?;
        let id = Uuid::parse_str(parts.next()?).ok()?;
        Some(Cursor {
            updated_at: DateTime::from_timestamp_micros(micros)?,
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Cursor {
        Cursor {
            updated_at: DateTime::parse_from_rfc3339("2024-05-01T10:00:00.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            id: Uuid::from_u128(0x5001),
        }
    }

    #[test]
    fn a_cursor_decodes_to_the_exact_sort_key_it_was_made_from() {
        let raw = sample().encode("service_requests");
        assert!(raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(Cursor::decode(&raw, "service_requests"), Some(sample()));
    }

    #[test]
    fn a_cursor_of_another_list_or_a_made_up_one_is_refused() {
        let raw = sample().encode("merge_requests");
        assert_eq!(Cursor::decode(&raw, "service_requests"), None);
        for bad in [
            "",
            "!!!",
            "c2VydmljZV9yZXF1ZXN0cw",
            &URL_SAFE_NO_PAD.encode("service_requests:x:00000000-0000-0000-0000-000000000000"),
            &URL_SAFE_NO_PAD.encode("service_requests:1:not-a-uuid"),
            &URL_SAFE_NO_PAD.encode(format!("service_requests:{}:{}", i64::MAX, Uuid::nil())),
            &URL_SAFE_NO_PAD.encode(format!(
                "service_requests:{}:{}",
                EARLIEST_MICROS - 1,
                Uuid::nil()
            )),
        ] {
            assert_eq!(Cursor::decode(bad, "service_requests"), None, "{bad}");
        }
    }
}
