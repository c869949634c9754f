//! `ehealth-es import FILE`: reference data is upserted into its local tables; entities are
//! created through their aggregates' Import command, so their creation is in the event log like
//! everything else. Importing the same file twice changes nothing. The whole file is validated
//! before anything is written.

mod care_plan_activities;
mod entities;
mod fields;
mod reference;

use std::collections::HashMap;
use std::sync::Arc;

use ehealth_aggregates::approval::{ApprovalCommand, ApprovalRecord};
use ehealth_aggregates::care_plan_activity::CarePlanActivityCommand;
use ehealth_aggregates::common::parse_reference;
use ehealth_aggregates::device_dispense::DeviceDispenseCommand;
use ehealth_aggregates::merge_request::MergeRequestCommand;
use ehealth_aggregates::service_request::ServiceRequestCommand;
use ehealth_aggregates::{
    Approval, CarePlanActivity, DeviceDispense, MergeRequest, ServiceRequest,
};
use serde_json::Value;
use uuid::Uuid;

use crate::api::actions::now;
use crate::commands::{CommandBus, CommandMeta, Routed};
use crate::db::Db;
use crate::reference::Reference;
use crate::store::{CommandContext, Store};
use fields::list;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub reference_rows: usize,
    pub created: usize,
    pub already_present: usize,
}

/// Approvals whose employee is not in the file take the legal entity the registry knows for it.
async fn resolve_legal_entities(
    reference: &Reference,
    approvals: &mut [ApprovalRecord],
) -> anyhow::Result<()> {
    for a in approvals.iter_mut().filter(|a| a.legal_entity_id.is_none()) {
        if let Some(employee) = a.granted_to {
            a.legal_entity_id = reference.employee_legal_entity(employee).await?;
        }
    }
    Ok(())
}

/// Executes the Import command of each entity; an entity that exists already is left as it is.
async fn create_all<A>(
    bus: &Arc<CommandBus>,
    kind: &str,
    commands: impl Iterator<Item = (Uuid, A::Command)>,
    report: &mut ImportReport,
) -> anyhow::Result<()>
where
    A: Routed,
    A::Command: Clone + Send + Sync + 'static,
    A::Error: Send + 'static,
{
    for (id, command) in commands {
        let meta = CommandMeta {
            user_id: Uuid::nil(),
            client_id: Uuid::nil(),
            request_id: "import".into(),
            command_id: format!("import:{kind}:{id}"),
            correlation_id: "import".into(),
            causation_id: "import".into(),
            at: now(),
            job_id: None,
        };
        let outcome = bus
            .execute::<A>(id, command, meta, CommandContext::default())
            .await
            .map_err(|e| anyhow::anyhow!("{kind} {id}: {e}"))?;
        if outcome.is_some() {
            report.created += 1;
        } else {
            report.already_present += 1;
        }
    }
    Ok(())
}

/// Imports a parsed file; entities are validated before anything is written.
pub async fn import(db: &Db, bus: &Arc<CommandBus>, file: &Value) -> anyhow::Result<ImportReport> {
    if !file.is_object() {
        anyhow::bail!("the import file must hold one JSON object");
    }
    let service_requests = list(file, "service_requests")
        .iter()
        .enumerate()
        .map(|(i, v)| entities::service_request(i, v))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let merge_requests = list(file, "merge_requests")
        .iter()
        .enumerate()
        .map(|(i, v)| entities::merge_request(i, v))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let device_dispenses = list(file, "device_dispenses")
        .iter()
        .enumerate()
        .map(|(i, v)| entities::device_dispense(i, v))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let employee_le: HashMap<Uuid, Uuid> = list(file, "employees")
        .iter()
        .filter_map(|e| {
            let id = parse_reference(e.get("id")).ok()??;
            let le = parse_reference(e.get("legal_entity_id")).ok()??;
            Some((id, le))
        })
        .collect();
    let mut approvals = list(file, "approvals")
        .iter()
        .enumerate()
        .map(|(i, v)| entities::approval(i, v, &employee_le))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let store = Store::new(db);
    resolve_legal_entities(&Reference::new(store.reference.clone()), &mut approvals).await?;
    let activities = list(file, "care_plan_activities")
        .iter()
        .enumerate()
        .map(|(i, v)| care_plan_activities::care_plan_activity(i, v))
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Everything is valid: only now is anything written.
    let rows = reference::reference_rows(file)?;
    store.reference.upsert(&rows).await?;
    let mut report = ImportReport {
        reference_rows: rows.len(),
        ..Default::default()
    };
    let sr = service_requests
        .into_iter()
        .map(|r| (r.id, ServiceRequestCommand::Import(Box::new(r))));
    create_all::<ServiceRequest>(bus, "service_request", sr, &mut report).await?;
    let mr = merge_requests
        .into_iter()
        .map(|r| (r.id, MergeRequestCommand::Import(Box::new(r))));
    create_all::<MergeRequest>(bus, "merge_request", mr, &mut report).await?;
    let dd = device_dispenses
        .into_iter()
        .map(|r| (r.id, DeviceDispenseCommand::Import(Box::new(r))));
    create_all::<DeviceDispense>(bus, "device_dispense", dd, &mut report).await?;
    let ap = approvals
        .into_iter()
        .map(|r| (r.id, ApprovalCommand::Import(Box::new(r))));
    create_all::<Approval>(bus, "approval", ap, &mut report).await?;
    let cpa = activities
        .into_iter()
        .map(|r| (r.id, CarePlanActivityCommand::Import(Box::new(r))));
    create_all::<CarePlanActivity>(bus, "care_plan_activity", cpa, &mut report).await?;
    Ok(report)
}
