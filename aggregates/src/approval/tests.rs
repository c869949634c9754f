use super::*;

use chrono::TimeZone;

use crate::test_support::EMPLOYEE as DOCTOR;
use crate::test_support::*;

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

const APPROVAL_ID: Uuid = Uuid::from_u128(0xa900_0000_0000_0000_0000_0000_0000_0001);
const MASKED_PHONE: &str = "+38093*****85";
const SALT: &str = "9f86d081884c7d659a2feaa0c55ad015";
const SECOND_SALT: &str = "2c26b46b68ffc68ff99b453c1d304134";

/// When a second resend is sent.
fn later() -> DateTime<Utc> {
    now() + Duration::seconds(340)
}

/// A `new` approval for `PATIENT`, granted to a doctor of `LEGAL_ENTITY`, made for a service
/// request, with no OTP challenge issued by this service yet.
fn record() -> ApprovalRecord {
    let mut other = Map::new();
    other.insert("access_level".into(), json!("read"));
    other.insert("expires_at".into(), json!(1_725_278_400));
    ApprovalRecord {
        id: APPROVAL_ID,
        patient_id: PATIENT,
        status: ApprovalStatus::New,
        reason_service_request: Some(SERVICE_REQUEST),
        granted_to: Some(DOCTOR),
        legal_entity_id: Some(LEGAL_ENTITY),
        authorize_with: Some(AUTH_METHOD),
        inserted_at: created_at(),
        inserted_by: Some(CREATOR),
        updated_at: created_at(),
        updated_by: Some(CREATOR),
        otp: None,
        other,
    }
}

fn record_in(status: ApprovalStatus) -> ApprovalRecord {
    ApprovalRecord { status, ..record() }
}

fn otp() -> OtpDelivery {
    OtpDelivery::Otp {
        phone_number: PHONE.into(),
    }
}

fn third_person() -> OtpDelivery {
    OtpDelivery::ThirdPerson {
        third_person_id: THIRD_PERSON,
        phone_number: THIRD_PERSON_PHONE.into(),
    }
}

fn offline() -> OtpDelivery {
    OtpDelivery::NotAllowed {
        method_type: "OFFLINE".into(),
    }
}

fn resend_with(
    patient_id: Uuid,
    legal_entity_id: Uuid,
    delivery: OtpDelivery,
    salt: &str,
    at: DateTime<Utc>,
) -> ApprovalCommand {
    ApprovalCommand::ResendOtp {
        patient_id: patient_id.into(),
        legal_entity_id: legal_entity_id.into(),
        user_id: USER.into(),
        at,
        delivery,
        salt: salt.into(),
    }
}

fn resend(delivery: OtpDelivery) -> ApprovalCommand {
    resend_with(PATIENT, LEGAL_ENTITY, delivery, SALT, now())
}

fn resent_event(salt: &str, at: DateTime<Utc>) -> ApprovalEvent {
    ApprovalEvent::ApprovalOtpResent {
        method_type: "OTP".into(),
        phone_number: PHONE.into(),
        salt: salt.into(),
        expires_at: at + Duration::minutes(15),
        by: USER,
        at,
    }
}

fn revoke() -> ApprovalCommand {
    ApprovalCommand::Revoke {
        service_request_id: SERVICE_REQUEST.into(),
        by: USER.into(),
        at: now(),
    }
}

