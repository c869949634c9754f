//! The reason of a recall: the signed content's `status_reason`, a CodeableConcept whose every
//! coding names the recall-reasons dictionary and one of its codes. A [`RecallReason`] exists only
//! once that check passed; the recalled event records it.

use serde_json::Value;

use super::errors::ServiceRequestError;

/// The dictionary system a recall reason must come from.
pub const RECALL_REASONS_SYSTEM: &str = "eHealth/service_request_recall_reasons";

/// A `status_reason` whose codings all come from the recall-reasons dictionary.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallReason(Value);

impl RecallReason {
    /// Checks the `status_reason` of `content` against the dictionary's codes, coding by coding:
    /// the system first, then the code; the first that fails is answered (422 `value is not
    /// allowed in enum` at its entry). The signed-content schema has already made it a non-empty
    /// list of codings with string codes.
    pub fn from_signed_content(
        content: &Value,
        dictionary: &[String],
    ) -> Result<Self, ServiceRequestError> {
        let reason = content.get("status_reason").cloned().unwrap_or(Value::Null);
        let codings = reason
            .pointer("/coding")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (i, coding) in codings.iter().enumerate() {
            if coding.get("system").and_then(Value::as_str) != Some(RECALL_REASONS_SYSTEM) {
                return Err(ServiceRequestError::RecallReasonNotAllowed {
                    entry: format!("$.status_reason.coding.[{i}].system"),
                    allowed: vec![RECALL_REASONS_SYSTEM.to_string()],
                });
            }
            let known = coding
                .get("code")
                .and_then(Value::as_str)
                .is_some_and(|code| dictionary.iter().any(|a| a == code));
            if !known {
                return Err(ServiceRequestError::RecallReasonNotAllowed {
                    entry: format!("$.status_reason.coding.[{i}].code"),
                    allowed: dictionary.to_vec(),
                });
            }
        }
        Ok(Self(reason))
    }

    pub fn as_value(&self) -> &Value {
        &self.0
    }

    pub fn into_value(self) -> Value {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn dictionary() -> Vec<String> {
        vec!["1".into(), "2".into()]
    }

    fn content(codings: Value) -> Value {
        json!({"id": "x", "status_reason": {"coding": codings}})
    }

    #[test]
    fn given_codes_of_the_dictionary_when_checked_then_the_reason_is_the_status_reason() {
        let signed = content(json!([
            {"system": RECALL_REASONS_SYSTEM, "code": "1"},
            {"system": RECALL_REASONS_SYSTEM, "code": "2"}
        ]));
        let reason = RecallReason::from_signed_content(&signed, &dictionary()).unwrap();
        assert_eq!(reason.as_value(), &signed["status_reason"]);
        assert_eq!(reason.into_value(), signed["status_reason"]);
    }

    #[test]
    fn given_a_coding_of_another_system_when_checked_then_its_system_is_refused() {
        let signed = content(json!([
            {"system": RECALL_REASONS_SYSTEM, "code": "1"},
            {"system": "eHealth/other", "code": "1"}
        ]));
        assert_eq!(
            RecallReason::from_signed_content(&signed, &dictionary()),
            Err(ServiceRequestError::RecallReasonNotAllowed {
                entry: "$.status_reason.coding.[1].system".into(),
                allowed: vec![RECALL_REASONS_SYSTEM.into()],
            })
        );
    }

    #[test]
    fn given_a_code_outside_the_dictionary_when_checked_then_the_code_is_refused_with_the_codes() {
        let signed = content(json!([{"system": RECALL_REASONS_SYSTEM, "code": "9"}]));
        let refusal = RecallReason::from_signed_content(&signed, &dictionary()).unwrap_err();
        assert_eq!(
            refusal,
            ServiceRequestError::RecallReasonNotAllowed {
                entry: "$.status_reason.coding.[0].code".into(),
                allowed: dictionary(),
            }
        );
        assert_eq!(refusal.to_string(), "value is not allowed in enum");
    }

    #[test]
    fn given_a_wrong_system_and_code_in_one_coding_when_checked_then_the_system_is_named() {
        let signed = content(json!([{"system": "eHealth/other", "code": "9"}]));
        let Err(ServiceRequestError::RecallReasonNotAllowed { entry, .. }) =
            RecallReason::from_signed_content(&signed, &dictionary())
        else {
            panic!("refused");
        };
        assert_eq!(entry, "$.status_reason.coding.[0].system");
    }

    #[test]
    fn given_an_empty_dictionary_when_checked_then_every_code_is_refused() {
        let signed = content(json!([{"system": RECALL_REASONS_SYSTEM, "code": "1"}]));
        assert!(RecallReason::from_signed_content(&signed, &[]).is_err());
    }
}
