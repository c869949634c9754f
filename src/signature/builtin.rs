//! The built-in verifier: OpenSSL's CMS/PKCS#7 over a fixed set of trust anchors.
//!
//! A signature is valid when it verifies over the attached bytes and the signer certificate
//! chains, at the given time, to one of the anchors. Signer certificates must be in the envelope.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::stack::{Stack, StackRef};
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509Ref, X509StoreContext, X509VerifyResult, X509};

use super::{der, signer, SignatureCheck, SignatureError, SignatureVerifier, SignedEnvelope};

const NOT_ATTACHED: &str = "signed content is not attached";
const NO_SIGNER_CERTIFICATE: &str = "signer certificate is not included in the signed data";
const CONTENT_MISMATCH: &str = "signature is invalid: it does not match the signed content";
/// Allocation-level OpenSSL failures: nothing the client can act on.
const INTERNAL: &str = "signature verification failed due to an internal error";

/// Verifies signed envelopes against a fixed set of trust anchors.
///
/// Immutable after construction, cheap to clone and `Send + Sync`, so one instance can be shared
/// across request handlers; verification runs on the blocking pool.
#[derive(Clone)]
pub struct BuiltinVerifier {
    anchors: Arc<Vec<X509>>,
}

impl fmt::Debug for BuiltinVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltinVerifier")
            .field("anchors", &self.anchors.len())
            .finish_non_exhaustive()
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

impl BuiltinVerifier {
    /// Parse a PEM file's contents holding one or more CA certificates (the trust anchors).
    pub fn from_pem(pem: &[u8]) -> Result<Self, SignatureError> {
        let certs = X509::stack_from_pem(pem).map_err(|e| {
            SignatureError::TrustAnchors(format!(
                "trust anchors are not valid PEM certificates: {}",
                short_reason(&e)
            ))
        })?;
        if certs.is_empty() {
            return Err(SignatureError::TrustAnchors(
                "no certificate found in trust anchors PEM".to_owned(),
            ));
        }
        // A store that cannot be built now never will be: say so at startup.
        trust_store(&certs, None).map_err(|e| {
            SignatureError::TrustAnchors(format!("cannot build trust store: {}", short_reason(&e)))
        })?;
        Ok(Self {
            anchors: Arc::new(certs),
        })
    }

    /// Read and parse a PEM file of trust anchors (see [`BuiltinVerifier::from_pem`]).
    pub fn from_pem_file(path: &Path) -> Result<Self, SignatureError> {
        let pem = std::fs::read(path).map_err(|e| {
            SignatureError::TrustAnchors(format!(
                "cannot read trust anchors file {}: {e}",
                path.display()
            ))
        })?;
        Self::from_pem(&pem)
    }

    /// [`SignatureVerifier::verify`] on the calling thread.
    pub fn verify_blocking(
        &self,
        signed_data: &str,
        at: DateTime<Utc>,
    ) -> Result<SignedEnvelope, SignatureError> {
        let der = decode_base64(signed_data)?;

        // OpenSSL's parser is the authority on well-formedness; the local
        // scan below only runs on input it has already accepted.
        let p7 = Pkcs7::from_der(&der).map_err(|_| SignatureError::Malformed)?;
        let signed = p7.signed().ok_or(SignatureError::Malformed)?;
        let layout = der::scan_signed_data(&der).ok_or(SignatureError::Malformed)?;
        if layout.signer_infos == 0 {
            return Ok(SignedEnvelope {
                content: Vec::new(),
                signatures: Vec::new(),
            });
        }
        let store = trust_store(&self.anchors, Some(at));
        let no_extra_certs: Stack<X509> = Stack::new().map_err(|_| internal())?;
        // The envelope's certificates: the signers' and any intermediates.
        let embedded: &StackRef<X509> = signed.certificates().unwrap_or(&no_extra_certs);
        // Signer certificates, one per SignerInfo, in order; `None` when one is missing.
        let signers = p7.signers(&no_extra_certs, Pkcs7Flags::empty()).ok();

        // Checks of the envelope as a whole (OpenSSL verifies every signature at once); the
        // chain is checked per signer.
        let mut content = Vec::new();
        let envelope_error = if !layout.content_attached {
            Some(NOT_ATTACHED.to_owned())
        } else if signers.as_ref().is_none_or(|s| s.is_empty()) {
            Some(NO_SIGNER_CERTIFICATE.to_owned())
        } else {
            match &store {
                // Chain checking is done separately (NOVERIFY here) because PKCS7_verify folds
                // every chain failure into one opaque error and imposes the S/MIME-signing
                // purpose on the certificate.
                Ok(store) => p7
                    .verify(
                        &no_extra_certs,
                        store,
                        None,
                        Some(&mut content),
                        Pkcs7Flags::NOVERIFY,
                    )
                    .err()
                    .map(|_| CONTENT_MISMATCH.to_owned()),
                Err(_) => Some(INTERNAL.to_owned()),
            }
        };
        if envelope_error.is_some() {
            content.clear();
        }

        let signatures = (0..layout.signer_infos)
            .map(|i| {
                let cert = signers.as_ref().and_then(|s| s.get(i));
                let error = envelope_error.clone().or_else(|| match (cert, &store) {
                    (None, _) => Some(NO_SIGNER_CERTIFICATE.to_owned()),
                    (Some(cert), Ok(store)) => chain_error(store, cert, embedded),
                    (Some(_), Err(_)) => Some(INTERNAL.to_owned()),
                });
                SignatureCheck {
                    is_valid: error.is_none(),
                    validation_error_message: error,
                    signer: cert.map(signer::identity).unwrap_or_default(),
                }
            })
            .collect();
        Ok(SignedEnvelope {
            content,
            signatures,
        })
    }
}

