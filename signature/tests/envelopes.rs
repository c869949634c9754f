//! RSA (PKCS#1 v1.5, PSS) and ECDSA (P-256, P-384) envelopes signed by `openssl cms`, with
//! `openssl ts` tokens: they verify, and a flipped byte anywhere that is signed is refused.

mod common;

use common::der_writer::{at, edit};
use common::*;
use ehealth_signature::{EnvelopeError, Refusal, Settings, TimeSource};

/// (envelope, has signed attributes)
const KINDS: [(&str, bool); 6] = [
    ("rsa", true),
    ("pss", true),
    ("p256", true),
    ("p384", true),
    ("rsa-sha512", true),
    ("rsa-noattr", false),
];

const CONTENT: &[u8] = br#"{"id":"4b9a2a3c-0b1e-4c2f-9a77-3f1d6f0e8a11","status":"active"}"#;

#[test]
fn every_key_kind_verifies_with_its_timestamp_and_names_the_signer() {
    let verifier = verifier();
    for (name, _) in KINDS {
        let verified = verifier.verify_der(&stamped(name, name), now()).unwrap();
        assert_eq!(verified.content, CONTENT, "{name}");
        let [signature] = verified.signatures.as_slice() else {
            panic!("{name}: one layer expected");
        };
        assert!(
            signature.is_valid,
            "{name}: {}",
            signature.validation_error_message
        );
        assert_eq!(signature.validation_error_message, "");
        assert_eq!(signature.time_source, Some(TimeSource::SignatureTimestamp));
        let at = signature.signing_time.unwrap();
        let age = now().duration_since(at).unwrap().as_secs();
        assert!(
            (3500..3700).contains(&age),
            "{name}: signed {age} s before now"
        );
        let signer = &signature.signer;
        assert_eq!(signer.drfo.as_deref(), Some("1234567890"), "{name}");
        assert_eq!(signer.surname.as_deref(), Some("Петренко"));
        assert_eq!(signer.given_name.as_deref(), Some("Іван Васильович"));
        assert_eq!(
            signer.common_name.as_deref(),
            Some("Петренко Іван Васильович")
        );
        assert_eq!(signer.edrpou, None);
        assert_eq!(verified.json().unwrap()["status"], "active");
    }
}

const MALFORMED: &str = "Malformed signed data: not a CMS/PKCS#7 SignedData envelope";

fn refusal(envelope: &[u8]) -> Refusal {
    let verified = verifier().verify_der(envelope, now()).unwrap();
    let signature = &verified.signatures[0];
    assert!(!signature.is_valid);
    assert_eq!(
        signature.validation_error_message,
        signature.refusal.as_ref().unwrap().to_string()
    );
    signature.refusal.clone().unwrap()
}

/// Asserts `envelope` is refused as `expected`, whose message is eHealth's `message`.
#[track_caller]
fn assert_refused(envelope: &[u8], expected: Refusal, message: &str) {
    let refused = refusal(envelope);
    assert_eq!(refused, expected);
    assert_eq!(refused.to_string(), message);
}

#[test]
fn a_flipped_byte_in_the_content_is_refused_for_every_key_kind() {
    for (name, _) in KINDS {
        let envelope = stamped(name, name);
        let at = find(&envelope, b"active");
        assert_eq!(
            refusal(&flipped(&envelope, at)),
            Refusal::SignatureInvalid,
            "{name}"
        );
    }
}

#[test]
fn a_flipped_byte_in_the_signed_attributes_is_refused() {
    for (name, attributes) in KINDS {
        if !attributes {
            continue;
        }
        let envelope = stamped(name, name);
        // The first byte of the last attribute's value inside [0] signedAttrs.
        let changed = edit(&envelope, &[1, 0, -1, 0, 3], &mut |content| {
            let mut c = content.to_vec();
            let last = c.len() - 1;
            c[last] ^= 0x01;
            c
        });
        assert_eq!(refusal(&changed), Refusal::SignatureInvalid, "{name}");
    }
}

#[test]
fn a_flipped_byte_in_the_signature_value_is_refused() {
    for (name, attributes) in KINDS {
        let envelope = stamped(name, name);
        let index = if attributes { 5 } else { 4 };
        let changed = edit(&envelope, &[1, 0, -1, 0, index], &mut |content| {
            let mut c = content.to_vec();
            c[10] ^= 0x01;
            c
        });
        assert_eq!(refusal(&changed), Refusal::SignatureInvalid, "{name}");
    }
}

