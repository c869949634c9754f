//! Recall: who may recall (the requester legal entity, the signer, the employee or a care-plan
//! writer) and the status.

use super::*;

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
