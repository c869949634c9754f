//! GF(2^m) arithmetic against independent computations: a bit-serial multiplication written here
//! differently from the field's, the published jkurwa values for the 257-bit field, and
//! `ua-cryptography-gf2m` (another implementation) on pseudo-random elements of every field.

use super::*;
use crate::named::{hex_bytes, NAMED_CURVES};
use ua_cryptography_gf2m::{BinaryField, FieldElement};

/// splitmix64: deterministic test values without a dependency.
struct Values(u64);

impl Values {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn element(&mut self, f: &Field) -> Element {
        let mut w = [0u64; WORDS];
        for word in w.iter_mut() {
            *word = self.next();
        }
        f.truncate(&w)
    }
}

fn fields() -> Vec<(Field, BinaryField)> {
    NAMED_CURVES
        .iter()
        .map(|c| {
            let ours = Field::new(c.m, c.middle).unwrap();
            let (k, j, l) = match c.middle {
                [k] => (*k, 0, 0),
                [k, j, l] => (*k, *j, *l),
                _ => unreachable!(),
            };
            let theirs = BinaryField::polynomial(c.m as u32, k as u32, j as u32, l as u32).unwrap();
            (ours, theirs)
        })
        .collect()
}

fn theirs(field: &BinaryField, f: &Field, a: &Element) -> FieldElement {
    FieldElement::from_bytes(field, &f.to_be_bytes(a)).unwrap()
}

fn ours(f: &Field, a: &FieldElement) -> Element {
    f.element_from_be(&a.to_bytes()).unwrap()
}

/// a·b by the interleaved "shift a, reduce, add" method, one bit of b at a time.
fn reference_mul(f: &Field, a: &Element, b: &Element) -> Element {
    let mut result = f.zero();
    let mut shifted = *a;
    for i in 0..f.degree() {
        if bit(&b.0, i) {
            result = f.add(&result, &shifted);
        }
        // shifted ← shifted · z mod f
        let mut doubled = [0u64; WORDS];
        xor_shifted(&mut doubled, &shifted.0, 1);
        shifted = f.reduce_words(doubled);
    }
    result
}

#[test]
fn multiplication_agrees_with_a_bit_serial_multiplication_in_every_field() {
    let mut values = Values(1);
    for (f, _) in fields() {
        for _ in 0..20 {
            let (a, b) = (values.element(&f), values.element(&f));
            assert_eq!(
                f.mul(&a, &b),
                reference_mul(&f, &a, &b),
                "m = {}",
                f.degree()
            );
        }
    }
}

#[test]
fn multiplication_squaring_inversion_and_traces_agree_with_ua_cryptography_gf2m() {
    let mut values = Values(2);
    for (f, field) in fields() {
        for _ in 0..10 {
            let (a, b) = (values.element(&f), values.element(&f));
            let (ta, tb) = (theirs(&field, &f, &a), theirs(&field, &f, &b));
            for (operation, mine, reference) in [
                ("mul", f.mul(&a, &b), ours(&f, &(&ta * &tb))),
                ("square", f.square(&a), ours(&f, &ta.square())),
                ("inv", f.invert(&a).unwrap(), ours(&f, &ta.invert())),
                ("half trace", f.half_trace(&a), ours(&f, &ta.half_trace())),
            ] {
                assert_eq!(mine, reference, "{operation}, m = {}", f.degree());
            }
            assert_eq!(f.trace(&a), ta.trace(), "trace, m = {}", f.degree());
        }
    }
}

#[test]
fn squaring_is_multiplication_by_itself() {
    let mut values = Values(3);
    for (f, _) in fields() {
        let a = values.element(&f);
        assert_eq!(f.square(&a), f.mul(&a, &a));
    }
}

#[test]
fn an_element_times_its_inverse_is_one_and_zero_has_no_inverse() {
    let mut values = Values(4);
    for (f, _) in fields() {
        assert_eq!(f.invert(&f.zero()), None);
        assert_eq!(f.invert(&f.one()), Some(f.one()));
        for _ in 0..10 {
            let a = values.element(&f);
            assert_eq!(f.mul(&a, &f.invert(&a).unwrap()), f.one());
        }
    }
}

