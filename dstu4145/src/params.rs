//! DSTU 4145 key parameters in DER: the AlgorithmIdentifier parameters and SubjectPublicKeyInfo.
//!
//! ```text
//! DSTU4145Params ::= SEQUENCE { curve CHOICE { namedCurve OBJECT IDENTIFIER, ecbinary ECBinary },
//!                               dke OCTET STRING (SIZE (64)) OPTIONAL }
//! ECBinary ::= SEQUENCE { version [0] EXPLICIT INTEGER DEFAULT 0, f BinaryField,
//!                         a INTEGER (0..1), b OCTET STRING, n INTEGER, bp OCTET STRING }
//! BinaryField ::= SEQUENCE { m INTEGER, CHOICE { k INTEGER,
//!                                                SEQUENCE { k INTEGER, j INTEGER, l INTEGER } } }
//! ```
//! Under the little-endian OID, b, bp and the public key's OCTET STRING are reversed; n is a DER
//! INTEGER in either case.

use der::asn1::{BitStringRef, ContextSpecific, ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber};

use crate::curve::{Curve, ExplicitParams};
use crate::error::Error;
use crate::oid;
use crate::signature::{in_be, ByteOrder, PublicKey};

/// The GOST 28147 S-box of GOST 34.311 (the "DKE"), 64 bytes, two 4-bit entries a byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dke([u8; 64]);

impl Dke {
    /// DKE №1, the standard S-box that a key's parameters imply when they carry none.
    pub const DEFAULT: Dke = Dke([
        0xa9, 0xd6, 0xeb, 0x45, 0xf1, 0x3c, 0x70, 0x82, 0x80, 0xc4, 0x96, 0x7b, 0x23, 0x1f, 0x5e,
        0xad, 0xf6, 0x58, 0xeb, 0xa4, 0xc0, 0x37, 0x29, 0x1d, 0x38, 0xd9, 0x6b, 0xf0, 0x25, 0xca,
        0x4e, 0x17, 0xf8, 0xe9, 0x72, 0x0d, 0xc6, 0x15, 0xb4, 0x3a, 0x28, 0x97, 0x5f, 0x0b, 0xc1,
        0xde, 0xa3, 0x64, 0x38, 0xb5, 0x64, 0xea, 0x2c, 0x17, 0x9f, 0xd0, 0x12, 0x3e, 0x6d, 0xb8,
        0xfa, 0xc5, 0x79, 0x04,
    ]);

    /// A DKE from its 64 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Dke, Error> {
        bytes.try_into().map(Dke).map_err(|_| Error::InvalidDke)
    }

    /// The 64 bytes.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// Whether this is DKE №1.
    pub fn is_default(&self) -> bool {
        *self == Dke::DEFAULT
    }

    /// The S-box as 8 rows of 16 entries: row i, entry j is the nibble 16·i + j, high nibble first.
    pub fn expanded(&self) -> [[u8; 16]; 8] {
        let mut rows = [[0u8; 16]; 8];
        for (i, byte) in self.0.iter().enumerate() {
            rows[i / 8][2 * (i % 8)] = byte >> 4;
            rows[i / 8][2 * (i % 8) + 1] = byte & 0x0f;
        }
        rows
    }
}

/// Parsed key parameters: the curve and the DKE for GOST 34.311.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParams {
    /// The curve, always one of the standard's (see [`Curve::from_explicit`]).
    pub curve: Curve,
    /// The DKE the parameters carry, [`Dke::DEFAULT`] when they carry none.
    pub dke: Dke,
}

impl KeyParams {
    /// The DER of `DSTU4145Params`, with B and the base point in `order`.
    pub fn from_der(der: &[u8], order: ByteOrder) -> Result<KeyParams, Error> {
        let mut reader = SliceReader::new(der)?;
        let (curve, dke) = reader.sequence(|seq| {
            let curve = match seq.peek_tag()? {
                Tag::ObjectIdentifier => Choice::Named(ObjectIdentifier::decode(seq)?),
                _ => Choice::Explicit(decode_ec_binary(seq, order)?),
            };
            let dke = if seq.is_finished() {
                None
            } else {
                Some(OctetStringRef::decode(seq)?.as_bytes().to_vec())
            };
            Ok((curve, dke))
        })?;
        reader.finish(())?;
        let curve = match curve {
            Choice::Named(oid) => Curve::named(&oid)?,
            Choice::Explicit(Ok(params)) => Curve::from_explicit(&params)?,
            Choice::Explicit(Err(error)) => return Err(error),
        };
        let dke = dke.map_or(Ok(Dke::DEFAULT), |bytes| Dke::from_bytes(&bytes))?;
        Ok(KeyParams { curve, dke })
    }
}

