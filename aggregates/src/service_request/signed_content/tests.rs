use serde_json::{json, Value};

use super::{validate, Invalid, SCHEMA};

fn reference(code: &str, id: &str) -> Value {
    json!({ "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": code } ] }, "value": id } })
}

/// A service request as the read endpoint renders it, with a recall reason: what a client signs.
fn valid() -> Value {
    json!({
        "id": "0f3c2a8e-5b7d-4c1e-9a2b-3c4d5e6f7a8b",
        "status": "active",
        "intent": "order",
        "category": { "coding": [ { "system": "eHealth/SNOMED/service_request_categories", "code": "409063005" } ] },
        "code": reference("service", "8b5e7f3a-5d2b-4e0e-9a7f-0c3f1c1d2e3f"),
        "context": reference("encounter", "2f6a2d1c-0b8e-4c55-9a55-8f7d8a9c0b1e"),
        "authored_on": "2024-05-01T10:00:00Z",
        "requester_employee": reference("employee", "6a1e4a77-1a2b-4c3d-8e9f-0a1b2c3d4e5f"),
        "requester_legal_entity": reference("legal_entity", "7b2f5b88-2b3c-4d4e-9f0a-1b2c3d4e5f60"),
        "status_reason": { "coding": [ { "system": "eHealth/service_request_recall_reasons", "code": "1" } ] },
        "expiration_date": "2099-05-01T10:00:00Z",
        "note": "Консультація",
        "patient_instruction": null,
        "reason_reference": [],
        "requisition": "0000-1234-5678-AX",
        "status_history": [],
        "used_by_employee": null,
        "used_by_legal_entity": null,
        "subject": reference("patient", "9c3a6c99-3c4d-4e5f-8a0b-2c3d4e5f6071"),
        "priority": "routine",
        "program_processing_status": "in_queue",
        "inserted_at": "2024-05-01T10:00:00Z",
        "updated_at": "2024-05-01T10:00:00.123456Z"
    })
}

fn with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut content = valid();
    edit(content.as_object_mut().expect("an object"));
    content
}

fn entry(entry: &str, rule: &str, description: &str, params: Value) -> Invalid {
    Invalid {
        entry: entry.into(),
        rule: rule.into(),
        description: description.into(),
        params,
    }
}

#[test]
fn the_rendering_a_client_signs_is_valid() {
    assert_eq!(validate(&valid()), Ok(()));
}

#[test]
fn an_empty_object_answers_every_missing_required_property_in_the_schemas_order() {
    let errors = validate(&json!({})).unwrap_err();
    // The order eHealth answers in is the schema's `required` list.
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let expected: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(expected.len(), 19);
    assert_eq!(
        (expected[0], expected[9], expected[18]),
        ("id", "status_reason", "subject")
    );
    let want: Vec<Invalid> = expected
        .iter()
        .map(|p| {
            entry(
                &format!("$.{p}"),
                "required",
                &format!("required property {p} was not present"),
                json!([]),
            )
        })
        .collect();
    assert_eq!(errors, want);
}

#[test]
fn content_that_is_not_an_object_is_one_cast_error_at_the_root() {
    assert_eq!(
        validate(&json!("")).unwrap_err(),
        vec![entry(
            "$",
            "cast",
            "type mismatch. Expected Object but got String",
            json!(["object"])
        )]
    );
    assert_eq!(
        validate(&json!([1])).unwrap_err(),
        vec![entry(
            "$",
            "cast",
            "type mismatch. Expected Object but got Array",
            json!(["object"])
        )]
    );
}

#[test]
fn both_occurrences_at_once_name_both_parameters() {
    let params = json!(["$.occurrence_date_time", "$.occurrence_period"]);
    let errors = validate(&with(|c| {
        c.insert("occurrence_date_time".into(), json!("2024-05-02T10:00:00Z"));
        c.insert(
            "occurrence_period".into(),
            json!({ "start": "2024-05-02T10:00:00Z", "end": "2024-05-03T10:00:00Z" }),
        );
    }))
    .unwrap_err();
    let text = "Only one of the parameters must be present";
    assert_eq!(
        errors,
        vec![
            entry("$.occurrence_date_time", "oneOf", text, params.clone()),
            entry("$.occurrence_period", "oneOf", text, params),
        ]
    );
}

