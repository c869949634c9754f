//! What a verification answers, in the shape of eHealth's signature service:
//! `{content, signatures: [{is_valid, validation_error_message, signer: {drfo, edrpou, …}}]}`.

use std::time::SystemTime;

use crate::error::Refusal;
use crate::identity::Signer;

/// Where a signature's time comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeSource {
    /// The RFC 3161 token over the signature value (unsigned attribute
    /// `id-aa-signatureTimeStampToken`).
    SignatureTimestamp,
    /// The RFC 3161 token over the content (signed attribute `id-aa-ets-contentTimestamp`).
    ContentTimestamp,
    /// No token; the time the caller gave (allowed only when the settings do not require one).
    Caller,
}

/// One layer's signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureReport {
    /// Whether every check passed.
    pub is_valid: bool,
    /// Why not; empty when valid (eHealth's convention).
    pub validation_error_message: String,
    /// The same as a value.
    pub refusal: Option<Refusal>,
    /// Who signed, as far as the certificate was found.
    pub signer: Signer,
    /// When it was signed, once known.
    pub signing_time: Option<SystemTime>,
    /// Where `signing_time` comes from.
    pub time_source: Option<TimeSource>,
    /// The signer's certificate (DER), when found.
    pub certificate: Option<Vec<u8>>,
}

impl SignatureReport {
    pub(crate) fn new() -> SignatureReport {
        SignatureReport {
            is_valid: false,
            validation_error_message: String::new(),
            refusal: None,
            signer: Signer::default(),
            signing_time: None,
            time_source: None,
            certificate: None,
        }
    }

    pub(crate) fn finish(mut self, outcome: Result<(), Refusal>) -> SignatureReport {
        match outcome {
            Ok(()) => self.is_valid = true,
            Err(refusal) => {
                self.validation_error_message = refusal.to_string();
                self.refusal = Some(refusal);
            }
        }
        self
    }
}

/// A verified envelope: the innermost content and every layer's signature, outermost first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The signed bytes of the innermost layer, exactly as they were signed.
    pub content: Vec<u8>,
    /// One per layer: the outermost (e.g. an organisation's seal) first.
    pub signatures: Vec<SignatureReport>,
}

/// eHealth's message for content that is not JSON.
pub const MALFORMED_CONTENT: &str =
    "Malformed encoded content. Probably, you have encoded corrupted JSON.";

impl Verified {
    /// Every layer's signature is valid.
    pub fn all_valid(&self) -> bool {
        self.signatures.iter().all(|s| s.is_valid)
    }

    /// The first refusal, outermost layer first.
    pub fn first_refusal(&self) -> Option<&Refusal> {
        self.signatures.iter().find_map(|s| s.refusal.as_ref())
    }

    /// The content as JSON after removing a leading UTF-8 BOM and trailing NUL bytes, as
    /// eHealth's service does; `Err` carries its message.
    pub fn json(&self) -> Result<serde_json::Value, &'static str> {
        let mut bytes = self.content.as_slice();
        if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
            bytes = rest;
        }
        while let Some(rest) = bytes.strip_suffix(b"\0") {
            bytes = rest;
        }
        serde_json::from_slice(bytes).map_err(|_| MALFORMED_CONTENT)
    }
}
