//! `ehealth-es import FILE` (CONTRACT.md): reference data is upserted into its local tables;
//! entities are created through their aggregates' Import command, so their creation is in the
//! event log like everything else. Importing the same file twice changes nothing.

mod care_plan_activities;

use std::collections::HashMap;
use std::sync::Arc;

use crate::db::Db;
use chrono::{DateTime, Utc};
use ehealth_aggregates::approval::{ApprovalCommand, ApprovalRecord};
use ehealth_aggregates::care_plan_activity::CarePlanActivityCommand;
use ehealth_aggregates::common::parse_reference;
use ehealth_aggregates::device_dispense::{DeviceDispenseCommand, DeviceDispenseRecord};
use ehealth_aggregates::merge_request::{MergeRequestCommand, MergeRequestRecord};
use ehealth_aggregates::service_request::{ServiceRequestCommand, ServiceRequestRecord};
use ehealth_aggregates::{
    Approval, CarePlanActivity, DeviceDispense, MergeRequest, ServiceRequest,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::api::actions::now;
use crate::commands::{CommandBus, CommandMeta, Routed};
use crate::reference::ALLOWED_LE_TYPES_SETTING;
use crate::store::CommandContext;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub reference_rows: usize,
    pub created: usize,
    pub already_present: usize,
}

/// Reads one field of an import object.
struct Fields<'a> {
    what: String,
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn new(list: &str, index: usize, value: &'a Value) -> anyhow::Result<Self> {
        let obj = value
            .as_object()
            .ok_or_else(|| anyhow::anyhow!("{list}[{index}]: expected an object"))?;
        Ok(Self {
            what: format!("{list}[{index}]"),
            obj,
        })
    }

    fn err(&self, field: &str, why: impl std::fmt::Display) -> anyhow::Error {
        anyhow::anyhow!("{}.{field}: {why}", self.what)
    }

    fn uuid(&self, field: &str) -> anyhow::Result<Uuid> {
        self.opt_uuid(field)?
            .ok_or_else(|| self.err(field, "is required"))
    }

    fn opt_uuid(&self, field: &str) -> anyhow::Result<Option<Uuid>> {
        parse_reference(self.obj.get(field)).map_err(|e| self.err(field, e))
    }

    fn parse<T: DeserializeOwned>(&self, field: &str) -> anyhow::Result<T> {
        let v = self.obj.get(field).cloned().unwrap_or(Value::Null);
        serde_json::from_value(v).map_err(|e| self.err(field, e))
    }

    fn opt<T: DeserializeOwned>(&self, field: &str) -> anyhow::Result<Option<T>> {
        match self.obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.parse(field).map(Some),
        }
    }

    fn string(&self, field: &str) -> anyhow::Result<String> {
        self.parse(field)
    }

    fn time(&self, field: &str, default: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
        Ok(self.opt(field)?.unwrap_or(default))
    }

    /// Every field not in `known`, kept verbatim.
    fn other(&self, known: &[&str]) -> Map<String, Value> {
        self.obj
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

fn list<'a>(file: &'a Value, key: &str) -> &'a [Value] {
    file.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// One row of reference data, validated.
