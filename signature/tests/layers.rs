//! Nested envelopes (a personal signature under an organisation's seal) and malformed input.

mod common;

use common::der_writer::edit;
use common::*;
use ehealth_signature::{EnvelopeError, Settings, TimeSource, Verifier};

/// The seal envelope has its own token, but its content (the personal envelope) cannot be given
/// one: the inner envelope is signed as it was, so adding an unsigned attribute to it would break
/// the seal. A verifier that takes the caller's time where a layer has no token.
fn callers_time_for_untimestamped_layers() -> Verifier {
    verifier_with_settings(Settings {
        require_timestamp: false,
        ..Settings::default()
    })
}

/// The inner layer is verified with the caller's time.
#[test]
fn a_seal_over_a_personal_signature_is_unwrapped_and_both_signers_are_listed() {
    let sealed = stamped("seal-over-rsa", "seal-over-rsa");
    let verifier = callers_time_for_untimestamped_layers();
    let verified = verifier.verify_der(&sealed, now()).unwrap();
    assert_eq!(verified.signatures.len(), 2);
    let (seal, person) = (&verified.signatures[0], &verified.signatures[1]);
    assert!(seal.is_valid, "{}", seal.validation_error_message);
    assert!(person.is_valid, "{}", person.validation_error_message);
    assert_eq!(seal.time_source, Some(TimeSource::SignatureTimestamp));
    assert_eq!(person.time_source, Some(TimeSource::Caller));
    assert_eq!(seal.signer.edrpou.as_deref(), Some("12345678"));
    assert_eq!(seal.signer.organization_name.as_deref(), Some("ТОВ Тест"));
    assert_eq!(seal.signer.drfo, None);
    assert_eq!(person.signer.drfo.as_deref(), Some("1234567890"));
    assert_eq!(verified.json().unwrap()["status"], "active");
    assert!(verified.all_valid());
}

#[test]
fn every_layer_needs_its_timestamp_when_timestamps_are_required() {
    let verified = verifier()
        .verify_der(&stamped("seal-over-rsa", "seal-over-rsa"), now())
        .unwrap();
    assert!(verified.signatures[0].is_valid);
    assert_eq!(
        verified.signatures[1].refusal,
        Some(ehealth_signature::Refusal::NoTimestamp)
    );
    assert!(!verified.all_valid());
    assert_eq!(
        verified.first_refusal(),
        Some(&ehealth_signature::Refusal::NoTimestamp)
    );
}

#[test]
fn a_changed_inner_envelope_breaks_the_seal_and_the_inner_signature() {
    let sealed = stamped("seal-over-rsa", "seal-over-rsa");
    let at = find(&sealed, b"active");
    let verifier = callers_time_for_untimestamped_layers();
    let verified = verifier.verify_der(&flipped(&sealed, at), now()).unwrap();
    for signature in &verified.signatures {
        assert_eq!(
            signature.refusal,
            Some(ehealth_signature::Refusal::SignatureInvalid)
        );
    }
}

#[test]
fn nesting_deeper_than_the_settings_allow_is_refused() {
    let verifier = verifier_with_settings(Settings {
        require_timestamp: false,
        max_layers: 1,
        ..Settings::default()
    });
    let result = verifier.verify_der(&read("envelopes/seal-over-rsa.p7s"), now());
    assert_eq!(result, Err(EnvelopeError::TooDeep(1)));
    assert_eq!(
        EnvelopeError::TooDeep(1).to_string(),
        "Malformed signed data: more than 1 nested envelopes"
    );
}

#[test]
fn json_content_is_read_after_a_bom_and_trailing_nuls() {
    let mut verified = verifier()
        .verify_der(&stamped("rsa", "rsa"), now())
        .unwrap();
    verified.content = [&b"\xEF\xBB\xBF"[..], &verified.content, b"\0\0"].concat();
    assert_eq!(verified.json().unwrap()["status"], "active");
    verified.content = b"{not json".to_vec();
    assert_eq!(
        verified.json(),
        Err("Malformed encoded content. Probably, you have encoded corrupted JSON.")
    );
}

/// Every truncation, and a flipped byte at every 53rd position, of a complete envelope (token
/// included): an error or a report, never a panic.
#[test]
fn truncated_or_corrupted_envelopes_never_panic() {
    let envelope = stamped("p256", "p256");
    let verifier = verifier_with_settings(Settings {
        check_revocation: false,
        ..Settings::default()
    });
    for len in 0..envelope.len() {
        let result = verifier.verify_der(&envelope[..len], now());
        assert!(result.is_err(), "a prefix of {len} bytes was accepted");
    }
    for at in (0..envelope.len()).step_by(53) {
        let mut changed = envelope.clone();
        changed[at] ^= 0xA5;
        if let Ok(verified) = verifier.verify_der(&changed, now()) {
            assert!(!verified.signatures.is_empty());
        }
    }
}

#[test]
fn an_unsigned_attribute_repeated_or_unreadable_is_refused_as_an_unreadable_timestamp() {
    let envelope = stamped("rsa", "rsa");
    // The token attribute's value replaced by garbage.
    let garbage = edit(&envelope, &[1, 0, -1, 0, -1], &mut |_| {
        use common::der_writer::*;
        seq(&[oid("1.2.840.113549.1.9.16.2.14"), set(&[octets(b"junk")])])
    });
    let verified = verifier().verify_der(&garbage, now()).unwrap();
    assert_eq!(
        verified.signatures[0].refusal,
        Some(ehealth_signature::Refusal::TimestampUnreadable)
    );
    assert_eq!(
        verified.signatures[0].validation_error_message,
        "loading information about the response with a timestamp failed"
    );
}
