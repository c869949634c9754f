//! What a recall does besides finishing its job: the approvals made for the service request are
//! revoked, and the patient is told by SMS. ([`super::give_back`] returns its quantity to the care
//! plan activity it is based on.)

use std::collections::HashMap;
use std::sync::Arc;

use ehealth_aggregates::approval::ApprovalCommand;
use ehealth_aggregates::{Approval, ServiceRequest};
use ehealth_projections::StoredEvent;
use serde_json::{json, Value};
use uuid::Uuid;

use super::effects::{meta_str, meta_uuid, EffectError};
use crate::commands::{CommandBus, CommandError, CommandMeta};
use crate::reference::Reference;
use crate::store::{CommandContext, FeedBatch, NewSms};

/// What planning a batch reads, read with one query per kind for the whole batch: the stored
/// states of the recalled service requests, and the approvals still in force made for them.
#[derive(Default)]
pub(super) struct Lookups {
    pub service_requests: HashMap<Uuid, ServiceRequest>,
    pub approvals: HashMap<Uuid, Vec<Uuid>>,
}

impl Lookups {
    fn recalled(batch: &[(impl Sized, StoredEvent)]) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = batch
            .iter()
            .map(|(_, e)| e)
            .filter(|e| {
                e.aggregate_type == "ServiceRequest" && e.event_type == "ServiceRequestRecalled"
            })
            .filter_map(|e| Uuid::parse_str(&e.aggregate_id).ok())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn keep(&mut self, id: Uuid, document: &str) {
        if let Ok(sr) = serde_json::from_str::<ServiceRequest>(document) {
            self.service_requests.insert(id, sr);
        }
    }

    /// Reads what planning `batch` reads, through the batch (on its connection).
    pub(super) async fn read(batch: &mut dyn FeedBatch) -> Result<Self, sqlx::Error> {
        let recalled = Self::recalled(batch.events());
        let found = batch.recalled(&recalled).await?;
        let mut lookups = Lookups::default();
        for (id, document) in found.documents {
            lookups.keep(id, &document);
        }
        for (approval, sr) in found.approvals_in_force {
            lookups.approvals.entry(sr).or_default().push(approval);
        }
        Ok(lookups)
    }
}

/// Revokes, through their aggregate, the approvals in force made for the recalled service request
/// (a revocation already done is refused and logged).
pub(super) async fn revoke_approvals(
    bus: &Arc<CommandBus>,
    event: &StoredEvent,
    lookups: &Lookups,
) -> Result<(), EffectError> {
    let sr_id = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
    let approvals = lookups.approvals.get(&sr_id).map_or(&[][..], Vec::as_slice);
    let by = event.user_id().unwrap_or_default();
    let at = event
        .payload
        .pointer("/ServiceRequestRecalled/at")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or(event.recorded_at);
    for &approval in approvals {
        let meta = CommandMeta {
            user_id: by,
            client_id: meta_uuid(event, "client_id"),
            request_id: meta_str(event, "request_id"),
            command_id: format!("revoke:{approval}:{}", event.global_position),
            correlation_id: meta_str(event, "correlation_id"),
            causation_id: meta_str(event, "command_id"),
            at,
            job_id: None,
        };
        let command = ApprovalCommand::Revoke {
            service_request_id: sr_id.into(),
            by: by.into(),
            at,
        };
        match bus
            .execute::<Approval>(approval, command, meta, CommandContext::default())
            .await
        {
            Ok(_) => {}
            Err(CommandError::Rejected(e)) => {
                tracing::warn!(%approval, error = %e, "approval not revoked")
            }
            Err(e) => return Err(EffectError::Command(e.to_string())),
        }
    }
    Ok(())
}

/// The recall SMS goes to a patient who authenticates with OTP, unless the service request has a
/// performer.
pub(super) async fn recall_sms(
    reference: &Reference,
    event: &StoredEvent,
    lookups: &Lookups,
) -> Result<Option<NewSms>, EffectError> {
    let sr_id = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
    let Some(sr) = lookups
        .service_requests
        .get(&sr_id)
        .and_then(|s| s.record.as_ref())
    else {
        return Ok(None);
    };
    if sr.other.get("performer").is_some_and(|p| !p.is_null()) {
        return Ok(None);
    }
    let Some(person) = reference.person(sr.patient_id).await? else {
        return Ok(None);
    };
    let Some(phone) = person
        .default_method()
        .filter(|m| m.kind == "OTP")
        .and_then(|m| m.phone_number.clone())
    else {
        return Ok(None);
    };
    let requisition = sr
        .other
        .get("requisition")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Some(NewSms {
        kind: "service_request_recalled",
        phone,
        template: "service_request_recalled",
        params: json!({ "requisition": requisition }),
        source_position: event.global_position,
        job_id: None,
    }))
}