enum ReferenceRow {
    Setting(&'static str, Value),
    Dictionary(String, Value),
    /// id, type, status, nhs_verified, edrpou.
    LegalEntity(Uuid, String, String, bool, Option<String>),
    Party {
        id: Uuid,
        tax_id: Option<String>,
        first_name: Option<String>,
        last_name: Option<String>,
        verification_status: Option<String>,
        death_date: Option<chrono::NaiveDate>,
    },
    User(Uuid, Uuid),
    Employee(Uuid, Uuid, Uuid, String, String),
    Person(Uuid, String, Value),
}

const SETTING_SQL: &str = "INSERT INTO settings (key, value) VALUES ($1, $2) \
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value";
const DICTIONARY_SQL: &str = "INSERT INTO dictionaries (name, \"values\") VALUES ($1, $2) \
    ON CONFLICT (name) DO UPDATE SET \"values\" = EXCLUDED.\"values\"";
const LEGAL_ENTITY_SQL: &str = "INSERT INTO legal_entities (id, type, status, nhs_verified, \
    edrpou) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, \
    status = EXCLUDED.status, nhs_verified = EXCLUDED.nhs_verified, edrpou = EXCLUDED.edrpou";
const PARTY_SQL: &str = "INSERT INTO parties (id, tax_id, first_name, last_name, \
    verification_status, death_date) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE \
    SET tax_id = EXCLUDED.tax_id, first_name = EXCLUDED.first_name, \
    last_name = EXCLUDED.last_name, verification_status = EXCLUDED.verification_status, \
    death_date = EXCLUDED.death_date";

/// A party's `verification_status`, as eHealth's registry keeps it.
const PARTY_VERIFICATION_STATUSES: [&str; 3] = ["VERIFIED", "VERIFICATION_NEEDED", "NOT_VERIFIED"];
const USER_SQL: &str = "INSERT INTO users (id, party_id) VALUES ($1, $2) \
    ON CONFLICT (id) DO UPDATE SET party_id = EXCLUDED.party_id";
const EMPLOYEE_SQL: &str = "INSERT INTO employees (id, party_id, legal_entity_id, employee_type, \
    status) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
    party_id = EXCLUDED.party_id, legal_entity_id = EXCLUDED.legal_entity_id, \
    employee_type = EXCLUDED.employee_type, status = EXCLUDED.status";
const PERSON_SQL: &str = "INSERT INTO persons (id, status, authentication_methods) \
    VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, \
    authentication_methods = EXCLUDED.authentication_methods";

/// Validates the reference data of the file (nothing is written).
fn reference_rows(file: &Value) -> anyhow::Result<Vec<ReferenceRow>> {
    let mut rows = Vec::new();
    if let Some(types) = file.pointer("/config/me_allowed_transactions_le_types") {
        let types: Vec<String> = serde_json::from_value(types.clone())
            .map_err(|e| anyhow::anyhow!("config.me_allowed_transactions_le_types: {e}"))?;
        rows.push(ReferenceRow::Setting(
            ALLOWED_LE_TYPES_SETTING,
            serde_json::json!(types),
        ));
    }
    if let Some(dicts) = file.get("dictionaries").and_then(Value::as_object) {
        for (name, values) in dicts {
            let values: Vec<String> = serde_json::from_value(values.clone())
                .map_err(|e| anyhow::anyhow!("dictionaries.{name}: {e}"))?;
            rows.push(ReferenceRow::Dictionary(
                name.clone(),
                serde_json::json!(values),
            ));
        }
    }
    for (i, v) in list(file, "legal_entities").iter().enumerate() {
        let f = Fields::new("legal_entities", i, v)?;
        rows.push(ReferenceRow::LegalEntity(
            f.uuid("id")?,
            f.string("type")?,
            f.string("status")?,
            f.opt::<bool>("nhs_verified")?.unwrap_or(false),
            f.opt::<String>("edrpou")?,
        ));
    }
    for (i, v) in list(file, "parties").iter().enumerate() {
        let f = Fields::new("parties", i, v)?;
        let verification_status = f.opt::<String>("verification_status")?;
        if let Some(status) = &verification_status {
            if !PARTY_VERIFICATION_STATUSES.contains(&status.as_str()) {
                return Err(f.err(
                    "verification_status",
                    format!("expected one of {}", PARTY_VERIFICATION_STATUSES.join(", ")),
                ));
            }
        }
        rows.push(ReferenceRow::Party {
            id: f.uuid("id")?,
            tax_id: f.opt::<String>("tax_id")?,
            first_name: f.opt::<String>("first_name")?,
            last_name: f.opt::<String>("last_name")?,
            verification_status,
            death_date: f.opt::<chrono::NaiveDate>("death_date")?,
        });
    }
    for (i, v) in list(file, "users").iter().enumerate() {
        let f = Fields::new("users", i, v)?;
        rows.push(ReferenceRow::User(f.uuid("id")?, f.uuid("party_id")?));
    }
    for (i, v) in list(file, "employees").iter().enumerate() {
        let f = Fields::new("employees", i, v)?;
        rows.push(ReferenceRow::Employee(
            f.uuid("id")?,
            f.uuid("party_id")?,
            f.uuid("legal_entity_id")?,
            f.string("employee_type")?,
            f.string("status")?,
        ));
    }
    for (i, v) in list(file, "persons").iter().enumerate() {
        let f = Fields::new("persons", i, v)?;
        // Validated here so a bad method is reported at import, not at the first resend.
        f.opt::<Vec<crate::reference::AuthMethod>>("authentication_methods")?;
        rows.push(ReferenceRow::Person(
            f.uuid("id")?,
            f.string("status")?,
            f.obj
                .get("authentication_methods")
                .cloned()
                .unwrap_or(Value::Array(vec![])),
        ));
    }
    Ok(rows)
}

/// Binds a row's values to its statement: `$uuid` and `$json` say how this backend stores
/// uuids and JSON.
macro_rules! write_rows {
    ($rows:expr, $conn:expr, uuid = $uuid:expr, json = $json:expr) => {
        for row in $rows {
            let query = match row {
                ReferenceRow::Setting(key, value) => {
                    sqlx::query(SETTING_SQL).bind(*key).bind($json(value))
                }
                ReferenceRow::Dictionary(name, values) => {
                    sqlx::query(DICTIONARY_SQL).bind(name).bind($json(values))
                }
                ReferenceRow::LegalEntity(id, kind, status, nhs, edrpou) => {
                    sqlx::query(LEGAL_ENTITY_SQL)
                        .bind($uuid(*id))
                        .bind(kind)
                        .bind(status)
                        .bind(*nhs)
                        .bind(edrpou)
                }
                ReferenceRow::Party {
                    id,
                    tax_id,
                    first_name,
                    last_name,
                    verification_status,
                    death_date,
                } => sqlx::query(PARTY_SQL)
                    .bind($uuid(*id))
                    .bind(tax_id)
                    .bind(first_name)
                    .bind(last_name)
                    .bind(verification_status)
                    .bind(*death_date),
                ReferenceRow::User(id, party) => {
                    sqlx::query(USER_SQL).bind($uuid(*id)).bind($uuid(*party))
                }
                ReferenceRow::Employee(id, party, le, kind, status) => sqlx::query(EMPLOYEE_SQL)
                    .bind($uuid(*id))
                    .bind($uuid(*party))
                    .bind($uuid(*le))
                    .bind(kind)
                    .bind(status),
                ReferenceRow::Person(id, status, methods) => sqlx::query(PERSON_SQL)
                    .bind($uuid(*id))
                    .bind(status)
                    .bind($json(methods)),
            };
            query.execute(&mut *$conn).await?;
        }
    };
}

async fn import_reference(db: &Db, file: &Value) -> anyhow::Result<usize> {
    let rows = reference_rows(file)?;
    match db {
        Db::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            write_rows!(&rows, tx, uuid = |u: Uuid| u, json = |v: &Value| v.clone());
            tx.commit().await?;
        }
        Db::Sqlite(lite) => {
            let mut tx = lite.begin_write().await?;
            let conn = tx.conn();
            write_rows!(
                &rows,
                conn,
                uuid = crate::db::sqlite::id,
                json = |v: &Value| sqlx::types::Json(v.clone())
            );
            tx.commit().await?;
        }
    }
    Ok(rows.len())
}

