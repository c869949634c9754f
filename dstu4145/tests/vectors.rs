//! Published test vectors, through the public API: the worked example of DSTU 4145-2002 (163-bit,
//! as reproduced by Bouncy Castle's `DSTU4145Test` and other public implementations), Bouncy
//! Castle's core and provider vectors (173, 431 bits, truncation, GOST 34.311 of "abc") and
//! jkurwa's 257-bit vectors. Where a vector gives only d, Q = −dP comes from the independent
//! `ua-cryptography-dstu4145`.

use ehealth_dstu4145::{
    gost34311, verify, ByteOrder, Curve, Dke, Error, HashValue, PublicKey, Signature,
};
use num_bigint::BigUint;
use ua_cryptography_dstu4145::{get_polynomial_curve, DomainParameters, Signer};
use ua_cryptography_gf2m::CurvePoint;

fn hex(s: &str) -> Vec<u8> {
    let s = if s.len() % 2 == 1 {
        format!("0{s}")
    } else {
        s.to_string()
    };
    hex::decode(s).unwrap()
}

/// The named curve of degree m with another base point (the vectors bring their own).
fn curve_with_base_point(m: usize, gx: &str, gy: &str) -> Curve {
    let named = Curve::named_with_degree(m).unwrap();
    let g = PublicKey::from_affine(&named, &hex(gx), &hex(gy)).unwrap();
    let mut params = named.explicit_params();
    params.base_point = g.to_compressed();
    let curve = Curve::from_explicit(&params).unwrap();
    assert!(!curve.has_standard_base_point());
    curve
}

/// The signature s‖r big-endian, each half as long as the field's elements.
fn signature(curve: &Curve, r: &str, s: &str) -> Signature {
    let half = curve.degree().div_ceil(8);
    let pad = |v: Vec<u8>| [vec![0u8; half - v.len()], v].concat();
    Signature::from_bytes(&[pad(hex(s)), pad(hex(r))].concat(), ByteOrder::BigEndian).unwrap()
}

/// Q = −dP by ua-cryptography-dstu4145.
fn public_key_of(curve: &Curve, m: u32, gx: &str, gy: &str, d: &str) -> PublicKey {
    let named = get_polynomial_curve(m).unwrap();
    let g = CurvePoint::from_hex(named.curve(), gx, gy).unwrap();
    let params = DomainParameters::new(named.curve(), &g, named.n()).unwrap();
    let q = Signer::new(&params)
        .calculate_public_key(&BigUint::from_bytes_be(&hex(d)))
        .unwrap();
    PublicKey::from_affine(
        curve,
        &q.x().unwrap().to_bytes(),
        &q.y().unwrap().to_bytes(),
    )
    .unwrap()
}

const EXAMPLE_GX: &str = "72D867F93A93AC27DF9FF01AFFE74885C8C540420";
const EXAMPLE_GY: &str = "0224A9C3947852B97C5599D5F4AB81122ADC3FD9B";
const EXAMPLE_HASH: &str = "09C9C44277910C9AAEE486883A2EB95B7180166DDF73532EEB76EDAEF52247FF";
const EXAMPLE_R: &str = "274EA2C0CAA014A0D80A424F59ADE7A93068D08A7";
const EXAMPLE_S: &str = "2100D86957331832B8E8C230F5BD6A332B3615ACA";

fn example_key(curve: &Curve) -> PublicKey {
    PublicKey::from_affine(
        curve,
        &hex("057DE7FDE023FF929CB6AC785CE4B79CF64ABDC2DA"),
        &hex("3E85444324BCF06AD85ABF6AD7B5F34770532B9AA"),
    )
    .unwrap()
}

#[test]
fn the_standards_163_bit_example_verifies_in_its_printed_big_endian_form() {
    let curve = curve_with_base_point(163, EXAMPLE_GX, EXAMPLE_GY);
    let q = example_key(&curve);
    // D = s‖r, 512 bits, as the example prints it.
    let d = hex(&format!("{:0>64}{:0>64}", EXAMPLE_S, EXAMPLE_R));
    let sig = Signature::from_bytes(&d, ByteOrder::BigEndian).unwrap();
    assert_eq!(sig.r_be(), hex(EXAMPLE_R));
    let hash = HashValue::from_be_bytes(&hex(EXAMPLE_HASH)).unwrap();
    assert_eq!(verify(&q, &hash, &sig), Ok(()));
    assert_eq!(
        q.verify(&hash, &signature(&curve, EXAMPLE_R, EXAMPLE_S)),
        Ok(())
    );
}

