use super::*;

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use serde_json::{json, Map};
use uuid::Uuid;

use crate::drfo::Drfo;
use crate::ids::{CarePlanId, LegalEntityId};
use crate::test_support::{
    assert_imported_once, assert_named_and_versioned, assert_refused, given_nothing, replay, when,
    AUTHOR, OTHER_PATIENT, PATIENT, USER,
};

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

const SR_ID: Uuid = Uuid::from_u128(0x5e00_0000_0000_4000_8000_0000_0000_0001);
const REQUESTER_LE: Uuid = Uuid::from_u128(0x1e00_0000_0000_0000_0000_0000_0000_0001);
const USING_LE: Uuid = Uuid::from_u128(0x1e00_0000_0000_0000_0000_0000_0000_0002);
const STRANGER_LE: Uuid = Uuid::from_u128(0x1e00_0000_0000_0000_0000_0000_0000_0003);
const REQUESTER_EMPLOYEE: Uuid = Uuid::from_u128(0xe000_0000_0000_0000_0000_0000_0000_0001);
const USING_EMPLOYEE: Uuid = Uuid::from_u128(0xe000_0000_0000_0000_0000_0000_0000_0002);
const OTHER_EMPLOYEE: Uuid = Uuid::from_u128(0xe000_0000_0000_0000_0000_0000_0000_0003);
const TAX_ID: &str = "3184710691";
const RECALL_LINK: &str = "5e000000-0000-4000-8000-000000000001/recall";

fn created_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 9, 0, 0).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 5, 14, 30, 15).unwrap()
}

