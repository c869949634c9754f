//! FHIR Quantity (`{value, system?, code?, unit?}`) with an exact decimal value.
//!
//! Values are `rust_decimal` decimals (28 significant digits), so adding a returned quantity to a
//! remaining one is exact: 0.2 + 0.1 is 0.3, not 0.30000000000000004. JSON numbers are read and
//! written through `serde_json`, which carries them as doubles; an [`Amount`] is therefore written
//! as a JSON number only when that number reads back as exactly the same decimal (every value of at
//! most 15 significant digits, and every integer that fits 64 bits), and as a decimal string
//! otherwise, so it is never rounded on the way. A decimal string is accepted wherever a number is.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An exact decimal amount, always kept normalized (no trailing zeros: 2.50 is 2.5), so that
/// equal amounts have one representation in events, documents and columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Amount(Decimal);

impl Amount {
    pub const ZERO: Amount = Amount(Decimal::ZERO);

    pub fn new(value: Decimal) -> Self {
        Amount(value.normalize())
    }

    pub fn decimal(self) -> Decimal {
        self.0
    }

    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative() && !self.0.is_zero()
    }

    /// `self + other`, `None` when it does not fit a decimal.
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0.checked_add(other.0).map(Amount::new)
    }

    /// The double whose shortest decimal form is exactly this amount, if there is one.
    fn exact_double(self) -> Option<f64> {
        let double: f64 = self.0.to_string().parse().ok()?;
        let back = Decimal::from_str(&double.to_string()).ok()?;
        (double.is_finite() && back.normalize() == self.0).then_some(double)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for Amount {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal::from_str(s)
            .map(Amount::new)
            .map_err(|e| format!("'{s}' is not a decimal number: {e}"))
    }
}

impl From<i64> for Amount {
    fn from(value: i64) -> Self {
        Amount::new(Decimal::from(value))
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.scale() == 0 {
            if let Some(i) = self.0.to_i64() {
                return serializer.serialize_i64(i);
            }
            if let Some(u) = self.0.to_u64() {
                return serializer.serialize_u64(u);
            }
        }
        match self.exact_double() {
            Some(double) => serializer.serialize_f64(double),
            None => serializer.serialize_str(&self.0.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AmountVisitor;

        impl Visitor<'_> for AmountVisitor {
            type Value = Amount;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal number (a JSON number or a decimal string)")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount::new(Decimal::from(v)))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount::new(Decimal::from(v)))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Amount, E> {
                // A double's shortest decimal form is the number as it was written, for every
                // number of at most 15 significant digits.
                if !v.is_finite() {
                    return Err(E::custom("a quantity must be a finite number"));
                }
                v.to_string().parse().map_err(E::custom)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                v.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_any(AmountVisitor)
    }
}

/// A FHIR Quantity. Other members (FHIR's `comparator`) are refused rather than dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantity {
    pub value: Amount,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

impl Quantity {
    /// This quantity with another value (same system, code and unit).
    pub fn with_value(&self, value: Amount) -> Quantity {
        Quantity {
            value,
            ..self.clone()
        }
    }

    /// Whether `other` may be counted in this quantity's units: a coded unit (`system`, `code`)
    /// named on both sides must be the same; a side that names none is taken as the same unit.
    pub fn same_units(&self, other: &Quantity) -> bool {
        let agree = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        agree(&self.system, &other.system) && agree(&self.code, &other.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn amount(text: &str) -> Amount {
        text.parse().unwrap()
    }

    #[test]
    fn json_numbers_and_decimal_strings_read_as_the_decimal_they_spell() {
        for (json, expected) in [
            (json!(10), "10"),
            (json!(-3), "-3"),
            (json!(2.5), "2.5"),
            (json!(0.1), "0.1"),
            (json!(1.0), "1"),
            (json!("2.50"), "2.5"),
            (json!("0.1234567890123456789"), "0.1234567890123456789"),
        ] {
            let read: Amount = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(read, amount(expected), "{json}");
        }
        for bad in [json!("ten"), json!(true), json!(null), json!([1])] {
            assert!(
                serde_json::from_value::<Amount>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn amounts_are_written_as_json_numbers_unless_a_double_would_round_them() {
        assert_eq!(serde_json::to_value(amount("10")).unwrap(), json!(10));
        assert_eq!(serde_json::to_value(amount("2.50")).unwrap(), json!(2.5));
        assert_eq!(serde_json::to_value(amount("0.3")).unwrap(), json!(0.3));
        assert_eq!(
            serde_json::to_value(amount("-12345678901234567")).unwrap(),
            json!(-12_345_678_901_234_567_i64)
        );
        assert_eq!(
            serde_json::to_value(amount("0.1234567890123456789")).unwrap(),
            json!("0.1234567890123456789")
        );
        for text in [
            "0.3",
            "7.25",
            "0.1234567890123456789",
            "100000000000000000000",
        ] {
            let written = serde_json::to_string(&amount(text)).unwrap();
            let read: Amount = serde_json::from_str(&written).unwrap();
            assert_eq!(read, amount(text), "{text} written as {written}");
        }
    }

    #[test]
    fn adding_amounts_is_exact() {
        assert_eq!(
            amount("0.2").checked_add(amount("0.1")),
            Some(amount("0.3"))
        );
        assert_eq!(Amount::new(Decimal::MAX).checked_add(amount("1")), None);
    }

    #[test]
    fn a_quantity_keeps_its_units_and_refuses_unknown_members() {
        let q: Quantity = serde_json::from_value(
            json!({ "value": 2, "system": "eHealth/ucum/units", "code": "pc", "unit": "шт" }),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&q).unwrap(),
            json!({ "value": 2, "system": "eHealth/ucum/units", "code": "pc", "unit": "шт" })
        );
        let bare: Quantity = serde_json::from_value(json!({ "value": 1 })).unwrap();
        assert_eq!(serde_json::to_value(&bare).unwrap(), json!({ "value": 1 }));
        assert!(
            serde_json::from_value::<Quantity>(json!({ "value": 1, "comparator": "<" })).is_err()
        );
        assert!(serde_json::from_value::<Quantity>(json!({ "unit": "pc" })).is_err());
    }

    #[test]
    fn units_agree_unless_both_sides_name_different_ones() {
        let q = |system: Option<&str>, code: Option<&str>| Quantity {
            value: Amount::from(1),
            system: system.map(str::to_string),
            code: code.map(str::to_string),
            unit: None,
        };
        let pieces = q(Some("eHealth/ucum/units"), Some("pc"));
        assert!(pieces.same_units(&q(Some("eHealth/ucum/units"), Some("pc"))));
        assert!(pieces.same_units(&q(None, None)));
        assert!(q(None, None).same_units(&pieces));
        assert!(!pieces.same_units(&q(Some("eHealth/ucum/units"), Some("mg"))));
        assert!(!pieces.same_units(&q(Some("other"), Some("pc"))));
    }
}
