//! Trust loaders (PEM file, folder, CMS bundle) and who-signed extraction.

mod common;

use common::*;
use ehealth_signature::{
    certificates_from_bytes, certificates_from_dir, certificates_from_file,
    drfo_from_serial_number, exact_drfo_match, signer_of, Certificate, KeyKind, TrustStore,
};

#[test]
fn anchors_load_from_a_pem_file_a_folder_and_a_cms_bundle_with_a_summary() {
    let bundle = certificates_from_file(&data("pki/bundle.p7b")).unwrap();
    assert_eq!(bundle.len(), 3);
    let mut trust = TrustStore::new();
    assert_eq!(trust.add_anchors(bundle), 3);
    assert_eq!(
        trust.summary().to_string(),
        "trust anchors: 3 (RSA 2, ECDSA P-384 1); TSA certificates: 0"
    );
    // The same certificates again from PEM files are not added twice.
    let pem = [
        read("pki/root.pem"),
        read("pki/ca-rsa.pem"),
        read("pki/ca-ec.pem"),
    ]
    .concat();
    assert_eq!(certificates_from_bytes(&pem).unwrap().len(), 3);
    assert_eq!(trust.add_anchors(certificates_from_bytes(&pem).unwrap()), 0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.pem"), read("pki/signer-p256.pem")).unwrap();
    let der = certificates_from_file(&data("pki/signer-p384.pem")).unwrap()[0]
        .der()
        .to_vec();
    std::fs::write(dir.path().join("b.cer"), der).unwrap();
    std::fs::write(dir.path().join("c.p7b"), read("pki/bundle.p7b")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"ignored").unwrap();
    let loaded = certificates_from_dir(dir.path()).unwrap();
    let kinds: Vec<KeyKind> = loaded.iter().map(Certificate::key_kind).collect();
    assert_eq!(
        kinds,
        [
            KeyKind::EcdsaP256,
            KeyKind::EcdsaP384,
            KeyKind::Rsa,
            KeyKind::Rsa,
            KeyKind::EcdsaP384
        ]
    );
    trust.add_tsa_certificates(certificates_from_file(&data("pki/tsa.pem")).unwrap());
    assert_eq!(trust.summary().tsa.total(), 1);
}

#[test]
fn files_that_hold_no_certificate_are_errors() {
    assert!(certificates_from_bytes(b"").is_err());
    assert!(certificates_from_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
    assert!(certificates_from_bytes(&read("crl/ca-rsa.crl.pem")).is_err());
    assert!(certificates_from_file(&data("missing.pem")).is_err());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.cer"), b"junk").unwrap();
    let error = certificates_from_dir(dir.path()).unwrap_err();
    assert!(error.to_string().contains("bad.cer"), "{error}");
}

fn signer(path: &str) -> ehealth_signature::Signer {
    let certificate = certificates_from_file(&data(path)).unwrap().remove(0);
    let (signer, refusal) = signer_of(&certificate, exact_drfo_match);
    assert_eq!(refusal, None, "{path}");
    signer
}

#[test]
fn the_drfo_comes_from_the_directory_attribute_or_the_subject_serial_number() {
    let person = signer("pki/signer-rsa.pem");
    assert_eq!(person.drfo.as_deref(), Some("1234567890"));
    assert_eq!(
        person.subject_serial_number.as_deref(),
        Some("TINUA-1234567890")
    );
    assert_eq!(person.certificate_serial, "1000");
    assert_eq!(person.issuer_common_name.as_deref(), Some("Test RSA CA"));
    let passport = signer("pki/signer-passport.pem");
    assert_eq!(passport.drfo.as_deref(), Some("KA123456"));
    let seal = signer("pki/seal-p256.pem");
    assert_eq!(seal.edrpou.as_deref(), Some("12345678"));
    assert_eq!(seal.drfo, None);
    let revoked = signer("pki/signer-revoked.pem");
    assert_eq!(revoked.drfo.as_deref(), Some("1111111111"));
}

#[test]
fn a_drfo_conflict_is_judged_by_the_matcher_the_service_passes() {
    let certificate = certificates_from_file(&data("pki/signer-conflict.pem"))
        .unwrap()
        .remove(0);
    let (signer, refusal) = signer_of(&certificate, exact_drfo_match);
    assert_eq!(refusal, Some(ehealth_signature::Refusal::DrfoConflict));
    assert_eq!(signer.drfo, None);
    let lenient = |_: &str, _: &str| true;
    let (signer, refusal) = signer_of(&certificate, lenient);
    assert_eq!(refusal, None);
    assert_eq!(signer.drfo.as_deref(), Some("0987654321"));
}

#[test]
fn subject_serial_numbers_name_a_drfo_only_in_the_etsi_forms_or_as_ten_digits() {
    for (serial, drfo) in [
        ("TINUA-1234567890", Some("1234567890")),
        ("tinua-12345 67890", Some("1234567890")),
        ("PASUA-КА123456", Some("КА123456")),
        ("IDCUA-001234567", Some("001234567")),
        ("1234567890", Some("1234567890")),
        ("2122385", None),
        ("UA-39787008-2015", None),
        ("TINUA-", None),
        ("NTRUA-12345678", None),
    ] {
        assert_eq!(drfo_from_serial_number(serial).as_deref(), drfo, "{serial}");
    }
    assert!(exact_drfo_match("ka 123456", "KA123456"));
    assert!(!exact_drfo_match("", ""));
}