/// An active service request with a medical program, reserved (in_queue) by `USING_LE`.
fn record() -> ServiceRequestRecord {
    let mut other = Map::new();
    other.insert("intent".into(), json!("order"));
    other.insert("authored_on".into(), json!("2024-03-01T09:00:00Z"));
    other.insert("expiration_date".into(), json!("2025-03-01T09:00:00Z"));
    other.insert("note".into(), json!("Referral for knee MRI"));
    other.insert("patient_instruction".into(), Value::Null);
    other.insert("priority".into(), Value::Null);
    other.insert("requisition".into(), json!("AX12-3456-7890"));
    other.insert(
        "category".into(),
        json!({"coding": [{"system": "eHealth/SNOMED/service_request_categories", "code": "409063005"}]}),
    );
    other.insert(
        "context".into(),
        json!({"identifier": {"type": {"coding": [{"system": "eHealth/resources", "code": "encounter"}]},
               "value": "0e000000-0000-4000-8000-000000000001"}}),
    );
    other.insert("reason_reference".into(), json!([]));
    other.insert(
        "code".into(),
        json!({"identifier": {"type": {"coding": [{"system": "eHealth/resources", "code": "service"}]},
               "value": "0f000000-0000-0000-0000-000000000001"}}),
    );
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

fn imported(record: ServiceRequestRecord) -> Vec<ServiceRequestEvent> {
    vec![ServiceRequestEvent::ServiceRequestImported(Box::new(
        record,
    ))]
}

fn given(record: ServiceRequestRecord) -> cqrs_es::test::AggregateTestExecutor<ServiceRequest> {
    TestFramework::<ServiceRequest>::with(()).given(imported(record))
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
    doc["explanatory_letter"] = json!("Patient moved to another city");
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

fn recalled_event() -> ServiceRequestEvent {
    ServiceRequestEvent::ServiceRequestRecalled {
        status_reason: recall_reason(),
        explanatory_letter: Some("Patient moved to another city".into()),
        signed_content_link: RECALL_LINK.into(),
        by: USER,
        at: now(),
    }
}

async fn outcome(
    given: ServiceRequestRecord,
    cmd: ServiceRequestCommand,
) -> Result<Vec<ServiceRequestEvent>, ServiceRequestError> {
    self::given(given).when_async(cmd).await.inspect_result()
}

fn state_after(events: Vec<ServiceRequestEvent>) -> ServiceRequestRecord {
    replay::<ServiceRequest>(events)
        .record
        .expect("the service request exists")
}

const NON_ACTIVE: [ServiceRequestStatus; 4] = [
    ServiceRequestStatus::InProgress,
    ServiceRequestStatus::Completed,
    ServiceRequestStatus::Recalled,
    ServiceRequestStatus::EnteredInError,
];

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn import_of_a_new_service_request_creates_it_and_a_second_import_is_a_no_op() {
    assert_imported_once::<ServiceRequest, _>(
        record(),
        record_with(|r| r.status = ServiceRequestStatus::Completed),
        ServiceRequestCommand::Import,
        ServiceRequestEvent::ServiceRequestImported,
    )
    .await;
}

#[test]
fn an_imported_service_request_holds_the_imported_record() {
    assert_eq!(state_after(imported(record())), record());
    assert_eq!(ServiceRequest::default().record, None);
}

// ---------------------------------------------------------------------------------------------
// Release
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn release_of_a_service_request_that_does_not_exist_is_refused_with_not_found() {
    given_nothing::<ServiceRequest>()
        .when_async(release_by(USING_LE))
        .await
        .then_expect_error(ServiceRequestError::NotFound);
}

fn expiring_at(text: &str) -> ServiceRequestRecord {
    record_with(|r| {
        r.other
            .insert("expiration_date".into(), Value::String(text.into()));
    })
}

#[tokio::test]
async fn release_checks_the_expiration_before_the_status() {
    let mut expired = expiring_at("2024-01-01T00:00:00+02:00");
    expired.status = ServiceRequestStatus::Recalled;
    given(expired)
        .when_async(release_by(USING_LE))
        .await
        .then_expect_error(ServiceRequestError::ReleaseExpired);
}

#[tokio::test]
async fn release_of_a_service_request_expiring_later_or_never_succeeds() {
    for text in ["2024-03-05T14:30:16Z", "2024-03-05", "2024-03-05T14:30:16"] {
        let events = outcome(expiring_at(text), release_by(USING_LE)).await;
        assert!(events.is_ok(), "{text}: {events:?}");
    }
    let mut without = record();
    without.other.remove("expiration_date");
    assert!(outcome(without, release_by(USING_LE)).await.is_ok());
}

#[test]
fn a_bare_expiration_date_lasts_until_the_end_of_that_day() {
    let sr = expiring_at("2024-03-04");
    assert!(sr.is_expired(now()));
    assert!(!expiring_at("2024-03-05").is_expired(now()));
    assert!(!expiring_at("2024-03-05T14:30:15.000001+00:00").is_expired(now()));
    assert!(!expiring_at("not a date").is_expired(now()));
}

#[tokio::test]
async fn release_of_a_service_request_that_is_not_active_is_refused_with_invalid_status() {
    for status in NON_ACTIVE {
        let result = outcome(record_with(|r| r.status = status), release_by(USING_LE)).await;
        assert_eq!(
            result,
            Err(ServiceRequestError::ReleaseInvalidStatus),
            "status {status:?}"
        );
    }
    assert_eq!(
        ServiceRequestError::ReleaseInvalidStatus.to_string(),
        "Invalid service request status"
    );
}

#[tokio::test]
async fn release_of_a_service_request_whose_program_processing_status_is_not_in_queue_is_refused() {
    for pps in [
        Some(ProgramProcessingStatus::New),
        Some(ProgramProcessingStatus::InProgress),
        Some(ProgramProcessingStatus::Completed),
        None,
    ] {
        let result = outcome(
            record_with(|r| r.program_processing_status = pps),
            release_by(USING_LE),
        )
        .await;
        assert_eq!(
            result,
            Err(ServiceRequestError::ReleaseInvalidProgramProcessingStatus),
            "program_processing_status {pps:?}"
        );
    }
    assert_eq!(
        ServiceRequestError::ReleaseInvalidProgramProcessingStatus.to_string(),
        "Invalid program processing status"
    );
}

#[tokio::test]
async fn release_by_the_requester_of_a_service_request_used_by_another_legal_entity_is_refused() {
    given(record())
        .when_async(release_by(REQUESTER_LE))
        .await
        .then_expect_error(ServiceRequestError::ReleaseUsedByAnotherLegalEntity);
    assert_eq!(
        ServiceRequestError::ReleaseUsedByAnotherLegalEntity.to_string(),
        "Service request is used by another legal entity"
    );
}

/// Which rule answers first when several fail, and the ones no other test isolates.
#[tokio::test]
async fn release_refusals_follow_the_rule_order() {
    let recalled = record_with(|r| r.status = ServiceRequestStatus::Recalled);
    let completed_everywhere = record_with(|r| {
        r.status = ServiceRequestStatus::Completed;
        r.program_processing_status = Some(ProgramProcessingStatus::Completed);
    });
    // The requester sees it but does not use it, and it is not in the queue either.
    let not_in_queue =
        record_with(|r| r.program_processing_status = Some(ProgramProcessingStatus::New));
    let used_by_nobody = record_with(|r| {
        r.used_by_employee = None;
        r.used_by_legal_entity = None;
    });
    let cases = [
        (
            "by a legal entity that neither requested nor uses it",
            given(record()),
            STRANGER_LE,
            ServiceRequestError::ReleaseUsedByAnotherLegalEntity,
        ),
        (
            "by a stranger legal entity, of a recalled one: the status rule first",
            given(recalled),
            STRANGER_LE,
            ServiceRequestError::ReleaseInvalidStatus,
        ),
        (
            // now() is 2024-03-05T14:30:15Z.
            "of one whose expiration date has passed",
            given(expiring_at("2024-03-05T14:30:14Z")),
            USING_LE,
            ServiceRequestError::ReleaseExpired,
        ),
        (
            "of one recalled after its import",
            given(record()).and(vec![recalled_event()]),
            USING_LE,
            ServiceRequestError::ReleaseInvalidStatus,
        ),
        (
            "of a completed one: the status before the program processing status",
            given(completed_everywhere),
            USING_LE,
            ServiceRequestError::ReleaseInvalidStatus,
        ),
        (
            "by the requester, of one not in the queue: the program processing status before who \
             uses it",
            given(not_in_queue),
            REQUESTER_LE,
            ServiceRequestError::ReleaseInvalidProgramProcessingStatus,
        ),
        (
            "of an in-queue one used by nobody",
            given(used_by_nobody),
            REQUESTER_LE,
            ServiceRequestError::ReleaseUsedByAnotherLegalEntity,
        ),
    ];
    for (case, service_request, legal_entity, expected) in cases {
        assert_eq!(
            when(service_request, release_by(legal_entity)).await,
            Err(expected),
            "release {case}"
        );
    }
}

#[tokio::test]
async fn release_by_the_using_legal_entity_emits_released_with_the_previous_reservation() {
    given(record())
        .when_async(release_by(USING_LE))
        .await
        .then_expect_events(vec![ServiceRequestEvent::ServiceRequestReleased {
            released_employee: Some(USING_EMPLOYEE),
            released_legal_entity: Some(USING_LE),
            by: USER,
            at: now(),
        }]);
}

#[tokio::test]
async fn release_by_the_using_legal_entity_that_also_requested_it_succeeds() {
    let sr = record_with(|r| r.requester_legal_entity = Some(USING_LE));
    let events = outcome(sr, release_by(USING_LE)).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(matches!(
        events[0],
        ServiceRequestEvent::ServiceRequestReleased {
            released_legal_entity: Some(USING_LE),
            ..
        }
    ));
}

#[tokio::test]
async fn a_released_service_request_is_no_longer_used_and_is_back_to_new() {
    let events = outcome(record(), release_by(USING_LE)).await.unwrap();
    let mut all = imported(record());
    all.extend(events);
    let expected = record_with(|r| {
        r.used_by_employee = None;
        r.used_by_legal_entity = None;
        r.program_processing_status = Some(ProgramProcessingStatus::New);
        r.updated_by = Some(USER);
        r.updated_at = now();
    });
    let state = state_after(all);
    assert_eq!(
        state,
        ServiceRequestRecord {
            released_by: vec![USING_LE],
            ..expected
        }
    );
    assert_eq!(state.status, ServiceRequestStatus::Active);
}

#[tokio::test]
async fn the_legal_entity_that_released_a_service_request_keeps_seeing_it() {
    let mut all = imported(record());
    all.extend(outcome(record(), release_by(USING_LE)).await.unwrap());
    let state = state_after(all);
    assert!(state.visible_to(USING_LE));
    assert!(state.visible_to(REQUESTER_LE));
    assert!(!state.visible_to(STRANGER_LE));
    // The released list is not part of eHealth's rendering.
    assert!(state.render().get("released_by").is_none());
}

#[tokio::test]
async fn a_released_service_request_cannot_be_released_again() {
    let mut events = imported(record());
    events.extend(outcome(record(), release_by(USING_LE)).await.unwrap());
    // It is back to `new`, whoever asks.
    TestFramework::<ServiceRequest>::with(())
        .given(events.clone())
        .when_async(release_by(USING_LE))
        .await
        .then_expect_error(ServiceRequestError::ReleaseInvalidProgramProcessingStatus);
    // The requester sees it, but it is back to `new`.
    TestFramework::<ServiceRequest>::with(())
        .given(events)
        .when_async(release_by(REQUESTER_LE))
        .await
        .then_expect_error(ServiceRequestError::ReleaseInvalidProgramProcessingStatus);
}

#[test]
fn check_release_gives_the_same_answer_as_the_command() {
    let aggregate = ServiceRequest {
        record: Some(record()),
    };
    let cmd = |le| ReleaseServiceRequest {
        legal_entity_id: LegalEntityId::new(le),
        user_id: USER.into(),
        at: now(),
    };
    assert_eq!(aggregate.check_release(&cmd(USING_LE)), Ok(()));
    assert_eq!(
        aggregate.check_release(&cmd(STRANGER_LE)),
        Err(ServiceRequestError::ReleaseUsedByAnotherLegalEntity)
    );
    assert_eq!(
        aggregate.check_release(&cmd(REQUESTER_LE)),
        Err(ServiceRequestError::ReleaseUsedByAnotherLegalEntity)
    );
}

// ---------------------------------------------------------------------------------------------
// Recall: who
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn recall_of_a_service_request_that_does_not_exist_is_refused_with_not_found() {
    given_nothing::<ServiceRequest>()
        .when_async(valid_recall())
        .await
        .then_expect_error(ServiceRequestError::NotFound);
}

#[tokio::test]
async fn recall_in_the_context_of_another_patient_is_refused_with_not_found() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.patient_id = OTHER_PATIENT.into();
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::NotFound);
}

