//! Signature algorithms by OID: RSA PKCS#1 v1.5 and PSS, ECDSA on P-256 and P-384, DSTU 4145
//! with GOST 34.311 or Kupyna-256. One entry point verifies a certificate's, CRL's, OCSP
//! response's, SignerInfo's or timestamp token's signature.

use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use ecdsa::signature::hazmat::PrehashVerifier;
use ehealth_dstu4145::{self as dstu, Dke, SignatureAlgorithm, SubjectPublicKey};
use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPublicKey};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::error::Refusal;

pub(crate) mod oids {
    use der::asn1::ObjectIdentifier as Oid;
    pub const RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    pub const RSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
    pub const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");
    pub const SHA256_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const SHA384_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    pub const SHA512_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
    pub const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    pub const P384: Oid = Oid::new_unwrap("1.3.132.0.34");
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
}

/// The kind of a certificate's key, for the summary of what was loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyKind {
    /// RSA (rsaEncryption or RSASSA-PSS keys).
    Rsa,
    /// ECDSA on NIST P-256.
    EcdsaP256,
    /// ECDSA on NIST P-384.
    EcdsaP384,
    /// DSTU 4145-2002 (polynomial basis).
    Dstu4145,
    /// Anything else: loaded, but nothing it signed can be verified.
    Unsupported,
}

impl KeyKind {
    /// The kind named by a SubjectPublicKeyInfo's OIDs, without decoding the key.
    pub(crate) fn of(spki: &SubjectPublicKeyInfoOwned) -> KeyKind {
        let oid = spki.algorithm.oid;
        if oid == oids::RSA || oid == oids::RSA_PSS {
            KeyKind::Rsa
        } else if oid == oids::EC_PUBLIC_KEY {
            match spki
                .algorithm
                .parameters
                .as_ref()
                .map(|p| p.decode_as::<Oid>())
            {
                Some(Ok(curve)) if curve == oids::P256 => KeyKind::EcdsaP256,
                Some(Ok(curve)) if curve == oids::P384 => KeyKind::EcdsaP384,
                _ => KeyKind::Unsupported,
            }
        } else if oid == dstu::oid::DSTU4145_PB_LE || oid == dstu::oid::DSTU4145_PB_BE {
            KeyKind::Dstu4145
        } else {
            KeyKind::Unsupported
        }
    }
}

/// A decoded, checked public key.
#[derive(Debug)]
pub(crate) enum PublicKey {
    Rsa(RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Dstu(Box<SubjectPublicKey>),
}

/// RSA moduli up to this size are accepted (the `rsa` crate's default stops at 4096).
const MAX_RSA_BITS: usize = 8192;

impl PublicKey {
    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<PublicKey, Refusal> {
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or(Refusal::InvalidPublicKey)?;
        match KeyKind::of(spki) {
            KeyKind::Rsa => {
                let key = rsa::pkcs1::RsaPublicKey::from_der(bits)
                    .map_err(|_| Refusal::InvalidPublicKey)?;
                let n = BigUint::from_bytes_be(key.modulus.as_bytes());
                let e = BigUint::from_bytes_be(key.public_exponent.as_bytes());
                RsaPublicKey::new_with_max_size(n, e, MAX_RSA_BITS)
                    .map(PublicKey::Rsa)
                    .map_err(|_| Refusal::InvalidPublicKey)
            }
            KeyKind::EcdsaP256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                .map(PublicKey::P256)
                .map_err(|_| Refusal::InvalidPublicKey),
            KeyKind::EcdsaP384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                .map(PublicKey::P384)
                .map_err(|_| Refusal::InvalidPublicKey),
            KeyKind::Dstu4145 => {
                let der = spki.to_der().map_err(|_| Refusal::InvalidPublicKey)?;
                SubjectPublicKey::from_spki_der(&der)
                    .map(|key| PublicKey::Dstu(Box::new(key)))
                    .map_err(dstu_key_refusal)
            }
            KeyKind::Unsupported if spki.algorithm.oid == oids::EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<Oid>().ok())
                    .map_or_else(|| "(explicit parameters)".to_owned(), |o| o.to_string());
                Err(Refusal::UnsupportedCurve(curve))
            }
            KeyKind::Unsupported => Err(Refusal::UnsupportedAlgorithm(
                spki.algorithm.oid.to_string(),
            )),
        }
    }

    /// The DKE that GOST 34.311 uses with this key (DKE №1 for other keys).
    pub(crate) fn dke(&self) -> Dke {
        match self {
            PublicKey::Dstu(key) => key.dke,
            _ => Dke::DEFAULT,
        }
    }
}

