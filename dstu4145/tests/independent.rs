//! Signatures made by an independent implementation (`ua-cryptography-dstu4145`, a port of a C#
//! library, with its own field, curve and GOST code) on every named curve: they verify, and every
//! mutation of r, s, the hash, the key or the curve is refused. Arbitrary bytes never panic.

use ehealth_dstu4145::{verify, ByteOrder, Curve, Error, HashValue, PublicKey, Signature};
use num_bigint::BigUint;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use ua_cryptography_dstu4145::{get_polynomial_curve, DomainParameters, Signer};
use ua_cryptography_gf2m::CurvePoint;

const DEGREES: [u32; 10] = [163, 167, 173, 179, 191, 233, 257, 307, 367, 431];

struct Signed {
    curve: Curve,
    params: DomainParameters,
    q: CurvePoint,
    key: PublicKey,
    hash: Vec<u8>,
    /// The standard's D: s‖r, big-endian.
    d: Vec<u8>,
}

fn signed(m: u32, rng: &mut ChaCha20Rng, hash: Vec<u8>) -> Signed {
    let params = get_polynomial_curve(m).unwrap();
    let mut signer = Signer::with_rng(&params, ChaCha20Rng::seed_from_u64(rng.next_u64()));
    let pair = signer.generate_key_pair();
    let d = signer.sign_hash(&pair.private_key, &hash).unwrap();
    let curve = Curve::named_with_degree(m as usize).unwrap();
    let q = pair.public_key;
    let key = PublicKey::from_affine(
        &curve,
        &q.x().unwrap().to_bytes(),
        &q.y().unwrap().to_bytes(),
    )
    .unwrap();
    Signed {
        curve,
        params,
        q,
        key,
        hash,
        d,
    }
}

fn random_bytes(rng: &mut ChaCha20Rng, len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rng.fill_bytes(&mut bytes);
    bytes
}

fn check(signed: &Signed, hash: &[u8], d: &[u8]) -> Result<(), Error> {
    let signature = Signature::from_bytes(d, ByteOrder::BigEndian)?;
    verify(&signed.key, &HashValue::from_be_bytes(hash)?, &signature)
}

fn reversed(bytes: &[u8]) -> Vec<u8> {
    bytes.iter().rev().copied().collect()
}

#[test]
fn signatures_of_the_independent_implementation_verify_on_every_named_curve() {
    let mut rng = ChaCha20Rng::seed_from_u64(4145);
    for m in DEGREES {
        let hash = random_bytes(&mut rng, 32);
        let s = signed(m, &mut rng, hash);
        assert_eq!(check(&s, &s.hash, &s.d), Ok(()), "m = {m}");
        // Its compression is ours.
        let compressed = s.params.curve().compress_to_bytes(&s.q).unwrap();
        assert_eq!(compressed, s.key.to_compressed(), "m = {m}");
        assert_eq!(
            PublicKey::from_compressed(&s.curve, &compressed).unwrap(),
            s.key
        );
        // The PKI's little-endian form of the same signature: r‖s reversed, digest reversed.
        let le = Signature::from_bytes(&reversed(&s.d), ByteOrder::LittleEndian).unwrap();
        let hash = HashValue::from_le_bytes(&reversed(&s.hash)).unwrap();
        assert_eq!(verify(&s.key, &hash, &le), Ok(()), "m = {m}");
        let key = PublicKey::from_compressed_ordered(
            &s.curve,
            &reversed(&compressed),
            ByteOrder::LittleEndian,
        );
        assert_eq!(key.unwrap(), s.key);
    }
}

#[test]
fn a_hash_that_is_zero_on_the_curve_is_taken_as_one_by_both_implementations() {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let s = signed(163, &mut rng, vec![0u8; 32]);
    assert_eq!(check(&s, &s.hash, &s.d), Ok(()));
    // Only the 163 low bits count: a hash with high bits set and low bits zero is the same h.
    let mut high = vec![0u8; 32];
    high[0] = 0x80;
    assert_eq!(check(&s, &high, &s.d), Ok(()));
}

#[test]
fn a_flipped_bit_in_r_s_or_the_hash_does_not_verify() {
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    for m in [163, 257, 431] {
        let hash = random_bytes(&mut rng, 32);
        let s = signed(m, &mut rng, hash);
        let half = s.d.len() / 2;
        for at in [half - 1, s.d.len() - 1, s.d.len() - 5] {
            let mut d = s.d.clone();
            d[at] ^= 0x02;
            assert_eq!(
                check(&s, &s.hash, &d),
                Err(Error::SignatureMismatch),
                "m = {m}, byte {at}"
            );
        }
        let mut hash = s.hash.clone();
        hash[31] ^= 0x01;
        assert_eq!(
            check(&s, &hash, &s.d),
            Err(Error::SignatureMismatch),
            "m = {m}"
        );
    }
}

#[test]
fn r_or_s_zero_or_not_below_n_is_out_of_range() {
    let mut rng = ChaCha20Rng::seed_from_u64(13);
    let hash = random_bytes(&mut rng, 32);
    let s = signed(257, &mut rng, hash);
    let half = s.d.len() / 2;
    let n = s.curve.order_be();
    let padded = |v: &[u8]| [vec![0u8; half - v.len()], v.to_vec()].concat();
    let n_plus_one = (BigUint::from_bytes_be(&n) + 1u32).to_bytes_be();
    let (r, sv) = (s.d[half..].to_vec(), s.d[..half].to_vec());
    for (bad_s, bad_r) in [
        (vec![0u8; half], r.clone()),
        (sv.clone(), vec![0u8; half]),
        (padded(&n), r.clone()),
        (sv.clone(), padded(&n)),
        (sv.clone(), padded(&n_plus_one)),
        (vec![0xFF; half], r.clone()),
    ] {
        let d = [bad_s, bad_r].concat();
        assert_eq!(check(&s, &s.hash, &d), Err(Error::SignatureOutOfRange));
    }
}