#[test]
fn the_standards_example_verifies_in_the_little_endian_form_of_the_pki() {
    let curve = curve_with_base_point(163, EXAMPLE_GX, EXAMPLE_GY);
    let q = example_key(&curve);
    // r‖s, each little-endian (the form a public C implementation's test gives for the example).
    let rs =
        hex("a7088d06937ade9af524a4800d4a01aa0c2cea7402ca5a61b332a3d65b0f238c8e2b83317395860d1002");
    let sig = Signature::from_bytes(&rs, ByteOrder::LittleEndian).unwrap();
    let digest: Vec<u8> = hex(EXAMPLE_HASH).into_iter().rev().collect();
    assert_eq!(
        verify(&q, &HashValue::from_le_bytes(&digest).unwrap(), &sig),
        Ok(())
    );
    // The same bytes read as the hash's big-endian form are another hash.
    let wrong = HashValue::from_be_bytes(&digest).unwrap();
    assert_eq!(verify(&q, &wrong, &sig), Err(Error::SignatureMismatch));
}

#[test]
fn the_independent_implementation_reproduces_the_standards_example() {
    let named = get_polynomial_curve(163).unwrap();
    let g = CurvePoint::from_hex(named.curve(), EXAMPLE_GX, EXAMPLE_GY).unwrap();
    let params = DomainParameters::new(named.curve(), &g, named.n()).unwrap();
    let signer = Signer::new(&params);
    let d = BigUint::from_bytes_be(&hex("183F60FDF7951FF47D67193F8D073790C1C9B5A3E"));
    let q = signer.calculate_public_key(&d).unwrap();
    assert_eq!(
        q.x().unwrap().to_bytes(),
        hex("057DE7FDE023FF929CB6AC785CE4B79CF64ABDC2DA")
    );
    let e = BigUint::from_bytes_be(&hex("1025E40BD97DB012B7A1D79DE8E12932D247F61C6"));
    let presignature = signer.calculate_presignature(&e).unwrap();
    let h = ua_cryptography_dstu4145::hash_to_field_element(&hex(EXAMPLE_HASH), params.field());
    let (r, s) = signer.sign(&d, &h, &presignature).unwrap().unwrap();
    assert_eq!(
        (r.to_bytes_be(), s.to_bytes_be()),
        (hex(EXAMPLE_R), hex(EXAMPLE_S))
    );
}

#[test]
fn bouncy_castles_173_and_431_bit_vectors_verify() {
    let hash =
        HashValue::from_be_bytes(&hex("0137187EA862117EF1484289470ECAC802C5A651FDA8")).unwrap();
    let (gx, gy) = (
        "BE6628EC3E67A91A4E470894FBA72B52C515F8AEE9",
        "D9DEEDF655CF5412313C11CA566CDC71F4DA57DB45C",
    );
    let curve = curve_with_base_point(173, gx, gy);
    let q = public_key_of(
        &curve,
        173,
        gx,
        gy,
        "955CD7E344303D1034E66933DC21C8044D42ADB8",
    );
    let r = "13ae89746386709cdbd237cc5ec20ca30004a82ead8";
    let s = "3597912cdd093b3e711ccb74a79d3c4ab4c7cccdc60";
    assert_eq!(verify(&q, &hash, &signature(&curve, r, s)), Ok(()));
    // testTruncation: a 26-byte hash of ones, cut to m bits.
    let ones = HashValue::from_be_bytes(&[0xFF; 26]).unwrap();
    let (r, s) = (
        "6bb5c0cb82e5067485458ebfe81025f03b687c63a27",
        "34d6b1868969b86ecf934167c8fe352c63d1074bd",
    );
    assert_eq!(verify(&q, &ones, &signature(&curve, r, s)), Ok(()));

    let gx = "9548BCDF314CEEEAF099C780FFEFBF93F9FE5B5F55547603C9C8FC1A2774170882B3BE35E892C6D4296B8DEA282EC30FB344272791";
    let gy = "4C6CBD7C62A8EEEFDE17A8B5E196E49A22CE6DE128ABD9FBD81FA4411AD5A38E2A810BEDE09A7C6226BCDCB4A4A5DA37B4725E00AA74";
    let curve = curve_with_base_point(431, gx, gy);
    let d = "D0F97354E314191FD773E2404F478C8AEE0FF5109F39E6F37D1FEEC8B2ED1691D84C9882CC729E716A71CC013F66CAC60E29E22C";
    let q = public_key_of(&curve, 431, gx, gy, d);
    let r = "1911fefb1f494bebcf8dffdf5276946ff9c9f662192ee18c718db47310a439c784fe07577b16e1edbe16179876e0792a634f1c9c3a2e";
    let s = "3852170ee801c2083c52f1ea77b987a5432acecd9c654f064e87bf179e0a397151edbca430082e43bd38a67b55424b5bbc7f2713f620";
    assert_eq!(verify(&q, &hash, &signature(&curve, r, s)), Ok(()));
}

