use super::*;

use serde_json::{json, Map};
use uuid::Uuid;

use crate::drfo::Drfo;
use crate::ids::{CarePlanId, LegalEntityId};
use crate::test_support::*;
use crate::test_support::{
    EMPLOYEE as REQUESTER_EMPLOYEE, LEGAL_ENTITY as REQUESTER_LE, OTHER_LEGAL_ENTITY as USING_LE,
    SERVICE_REQUEST as SR_ID, THIRD_LEGAL_ENTITY as STRANGER_LE,
};

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

const USING_EMPLOYEE: Uuid = Uuid::from_u128(0xe000_0000_0000_0000_0000_0000_0000_0002);
const OTHER_EMPLOYEE: Uuid = Uuid::from_u128(0xe000_0000_0000_0000_0000_0000_0000_0003);
const TAX_ID: &str = "3184710691";
const LETTER: &str = "Patient moved to another city";
const RECALL_LINK: &str = "5e000000-0000-4000-8000-000000000001/recall";

/// An active service request with a medical program, reserved (in_queue) by `USING_LE`.
fn record() -> ServiceRequestRecord {
    let other = fields(json!({
        "intent": "order",
        "authored_on": "2024-03-01T09:00:00Z",
        "expiration_date": "2025-03-01T09:00:00Z",
        "note": "Referral for knee MRI",
        "patient_instruction": null,
        "priority": null,
        "requisition": "AX12-3456-7890",
        "category": {"coding": [{"system": "eHealth/SNOMED/service_request_categories", "code": "409063005"}]},
        "context": {"identifier": {"type": {"coding": [{"system": "eHealth/resources", "code": "encounter"}]},
                    "value": "0e000000-0000-4000-8000-000000000001"}},
        "reason_reference": [],
        "code": {"identifier": {"type": {"coding": [{"system": "eHealth/resources", "code": "service"}]},
                 "value": "0f000000-0000-0000-0000-000000000001"}},
    }));
    ServiceRequestRecord {
        id: SR_ID,
        patient_id: PATIENT,
        status: ServiceRequestStatus::Active,
        program_processing_status: Some(ProgramProcessingStatus::InQueue),
        requester_employee: Some(REQUESTER_EMPLOYEE),
        requester_legal_entity: Some(REQUESTER_LE),
        used_by_employee: Some(USING_EMPLOYEE),
        used_by_legal_entity: Some(USING_LE),
        status_reason: None,
        explanatory_letter: None,
        status_history: vec![StatusHistoryEntry {
            status: ServiceRequestStatus::Active,
            status_reason: None,
            inserted_at: created_at(),
            inserted_by: Some(AUTHOR),
        }],
        signed_content_links: vec!["5e000000-0000-0000-0000-000000000001/create".into()],
        inserted_at: created_at(),
        inserted_by: Some(AUTHOR),
        updated_at: created_at(),
        updated_by: Some(AUTHOR),
        other,
        released_by: Vec::new(),
    }
}

fn record_with(edit: impl FnOnce(&mut ServiceRequestRecord)) -> ServiceRequestRecord {
    let mut r = record();
    edit(&mut r);
    r
}

fn release_by(legal_entity_id: Uuid) -> ServiceRequestCommand {
    ServiceRequestCommand::Release(ReleaseServiceRequest {
        legal_entity_id: legal_entity_id.into(),
        user_id: USER.into(),
        at: now(),
    })
}

fn recall_reason() -> Value {
    json!({"coding": [{"system": "eHealth/service_request_recall_reasons", "code": "1"}]})
}

/// What the doctor signs: the rendered service request plus the recall reason and a letter.
fn signed_content(record: &ServiceRequestRecord) -> Value {
    let mut doc = record.render();
    doc["status_reason"] = recall_reason();
    doc["explanatory_letter"] = json!(LETTER);
    doc
}

fn signed_content_with(edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
    let mut doc = signed_content(&record());
    edit(doc.as_object_mut().unwrap());
    doc
}

