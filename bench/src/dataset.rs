//! The data set the load runs on: one legal entity, a doctor and a specialist, one patient, and
//! fresh entities for every one-shot action (a service request can be released once, a dispense
//! stopped once…), entities whose action breaks a rule (to measure the spec's 409s), and the
//! release scenario's pool of service requests. It is loaded as an operator loads one: written
//! as import files and passed to `ehealth-es import`.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};
use uuid::Uuid;

pub const LE: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_1001);
pub const U_DOCTOR: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_2001);
pub const E_DOCTOR: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_3001);
pub const U_SPECIALIST: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_2002);
pub const E_SPECIALIST: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_3002);
pub const PATIENT: Uuid = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_4001);
pub const DOCTOR_TAX_ID: &str = "1234567890";

/// The kinds of entity, each in its own id range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// active, in_queue, used by LE: releasable once.
    QueuedServiceRequest = 1,
    /// active: recallable once.
    ActiveServiceRequest = 2,
    /// program_processing_status new: a release answers 409.
    NewServiceRequest = 3,
    InProgressDispense = 4,
    /// completed: a stop answers 409.
    CompletedDispense = 5,
    NewMergeRequest = 6,
    /// new approvals: resendable any number of times.
    Approval = 7,
    /// active, in_queue, used by LE: the release scenario's pool, each released once.
    PoolServiceRequest = 8,
}

/// The one-shot entities (`0..size` of a kind) handed out so far, per action, across a load's
/// clients: each is acted on once.
#[derive(Default)]
pub struct OneShots {
    pub release: Handed,
    pub stop: Handed,
    pub reject: Handed,
}

/// How many of one kind's one-shot entities were handed out (taken, and possibly more).
#[derive(Default)]
pub struct Handed(pub AtomicUsize);

impl Handed {
    /// The next entity of `0..size`, if any is left.
    pub fn take(&self, size: usize) -> Option<usize> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        (n < size).then_some(n)
    }
}

/// Index of the first of the two dispenses the hot-entity case contends on.
pub const HOT_DISPENSE: usize = 1_000_000;

pub fn id(kind: Kind, n: usize) -> Uuid {
    Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_0000 | ((kind as u128) << 40) | n as u128)
}

/// How many entities of each kind.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub per_action: usize,
    pub recalls: usize,
    pub approvals: usize,
    pub violations: usize,
    /// Service requests of the release scenario's pool.
    pub pool: usize,
}

/// A service request with the fields eHealth's carry (a recall signs them back, and its
/// content schema requires them), plus `extra`.
fn service_request(id: Uuid, extra: Value) -> Value {
    let mut sr = json!({
        "id": id, "patient_id": PATIENT, "status": "active", "intent": "order",
        "category": { "coding": [ { "system": "eHealth/SNOMED/service_request_categories", "code": "409063005" } ] },
        "code": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "service" } ] },
                  "value": "8b5e7f3a-5d2b-4e0e-9a7f-0c3f1c1d2e3f" } },
        "context": { "identifier": { "type": { "coding": [ { "system": "eHealth/resources", "code": "encounter" } ] },
                     "value": "2f6a2d1c-0b8e-4c55-9a55-8f7d8a9c0b1e" } },
        "authored_on": "2026-01-01T00:00:00Z", "expiration_date": "2099-01-01T00:00:00Z",
        "requester_employee": E_DOCTOR, "requester_legal_entity": LE,
        "requisition": "BENCH-0001", "note": "Консультація", "patient_instruction": null,
        "priority": "routine", "reason_reference": [],
        "inserted_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        sr[k] = v.clone();
    }
    sr
}

fn reference() -> Value {
    json!({
        "config": { "me_allowed_transactions_le_types": ["PRIMARY_CARE", "OUTPATIENT", "EMERGENCY"] },
        "dictionaries": { "eHealth/service_request_recall_reasons": ["1", "2"] },
        "legal_entities": [ { "id": LE, "type": "OUTPATIENT", "status": "ACTIVE", "nhs_verified": true } ],
        "parties": [
            { "id": Uuid::from_u128(1), "tax_id": DOCTOR_TAX_ID },
            { "id": Uuid::from_u128(2), "tax_id": "2222222222" }
        ],
        "users": [ { "id": U_DOCTOR, "party_id": Uuid::from_u128(1) }, { "id": U_SPECIALIST, "party_id": Uuid::from_u128(2) } ],
        "employees": [
            { "id": E_DOCTOR, "party_id": Uuid::from_u128(1), "legal_entity_id": LE, "employee_type": "DOCTOR", "status": "APPROVED" },
            { "id": E_SPECIALIST, "party_id": Uuid::from_u128(2), "legal_entity_id": LE, "employee_type": "SPECIALIST", "status": "APPROVED" }
        ],
        "persons": [ { "id": PATIENT, "status": "active", "authentication_methods": [ { "type": "OTP", "phone_number": "+380931234585" } ] } ]
    })
}

