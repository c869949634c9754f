//! The built-in verifier: the `ehealth-signature` crate (RustCrypto; RSA, ECDSA P-256/P-384,
//! DSTU 4145 with GOST 34.311 or Kupyna-256) over the configured trust anchors, TSA certificates
//! and revocation data, on the blocking pool (a DSTU 4145 verification takes tenths of a second,
//! and OCSP is asked synchronously).

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use ehealth_signature::{EnvelopeError, Verified, Verifier};
use futures::future::BoxFuture;

use super::{identity, SignatureCheck, SignatureError, SignatureVerifier, SignedEnvelope};

/// Verifies envelopes locally. Cheap to clone and `Send + Sync`: one instance serves every
/// request; the revocation data behind it is refreshed in place (see [`super::setup`]).
#[derive(Clone)]
pub struct BuiltinVerifier {
    verifier: Arc<Verifier>,
}

impl fmt::Debug for BuiltinVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltinVerifier")
            .field("settings", self.verifier.settings())
            .finish_non_exhaustive()
    }
}

impl BuiltinVerifier {
    pub fn new(verifier: Verifier) -> BuiltinVerifier {
        BuiltinVerifier {
            verifier: Arc::new(verifier),
        }
    }

    /// [`SignatureVerifier::verify`] on the calling thread.
    pub fn verify_blocking(
        &self,
        signed_data: &str,
        at: DateTime<Utc>,
    ) -> Result<SignedEnvelope, SignatureError> {
        let at = SystemTime::from(at);
        let verified = self
            .verifier
            .verify_base64(signed_data, at)
            .map_err(envelope_error)?;
        Ok(envelope(verified))
    }
}

impl SignatureVerifier for BuiltinVerifier {
    fn verify<'a>(
        &'a self,
        signed_data: &'a str,
        at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<SignedEnvelope, SignatureError>> {
        let verifier = self.clone();
        let signed_data = signed_data.to_owned();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || verifier.verify_blocking(&signed_data, at))
                .await
                .map_err(|e| SignatureError::Failed(e.to_string()))?
        })
    }
}

fn envelope(verified: Verified) -> SignedEnvelope {
    SignedEnvelope {
        content: verified.content,
        signatures: verified
            .signatures
            .into_iter()
            .map(|report| SignatureCheck {
                is_valid: report.is_valid,
                validation_error_message: (!report.is_valid)
                    .then_some(report.validation_error_message),
                signer: identity::signer(report.signer),
            })
            .collect(),
    }
}

fn envelope_error(error: EnvelopeError) -> SignatureError {
    match error {
        EnvelopeError::NotBase64 => SignatureError::NotBase64,
        EnvelopeError::Malformed => SignatureError::Malformed,
        EnvelopeError::SignerCount(n) => SignatureError::SignerCount(n),
        // Detached content, too many layers: the envelope cannot be accepted, in its words.
        other => SignatureError::Invalid(other.to_string()),
    }
}