#[test]
fn bouncy_castles_provider_vector_verifies_over_the_gost_34311_hash_of_abc() {
    let (gx, gy) = (
        "BE6628EC3E67A91A4E470894FBA72B52C515F8AEE9",
        "D9DEEDF655CF5412313C11CA566CDC71F4DA57DB45C",
    );
    let curve = curve_with_base_point(173, gx, gy);
    let q = PublicKey::from_affine(
        &curve,
        &hex("22de541d48a75c1c3b8c7c107b2551c5093c6c096e1"),
        &hex("1e5b602efc0269d61e64d97c9193d2788fa05c4b7fd5"),
    )
    .unwrap();
    let digest = gost34311(&Dke::DEFAULT, b"abc").unwrap();
    let hash = HashValue::from_le_bytes(&digest).unwrap();
    let sig = signature(
        &curve,
        "f2702989366e9569d5092b83ac17f918bf040c487a",
        "1dd460039db3be70392d7012f2a492d3e59091ab7a6",
    );
    assert_eq!(verify(&q, &hash, &sig), Ok(()));
    let other = HashValue::from_le_bytes(&gost34311(&Dke::DEFAULT, b"abd").unwrap()).unwrap();
    assert_eq!(verify(&q, &other, &sig), Err(Error::SignatureMismatch));
}

const JKURWA_QX: &str = "00AFF3EE09CB429284985849E20DE5742E194AA631490F62BA88702505629A6589";
const JKURWA_QY: &str = "01B345BC134F27DA251EDFAE97B3F306B4E8B8CB9CF86D8651E4FB301EF8E1239C";
const JKURWA_HASH: &str = "6845214B63288A832A772E1FE6CB6C7D3528569E29A8B3584370FDC65F474242";

#[test]
fn jkurwas_257_bit_vectors_verify_in_both_byte_orders() {
    let curve = Curve::named_with_degree(257).unwrap();
    let q = PublicKey::from_affine(&curve, &hex(JKURWA_QX), &hex(JKURWA_QY)).unwrap();
    let theirs = public_key_of(
        &curve,
        257,
        "02A29EF207D0E9B6C55CD260B306C7E007AC491CA1B10C62334A9E8DCD8D20FB7",
        "10686D41FF744D4449FCCF6D8EEA03102E6812C93A9D60B978B702CF156D814EF",
        "2A45EAFE4CD469F811737780C57253360FBCC58E134C9A1FDCD10B0E4529A143",
    );
    assert_eq!(q, theirs, "jkurwa's Q is −dP");
    // help_sign with the hash as a big-endian field element, and its little-endian serialisation.
    let r = "491fa1ef75eaef75e1f20cf3918993ab37e06005ea8e204bc009a1fa61bb0fb2";
    let s = "ccc6816453a903a1b641df999011177df420d21a72236d798532aef42e224ab";
    let hash_be = HashValue::from_be_bytes(&hex(JKURWA_HASH)).unwrap();
    assert_eq!(verify(&q, &hash_be, &signature(&curve, r, s)), Ok(()));
    let serialised = hex("0440b20fbb61faa109c04b208eea0560e037ab938991f30cf2e175efea75efa11f49ab24e242ef2a5398d73622a7210d42df77110199f91d641b3a903a451668cc0c");
    let sig = Signature::from_octet_string_der(&serialised, ByteOrder::LittleEndian).unwrap();
    assert_eq!((sig.r_be(), sig.s_be()), (hex(r), hex(s)));
    assert_eq!(verify(&q, &hash_be, &sig), Ok(()));
    // "#verify": a signature of the hash buffer, which the PKI reads little-endian.
    let short = hex("044091d08086a623d7fc292418636f634e82e52f8f989d423dae6c64878699cc2f11d0332bfe45c237421a41c2eb99e230f2629881c8e0c90be88610880e8c269d23");
    let sig = Signature::from_octet_string_der(&short, ByteOrder::LittleEndian).unwrap();
    let hash_le = HashValue::from_le_bytes(&hex(JKURWA_HASH)).unwrap();
    assert_eq!(verify(&q, &hash_le, &sig), Ok(()));
    assert_eq!(verify(&q, &hash_be, &sig), Err(Error::SignatureMismatch));
}

#[test]
fn the_283_bit_curve_of_bouncy_castles_vectors_is_not_one_of_the_standards() {
    let mut params = Curve::named_with_degree(431).unwrap().explicit_params();
    params.m = 283;
    params.middle_terms = vec![5, 7, 12];
    assert_eq!(
        Curve::from_explicit(&params),
        Err(Error::NonStandardCurve(
            "the field degree is not one of the standard's"
        ))
    );
}
