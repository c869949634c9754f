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
// ResendOtp: success
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn resend_issues_a_code_valid_for_15_minutes_to_the_otp_phone_or_the_third_persons() {
    let cases = [
        ("to an OTP person", otp(), "OTP", PHONE),
        (
            "through a third person",
            third_person(),
            "THIRD_PERSON",
            THIRD_PERSON_PHONE,
        ),
    ];
    for (case, delivery, method_type, phone) in cases {
        assert_eq!(
            when(given(record()), resend(delivery)).await,
            Ok(vec![ApprovalEvent::ApprovalOtpResent {
                method_type: method_type.into(),
                phone_number: phone.into(),
                salt: SALT.into(),
                expires_at: Utc.with_ymd_and_hms(2024, 3, 5, 14, 45, 15).unwrap(),
                by: USER,
                at: now(),
            }]),
            "resend {case}"
        );
    }
    assert_eq!(
        now() + Duration::minutes(OTP_VALIDITY_MINUTES),
        Utc.with_ymd_and_hms(2024, 3, 5, 14, 45, 15).unwrap()
    );
    assert_eq!(OTP_VALIDITY_MINUTES, 15);
}

#[tokio::test]
async fn a_resent_code_is_the_challenge_in_force() {
    let state = state_after_command(record(), resend(otp())).await;
    assert_eq!(
        state,
        ApprovalRecord {
            otp: Some(OtpChallenge {
                method_type: "OTP".into(),
                phone_number: PHONE.into(),
                salt: SALT.into(),
                issued_at: now(),
                expires_at: now() + Duration::minutes(15),
            }),
            updated_by: Some(USER),
            updated_at: now(),
            ..record()
        }
    );
    // A resend does not change the approval's status.
    assert_eq!(state.status, ApprovalStatus::New);
}

/// A second resend, `later()` through `delivery`, after an OTP resend: what it writes and the
/// approval afterwards.
async fn second_resend(delivery: OtpDelivery) -> (Vec<ApprovalEvent>, ApprovalRecord) {
    let mut history = imported(record());
    history.push(resent_event(SALT, now()));
    let command = resend_with(PATIENT, LEGAL_ENTITY, delivery, SECOND_SALT, later());
    written_after::<Approval>(history, command).await
}

#[tokio::test]
async fn a_second_resend_replaces_the_previous_challenge() {
    let (second, state) = second_resend(otp()).await;
    assert_eq!(second, vec![resent_event(SECOND_SALT, later())]);
    let challenge = state.otp.clone().expect("a challenge is in force");
    assert_eq!(challenge.salt, SECOND_SALT);
    assert_eq!(challenge.issued_at, later());
    assert_eq!(challenge.expires_at, later() + Duration::minutes(15));
    assert_eq!(state.updated_at, later());
    // Only the latest salt is kept anywhere in the state, so the first code stops working.
    let serialized = serde_json::to_string(&state).unwrap();
    assert!(!serialized.contains(SALT), "old salt kept: {serialized}");
    assert!(serialized.contains(SECOND_SALT));
}

#[tokio::test]
async fn a_resend_through_a_third_person_after_an_otp_resend_switches_the_phone() {
    let challenge = second_resend(third_person()).await.1.otp.unwrap();
    assert_eq!(challenge.method_type, "THIRD_PERSON");
    assert_eq!(challenge.phone_number, THIRD_PERSON_PHONE);
}

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

#[test]
fn an_approval_renders_the_current_method_with_a_masked_phone_and_never_the_salt() {
    let state = state_after::<Approval>(vec![
        imported(record()).remove(0),
        resent_event(SALT, now()),
    ]);
    let view = state.render();
    assert_eq!(
        view["authentication_method_current"],
        json!({"type": "OTP", "number": MASKED_PHONE})
    );
    let text = view.to_string();
    assert!(!text.contains(PHONE), "full phone leaked: {text}");
    assert!(!text.contains(SALT), "salt leaked: {text}");
    assert_fields(
        &view,
        &[
            ("/id", json!(APPROVAL_ID)),
            ("/status", json!("new")),
            ("/reason/identifier/value", json!(SERVICE_REQUEST)),
            (
                "/reason/identifier/type/coding/0/code",
                json!("service_request"),
            ),
            ("/granted_to/identifier/value", json!(DOCTOR)),
            ("/access_level", json!("read")),
        ],
    );
}

#[test]
fn an_approval_without_a_challenge_renders_no_current_method_even_if_one_was_imported() {
    let mut approval = record();
    approval.other.insert(
        "authentication_method_current".into(),
        json!({"type": "OTP", "number": PHONE}),
    );
    let view = approval.render();
    assert!(view.get("authentication_method_current").is_none());
    assert!(!view.to_string().contains(PHONE));
}

#[test]
fn an_approval_with_a_challenge_replaces_an_imported_current_method() {
    let mut approval = state_after::<Approval>(vec![
        imported(record()).remove(0),
        resent_event(SALT, now()),
    ]);
    approval.other.insert(
        "authentication_method_current".into(),
        json!({"type": "OFFLINE", "number": PHONE}),
    );
    let view = approval.render();
    assert_eq!(
        view["authentication_method_current"],
        json!({"type": "OTP", "number": MASKED_PHONE})
    );
}

// ---------------------------------------------------------------------------------------------
// Revoke
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revoke_of_a_new_or_active_approval_emits_revoked() {
    for status in [ApprovalStatus::New, ApprovalStatus::Active] {
        assert_eq!(
            when(given(record_in(status)), revoke()).await,
            Ok(vec![revoked_event()]),
            "status {}",
            status.as_str()
        );
    }
}

#[tokio::test]
async fn a_revoked_approval_is_cancelled_and_updated_by_the_revoker() {
    assert_eq!(
        state_after_command(record_in(ApprovalStatus::Active), revoke()).await,
        ApprovalRecord {
            status: ApprovalStatus::Cancelled,
            updated_by: Some(USER),
            updated_at: now(),
            ..record()
        }
    );
}

#[tokio::test]
async fn revoke_of_an_approval_that_is_already_over_is_a_no_op() {
    for status in [
        ApprovalStatus::Cancelled,
        ApprovalStatus::Expired,
        ApprovalStatus::Rejected,
    ] {
        let result = when(given(record_in(status)), revoke()).await;
        assert_eq!(result, Ok(vec![]), "status {}", status.as_str());
    }
}

#[tokio::test]
async fn revoke_without_an_approval_made_for_that_service_request_to_revoke_is_a_no_op() {
    let other = Uuid::from_u128(0x5e00_0000_0000_0000_0000_0000_0000_0099);
    let naming_other = ApprovalCommand::Revoke {
        service_request_id: other.into(),
        by: Uuid::new_v4().into(),
        at: chrono::Utc::now(),
    };
    let cases = [
        (
            "of an approval that does not exist",
            given_nothing::<Approval>(),
            revoke(),
        ),
        (
            "retried",
            given(record()).and(vec![revoked_event()]),
            revoke(),
        ),
        (
            "naming another service request",
            given(record()),
            naming_other,
        ),
    ];
    for (case, approval, command) in cases {
        assert_eq!(when(approval, command).await, Ok(vec![]), "revoke {case}");
    }
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