#[test]
fn the_trace_is_linear_invariant_under_squaring_and_one_for_one() {
    let mut values = Values(5);
    for (f, _) in fields() {
        assert_eq!(f.trace(&f.one()), 1, "odd m");
        assert_eq!(f.trace(&f.zero()), 0);
        for _ in 0..5 {
            let (a, b) = (values.element(&f), values.element(&f));
            assert_eq!(f.trace(&f.add(&a, &b)), f.trace(&a) ^ f.trace(&b));
            assert_eq!(f.trace(&f.square(&a)), f.trace(&a));
        }
    }
}

#[test]
fn quadratic_equations_are_solved_exactly_when_the_trace_is_zero() {
    let mut values = Values(6);
    for (f, _) in fields() {
        let (mut solved, mut unsolvable) = (0, 0);
        for _ in 0..12 {
            let beta = values.element(&f);
            match f.solve_quadratic(&beta) {
                Some(z) => {
                    assert_eq!(f.add(&f.square(&z), &z), beta);
                    solved += 1;
                }
                None => {
                    assert_eq!(f.trace(&beta), 1);
                    unsolvable += 1;
                }
            }
        }
        assert!(
            solved > 0 && unsolvable > 0,
            "both cases seen for m = {}",
            f.degree()
        );
    }
}

/// jkurwa's test/test.js ("Field" and "#trace()"), DSTU_PB_257 (f = z^257 + z^12 + 1).
#[test]
fn the_257_bit_field_reproduces_the_jkurwa_values() {
    let f = Field::new(257, &[12]).unwrap();
    let wide = words_from_be_bytes(&hex_bytes(
        "aff3ee09cb429284985849e20de5742e194aa631490f62ba88702505629a65890",
    ))
    .unwrap();
    let a = f.reduce_words(wide);
    let expect = |hex: &str| f.element_from_be(&hex_bytes(hex)).unwrap();
    assert_eq!(
        a,
        expect("ff3ee09cb429284985849e20de5742e194aa631490f62ba88702505629a60895")
    );
    let b = expect("01B345BC134F27DA251EDFAE97B3F306B4E8B8CB9CF86D8651E4FB301EF8E1239C");
    assert_eq!(
        f.mul(&a, &b),
        expect("157b8e91c8b225469821fc836045a7c09c30d9fdee54b680c8247821f8c4e3352")
    );
    assert_eq!(
        f.invert(&a).unwrap(),
        expect("f5ae84d0c4dc2e7e89c670fb2083d124be50b413efb6863705bd63a5168352e0")
    );
    let t = expect("2A29EF207D0E9B6C55CD260B306C7E007AC491CA1B10C62334A9E8DCD8D20FB6");
    assert_eq!(f.trace(&t), 1);
}

#[test]
fn fields_refuse_even_or_oversized_degrees_and_bad_exponents() {
    assert!(Field::new(164, &[3, 6, 7]).is_none());
    assert!(Field::new(MAX_DEGREE + 2, &[1]).is_none());
    assert!(Field::new(163, &[0]).is_none());
    assert!(Field::new(163, &[163]).is_none());
    assert!(Field::new(163, &[3, 3, 7]).is_none());
    assert!(Field::new(163, &[3, 7]).is_none());
}

#[test]
fn bytes_with_m_or_more_bits_are_not_elements() {
    let f = Field::new(163, &[3, 6, 7]).unwrap();
    let mut top = vec![0u8; 21];
    top[0] = 0x08; // bit 163
    assert_eq!(f.element_from_be(&top), None);
    top[0] = 0x04; // bit 162
    assert!(f.element_from_be(&top).is_some());
    assert_eq!(words_from_be_bytes(&[1u8; 57]), None);
    assert!(words_from_be_bytes(&[[0u8; 10].as_slice(), &[1u8; 56]].concat()).is_some());
}
