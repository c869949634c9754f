//! The named-curve table and the point arithmetic: every entry is a valid domain, equals an
//! independent transcription, and the arithmetic satisfies the group laws.

use num_bigint::BigUint;

use crate::curve::Curve;
use crate::field::{words_from_be_bytes, Words};
use crate::named::{hex_bytes, NAMED_CURVES};
use crate::oid::NAMED_CURVE_ARC;
use crate::point::Point;

fn all() -> Vec<Curve> {
    (0..10u32)
        .map(|i| Curve::named(&NAMED_CURVE_ARC.push_arc(i).unwrap()).unwrap())
        .collect()
}

fn big(words: &Words) -> BigUint {
    BigUint::from_bytes_le(
        &words
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect::<Vec<u8>>(),
    )
}

fn is_probable_prime(n: &BigUint) -> bool {
    let one = BigUint::from(1u32);
    let n1 = n - &one;
    let zeros = n1.trailing_zeros().unwrap();
    let d = &n1 >> zeros;
    [2u32, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37]
        .iter()
        .all(|&base| {
            let mut x = BigUint::from(base).modpow(&d, n);
            if x == one || x == n1 {
                return true;
            }
            for _ in 1..zeros {
                x = x.modpow(&BigUint::from(2u32), n);
                if x == n1 {
                    return true;
                }
            }
            false
        })
}

#[test]
fn every_named_curve_is_a_valid_domain_of_prime_order_n() {
    for (curve, data) in all().iter().zip(NAMED_CURVES.iter()) {
        assert_eq!(curve.degree(), data.m);
        assert_ne!(*curve.b(), curve.field().zero());
        assert!(
            curve.is_on_curve(curve.base_point()),
            "P on the curve, m = {}",
            data.m
        );
        assert!(
            curve.has_order_n(curve.base_point()),
            "nP = O, m = {}",
            data.m
        );
        let n = big(curve.order());
        assert!(is_probable_prime(&n), "n prime, m = {}", data.m);
        // Hasse: #E = h·n with h = 2 (A = 1) or 4 (A = 0) and |#E − 2^m − 1| ≤ 2^(m/2 + 1).
        let cofactor = if data.a == 1 { 2u32 } else { 4 };
        let order = &n * cofactor;
        let q = BigUint::from(1u32) << data.m;
        let bound = BigUint::from(1u32) << (data.m / 2 + 2);
        let diff = if order > q { &order - &q } else { &q - &order };
        assert!(diff <= bound, "Hasse bound, m = {}", data.m);
    }
}

#[test]
fn the_named_curves_equal_the_independent_ua_cryptography_transcription() {
    for (i, curve) in all().iter().enumerate() {
        let theirs = ua_cryptography_dstu4145::get_polynomial_curve_by_index(i).unwrap();
        let f = curve.field();
        assert_eq!(theirs.field().m() as usize, curve.degree());
        assert_eq!(theirs.curve().a().to_bytes(), f.to_be_bytes(curve.a()));
        assert_eq!(theirs.curve().b().to_bytes(), f.to_be_bytes(curve.b()));
        assert_eq!(theirs.n().to_bytes_be(), curve.order_be());
        let Point::Affine { x, y } = curve.base_point() else {
            panic!("finite")
        };
        assert_eq!(
            theirs.base_point().x().unwrap().to_bytes(),
            f.to_be_bytes(x)
        );
        assert_eq!(
            theirs.base_point().y().unwrap().to_bytes(),
            f.to_be_bytes(y)
        );
    }
}

#[test]
fn the_named_curves_are_found_by_oid_and_degree_and_nothing_else_is() {
    for (curve, data) in all().iter().zip(NAMED_CURVES.iter()) {
        assert_eq!(curve.oid(), NAMED_CURVE_ARC.push_arc(data.index).unwrap());
        assert_eq!(Curve::named_with_degree(data.m).as_ref(), Some(curve));
        assert!(curve.has_standard_base_point());
    }
    assert!(Curve::named(&NAMED_CURVE_ARC.push_arc(10).unwrap()).is_err());
    assert!(Curve::named(&NAMED_CURVE_ARC).is_err());
    assert!(Curve::named(&crate::oid::DSTU4145_PB_LE).is_err());
    assert!(Curve::named_with_degree(283).is_none());
}

#[test]
fn addition_doubling_and_multiplication_obey_the_group_laws() {
    let curve = Curve::named_with_degree(257).unwrap();
    let p = *curve.base_point();
    let two_p = curve.double(&p);
    let three_p = curve.add(&two_p, &p);
    assert_eq!(curve.add(&p, &p), two_p);
    assert_eq!(curve.add(&p, &two_p), curve.add(&two_p, &p));
    assert_eq!(curve.mul(&words(3), &p), three_p);
    assert_eq!(curve.add(&p, &curve.negate(&p)), Point::Infinity);
    assert_eq!(curve.add(&Point::Infinity, &p), p);
    assert_eq!(curve.add(&p, &Point::Infinity), p);
    assert!(curve.is_on_curve(&three_p));
    // (k + l)P = kP + lP and k(lP) = (kl)P, with the joint multiplication too.
    let (k, l) = (words(0x1234_5678_9abc), words(0xfedc_ba98));
    let kp = curve.mul(&k, &p);
    let lp = curve.mul(&l, &p);
    assert_eq!(
        curve.mul(&words(0x1234_5678_9abc + 0xfedc_ba98), &p),
        curve.add(&kp, &lp)
    );
    assert_eq!(curve.mul(&k, &lp), curve.mul(&l, &kp));
    assert_eq!(
        curve.mul_add(&k, &p, &l, &three_p),
        curve.add(&kp, &curve.mul(&l, &three_p))
    );
    // (n − 1)P = −P.
    let mut n_minus_one = *curve.order();
    n_minus_one[0] -= 1;
    assert_eq!(curve.mul(&n_minus_one, &p), curve.negate(&p));
}

#[test]
fn compression_round_trips_and_matches_the_jkurwa_values() {
    let curve = Curve::named_with_degree(257).unwrap();
    let compressed = curve.compress(curve.base_point()).unwrap();
    assert_eq!(
        compressed,
        hex_bytes("002a29ef207d0e9b6c55cd260b306c7e007ac491ca1b10c62334a9e8dcd8d20fb6")
    );
    assert_eq!(curve.decompress(&compressed).unwrap(), *curve.base_point());
    // jkurwa test/test.js "should check tax office pubkey decompression (1)".
    let x = "01A77131A7C14F9AA6EA8C760D39673D5F0330FAB1118D55B55B7AF0735975485F";
    let point = curve.decompress(&hex_bytes(x)).unwrap();
    let f = curve.field();
    let y = f.element_from_be(&hex_bytes(
        "DC058ADA665D99084038B5F914FB9CF7214760A4865B49CAF7F4BE7379F3A395",
    ));
    assert_eq!(
        point,
        Point::Affine {
            x: f.element_from_be(&hex_bytes(x)).unwrap(),
            y: y.unwrap()
        }
    );
    for m in [163, 167, 173, 179, 191, 233, 307, 367, 431] {
        let curve = Curve::named_with_degree(m).unwrap();
        let p = curve.mul(&words(12345), curve.base_point());
        assert_eq!(
            curve.decompress(&curve.compress(&p).unwrap()).unwrap(),
            p,
            "m = {m}"
        );
    }
}

fn words(value: u64) -> Words {
    words_from_be_bytes(&value.to_be_bytes()).unwrap()
}
