//! The signed content against eHealth's signed-content JSON Schema: checked after the signer and
//! the status, before the reason and the comparison with the stored service request, and every
//! violation answered at once, as eHealth answers them.

use serde_json::{json, Value};

use crate::support::world::*;
use crate::support::{Reply, TestApp};
use crate::*;

async fn send(app: &TestApp, token: &str, content: &Value) -> Reply {
    let signed = sign_json(&pki().doctor, content);
    app.recall(P_OTP, SR_ACTIVE, &body_of(&signed), token).await
}

const VALIDATION_FAILED: &str = "Validation failed. You can find validators description at our API Manifest: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_an_empty_object_answers_every_missing_required_property_in_the_schemas_order() {
    let (app, token) = doctor_app().await;

    let reply = send(&app, &token, &json!({})).await;

    reply.assert_error(422, "validation_failed", VALIDATION_FAILED);
    let required = [
        "id",
        "status",
        "intent",
        "category",
        "code",
        "context",
        "authored_on",
        "requester_employee",
        "requester_legal_entity",
        "status_reason",
        "expiration_date",
        "note",
        "patient_instruction",
        "reason_reference",
        "requisition",
        "status_history",
        "used_by_employee",
        "used_by_legal_entity",
        "subject",
    ];
    let expected: Vec<Value> = required
        .iter()
        .map(|p| {
            json!({
                "entry_type": "json_data_property",
                "entry": format!("$.{p}"),
                "rules": [ { "rule": "required", "description": format!("required property {p} was not present"), "params": [] } ]
            })
        })
        .collect();
    reply.assert_invalid(json!(expected));
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_naming_both_occurrences_answers_one_of_at_both_entries() {
    let (app, token) = doctor_app().await;
    let mut content = with_reason(rendering(&app, &token, P_OTP, SR_ACTIVE).await, reason());
    content["occurrence_date_time"] = json!("2024-05-02T10:00:00Z");
    content["occurrence_period"] =
        json!({ "start": "2024-05-02T10:00:00Z", "end": "2024-05-03T10:00:00Z" });

    let reply = send(&app, &token, &content).await;

    reply.assert_error(422, "validation_failed", VALIDATION_FAILED);
    let rule = json!([{
        "rule": "oneOf",
        "description": "Only one of the parameters must be present",
        "params": ["$.occurrence_date_time", "$.occurrence_period"]
    }]);
    reply.assert_invalid(json!([
        { "entry_type": "json_data_property", "entry": "$.occurrence_date_time", "rules": rule },
        { "entry_type": "json_data_property", "entry": "$.occurrence_period", "rules": rule },
    ]));
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_whose_content_breaks_single_rules_answers_each_in_ehealths_words() {
    let (app, token) = doctor_app().await;
    let rendered = with_reason(rendering(&app, &token, P_OTP, SR_ACTIVE).await, reason());
    let edit = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = rendered.clone();
        f(c.as_object_mut().unwrap());
        c
    };
    let cases = [
        (
            edit(&|c| {
                c.insert("status".into(), json!("recalled"));
            }),
            "$.status",
            "inclusion",
            "value is not allowed in enum",
            json!(["active", "in_progress"]),
        ),
        (
            edit(&|c| {
                c.insert(
                    "status_reason".into(),
                    json!({ "coding": [ { "system": RECALL_REASONS_SYSTEM, "code": 1 } ] }),
                );
            }),
            "$.status_reason.coding.[0].code",
            "cast",
            "type mismatch. Expected String but got Integer",
            json!(["string"]),
        ),
        (
            edit(&|c| {
                c.insert("colour".into(), json!("red"));
            }),
            "$.colour",
            "schema",
            "schema does not allow additional properties",
            json!([]),
        ),
        (
            edit(&|c| {
                c.insert("authored_on".into(), json!("yesterday"));
            }),
            "$.authored_on",
            "datetime",
            "expected \"yesterday\" to be a valid ISO 8601 date-time",
            json!([]),
        ),
    ];

    for (content, entry, rule, message, params) in cases {
        let reply = send(&app, &token, &content).await;
        assert_violation(&reply, entry, entry, rule, message, params);
    }
    assert_untouched(&app, SR_ACTIVE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_is_checked_after_the_signer_and_the_status() {
    let (app, token) = doctor_app().await;

    // Signed by someone who is not the requester: the signer's rule answers first.
    let signed = sign_json(&pki().stranger, &json!({}));
    let reply = app
        .recall(P_OTP, SR_ACTIVE, &body_of(&signed), &token)
        .await;
    reply.assert_error(422, "validation_failed", "Does not match the signer drfo");

    // A completed service request: the status rule answers first.
    let signed = sign_json(&pki().doctor, &json!({}));
    let reply = app
        .recall(P_OTP, SR_COMPLETED, &body_of(&signed), &token)
        .await;
    reply.assert_error(409, "request_conflict", &cannot_be_recalled("completed"));
    assert_untouched(&app, SR_ACTIVE).await;
    assert_untouched(&app, SR_COMPLETED).await;
}