#[test]
fn malformed_signature_and_hash_lengths_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(17);
    let hash = random_bytes(&mut rng, 32);
    let s = signed(257, &mut rng, hash);
    let odd = &s.d[..s.d.len() - 1];
    assert!(matches!(
        check(&s, &s.hash, odd),
        Err(Error::InvalidSignatureEncoding(_))
    ));
    let short = &s.d[2..s.d.len() - 2];
    assert!(matches!(
        check(&s, &s.hash, short),
        Err(Error::InvalidSignatureEncoding(_))
    ));
    assert!(matches!(
        check(&s, &s.hash, &[]),
        Err(Error::InvalidSignatureEncoding(_))
    ));
    assert!(matches!(
        check(&s, &s.hash, &[0u8; 114]),
        Err(Error::InvalidSignatureEncoding(_))
    ));
    // A longer encoding with zero padding in each half is the same (r, s).
    let half = s.d.len() / 2;
    let long = [
        vec![0, 0],
        s.d[..half].to_vec(),
        vec![0, 0],
        s.d[half..].to_vec(),
    ]
    .concat();
    assert_eq!(check(&s, &s.hash, &long), Ok(()));
    assert_eq!(check(&s, &[], &s.d), Err(Error::InvalidHash));
    assert_eq!(check(&s, &[1u8; 65], &s.d), Err(Error::InvalidHash));
    assert!(Signature::from_octet_string_der(&s.d, ByteOrder::LittleEndian).is_err());
}

#[test]
fn keys_off_the_curve_outside_the_subgroup_or_of_another_key_are_refused() {
    let mut rng = ChaCha20Rng::seed_from_u64(19);
    let hash = random_bytes(&mut rng, 32);
    let s = signed(257, &mut rng, hash);
    let (x, y) = (s.q.x().unwrap().to_bytes(), s.q.y().unwrap().to_bytes());
    let mut y1 = y.clone();
    *y1.last_mut().unwrap() ^= 1;
    assert!(matches!(
        PublicKey::from_affine(&s.curve, &x, &y1),
        Err(Error::InvalidPublicKey(_))
    ));
    // Q + T, T = (0, √B) of order 2: on the curve, not in the subgroup of order n.
    let curve = s.params.curve();
    let t = curve.decompress(&BigUint::from(0u32)).unwrap();
    let qt = curve.add(&s.q, &t);
    let (qx, qy) = (qt.x().unwrap().to_bytes(), qt.y().unwrap().to_bytes());
    assert_eq!(
        PublicKey::from_affine(&s.curve, &qx, &qy),
        Err(Error::PublicKeyNotInSubgroup)
    );
    assert!(matches!(
        PublicKey::from_compressed(&s.curve, &[0u8; 33]),
        Err(Error::InvalidPublicKey(_))
    ));
    // A compressed key with one bit changed is refused or is another key, which does not verify.
    let compressed = s.key.to_compressed();
    for bit in [1u8, 2, 0x40] {
        let mut changed = compressed.clone();
        changed[20] ^= bit;
        if let Ok(other) = PublicKey::from_compressed(&s.curve, &changed) {
            let sig = Signature::from_bytes(&s.d, ByteOrder::BigEndian).unwrap();
            let hash = HashValue::from_be_bytes(&s.hash).unwrap();
            assert_eq!(verify(&other, &hash, &sig), Err(Error::SignatureMismatch));
        }
    }
    // Lengths other than ⌈m/8⌉ are refused.
    assert!(PublicKey::from_compressed(&s.curve, &compressed[1..]).is_err());
    assert!(PublicKey::from_compressed(&s.curve, &[&[0u8][..], &compressed].concat()).is_err());
}

#[test]
fn a_signature_made_on_one_curve_does_not_verify_with_a_key_of_another() {
    let mut rng = ChaCha20Rng::seed_from_u64(23);
    let hash = random_bytes(&mut rng, 32);
    let on_163 = signed(163, &mut rng, hash.clone());
    let on_167 = signed(167, &mut rng, hash.clone());
    let sig = Signature::from_bytes(&on_163.d, ByteOrder::BigEndian).unwrap();
    let h = HashValue::from_be_bytes(&hash).unwrap();
    assert!(verify(&on_167.key, &h, &sig).is_err());
    let on_431 = signed(431, &mut rng, hash);
    assert!(verify(&on_431.key, &h, &sig).is_err());
}

#[test]
fn arbitrary_keys_and_signatures_are_refused_without_panicking() {
    let mut rng = ChaCha20Rng::seed_from_u64(29);
    let hash = random_bytes(&mut rng, 32);
    let s = signed(163, &mut rng, hash);
    let h = HashValue::from_be_bytes(&s.hash).unwrap();
    for _ in 0..200 {
        let len = (rng.next_u32() % 24) as usize;
        let bytes = random_bytes(&mut rng, len);
        if let Ok(key) = PublicKey::from_compressed(&s.curve, &bytes) {
            let sig = Signature::from_bytes(&s.d, ByteOrder::BigEndian).unwrap();
            assert!(verify(&key, &h, &sig).is_err());
        }
        let len = (rng.next_u32() % 130) as usize;
        let bytes = random_bytes(&mut rng, len);
        for order in [ByteOrder::BigEndian, ByteOrder::LittleEndian] {
            if let Ok(sig) = Signature::from_bytes(&bytes, order) {
                assert!(verify(&s.key, &h, &sig).is_err());
            }
            assert!(Signature::from_octet_string_der(&bytes, order)
                .map_or(true, |sig| verify(&s.key, &h, &sig).is_err()));
        }
    }
}
