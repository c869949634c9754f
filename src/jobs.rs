//! Async jobs (ehealth-notes §1.4): ids, the 202 answer, and how a job renders.

use axum::http::StatusCode;
use rand::RngCore;
use serde_json::{json, Value};

use crate::api::envelope::ApiResponse;
use crate::store::NewJob;

/// 24 hex characters, like the Mongo ObjectIds eHealth uses for jobs.
pub fn new_job_id() -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn job_href(id: &str) -> String {
    format!("/api/jobs/{id}")
}

/// The answer of an async action: 202 with the pending job.
pub fn accepted_response(job: &NewJob) -> ApiResponse {
    ApiResponse::new(
        StatusCode::ACCEPTED,
        json!({
            "status": "pending",
            "eta": job.eta,
            "links": [ { "entity": "job", "href": job_href(&job.id) } ]
        }),
    )
}

/// A job row as `GET /api/jobs/{id}` renders it, with the status to answer.
pub struct JobView {
    pub id: String,
    pub status: String,
    pub status_code: Option<i32>,
    pub eta: chrono::DateTime<chrono::Utc>,
    pub links: Option<Value>,
    pub response_data: Option<Value>,
    pub error: Option<Value>,
}

impl JobView {
    pub fn render(&self) -> (StatusCode, Value, Option<String>) {
        match self.status.as_str() {
            "processed" => {
                if let Some(links) = &self.links {
                    let location = links
                        .get(0)
                        .and_then(|l| l.get("href"))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    let data = json!({
                        "status": "processed",
                        "status_code": self.status_code.unwrap_or(200),
                        "eta": self.eta,
                        "links": links,
                    });
                    (StatusCode::SEE_OTHER, data, location)
                } else {
                    let data = json!({
                        "status": "processed",
                        "status_code": self.status_code.unwrap_or(200),
                        "eta": self.eta,
                        "response_data": self.response_data.clone().unwrap_or(json!("")),
                    });
                    (StatusCode::OK, data, None)
                }
            }
            "failed" | "failed_with_error" => {
                let data = json!({
                    "status": self.status,
                    "status_code": self.status_code.unwrap_or(500),
                    "eta": self.eta,
                    "error": self.error.clone().unwrap_or(Value::Null),
                });
                (StatusCode::OK, data, None)
            }
            _ => {
                let data = json!({
                    "status": "pending",
                    "eta": self.eta,
                    "links": [ { "entity": "job", "href": job_href(&self.id) } ],
                });
                (StatusCode::OK, data, None)
            }
        }
    }
}
