//! Digital signatures of signed content: the recall's `signed_data`, base64 of a DER CMS
//! SignedData envelope with the signed document attached, possibly wrapped in an organisation's
//! seal (a SignedData whose content is the personal SignedData).
//!
//! A [`SignatureVerifier`] decodes an envelope and checks every signature in it, answering what
//! eHealth's signature service answers: the content, and per signature (one per nested layer,
//! the outermost first) whether it is valid, why not, and who signed. Two implement it:
//! [`BuiltinVerifier`] checks locally with the `ehealth-signature` crate (RSA, ECDSA P-256/P-384
//! and DSTU 4145; trust anchors, RFC 3161 timestamps, CRL and OCSP), and [`ExternalVerifier`]
//! asks an external signature service over HTTP in eHealth's DS API shape ([`ds_api`]). The
//! handlers see only this trait and [`single_valid_signature`], eHealth's rule on the answer.

mod builtin;
pub mod ds_api;
mod external;
mod identity;
mod rule;
pub mod setup;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use ehealth_aggregates::drfo::Drfo;
use futures::future::BoxFuture;

pub use builtin::BuiltinVerifier;
pub use external::ExternalVerifier;
pub use rule::{single_valid_signature, SEAL_EDRPOU_MISMATCH};

/// Why a signed envelope was refused as a whole, or why no verifier could answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("Not a base64 string")]
    NotBase64,
    #[error("Malformed signed data: not a CMS/PKCS#7 SignedData envelope")]
    Malformed,
    #[error("document must be signed by 1 signer but contains {0} signatures")]
    SignerCount(usize),
    /// A signature is not valid, or the envelope cannot be accepted: the message clients see.
    #[error("{0}")]
    Invalid(String),
    /// The external signature service did not answer usably; nothing is known of the signature.
    #[error("signature service unavailable: {0}")]
    Unavailable(String),
    /// The verifier failed; nothing is known of the signature.
    #[error("signature verification failed: {0}")]
    Failed(String),
}

/// Who signed, from the signer's certificate, with eHealth's signature service's fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signer {
    /// The tax number (or passport / ID-card number): the `subjectDirectoryAttributes` DRFO
    /// attribute, else the subject `serialNumber` (`TINUA-`, `PASUA-`, `IDCUA-`).
    pub drfo: Option<Drfo>,
    /// The organisation's EDRPOU: its `subjectDirectoryAttributes` attribute, else
    /// `organizationIdentifier` (`NTRUA-`).
    pub edrpou: Option<String>,
    pub common_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub organization_name: Option<String>,
    pub organizational_unit_name: Option<String>,
    pub title: Option<String>,
    pub country_name: Option<String>,
    pub locality_name: Option<String>,
    pub state_or_province_name: Option<String>,
}

impl Signer {
    /// An organisation's seal: its certificate names an EDRPOU and no person.
    pub fn is_seal(&self) -> bool {
        self.drfo.is_none() && self.edrpou.is_some()
    }
}

/// One signature of an envelope, as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    pub is_valid: bool,
    /// Why it is not valid (`None` when it is).
    pub validation_error_message: Option<String>,
    pub signer: Signer,
}

/// A decoded envelope: the innermost content and one check per layer, the outermost first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEnvelope {
    /// The signed document, byte for byte.
    pub content: Vec<u8>,
    pub signatures: Vec<SignatureCheck>,
}

/// Checks signed envelopes.
pub trait SignatureVerifier: Send + Sync {
    /// Decodes `signed_data` (base64 of a DER envelope; padding optional, whitespace tolerated)
    /// and checks every signature as of `at` (the request's time: the signing time when the
    /// signature carries no timestamp and none is required). An envelope that cannot be decoded
    /// is an error; a signature that does not verify is a [`SignatureCheck`] that is not valid.
    fn verify<'a>(
        &'a self,
        signed_data: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<SignedEnvelope, SignatureError>>;
}

/// Content whose signature was accepted, and its (personal) signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDocument {
    pub content: Vec<u8>,
    pub signer: Signer,
    /// The seals around the personal signature, outermost first (their EDRPOU was checked).
    pub seals: Vec<Signer>,
}