#[tokio::test]
async fn recall_by_a_legal_entity_that_neither_requested_nor_uses_the_service_request_is_refused_as_not_the_requester(
) {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.legal_entity_id = STRANGER_LE.into();
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallNotRequesterLegalEntity);
}

#[tokio::test]
async fn recall_by_the_using_legal_entity_that_did_not_request_it_is_refused() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.legal_entity_id = USING_LE.into();
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallNotRequesterLegalEntity);
    assert_eq!(
        ServiceRequestError::RecallNotRequesterLegalEntity.to_string(),
        "Only an employee from legal entity where service request is created can recall service request"
    );
}

#[tokio::test]
async fn recall_checks_the_requester_legal_entity_before_the_signer() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.legal_entity_id = USING_LE.into();
    cmd.signer_drfo = Drfo::parse("0000000000");
    cmd.user_employee_ids = vec![];
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallNotRequesterLegalEntity);
}

#[tokio::test]
async fn recall_signed_by_someone_other_than_the_requester_is_refused_with_drfo_mismatch() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.signer_drfo = Drfo::parse("3184710692");
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallDrfoMismatch);
    assert_eq!(
        ServiceRequestError::RecallDrfoMismatch.to_string(),
        "Does not match the signer drfo"
    );
}

#[tokio::test]
async fn recall_signed_with_a_latin_passport_number_matches_the_cyrillic_tax_id() {
    for (drfo, tax_id) in [
        ("KA123456", "КА123456"),
        ("ka 123456", "КА123456"),
        ("BH123456", "ВН123456"),
    ] {
        let mut cmd = recall_cmd(signed_content(&record()));
        cmd.signer_drfo = Drfo::parse(drfo);
        cmd.requester_tax_id = Some(tax_id.into());
        let result = outcome(record(), recall(cmd)).await;
        assert_eq!(result, Ok(vec![recalled_event()]), "{drfo} vs {tax_id}");
    }
}

