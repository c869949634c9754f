//! eHealth's signature service's wire format (edenlab `digital_signature.api`, `POST
//! /digital_signatures`), both ways: what [`super::ExternalVerifier`] sends and reads, and the
//! answer a verifier's result makes ([`answer`]), which the tests' stand-in service replays.
//!
//! Request: `{"signed_content": "<base64>", "signed_content_encoding": "base64"}`. Answer 200:
//! `{"data": {"content": <the JSON content, or the text when it is not JSON>, "signatures":
//! [{"is_valid", "validation_error_message" ("" when valid), "signer": {"drfo", "edrpou",
//! "common_name", "given_name", "surname", "organization_name", "organizational_unit_name",
//! "title", "country_name", "locality_name", "state_or_province_name"}}]}}`, one signature per
//! nested layer, the outermost first; a signer field it does not know is `""`. An envelope it
//! cannot take is 422 `validation_failed` with the reason at `$.signed_content` (content that is
//! not UTF-8 at `$.content`); an envelope that is not CMS may also come back as 200 with no
//! signature and `content: ""`.

use ehealth_aggregates::drfo::Drfo;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{SignatureCheck, SignatureError, SignedEnvelope, Signer};
use crate::api::error::invalid_entry;

/// eHealth's message for content that is not JSON (or not text).
pub const MALFORMED_CONTENT: &str =
    "Malformed encoded content. Probably, you have encoded corrupted JSON.";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub signed_content: String,
    pub signed_content_encoding: String,
}

