//! Measures a full verification (signature, path, timestamp, CRL) per key kind:
//! `cargo run --release -p ehealth-signature --example verification_cost`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Instant, UNIX_EPOCH};

use common::der_writer::{at, split};
use common::dstu::{self, Hash, Key, SignerInfoParts};
use common::*;
use ehealth_signature::{Certificate, RevocationStore, Settings, TrustStore, Verifier};

fn time(label: &str, verifier: &Verifier, envelope: &[u8], rounds: u32) {
    let verified = verifier.verify_der(envelope, now()).unwrap();
    assert!(
        verified.all_valid(),
        "{label}: {:?}",
        verified.first_refusal()
    );
    let start = Instant::now();
    for _ in 0..rounds {
        verifier.verify_der(envelope, now()).unwrap();
    }
    let each = start.elapsed() / rounds;
    println!("{label:<32} {:>8.2} ms", each.as_secs_f64() * 1e3);
}

fn dstu_envelope(hash: Hash) -> (Verifier, Vec<u8>) {
    let now = now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let validity = (now - 86_400, now + 86_400);
    let mut ca_key = Key::new(1);
    let ca_name = dstu::name("CA", &[]);
    let spki = ca_key.spki.clone();
    let ca = dstu::certificate(
        &mut ca_key,
        &ca_name,
        &ca_name,
        &spki,
        &[1],
        validity,
        &dstu::ca_extensions(),
        hash,
    );
    let mut key = Key::new(2);
    let signer = dstu::certificate(
        &mut ca_key,
        &ca_name,
        &dstu::name("Signer", &[]),
        &key.spki,
        &[2],
        validity,
        &dstu::signer_extensions("1234567890"),
        hash,
    );
    let mut tsa_key = Key::new(3);
    let tsa = dstu::certificate(
        &mut ca_key,
        &ca_name,
        &dstu::name("TSA", &[]),
        &tsa_key.spki,
        &[3],
        validity,
        &dstu::tsa_extensions(),
        hash,
    );
    let content = br#"{"status":"active"}"#;
    let info = dstu::signer_info(SignerInfoParts {
        key: &mut key,
        certificate: &signer,
        issuer: &ca_name,
        hash,
        content,
        content_type: "1.2.840.113549.1.7.1",
        extra_signed: Vec::new(),
    });
    let envelope = dstu::signed_data(
        hash,
        "1.2.840.113549.1.7.1",
        content,
        &[&signer.der, &ca.der],
        info,
    );
    let signature = split(at(&envelope, &[1, 0, -1, 0, 5])).1.to_vec();
    let token = dstu::token(&mut tsa_key, &tsa, &ca_name, &signature, now - 60);
    let crls = RevocationStore::new();
    crls.add(&dstu::crl(
        &mut ca_key,
        &ca_name,
        now - 60,
        now + 86_400,
        &[],
    ))
    .unwrap();
    let mut trust = TrustStore::new();
    trust.add_anchors(vec![Certificate::from_der(&ca.der).unwrap()]);
    let verifier = Verifier::new(Arc::new(trust), Arc::new(crls), Settings::default());
    (verifier, with_signature_timestamp(&envelope, &token))
}

fn main() {
    println!("full verification (CMS signature, path, RFC 3161 token, CRL), mean of the rounds:");
    let verifier = verifier();
    for (label, name) in [
        ("RSA-2048 PKCS#1 v1.5 / SHA-256", "rsa"),
        ("RSA-2048 PSS / SHA-256", "pss"),
        ("ECDSA P-256 / SHA-256", "p256"),
        ("ECDSA P-384 / SHA-384", "p384"),
    ] {
        time(label, &verifier, &stamped(name, name), 50);
    }
    for (label, hash) in [
        ("DSTU 4145-257 / GOST 34.311", Hash::Gost),
        ("DSTU 4145-257 / Kupyna-256", Hash::Kupyna),
    ] {
        let (verifier, envelope) = dstu_envelope(hash);
        time(label, &verifier, &envelope, 10);
    }
}