/// A DSTU 4145 SubjectPublicKeyInfo: the key, its DKE and the byte order of its algorithm OID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectPublicKey {
    /// The validated public key (on its curve, in the subgroup of order n).
    pub key: PublicKey,
    /// The DKE of the key's parameters.
    pub dke: Dke,
    /// Little-endian for 1.2.804.2.1.1.1.1.3.1.1, big-endian for …3.1.1.1.1.
    pub byte_order: ByteOrder,
}

impl SubjectPublicKey {
    /// From the DER of a SubjectPublicKeyInfo.
    pub fn from_spki_der(der: &[u8]) -> Result<SubjectPublicKey, Error> {
        let info = spki::SubjectPublicKeyInfoRef::from_der(der)?;
        let parameters = info
            .algorithm
            .parameters
            .ok_or_else(|| Error::Asn1("DSTU 4145 keys have parameters".into()))?
            .to_der()?;
        SubjectPublicKey::from_parts(&info.algorithm.oid, &parameters, info.subject_public_key)
    }

    /// From the parts of a SubjectPublicKeyInfo (as `x509-cert` / `spki` hand them out): the
    /// algorithm OID, the DER of its parameters and the subjectPublicKey BIT STRING, whose content
    /// is a DER OCTET STRING holding the compressed point.
    pub fn from_parts(
        algorithm: &ObjectIdentifier,
        parameters_der: &[u8],
        subject_public_key: BitStringRef<'_>,
    ) -> Result<SubjectPublicKey, Error> {
        let byte_order = key_byte_order(algorithm)?;
        let params = KeyParams::from_der(parameters_der, byte_order)?;
        let bits = subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::Asn1("the public key BIT STRING has unused bits".into()))?;
        let point = OctetStringRef::from_der(bits)?;
        let key = PublicKey::from_compressed_ordered(&params.curve, point.as_bytes(), byte_order)?;
        Ok(SubjectPublicKey {
            key,
            dke: params.dke,
            byte_order,
        })
    }
}

/// The byte order of a key algorithm OID; the optimal normal basis and anything else is refused.
pub fn key_byte_order(algorithm: &ObjectIdentifier) -> Result<ByteOrder, Error> {
    if *algorithm == oid::DSTU4145_PB_LE {
        Ok(ByteOrder::LittleEndian)
    } else if *algorithm == oid::DSTU4145_PB_BE {
        Ok(ByteOrder::BigEndian)
    } else {
        Err(Error::UnsupportedAlgorithm(algorithm.to_string()))
    }
}

enum Choice {
    Named(ObjectIdentifier),
    /// A semantic error is kept apart so that DER errors stay DER errors.
    Explicit(Result<ExplicitParams, Error>),
}

