//! The DS API wire format: the answers eHealth's signature service gives, read by the adapter.

use ehealth_aggregates::drfo::Drfo;
use serde_json::json;

use crate::signature::ds_api::{answer, read_answer, Request, MALFORMED_CONTENT};
use crate::signature::{SignatureCheck, SignatureError, SignedEnvelope, Signer};

fn read(status: u16, body: serde_json::Value) -> Result<SignedEnvelope, SignatureError> {
    read_answer(status, &serde_json::to_vec(&body).unwrap())
}

#[test]
fn the_request_is_the_base64_envelope_as_ehealth_sends_it() {
    assert_eq!(
        serde_json::to_value(Request::base64("MIIB")).unwrap(),
        json!({ "signed_content": "MIIB", "signed_content_encoding": "base64" })
    );
}

#[test]
fn a_valid_answer_gives_the_content_and_each_signer_with_empty_fields_absent() {
    let envelope = read(
        200,
        json!({ "meta": { "code": 200 }, "data": {
            "content": { "hello": "world" },
            "signed_content": "MIIB", "signed_content_encoding": "base64",
            "signatures": [ { "is_valid": true, "validation_error_message": "", "signer": {
                "drfo": "TINUA-2962706992", "edrpou": "", "common_name": "БОДАРЕВ ЮРІЙ",
                "surname": "БОДАРЕВ", "given_name": "ЮРІЙ ОЛЕКСАНДРОВИЧ", "country_name": "UA",
                "organization_name": "ФІЗИЧНА ОСОБА", "organizational_unit_name": "", "title": "",
                "locality_name": "М. КИЇВ", "state_or_province_name": "" } } ] } }),
    )
    .unwrap();
    assert_eq!(envelope.content, br#"{"hello":"world"}"#);
    let [check] = envelope.signatures.as_slice() else {
        panic!("{envelope:?}")
    };
    assert!(check.is_valid);
    assert_eq!(check.validation_error_message, None);
    assert_eq!(check.signer.drfo, Drfo::parse("2962706992"));
    assert_eq!(check.signer.edrpou, None);
    assert_eq!(check.signer.locality_name.as_deref(), Some("М. КИЇВ"));
}

#[test]
fn an_invalid_signature_keeps_its_message_and_an_envelope_without_signatures_counts_zero() {
    let refused = read(
        200,
        json!({ "data": { "content": "", "signatures": [ { "is_valid": false,
            "validation_error_message": "certificate timestamp expired", "signer": {} } ] } }),
    )
    .unwrap();
    assert_eq!(
        refused.signatures[0].validation_error_message.as_deref(),
        Some("certificate timestamp expired")
    );
    let empty = read(200, json!({ "data": { "content": "", "signatures": [] } })).unwrap();
    assert!(empty.signatures.is_empty() && empty.content.is_empty());
}

#[test]
fn refusals_of_the_envelope_are_read_back_as_the_same_errors() {
    for error in [
        SignatureError::NotBase64,
        SignatureError::Malformed,
        SignatureError::SignerCount(2),
        SignatureError::Invalid("signed content is not attached".into()),
    ] {
        let (status, body) = answer(&Err(error.clone()));
        assert_eq!(status, 422);
        assert_eq!(read(status, body), Err(error));
    }
    let lower_case = json!({ "error": { "invalid": [ { "entry": "$.signed_content",
        "rules": [ { "rule": "invalid", "description": "not a base64 string", "params": [] } ] } ] } });
    assert_eq!(read(422, lower_case), Err(SignatureError::NotBase64));
}

#[test]
fn content_that_is_not_text_is_malformed_and_other_failures_are_unavailable() {
    let not_text = SignedEnvelope {
        content: vec![0xFF, 0xFE],
        signatures: vec![],
    };
    let (status, body) = answer(&Ok(not_text));
    assert_eq!(
        read(status, body),
        Err(SignatureError::Invalid(MALFORMED_CONTENT.into()))
    );
    for (status, body) in [
        (500, json!({})),
        (200, json!({ "data": 7 })),
        (404, json!(null)),
    ] {
        assert!(
            matches!(read(status, body), Err(SignatureError::Unavailable(_))),
            "{status}"
        );
    }
}

#[test]
fn an_answer_round_trips_every_signer_field() {
    let signer = Signer {
        drfo: Drfo::parse("КА123456"),
        edrpou: Some("38782323".into()),
        common_name: Some("a".into()),
        given_name: Some("b".into()),
        surname: Some("c".into()),
        organization_name: Some("d".into()),
        organizational_unit_name: Some("e".into()),
        title: Some("f".into()),
        country_name: Some("UA".into()),
        locality_name: Some("g".into()),
        state_or_province_name: Some("h".into()),
    };
    let envelope = SignedEnvelope {
        content: br#"{"a":1}"#.to_vec(),
        signatures: vec![SignatureCheck {
            is_valid: true,
            validation_error_message: None,
            signer,
        }],
    };
    let (status, body) = answer(&Ok(envelope.clone()));
    assert_eq!(read(status, body), Ok(envelope));
}
