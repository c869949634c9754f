//! Recall: who may recall (the requester legal entity, the signer, the employee or a care-plan
//! writer) and the status.

use super::*;

type EditRecord = fn(&mut ServiceRequestRecord);
type EditRecall = fn(&mut RecallServiceRequest);

/// A refusal of a recall: the case, how the service request and the command differ from a valid
/// recall by the requester's doctor, the refusal and its message.
type Refusal = (
    &'static str,
    EditRecord,
    EditRecall,
    ServiceRequestError,
    &'static str,
);

fn as_imported(_: &mut ServiceRequestRecord) {}

/// Asserts each case's recall, of the service request the case describes whose content it signs,
/// is refused as the case says, message included.
async fn assert_refusals(cases: Vec<Refusal>) {
    for (case, edit_record, edit_recall, expected, message) in cases {
        let sr = record_with(edit_record);
        let mut cmd = recall_cmd(signed_content(&sr));
        edit_recall(&mut cmd);
        let refusal = outcome(sr, recall(cmd))
            .await
            .expect_err(&format!("recall {case} is refused"));
        assert_eq!(refusal, expected, "recall {case}");
        assert_eq!(refusal.to_string(), message, "the message of recall {case}");
    }
}

const NOT_FOUND: &str = "Service request not found";
const NOT_REQUESTER: &str =
    "Only an employee from legal entity where service request is created can recall service request";
const DRFO_MISMATCH: &str = "Does not match the signer drfo";
const NOT_IN_MSP: &str = "Employees related to this party_id not in current MSP";

#[tokio::test]
async fn recall_for_another_patient_or_by_a_legal_entity_that_did_not_request_it_is_refused() {
    assert_refusals(vec![
        (
            "in the context of another patient",
            as_imported,
            |cmd| cmd.patient_id = OTHER_PATIENT.into(),
            ServiceRequestError::NotFound,
            NOT_FOUND,
        ),
        (
            "by a legal entity that neither requested nor uses the service request",
            as_imported,
            |cmd| cmd.legal_entity_id = STRANGER_LE.into(),
            ServiceRequestError::RecallNotRequesterLegalEntity,
            NOT_REQUESTER,
        ),
        (
            "by the legal entity that uses the service request but did not request it",
            as_imported,
            |cmd| cmd.legal_entity_id = USING_LE.into(),
            ServiceRequestError::RecallNotRequesterLegalEntity,
            NOT_REQUESTER,
        ),
        (
            "by the using legal entity, signed by someone else, by a user without employees: the \
             requester legal entity before the signer",
            as_imported,
            |cmd| {
                cmd.legal_entity_id = USING_LE.into();
                cmd.signer_drfo = Drfo::parse("0000000000");
                cmd.user_employee_ids = vec![];
            },
            ServiceRequestError::RecallNotRequesterLegalEntity,
            NOT_REQUESTER,
        ),
    ])
    .await;
}