fn decode_ec_binary<'a, R: Reader<'a>>(
    reader: &mut R,
    order: ByteOrder,
) -> der::Result<Result<ExplicitParams, Error>> {
    reader.sequence(|seq| {
        let version = ContextSpecific::<u32>::decode_explicit(seq, TagNumber::N0)?;
        let (m, middle_terms) = seq.sequence(|field| {
            let m = u32::decode(field)?;
            let middle = match field.peek_tag()? {
                Tag::Integer => vec![u32::decode(field)?],
                _ => field
                    .sequence(|p| Ok(vec![u32::decode(p)?, u32::decode(p)?, u32::decode(p)?]))?,
            };
            Ok((m, middle))
        })?;
        let a = u32::decode(seq)?;
        let b = OctetStringRef::decode(seq)?.as_bytes().to_vec();
        let n = UintRef::decode(seq)?.as_bytes().to_vec();
        let base_point = OctetStringRef::decode(seq)?.as_bytes().to_vec();
        if version.is_some_and(|v| v.value != 0) {
            return Ok(Err(Error::NonStandardCurve("ECBinary version is not 0")));
        }
        if a > 1 {
            return Ok(Err(Error::NonStandardCurve("A must be 0 or 1")));
        }
        Ok(Ok(ExplicitParams {
            m: m as usize,
            middle_terms: middle_terms.into_iter().map(|k| k as usize).collect(),
            a: a as u8,
            b: in_be(&b, order),
            n,
            base_point: in_be(&base_point, order),
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;

    fn sequence(parts: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = parts.concat();
        assert!(body.len() < 128);
        [vec![0x30, body.len() as u8], body].concat()
    }

    fn named(index: u32) -> Vec<u8> {
        oid::NAMED_CURVE_ARC
            .push_arc(index)
            .unwrap()
            .to_der()
            .unwrap()
    }

    fn octets(bytes: &[u8]) -> Vec<u8> {
        [vec![0x04, bytes.len() as u8], bytes.to_vec()].concat()
    }

    #[test]
    fn named_parameters_with_and_without_a_dke_parse() {
        let le = ByteOrder::LittleEndian;
        let bare = KeyParams::from_der(&sequence(&[named(6)]), le).unwrap();
        assert_eq!(bare.curve, Curve::named_with_degree(257).unwrap());
        assert!(bare.dke.is_default());
        let mut dke = *Dke::DEFAULT.as_bytes();
        dke[63] = 0;
        let with = KeyParams::from_der(&sequence(&[named(9), octets(&dke)]), le).unwrap();
        assert_eq!(with.curve.degree(), 431);
        assert_eq!(with.dke.as_bytes(), &dke);
    }

    #[test]
    fn bad_dkes_unknown_curves_and_trailing_elements_are_refused() {
        let le = ByteOrder::LittleEndian;
        let short = sequence(&[named(6), octets(&[0u8; 63])]);
        assert_eq!(KeyParams::from_der(&short, le), Err(Error::InvalidDke));
        let unknown = sequence(&[named(10)]);
        assert!(matches!(
            KeyParams::from_der(&unknown, le),
            Err(Error::UnknownNamedCurve(_))
        ));
        let dke = Dke::DEFAULT.as_bytes().to_vec();
        let trailing = [sequence(&[named(6)]), vec![0x05, 0x00]].concat();
        assert!(matches!(
            KeyParams::from_der(&trailing, le),
            Err(Error::Asn1(_))
        ));
        let extra = sequence(&[named(6), octets(&dke[..8]), octets(&dke[..8])]);
        assert!(matches!(
            KeyParams::from_der(&extra, le),
            Err(Error::Asn1(_))
        ));
        assert!(matches!(KeyParams::from_der(&[], le), Err(Error::Asn1(_))));
        assert!(matches!(
            KeyParams::from_der(&[0x30, 0x80], le),
            Err(Error::Asn1(_))
        ));
    }

    #[test]
    fn explicit_parameters_with_a_out_of_range_or_a_version_are_refused() {
        let curve = Curve::named_with_degree(163).unwrap();
        let p = curve.explicit_params();
        let int = |v: u8| vec![0x02, 0x01, v];
        let field = sequence(&[
            vec![0x02, 0x02, 0x00, 163],
            sequence(&[int(3), int(6), int(7)]),
        ]);
        let n = [vec![0x02, p.n.len() as u8], p.n.clone()].concat();
        let binary = |a: u8, version: Option<u8>| {
            let mut parts = vec![];
            if let Some(v) = version {
                parts.push([vec![0xA0, 0x03], int(v)].concat());
            }
            parts.extend([
                field.clone(),
                int(a),
                octets(&p.b),
                n.clone(),
                octets(&p.base_point),
            ]);
            sequence(&[sequence(&parts)])
        };
        let be = ByteOrder::BigEndian;
        assert_eq!(
            KeyParams::from_der(&binary(1, None), be).unwrap().curve,
            curve
        );
        assert_eq!(
            KeyParams::from_der(&binary(1, Some(0)), be).unwrap().curve,
            curve
        );
        assert_eq!(
            KeyParams::from_der(&binary(2, None), be),
            Err(Error::NonStandardCurve("A must be 0 or 1"))
        );
        assert_eq!(
            KeyParams::from_der(&binary(0, None), be),
            Err(Error::NonStandardCurve("A differs"))
        );
        assert_eq!(
            KeyParams::from_der(&binary(1, Some(1)), be),
            Err(Error::NonStandardCurve("ECBinary version is not 0"))
        );
        // Read little-endian, B and the base point are other numbers.
        assert!(KeyParams::from_der(&binary(1, None), ByteOrder::LittleEndian).is_err());
    }
}
