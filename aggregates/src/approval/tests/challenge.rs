//! Resend: the challenge a resend issues, and how an approval renders it.

use super::*;

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
