//! The DRFO: the tax id of a person (the State Register of Individuals — Taxpayers), as a signer's
//! qualified certificate carries it and as the party registry keeps it (`tax_id`).
//!
//! Certificates carry it as `TINUA-<number>`, sometimes with spaces; what identifies the person
//! is the bare number. People without a tax number carry a passport number instead, typed with
//! Latin or Cyrillic look-alike letters, so eHealth compares after mapping Latin look-alikes to
//! Cyrillic and upper-casing (the documented look-alike rule, not a phonetic transliteration).

use std::fmt;

/// A signer's DRFO: never empty, no spaces, without the certificate's `TINUA-` prefix.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Drfo(String);

impl Drfo {
    /// Reads a DRFO as a certificate's subject `serialNumber` holds it: a leading `TINUA-` (in
    /// any case) is dropped, and so is every space. `None` when nothing is left.
    pub fn parse(raw: &str) -> Option<Drfo> {
        const PREFIX: &str = "TINUA-";
        let trimmed = raw.trim_start();
        let rest = match trimmed.get(..PREFIX.len()) {
            Some(head) if head.eq_ignore_ascii_case(PREFIX) => &trimmed[PREFIX.len()..],
            _ => trimmed,
        };
        let drfo: String = rest.chars().filter(|c| !c.is_whitespace()).collect();
        (!drfo.is_empty()).then_some(Drfo(drfo))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this DRFO names the same person as a party's `tax_id`: equal as written, or equal
    /// once spaces are dropped, letters upper-cased and Latin look-alikes made Cyrillic.
    pub fn matches(&self, tax_id: &str) -> bool {
        self.0 == tax_id || normalize(&self.0) == normalize(tax_id)
    }
}

impl fmt::Display for Drfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Latin letters that look like Cyrillic ones, mapped to the Cyrillic letter.
fn to_cyrillic_lookalike(c: char) -> char {
    match c {
        'A' => 'А',
        'B' => 'В',
        'C' => 'С',
        'E' => 'Е',
        'H' => 'Н',
        'I' => 'І',
        'K' => 'К',
        'M' => 'М',
        'O' => 'О',
        'P' => 'Р',
        'T' => 'Т',
        'X' => 'Х',
        other => other,
    }
}

fn normalize(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .map(to_cyrillic_lookalike)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Drfo;

    fn drfo(raw: &str) -> Drfo {
        Drfo::parse(raw).unwrap()
    }

    #[test]
    fn given_a_certificate_serial_number_when_parsed_then_the_prefix_and_spaces_are_dropped() {
        for raw in [
            "TINUA-1234567890",
            "tinua-1234567890",
            "TINUA- 1234 567 890",
            "  TINUA-1234567890",
            "1234567890",
            "12345 67890",
        ] {
            assert_eq!(drfo(raw).as_str(), "1234567890", "{raw}");
        }
    }

    #[test]
    fn given_nothing_but_the_prefix_or_spaces_when_parsed_then_there_is_no_drfo() {
        assert_eq!(Drfo::parse("TINUA-"), None);
        assert_eq!(Drfo::parse("   "), None);
        assert_eq!(Drfo::parse(""), None);
    }

    #[test]
    fn given_multibyte_text_shorter_than_the_prefix_when_parsed_then_it_is_kept() {
        assert_eq!(drfo("ТІН").as_str(), "ТІН");
    }

    #[test]
    fn given_the_same_number_when_compared_with_the_tax_id_then_it_matches() {
        assert!(drfo("1234567890").matches("1234567890"));
        assert!(drfo("12345 67890").matches("1234567890"));
        assert!(drfo("TINUA-1234567890").matches("1234567890"));
    }

    #[test]
    fn given_latin_and_cyrillic_look_alike_passport_numbers_when_compared_then_they_match() {
        assert!(drfo("KA123456").matches("КА123456"));
        assert!(drfo("BH123456").matches("ВН123456"));
        assert!(drfo("ka123456").matches("КА123456"));
    }

    #[test]
    fn given_another_number_or_letter_when_compared_then_it_does_not_match() {
        assert!(!drfo("1234567891").matches("1234567890"));
        assert!(!drfo("ЖА123456").matches("КА123456"));
        assert!(!drfo("1234567890").matches(""));
    }
}
