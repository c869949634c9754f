//! Measures a full verification (signature, path, timestamp, CRL) per key kind:
//! `cargo run --release -p ehealth-signature --example verification_cost`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use common::dstu::Hash;
use common::dstu_pki;
use common::*;
use ehealth_signature::Verifier;

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

/// A DSTU 4145 envelope stamped by a DSTU TSA, and a verifier that trusts its CA.
fn dstu_envelope(hash: Hash) -> (Verifier, Vec<u8>) {
    let mut pki = dstu_pki::pki(hash);
    let envelope = pki.stamped(hash);
    (pki.verifier(&[]), envelope)
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
