//! CMS signature verification as eHealth's signature service performs it, without OpenSSL:
//! RSA (PKCS#1 v1.5, PSS), ECDSA (P-256, P-384) and DSTU 4145 (Ukrainian qualified signatures,
//! GOST 34.311 or Kupyna-256) signatures; the path to configured trust anchors; an RFC 3161
//! timestamp; revocation by CRL or OCSP; nested envelopes (a personal signature under an
//! organisation's seal); the signer's DRFO, EDRPOU and names.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ehealth_signature::{certificates_from_dir, RevocationStore, Settings, TrustStore, Verifier};
//!
//! let mut trust = TrustStore::new();
//! trust.add_anchors(certificates_from_dir("/etc/ehealth/anchors".as_ref())?);
//! let revocation = RevocationStore::new().with_folder("/var/lib/ehealth/crl".as_ref())?;
//! let verifier = Verifier::new(Arc::new(trust), Arc::new(revocation), Settings::default());
//! let verified = verifier.verify_base64("MIAGCSqGSIb3…", std::time::SystemTime::now())?;
//! for signature in &verified.signatures {
//!     println!("{} {:?}", signature.is_valid, signature.signer.drfo);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod algorithm;
mod certificate;
mod chain;
mod crl;
mod envelope;
mod error;
mod identity;
mod ocsp;
mod report;
mod revocation;
mod signer_info;
mod time;
mod timestamp;
mod tlv;
mod trust;
mod verify;

pub use algorithm::KeyKind;
pub use certificate::Certificate;
pub use envelope::decode_base64;
pub use error::{EnvelopeError, LoadError, Refusal};
pub use identity::{
    drfo_from_serial_number, exact_drfo_match, signer_of, DrfoMatcher, Signer, DRFO_ATTRIBUTE,
    EDRPOU_ATTRIBUTE,
};
pub use ocsp::{OcspSettings, OcspTransport};
pub use report::{SignatureReport, TimeSource, Verified, MALFORMED_CONTENT};
pub use revocation::{CrlFetcher, RefreshReport, RevocationStore, Status};
pub use trust::{
    certificates_from_bytes, certificates_from_dir, certificates_from_file, KindCounts, TrustStore,
    TrustSummary,
};
pub use verify::{Settings, Verifier};
