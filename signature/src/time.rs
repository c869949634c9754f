//! Times as seconds since the Unix epoch, and GeneralizedTime with fractions (which `der` 0.7
//! refuses but RFC 3161 allows in genTime).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) fn to_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(crate) fn from_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `YYYYMMDDHHMMSS[.f…]Z`, fractions dropped.
pub(crate) fn parse_generalized_time(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    let body = text.strip_suffix('Z')?;
    let (whole, fraction) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    if whole.len() != 14
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || fraction.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let field = |range: std::ops::Range<usize>| whole[range].parse::<u64>().ok();
    let (year, month, day) = (field(0..4)?, field(4..6)?, field(6..8)?);
    let (hour, minute, second) = (field(8..10)?, field(10..12)?, field(12..14)?);
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
        || year < 1970
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date on or after it (Howard Hinnant's algorithm).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_generalized_time;

    #[test]
    fn generalized_times_with_and_without_fractions_parse_to_unix_seconds() {
        assert_eq!(parse_generalized_time(b"19700101000000Z"), Some(0));
        assert_eq!(
            parse_generalized_time(b"20261206104659Z"),
            Some(1_796_554_019)
        );
        assert_eq!(
            parse_generalized_time(b"20261206104659.123Z"),
            Some(1_796_554_019)
        );
        assert_eq!(
            parse_generalized_time(b"20240229120000Z"),
            Some(1_709_208_000)
        );
    }

    #[test]
    fn malformed_generalized_times_are_refused() {
        for bad in [
            &b"20261206104659"[..],
            b"20261306104659Z",
            b"20230229120000Z",
            b"2026120610465Z",
            b"20261206104659.Z",
            b"20261206104659+0200",
            b"",
        ] {
            assert_eq!(parse_generalized_time(bad), None, "{bad:?}");
        }
    }
}
