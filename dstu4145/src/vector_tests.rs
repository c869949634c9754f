//! Intermediate values of the standard's worked example and a vector on a curve outside the
//! standard's list, checked with the crate-internal arithmetic.

use super::*;
use crate::field::Field;
use crate::named::hex_bytes;

fn point(curve: &Curve, x: &str, y: &str) -> Point {
    let f = curve.field();
    Point::Affine {
        x: f.element_from_be(&hex_bytes(x)).unwrap(),
        y: f.element_from_be(&hex_bytes(y)).unwrap(),
    }
}

fn scalar(hex: &str) -> Words {
    words_from_be_bytes(&hex_bytes(hex)).unwrap()
}

/// DSTU 4145-2002's example: d·P, Q = −dP, the presignature eP and R = sP + rQ = eP.
#[test]
fn the_standards_example_has_the_published_intermediate_values() {
    let named = Curve::named_with_degree(163).unwrap();
    let p = point(
        &named,
        "72D867F93A93AC27DF9FF01AFFE74885C8C540420",
        "0224A9C3947852B97C5599D5F4AB81122ADC3FD9B",
    );
    let d = scalar("183F60FDF7951FF47D67193F8D073790C1C9B5A3E");
    let dp = named.mul(&d, &p);
    assert_eq!(
        dp,
        point(
            &named,
            "57DE7FDE023FF929CB6AC785CE4B79CF64ABDC2DA",
            "695B3B9D26830943133078EF19FE8A8814F8F7B70"
        )
    );
    let q = named.negate(&dp);
    assert_eq!(
        q,
        point(
            &named,
            "57DE7FDE023FF929CB6AC785CE4B79CF64ABDC2DA",
            "3E85444324BCF06AD85ABF6AD7B5F34770532B9AA"
        )
    );
    let e = scalar("1025E40BD97DB012B7A1D79DE8E12932D247F61C6");
    let ep = point(
        &named,
        "42A7D756D70E1C9BA62D2CB43707C35204EF3C67C",
        "5310AE5E560464A95DC80286F17EB762EC544B15B",
    );
    assert_eq!(named.mul(&e, &p), ep);
    let (r, s) = (
        scalar("274EA2C0CAA014A0D80A424F59ADE7A93068D08A7"),
        scalar("2100D86957331832B8E8C230F5BD6A332B3615ACA"),
    );
    assert_eq!(named.mul_add(&s, &p, &r, &q), ep);
    // h = the hash's 163 least significant bits; r = h·x(eP) cut to L(n) − 1 bits.
    let f = named.field();
    let hash = HashValue::from_be_bytes(&hex_bytes(
        "09C9C44277910C9AAEE486883A2EB95B7180166DDF73532EEB76EDAEF52247FF",
    ))
    .unwrap();
    let h = f.truncate(&hash.low_words());
    assert_eq!(
        h,
        f.element_from_be(&hex_bytes("03A2EB95B7180166DDF73532EEB76EDAEF52247FF"))
            .unwrap()
    );
    let Point::Affine { x, .. } = ep else {
        panic!("finite")
    };
    assert_eq!(low_bits(&f.mul(&h, &x).0, named.order_bits() - 1), r);
}

/// Bouncy Castle's test283: the verification equation on a curve the public API refuses.
#[test]
fn bouncy_castles_283_bit_vector_verifies_with_the_same_arithmetic() {
    let curve = Curve::unchecked(
        Field::new(283, &[5, 7, 12]).unwrap(),
        1,
        &hex_bytes("27B680AC8B8596DA5A4AF8A19A0303FCA97FD7645309FA2A581485AF6263E313B79A2F5"),
        &hex_bytes("3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEF90399660FC938A90165B042A7CEFADB307"),
        (
            &hex_bytes("4D95820ACE761110824CE425C8089129487389B7F0E0A9D043DDC0BB0A4CC9EB25"),
            &hex_bytes("954C9C4029B2C62DE35C2B9C2A164984BF1101951E3A68ED03DF234DDE5BB2013152F2"),
        ),
    );
    assert!(curve.has_order_n(curve.base_point()));
    let d = scalar("B844EEAF15213E4BAD4FB84796D68F2448DB8EB7B4621EC0D51929874892C43E");
    let q = curve.negate(&curve.mul(&d, curve.base_point()));
    let key = PublicKey {
        curve: curve.clone(),
        q,
    };
    let hash = HashValue::from_be_bytes(&hex_bytes("0137187EA862117EF1484289470ECAC802C5A651FDA8"))
        .unwrap();
    let half = 36;
    let pad = |hex: &str| {
        let v = hex_bytes(hex);
        [vec![0u8; half - v.len()], v].concat()
    };
    let r = "12a5edcc38d92208ff23036d75b000c7e4bc0f9af2d40b35f15d6fd15e01234e67781a8";
    let s = "2de0775577f75b643cf5afc80d4fe10b21100690f17e2cab7bdc9b50ec87c5727aeb515";
    let sig = Signature::from_bytes(&[pad(s), pad(r)].concat(), ByteOrder::BigEndian).unwrap();
    assert_eq!(verify(&key, &hash, &sig), Ok(()));
    let mut flipped = sig.clone();
    flipped.s[0] ^= 1;
    assert_eq!(verify(&key, &hash, &flipped), Err(Error::SignatureMismatch));
}