#[tokio::test]
async fn recall_with_a_passport_number_that_differs_in_a_letter_is_refused_with_drfo_mismatch() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.signer_drfo = Drfo::parse("KB123456");
    cmd.requester_tax_id = Some("КА123456".into());
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallDrfoMismatch);
}

#[tokio::test]
async fn recall_when_the_requester_has_no_known_tax_id_is_refused_with_drfo_mismatch() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.requester_tax_id = None;
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallDrfoMismatch);
}

#[tokio::test]
async fn recall_with_an_empty_signer_drfo_is_refused_even_against_an_empty_tax_id() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.signer_drfo = Drfo::parse("");
    cmd.requester_tax_id = Some(String::new());
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallDrfoMismatch);
}

#[tokio::test]
async fn recall_checks_the_drfo_before_the_employee() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.signer_drfo = Drfo::parse("3184710692");
    cmd.user_employee_ids = vec![OTHER_EMPLOYEE.into()];
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallDrfoMismatch);
}

#[tokio::test]
async fn recall_by_a_user_who_is_not_the_requester_employee_is_refused_with_not_in_msp() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.user_employee_ids = vec![OTHER_EMPLOYEE.into(), USING_EMPLOYEE.into()];
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallEmployeeNotInMsp);
    assert_eq!(
        ServiceRequestError::RecallEmployeeNotInMsp.to_string(),
        "Employees related to this party_id not in current MSP"
    );
}