#[test]
fn one_occurrence_alone_is_valid() {
    let content = with(|c| {
        c.insert(
            "occurrence_date_time".into(),
            json!("2024-05-02T10:00:00+03:00"),
        );
    });
    assert_eq!(validate(&content), Ok(()));
}

#[test]
fn malformed_and_impossible_date_times_are_refused_with_their_own_texts() {
    let errors = validate(&with(|c| {
        c.insert("authored_on".into(), json!("2024-05-01"));
        c.insert("inserted_at".into(), json!("2024-02-30T10:00:00Z"));
    }))
    .unwrap_err();
    assert_eq!(
        errors,
        vec![
            entry(
                "$.authored_on",
                "datetime",
                "expected \"2024-05-01\" to be a valid ISO 8601 date-time",
                json!([])
            ),
            entry(
                "$.inserted_at",
                "datetime",
                "expected \"2024-02-30T10:00:00Z\" to be an existing date-time",
                json!([])
            ),
        ]
    );
}

#[test]
fn a_date_time_without_an_offset_is_accepted_as_ehealth_accepts_it() {
    let content = with(|c| {
        c.insert("authored_on".into(), json!("2024-05-01T10:00:00.5"));
    });
    assert_eq!(validate(&content), Ok(()));
}

/// One field that breaks one rule is one violation at that field, in eHealth's words, with the
/// rule's parameters.
#[test]
fn a_field_that_breaks_one_rule_is_one_violation_named_by_entry_rule_text_and_parameters() {
    let cases = [
        (
            "a status outside the enum lists the allowed values",
            "status",
            json!("recalled"),
            entry(
                "$.status",
                "inclusion",
                "value is not allowed in enum",
                json!(["active", "in_progress"]),
            ),
        ),
        (
            "a reason from another dictionary is refused at its system",
            "status_reason",
            json!({ "coding": [ { "system": "eHealth/other", "code": "1" } ] }),
            entry(
                "$.status_reason.coding.[0].system",
                "inclusion",
                "value is not allowed in enum",
                json!(["eHealth/service_request_recall_reasons"]),
            ),
        ),
        (
            "a wrongly typed nullable field names every allowed type",
            "note",
            json!(5),
            entry(
                "$.note",
                "cast",
                "type mismatch. Expected Null, String but got Integer",
                json!([["null", "string"]]),
            ),
        ),
        (
            "a property the schema does not know is refused",
            "colour",
            json!("red"),
            entry(
                "$.colour",
                "schema",
                "schema does not allow additional properties",
                json!([]),
            ),
        ),
        (
            "an empty coding list is a length error",
            "status_reason",
            json!({ "coding": [] }),
            entry(
                "$.status_reason.coding",
                "length",
                "expected a minimum of 1 items but got 0",
                json!({ "min": 1 }),
            ),
        ),
    ];
    for (case, field, value, expected) in cases {
        let content = with(|c| {
            c.insert(field.into(), value);
        });
        assert_eq!(validate(&content), Err(vec![expected]), "{case}");
    }
}

#[test]
fn an_id_that_is_not_a_uuid_does_not_match_the_pattern() {
    let errors = validate(&with(|c| {
        c.insert("id".into(), json!("nope"));
    }))
    .unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].entry, "$.id");
    assert_eq!(errors[0].rule, "format");
    assert!(errors[0]
        .description
        .starts_with("string does not match pattern \"^[0-9a-f]{8}-"));
}

#[test]
fn violations_inside_properties_come_before_missing_properties() {
    let errors = validate(&with(|c| {
        c.remove("subject");
        c.remove("id");
        c.insert("status".into(), json!(1));
        c.insert("intent".into(), json!("maybe"));
    }))
    .unwrap_err();
    let entries: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.entry.as_str(), e.rule.as_str()))
        .collect();
    assert_eq!(
        entries,
        vec![
            ("$.intent", "inclusion"),
            ("$.status", "inclusion"),
            ("$.status", "cast"),
            ("$.id", "required"),
            ("$.subject", "required"),
        ]
    );
}
