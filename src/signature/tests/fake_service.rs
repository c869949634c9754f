//! A stand-in for eHealth's signature service on 127.0.0.1: an axum app answering `POST
//! /digital_signatures` with the answer recorded for that envelope, which [`Replay::record`]
//! takes from the built-in verifier. An envelope nobody recorded is a 500.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::signature::ds_api::{self, Request};
use crate::signature::SignatureVerifier;

type Answers = Arc<Mutex<HashMap<String, (u16, Value)>>>;

pub struct Replay {
    pub url: String,
    answers: Answers,
}

impl Replay {
    pub async fn start() -> Replay {
        let answers: Answers = Arc::default();
        let app = Router::new()
            .route("/digital_signatures", post(answer))
            .with_state(answers.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Replay {
            url: format!("http://{addr}/digital_signatures"),
            answers,
        }
    }

    /// Records what `verifier` answers for `signed_data` at `at`, in the service's wire format.
    pub async fn record(
        &self,
        verifier: &dyn SignatureVerifier,
        signed_data: &str,
        at: DateTime<Utc>,
    ) {
        let answer = ds_api::answer(&verifier.verify(signed_data, at).await);
        self.answers
            .lock()
            .unwrap()
            .insert(signed_data.to_owned(), answer);
    }
}

async fn answer(
    State(answers): State<Answers>,
    Json(request): Json<Request>,
) -> (StatusCode, Json<Value>) {
    assert_eq!(request.signed_content_encoding, "base64");
    let recorded = answers
        .lock()
        .unwrap()
        .get(&request.signed_content)
        .cloned();
    match recorded {
        Some((status, body)) => (StatusCode::from_u16(status).unwrap(), Json(body)),
        None => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": { "message": "no answer recorded for this envelope" } })),
        ),
    }
}