#[test]
fn a_flipped_byte_in_the_signer_certificate_is_refused_by_its_issuer_signature() {
    for (name, _) in KINDS {
        let envelope = stamped(name, name);
        let at = find(&envelope, b"TINUA-1234567890") + 15;
        assert_eq!(
            refusal(&flipped(&envelope, at)),
            Refusal::IssuerSignatureInvalid,
            "{name}"
        );
        assert_eq!(
            Refusal::IssuerSignatureInvalid.to_string(),
            "ROOT certificate signature verification failed"
        );
    }
}

#[test]
fn without_a_timestamp_the_signature_is_refused_unless_the_settings_allow_the_callers_time() {
    let envelope = read("envelopes/rsa.p7s");
    assert_refused(
        &envelope,
        Refusal::NoTimestamp,
        "retrieving a timestamp of data from an envelope with signed data failed",
    );
    let lenient = verifier_with_settings(Settings {
        require_timestamp: false,
        ..Settings::default()
    });
    let verified = lenient.verify_der(&envelope, now()).unwrap();
    let signature = &verified.signatures[0];
    assert!(signature.is_valid, "{}", signature.validation_error_message);
    assert_eq!(signature.time_source, Some(TimeSource::Caller));
    assert_eq!(signature.signing_time, Some(now()));
}

#[test]
fn a_token_over_another_signature_is_refused() {
    assert_refused(
        &stamped("rsa", "pss"),
        Refusal::TimestampInvalid,
        "checking the signature of a response with a timestamp failed",
    );
}

#[test]
fn a_changed_token_is_refused() {
    let token = read("tokens/rsa.tst");
    // A byte of the TSTInfo (the genTime's seconds): its messageDigest no longer matches.
    let gen_time = find(&token, b"Z\x30") - 1;
    let envelope = with_signature_timestamp(&read("envelopes/rsa.p7s"), &flipped(&token, gen_time));
    assert_eq!(refusal(&envelope), Refusal::TimestampInvalid);
    // Cut short: unreadable.
    let envelope = with_signature_timestamp(&read("envelopes/rsa.p7s"), &token[..token.len() / 2]);
    let verified = verifier().verify_der(&envelope, now());
    assert!(verified.is_err() || verified.unwrap().signatures[0].refusal.is_some());
}

#[test]
fn a_token_of_an_untrusted_tsa_is_refused() {
    assert_refused(
        &stamped("rsa", "rsa-by-rogue"),
        Refusal::TsaNotTrusted,
        "matching TSP certificate not found",
    );
}

#[test]
fn a_tsa_certificate_is_trusted_as_configured_when_it_does_not_chain_to_an_anchor() {
    // Anchors: the P-384 CA only; the TSA (issued by the RSA CA) does not chain to it.
    let envelope = stamped("p256", "p256");
    let bare = verifier_with(
        trust(&["pki/ca-ec.pem"], &[]),
        crls("crl"),
        Settings::default(),
    );
    let signature = &bare.verify_der(&envelope, now()).unwrap().signatures[0];
    assert_eq!(signature.refusal, Some(Refusal::TsaNotTrusted));
    let configured = verifier_with(
        trust(&["pki/ca-ec.pem"], &["pki/tsa.pem"]),
        crls("crl"),
        Settings::default(),
    );
    let signature = &configured.verify_der(&envelope, now()).unwrap().signatures[0];
    assert!(signature.is_valid, "{}", signature.validation_error_message);
}

#[test]
fn a_certificate_valid_at_the_timestamp_but_expired_now_is_refused_as_ehealth_does() {
    let envelope = stamped("expiring", "expiring");
    assert_refused(&envelope, Refusal::Expired, "certificate timestamp expired");
    let long_term = verifier_with_settings(Settings {
        require_valid_now: false,
        ..Settings::default()
    });
    let signature = &long_term.verify_der(&envelope, now()).unwrap().signatures[0];
    assert!(signature.is_valid, "{}", signature.validation_error_message);
}

#[test]
fn a_certificate_not_yet_valid_at_the_timestamp_is_refused() {
    assert_refused(
        &stamped("future", "future"),
        Refusal::NotValidAtTimestamp,
        "signature timestamp verification failed",
    );
}

#[test]
fn a_timestamp_later_than_the_verification_time_is_refused() {
    let envelope = stamped("rsa", "rsa");
    let early = now() - std::time::Duration::from_secs(7200);
    let verified = verifier().verify_der(&envelope, early).unwrap();
    assert_eq!(
        verified.signatures[0].refusal,
        Some(Refusal::TimestampInFuture)
    );
    assert_eq!(
        Refusal::TimestampInFuture.to_string(),
        "signature timestamp is later than the verification time"
    );
}

#[test]
fn a_signer_certificate_without_a_signing_key_usage_is_refused() {
    assert_refused(
        &stamped("encipher", "encipher"),
        Refusal::SignerKeyUsage,
        "signer certificate key usage does not allow signing",
    );
}

