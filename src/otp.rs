//! OTP codes. A code is 3 digits (1–9) plus a Luhn check digit, as eHealth's OTP service makes
//! them. It is derived with HMAC-SHA256 from a server key, the approval id and the random salt the
//! resend event carries, so neither the event log nor the outbox ever holds the code itself, and a
//! worker that restarts derives the same code again.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// The SMS text of a resent code (OTP service `OTP_CODE_TEXT`).
pub fn otp_text(code: &str) -> String {
    format!("Код авторизації дій в системі eHealth: {code}")
}

pub fn derive_code(key: &[u8], approval_id: Uuid, salt: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(approval_id.as_bytes());
    mac.update(salt.as_bytes());
    let digest = mac.finalize().into_bytes();
    let digits: Vec<u8> = digest.iter().take(3).map(|b| b % 9 + 1).collect();
    let check = luhn_check_digit(&digits);
    digits
        .iter()
        .chain(std::iter::once(&check))
        .map(|d| char::from(b'0' + d))
        .collect()
}

/// The digit that makes `payload ++ [digit]` pass the Luhn check.
pub fn luhn_check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// True when the whole number passes the Luhn check.
pub fn luhn_valid(code: &str) -> bool {
    let digits: Option<Vec<u8>> = code
        .chars()
        .map(|c| c.to_digit(10).map(|d| d as u8))
        .collect();
    match digits {
        Some(d) if d.len() >= 2 => {
            let (payload, check) = d.split_at(d.len() - 1);
            luhn_check_digit(payload) == check[0]
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_three_nonzero_digits_and_a_luhn_digit() {
        let id = Uuid::new_v4();
        for salt in ["a", "b", "c", "d"] {
            let code = derive_code(b"key", id, salt);
            assert_eq!(code.len(), 4);
            assert!(code[..3].chars().all(|c| ('1'..='9').contains(&c)));
            assert!(luhn_valid(&code), "{code}");
        }
    }

    #[test]
    fn the_same_inputs_give_the_same_code_and_a_new_salt_a_new_code_almost_always() {
        let id = Uuid::new_v4();
        assert_eq!(derive_code(b"k", id, "s"), derive_code(b"k", id, "s"));
        let distinct: std::collections::HashSet<String> = (0..50)
            .map(|i| derive_code(b"k", id, &i.to_string()))
            .collect();
        assert!(distinct.len() > 30);
    }

    #[test]
    fn luhn_matches_known_numbers() {
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert_eq!(luhn_check_digit(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]), 3);
    }
}
