//! Public keys, signatures, hash values and verification (DSTU 4145-2002, sections 10 and 13).

use std::cmp::Ordering;

use der::asn1::OctetStringRef;
use der::Decode;

use crate::curve::Curve;
use crate::error::Error;
use crate::field::{bit_length, low_bits, words_from_be_bytes, Words, WORDS};
use crate::point::Point;

/// Byte order of keys, curve parameters and signatures: little-endian under the OID
/// 1.2.804.2.1.1.1.1.3.1.1 (what Ukrainian certificates use), big-endian under …3.1.1.1.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// Numbers least significant byte first; a signature is r‖s.
    LittleEndian,
    /// Numbers most significant byte first; a signature is s‖r (the standard's D, 5.10).
    BigEndian,
}

/// A verified public key Q: a point of order n on a standard curve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    curve: Curve,
    q: Point,
}

impl PublicKey {
    /// Q from its compressed form (6.9–6.10): ⌈m/8⌉ big-endian bytes. Checks (10.1) that Q is on
    /// the curve, is not O and that n·Q = O.
    pub fn from_compressed(curve: &Curve, bytes: &[u8]) -> Result<PublicKey, Error> {
        let q = curve.decompress(bytes)?;
        PublicKey::checked(curve, q)
    }

    /// [`PublicKey::from_compressed`] with the bytes in the given order.
    pub fn from_compressed_ordered(
        curve: &Curve,
        bytes: &[u8],
        order: ByteOrder,
    ) -> Result<PublicKey, Error> {
        PublicKey::from_compressed(curve, &in_be(bytes, order))
    }

    /// Q from big-endian affine coordinates, with the checks of 10.1.
    pub fn from_affine(curve: &Curve, x: &[u8], y: &[u8]) -> Result<PublicKey, Error> {
        let f = curve.field();
        let (Some(x), Some(y)) = (f.element_from_be(x), f.element_from_be(y)) else {
            return Err(Error::InvalidPublicKey("a coordinate has m or more bits"));
        };
        let q = Point::Affine { x, y };
        if !curve.is_on_curve(&q) {
            return Err(Error::InvalidPublicKey("the point is not on the curve"));
        }
        PublicKey::checked(curve, q)
    }

    fn checked(curve: &Curve, q: Point) -> Result<PublicKey, Error> {
        if !curve.has_order_n(&q) {
            return Err(Error::PublicKeyNotInSubgroup);
        }
        Ok(PublicKey {
            curve: curve.clone(),
            q,
        })
    }

    /// The curve of the key.
    pub fn curve(&self) -> &Curve {
        &self.curve
    }

    /// The compressed form, ⌈m/8⌉ big-endian bytes.
    pub fn to_compressed(&self) -> Vec<u8> {
        self.curve
            .compress(&self.q)
            .expect("a point of order n has x ≠ 0")
    }

    /// Verifies a signature of a hash value (section 13); see [`verify`].
    pub fn verify(&self, hash: &HashValue, signature: &Signature) -> Result<(), Error> {
        verify(self, hash, signature)
    }
}

/// The hash code H(T) as an integer. Ukrainian PKI reads a GOST 34.311 or Kupyna digest as a
/// little-endian integer (the digest bytes reversed): [`HashValue::from_le_bytes`]. The standard's
/// worked examples print H(T) most significant byte first: [`HashValue::from_be_bytes`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashValue {
    /// The integer, big-endian.
    be: Vec<u8>,
}

impl HashValue {
    /// The digest bytes as the PKI uses them: least significant byte first.
    pub fn from_le_bytes(digest: &[u8]) -> Result<HashValue, Error> {
        HashValue::from_be_bytes(&digest.iter().rev().copied().collect::<Vec<u8>>())
    }

    /// The hash code most significant byte first, as printed in the standard.
    pub fn from_be_bytes(hash: &[u8]) -> Result<HashValue, Error> {
        if hash.is_empty() || hash.len() > 64 {
            return Err(Error::InvalidHash);
        }
        Ok(HashValue { be: hash.to_vec() })
    }

    /// The least significant bits that fit the representation (≥ m for every curve).
    fn low_words(&self) -> Words {
        let start = self.be.len().saturating_sub(WORDS * 8);
        words_from_be_bytes(&self.be[start..]).expect("at most WORDS * 8 bytes fit")
    }
}

