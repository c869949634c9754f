//! The hashes signed with DSTU 4145 in the Ukrainian PKI, and the signature algorithm OIDs that
//! name them. Hashing is RustCrypto's: `gost94` (`Gost94UA`, GOST 34.311-95 with DKE №1) and
//! `kupyna` (DSTU 7564:2014).

use der::asn1::ObjectIdentifier;
use gost94::Digest;

use crate::error::Error;
use crate::oid;
use crate::params::{Dke, SubjectPublicKey};
use crate::signature::{verify, ByteOrder, HashValue, Signature};

/// GOST 34.311-95 of `data` with the S-box `dke`: only DKE №1 is available (RustCrypto's
/// `Gost94UA` fixes its S-box at compile time); any other DKE is refused.
pub fn gost34311(dke: &Dke, data: &[u8]) -> Result<[u8; 32], Error> {
    if !dke.is_default() {
        return Err(Error::UnsupportedDke);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&gost94::Gost94UA::digest(data));
    Ok(out)
}

/// Kupyna-256 (DSTU 7564:2014) of `data`.
pub fn kupyna256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&kupyna::Kupyna256::digest(data));
    out
}

/// A signature algorithm (a certificate's `signatureAlgorithm`, a SignerInfo's
/// `signatureAlgorithm`): the hash and the byte order of the signature value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// DSTU 4145 with GOST 34.311 (1.2.804.2.1.1.1.1.3.1.1 little-endian, …3.1.1.1.1 big-endian).
    Gost34311(ByteOrder),
    /// DSTU 4145 with Kupyna-256, little-endian (1.2.804.2.1.1.1.1.3.6.1.1).
    Kupyna256,
}

impl SignatureAlgorithm {
    /// The algorithm of an OID; anything else (the optimal normal basis included) is refused.
    pub fn from_oid(algorithm: &ObjectIdentifier) -> Result<SignatureAlgorithm, Error> {
        if *algorithm == oid::DSTU4145_PB_LE {
            Ok(SignatureAlgorithm::Gost34311(ByteOrder::LittleEndian))
        } else if *algorithm == oid::DSTU4145_PB_BE {
            Ok(SignatureAlgorithm::Gost34311(ByteOrder::BigEndian))
        } else if *algorithm == oid::DSTU4145_KUPYNA256_LE {
            Ok(SignatureAlgorithm::Kupyna256)
        } else {
            Err(Error::UnsupportedAlgorithm(algorithm.to_string()))
        }
    }

    /// The byte order of the signature value.
    pub fn byte_order(&self) -> ByteOrder {
        match self {
            SignatureAlgorithm::Gost34311(order) => *order,
            SignatureAlgorithm::Kupyna256 => ByteOrder::LittleEndian,
        }
    }
}

impl SubjectPublicKey {
    /// Hashes `message` as `algorithm` says (GOST 34.311 with this key's DKE, or Kupyna-256), reads
    /// the digest little-endian as the PKI does under either OID, and verifies `signature`.
    pub fn verify_message(
        &self,
        algorithm: SignatureAlgorithm,
        message: &[u8],
        signature: &Signature,
    ) -> Result<(), Error> {
        let digest = match algorithm {
            SignatureAlgorithm::Gost34311(_) => gost34311(&self.dke, message)?,
            SignatureAlgorithm::Kupyna256 => kupyna256(message),
        };
        verify(&self.key, &HashValue::from_le_bytes(&digest)?, signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use der::Encode;
    use gost94::params::{GOST28147UAParam, Gost94Params};

    #[test]
    fn dke_number_one_is_the_s_box_of_rustcryptos_gost94ua() {
        assert_eq!(Dke::DEFAULT.expanded(), GOST28147UAParam::S_BOX);
    }

    #[test]
    fn gost_34311_with_another_dke_is_refused() {
        let mut other = *Dke::DEFAULT.as_bytes();
        other[0] ^= 0x11;
        let dke = Dke::from_bytes(&other).unwrap();
        assert_eq!(gost34311(&dke, b"abc"), Err(Error::UnsupportedDke));
        assert_eq!(Dke::from_bytes(&other[..63]), Err(Error::InvalidDke));
    }

    #[test]
    fn signature_algorithms_are_known_by_oid_and_the_normal_basis_is_refused() {
        let le = SignatureAlgorithm::from_oid(&oid::DSTU4145_PB_LE).unwrap();
        assert_eq!(le, SignatureAlgorithm::Gost34311(ByteOrder::LittleEndian));
        let be = SignatureAlgorithm::from_oid(&oid::DSTU4145_PB_BE).unwrap();
        assert_eq!(be.byte_order(), ByteOrder::BigEndian);
        let kupyna = SignatureAlgorithm::from_oid(&oid::DSTU4145_KUPYNA256_LE).unwrap();
        assert_eq!(kupyna.byte_order(), ByteOrder::LittleEndian);
        for refused in [oid::DSTU4145_ONB_LE, oid::DSTU4145_ONB_BE, oid::GOST34311] {
            assert!(matches!(
                SignatureAlgorithm::from_oid(&refused),
                Err(Error::UnsupportedAlgorithm(_))
            ));
        }
        assert_eq!(oid::DSTU4145_PB_LE.to_der().unwrap()[0], 0x06);
    }
}
