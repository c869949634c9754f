//! The DRFO (tax id) comparison between a signer's certificate and a party's `tax_id`.
//!
//! Passport numbers are typed with Latin or Cyrillic look-alike letters, so eHealth compares after
//! mapping Latin look-alikes to Cyrillic and upper-casing (the documented rule, not the phonetic
//! transliteration of the 2019 code: see ehealth-notes §6).

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

/// True when the signer's DRFO names the same person as `tax_id`. An empty DRFO never matches.
pub fn drfo_matches(drfo: &str, tax_id: &str) -> bool {
    let drfo: String = drfo.chars().filter(|c| !c.is_whitespace()).collect();
    if drfo.is_empty() {
        return false;
    }
    drfo == tax_id || normalize(&drfo) == normalize(tax_id)
}

#[cfg(test)]
mod tests {
    use super::drfo_matches;

    #[test]
    fn identical_tax_ids_match() {
        assert!(drfo_matches("1234567890", "1234567890"));
    }

    #[test]
    fn spaces_in_the_drfo_are_ignored() {
        assert!(drfo_matches("12345 67890", "1234567890"));
    }

    #[test]
    fn latin_and_cyrillic_look_alike_passport_numbers_match() {
        assert!(drfo_matches("KA123456", "КА123456"));
        assert!(drfo_matches("BH123456", "ВН123456"));
        assert!(drfo_matches("ka123456", "КА123456"));
    }

    #[test]
    fn different_numbers_and_empty_drfo_do_not_match() {
        assert!(!drfo_matches("1234567891", "1234567890"));
        assert!(!drfo_matches("", ""));
        assert!(!drfo_matches("ЖА123456", "КА123456"));
    }
}