/// A signature (r, s) as decoded from bytes; its range is checked against n when verifying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    r: Words,
    s: Words,
    /// Bytes of each half: L_D / 16.
    half_len: usize,
}

impl Signature {
    /// The signature bytes: r‖s each little-endian ([`ByteOrder::LittleEndian`]) or s‖r each
    /// big-endian ([`ByteOrder::BigEndian`], the standard's D = s·2^(L_D/2) + r). The two halves have
    /// equal length, at most 56 bytes each; verification also wants each half to hold L(n) bits.
    pub fn from_bytes(bytes: &[u8], order: ByteOrder) -> Result<Signature, Error> {
        if bytes.is_empty() || bytes.len() % 2 != 0 {
            return Err(Error::InvalidSignatureEncoding(
                "the length must be even and non-zero",
            ));
        }
        let half_len = bytes.len() / 2;
        if half_len > WORDS * 8 {
            return Err(Error::InvalidSignatureEncoding(
                "longer than any curve needs",
            ));
        }
        let (first, second) = bytes.split_at(half_len);
        let (r, s) = match order {
            ByteOrder::LittleEndian => (in_be(first, order), in_be(second, order)),
            ByteOrder::BigEndian => (second.to_vec(), first.to_vec()),
        };
        let word = |be: &[u8]| words_from_be_bytes(be).expect("at most WORDS * 8 bytes");
        Ok(Signature {
            r: word(&r),
            s: word(&s),
            half_len,
        })
    }

    /// The value of a certificate's or CRL's signature BIT STRING: a DER OCTET STRING holding the
    /// signature bytes. (A CMS SignerInfo carries the bytes without that wrapping: use
    /// [`Signature::from_bytes`].)
    pub fn from_octet_string_der(der: &[u8], order: ByteOrder) -> Result<Signature, Error> {
        let octets = OctetStringRef::from_der(der)?;
        Signature::from_bytes(octets.as_bytes(), order)
    }

    /// r, big-endian without leading zeros.
    pub fn r_be(&self) -> Vec<u8> {
        trimmed_be(&self.r)
    }

    /// s, big-endian without leading zeros.
    pub fn s_be(&self) -> Vec<u8> {
        trimmed_be(&self.s)
    }
}

/// Verification of section 13: with h the hash code truncated to m bits (1 if that is 0),
/// R = sP + rQ, y = h·x_R and r' the L(n) − 1 least significant bits of y, the signature holds when
/// 0 < r, s < n, R ≠ O and r' = r.
pub fn verify(key: &PublicKey, hash: &HashValue, signature: &Signature) -> Result<(), Error> {
    let curve = key.curve();
    let f = curve.field();
    let n = curve.order();
    if signature.half_len * 8 < curve.order_bits() {
        return Err(Error::InvalidSignatureEncoding(
            "each half must hold L(n) bits",
        ));
    }
    let in_range = |v: &Words| bit_length(v) > 0 && compare(v, n) == Ordering::Less;
    if !in_range(&signature.r) || !in_range(&signature.s) {
        return Err(Error::SignatureOutOfRange);
    }
    let mut h = f.truncate(&hash.low_words());
    if h == f.zero() {
        h = f.one();
    }
    let r_point = curve.mul_add(&signature.s, curve.base_point(), &signature.r, &key.q);
    let Point::Affine { x, .. } = r_point else {
        return Err(Error::SignatureMismatch);
    };
    let y = f.mul(&h, &x);
    if low_bits(&y.0, curve.order_bits() - 1) == signature.r {
        Ok(())
    } else {
        Err(Error::SignatureMismatch)
    }
}

fn compare(a: &Words, b: &Words) -> Ordering {
    a.iter().rev().cmp(b.iter().rev())
}

fn trimmed_be(words: &Words) -> Vec<u8> {
    crate::field::words_to_be_bytes(words, bit_length(words).div_ceil(8).max(1))
}

/// The bytes big-endian: reversed when they came little-endian.
pub(crate) fn in_be(bytes: &[u8], order: ByteOrder) -> Vec<u8> {
    match order {
        ByteOrder::LittleEndian => bytes.iter().rev().copied().collect(),
        ByteOrder::BigEndian => bytes.to_vec(),
    }
}

#[cfg(test)]
#[path = "vector_tests.rs"]
mod tests;