fn revoked_event() -> ApprovalEvent {
    ApprovalEvent::ApprovalRevoked {
        service_request_id: SERVICE_REQUEST,
        by: USER,
        at: now(),
    }
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn import_of_a_new_approval_creates_it_and_a_second_import_is_a_no_op() {
    let changed = record_in(ApprovalStatus::Active);
    assert_imported_once(record(), changed, ApprovalCommand::Import).await;
}

// ---------------------------------------------------------------------------------------------
// ResendOtp: rules in order
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn resend_on_an_approval_that_does_not_exist_is_refused_with_not_found() {
    assert_refused(
        when(given_nothing::<Approval>(), resend(otp())).await,
        ApprovalError::NotFound,
        "Approval with such id is not found",
    );
}

#[tokio::test]
async fn resend_in_the_context_of_another_patient_is_refused_with_not_found() {
    given(record())
        .when_async(resend_with(OTHER_PATIENT, LEGAL_ENTITY, otp(), SALT, now()))
        .await
        .then_expect_error(ApprovalError::NotFound);
}

#[tokio::test]
async fn resend_from_another_legal_entity_is_refused_as_belonging_to_it() {
    assert_refused(
        when(
            given(record()),
            resend_with(PATIENT, OTHER_LEGAL_ENTITY, otp(), SALT, now()),
        )
        .await,
        ApprovalError::BelongsToAnotherLegalEntity,
        "Approval belongs to another legal entity",
    );
}

#[tokio::test]
async fn resend_on_an_approval_without_an_owning_legal_entity_is_refused_as_belonging_to_another() {
    let approval = ApprovalRecord {
        legal_entity_id: None,
        ..record()
    };
    given(approval)
        .when_async(resend(otp()))
        .await
        .then_expect_error(ApprovalError::BelongsToAnotherLegalEntity);
}

#[tokio::test]
async fn resend_looks_for_the_approval_before_the_authentication_method() {
    given(record())
        .when_async(resend_with(
            OTHER_PATIENT,
            LEGAL_ENTITY,
            offline(),
            SALT,
            now(),
        ))
        .await
        .then_expect_error(ApprovalError::NotFound);
}

#[tokio::test]
async fn resend_checks_ownership_after_the_method_and_the_status() {
    given(record_in(ApprovalStatus::Active))
        .when_async(resend_with(
            PATIENT,
            OTHER_LEGAL_ENTITY,
            offline(),
            SALT,
            now(),
        ))
        .await
        .then_expect_error(ApprovalError::ResendNotAllowed);
    given(record_in(ApprovalStatus::Active))
        .when_async(resend_with(PATIENT, OTHER_LEGAL_ENTITY, otp(), SALT, now()))
        .await
        .then_expect_error(ApprovalError::InvalidStatus(ApprovalStatus::Active));
}

#[tokio::test]
async fn resend_for_a_person_who_does_not_authorize_by_sms_is_refused_with_not_allowed() {
    for method_type in ["OFFLINE", "NA", "THIRD_PERSON"] {
        let delivery = OtpDelivery::NotAllowed {
            method_type: method_type.into(),
        };
        let result = when(given(record()), resend(delivery)).await;
        assert_eq!(
            result,
            Err(ApprovalError::ResendNotAllowed),
            "method {method_type}"
        );
    }
    assert_eq!(
        ApprovalError::ResendNotAllowed.to_string(),
        "Resend SMS is not allowed for this authentication method"
    );
}

#[tokio::test]
async fn resend_checks_the_authentication_method_before_the_status() {
    given(record_in(ApprovalStatus::Active))
        .when_async(resend(offline()))
        .await
        .then_expect_error(ApprovalError::ResendNotAllowed);
}

#[tokio::test]
async fn resend_on_an_approval_that_is_not_new_is_refused_with_its_status() {
    let not_new = statuses_except(ApprovalStatus::VALUES, &[ApprovalStatus::New]);
    assert_eq!(not_new.len(), 4);
    for (status, text) in not_new {
        let result = when(given(record_in(status)), resend(otp())).await;
        assert_eq!(
            result,
            Err(ApprovalError::InvalidStatus(status)),
            "status {text}"
        );
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("Approval in status {text} can not be resent")
        );
    }
}

#[tokio::test]
async fn resend_on_an_active_approval_is_refused_with_the_spec_message() {
    assert_refused(
        when(
            given(record_in(ApprovalStatus::Active)),
            resend(third_person()),
        )
        .await,
        ApprovalError::InvalidStatus(ApprovalStatus::Active),
        "Approval in status active can not be resent",
    );
}

#[tokio::test]
async fn resend_on_a_revoked_approval_is_refused_as_cancelled() {
    given(record())
        .and(vec![revoked_event()])
        .when_async(resend(otp()))
        .await
        .then_expect_error(ApprovalError::InvalidStatus(ApprovalStatus::Cancelled));
}

// ---------------------------------------------------------------------------------------------
// Plumbing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn check_resend_gives_the_same_answer_as_the_command() {
    let aggregate = holding(record());
    let cases = [
        ("by its owner", PATIENT, LEGAL_ENTITY, otp(), Ok(())),
        (
            "to an offline person",
            PATIENT,
            LEGAL_ENTITY,
            offline(),
            Err(ApprovalError::ResendNotAllowed),
        ),
        (
            "for another patient",
            OTHER_PATIENT,
            LEGAL_ENTITY,
            otp(),
            Err(ApprovalError::NotFound),
        ),
        (
            "by another legal entity",
            PATIENT,
            OTHER_LEGAL_ENTITY,
            otp(),
            Err(ApprovalError::BelongsToAnotherLegalEntity),
        ),
    ];
    for (case, patient, legal_entity, delivery, expected) in cases {
        assert_eq!(
            aggregate.check_resend(patient.into(), legal_entity.into(), &delivery),
            expected,
            "resend {case}"
        );
        let command = resend_with(patient, legal_entity, delivery, SALT, now());
        assert_eq!(
            when(given(record()), command).await.map(|_| ()),
            expected,
            "the command: resend {case}"
        );
    }
}

#[test]
fn events_on_an_approval_that_was_never_imported_change_nothing() {
    assert_nothing_changes_before_the_import::<Approval>([
        resent_event(SALT, now()),
        revoked_event(),
    ]);
}

#[test]
fn approval_events_are_named_and_versioned() {
    assert_named_and_versioned(vec![
        (imported(record()).remove(0), "ApprovalImported"),
        (resent_event(SALT, now()), "ApprovalOtpResent"),
        (revoked_event(), "ApprovalRevoked"),
    ]);
}

#[test]
fn given_an_approval_of_another_patient_when_its_resend_target_is_checked_then_it_is_not_found() {
    let aggregate = holding(record());
    assert_eq!(
        aggregate.check_resend_target(PATIENT.into()).map(|a| a.id),
        Ok(record().id)
    );
    assert_eq!(
        aggregate.check_resend_target(OTHER_PATIENT.into()),
        Err(ApprovalError::NotFound)
    );
    assert_eq!(
        Approval::default().check_resend_target(PATIENT.into()),
        Err(ApprovalError::NotFound)
    );
}

mod challenge;
mod revoke;
