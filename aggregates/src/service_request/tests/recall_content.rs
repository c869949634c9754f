//! Recall: the signed content compared with the stored service request, and a successful recall.

use super::*;

#[tokio::test]
async fn recall_of_content_signed_for_another_service_request_is_refused_with_id_mismatch() {
    let other = record_with(|r| r.id = Uuid::parse_str(ANOTHER_ID).unwrap());
    assert_refused(
        outcome(record(), recall_of(signed_content(&other))).await,
        ServiceRequestError::RecallContentIdMismatch,
        "Signed content id does not match the service request in the URL",
    );
}

#[tokio::test]
async fn recall_of_content_with_a_changed_field_is_refused_with_content_mismatch() {
    let content = signed_content_with(|doc| {
        doc.insert("note".into(), json!("Referral for knee MRI, urgent"));
    });
    assert_refused(
        outcome(record(), recall_of(content)).await,
        ServiceRequestError::RecallContentMismatch,
        "Signed content doesn't match with previously created service request",
    );
}

/// How signed content that differs from the stored service request is refused: a difference the
/// schema allows is a content mismatch, one it forbids is refused by the schema first.
#[tokio::test]
async fn recall_of_content_that_differs_from_the_service_request_is_refused() {
    let mismatch = |_: &Value| ServiceRequestError::RecallContentMismatch;
    let id_mismatch = |_: &Value| ServiceRequestError::RecallContentIdMismatch;
    type Edit = fn(&mut Map<String, Value>);
    type Refusal = fn(&Value) -> ServiceRequestError;
    let cases: [(&str, Edit, Refusal); 7] = [
        (
            "without a key whose value is null",
            |doc| assert_eq!(doc.remove("priority"), Some(Value::Null)),
            mismatch,
        ),
        (
            // A key the schema knows (a reference, here null) but the stored service request lacks.
            "with an extra key",
            |doc| {
                doc.insert("performer".into(), Value::Null);
            },
            mismatch,
        ),
        (
            "with a key the schema does not know",
            |doc| {
                doc.insert("colour".into(), json!("someone"));
            },
            refused_by_schema,
        ),
        (
            // The doctor signs the service request as it is now (active), not as it will be.
            "that already says recalled",
            |doc| {
                doc.insert("status".into(), json!("recalled"));
            },
            refused_by_schema,
        ),
        (
            "with a different reservation",
            |doc| {
                doc.insert("used_by_legal_entity".into(), Value::Null);
            },
            mismatch,
        ),
        (
            "without an id",
            |doc| {
                doc.remove("id");
            },
            refused_by_schema,
        ),
        (
            "naming another service request, with a changed field: the id first",
            |doc| {
                doc.insert("id".into(), json!(ANOTHER_ID));
                doc.insert("note".into(), json!("changed"));
            },
            id_mismatch,
        ),
    ];
    for (case, edit, refusal) in cases {
        let content = signed_content_with(edit);
        assert_eq!(
            outcome(record(), recall_of(content.clone())).await,
            Err(refusal(&content)),
            "recall of content {case}"
        );
    }
}

#[test]
fn the_content_comparison_ignores_exactly_four_keys() {
    assert_eq!(
        CONTENT_COMPARISON_IGNORED,
        [
            "status_reason",
            "explanatory_letter",
            "inserted_at",
            "updated_at"
        ]
    );
    let doc = comparable(record().render());
    for key in CONTENT_COMPARISON_IGNORED {
        assert!(doc.get(key).is_none(), "{key} kept");
    }
    assert_eq!(doc["id"], json!(SR_ID.to_string()));
    assert_eq!(doc["status"], json!("active"));
    assert_eq!(doc["priority"], Value::Null);
}

// ---------------------------------------------------------------------------------------------
// Recall: success
// ---------------------------------------------------------------------------------------------

/// The recall is written with the signed reason, the signed letter (if any) and the link; the
/// keys the comparison ignores may differ from the stored service request or be missing.
#[tokio::test]
async fn recall_by_the_requester_doctor_emits_recalled_with_the_reason_letter_and_link() {
    let with_stored_letter_and_reason = record_with(|r| {
        r.explanatory_letter = Some("stored letter".into());
        r.status_reason = Some(json!({"text": "stored reason"}));
    });
    let mut with_other_ignored_keys = signed_content(&with_stored_letter_and_reason);
    with_other_ignored_keys["explanatory_letter"] = json!("a different letter");
    with_other_ignored_keys["inserted_at"] = json!("2000-01-01T00:00:00Z");
    with_other_ignored_keys["updated_at"] = json!("2001-01-01T00:00:00Z");
    let used_by_nobody = record_with(|r| {
        r.used_by_employee = None;
        r.used_by_legal_entity = None;
        r.program_processing_status = None;
    });
    let cases = [
        (
            "of the service request as stored",
            record(),
            signed_content(&record()),
            Some(LETTER),
        ),
        (
            "without an explanatory letter",
            record(),
            signed_content_with(|doc| {
                doc.remove("explanatory_letter");
            }),
            None,
        ),
        (
            "without the ignored timestamps",
            record(),
            signed_content_with(|doc| {
                doc.remove("inserted_at");
                doc.remove("updated_at");
            }),
            Some(LETTER),
        ),
        (
            "whose status reason, letter, inserted_at and updated_at differ from the stored ones",
            with_stored_letter_and_reason,
            with_other_ignored_keys,
            Some("a different letter"),
        ),
        (
            "of a service request that nobody uses",
            used_by_nobody.clone(),
            signed_content(&used_by_nobody),
            Some(LETTER),
        ),
    ];
    for (case, sr, content, letter) in cases {
        assert_eq!(
            outcome(sr, recall_of(content)).await,
            Ok(vec![recalled_with_letter(letter)]),
            "recall {case}"
        );
    }
}

#[tokio::test]
async fn a_recalled_service_request_records_the_recall_in_its_status_and_history() {
    let state = state_after_command(record(), valid_recall()).await;
    let expected = record_with(|r| {
        r.status = ServiceRequestStatus::Recalled;
        r.status_reason = Some(recall_reason());
        r.explanatory_letter = Some(LETTER.into());
        r.status_history.push(StatusHistoryEntry {
            status: ServiceRequestStatus::Recalled,
            status_reason: Some(recall_reason()),
            inserted_at: now(),
            inserted_by: Some(USER),
        });
        r.signed_content_links.push(RECALL_LINK.into());
        r.updated_by = Some(USER);
        r.updated_at = now();
    });
    assert_eq!(state, expected);
    assert_eq!(state.status_history.len(), 2);
    assert_eq!(state.signed_content_links.len(), 2);
    // The reservation is untouched by a recall.
    assert_eq!(state.used_by_legal_entity, Some(USING_LE));
    assert_eq!(state.render()["status"], json!("recalled"));
}

#[test]
fn a_recall_without_a_letter_keeps_the_stored_letter() {
    let mut history = imported(record_with(|r| {
        r.explanatory_letter = Some("stored letter".into());
    }));
    history.push(recalled_with_letter(None));
    let state = state_after::<ServiceRequest>(history);
    assert_eq!(state.explanatory_letter.as_deref(), Some("stored letter"));
    assert_eq!(state.status, ServiceRequestStatus::Recalled);
}