fn dstu_key_refusal(error: dstu::Error) -> Refusal {
    match error {
        dstu::Error::UnsupportedDke => Refusal::UnsupportedDke,
        dstu::Error::UnknownNamedCurve(oid) => Refusal::UnsupportedCurve(oid),
        dstu::Error::NonStandardCurve(why) => Refusal::UnsupportedCurve(why.to_owned()),
        dstu::Error::UnsupportedAlgorithm(oid) => Refusal::UnsupportedAlgorithm(oid),
        _ => Refusal::InvalidPublicKey,
    }
}

/// Digest algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Digest {
    /// Only to match OCSP CertIDs (RFC 6960's default); never for signatures.
    Sha1,
    Sha256,
    Sha384,
    Sha512,
    Gost34311,
    Kupyna256,
}

impl Digest {
    pub(crate) fn from_oid(oid: &Oid) -> Result<Digest, Refusal> {
        Ok(match *oid {
            o if o == oids::SHA256 => Digest::Sha256,
            o if o == oids::SHA384 => Digest::Sha384,
            o if o == oids::SHA512 => Digest::Sha512,
            o if o == dstu::oid::GOST34311 => Digest::Gost34311,
            o if o == dstu::oid::KUPYNA256 => Digest::Kupyna256,
            _ => return Err(Refusal::UnsupportedDigest(oid.to_string())),
        })
    }

    pub(crate) fn from_oid_for_cert_id(oid: &Oid) -> Result<Digest, Refusal> {
        if *oid == oids::SHA1 {
            Ok(Digest::Sha1)
        } else {
            Digest::from_oid(oid)
        }
    }

    pub(crate) fn oid(self) -> Oid {
        match self {
            Digest::Sha1 => oids::SHA1,
            Digest::Sha256 => oids::SHA256,
            Digest::Sha384 => oids::SHA384,
            Digest::Sha512 => oids::SHA512,
            Digest::Gost34311 => dstu::oid::GOST34311,
            Digest::Kupyna256 => dstu::oid::KUPYNA256,
        }
    }

    /// The digest as the hash outputs it; GOST 34.311 with `dke`.
    pub(crate) fn hash(self, data: &[u8], dke: &Dke) -> Result<Vec<u8>, Refusal> {
        Ok(match self {
            Digest::Sha1 => {
                use sha1::Digest as _;
                sha1::Sha1::digest(data).to_vec()
            }
            Digest::Sha256 => Sha256::digest(data).to_vec(),
            Digest::Sha384 => Sha384::digest(data).to_vec(),
            Digest::Sha512 => Sha512::digest(data).to_vec(),
            Digest::Gost34311 => dstu::gost34311(dke, data)
                .map_err(|_| Refusal::UnsupportedDke)?
                .to_vec(),
            Digest::Kupyna256 => dstu::kupyna256(data).to_vec(),
        })
    }
}

/// A signature scheme with its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    RsaPkcs1(Digest),
    RsaPss { digest: Digest, salt_len: usize },
    Ecdsa(Digest),
    Dstu(SignatureAlgorithm),
}

/// Where the signature value sits: X.509 structures wrap a DSTU 4145 signature in an OCTET
/// STRING inside the BIT STRING, a CMS SignerInfo holds it bare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    X509,
    Cms,
}

