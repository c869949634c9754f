//! Shared by the test files: fixtures, a DER writer and editor (to splice timestamp tokens into
//! openssl's envelopes and to corrupt bytes), and verifier set-ups.
#![allow(dead_code, unused_imports)]

pub use ehealth_test_pki::{der_writer, dstu};

pub mod dstu_pki;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ehealth_signature::{certificates_from_file, RevocationStore, Settings, TrustStore, Verifier};

pub fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(path)
}

pub fn read(path: &str) -> Vec<u8> {
    std::fs::read(data(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fixtures' "now": an hour after they were generated.
pub fn now() -> SystemTime {
    let secs: u64 = std::fs::read_to_string(data("now.txt"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    UNIX_EPOCH + Duration::from_secs(secs)
}

pub fn trust(anchors: &[&str], tsa: &[&str]) -> TrustStore {
    let mut trust = TrustStore::new();
    for a in anchors {
        trust.add_anchors(certificates_from_file(&data(a)).unwrap());
    }
    for t in tsa {
        trust.add_tsa_certificates(certificates_from_file(&data(t)).unwrap());
    }
    trust
}

pub fn crls(folder: &str) -> RevocationStore {
    RevocationStore::new().with_folder(&data(folder)).unwrap()
}

/// Anchors: the test root; CRLs: `crl/`; eHealth's settings.
pub fn verifier() -> Verifier {
    verifier_with_settings(Settings::default())
}

/// Anchors: the test root; CRLs: `crl/`; `settings`.
pub fn verifier_with_settings(settings: Settings) -> Verifier {
    verifier_with(trust(&["pki/root.pem"], &[]), crls("crl"), settings)
}

pub fn verifier_with(trust: TrustStore, crls: RevocationStore, settings: Settings) -> Verifier {
    Verifier::new(Arc::new(trust), Arc::new(crls), settings)
}

/// `envelopes/NAME.p7s` with `tokens/TOKEN.tst` as its signature timestamp.
pub fn stamped(name: &str, token: &str) -> Vec<u8> {
    with_signature_timestamp(
        &read(&format!("envelopes/{name}.p7s")),
        &read(&format!("tokens/{token}.tst")),
    )
}

pub use ehealth_test_pki::cms::{with_signature_timestamp, SIGNER_INFO};

/// The byte offset of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle not found")
}

pub fn flipped(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[at] ^= 0x01;
    out
}
