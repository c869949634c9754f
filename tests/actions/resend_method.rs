//! Which authentication method a resent code goes through: the approval's `authorize_with` if the
//! person still has it (never replaced by another), else the default one (OTP, else OFFLINE —
//! refused —, else a THIRD_PERSON whose confidant is active and uses OTP). Methods may carry
//! `ended_at`; an ended method is gone.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::resend::{assert_refused_without_trace, assert_sent_through, otp_code};
use crate::support::world::*;
use crate::support::{service, TestApp};

const fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_00ac_0000 | n)
}

const ENDED: &str = "2024-01-01T00:00:00Z";

// Persons, their methods and their approvals (granted to E_DOCTOR: owned by LE_MAIN).
/// Named OTP method ended; another OTP method is current.
const P_NAMED_ENDED: Uuid = id(0x01);
const M_ENDED_OTP: Uuid = id(0x11);
const AP_NAMED_ENDED: Uuid = id(0x21);
/// Named method unknown to the person, who has an OTP method.
const P_NAMED_ABSENT: Uuid = id(0x02);
const AP_NAMED_ABSENT: Uuid = id(0x22);
/// No `authorize_with`; the first OTP method ended, the second is current.
const P_DEFAULT_ENDED: Uuid = id(0x03);
const AP_DEFAULT_ENDED: Uuid = id(0x23);
const PHONE_NEW: &str = "+380931110003";
/// OTP and a THIRD_PERSON to P_CONFIDANT; the approval names the THIRD_PERSON.
const P_NAMED_THIRD: Uuid = id(0x04);
const M_THIRD: Uuid = id(0x14);
const AP_NAMED_THIRD: Uuid = id(0x24);
/// THIRD_PERSON to P_INACTIVE (inactive, OTP).
const P_THIRD_INACTIVE: Uuid = id(0x05);
const AP_THIRD_INACTIVE: Uuid = id(0x25);
/// THIRD_PERSON to a confidant whose OTP method ended (their default is now OFFLINE).
const P_THIRD_ENDED_OTP: Uuid = id(0x06);
const P_CONFIDANT_ENDED_OTP: Uuid = id(0x07);
const AP_THIRD_ENDED_OTP: Uuid = id(0x26);
/// Its only method, a THIRD_PERSON to P_CONFIDANT, ended.
const P_THIRD_ENDED: Uuid = id(0x08);
const AP_THIRD_ENDED: Uuid = id(0x28);
/// THIRD_PERSON to P_INACTIVE, then THIRD_PERSON to P_CONFIDANT.
const P_SECOND_THIRD: Uuid = id(0x09);
const AP_SECOND_THIRD: Uuid = id(0x29);

fn otp(method: Uuid, phone: &str) -> Value {
    json!({ "id": method, "type": "OTP", "phone_number": phone })
}

fn third(method: Uuid, confidant: Uuid) -> Value {
    json!({ "id": method, "type": "THIRD_PERSON", "value": confidant.to_string() })
}

fn ended(mut method: Value) -> Value {
    method["ended_at"] = json!(ENDED);
    method
}

fn person(id: Uuid, methods: Value) -> Value {
    json!({ "id": id, "status": "active", "authentication_methods": methods })
}

fn approval(id: Uuid, patient: Uuid, authorize_with: Option<Uuid>) -> Value {
    json!({ "id": id, "patient_id": patient, "status": "new", "granted_to": E_DOCTOR,
            "expires_at": 1_900_000_000, "authorize_with": authorize_with })
}