const CARE_PLAN: Uuid = Uuid::from_u128(0xc000_0000_0000_0000_0000_0000_0000_0001);
const OTHER_CARE_PLAN: Uuid = Uuid::from_u128(0xc000_0000_0000_0000_0000_0000_0000_0002);

fn based_on(code: &str, id: Uuid) -> ServiceRequestRecord {
    record_with(|r| {
        r.other.insert(
            "based_on".into(),
            json!([{"identifier": {"type": {"coding": [{"system": "eHealth/resources", "code": code}]},
                    "value": id.to_string()}}]),
        );
    })
}

/// A user who is not the requester employee, whose employees may write `writable`.
fn recall_by_care_plan_writer(
    sr: &ServiceRequestRecord,
    writable: Vec<Uuid>,
    activity_care_plan: Option<Uuid>,
) -> ServiceRequestCommand {
    let mut cmd = recall_cmd(signed_content(sr));
    cmd.user_employee_ids = vec![OTHER_EMPLOYEE.into()];
    cmd.writable_care_plans = writable.into_iter().map(CarePlanId::new).collect();
    cmd.activity_care_plan = activity_care_plan.map(CarePlanId::new);
    recall(cmd)
}

#[tokio::test]
async fn recall_of_a_care_plan_service_request_by_a_holder_of_a_write_approval_on_that_plan_succeeds(
) {
    let sr = based_on("care_plan", CARE_PLAN);
    let events = outcome(
        sr.clone(),
        recall_by_care_plan_writer(&sr, vec![CARE_PLAN], None),
    )
    .await;
    assert!(events.is_ok(), "{events:?}");
}

#[tokio::test]
async fn recall_of_a_care_plan_service_request_needs_the_approval_on_that_very_plan() {
    let sr = based_on("care_plan", CARE_PLAN);
    given(sr.clone())
        .when_async(recall_by_care_plan_writer(&sr, vec![OTHER_CARE_PLAN], None))
        .await
        .then_expect_error(ServiceRequestError::RecallEmployeeNotInMsp);
}

#[tokio::test]
async fn a_write_approval_does_not_help_for_a_service_request_not_based_on_a_care_plan() {
    let sr = record();
    given(sr.clone())
        .when_async(recall_by_care_plan_writer(&sr, vec![CARE_PLAN], None))
        .await
        .then_expect_error(ServiceRequestError::RecallEmployeeNotInMsp);
}

#[tokio::test]
async fn a_service_request_based_on_an_activity_is_based_on_the_activitys_care_plan() {
    let sr = based_on("activity", Uuid::from_u128(0xac));
    let events = outcome(
        sr.clone(),
        recall_by_care_plan_writer(&sr, vec![CARE_PLAN], Some(CARE_PLAN)),
    )
    .await;
    assert!(events.is_ok(), "{events:?}");
    given(sr.clone())
        .when_async(recall_by_care_plan_writer(&sr, vec![CARE_PLAN], None))
        .await
        .then_expect_error(ServiceRequestError::RecallEmployeeNotInMsp);
}

#[test]
fn based_on_names_a_care_plan_or_an_activity_in_a_list_or_alone() {
    assert_eq!(
        based_on("care_plan", CARE_PLAN).based_on_care_plan(),
        Some(CARE_PLAN)
    );
    assert_eq!(based_on("care_plan", CARE_PLAN).based_on_activity(), None);
    let single = record_with(|r| {
        r.other.insert(
            "based_on".into(),
            json!({"identifier": {"type": {"coding": [{"system": "eHealth/resources", "code": "care_plan_activity"}]},
                   "value": CARE_PLAN.to_string()}}),
        );
    });
    assert_eq!(single.based_on_activity(), Some(CARE_PLAN));
    assert_eq!(record().based_on_care_plan(), None);
}

