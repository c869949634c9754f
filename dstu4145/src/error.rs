use std::fmt;

/// Why a key, parameters or a signature were refused. Verification never panics on its input:
/// every malformed or hostile value ends here.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The DER is malformed or does not have the DSTU 4145 structure; the text says where.
    Asn1(String),
    /// An algorithm OID this crate does not verify (e.g. the optimal normal basis, 1.2.804.2.1.1.1.1.3.1.2).
    UnsupportedAlgorithm(String),
    /// A named-curve OID outside 1.2.804.2.1.1.1.1.3.1.1.2.0 … .9.
    UnknownNamedCurve(String),
    /// Explicit parameters that are not one of the standard's ten polynomial-basis curves.
    NonStandardCurve(&'static str),
    /// The base point of explicit parameters does not decompress to a point of order n.
    InvalidBasePoint,
    /// The public key is not a canonical encoding of a point on the curve.
    InvalidPublicKey(&'static str),
    /// The public key is on the curve but not in the subgroup of order n (or is the point at infinity).
    PublicKeyNotInSubgroup,
    /// A DKE (GOST 28147 S-box) that is not 64 bytes long.
    InvalidDke,
    /// GOST 34.311 with a DKE other than the standard one (DKE №1) is not available.
    UnsupportedDke,
    /// The signature bytes cannot be split into r and s for this curve (length, framing).
    InvalidSignatureEncoding(&'static str),
    /// r or s is zero or not below n.
    SignatureOutOfRange,
    /// The hash value is empty or longer than 64 bytes.
    InvalidHash,
    /// Everything was well-formed, but the signature does not verify.
    SignatureMismatch,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Asn1(detail) => write!(f, "malformed DSTU 4145 DER: {detail}"),
            Error::UnsupportedAlgorithm(oid) => write!(f, "unsupported algorithm {oid}"),
            Error::UnknownNamedCurve(oid) => write!(f, "unknown DSTU 4145 named curve {oid}"),
            Error::NonStandardCurve(why) => {
                write!(
                    f,
                    "explicit curve parameters are not a DSTU 4145 curve: {why}"
                )
            }
            Error::InvalidBasePoint => write!(f, "the base point is not a point of order n"),
            Error::InvalidPublicKey(why) => write!(f, "invalid public key: {why}"),
            Error::PublicKeyNotInSubgroup => {
                write!(f, "the public key is not in the subgroup of order n")
            }
            Error::InvalidDke => write!(f, "the DKE (S-box) must be 64 bytes"),
            Error::UnsupportedDke => {
                write!(f, "GOST 34.311 is available with the standard DKE only")
            }
            Error::InvalidSignatureEncoding(why) => write!(f, "invalid signature encoding: {why}"),
            Error::SignatureOutOfRange => write!(f, "signature component r or s is not in 1..n-1"),
            Error::InvalidHash => write!(f, "the hash must be 1 to 64 bytes"),
            Error::SignatureMismatch => write!(f, "the signature does not verify"),
        }
    }
}

impl std::error::Error for Error {}

impl From<der::Error> for Error {
    fn from(error: der::Error) -> Self {
        Error::Asn1(error.to_string())
    }
}
