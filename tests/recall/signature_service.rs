//! Recall verified by an external signature service (`EHEALTH_SIGNATURE_SERVICE_URL`, eHealth's
//! DS API): a stand-in on 127.0.0.1 replays the answers the built-in verifier recorded for the
//! same envelopes, and the recall ends as it does with the built-in verifier.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::support::service::ds_api::{self, Request};
use crate::support::service::{SignatureArgs, Signatures};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use ehealth_test_pki::dstu::Hash;
use serde_json::{json, Value};

use crate::support::qualified_pki::{qualified, signature_args};
use crate::support::world::*;
use crate::support::{pki, Options, TestApp};
use crate::*;

type Answers = Arc<Mutex<HashMap<String, (u16, Value)>>>;

/// A service that checks signatures with a stand-in signature service, and what the stand-in will
/// answer (500 for an envelope it has no answer for).
async fn app_with_stand_in() -> (TestApp, Answers) {
    let answers: Answers = Arc::default();
    let app = Router::new()
        .route(
            "/digital_signatures",
            post(
                |State(answers): State<Answers>, Json(request): Json<Request>| async move {
                    let found = answers
                        .lock()
                        .unwrap()
                        .get(&request.signed_content)
                        .cloned();
                    let (status, body) = found.unwrap_or((500, json!({})));
                    (StatusCode::from_u16(status).unwrap(), Json(body))
                },
            ),
        )
        .with_state(answers.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/digital_signatures");
    let app = TestApp::spawn_configured(Options::default(), |args| {
        args.signature = SignatureArgs {
            service_url: Some(url),
            ..Default::default()
        };
    })
    .await;
    (app, answers)
}

/// Records the built-in verifier's answer for `signed`, as the service would give it.
async fn record(answers: &Answers, signed: &str) {
    let builtin = Signatures::from_config(&signature_args(Some(pki().anchors.clone())))
        .await
        .unwrap()
        .verifier
        .unwrap();
    let answer = ds_api::answer(&builtin.verify(signed, chrono::Utc::now()).await);
    answers.lock().unwrap().insert(signed.to_owned(), answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_checked_by_an_external_signature_service_is_accepted_or_refused_as_it_answers() {
    let (app, answers) = app_with_stand_in().await;
    let token = doctor_token(&app);
    let content = with_reason(rendering(&app, &token, P_OTP, SR_ACTIVE).await, reason());
    let bytes = serde_json::to_vec(&content).unwrap();

    let revoked = qualified().revoked.sign(&bytes);
    record(&answers, &revoked).await;
    let reply = app
        .recall(P_OTP, SR_ACTIVE, &body_of(&revoked), &token)
        .await;
    assert_signed_data_refused(&reply, "revoked", "certificate is revoked");
    assert_untouched(&app, SR_ACTIVE).await;

    let signed = qualified().dstu_sign(&bytes, Hash::Gost);
    record(&answers, &signed).await;
    recall_and_wait(&app, &token, P_OTP, SR_ACTIVE, &body_of(&signed)).await;
    let row = app.current("service_requests", SR_ACTIVE).await.unwrap();
    assert_eq!(row["status"], "recalled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_when_the_signature_service_fails_answers_503_and_changes_nothing() {
    let (app, _nothing_recorded) = app_with_stand_in().await;
    let (body, _) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let unavailable = "Digital signature service is unavailable";
    let token = doctor_token(&app);
    assert_recall_refused(
        &app,
        &token,
        SR_ACTIVE,
        &body,
        (503, "internal_error", unavailable),
    )
    .await;
}
