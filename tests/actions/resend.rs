//! Resend SMS on approval: `PATCH /api/patients/{patient_id}/approvals/{id}/actions/resend`
//! (scope `approval:create`, async 202 by server decision; the job ends with `response_data: ""`).

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{paths, service, TestApp};

const OTP_TEXT_PREFIX: &str = "Код авторизації дій в системі eHealth: ";

/// The code of a delivered OTP SMS, checked to be eHealth's shape: 3 digits 1–9 and a Luhn digit.
#[track_caller]
pub fn otp_code(sms: &Value) -> String {
    let text = sms["delivered_text"].as_str().expect("delivered text");
    let code = text
        .strip_prefix(OTP_TEXT_PREFIX)
        .unwrap_or_else(|| panic!("unexpected SMS text {text:?}"));
    assert_eq!(code.len(), 4, "code {code:?}");
    assert!(code.chars().all(|c| c.is_ascii_digit()), "code {code:?}");
    assert!(
        code[..3].chars().all(|c| ('1'..='9').contains(&c)),
        "code {code:?}"
    );
    assert!(service::luhn_valid(code), "code {code:?} fails Luhn");
    code.to_string()
}

/// True when `code` appears in `text` as a whole token (a run of letters, digits and hyphens), the
/// way a stored code would: as a JSON value or at the end of a message. Whole tokens, because the
/// digits of a 4-digit code also occur inside phone numbers, uuids and hex salts by chance.
fn holds_code(text: &str, code: &str) -> bool {
    text.split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .any(|token| token == code)
}

/// Every payload and metadata of the whole event log, as text.
async fn event_log_text(app: &TestApp) -> Vec<String> {
    app.strings(if crate::support::sqlite_backend() {
        "SELECT payload || ' ' || metadata FROM events"
    } else {
        "SELECT payload::text || ' ' || metadata::text FROM events"
    })
    .await
}

/// Asserts `code` is in no payload or metadata of the event log, and the approval read back is
/// still `new`, shows `current` as its authentication method (the number masked), and not the
/// code.
async fn assert_code_kept_secret(
    app: &TestApp,
    (patient, approval): (Uuid, Uuid),
    code: &str,
    current: Value,
) {
    for text in event_log_text(app).await {
        assert!(
            !holds_code(&text, code),
            "code {code} in the event log: {text}"
        );
    }
    let shown = app.approval(patient, approval, &app.doctor_token()).await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    assert_eq!(shown.data()["status"], "new");
    assert_eq!(shown.data()["authentication_method_current"], current);
    assert!(!holds_code(&shown.body.to_string(), code));
}

pub async fn approval_salt(app: &TestApp, id: Uuid) -> String {
    let row = app.current("approvals", id).await.expect("approval row");
    row["document"]["record"]["otp"]["salt"]
        .as_str()
        .unwrap_or_else(|| panic!("no stored challenge salt in {row:#}"))
        .to_string()
}

/// A refusal leaves no trace: no event, no job, and (once the worker is idle) no SMS.
pub async fn assert_refused_without_trace(app: &TestApp, ids: &[Uuid], events_before: i64) {
    assert_eq!(app.event_count().await, events_before);
    for id in ids {
        assert_eq!(app.log(*id).await.len(), 1, "events of {id}");
        assert!(
            app.current("approvals", *id).await.unwrap()["document"]["record"]["otp"].is_null(),
            "no challenge for {id}"
        );
    }
    assert_eq!(app.job_count().await, 0);
    app.workers_idle().await;
    assert!(app.sms().await.is_empty(), "{:#?}", app.sms().await);
}

