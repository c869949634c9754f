//! The request body: content type (415), well-formed JSON (400), and the schema
//! `{"signed_data": <non-empty base64 string>}` (422).

use serde_json::json;

use crate::support::world::*;
use crate::*;

const VALIDATION_FAILED: &str = "Validation failed. You can find validators description at our API Manifest: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_with_a_text_plain_body_answers_415() {
    let (app, token) = doctor_app().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;

    let reply = app
        .patch_raw(
            &paths::recall(P_OTP, SR_ACTIVE),
            &token,
            "text/plain",
            serde_json::to_vec(&body).unwrap(),
        )
        .await;

    reply.assert_error(
        415,
        "content_type_invalid",
        "Invalid Content-Type header. Try to set 'Content-Type: application/json' header: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/content-type.",
    );
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_with_malformed_json_answers_400_request_malformed() {
    let (app, token) = doctor_app().await;

    for raw in [&b"{\"signed_data\": "[..], b"", b"{signed_data: 'x'}"] {
        let reply = app
            .patch_raw(
                &paths::recall(P_OTP, SR_ACTIVE),
                &token,
                "application/json",
                raw.to_vec(),
            )
            .await;
        reply.assert_error(
            400,
            "request_malformed",
            "Malformed request. Probably, you have sent corrupted JSON.",
        );
        reply.assert_invalid(json!([{ "entry_type": "request", "rules": [ { "rule": "json" } ] }]));
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_body_breaks_the_schema_answers_422_with_every_violation() {
    let (app, token) = doctor_app().await;
    let (valid, signed) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let path = paths::recall(P_OTP, SR_ACTIVE);
    let entry = |entry: &str, rule: &str, description: &str, params: serde_json::Value| {
        json!({
            "entry_type": "json_data_property",
            "entry": entry,
            "rules": [ { "rule": rule, "description": description, "params": params } ]
        })
    };
    let cases = [
        (
            "empty object",
            json!({}),
            json!([entry(
                "$.signed_data",
                "required",
                "required property signed_data was not present",
                json!([])
            )]),
        ),
        (
            "extra property next to a valid signed_data",
            json!({ "signed_data": signed, "reason": "1" }),
            json!([entry(
                "$.reason",
                "schema",
                "schema does not allow additional properties",
                json!([])
            )]),
        ),
        (
            "only an extra property",
            json!({ "data": "x" }),
            json!([
                entry(
                    "$.data",
                    "schema",
                    "schema does not allow additional properties",
                    json!([])
                ),
                entry(
                    "$.signed_data",
                    "required",
                    "required property signed_data was not present",
                    json!([])
                )
            ]),
        ),
        (
            "signed_data is a number",
            json!({ "signed_data": 5 }),
            json!([entry(
                "$.signed_data",
                "cast",
                "type mismatch. Expected String but got Number",
                json!(["string"])
            )]),
        ),
        (
            "signed_data is null",
            json!({ "signed_data": null }),
            json!([entry(
                "$.signed_data",
                "cast",
                "type mismatch. Expected String but got Null",
                json!(["string"])
            )]),
        ),
        (
            "signed_data is empty",
            json!({ "signed_data": "" }),
            json!([entry(
                "$.signed_data",
                "length",
                "expected value to have a minimum length of 1",
                json!({ "min": 1 })
            )]),
        ),
        (
            "body is a JSON string",
            json!("x"),
            json!([entry(
                "$",
                "cast",
                "type mismatch. Expected Object but got String",
                json!(["object"])
            )]),
        ),
        (
            "body is a JSON array",
            json!([valid]),
            json!([entry(
                "$",
                "cast",
                "type mismatch. Expected Object but got Array",
                json!(["object"])
            )]),
        ),
    ];

    for (what, body, invalid) in cases {
        let reply = app.patch(&path, Some(&token), Some(&body)).await;
        assert_eq!(reply.status, 422, "{what}: {:#}", reply.body);
        reply.assert_error(422, "validation_failed", VALIDATION_FAILED);
        assert_eq!(reply.body["error"]["invalid"], invalid, "{what}");
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_signed_data_is_not_base64_answers_422_not_a_base64_string() {
    let (app, token) = doctor_app().await;

    for signed in ["%%%", "not base64!", "abc$"] {
        let reply = app.recall(P_OTP, SR_ACTIVE, &body_of(signed), &token).await;
        assert_signed_data_refused(&reply, signed, "Not a base64 string");
    }
    assert_untouched(&app, SR_ACTIVE).await;
}