/// Why a signature did not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Something this verifier does not implement (the refusal says what).
    Unsupported(Refusal),
    /// Well-formed and supported, but wrong (or malformed signature bytes).
    Mismatch,
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Self {
        Failure::Unsupported(refusal)
    }
}

impl Failure {
    /// The refusal to report, `mismatch` for a wrong signature.
    pub(crate) fn into_refusal(self, mismatch: Refusal) -> Refusal {
        match self {
            Failure::Unsupported(refusal) => refusal,
            Failure::Mismatch => mismatch,
        }
    }
}

fn digest_of_x509_oid(oid: &Oid) -> Option<(Digest, bool)> {
    // (digest, is RSA)
    Some(match *oid {
        o if o == oids::SHA256_RSA => (Digest::Sha256, true),
        o if o == oids::SHA384_RSA => (Digest::Sha384, true),
        o if o == oids::SHA512_RSA => (Digest::Sha512, true),
        o if o == oids::ECDSA_SHA256 => (Digest::Sha256, false),
        o if o == oids::ECDSA_SHA384 => (Digest::Sha384, false),
        o if o == oids::ECDSA_SHA512 => (Digest::Sha512, false),
        _ => return None,
    })
}

/// The scheme an X.509 signatureAlgorithm names (certificates, CRLs, OCSP responses).
pub(crate) fn x509_scheme(algorithm: &AlgorithmIdentifierOwned) -> Result<Scheme, Refusal> {
    if let Some((digest, is_rsa)) = digest_of_x509_oid(&algorithm.oid) {
        return Ok(if is_rsa {
            Scheme::RsaPkcs1(digest)
        } else {
            Scheme::Ecdsa(digest)
        });
    }
    if algorithm.oid == oids::RSA_PSS {
        return pss_scheme(algorithm);
    }
    SignatureAlgorithm::from_oid(&algorithm.oid)
        .map(Scheme::Dstu)
        .map_err(|_| Refusal::UnsupportedAlgorithm(algorithm.oid.to_string()))
}

/// The scheme of a CMS SignerInfo: its signatureAlgorithm with its digestAlgorithm.
pub(crate) fn cms_scheme(
    signature: &AlgorithmIdentifierOwned,
    digest: &AlgorithmIdentifierOwned,
) -> Result<Scheme, Refusal> {
    let oid = signature.oid;
    let unsupported = || Refusal::UnsupportedAlgorithm(oid.to_string());
    let is_dstu = oid == dstu::oid::DSTU4145_PB_LE
        || oid == dstu::oid::DSTU4145_PB_BE
        || oid == dstu::oid::DSTU4145_KUPYNA256_LE;
    if is_dstu {
        // The digest algorithm says which hash; the signature OID, which byte order.
        return match Digest::from_oid(&digest.oid)? {
            Digest::Gost34311 if oid != dstu::oid::DSTU4145_KUPYNA256_LE => Ok(Scheme::Dstu(
                SignatureAlgorithm::from_oid(&oid).map_err(|_| unsupported())?,
            )),
            Digest::Kupyna256 if oid != dstu::oid::DSTU4145_PB_BE => {
                Ok(Scheme::Dstu(SignatureAlgorithm::Kupyna256))
            }
            _ => Err(unsupported()),
        };
    }
    if oid == oids::RSA_PSS {
        let scheme = pss_scheme(signature)?;
        return match scheme {
            Scheme::RsaPss { digest: d, .. } if d.oid() == digest.oid => Ok(scheme),
            _ => Err(unsupported()),
        };
    }
    let named = digest_of_x509_oid(&oid);
    let digest = Digest::from_oid(&digest.oid)?;
    if matches!(digest, Digest::Gost34311 | Digest::Kupyna256) {
        return Err(unsupported());
    }
    match named {
        Some((d, true)) if d == digest => Ok(Scheme::RsaPkcs1(digest)),
        Some((d, false)) if d == digest => Ok(Scheme::Ecdsa(digest)),
        None if oid == oids::RSA => Ok(Scheme::RsaPkcs1(digest)),
        None if oid == oids::EC_PUBLIC_KEY => Ok(Scheme::Ecdsa(digest)),
        _ => Err(unsupported()),
    }
}

