//! The digital signature: signer count, trust, validity, the envelope and its content.

use base64::Engine;
use serde_json::{json, Value};

use crate::support::pki::{sign_with_none, sign_with_two};
use crate::support::world::*;
use crate::support::{pki, TestApp};
use crate::*;

/// The content every signature test signs: a valid recall of SR_ACTIVE.
async fn valid_content(app: &TestApp) -> Vec<u8> {
    let token = doctor_token(app);
    let content = with_reason(rendering(app, &token, P_OTP, SR_ACTIVE).await, reason());
    serde_json::to_vec(&content).unwrap()
}

/// A refused signed_data: the case, the string sent, the message of the 422, and the entry, rule
/// and params of its one `invalid[]` entry.
type Refused = (String, String, String, &'static str, &'static str, Value);

/// A case whose one entry is `$.signed_data`, `invalid`.
fn of_signed_data(case: &str, signed: String, message: &str) -> Refused {
    (
        case.to_string(),
        signed,
        message.to_string(),
        "$.signed_data",
        "invalid",
        json!([]),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_with_an_unsigned_envelope_answers_400_zero_signatures() {
    let (app, token) = doctor_app().await;
    let signed = sign_with_none(&pki().ca, &valid_content(&app).await);
    let zero = "document must be signed by 1 signer but contains 0 signatures";

    let reply = assert_recall_refused(
        &app,
        &token,
        SR_ACTIVE,
        &body_of(&signed),
        (400, "request_malformed", zero),
    )
    .await;

    assert!(reply.body["error"]["invalid"].is_null(), "{:#}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_signature_signer_envelope_or_content_is_refused_answers_422_naming_the_entry()
{
    let (app, token) = doctor_app().await;
    let content = valid_content(&app).await;
    let engine = base64::engine::general_purpose::STANDARD;
    let not_json = "Malformed encoded content. Probably, you have encoded corrupted JSON.";
    let not_cms = "Malformed signed data: not a CMS/PKCS#7 SignedData envelope";
    let drfo = "Does not match the signer drfo";
    let mut cases = vec![
        of_signed_data(
            "two signers",
            sign_with_two(&pki().doctor, &pki().stranger, &content),
            "document must be signed by 1 signer but contains 2 signatures",
        ),
        of_signed_data(
            "an untrusted certificate",
            pki().untrusted.sign(&content),
            "matching ROOT certificate not found",
        ),
        of_signed_data(
            "an expired certificate",
            pki().expired.sign(&content),
            "certificate timestamp expired",
        ),
        of_signed_data(
            "content: not json",
            pki().doctor.sign(b"not json"),
            not_json,
        ),
        of_signed_data(
            "content: cut JSON",
            pki().doctor.sign(b"{\"id\": "),
            not_json,
        ),
        of_signed_data("content: empty", pki().doctor.sign(b""), not_json),
        of_signed_data(
            "base64 of random bytes",
            engine.encode(b"\x8f\x13random bytes that are not a CMS envelope\x00\x01\xfe"),
            not_cms,
        ),
        of_signed_data(
            "base64 of the unsigned content",
            engine.encode(&content),
            not_cms,
        ),
        // A DER SEQUENCE that is not a ContentInfo.
        of_signed_data(
            "base64 of a DER sequence",
            engine.encode([0x30, 0x03, 0x02, 0x01, 0x05]),
            not_cms,
        ),
        // Only whitespace: valid base64 of nothing.
        of_signed_data("only whitespace", " ".to_string(), not_cms),
        of_signed_data(
            "signed by someone other than the requester",
            pki().stranger.sign(&content),
            drfo,
        ),
        // The passport signer is valid and trusted, but is not the requester of SR_ACTIVE.
        of_signed_data(
            "signed with the ECDSA passport certificate",
            pki().passport_latin.sign(&content),
            drfo,
        ),
    ];
    // JSON that is not an object: a cast at the root.
    for (json_content, kind) in [
        (&b"[1, 2]"[..], "Array"),
        (b"\"\"", "String"),
        (b"7", "Integer"),
    ] {
        cases.push((
            format!("content: {kind}"),
            pki().doctor.sign(json_content),
            format!("type mismatch. Expected Object but got {kind}"),
            "$",
            "cast",
            json!(["object"]),
        ));
    }

    for (case, signed, message, entry, rule, params) in cases {
        let reply = app
            .recall(P_OTP, SR_ACTIVE, &body_of(&signed), &token)
            .await;
        assert_violation(&reply, &case, entry, rule, &message, params);
    }
    assert_untouched(&app, SR_ACTIVE).await;
}