#[tokio::test]
async fn recall_by_a_user_without_employees_is_refused_with_not_in_msp() {
    let mut cmd = recall_cmd(signed_content(&record()));
    cmd.user_employee_ids = vec![];
    given(record())
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallEmployeeNotInMsp);
}

#[tokio::test]
async fn recall_of_a_service_request_without_a_requester_employee_is_refused_with_not_in_msp() {
    let sr = record_with(|r| r.requester_employee = None);
    let cmd = recall_cmd(signed_content(&sr));
    given(sr)
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallEmployeeNotInMsp);
}

#[tokio::test]
async fn recall_checks_the_employee_before_the_status() {
    let sr = record_with(|r| r.status = ServiceRequestStatus::Completed);
    let mut cmd = recall_cmd(signed_content(&sr));
    cmd.user_employee_ids = vec![OTHER_EMPLOYEE.into()];
    given(sr)
        .when_async(recall(cmd))
        .await
        .then_expect_error(ServiceRequestError::RecallEmployeeNotInMsp);
}

// ---------------------------------------------------------------------------------------------
// Recall: status
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn recall_of_a_service_request_that_is_not_active_is_refused_with_its_status() {
    for status in NON_ACTIVE {
        let sr = record_with(|r| r.status = status);
        let cmd = recall(recall_cmd(signed_content(&sr)));
        let result = outcome(sr, cmd).await;
        assert_eq!(
            result,
            Err(ServiceRequestError::RecallInvalidStatus(status)),
            "status {status:?}"
        );
    }
}

#[test]
fn the_recall_invalid_status_message_names_the_status() {
    assert_eq!(
        ServiceRequestError::RecallInvalidStatus(ServiceRequestStatus::Recalled).to_string(),
        "Service request in status recalled cannot be recalled"
    );
    assert_eq!(
        ServiceRequestError::RecallInvalidStatus(ServiceRequestStatus::EnteredInError).to_string(),
        "Service request in status entered_in_error cannot be recalled"
    );
    assert_eq!(
        ServiceRequestError::RecallInvalidStatus(ServiceRequestStatus::InProgress).to_string(),
        "Service request in status in_progress cannot be recalled"
    );
}

#[tokio::test]
async fn a_recalled_service_request_cannot_be_recalled_again() {
    assert_refused(
        when(given(record()).and(vec![recalled_event()]), valid_recall()).await,
        ServiceRequestError::RecallInvalidStatus(ServiceRequestStatus::Recalled),
        "Service request in status recalled cannot be recalled",
    );
}

#[tokio::test]
async fn recall_checks_the_status_before_the_reason() {
    let sr = record_with(|r| r.status = ServiceRequestStatus::Recalled);
    let mut content = signed_content(&sr);
    content.as_object_mut().unwrap().remove("status_reason");
    given(sr)
        .when_async(recall_of(content))
        .await
        .then_expect_error(ServiceRequestError::RecallInvalidStatus(
            ServiceRequestStatus::Recalled,
        ));
}

// ---------------------------------------------------------------------------------------------
// Recall: reason
// ---------------------------------------------------------------------------------------------

/// The schema's refusal of `content`, as `validate` describes it.
fn refused_by_schema(content: &Value) -> ServiceRequestError {
    ServiceRequestError::RecallContentInvalid(
        signed_content::validate(content).expect_err("the schema refuses the content"),
    )
}

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

const ANOTHER_ID: &str = "5e000000-0000-4000-8000-000000000007";

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
// Recall: content
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn recall_of_content_signed_for_another_service_request_is_refused_with_id_mismatch() {
    let other = record_with(|r| r.id = Uuid::parse_str(ANOTHER_ID).unwrap());
    given(record())
        .when_async(recall_of(signed_content(&other)))
        .await
        .then_expect_error(ServiceRequestError::RecallContentIdMismatch);
    assert_eq!(
        ServiceRequestError::RecallContentIdMismatch.to_string(),
        "Signed content id does not match the service request in the URL"
    );
}

#[tokio::test]
async fn recall_of_content_without_an_id_is_refused_by_the_schema() {
    let content = signed_content_with(|doc| {
        doc.remove("id");
    });
    given(record())
        .when_async(recall_of(content.clone()))
        .await
        .then_expect_error(refused_by_schema(&content));
}

