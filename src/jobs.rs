//! Async jobs: ids, the command key that deduplicates them, the 202 answer, and how a job renders.

use axum::http::StatusCode;
use rand::RngCore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::api::envelope::ApiResponse;
pub use crate::store::JobView;
use crate::store::NewJob;

/// 24 hex characters, like the Mongo ObjectIds eHealth uses for jobs.
pub fn new_job_id() -> String {
    let mut bytes = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// An async action's command as far as deduplication sees it: the action and its parameters. With
/// the caller's user and legal entity they make the command's key; while a job with that key is
/// pending, the same command is answered with that job instead of running again.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub action: &'static str,
    params: Vec<(&'static str, String)>,
    /// False when a parameter has no canonical form (a path id that is not a uuid): such a request
    /// never passes its checks, so no job can exist for it.
    canonical: bool,
}

impl JobSpec {
    pub fn new(action: &'static str) -> Self {
        Self {
            action,
            params: Vec::new(),
            canonical: true,
        }
    }

    /// A uuid parameter, in its canonical form (lower-case, hyphenated) however the request spelled
    /// it.
    pub fn id(mut self, name: &'static str, value: impl std::fmt::Display) -> Self {
        match Uuid::parse_str(&value.to_string()) {
            Ok(id) => self.params.push((name, id.to_string())),
            Err(_) => self.canonical = false,
        }
        self
    }

    /// A parameter already in its canonical form.
    pub fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.params.push((name, value.into()));
        self
    }

    /// The command's key: SHA-256 (hex) of the JSON array `[["action", …], ["user_id", …],
    /// ["client_id", …], [name, value]…]` — every value a string, in the order the action adds
    /// them, so the encoding is unambiguous and one command has one key.
    pub fn key(&self, user_id: Uuid, client_id: Uuid) -> Option<String> {
        if !self.canonical {
            return None;
        }
        let mut fields = vec![
            json!(["action", self.action]),
            json!(["user_id", user_id.to_string()]),
            json!(["client_id", client_id.to_string()]),
        ];
        fields.extend(self.params.iter().map(|(name, value)| json!([name, value])));
        let encoded = serde_json::to_vec(&fields).unwrap_or_default();
        Some(hex::encode(Sha256::digest(encoded)))
    }
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

/// How a job renders: the status to answer, the body, and the `Location` of a job processed with a
/// link.
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

#[cfg(test)]
mod tests {
    use super::*;

    const USER: Uuid = Uuid::from_u128(1);
    const CLIENT: Uuid = Uuid::from_u128(2);
    const SR: &str = "66666666-6666-4666-8666-666666666666";

    fn release(id: &str) -> JobSpec {
        JobSpec::new("release_service_request").id("service_request_id", id)
    }

    #[test]
    fn the_key_is_the_sha256_of_the_fields_as_a_json_array() {
        let encoded = format!(
            r#"[["action","release_service_request"],["user_id","{USER}"],["client_id","{CLIENT}"],["service_request_id","{SR}"]]"#
        );
        assert_eq!(
            release(SR).key(USER, CLIENT),
            Some(hex::encode(Sha256::digest(encoded.as_bytes())))
        );
    }

    #[test]
    fn a_uuid_spelled_in_capitals_or_without_hyphens_gives_the_same_key() {
        let key = release(SR).key(USER, CLIENT);
        assert_eq!(release(&SR.to_uppercase()).key(USER, CLIENT), key);
        assert_eq!(release(&SR.replace('-', "")).key(USER, CLIENT), key);
    }

    #[test]
    fn another_user_legal_entity_action_or_parameter_gives_another_key() {
        let key = release(SR).key(USER, CLIENT);
        assert_ne!(release(SR).key(CLIENT, CLIENT), key);
        assert_ne!(release(SR).key(USER, USER), key);
        let recall = JobSpec::new("recall_service_request").id("service_request_id", SR);
        assert_ne!(recall.key(USER, CLIENT), key);
        assert_ne!(
            release("66666666-6666-4666-8666-666666666667").key(USER, CLIENT),
            key
        );
        assert_ne!(release(SR).param("x", "").key(USER, CLIENT), key);
    }

    #[test]
    fn a_path_id_that_is_not_a_uuid_gives_no_key() {
        assert_eq!(release("not-a-uuid").key(USER, CLIENT), None);
    }
}