impl Request {
    pub fn base64(signed_data: &str) -> Request {
        Request {
            signed_content: signed_data.to_owned(),
            signed_content_encoding: "base64".to_owned(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Answer {
    data: Data,
}

#[derive(Debug, Deserialize)]
struct Data {
    #[serde(default)]
    content: Value,
    #[serde(default)]
    signatures: Vec<WireSignature>,
}

#[derive(Debug, Serialize, Deserialize)]
struct WireSignature {
    is_valid: bool,
    #[serde(default)]
    validation_error_message: Option<String>,
    #[serde(default)]
    signer: WireSigner,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct WireSigner {
    drfo: Option<String>,
    edrpou: Option<String>,
    common_name: Option<String>,
    given_name: Option<String>,
    surname: Option<String>,
    organization_name: Option<String>,
    organizational_unit_name: Option<String>,
    title: Option<String>,
    country_name: Option<String>,
    locality_name: Option<String>,
    state_or_province_name: Option<String>,
}

/// The service's answer (`status`, body) as a verifier's result.
pub fn read_answer(status: u16, body: &[u8]) -> Result<SignedEnvelope, SignatureError> {
    let unusable = |why: &str| {
        SignatureError::Unavailable(format!(
            "HTTP {status}: {why}: {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    };
    match status {
        200 => {
            let answer: Answer =
                serde_json::from_slice(body).map_err(|_| unusable("not a DS API answer"))?;
            Ok(SignedEnvelope {
                content: content_bytes(answer.data.content),
                signatures: answer.data.signatures.into_iter().map(check).collect(),
            })
        }
        422 => {
            let body: Value =
                serde_json::from_slice(body).map_err(|_| unusable("not a DS API error"))?;
            let first = body
                .pointer("/error/invalid/0")
                .ok_or_else(|| unusable("no invalid entry"))?;
            let description = first
                .pointer("/rules/0/description")
                .and_then(Value::as_str)
                .ok_or_else(|| unusable("no rule description"))?;
            if first["entry"] == "$.content" {
                return Err(SignatureError::Invalid(MALFORMED_CONTENT.to_owned()));
            }
            Err(refusal(description))
        }
        _ => Err(unusable("unexpected status")),
    }
}

/// The error a 422 description stands for, in the service's words.
fn refusal(description: &str) -> SignatureError {
    if description.eq_ignore_ascii_case("Not a base64 string") {
        return SignatureError::NotBase64;
    }
    let count = description
        .strip_prefix("document must be signed by 1 signer but contains ")
        .and_then(|rest| rest.strip_suffix(" signatures"))
        .and_then(|n| n.parse().ok());
    match count {
        Some(n) => SignatureError::SignerCount(n),
        None if description == SignatureError::Malformed.to_string() => SignatureError::Malformed,
        None => SignatureError::Invalid(description.to_owned()),
    }
}

/// The signed bytes: the content as JSON, or its text when the service could not read it as
/// JSON (a JSON string is therefore taken as that text).
fn content_bytes(content: Value) -> Vec<u8> {
    match content {
        Value::String(text) => text.into_bytes(),
        other => serde_json::to_vec(&other).unwrap_or_default(),
    }
}

fn check(wire: WireSignature) -> SignatureCheck {
    let field = |value: Option<String>| value.filter(|v| !v.is_empty());
    let s = wire.signer;
    SignatureCheck {
        is_valid: wire.is_valid,
        validation_error_message: field(wire.validation_error_message)
            .or_else(|| (!wire.is_valid).then(|| "signature is invalid".to_owned())),
        signer: Signer {
            drfo: s.drfo.as_deref().and_then(Drfo::parse),
            edrpou: field(s.edrpou),
            common_name: field(s.common_name),
            given_name: field(s.given_name),
            surname: field(s.surname),
            organization_name: field(s.organization_name),
            organizational_unit_name: field(s.organizational_unit_name),
            title: field(s.title),
            country_name: field(s.country_name),
            locality_name: field(s.locality_name),
            state_or_province_name: field(s.state_or_province_name),
        },
    }
}

/// The answer the service gives for a verifier's result: (status, body).
pub fn answer(result: &Result<SignedEnvelope, SignatureError>) -> (u16, Value) {
    let refused = |entry: &str, description: &str| {
        (
            422,
            json!({
                "meta": { "code": 422 },
                "error": {
                    "type": "validation_failed",
                    "invalid": [invalid_entry(entry, "invalid", description, json!([]))],
                },
            }),
        )
    };
    let envelope = match result {
        Ok(envelope) => envelope,
        Err(error @ (SignatureError::Unavailable(_) | SignatureError::Failed(_))) => {
            return (
                500,
                json!({ "meta": { "code": 500 }, "error": { "type": "internal_error", "message": error.to_string() } }),
            )
        }
        Err(error) => return refused("$.signed_content", &error.to_string()),
    };
    let content = match serde_json::from_slice::<Value>(&envelope.content) {
        Ok(value) => value,
        Err(_) => match std::str::from_utf8(&envelope.content) {
            Ok(text) => Value::String(text.to_owned()),
            Err(_) => return refused("$.content", "not a valid utf8 string"),
        },
    };
    let signatures: Vec<WireSignature> = envelope
        .signatures
        .iter()
        .map(|check| WireSignature {
            is_valid: check.is_valid,
            validation_error_message: Some(
                check.validation_error_message.clone().unwrap_or_default(),
            ),
            signer: wire_signer(&check.signer),
        })
        .collect();
    (
        200,
        json!({ "meta": { "code": 200 }, "data": { "content": content, "signatures": signatures } }),
    )
}

fn wire_signer(signer: &Signer) -> WireSigner {
    let field = |value: &Option<String>| Some(value.clone().unwrap_or_default());
    WireSigner {
        drfo: Some(
            signer
                .drfo
                .as_ref()
                .map(|d| d.to_string())
                .unwrap_or_default(),
        ),
        edrpou: field(&signer.edrpou),
        common_name: field(&signer.common_name),
        given_name: field(&signer.given_name),
        surname: field(&signer.surname),
        organization_name: field(&signer.organization_name),
        organizational_unit_name: field(&signer.organizational_unit_name),
        title: field(&signer.title),
        country_name: field(&signer.country_name),
        locality_name: field(&signer.locality_name),
        state_or_province_name: field(&signer.state_or_province_name),
    }
}
