//! Recall: the signed content's schema and its recall reason.

use super::*;

// Recall: reason
// ---------------------------------------------------------------------------------------------

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

#[tokio::test]
async fn recall_without_a_status_reason_is_refused_by_the_schema_with_its_own_text() {
    let content = signed_content_with(|doc| {
        doc.remove("status_reason");
    });
    let err = outcome(record(), recall_of(content.clone()))
        .await
        .unwrap_err();
    assert_eq!(err, refused_by_schema(&content));
    assert_eq!(
        err.to_string(),
        "required property status_reason was not present"
    );
}

#[tokio::test]
async fn recall_with_a_null_empty_or_codingless_status_reason_is_refused_by_the_schema() {
    for reason in [
        Value::Null,
        json!({}),
        json!({"coding": []}),
        json!({"coding": "1"}),
        json!("1"),
    ] {
        let content = signed_content_with(|doc| {
            doc.insert("status_reason".into(), reason.clone());
        });
        let result = outcome(record(), recall_of(content.clone())).await;
        assert_eq!(
            result,
            Err(refused_by_schema(&content)),
            "status_reason {reason}"
        );
    }
}

#[tokio::test]
async fn recall_with_a_reason_from_another_dictionary_is_refused_by_the_schema_at_the_system() {
    let content = signed_content_with(|doc| {
        doc.insert(
            "status_reason".into(),
            json!({"coding": [{"system": "eHealth/service_request_cancel_reasons", "code": "9"}]}),
        );
    });
    let err = outcome(record(), recall_of(content)).await.unwrap_err();
    let ServiceRequestError::RecallContentInvalid(invalid) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    assert_eq!(invalid[0].entry, "$.status_reason.coding.[0].system");
    assert_eq!(invalid[0].rule, "inclusion");
    assert_eq!(invalid[0].params, json!([RECALL_REASONS_SYSTEM]));
    assert_eq!(err.to_string(), "value is not allowed in enum");
}

#[tokio::test]
async fn recall_with_a_reason_without_a_system_is_refused_at_the_system() {
    let content = signed_content_with(|doc| {
        doc.insert("status_reason".into(), json!({"coding": [{"code": "1"}]}));
    });
    given(record())
        .when_async(recall_of(content))
        .await
        .then_expect_error(ServiceRequestError::RecallReasonNotAllowed {
            entry: "$.status_reason.coding.[0].system".into(),
            allowed: vec![RECALL_REASONS_SYSTEM.into()],
        });
}

#[tokio::test]
async fn recall_with_a_code_outside_the_dictionary_is_refused_at_the_code() {
    let content = signed_content_with(|doc| {
        doc.insert(
            "status_reason".into(),
            json!({"coding": [{"system": "eHealth/service_request_recall_reasons", "code": "3"}]}),
        );
    });
    given(record())
        .when_async(recall_of(content))
        .await
        .then_expect_error(ServiceRequestError::RecallReasonNotAllowed {
            entry: "$.status_reason.coding.[0].code".into(),
            allowed: vec!["1".into(), "2".into()],
        });
}

#[tokio::test]
async fn recall_with_a_missing_or_non_string_code_is_refused_by_the_schema_at_the_code() {
    for coding in [
        json!({"system": "eHealth/service_request_recall_reasons"}),
        json!({"system": "eHealth/service_request_recall_reasons", "code": 1}),
    ] {
        let content = signed_content_with(|doc| {
            doc.insert(
                "status_reason".into(),
                json!({ "coding": [coding.clone()] }),
            );
        });
        let err = outcome(record(), recall_of(content)).await.unwrap_err();
        let ServiceRequestError::RecallContentInvalid(invalid) = &err else {
            panic!("{err:?}");
        };
        assert_eq!(invalid.len(), 1, "coding {coding}: {invalid:?}");
        assert_eq!(invalid[0].entry, "$.status_reason.coding.[0].code");
    }
}

#[tokio::test]
async fn recall_with_a_bad_code_in_the_second_coding_names_that_coding() {
    let content = signed_content_with(|doc| {
        doc.insert(
            "status_reason".into(),
            json!({"coding": [
                {"system": "eHealth/service_request_recall_reasons", "code": "2"},
                {"system": "eHealth/service_request_recall_reasons", "code": "9"}
            ]}),
        );
    });
    given(record())
        .when_async(recall_of(content))
        .await
        .then_expect_error(ServiceRequestError::RecallReasonNotAllowed {
            entry: "$.status_reason.coding.[1].code".into(),
            allowed: vec!["1".into(), "2".into()],
        });
}

#[tokio::test]
async fn recall_reports_a_bad_system_before_a_bad_code_in_the_same_coding() {
    let content = signed_content_with(|doc| {
        doc.insert(
            "status_reason".into(),
            json!({"coding": [{"system": "other", "code": "9"}]}),
        );
    });
    given(record())
        .when_async(recall_of(content.clone()))
        .await
        .then_expect_error(refused_by_schema(&content));
}

#[tokio::test]
async fn recall_when_the_dictionary_is_empty_refuses_every_code() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.allowed_reasons = vec![];
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallReasonNotAllowed {
            entry: "$.status_reason.coding.[0].code".into(),
            allowed: vec![],
        });
}

#[tokio::test]
async fn recall_checks_the_schema_and_the_reason_before_the_content_id() {
    let content = signed_content_with(|doc| {
        doc.remove("status_reason");
        doc.insert("id".into(), json!(ANOTHER_ID));
    });
    given(record())
        .when_async(recall_of(content.clone()))
        .await
        .then_expect_error(refused_by_schema(&content));
    let content = signed_content_with(|doc| {
        doc.insert(
            "status_reason".into(),
            json!({"coding": [{"system": RECALL_REASONS_SYSTEM, "code": "9"}]}),
        );
        doc.insert("id".into(), json!(ANOTHER_ID));
    });
    given(record())
        .when_async(recall_of(content))
        .await
        .then_expect_error(ServiceRequestError::RecallReasonNotAllowed {
            entry: "$.status_reason.coding.[0].code".into(),
            allowed: vec!["1".into(), "2".into()],
        });
}

#[tokio::test]
async fn recall_checks_the_status_before_the_schema() {
    let sr = record_with(|r| r.status = ServiceRequestStatus::Completed);
    given(sr)
        .when_async(recall_of(json!({})))
        .await
        .then_expect_error(ServiceRequestError::RecallInvalidStatus(
            ServiceRequestStatus::Completed,
        ));
}

// ---------------------------------------------------------------------------------------------
