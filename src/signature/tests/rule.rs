//! eHealth's rule on an answer, with seals: given answers, when the rule applies, then…

use ehealth_aggregates::drfo::Drfo;

use crate::signature::{
    single_valid_signature, SignatureCheck, SignatureError, SignedEnvelope, Signer,
    SEAL_EDRPOU_MISMATCH,
};

const CONTENT: &[u8] = b"{}";

fn person(drfo: &str) -> SignatureCheck {
    SignatureCheck {
        is_valid: true,
        validation_error_message: None,
        signer: Signer {
            drfo: Drfo::parse(drfo),
            // A person's certificate may name the employer too; it is still a person's.
            edrpou: Some("99999999".into()),
            ..Signer::default()
        },
    }
}

fn seal(edrpou: &str) -> SignatureCheck {
    SignatureCheck {
        is_valid: true,
        validation_error_message: None,
        signer: Signer {
            edrpou: Some(edrpou.into()),
            ..Signer::default()
        },
    }
}

fn invalid(mut check: SignatureCheck, message: &str) -> SignatureCheck {
    check.is_valid = false;
    check.validation_error_message = Some(message.into());
    check
}

fn layers(signatures: Vec<SignatureCheck>) -> SignedEnvelope {
    SignedEnvelope {
        content: CONTENT.to_vec(),
        signatures,
    }
}

#[test]
fn given_one_valid_signature_when_the_rule_applies_then_the_content_and_signer_are_accepted() {
    let document = single_valid_signature(layers(vec![person("1234567890")]), None).unwrap();
    assert_eq!(document.content, CONTENT);
    assert_eq!(document.signer.drfo, Drfo::parse("1234567890"));
    assert!(document.seals.is_empty());
}

#[test]
fn given_no_signature_when_the_rule_applies_then_zero_signatures_are_refused() {
    let error = single_valid_signature(layers(vec![]), None).unwrap_err();
    assert_eq!(error, SignatureError::SignerCount(0));
}

#[test]
fn given_an_invalid_layer_when_the_rule_applies_then_the_outermost_invalid_message_is_the_answer() {
    let answer = layers(vec![
        invalid(seal("38782323"), "certificate is revoked"),
        invalid(person("1234567890"), "matching ROOT certificate not found"),
    ]);
    let error = single_valid_signature(answer, Some("38782323")).unwrap_err();
    assert_eq!(
        error,
        SignatureError::Invalid("certificate is revoked".into())
    );
}

#[test]
fn given_a_seal_of_the_legal_entity_around_a_person_when_the_rule_applies_then_the_person_signs() {
    let answer = layers(vec![seal("38782323"), person("1234567890")]);
    let document = single_valid_signature(answer, Some(" 38782323 ")).unwrap();
    assert_eq!(document.signer.drfo, Drfo::parse("1234567890"));
    assert_eq!(document.seals.len(), 1);
}

#[test]
fn given_a_seal_of_another_organisation_or_an_unknown_edrpou_when_the_rule_applies_then_it_is_refused(
) {
    for known in [Some("11111111"), None] {
        let answer = layers(vec![seal("38782323"), person("1234567890")]);
        let error = single_valid_signature(answer, known).unwrap_err();
        assert_eq!(error, SignatureError::Invalid(SEAL_EDRPOU_MISMATCH.into()));
    }
}

#[test]
fn given_two_people_under_a_seal_when_the_rule_applies_then_two_signatures_are_refused() {
    let answer = layers(vec![seal("38782323"), person("1"), person("2")]);
    let error = single_valid_signature(answer, Some("38782323")).unwrap_err();
    assert_eq!(error, SignatureError::SignerCount(2));
    assert_eq!(
        error.to_string(),
        "document must be signed by 1 signer but contains 2 signatures"
    );
}

#[test]
fn given_seals_only_when_the_rule_applies_then_zero_personal_signatures_are_refused() {
    let answer = layers(vec![seal("38782323"), seal("38782323")]);
    let error = single_valid_signature(answer, Some("38782323")).unwrap_err();
    assert_eq!(error, SignatureError::SignerCount(0));
}

#[test]
fn given_a_lone_seal_when_the_rule_applies_then_it_is_the_signer_and_has_no_drfo() {
    let document = single_valid_signature(layers(vec![seal("38782323")]), None).unwrap();
    assert_eq!(document.signer.drfo, None);
    assert!(document.seals.is_empty());
}
