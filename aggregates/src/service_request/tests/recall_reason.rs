//! Recall: the signed content's schema and its recall reason.

use super::*;

/// The signed content with its `status_reason` replaced, or removed for `None`.
fn with_reason(reason: Option<Value>) -> Value {
    signed_content_with(|doc| match reason {
        Some(reason) => {
            doc.insert("status_reason".into(), reason);
        }
        None => {
            doc.remove("status_reason");
        }
    })
}

const NOT_ALLOWED: &str = "value is not allowed in enum";

#[tokio::test]
async fn recall_whose_content_breaks_the_schema_is_refused_with_every_violation() {
    let content = signed_content_with(|doc| {
        doc.remove("status_reason");
        doc.remove("requisition");
    });
    let err = outcome(record(), recall_of(content)).await.unwrap_err();
    let ServiceRequestError::RecallContentInvalid(invalid) = &err else {
        panic!("{err:?}");
    };
    let entries: Vec<&str> = invalid.iter().map(|i| i.entry.as_str()).collect();
    assert_eq!(entries, ["$.status_reason", "$.requisition"]);
    assert!(err.to_string().starts_with("Validation failed."), "{err}");
}

/// One violation each, named by its entry and rule, with eHealth's message; the allowed values of
/// an inclusion error are listed.
#[tokio::test]
async fn recall_whose_status_reason_breaks_the_schema_is_refused_at_the_entry_in_ehealths_words() {
    let cases = [
        (
            "without a status reason",
            None,
            "$.status_reason",
            "required",
            "required property status_reason was not present",
        ),
        (
            "with a null status reason",
            Some(Value::Null),
            "$.status_reason",
            "cast",
            "type mismatch. Expected Object but got Null",
        ),
        (
            "with a string for a status reason",
            Some(json!("1")),
            "$.status_reason",
            "cast",
            "type mismatch. Expected Object but got String",
        ),
        (
            "without a coding",
            Some(json!({})),
            "$.status_reason.coding",
            "required",
            "required property coding was not present",
        ),
        (
            "with an empty coding list",
            Some(json!({"coding": []})),
            "$.status_reason.coding",
            "length",
            "expected a minimum of 1 items but got 0",
        ),
        (
            "with a coding that is not a list",
            Some(json!({"coding": "1"})),
            "$.status_reason.coding",
            "cast",
            "type mismatch. Expected Array but got String",
        ),
        (
            "with a reason from another dictionary",
            Some(
                json!({"coding": [{"system": "eHealth/service_request_cancel_reasons", "code": "9"}]}),
            ),
            "$.status_reason.coding.[0].system",
            "inclusion",
            NOT_ALLOWED,
        ),
        (
            "with a bad system and a bad code in the same coding: the system first",
            Some(json!({"coding": [{"system": "other", "code": "9"}]})),
            "$.status_reason.coding.[0].system",
            "inclusion",
            NOT_ALLOWED,
        ),
        (
            "without a code",
            Some(json!({"coding": [{"system": RECALL_REASONS_SYSTEM}]})),
            "$.status_reason.coding.[0].code",
            "required",
            "required property code was not present",
        ),
        (
            "with a code that is not a string",
            Some(json!({"coding": [{"system": RECALL_REASONS_SYSTEM, "code": 1}]})),
            "$.status_reason.coding.[0].code",
            "cast",
            "type mismatch. Expected String but got Integer",
        ),
    ];
    for (case, reason, entry, rule, message) in cases {
        let refusal = outcome(record(), recall_of(with_reason(reason)))
            .await
            .expect_err(case);
        let ServiceRequestError::RecallContentInvalid(invalid) = &refusal else {
            panic!("{case}: {refusal:?}");
        };
        assert_eq!(invalid.len(), 1, "{case}: {invalid:?}");
        let violation = &invalid[0];
        assert_eq!(
            (violation.entry.as_str(), violation.rule.as_str()),
            (entry, rule),
            "{case}"
        );
        if rule == "inclusion" {
            assert_eq!(violation.params, json!([RECALL_REASONS_SYSTEM]), "{case}");
        }
        assert_eq!(refusal.to_string(), message, "the message {case}");
    }
}

#[tokio::test]
async fn recall_with_a_reason_outside_the_dictionary_is_refused_naming_the_allowed_values() {
    let cases = [
        (
            "without a system",
            json!({"coding": [{"code": "1"}]}),
            vec!["1", "2"],
            "$.status_reason.coding.[0].system",
            vec![RECALL_REASONS_SYSTEM],
        ),
        (
            "with a code outside the dictionary",
            json!({"coding": [{"system": RECALL_REASONS_SYSTEM, "code": "3"}]}),
            vec!["1", "2"],
            "$.status_reason.coding.[0].code",
            vec!["1", "2"],
        ),
        (
            "with a bad code in the second coding",
            json!({"coding": [
                {"system": RECALL_REASONS_SYSTEM, "code": "2"},
                {"system": RECALL_REASONS_SYSTEM, "code": "9"}
            ]}),
            vec!["1", "2"],
            "$.status_reason.coding.[1].code",
            vec!["1", "2"],
        ),
        (
            "when the dictionary is empty",
            recall_reason(),
            vec![],
            "$.status_reason.coding.[0].code",
            vec![],
        ),
    ];
    for (case, reason, dictionary, entry, allowed) in cases {
        let mut cmd = recall_cmd(with_reason(Some(reason)));
        cmd.allowed_reasons = dictionary.into_iter().map(String::from).collect();
        let refusal = outcome(record(), recall(cmd)).await;
        let expected = ServiceRequestError::RecallReasonNotAllowed {
            entry: entry.into(),
            allowed: allowed.into_iter().map(String::from).collect(),
        };
        assert_eq!(refusal, Err(expected), "recall {case}");
        assert_eq!(refusal.unwrap_err().to_string(), NOT_ALLOWED, "{case}");
    }
}

#[tokio::test]
async fn recall_checks_the_status_then_the_schema_then_the_reason_then_the_content_id() {
    let completed = record_with(|r| r.status = ServiceRequestStatus::Completed);
    let unreasoned_for_another = signed_content_with(|doc| {
        doc.remove("status_reason");
        doc.insert("id".into(), json!(ANOTHER_ID));
    });
    let outside_the_dictionary_for_another = signed_content_with(|doc| {
        doc.insert(
            "status_reason".into(),
            json!({"coding": [{"system": RECALL_REASONS_SYSTEM, "code": "9"}]}),
        );
        doc.insert("id".into(), json!(ANOTHER_ID));
    });
    let cases = [
        (
            "of a completed service request, with empty content: the status first",
            completed,
            json!({}),
            ServiceRequestError::RecallInvalidStatus(ServiceRequestStatus::Completed),
        ),
        (
            "without a reason, naming another service request: the schema before the id",
            record(),
            unreasoned_for_another.clone(),
            refused_by_schema(&unreasoned_for_another),
        ),
        (
            "with a code outside the dictionary, naming another service request: the reason \
             before the id",
            record(),
            outside_the_dictionary_for_another,
            ServiceRequestError::RecallReasonNotAllowed {
                entry: "$.status_reason.coding.[0].code".into(),
                allowed: vec!["1".into(), "2".into()],
            },
        ),
    ];
    for (case, sr, content, expected) in cases {
        assert_eq!(
            outcome(sr, recall_of(content)).await,
            Err(expected),
            "recall {case}"
        );
    }
}
