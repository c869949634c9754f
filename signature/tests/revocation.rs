//! CRLs (openssl `ca -gencrl`, PEM and DER) and OCSP answers (openssl `ocsp`): revoked, good,
//! stale, missing, refreshed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ehealth_signature::{OcspSettings, Refusal, RevocationStore, Settings};

fn refusal_with(crls: RevocationStore, envelope: &[u8]) -> Option<Refusal> {
    let verifier = verifier_with(trust(&["pki/root.pem"], &[]), crls, Settings::default());
    let verified = verifier.verify_der(envelope, now()).unwrap();
    verified.signatures[0].refusal.clone()
}

#[test]
fn a_signer_revoked_by_its_cas_crl_is_refused() {
    let refused = refusal_with(crls("crl"), &stamped("revoked", "revoked"));
    assert_eq!(refused, Some(Refusal::Revoked));
    assert_eq!(Refusal::Revoked.to_string(), "certificate is revoked");
    assert_eq!(refusal_with(crls("crl"), &stamped("rsa", "rsa")), None);
}

#[test]
fn without_a_fresh_crl_and_without_ocsp_the_status_is_unknown_and_refused() {
    let stale = refusal_with(crls("crl-stale"), &stamped("rsa", "rsa"));
    assert_eq!(stale, Some(Refusal::RevocationUnknown));
    assert_eq!(
        Refusal::RevocationUnknown.to_string(),
        "certificate revocation status is unknown: no fresh CRL and no OCSP answer"
    );
    assert_eq!(
        refusal_with(RevocationStore::new(), &stamped("rsa", "rsa")),
        Some(Refusal::RevocationUnknown)
    );
    // A stale CRL that lists the certificate still does not count: unknown, not revoked.
    assert_eq!(
        refusal_with(crls("crl-stale"), &stamped("revoked", "revoked")),
        Some(Refusal::RevocationUnknown)
    );
}

#[test]
fn revocation_checks_can_be_turned_off_for_development() {
    let settings = Settings {
        check_revocation: false,
        ..Settings::default()
    };
    let verifier = verifier_with(
        trust(&["pki/root.pem"], &[]),
        RevocationStore::new(),
        settings,
    );
    let verified = verifier
        .verify_der(&stamped("revoked", "revoked"), now())
        .unwrap();
    assert!(verified.all_valid(), "{:?}", verified.first_refusal());
}

#[test]
fn a_crl_whose_signature_does_not_verify_is_not_used() {
    let der = read("crl-stale/root.crl");
    let store = RevocationStore::new();
    // The last byte of the signature.
    store.add(&flipped(&der, der.len() - 1)).unwrap();
    store.add(&read("crl/ca-rsa.crl.pem")).unwrap();
    // The RSA CA itself (issued by the root) has no usable CRL now.
    assert_eq!(
        refusal_with(store, &stamped("rsa", "rsa")),
        Some(Refusal::RevocationUnknown)
    );
}

#[test]
fn crls_load_from_a_folder_in_der_and_pem_and_a_newer_one_replaces_the_older() {
    let store = crls("crl");
    assert_eq!(store.summary(now()), (3, 3));
    let stale = crls("crl-stale");
    assert_eq!(stale.summary(now()), (3, 2));
    // The fresh RSA CA CRL (issued later) replaces the stale one; the older is not taken back.
    assert_eq!(stale.add(&read("crl/ca-rsa.crl.pem")).unwrap(), 1);
    assert_eq!(stale.summary(now()), (3, 3));
    assert_eq!(stale.add(&read("crl-stale/ca-rsa.crl")).unwrap(), 0);
    assert_eq!(
        refusal_with(stale, &stamped("revoked", "revoked")),
        Some(Refusal::Revoked)
    );
    assert!(store.add(b"not a CRL").is_err());
    assert!(RevocationStore::new().with_folder(&data("pki")).is_err());
}