/// A recall by the requester's doctor whose signature matches, for `content`.
fn recall_cmd(content: Value) -> RecallServiceRequest {
    RecallServiceRequest {
        patient_id: PATIENT.into(),
        legal_entity_id: REQUESTER_LE.into(),
        user_id: USER.into(),
        at: now(),
        signed_content: content,
        signer_drfo: Drfo::parse(TAX_ID),
        requester_tax_id: Some(TAX_ID.into()),
        user_employee_ids: vec![OTHER_EMPLOYEE.into(), REQUESTER_EMPLOYEE.into()],
        writable_care_plans: vec![],
        activity_care_plan: None,
        allowed_reasons: vec!["1".into(), "2".into()],
        signed_content_link: RECALL_LINK.into(),
    }
}

fn recall(cmd: RecallServiceRequest) -> ServiceRequestCommand {
    ServiceRequestCommand::Recall(Box::new(cmd))
}

fn valid_recall() -> ServiceRequestCommand {
    recall(recall_cmd(signed_content(&record())))
}

fn recall_of(content: Value) -> ServiceRequestCommand {
    recall(recall_cmd(content))
}

/// The recall of a valid recall by `USER`, whose signed content has `letter` as its explanatory
/// letter.
fn recalled_with_letter(letter: Option<&str>) -> ServiceRequestEvent {
    ServiceRequestEvent::ServiceRequestRecalled {
        status_reason: recall_reason(),
        explanatory_letter: letter.map(String::from),
        signed_content_link: RECALL_LINK.into(),
        by: USER,
        at: now(),
    }
}

fn recalled_event() -> ServiceRequestEvent {
    recalled_with_letter(Some(LETTER))
}

/// What `cmd` answers on the service request imported as `given`.
async fn outcome(
    given: ServiceRequestRecord,
    cmd: ServiceRequestCommand,
) -> Result<Vec<ServiceRequestEvent>, ServiceRequestError> {
    when(self::given(given), cmd).await
}

/// The schema's refusal of `content`, as `validate` describes it.
fn refused_by_schema(content: &Value) -> ServiceRequestError {
    ServiceRequestError::RecallContentInvalid(
        signed_content::validate(content).expect_err("the schema refuses the content"),
    )
}

/// The id of another service request.
const ANOTHER_ID: &str = "5e000000-0000-4000-8000-000000000007";

/// The statuses other than `active`, each with the text it is written as.
fn non_active() -> Vec<(ServiceRequestStatus, &'static str)> {
    let others = statuses_except(
        ServiceRequestStatus::VALUES,
        &[ServiceRequestStatus::Active],
    );
    assert_eq!(others.len(), 4);
    others
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn import_of_a_new_service_request_creates_it_and_a_second_import_is_a_no_op() {
    let changed = record_with(|r| r.status = ServiceRequestStatus::Completed);
    assert_imported_once(record(), changed, ServiceRequestCommand::Import).await;
}

#[tokio::test]
async fn release_or_recall_of_a_service_request_that_does_not_exist_is_refused_with_not_found() {
    for (action, command) in [
        ("release", release_by(USING_LE)),
        ("recall", valid_recall()),
    ] {
        let refusal = when(given_nothing::<ServiceRequest>(), command).await;
        assert_eq!(refusal, Err(ServiceRequestError::NotFound), "{action}");
        assert_eq!(
            refusal.unwrap_err().to_string(),
            "Service request not found",
            "the message of the {action}"
        );
    }
}

#[test]
fn events_on_a_service_request_that_was_never_imported_change_nothing() {
    let released = ServiceRequestEvent::ServiceRequestReleased {
        released_employee: None,
        released_legal_entity: None,
        by: USER,
        at: now(),
    };
    assert_nothing_changes_before_the_import::<ServiceRequest>([recalled_event(), released]);
}

#[test]
fn check_recall_gives_the_same_answer_as_the_command() {
    let aggregate = ServiceRequest {
        record: Some(record()),
    };
    assert_eq!(
        aggregate
            .check_recall(&recall_cmd(signed_content(&record())))
            .map(RecallReason::into_value),
        Ok(recall_reason())
    );
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.user_employee_ids.clear();
    assert_eq!(
        aggregate.check_recall(&cmd),
        Err(ServiceRequestError::RecallEmployeeNotInMsp)
    );
}

#[test]
fn service_request_events_are_named_and_versioned() {
    assert_named_and_versioned(vec![
        (imported(record()).remove(0), "ServiceRequestImported"),
        (recalled_event(), "ServiceRequestRecalled"),
    ]);
}

mod recall_caller;
mod recall_content;
mod recall_reason;
mod release;