#[tokio::test]
async fn recall_checks_the_content_id_before_the_rest_of_the_content() {
    let content = signed_content_with(|doc| {
        doc.insert("id".into(), json!(ANOTHER_ID));
        doc.insert("note".into(), json!("changed"));
    });
    given(record())
        .when_async(recall_of(content))
        .await
        .then_expect_error(ServiceRequestError::RecallContentIdMismatch);
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
    type Edit = fn(&mut Map<String, Value>);
    type Refusal = fn(&Value) -> ServiceRequestError;
    let cases: [(&str, Edit, Refusal); 5] = [
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

#[tokio::test]
async fn recall_ignores_status_reason_explanatory_letter_inserted_at_and_updated_at_in_the_comparison(
) {
    let sr = record_with(|r| {
        r.explanatory_letter = Some("stored letter".into());
        r.status_reason = Some(json!({"text": "stored reason"}));
    });
    let mut content = signed_content(&sr);
    content["explanatory_letter"] = json!("a different letter");
    content["inserted_at"] = json!("2000-01-01T00:00:00Z");
    content["updated_at"] = json!("2001-01-01T00:00:00Z");
    let result = outcome(sr, recall_of(content)).await;
    assert_eq!(
        result,
        Ok(vec![ServiceRequestEvent::ServiceRequestRecalled {
            status_reason: recall_reason(),
            explanatory_letter: Some("a different letter".into()),
            signed_content_link: RECALL_LINK.into(),
            by: USER,
            at: now(),
        }])
    );
}

#[tokio::test]
async fn recall_accepts_content_without_the_ignored_timestamps() {
    let content = signed_content_with(|doc| {
        doc.remove("inserted_at");
        doc.remove("updated_at");
    });
    given(record())
        .when_async(recall_of(content))
        .await
        .then_expect_events(vec![recalled_event()]);
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

#[tokio::test]
async fn recall_by_the_requester_doctor_emits_recalled_with_the_reason_letter_and_link() {
    given(record())
        .when_async(valid_recall())
        .await
        .then_expect_events(vec![recalled_event()]);
}

#[tokio::test]
async fn recall_without_an_explanatory_letter_emits_recalled_without_one() {
    let content = signed_content_with(|doc| {
        doc.remove("explanatory_letter");
    });
    given(record())
        .when_async(recall_of(content))
        .await
        .then_expect_events(vec![ServiceRequestEvent::ServiceRequestRecalled {
            status_reason: recall_reason(),
            explanatory_letter: None,
            signed_content_link: RECALL_LINK.into(),
            by: USER,
            at: now(),
        }]);
}

#[tokio::test]
async fn recall_of_a_service_request_that_nobody_uses_succeeds() {
    let sr = record_with(|r| {
        r.used_by_employee = None;
        r.used_by_legal_entity = None;
        r.program_processing_status = None;
    });
    let cmd = recall_of(signed_content(&sr));
    given(sr)
        .when_async(cmd)
        .await
        .then_expect_events(vec![recalled_event()]);
}

#[tokio::test]
async fn a_recalled_service_request_records_the_recall_in_its_status_and_history() {
    let events = outcome(record(), valid_recall()).await.unwrap();
    let mut all = imported(record());
    all.extend(events);
    let state = state_after(all);

    let expected = record_with(|r| {
        r.status = ServiceRequestStatus::Recalled;
        r.status_reason = Some(recall_reason());
        r.explanatory_letter = Some("Patient moved to another city".into());
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
    let sr = record_with(|r| r.explanatory_letter = Some("stored letter".into()));
    let state = state_after(vec![
        ServiceRequestEvent::ServiceRequestImported(Box::new(sr)),
        ServiceRequestEvent::ServiceRequestRecalled {
            status_reason: recall_reason(),
            explanatory_letter: None,
            signed_content_link: RECALL_LINK.into(),
            by: USER,
            at: now(),
        },
    ]);
    assert_eq!(state.explanatory_letter.as_deref(), Some("stored letter"));
    assert_eq!(state.status, ServiceRequestStatus::Recalled);
}

#[test]
fn events_on_a_service_request_that_was_never_imported_change_nothing() {
    let released = ServiceRequestEvent::ServiceRequestReleased {
        released_employee: None,
        released_legal_entity: None,
        by: USER,
        at: now(),
    };
    assert_eq!(
        replay::<ServiceRequest>([recalled_event(), released]),
        ServiceRequest::default()
    );
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