fn extra() -> Value {
    json!({
        "persons": [
            person(P_NAMED_ENDED, json!([ended(otp(M_ENDED_OTP, "+380931110001")), otp(id(0x31), "+380931110011")])),
            person(P_NAMED_ABSENT, json!([otp(id(0x32), "+380931110002")])),
            person(P_DEFAULT_ENDED, json!([ended(otp(id(0x33), "+380931110033")), otp(id(0x43), PHONE_NEW)])),
            person(P_NAMED_THIRD, json!([otp(id(0x34), "+380931110004"), third(M_THIRD, P_CONFIDANT)])),
            person(P_THIRD_INACTIVE, json!([third(id(0x35), P_INACTIVE)])),
            person(P_CONFIDANT_ENDED_OTP, json!([ended(otp(id(0x37), "+380931110007")), { "id": id(0x47), "type": "OFFLINE" }])),
            person(P_THIRD_ENDED_OTP, json!([third(id(0x36), P_CONFIDANT_ENDED_OTP)])),
            person(P_THIRD_ENDED, json!([ended(third(id(0x38), P_CONFIDANT))])),
            person(P_SECOND_THIRD, json!([third(id(0x39), P_INACTIVE), third(id(0x49), P_CONFIDANT)])),
        ],
        "approvals": [
            approval(AP_NAMED_ENDED, P_NAMED_ENDED, Some(M_ENDED_OTP)),
            approval(AP_NAMED_ABSENT, P_NAMED_ABSENT, Some(Uuid::from_u128(7))),
            approval(AP_DEFAULT_ENDED, P_DEFAULT_ENDED, None),
            approval(AP_NAMED_THIRD, P_NAMED_THIRD, Some(M_THIRD)),
            approval(AP_THIRD_INACTIVE, P_THIRD_INACTIVE, None),
            approval(AP_THIRD_ENDED_OTP, P_THIRD_ENDED_OTP, None),
            approval(AP_THIRD_ENDED, P_THIRD_ENDED, None),
            approval(AP_SECOND_THIRD, P_SECOND_THIRD, None),
        ]
    })
}

async fn app() -> TestApp {
    let app = TestApp::spawn().await;
    app.import(&extra()).await;
    app
}

/// Resends `approval` of `patient` on an app of its own and asserts the fresh code went out
/// through `method` (the type the resend event records) to `phone`, in exactly one SMS.
async fn assert_resent_through(patient: Uuid, approval: Uuid, method: &str, phone: &str) {
    let app = app().await;
    let reply = app.resend_otp(patient, approval, &app.doctor_token()).await;
    let (_, sms) = assert_sent_through(&app, &reply.job_href(), approval, (method, phone)).await;
    otp_code(&sms);
}

async fn assert_not_allowed(app: &TestApp, cases: &[(Uuid, Uuid)]) {
    let before = app.event_count().await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    for (patient, approval) in cases {
        let reply = app.resend_otp(*patient, *approval, &token).await;
        reply.assert_conflict("Resend SMS is not allowed for this authentication method");
    }
    let approvals: Vec<Uuid> = cases.iter().map(|(_, a)| *a).collect();
    assert_refused_without_trace(app, &approvals, before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_method_the_person_no_longer_has_is_refused_and_never_replaced_by_another() {
    let app = app().await;
    // Ended (though another OTP method is current), or never the person's.
    assert_not_allowed(
        &app,
        &[
            (P_NAMED_ENDED, AP_NAMED_ENDED),
            (P_NAMED_ABSENT, AP_NAMED_ABSENT),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_person_whose_confidant_is_inactive_or_no_longer_uses_otp_or_that_ended_is_refused()
{
    let app = app().await;
    assert_not_allowed(
        &app,
        &[
            (P_THIRD_INACTIVE, AP_THIRD_INACTIVE),
            (P_THIRD_ENDED_OTP, AP_THIRD_ENDED_OTP),
            (P_THIRD_ENDED, AP_THIRD_ENDED),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_authorize_with_an_ended_otp_method_is_skipped_for_the_current_one() {
    assert_resent_through(P_DEFAULT_ENDED, AP_DEFAULT_ENDED, "OTP", PHONE_NEW).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_third_person_texts_the_confidant_though_the_person_has_an_otp_phone() {
    assert_resent_through(
        P_NAMED_THIRD,
        AP_NAMED_THIRD,
        "THIRD_PERSON",
        PHONE_CONFIDANT,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_third_person_is_the_first_whose_confidant_can_receive_a_code() {
    assert_resent_through(
        P_SECOND_THIRD,
        AP_SECOND_THIRD,
        "THIRD_PERSON",
        PHONE_CONFIDANT,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_with_a_malformed_ended_at_is_refused_naming_the_entry() {
    let app = TestApp::spawn_with(crate::support::Options {
        trust_anchors: false,
        import_world: false,
    })
    .await;
    let file = json!({ "persons": [
        person(P_NAMED_ENDED, json!([{ "type": "OTP", "phone_number": "+380931110001", "ended_at": "yesterday" }]))
    ] });
    let err = service::import(&app.db, &file)
        .await
        .expect_err("a malformed ended_at is refused");
    assert!(
        err.to_string()
            .contains("persons[0].authentication_methods"),
        "{err:#}"
    );
    assert_eq!(app.count("SELECT count(*) FROM persons").await, 0);
}