#[test]
fn an_unknown_critical_extension_is_refused() {
    assert_refused(
        &stamped("critical", "critical"),
        Refusal::UnsupportedCriticalExtension("1.3.6.1.4.1.99999.1".into()),
        "certificate has an unsupported critical extension 1.3.6.1.4.1.99999.1",
    );
}

#[test]
fn two_different_drfo_in_one_certificate_are_refused() {
    let verified = verifier()
        .verify_der(&stamped("conflict", "conflict"), now())
        .unwrap();
    let signature = &verified.signatures[0];
    assert_eq!(signature.refusal, Some(Refusal::DrfoConflict));
    assert_eq!(
        signature.validation_error_message,
        "signer certificate carries two different DRFO values"
    );
    assert_eq!(signature.signer.drfo, None);
    assert_eq!(signature.signer.surname.as_deref(), Some("Петренко"));
}

#[test]
fn a_signer_whose_issuer_is_not_trusted_is_refused() {
    let verifier = verifier_with(
        trust(&["pki/ca-ec.pem"], &["pki/tsa.pem"]),
        crls("crl"),
        Settings::default(),
    );
    let signature = &verifier
        .verify_der(&stamped("rsa", "rsa"), now())
        .unwrap()
        .signatures[0];
    assert_eq!(signature.refusal, Some(Refusal::NoTrustedRoot));
    assert_eq!(
        signature.validation_error_message,
        "matching ROOT certificate not found"
    );
}

#[test]
fn a_signer_certificate_missing_from_the_envelope_is_refused() {
    let envelope = stamped("rsa", "rsa");
    // Drop [0] certificates from the SignedData.
    let without = edit(&envelope, &[1, 0], &mut |content| {
        let kids = common::der_writer::children(content);
        kids.iter()
            .filter(|k| k[0] != 0xA0)
            .flat_map(|k| k.to_vec())
            .collect()
    });
    let verified = verifier().verify_der(&without, now()).unwrap();
    assert_eq!(
        verified.signatures[0].refusal,
        Some(Refusal::SignerCertificateMissing)
    );
    assert_eq!(
        verified.signatures[0].validation_error_message,
        "retrieving certificate from signed data container failed"
    );
}

#[test]
fn envelopes_with_other_than_one_signer_or_without_content_are_refused_whole() {
    let verifier = verifier();
    let two = verifier.verify_der(&read("envelopes/two-signers.p7s"), now());
    assert_eq!(two, Err(EnvelopeError::SignerCount(2)));
    assert_eq!(
        EnvelopeError::SignerCount(2).to_string(),
        "document must be signed by 1 signer but contains 2 signatures"
    );
    let bundle = verifier.verify_der(&read("pki/bundle.p7b"), now());
    assert_eq!(bundle, Err(EnvelopeError::SignerCount(0)));
    let detached = verifier.verify_der(&read("envelopes/detached.p7s"), now());
    assert_eq!(detached, Err(EnvelopeError::ContentNotAttached));
    assert_eq!(
        EnvelopeError::ContentNotAttached.to_string(),
        "signed content is not attached"
    );
}

#[test]
fn base64_is_read_as_clients_send_it() {
    use base64::Engine as _;
    let envelope = stamped("p256", "p256");
    let text = base64::engine::general_purpose::STANDARD.encode(&envelope);
    let verifier = verifier();
    assert!(verifier.verify_base64(&text, now()).unwrap().all_valid());
    let wrapped: String = text
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap().to_owned() + "\r\n")
        .collect();
    assert!(verifier.verify_base64(&wrapped, now()).unwrap().all_valid());
    let unpadded = text.trim_end_matches('=');
    assert!(verifier.verify_base64(unpadded, now()).unwrap().all_valid());
    for (text, error, message) in [
        (
            "not base64!",
            EnvelopeError::NotBase64,
            "Not a base64 string",
        ),
        ("", EnvelopeError::Malformed, MALFORMED),
        ("AAAA", EnvelopeError::Malformed, MALFORMED),
    ] {
        assert_eq!(
            verifier.verify_base64(text, now()),
            Err(error.clone()),
            "{text:?}"
        );
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn the_signature_value_the_token_covers_is_the_signer_infos() {
    // The token's imprint is SHA-256 of exactly the SignerInfo's signature OCTET STRING content.
    let envelope = read("envelopes/p384.p7s");
    let signature = at(&envelope, &[1, 0, -1, 0, 5]);
    assert_eq!(signature[0], 0x04);
    let token = read("tokens/p384.tst");
    use sha2::Digest as _;
    let (_, content, _) = common::der_writer::split(signature);
    let imprint = sha2::Sha256::digest(content);
    find(&token, &imprint);
}
