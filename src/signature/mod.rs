//! Digital signatures of signed content: the recall's `signed_data`, base64 of a DER CMS/PKCS#7
//! SignedData envelope with the signed document attached.
//!
//! A [`SignatureVerifier`] decodes an envelope and checks every signature in it at a given time,
//! answering what eHealth's signature service answers: the content, and per signature whether it
//! is valid, why not, and who signed (names, DRFO, EDRPOU). [`BuiltinVerifier`] does it locally
//! with OpenSSL against configured trust anchors (RSA and ECDSA). Real Ukrainian qualified
//! signatures (DSTU 4145, national CAs, OCSP) can be checked by another implementation — an
//! adapter to an external signature service, or a built-in DSTU verifier — without touching the
//! handlers: they only see this trait and [`single_valid_signature`], eHealth's rule on the answer.
//!
//! Messages in [`SignatureError`] are meant for API clients, so OpenSSL error stacks are reduced to
//! one short reason.

mod builtin;
mod der;
mod signer;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use ehealth_aggregates::drfo::Drfo;
use futures::future::BoxFuture;

pub use builtin::BuiltinVerifier;

/// Why a signed envelope was rejected, or why a verifier could not be set up or run.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("Not a base64 string")]
    NotBase64,
    #[error("Malformed signed data: not a CMS/PKCS#7 SignedData envelope")]
    Malformed,
    #[error("document must be signed by 1 signer but contains {0} signatures")]
    SignerCount(usize),
    /// The signature is not valid: the verifier's validation error message.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    TrustAnchors(String),
    /// The verifier failed; nothing is known of the signature.
    #[error("signature verification failed: {0}")]
    Failed(String),
}

/// Who signed, from the signer's certificate (its subject).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signer {
    /// `serialNumber` as a DRFO (`TINUA-` dropped).
    pub drfo: Option<Drfo>,
    /// `organizationIdentifier` as an EDRPOU (`NTRUA-` dropped): the legal entity the signer
    /// signs for, when the certificate names one.
    pub edrpou: Option<String>,
    pub common_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub organization_name: Option<String>,
}

/// One signature of an envelope, as checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureCheck {
    pub is_valid: bool,
    /// Why it is not valid (`None` when it is).
    pub validation_error_message: Option<String>,
    pub signer: Signer,
}

/// A decoded envelope: its content and a check of each of its signatures, in the envelope's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedEnvelope {
    /// The attached content, byte for byte (empty when it could not be verified).
    pub content: Vec<u8>,
    pub signatures: Vec<SignatureCheck>,
}

/// Checks signed envelopes.
pub trait SignatureVerifier: Send + Sync {
    /// Decodes `signed_data` (base64 of a DER envelope; padding optional, whitespace tolerated)
    /// and checks every signature as of `at`. An envelope that cannot be decoded is an error; a
    /// signature that does not verify is a [`SignatureCheck`] that is not valid.
    fn verify<'a>(
        &'a self,
        signed_data: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<SignedEnvelope, SignatureError>>;
}

/// Content whose signature was accepted, and its signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedDocument {
    pub content: Vec<u8>,
    pub signer: Signer,
}

/// eHealth's rule on a verifier's answer: exactly one signature (else `document must be signed
/// by 1 signer but contains N signatures`), and it is valid (else its validation error message).
pub fn single_valid_signature(
    envelope: SignedEnvelope,
) -> Result<VerifiedDocument, SignatureError> {
    let SignedEnvelope {
        content,
        mut signatures,
    } = envelope;
    if signatures.len() != 1 {
        return Err(SignatureError::SignerCount(signatures.len()));
    }
    let check = signatures.remove(0);
    if !check.is_valid {
        return Err(SignatureError::Invalid(
            check
                .validation_error_message
                .unwrap_or_else(|| "signature is invalid".to_owned()),
        ));
    }
    Ok(VerifiedDocument {
        content,
        signer: check.signer,
    })
}
