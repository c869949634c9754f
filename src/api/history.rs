//! The answer of `GET …/{id}/history` (the endpoints are in [`super::read_endpoints`]): every event
//! of the entity in order, with its position in the log and the authority it was recorded on
//! (user, legal entity, request, command, correlation, causation, job), for auditors.
//!
//! Each endpoint has its entity read endpoint's scope, visibility and 404s, judged on the entity's
//! current state. Payloads are shown without the event's enum tag (`event_type` names it) and with
//! secrets redacted: OTP salts (from which codes are derived) become `"[redacted]"` and phone
//! numbers are masked the way the approval view masks them. Nothing else in an event is secret.

use cqrs_es::Aggregate;
use ehealth_aggregates::common::mask_phone;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::envelope::ApiResponse;
use super::error::ApiError;
use super::query_params::{refused, Page, QueryParams};
use crate::app::AppState;

const REDACTED: &str = "[redacted]";

/// `page`/`page_size` of a history request (422 when malformed).
pub(super) fn page(raw_query: Option<&str>) -> Result<Page, ApiError> {
    let (params, mut invalid) = QueryParams::parse(raw_query, &["page", "page_size"]);
    let page = Page::from_params(&params, &mut invalid);
    if invalid.is_empty() {
        Ok(page)
    } else {
        Err(refused(invalid))
    }
}
/// One page of the entity's events and the `paging` object. The count and the page come from one
/// statement, so they describe the same snapshot of the log.
pub(super) async fn answer<A: Aggregate>(
    app: &AppState,
    id: Uuid,
    page: Page,
) -> Result<ApiResponse, ApiError> {
    let (total, events) = app
        .store
        .history
        .page(A::TYPE, id, page.size, page.offset())
        .await?;
    let entries = events
        .into_iter()
        .map(|e| {
            json!({
                "sequence": e.sequence,
                "global_position": e.global_position,
                "payload": redact(untagged(e.payload, &e.event_type)),
                "event_type": e.event_type,
                "event_version": e.event_version,
                "recorded_at": e.recorded_at,
                "authority": authority(&e.metadata),
            })
        })
        .collect();
    let mut response = ApiResponse::ok(Value::Array(entries));
    response.body.insert("paging".into(), page.paging(total));
    Ok(response)
}

/// Who recorded the event and through what, from the event's metadata (`client_id` is the legal
/// entity of the token). Absent keys are `null`: imports carry the nil user and no job.
fn authority(metadata: &Value) -> Value {
    let field = |key: &str| metadata.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "user_id": field("user_id"),
        "legal_entity_id": field("client_id"),
        "request_id": field("request_id"),
        "command_id": field("command_id"),
        "correlation_id": field("correlation_id"),
        "causation_id": field("causation_id"),
        "job_id": field("job_id"),
    })
}

/// The event's data without serde's enum wrapper `{"<EventType>": …}`; a payload of another shape
/// is shown as stored.
fn untagged(payload: Value, event_type: &str) -> Value {
    match payload {
        Value::Object(mut map) if map.len() == 1 && map.contains_key(event_type) => {
            map.remove(event_type).unwrap_or(Value::Null)
        }
        other => other,
    }
}

/// Redacts secrets anywhere in a payload: every `salt` becomes `"[redacted]"` (with the server key
/// it would give the OTP code), every `phone_number` and the `number` of an authentication method
/// is masked.
pub fn redact(mut value: Value) -> Value {
    redact_in_place(&mut value);
    value
}

fn redact_in_place(value: &mut Value) {
    match value {
        Value::Object(map) => redact_object(map),
        Value::Array(items) => items.iter_mut().for_each(redact_in_place),
        _ => {}
    }
}

fn redact_object(map: &mut Map<String, Value>) {
    for (key, value) in map.iter_mut() {
        match (key.as_str(), &*value) {
            ("salt", Value::Null) => {}
            ("salt", _) => *value = Value::String(REDACTED.into()),
            ("phone_number" | "phone", Value::String(phone)) => {
                *value = Value::String(mask_phone(phone));
            }
            ("authentication_method_current", Value::Object(_)) => {
                if let Some(Value::String(number)) = value.get("number") {
                    let masked = mask_phone(number);
                    value["number"] = Value::String(masked);
                }
                redact_in_place(value);
            }
            _ => redact_in_place(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salts_are_redacted_and_phones_masked_at_any_depth() {
        let payload = json!({
            "otp": { "salt": "00ff", "phone_number": "+380931234585", "method_type": "OTP" },
            "other": { "authentication_method_current": { "type": "OTP", "number": "+380671112233" } },
            "list": [ { "salt": null, "phone": "+380500000000" } ],
            "requisition": "0000-1234-5678-AX"
        });
        assert_eq!(
            redact(payload),
            json!({
                "otp": { "salt": "[redacted]", "phone_number": "+38093*****85", "method_type": "OTP" },
                "other": { "authentication_method_current": { "type": "OTP", "number": "+38067*****33" } },
                "list": [ { "salt": null, "phone": "+38050*****00" } ],
                "requisition": "0000-1234-5678-AX"
            })
        );
    }

    #[test]
    fn the_enum_tag_is_dropped_only_when_it_names_the_event() {
        let tagged = json!({ "MergeRequestRejected": { "by": "u" } });
        assert_eq!(
            untagged(tagged.clone(), "MergeRequestRejected"),
            json!({ "by": "u" })
        );
        assert_eq!(untagged(tagged.clone(), "Other"), tagged);
    }

    #[test]
    fn authority_comes_from_the_metadata() {
        let metadata = json!({ "user_id": "u", "client_id": "le", "request_id": "r",
            "command_id": "c", "correlation_id": "co", "causation_id": "ca", "time": "t" });
        assert_eq!(
            authority(&metadata),
            json!({ "user_id": "u", "legal_entity_id": "le", "request_id": "r", "command_id": "c",
                    "correlation_id": "co", "causation_id": "ca", "job_id": null })
        );
    }
}