fn service_request(i: usize, v: &Value) -> anyhow::Result<ServiceRequestRecord> {
    let f = Fields::new("service_requests", i, v)?;
    let patient_id = match f.opt_uuid("patient_id")? {
        Some(id) => id,
        None => f.uuid("subject")?,
    };
    let inserted_at = f.time("inserted_at", now())?;
    Ok(ServiceRequestRecord {
        id: f.uuid("id")?,
        patient_id,
        status: f.parse("status")?,
        program_processing_status: f.opt("program_processing_status")?,
        requester_employee: f.opt_uuid("requester_employee")?,
        requester_legal_entity: f.opt_uuid("requester_legal_entity")?,
        used_by_employee: f.opt_uuid("used_by_employee")?,
        used_by_legal_entity: f.opt_uuid("used_by_legal_entity")?,
        status_reason: f.opt("status_reason")?,
        explanatory_letter: f.opt("explanatory_letter")?,
        status_history: f.opt("status_history")?.unwrap_or_default(),
        signed_content_links: f.opt("signed_content_links")?.unwrap_or_default(),
        inserted_at,
        inserted_by: f.opt_uuid("inserted_by")?,
        updated_at: f.time("updated_at", inserted_at)?,
        updated_by: f.opt_uuid("updated_by")?,
        other: f.other(&[
            "id",
            "patient_id",
            "subject",
            "status",
            "program_processing_status",
            "requester_employee",
            "requester_legal_entity",
            "used_by_employee",
            "used_by_legal_entity",
            "status_reason",
            "explanatory_letter",
            "status_history",
            "signed_content_links",
            "inserted_at",
            "inserted_by",
            "updated_at",
            "updated_by",
        ]),
        released_by: Vec::new(),
    })
}