/// Every entity of the data set as import-file objects, by list name.
fn entities(sizes: Sizes) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for n in 0..sizes.per_action {
        out.push((
            "service_requests",
            service_request(
                id(Kind::QueuedServiceRequest, n),
                json!({ "program_processing_status": "in_queue", "used_by_employee": E_DOCTOR, "used_by_legal_entity": LE }),
            ),
        ));
        out.push((
            "device_dispenses",
            json!({ "id": id(Kind::InProgressDispense, n), "patient_id": PATIENT, "status": "in_progress", "performer_legal_entity": LE }),
        ));
        out.push((
            "merge_requests",
            json!({ "id": id(Kind::NewMergeRequest, n), "master_person_id": PATIENT, "merge_person_id": Uuid::from_u128(9),
                    "status": "NEW", "legal_entity_id": LE, "inserted_by": U_SPECIALIST, "inserted_at": "2026-01-01T00:00:00Z" }),
        ));
    }
    for n in 0..sizes.recalls {
        out.push((
            "service_requests",
            service_request(id(Kind::ActiveServiceRequest, n), json!({})),
        ));
    }
    for n in 0..sizes.violations {
        out.push((
            "service_requests",
            service_request(
                id(Kind::NewServiceRequest, n),
                json!({ "program_processing_status": "new" }),
            ),
        ));
        out.push((
            "device_dispenses",
            json!({ "id": id(Kind::CompletedDispense, n), "patient_id": PATIENT, "status": "completed", "performer_legal_entity": LE }),
        ));
    }
    // The hot-entity case stops these two dispenses from every client at once.
    for n in [HOT_DISPENSE, HOT_DISPENSE + 1] {
        out.push((
            "device_dispenses",
            json!({ "id": id(Kind::InProgressDispense, n), "patient_id": PATIENT, "status": "in_progress", "performer_legal_entity": LE }),
        ));
    }
    for n in 0..sizes.approvals {
        out.push((
            "approvals",
            json!({ "id": id(Kind::Approval, n), "patient_id": PATIENT, "status": "new", "granted_to": E_DOCTOR, "legal_entity_id": LE }),
        ));
    }
    for n in 0..sizes.pool {
        out.push((
            "service_requests",
            service_request(
                id(Kind::PoolServiceRequest, n),
                json!({ "program_processing_status": "in_queue", "used_by_employee": E_DOCTOR, "used_by_legal_entity": LE,
                        "requisition": format!("BENCH-{n:07}") }),
            ),
        ));
    }
    out
}

/// One import file holding `entities`, by list name.
fn import_file(entities: &[(&'static str, Value)]) -> Value {
    let mut file = serde_json::Map::new();
    for (list, entity) in entities {
        file.entry(*list)
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .expect("a list")
            .push(entity.clone());
    }
    Value::Object(file)
}

/// Runs `ehealth-es import FILE`; returns the entities it created.
async fn run_import(binary: &Path, url: &str, file: &Path) -> anyhow::Result<usize> {
    let output = tokio::process::Command::new(binary)
        .arg("import")
        .arg(file)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "ehealth-es import {} failed: {stdout}{}",
        file.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    created(&stdout)
        .ok_or_else(|| anyhow::anyhow!("unexpected output of ehealth-es import: {stdout}"))
}

/// The entities created, from `imported: 7 reference rows, 120 entities created, 0 already present`.
fn created(stdout: &str) -> Option<usize> {
    let line = stdout.lines().find(|l| l.starts_with("imported:"))?;
    let before = &line[..line.find(" entities created")?];
    before.split_whitespace().last()?.parse().ok()
}

/// Loads the data set as an operator would: writes it as import files in `dir` (the reference
/// data, then the entities in `parallel` parts) and runs `ehealth-es import` on the reference
/// file, then on the parts, all at once. Returns how many entities were created.
pub async fn import(
    binary: &Path,
    url: &str,
    dir: &Path,
    sizes: Sizes,
    parallel: usize,
) -> anyhow::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let reference_file = dir.join("import-reference.json");
    std::fs::write(&reference_file, serde_json::to_vec(&reference())?)?;
    run_import(binary, url, &reference_file).await?;
    let all = entities(sizes);
    let chunk = all.len().div_ceil(parallel.max(1)).max(1);
    let mut tasks = Vec::new();
    for (n, slice) in all.chunks(chunk).enumerate() {
        let file = dir.join(format!("import-part-{n}.json"));
        std::fs::write(&file, serde_json::to_vec(&import_file(slice))?)?;
        let (binary, url) = (binary.to_path_buf(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let created = run_import(&binary, &url, &file).await;
            let _ = std::fs::remove_file(&file);
            created
        }));
    }
    let mut created = 0;
    for t in tasks {
        created += t.await??;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_of_created_entities_is_read_from_the_import_line() {
        let out = "imported: 7 reference rows, 120 entities created, 3 already present\n";
        assert_eq!(created(out), Some(120));
        assert_eq!(created("something else"), None);
    }

    #[test]
    fn ids_of_different_kinds_never_meet() {
        assert_ne!(
            id(Kind::QueuedServiceRequest, 5),
            id(Kind::PoolServiceRequest, 5)
        );
        assert_eq!(
            id(Kind::PoolServiceRequest, 7),
            id(Kind::PoolServiceRequest, 7)
        );
    }

    #[test]
    fn every_entity_goes_to_exactly_one_import_file_list() {
        let sizes = Sizes {
            per_action: 3,
            recalls: 2,
            approvals: 4,
            violations: 1,
            pool: 5,
        };
        let all = entities(sizes);
        let file = import_file(&all);
        let listed: usize = file
            .as_object()
            .unwrap()
            .values()
            .map(|l| l.as_array().unwrap().len())
            .sum();
        assert_eq!(listed, all.len());
        assert_eq!(
            file["service_requests"].as_array().unwrap().len(),
            3 + 2 + 1 + 5
        );
    }
}