/// The store of the anchors, checking validity at `at` (now when `None`).
fn trust_store(
    anchors: &[X509],
    at: Option<DateTime<Utc>>,
) -> Result<X509Store, openssl::error::ErrorStack> {
    let mut builder = X509StoreBuilder::new()?;
    for cert in anchors {
        builder.add_cert(cert.clone())?;
    }
    // An anchor is trusted as configured: an intermediate CA listed in
    // the file ends the chain without its root having to be listed too.
    builder.set_flags(X509VerifyFlags::PARTIAL_CHAIN)?;
    if let Some(at) = at {
        let mut param = X509VerifyParam::new()?;
        param.set_time(at.timestamp() as _);
        builder.set_param(&param)?;
    }
    Ok(builder.build())
}

/// Why `signer` does not chain to an anchor, if it does not.
fn chain_error(store: &X509Store, signer: &X509Ref, chain: &StackRef<X509>) -> Option<String> {
    let Ok(mut ctx) = X509StoreContext::new() else {
        return Some(INTERNAL.to_owned());
    };
    let outcome = ctx.init(store, signer, chain, |ctx| {
        if ctx.verify_cert()? {
            return Ok(None);
        }
        // A failed verification may leave entries on this thread's
        // OpenSSL error queue; drop them so they cannot surface in
        // an unrelated later call on the same worker thread.
        drop(openssl::error::ErrorStack::get());
        Ok(Some(ctx.error()))
    });
    match outcome {
        Ok(None) => None,
        Ok(Some(result)) => Some(chain_error_message(result)),
        Err(_) => Some(INTERNAL.to_owned()),
    }
}

/// Raw `X509_V_ERR_*` codes from `openssl/x509_vfy.h`; the `openssl` crate
/// exposes only `OK`. These values have been stable since OpenSSL 0.9.
mod x509_v_err {
    pub const UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
    pub const CERT_SIGNATURE_FAILURE: i32 = 7;
    pub const CERT_NOT_YET_VALID: i32 = 9;
    pub const CERT_HAS_EXPIRED: i32 = 10;
    pub const DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
    pub const SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
    pub const UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
    pub const UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
    pub const CERT_REVOKED: i32 = 23;
}

fn chain_error_message(result: X509VerifyResult) -> String {
    use x509_v_err::*;
    match result.as_raw() {
        UNABLE_TO_GET_ISSUER_CERT
        | DEPTH_ZERO_SELF_SIGNED_CERT
        | SELF_SIGNED_CERT_IN_CHAIN
        | UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | UNABLE_TO_VERIFY_LEAF_SIGNATURE => "matching ROOT certificate not found".to_owned(),
        CERT_HAS_EXPIRED => "certificate timestamp expired".to_owned(),
        CERT_NOT_YET_VALID => "certificate is not yet valid".to_owned(),
        CERT_SIGNATURE_FAILURE => "certificate signature is invalid".to_owned(),
        CERT_REVOKED => "certificate is revoked".to_owned(),
        _ => format!("certificate verification failed: {}", result.error_string()),
    }
}

fn decode_base64(input: &str) -> Result<Vec<u8>, SignatureError> {
    // Clients differ on padding, and some wrap long base64 at 64/76 columns.
    const ENGINE: GeneralPurpose = GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: Vec<u8> = input.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let der = ENGINE
        .decode(&compact)
        .map_err(|_| SignatureError::NotBase64)?;
    // "" is valid base64, but of nothing that could be an envelope.
    if der.is_empty() {
        return Err(SignatureError::Malformed);
    }
    Ok(der)
}

fn internal() -> SignatureError {
    SignatureError::Invalid(INTERNAL.to_owned())
}

fn short_reason(stack: &openssl::error::ErrorStack) -> String {
    stack
        .errors()
        .first()
        .and_then(|e| e.reason())
        .unwrap_or("unknown error")
        .to_owned()
}
