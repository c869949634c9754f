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

use cqrs_es::Aggregate;
use ehealth_aggregates::approval::{ApprovalCommand, ApprovalRecord};
use ehealth_aggregates::care_plan_activity::{CarePlanActivityCommand, CarePlanActivityRecord};
use ehealth_aggregates::common::parse_reference;
use ehealth_aggregates::device_dispense::{DeviceDispenseCommand, DeviceDispenseRecord};
use ehealth_aggregates::merge_request::{MergeRequestCommand, MergeRequestRecord};
use ehealth_aggregates::service_request::{ServiceRequestCommand, ServiceRequestRecord};
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
use fields::{list, records};

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

/// A record of the file with the Import command that creates its entity.
trait Imported: Sized {
    type Aggregate: Routed;
    /// The entity kind, in command ids and error messages.
    const KIND: &'static str;
    fn id(&self) -> Uuid;
    fn command(self) -> <Self::Aggregate as Aggregate>::Command;
}

macro_rules! imported {
    ($record:ty, $aggregate:ty, $command:ident, $kind:literal) => {
        impl Imported for $record {
            type Aggregate = $aggregate;
            const KIND: &'static str = $kind;
            fn id(&self) -> Uuid {
                self.id
            }
            fn command(self) -> $command {
                $command::Import(Box::new(self))
            }
        }
    };
}

imported!(
    ServiceRequestRecord,
    ServiceRequest,
    ServiceRequestCommand,
    "service_request"
);
imported!(
    MergeRequestRecord,
    MergeRequest,
    MergeRequestCommand,
    "merge_request"
);
imported!(
    DeviceDispenseRecord,
    DeviceDispense,
    DeviceDispenseCommand,
    "device_dispense"
);
imported!(ApprovalRecord, Approval, ApprovalCommand, "approval");
imported!(
    CarePlanActivityRecord,
    CarePlanActivity,
    CarePlanActivityCommand,
    "care_plan_activity"
);

/// Executes the Import command of each record; an entity that exists already is left as it is.
async fn create_all<R: Imported>(
    bus: &Arc<CommandBus>,
    records: Vec<R>,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    let kind = R::KIND;
    for record in records {
        let id = record.id();
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
            .execute::<R::Aggregate>(id, record.command(), meta, CommandContext::default())
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
    let service_requests = records(file, "service_requests", entities::service_request)?;
    let merge_requests = records(file, "merge_requests", entities::merge_request)?;
    let device_dispenses = records(file, "device_dispenses", entities::device_dispense)?;
    let employee_le: HashMap<Uuid, Uuid> = list(file, "employees")
        .iter()
        .filter_map(|e| {
            let id = parse_reference(e.get("id")).ok()??;
            let le = parse_reference(e.get("legal_entity_id")).ok()??;
            Some((id, le))
        })
        .collect();
    let mut approvals = records(file, "approvals", |f| entities::approval(f, &employee_le))?;
    let store = Store::new(db);
    resolve_legal_entities(&Reference::new(store.reference.clone()), &mut approvals).await?;
    let activities = records(
        file,
        "care_plan_activities",
        care_plan_activities::care_plan_activity,
    )?;

    // Everything is valid: only now is anything written.
    let rows = reference::reference_rows(file)?;
    store.reference.upsert(&rows).await?;
    let mut report = ImportReport {
        reference_rows: rows.len(),
        ..Default::default()
    };
    create_all(bus, service_requests, &mut report).await?;
    create_all(bus, merge_requests, &mut report).await?;
    create_all(bus, device_dispenses, &mut report).await?;
    create_all(bus, approvals, &mut report).await?;
    create_all(bus, activities, &mut report).await?;
    Ok(report)
}