fn pss_scheme(algorithm: &AlgorithmIdentifierOwned) -> Result<Scheme, Refusal> {
    let unsupported = || Refusal::UnsupportedAlgorithm("1.2.840.113549.1.1.10 (parameters)".into());
    let params = algorithm.parameters.as_ref().ok_or_else(unsupported)?;
    let der = params.to_der().map_err(|_| unsupported())?;
    let params = rsa::pkcs1::RsaPssParams::from_der(&der).map_err(|_| unsupported())?;
    let digest = Digest::from_oid(&params.hash.oid)?;
    let mgf_hash = params.mask_gen.parameters.map(|p| p.oid);
    if params.mask_gen.oid != oids::MGF1 || mgf_hash != Some(params.hash.oid) {
        // The `rsa` crate uses the message hash for MGF1 too.
        return Err(unsupported());
    }
    if matches!(digest, Digest::Gost34311 | Digest::Kupyna256) {
        return Err(unsupported());
    }
    Ok(Scheme::RsaPss {
        digest,
        salt_len: usize::from(params.salt_len),
    })
}

/// Verifies `signature` over `message` (hashed here) with `key`.
pub(crate) fn verify(
    key: &PublicKey,
    scheme: Scheme,
    framing: Framing,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Failure> {
    match (key, scheme) {
        (PublicKey::Rsa(key), Scheme::RsaPkcs1(digest)) => {
            let hashed = digest.hash(message, &Dke::DEFAULT)?;
            let padding = match digest {
                Digest::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
                Digest::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
                Digest::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
                other => return Err(Refusal::UnsupportedDigest(other.oid().to_string()).into()),
            };
            key.verify(padding, &hashed, signature)
                .map_err(|_| Failure::Mismatch)
        }
        (PublicKey::Rsa(key), Scheme::RsaPss { digest, salt_len }) => {
            let hashed = digest.hash(message, &Dke::DEFAULT)?;
            let padding = match digest {
                Digest::Sha256 => Pss::new_with_salt::<Sha256>(salt_len),
                Digest::Sha384 => Pss::new_with_salt::<Sha384>(salt_len),
                Digest::Sha512 => Pss::new_with_salt::<Sha512>(salt_len),
                other => return Err(Refusal::UnsupportedDigest(other.oid().to_string()).into()),
            };
            key.verify(padding, &hashed, signature)
                .map_err(|_| Failure::Mismatch)
        }
        (PublicKey::P256(key), Scheme::Ecdsa(digest)) => {
            let hashed = digest.hash(message, &Dke::DEFAULT)?;
            let signature =
                p256::ecdsa::DerSignature::from_bytes(signature).map_err(|_| Failure::Mismatch)?;
            key.verify_prehash(&hashed, &signature)
                .map_err(|_| Failure::Mismatch)
        }
        (PublicKey::P384(key), Scheme::Ecdsa(digest)) => {
            let hashed = digest.hash(message, &Dke::DEFAULT)?;
            let signature =
                p384::ecdsa::DerSignature::from_bytes(signature).map_err(|_| Failure::Mismatch)?;
            key.verify_prehash(&hashed, &signature)
                .map_err(|_| Failure::Mismatch)
        }
        (PublicKey::Dstu(key), Scheme::Dstu(algorithm)) => {
            let order = algorithm.byte_order();
            let parsed = match framing {
                Framing::X509 => dstu::Signature::from_octet_string_der(signature, order),
                Framing::Cms => dstu::Signature::from_bytes(signature, order),
            };
            let parsed = parsed.map_err(|_| Failure::Mismatch)?;
            key.verify_message(algorithm, message, &parsed)
                .map_err(|error| match error {
                    dstu::Error::UnsupportedDke => Failure::Unsupported(Refusal::UnsupportedDke),
                    _ => Failure::Mismatch,
                })
        }
        // A key of one kind and a signature of another: nothing to verify against.
        _ => Err(Failure::Mismatch),
    }
}