#[tokio::test]
async fn recall_signed_by_someone_other_than_the_requester_is_refused_with_drfo_mismatch() {
    assert_refusals(vec![
        (
            "signed with another tax id",
            as_imported,
            |cmd| cmd.signer_drfo = Drfo::parse("3184710692"),
            ServiceRequestError::RecallDrfoMismatch,
            DRFO_MISMATCH,
        ),
        (
            "signed with a passport number that differs in a letter",
            as_imported,
            |cmd| {
                cmd.signer_drfo = Drfo::parse("KB123456");
                cmd.requester_tax_id = Some("КА123456".into());
            },
            ServiceRequestError::RecallDrfoMismatch,
            DRFO_MISMATCH,
        ),
        (
            "when the requester has no known tax id",
            as_imported,
            |cmd| cmd.requester_tax_id = None,
            ServiceRequestError::RecallDrfoMismatch,
            DRFO_MISMATCH,
        ),
        (
            "with an empty signer drfo, even against an empty tax id",
            as_imported,
            |cmd| {
                cmd.signer_drfo = Drfo::parse("");
                cmd.requester_tax_id = Some(String::new());
            },
            ServiceRequestError::RecallDrfoMismatch,
            DRFO_MISMATCH,
        ),
        (
            "signed with another tax id by a user who is not the requester employee: the drfo \
             before the employee",
            as_imported,
            |cmd| {
                cmd.signer_drfo = Drfo::parse("3184710692");
                cmd.user_employee_ids = vec![OTHER_EMPLOYEE.into()];
            },
            ServiceRequestError::RecallDrfoMismatch,
            DRFO_MISMATCH,
        ),
    ])
    .await;
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

const CARE_PLAN: Uuid = Uuid::from_u128(0xc000_0000_0000_0000_0000_0000_0000_0001);
const OTHER_CARE_PLAN: Uuid = Uuid::from_u128(0xc000_0000_0000_0000_0000_0000_0000_0002);
const ACTIVITY: Uuid = Uuid::from_u128(0xac);

fn based_on(code: &str, id: Uuid) -> ServiceRequestRecord {
    record_with(|r| {
        r.other.insert(
            "based_on".into(),
            json!([{"identifier": {"type": {"coding": [{"system": "eHealth/resources", "code": code}]},
                    "value": id.to_string()}}]),
        );
    })
}

/// By a user who is not the requester employee, whose employees may write `CARE_PLAN`.
fn by_a_writer_of_the_care_plan(cmd: &mut RecallServiceRequest) {
    cmd.user_employee_ids = vec![OTHER_EMPLOYEE.into()];
    cmd.writable_care_plans = vec![CarePlanId::new(CARE_PLAN)];
}

#[tokio::test]
async fn recall_by_a_user_who_is_not_the_requester_employee_is_refused_with_not_in_msp() {
    assert_refusals(vec![
        (
            "by a user whose employees are others",
            as_imported,
            |cmd| cmd.user_employee_ids = vec![OTHER_EMPLOYEE.into(), USING_EMPLOYEE.into()],
            ServiceRequestError::RecallEmployeeNotInMsp,
            NOT_IN_MSP,
        ),
        (
            "by a user without employees",
            as_imported,
            |cmd| cmd.user_employee_ids = vec![],
            ServiceRequestError::RecallEmployeeNotInMsp,
            NOT_IN_MSP,
        ),
        (
            "of a service request without a requester employee",
            |r| r.requester_employee = None,
            |_| {},
            ServiceRequestError::RecallEmployeeNotInMsp,
            NOT_IN_MSP,
        ),
        (
            "by another employee, of a completed service request: the employee before the status",
            |r| r.status = ServiceRequestStatus::Completed,
            |cmd| cmd.user_employee_ids = vec![OTHER_EMPLOYEE.into()],
            ServiceRequestError::RecallEmployeeNotInMsp,
            NOT_IN_MSP,
        ),
        (
            "of a care-plan service request, by a writer of another care plan",
            |r| *r = based_on("care_plan", CARE_PLAN),
            |cmd| {
                by_a_writer_of_the_care_plan(cmd);
                cmd.writable_care_plans = vec![CarePlanId::new(OTHER_CARE_PLAN)];
            },
            ServiceRequestError::RecallEmployeeNotInMsp,
            NOT_IN_MSP,
        ),
        (
            "of a service request not based on a care plan, by a writer of a care plan",
            as_imported,
            by_a_writer_of_the_care_plan,
            ServiceRequestError::RecallEmployeeNotInMsp,
            NOT_IN_MSP,
        ),
        (
            "of a service request based on an activity whose care plan is not known, by a writer \
             of a care plan",
            |r| *r = based_on("activity", ACTIVITY),
            by_a_writer_of_the_care_plan,
            ServiceRequestError::RecallEmployeeNotInMsp,
            NOT_IN_MSP,
        ),
    ])
    .await;
}

/// A service request based on a care plan, directly or through an activity of it, may be recalled
/// by a user one of whose employees holds an active approval to write that care plan.
#[tokio::test]
async fn recall_of_a_care_plan_service_request_by_a_holder_of_a_write_approval_on_that_plan_succeeds(
) {
    let cases = [
        (
            "based on the care plan",
            based_on("care_plan", CARE_PLAN),
            None,
        ),
        (
            "based on an activity of the care plan",
            based_on("activity", ACTIVITY),
            Some(CarePlanId::new(CARE_PLAN)),
        ),
    ];
    for (case, sr, activity_care_plan) in cases {
        let mut cmd = recall_cmd(signed_content(&sr));
        by_a_writer_of_the_care_plan(&mut cmd);
        cmd.activity_care_plan = activity_care_plan;
        let events = outcome(sr, recall(cmd)).await;
        assert!(events.is_ok(), "{case}: {events:?}");
    }
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

// ---------------------------------------------------------------------------------------------
// Recall: status
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn recall_of_a_service_request_that_is_not_active_is_refused_with_its_status() {
    for (status, text) in non_active() {
        let sr = record_with(|r| r.status = status);
        let cmd = recall(recall_cmd(signed_content(&sr)));
        assert_refused(
            outcome(sr, cmd).await,
            ServiceRequestError::RecallInvalidStatus(status),
            &format!("Service request in status {text} cannot be recalled"),
        );
    }
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
    assert_eq!(
        outcome(sr, recall_of(content)).await,
        Err(ServiceRequestError::RecallInvalidStatus(
            ServiceRequestStatus::Recalled
        ))
    );
}