/// Asserts the resend of `approval` whose job is at `href` (the doctor's, at LE_MAIN) finished
/// and sent the code through `method` to `phone`: the one event it appended says so, and one SMS
/// went there. Answers the event's payload and the SMS.
pub async fn assert_sent_through(
    app: &TestApp,
    href: &str,
    approval: Uuid,
    (method, phone): (&str, &str),
) -> (Value, Value) {
    let token = app.doctor_token();
    app.wait_job(href, &token)
        .await
        .assert_processed_without_link();
    let mut event = app
        .assert_one_event_appended(approval, "ApprovalOtpResent", U_DOCTOR, LE_MAIN)
        .await;
    let resent = event["payload"]["ApprovalOtpResent"].take();
    assert_eq!(resent["method_type"], method, "{resent:#}");
    assert_eq!(resent["phone_number"], phone, "{resent:#}");
    let mut sms = app.settled_sms(1).await;
    assert_eq!(sms.len(), 1, "{sms:#?}");
    assert_eq!(sms[0]["phone_number"], phone, "{sms:#?}");
    assert_eq!(sms[0]["status"], "sent", "{sms:#?}");
    (resent, sms.remove(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_for_an_otp_person_answers_202_and_sends_a_fresh_luhn_code_to_their_phone() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;

    let reply = app.resend_otp(P_OTP, AP_OTP, &token).await;

    let href = reply.job_href();
    assert_eq!(reply.body["meta"]["code"], 202);
    assert!(reply.body["meta"]["url"]
        .as_str()
        .unwrap()
        .ends_with(&paths::resend(P_OTP, AP_OTP)));
    let (resent, sms) = assert_sent_through(&app, &href, AP_OTP, ("OTP", PHONE_OTP)).await;
    assert_eq!(resent["by"], U_DOCTOR.to_string());
    let salt = resent["salt"].as_str().expect("salt");
    assert!(salt.len() >= 16, "salt {salt:?}");
    assert!(resent.get("code").is_none(), "{resent:#}");

    assert_eq!(sms["kind"], "otp");
    let code = otp_code(&sms);

    // The code itself is stored nowhere but in the fake phone's inbox (nor in the event log, nor
    // shown by the read endpoint: assert_code_kept_secret below).
    let row = app.current("approvals", AP_OTP).await.unwrap();
    // Timestamp columns are left out: PostgreSQL trims a fraction's trailing zeros, so one of
    // them could show four digits that happen to equal the code.
    let mut scanned = row.clone();
    if let Some(columns) = scanned.as_object_mut() {
        columns.retain(|name, _| !name.ends_with("_at"));
    }
    assert!(
        !holds_code(&scanned.to_string(), &code),
        "code {code} in {row:#}"
    );
    assert!(
        !holds_code(&sms["params"].to_string(), &code),
        "code {code} in the outbox params {:#}",
        sms["params"]
    );
    assert_eq!(approval_salt(&app, AP_OTP).await, salt);
    assert_eq!(row["status"], "new");
    assert_eq!(row["updated_by"], U_DOCTOR.to_string());
    assert!(row["otp_expires_at"].is_string());
    assert_eq!(row["version"], 2);

    // No status changed: history keeps only the creation, and the feed stays empty.
    assert_eq!(app.status_history(AP_OTP).await.len(), 1);
    assert!(app.feed(AP_OTP).await.is_empty());

    let job_row = app.job_row(&href).await;
    assert_eq!(job_row["status"], "processed");
    assert_eq!(job_row["status_code"], 200);
    assert_eq!(job_row["response_data"], "");
    assert_eq!(job_row["action"], "resend_approval_otp");
    assert_eq!(job_row["aggregate_id"], AP_OTP.to_string());

    let current = json!({ "type": "OTP", "number": "+38093*****85" });
    assert_code_kept_secret(&app, (P_OTP, AP_OTP), &code, current).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resending_twice_sends_two_sms_each_with_a_new_challenge() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;

    let first = app.resend_otp(P_OTP, AP_OTP, &token).await;
    let first_href = first.job_href();
    let first_job = app.wait_job(&first_href, &token).await;
    assert_eq!(first_job.status, 200, "{:#}", first_job.body);
    let first_salt = approval_salt(&app, AP_OTP).await;

    let second = app.resend_otp(P_OTP, AP_OTP, &token).await;
    let second_href = second.job_href();
    assert_ne!(first_href, second_href);
    let second_job = app.wait_job(&second_href, &token).await;
    assert_eq!(second_job.status, 200, "{:#}", second_job.body);
    assert_eq!(second_job.data()["response_data"], "");
    let second_salt = approval_salt(&app, AP_OTP).await;

    // A new challenge replaces the old one. Codes are only 729 apart, so compare the salts.
    assert_ne!(first_salt, second_salt);
    let events = app.log(AP_OTP).await;
    assert_eq!(events.len(), 3, "{events:#?}");
    assert_eq!(
        events[1]["payload"]["ApprovalOtpResent"]["salt"],
        first_salt
    );
    assert_eq!(
        events[2]["payload"]["ApprovalOtpResent"]["salt"],
        second_salt
    );

    let sms = app.settled_sms(2).await;
    assert_eq!(sms.len(), 2, "{sms:#?}");
    for message in &sms {
        assert_eq!(message["phone_number"], PHONE_OTP);
        assert_eq!(message["status"], "sent");
        otp_code(message);
    }
    assert_ne!(sms[0]["id"], sms[1]["id"]);
    assert_ne!(sms[0]["source_position"], sms[1]["source_position"]);
    assert_eq!(app.job_count().await, 2);
    assert_eq!(app.current_value("approvals", AP_OTP, "version").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_for_a_person_who_authorizes_through_a_third_person_texts_the_confidant() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;

    let reply = app.resend_otp(P_THIRD, AP_THIRD, &token).await;

    let through = ("THIRD_PERSON", PHONE_CONFIDANT);
    let (_, sms) = assert_sent_through(&app, &reply.job_href(), AP_THIRD, through).await;
    let code = otp_code(&sms);
    let current = json!({ "type": "THIRD_PERSON", "number": "+38067*****33" });
    assert_code_kept_secret(&app, (P_THIRD, AP_THIRD), &code, current).await;
}

/// The resend whose job is at `href` finished and is the one change: AP_OTP has two events,
/// one job exists, and one SMS with a well-formed code was sent.
async fn assert_resent_once(app: &TestApp, href: &str, token: &str) {
    let job = app.wait_job(href, token).await;
    assert_eq!(job.status, 200, "{:#}", job.body);
    assert_eq!(app.log(AP_OTP).await.len(), 2);
    assert_eq!(app.job_count().await, 1);
    let sms = app.settled_sms(1).await;
    assert_eq!(sms.len(), 1, "{sms:#?}");
    otp_code(&sms[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_retried_with_the_same_idempotency_key_answers_the_same_job_and_sends_one_sms() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let key = "resend-ap-otp-1";

    let resend = app.resend_otp(P_OTP, AP_OTP, &token).idempotency_key(key);
    let href = resend.clone().await.job_href();
    assert_eq!(app.wait_job(&href, &token).await.status, 200);
    let retry = resend.await;

    assert_eq!(retry.job_href(), href);
    assert_resent_once(&app, &href, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_resends_with_the_same_idempotency_key_answer_one_job_and_send_one_sms() {
    let (app, token) = TestApp::spawn_for(U_DOCTOR, LE_MAIN).await;
    let resend = app
        .resend_otp(P_OTP, AP_OTP, &token)
        .idempotency_key("resend-ap-otp-race");

    let [a, b] = app.race_twice(resend).await;

    let href = a.job_href();
    assert_eq!(b.job_href(), href);
    assert_resent_once(&app, &href, &token).await;
}