#[test]
fn a_refresh_fetches_the_configured_addresses_and_reports_failures() {
    let store = RevocationStore::new().with_urls(vec![
        "http://crl.test/root.crl".into(),
        "http://crl.test/ca-rsa.crl".into(),
        "http://crl.test/missing.crl".into(),
    ]);
    let fetch = |url: &str| -> Result<Vec<u8>, String> {
        match url.rsplit('/').next() {
            Some("root.crl") => Ok(read("crl/root.crl")),
            Some("ca-rsa.crl") => Ok(read("crl/ca-rsa.crl.pem")),
            _ => Err("404".into()),
        }
    };
    let report = store.refresh(&fetch);
    assert_eq!(report.loaded, 2);
    assert_eq!(
        report.failures,
        vec!["http://crl.test/missing.crl: 404".to_owned()]
    );
    assert_eq!(
        report.to_string(),
        "2 CRLs loaded; failed: http://crl.test/missing.crl: 404"
    );
    assert_eq!(
        refusal_with(store, &stamped("revoked", "revoked")),
        Some(Refusal::Revoked)
    );
}

#[test]
fn a_folder_reload_takes_new_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = RevocationStore::new().with_folder(dir.path()).unwrap();
    assert_eq!(store.summary(now()), (0, 0));
    std::fs::write(dir.path().join("root.crl"), read("crl/root.crl")).unwrap();
    std::fs::write(dir.path().join("ca-rsa.pem"), read("crl/ca-rsa.crl.pem")).unwrap();
    std::fs::write(dir.path().join("junk.crl"), b"junk").unwrap();
    let report = store.reload_folder().unwrap();
    assert_eq!(report.loaded, 2);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(store.summary(now()), (2, 2));
}

fn with_ocsp(answer: Result<&'static str, &'static str>) -> RevocationStore {
    let transport = move |url: &str, request: &[u8]| -> Result<Vec<u8>, String> {
        assert_eq!(url, "http://ocsp.test/");
        assert_eq!(request[0], 0x30);
        answer.map(read).map_err(str::to_owned)
    };
    // The RSA CA's CRL is stale; the root's (for the RSA CA itself) is fresh.
    crls("crl-stale").with_ocsp(OcspSettings {
        transport: Arc::new(transport),
        responder_url: Some("http://ocsp.test/".into()),
        trusted_responders: Vec::new(),
        max_age: Duration::from_secs(3600),
    })
}

#[test]
fn ocsp_answers_when_the_crl_is_stale() {
    for (answer, signer, expected) in [
        ("ocsp/signer-rsa.der", "rsa", None),
        ("ocsp/signer-revoked.der", "revoked", Some(Refusal::Revoked)),
    ] {
        let store = with_ocsp(Ok(answer));
        assert_eq!(
            refusal_with(store, &stamped(signer, signer)),
            expected,
            "{answer}"
        );
    }
}

#[test]
fn an_ocsp_answer_about_another_certificate_or_no_answer_leaves_the_status_unknown() {
    for answer in [
        Ok("ocsp/signer-revoked.der"),
        Err("connection refused"),
        Ok("crl/root.crl"),
    ] {
        assert_eq!(
            refusal_with(with_ocsp(answer), &stamped("rsa", "rsa")),
            Some(Refusal::RevocationUnknown),
            "{answer:?}"
        );
    }
}

#[test]
fn an_ocsp_answer_with_a_corrupted_signature_is_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let der = read("ocsp/signer-revoked.der");
    let path = dir.path().join("bad.der");
    // A byte of the responder's signature (the responder certificate follows it, so count from
    // the signature's BIT STRING).
    let at = find(&der, &[0x03, 0x82, 0x01, 0x01, 0x00]) + 20;
    std::fs::write(&path, flipped(&der, at)).unwrap();
    let transport = move |_: &str, _: &[u8]| std::fs::read(&path).map_err(|e| e.to_string());
    let store = crls("crl-stale").with_ocsp(OcspSettings {
        transport: Arc::new(transport),
        responder_url: Some("http://ocsp.test/".into()),
        trusted_responders: Vec::new(),
        max_age: Duration::from_secs(3600),
    });
    assert_eq!(
        refusal_with(store, &stamped("revoked", "revoked")),
        Some(Refusal::RevocationUnknown)
    );
}