fn merge_request(i: usize, v: &Value) -> anyhow::Result<MergeRequestRecord> {
    let f = Fields::new("merge_requests", i, v)?;
    let inserted_at = f.time("inserted_at", now())?;
    let inserted_by = f.uuid("inserted_by")?;
    Ok(MergeRequestRecord {
        id: f.uuid("id")?,
        master_person_id: f.uuid("master_person_id")?,
        merge_person_id: f.uuid("merge_person_id")?,
        status: f.parse("status")?,
        legal_entity_id: f.uuid("legal_entity_id")?,
        inserted_by,
        inserted_at,
        updated_by: f.opt_uuid("updated_by")?.unwrap_or(inserted_by),
        updated_at: f.time("updated_at", inserted_at)?,
        other: f.other(&[
            "id",
            "master_person_id",
            "merge_person_id",
            "status",
            "legal_entity_id",
            "inserted_by",
            "inserted_at",
            "updated_by",
            "updated_at",
        ]),
    })
}

fn device_dispense(i: usize, v: &Value) -> anyhow::Result<DeviceDispenseRecord> {
    let f = Fields::new("device_dispenses", i, v)?;
    let patient_id = match f.opt_uuid("patient_id")? {
        Some(id) => id,
        None => f.uuid("subject")?,
    };
    let performer_legal_entity = match f.opt_uuid("performer_legal_entity_id")? {
        Some(id) => id,
        None => f.uuid("performer_legal_entity")?,
    };
    let inserted_at = f.time("inserted_at", now())?;
    Ok(DeviceDispenseRecord {
        id: f.uuid("id")?,
        patient_id,
        status: f.parse("status")?,
        performer_legal_entity,
        performer: f.opt_uuid("performer")?,
        inserted_at,
        inserted_by: f.opt_uuid("inserted_by")?,
        updated_at: f.time("updated_at", inserted_at)?,
        updated_by: f.opt_uuid("updated_by")?,
        other: f.other(&[
            "id",
            "patient_id",
            "subject",
            "status",
            "performer_legal_entity",
            "performer_legal_entity_id",
            "performer",
            "inserted_at",
            "inserted_by",
            "updated_at",
            "updated_by",
        ]),
    })
}

/// An approval; its owning legal entity is `legal_entity_id`, else that of its `granted_to`
/// employee (from this file, or resolved from the registry by [`resolve_legal_entities`]).
fn approval(
    i: usize,
    v: &Value,
    employee_le: &HashMap<Uuid, Uuid>,
) -> anyhow::Result<ApprovalRecord> {
    let f = Fields::new("approvals", i, v)?;
    let granted_to = f.opt_uuid("granted_to")?;
    let legal_entity_id = f
        .opt_uuid("legal_entity_id")?
        .or_else(|| granted_to.and_then(|e| employee_le.get(&e).copied()));
    let inserted_at = f.time("inserted_at", now())?;
    Ok(ApprovalRecord {
        id: f.uuid("id")?,
        patient_id: f.uuid("patient_id")?,
        status: f.parse("status")?,
        reason_service_request: f.opt_uuid("reason")?,
        granted_to,
        legal_entity_id,
        authorize_with: f.opt_uuid("authorize_with")?,
        inserted_at,
        inserted_by: f.opt_uuid("inserted_by")?,
        updated_at: f.time("updated_at", inserted_at)?,
        updated_by: f.opt_uuid("updated_by")?,
        otp: None,
        other: f.other(&[
            "id",
            "patient_id",
            "status",
            "reason",
            "granted_to",
            "legal_entity_id",
            "authorize_with",
            "inserted_at",
            "inserted_by",
            "updated_at",
            "updated_by",
        ]),
    })
}

/// Approvals whose employee is not in the file take the legal entity the registry knows for it.
async fn resolve_legal_entities(db: &Db, approvals: &mut [ApprovalRecord]) -> anyhow::Result<()> {
    let reference = crate::reference::Reference::new(db.clone());
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
        .map(|(i, v)| service_request(i, v))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let merge_requests = list(file, "merge_requests")
        .iter()
        .enumerate()
        .map(|(i, v)| merge_request(i, v))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let device_dispenses = list(file, "device_dispenses")
        .iter()
        .enumerate()
        .map(|(i, v)| device_dispense(i, v))
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
        .map(|(i, v)| approval(i, v, &employee_le))
        .collect::<anyhow::Result<Vec<_>>>()?;
    resolve_legal_entities(db, &mut approvals).await?;
    let activities = list(file, "care_plan_activities")
        .iter()
        .enumerate()
        .map(|(i, v)| care_plan_activities::care_plan_activity(i, v))
        .collect::<anyhow::Result<Vec<_>>>()?;

    // Everything is valid: only now is anything written.
    let mut report = ImportReport {
        reference_rows: import_reference(db, file).await?,
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
