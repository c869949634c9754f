//! The service's API, typed: the path of every endpoint ([`paths`]) and a method on [`Api`] for
//! each action and read, so a test says what it does (`app.release(SR_QUEUED, &token)`) and the
//! URL shapes live here once. Each method answers a [`Call`]: await it as is, or add headers, a
//! query or a body first (`app.events(&token).query("entity_id=…").await`).

use serde_json::Value;
use uuid::Uuid;

use super::client::{Api, Call};

/// The path of every endpoint.
pub mod paths {
    use uuid::Uuid;

    pub fn release(id: Uuid) -> String {
        format!("/api/service_requests/{id}/actions/release")
    }

    pub fn recall(patient: Uuid, id: Uuid) -> String {
        format!("{}/actions/recall", service_request(patient, id))
    }

    pub fn reject(id: Uuid) -> String {
        format!("{}/actions/reject", merge_request(id))
    }

    pub fn stop(patient: Uuid, id: Uuid) -> String {
        format!("{}/actions/stop", device_dispense(patient, id))
    }

    pub fn resend(patient: Uuid, id: Uuid) -> String {
        format!("{}/actions/resend", approval(patient, id))
    }

    pub fn service_request(patient: Uuid, id: Uuid) -> String {
        format!("/api/patients/{patient}/service_requests/{id}")
    }

    pub fn merge_request(id: Uuid) -> String {
        format!("/api/merge_requests/{id}")
    }

    pub fn device_dispense(patient: Uuid, id: Uuid) -> String {
        format!("/api/patients/{patient}/device_dispenses/{id}")
    }

    pub fn approval(patient: Uuid, id: Uuid) -> String {
        format!("/api/patients/{patient}/approvals/{id}")
    }

    pub fn care_plan_activity(patient: Uuid, care_plan: Uuid, id: Uuid) -> String {
        format!("/api/patients/{patient}/care_plans/{care_plan}/activities/{id}")
    }

    /// The history of the entity at `entity` (one of the paths above).
    pub fn history(entity: &str) -> String {
        format!("{entity}/history")
    }

    pub const SERVICE_REQUESTS: &str = "/api/service_requests";
    pub const MERGE_REQUESTS: &str = "/api/merge_requests";
    pub const DEVICE_DISPENSES: &str = "/api/device_dispenses";
    pub const EVENTS: &str = "/api/events";
    pub const LIVE: &str = "/health/live";
    pub const READY: &str = "/health/ready";
    pub const OPENAPI: &str = "/api/openapi.json";
}

impl Api {
    /// Release a service request (async: 202 with a job).
    pub fn release(&self, id: Uuid, token: &str) -> Call<'_> {
        self.patch(&paths::release(id), Some(token), None)
    }

    /// Recall a service request with `body` (`{"signed_data": …}`; async: 202 with a job).
    pub fn recall(&self, patient: Uuid, id: Uuid, body: &Value, token: &str) -> Call<'_> {
        self.patch(&paths::recall(patient, id), Some(token), Some(body))
    }

    /// Reject a merge request (sync: 200 with the entity).
    pub fn reject_merge_request(&self, id: Uuid, token: &str) -> Call<'_> {
        self.patch(&paths::reject(id), Some(token), None)
    }

    /// Stop a device dispense (async: 202 with a job).
    pub fn stop_device_dispense(&self, patient: Uuid, id: Uuid, token: &str) -> Call<'_> {
        self.patch(&paths::stop(patient, id), Some(token), None)
    }

    /// Resend the OTP SMS of an approval (async: 202 with a job).
    pub fn resend_otp(&self, patient: Uuid, id: Uuid, token: &str) -> Call<'_> {
        self.patch(&paths::resend(patient, id), Some(token), None)
    }

    pub fn service_request(&self, patient: Uuid, id: Uuid, token: &str) -> Call<'_> {
        self.get(&paths::service_request(patient, id), Some(token))
    }

    pub fn merge_request(&self, id: Uuid, token: &str) -> Call<'_> {
        self.get(&paths::merge_request(id), Some(token))
    }

    pub fn device_dispense(&self, patient: Uuid, id: Uuid, token: &str) -> Call<'_> {
        self.get(&paths::device_dispense(patient, id), Some(token))
    }

    pub fn approval(&self, patient: Uuid, id: Uuid, token: &str) -> Call<'_> {
        self.get(&paths::approval(patient, id), Some(token))
    }

    pub fn care_plan_activity(
        &self,
        patient: Uuid,
        care_plan: Uuid,
        id: Uuid,
        token: &str,
    ) -> Call<'_> {
        self.get(
            &paths::care_plan_activity(patient, care_plan, id),
            Some(token),
        )
    }

    /// A job by its link (`data.links[0].href` of a 202).
    pub fn job(&self, href: &str, token: &str) -> Call<'_> {
        self.get(href, Some(token))
    }

    /// The history of the entity at `entity` (a path of [`paths`]).
    pub fn history(&self, entity: &str, token: &str) -> Call<'_> {
        self.get(&paths::history(entity), Some(token))
    }

    /// The Event Manager's list (`GET /api/events`); filters go in `.query(…)`.
    pub fn events(&self, token: &str) -> Call<'_> {
        self.get(paths::EVENTS, Some(token))
    }

    /// One record of the Event Manager (`GET /api/events/{id}`).
    pub fn event(&self, id: impl std::fmt::Display, token: &str) -> Call<'_> {
        self.get(&format!("{}/{id}", paths::EVENTS), Some(token))
    }

    /// `GET /health/ready` (no token).
    pub fn ready(&self) -> Call<'_> {
        self.get(paths::READY, None)
    }
}
