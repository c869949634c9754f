//! What a verification refuses, with the texts API clients see.
//!
//! eHealth's signature service answers an envelope it cannot read as a request error, and every
//! signature with `is_valid` and a `validation_error_message`. [`EnvelopeError`] is the first kind,
//! [`Refusal`] the second; their `Display` is the message. The texts eHealth has are kept verbatim,
//! its spelling included ("siganture", "verificaton"), so clients that match on them keep working.

use std::fmt;

/// The envelope as a whole cannot be verified.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// The input is not base64 (standard alphabet; padding and line breaks are tolerated).
    NotBase64,
    /// Not a DER CMS ContentInfo holding a SignedData (BER indefinite lengths included).
    Malformed,
    /// A layer holds a number of SignerInfos other than one.
    SignerCount(usize),
    /// The SignedData has no encapsulated content (a detached signature).
    ContentNotAttached,
    /// More nested SignedData layers than the settings allow.
    TooDeep(usize),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::NotBase64 => f.write_str("Not a base64 string"),
            EnvelopeError::Malformed => {
                f.write_str("Malformed signed data: not a CMS/PKCS#7 SignedData envelope")
            }
            EnvelopeError::SignerCount(n) => {
                write!(
                    f,
                    "document must be signed by 1 signer but contains {n} signatures"
                )
            }
            EnvelopeError::ContentNotAttached => f.write_str("signed content is not attached"),
            EnvelopeError::TooDeep(max) => {
                write!(f, "Malformed signed data: more than {max} nested envelopes")
            }
        }
    }
}

impl std::error::Error for EnvelopeError {}

/// Why one signature is not valid. `Display` gives its `validation_error_message`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The SignerInfo's certificate is not in the envelope (eHealth's text).
    SignerCertificateMissing,
    /// The SignerInfo or its certificate cannot be read (eHealth's text).
    SignerCertificateUnreadable,
    /// messageDigest, contentType or the signature over the signed attributes is wrong (eHealth's text).
    SignatureInvalid,
    /// No path from the certificate to a configured trust anchor (eHealth's text).
    NoTrustedRoot,
    /// An issuer was found by name but its signature on a certificate of the path is wrong (eHealth's text).
    IssuerSignatureInvalid,
    /// An issuer in the path is not a CA (basicConstraints), or its keyUsage lacks keyCertSign.
    IssuerNotCa,
    /// More CA certificates below an issuer than its pathLenConstraint allows.
    PathLengthExceeded,
    /// The signer certificate's keyUsage has neither digitalSignature nor nonRepudiation.
    SignerKeyUsage,
    /// A certificate of the path has a critical extension this verifier does not process.
    UnsupportedCriticalExtension(String),
    /// No timestamp token and the settings require one (eHealth's text).
    NoTimestamp,
    /// The timestamp token cannot be read (eHealth's text).
    TimestampUnreadable,
    /// The TSA certificate is neither configured nor chains to an anchor as a TSA (eHealth's text).
    TsaNotTrusted,
    /// The token's signature or its message imprint is wrong (eHealth's text).
    TimestampInvalid,
    /// The token's time is later than the verification time (beyond the allowed skew).
    TimestampInFuture,
    /// A certificate of the path is outside its validity at the timestamp's time (eHealth's text).
    NotValidAtTimestamp,
    /// A certificate of the path expired before the verification time (eHealth's text).
    Expired,
    /// A certificate of the path is not yet valid at the time of signing (no timestamp).
    NotYetValid,
    /// A fresh CRL or OCSP answer lists the certificate as revoked.
    Revoked,
    /// Neither a fresh CRL nor an OCSP answer gives the certificate's status.
    RevocationUnknown,
    /// A signature algorithm (OID) this verifier does not implement.
    UnsupportedAlgorithm(String),
    /// A digest algorithm (OID) this verifier does not implement.
    UnsupportedDigest(String),
    /// An elliptic curve (OID or parameters) this verifier does not implement.
    UnsupportedCurve(String),
    /// GOST 34.311 with an S-box other than DKE №1.
    UnsupportedDke,
    /// A public key that does not decode or is not a valid point / modulus.
    InvalidPublicKey,
    /// The certificate gives two different DRFO (subjectDirectoryAttributes vs. serialNumber).
    DrfoConflict,
    /// The certificate gives two different EDRPOU (subjectDirectoryAttributes vs. organizationIdentifier).
    EdrpouConflict,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Refusal::SignerCertificateMissing => {
                "retrieving certificate from signed data container failed"
            }
            Refusal::SignerCertificateUnreadable => {
                "processing certificate information from signed data failed"
            }
            Refusal::SignatureInvalid => {
                "verification of data siganture for a given subscriber failed"
            }
            Refusal::NoTrustedRoot => "matching ROOT certificate not found",
            Refusal::IssuerSignatureInvalid => "ROOT certificate signature verification failed",
            Refusal::IssuerNotCa => "issuer certificate is not a certification authority",
            Refusal::PathLengthExceeded => "certificate path length constraint exceeded",
            Refusal::SignerKeyUsage => "signer certificate key usage does not allow signing",
            Refusal::UnsupportedCriticalExtension(oid) => {
                return write!(f, "certificate has an unsupported critical extension {oid}")
            }
            Refusal::NoTimestamp => {
                "retrieving a timestamp of data from an envelope with signed data failed"
            }
            Refusal::TimestampUnreadable => {
                "loading information about the response with a timestamp failed"
            }
            Refusal::TsaNotTrusted => "matching TSP certificate not found",
            Refusal::TimestampInvalid => {
                "checking the signature of a response with a timestamp failed"
            }
            Refusal::TimestampInFuture => "signature timestamp is later than the verification time",
            Refusal::NotValidAtTimestamp => "signature timestamp verification failed",
            Refusal::Expired => "certificate timestamp expired",
            Refusal::NotYetValid => "certificate is not yet valid",
            Refusal::Revoked => "certificate is revoked",
            Refusal::RevocationUnknown => {
                "certificate revocation status is unknown: no fresh CRL and no OCSP answer"
            }
            Refusal::UnsupportedAlgorithm(oid) => {
                return write!(f, "unsupported signature algorithm {oid}")
            }
            Refusal::UnsupportedDigest(oid) => {
                return write!(f, "unsupported digest algorithm {oid}")
            }
            Refusal::UnsupportedCurve(curve) => {
                return write!(f, "unsupported elliptic curve {curve}")
            }
            Refusal::UnsupportedDke => {
                "unsupported DKE: GOST 34.311 is available with the standard DKE only"
            }
            Refusal::InvalidPublicKey => "certificate public key is invalid",
            Refusal::DrfoConflict => "signer certificate carries two different DRFO values",
            Refusal::EdrpouConflict => "signer certificate carries two different EDRPOU values",
        };
        f.write_str(text)
    }
}

impl std::error::Error for Refusal {}

/// Why a trust anchor, TSA certificate or CRL source could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError(pub String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}
