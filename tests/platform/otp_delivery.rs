//! A resend's job reflects its SMS, with the HTTP gateway against a loopback provider: processed
//! only once the provider accepted the message; failed with eHealth's 500 when the provider kept
//! refusing until `EHEALTH_OTP_SEND_TIMEOUT`; failed 409 when a newer code replaced it before it
//! could be sent. A code that is given up or superseded is never delivered later.

use std::time::Duration;
use std::time::Instant;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::harness::*;
use crate::sms_gateway::{provider, Provider};
use crate::support::world::*;
use crate::support::{eventually, TestApp};

const SUPERSEDED: &str = "The code was not sent: a newer code was issued for this approval";

/// The service with the HTTP gateway pointing at a provider that answers `answer` for now, the
/// provider, and the doctor's token.
async fn app_with_provider(answer: StatusCode, send_timeout: u64) -> (TestApp, Provider, String) {
    let (url, provider) = provider(answer).await;
    let app = spawn_configured(|args| {
        args.sms_gateway = url;
        args.otp_send_timeout = send_timeout;
    })
    .await;
    let doctor = app.doctor_token();
    (app, provider, doctor)
}

/// The outbox rows of one approval's codes, oldest first.
async fn sms_of(app: &TestApp, approval: uuid::Uuid) -> Vec<Value> {
    app.sms()
        .await
        .into_iter()
        .filter(|s| s["params"]["approval_id"] == approval.to_string())
        .collect()
}

/// Waits until the `n`-th code of `approval` was offered to the provider at least once.
async fn wait_attempted(app: &TestApp, approval: uuid::Uuid, n: usize) -> Value {
    assert!(
        eventually(Duration::from_secs(10), || async {
            sms_of(app, approval)
                .await
                .get(n)
                .is_some_and(|s| s["attempts"].as_i64() >= Some(1))
        })
        .await,
        "code {n} of {approval} never attempted: {:#?}",
        sms_of(app, approval).await
    );
    sms_of(app, approval).await.swap_remove(n)
}

fn id_of(sms: &Value) -> String {
    sms["id"].as_str().expect("sms id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_job_stays_pending_while_the_gateway_refuses_and_is_processed_once_it_accepts() {
    let (app, provider, token) = app_with_provider(StatusCode::SERVICE_UNAVAILABLE, 60).await;

    let href = app.resend_otp(P_OTP, AP_OTP, &token).await.job_href();
    let sms = wait_attempted(&app, AP_OTP, 0).await;

    let pending = app.get(&href, Some(&token)).await;
    assert_eq!(pending.status, 200, "{:#}", pending.body);
    assert_eq!(pending.data()["status"], "pending", "{:#}", pending.body);
    assert_eq!(app.job_row(&href).await["status"], "pending");
    assert!(provider.accepted().is_empty());

    provider.answer(StatusCode::OK);
    let job = app.wait_job(&href, &token).await;

    assert_eq!(job.status, 200, "{:#}", job.body);
    assert_eq!(job.data()["status"], "processed", "{:#}", job.body);
    assert_eq!(job.data()["status_code"], 200);
    assert_eq!(job.data()["response_data"], "");
    let row = sms_of(&app, AP_OTP).await.remove(0);
    assert_eq!(row["status"], "sent");
    assert!(row["attempts"].as_i64() >= Some(2), "{row:#}");
    assert_eq!(provider.accepted(), vec![id_of(&sms)]);
    let stored = app.job_row(&href).await;
    assert_eq!(stored["status"], "processed");
    assert_eq!(stored["response_data"], "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_whose_sms_the_gateway_refuses_past_the_timeout_fails_with_ehealths_error() {
    let (app, provider, token) = app_with_provider(StatusCode::SERVICE_UNAVAILABLE, 2).await;
    let started = Instant::now();

    let href = app.resend_otp(P_OTP, AP_OTP, &token).await.job_href();
    let job = app.wait_job(&href, &token).await;

    assert!(
        started.elapsed().as_secs_f64() >= 2.0,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(job.status, 200, "{:#}", job.body);
    assert_eq!(job.data()["status"], "failed", "{:#}", job.body);
    assert_eq!(job.data()["status_code"], 500);
    assert_eq!(
        job.data()["error"],
        json!({ "type": "internal_error", "message": "Failed to initialize otp verification" })
    );
    assert!(job.data().get("response_data").is_none(), "{:#}", job.body);
    let given_up = sms_of(&app, AP_OTP).await.remove(0);
    assert_eq!(given_up["status"], "given_up");
    assert!(given_up["attempts"].as_i64() >= Some(1), "{given_up:#}");

    // Never delivered later: once the provider accepts again, a later message goes out and the
    // given-up one, queued before it, still does not.
    provider.answer(StatusCode::OK);
    let later = app.resend_otp(P_THIRD, AP_THIRD, &token).await.job_href();
    let done = app.wait_job(&later, &token).await;
    assert_eq!(done.data()["status"], "processed", "{:#}", done.body);
    let third = sms_of(&app, AP_THIRD).await.remove(0);
    assert_eq!(provider.accepted(), vec![id_of(&third)]);
    assert_eq!(sms_of(&app, AP_OTP).await[0]["status"], "given_up");
    assert_eq!(app.job_row(&href).await["status"], "failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_code_waiting_for_a_retry_is_superseded_by_a_newer_one_and_never_sent() {
    let (app, provider, token) = app_with_provider(StatusCode::SERVICE_UNAVAILABLE, 60).await;

    let first = app.resend_otp(P_OTP, AP_OTP, &token).await.job_href();
    let old = wait_attempted(&app, AP_OTP, 0).await;
    // The newer code is committed while the old one waits for its retry. It is asked for by a
    // colleague: the same user's identical resend would be answered with the pending job.
    let colleague = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    let second = app.resend_otp(P_OTP, AP_OTP, &colleague).await.job_href();
    provider.answer(StatusCode::OK);

    let newer = app.wait_job(&second, &token).await;
    assert_eq!(newer.data()["status"], "processed", "{:#}", newer.body);
    let older = app.wait_job(&first, &token).await;
    assert_eq!(older.status, 200, "{:#}", older.body);
    assert_eq!(older.data()["status"], "failed", "{:#}", older.body);
    assert_eq!(older.data()["status_code"], 409);
    assert_eq!(
        older.data()["error"],
        json!({ "type": "request_conflict", "message": SUPERSEDED })
    );

    let rows = sms_of(&app, AP_OTP).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(rows[0]["id"], old["id"]);
    assert_eq!(rows[0]["status"], "superseded");
    assert_eq!(rows[1]["status"], "sent");
    assert_eq!(provider.accepted(), vec![id_of(&rows[1])]);
    // Only the newer code is the approval's challenge.
    let current = app.current("approvals", AP_OTP).await.unwrap();
    assert_eq!(
        current["document"]["record"]["otp"]["salt"],
        rows[1]["params"]["salt"]
    );
}
