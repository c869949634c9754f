//! The reference data of an import file (`config`, `dictionaries`, `legal_entities`, `parties`,
//! `users`, `employees`, `persons`), validated into rows before anything is written.

use serde_json::Value;

use super::fields::{records, Fields};
use crate::reference::ALLOWED_LE_TYPES_SETTING;
use crate::store::ReferenceRow;

/// A party's `verification_status`, as eHealth's registry keeps it.
const PARTY_VERIFICATION_STATUSES: [&str; 3] = ["VERIFIED", "VERIFICATION_NEEDED", "NOT_VERIFIED"];
/// Validates the reference data of the file (nothing is written).
pub(super) fn reference_rows(file: &Value) -> anyhow::Result<Vec<ReferenceRow>> {
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
    rows.extend(records(file, "legal_entities", legal_entity)?);
    rows.extend(records(file, "parties", party)?);
    rows.extend(records(file, "users", user)?);
    rows.extend(records(file, "employees", employee)?);
    rows.extend(records(file, "persons", person)?);
    Ok(rows)
}

fn legal_entity(f: &Fields) -> anyhow::Result<ReferenceRow> {
    Ok(ReferenceRow::LegalEntity {
        id: f.uuid("id")?,
        kind: f.string("type")?,
        status: f.string("status")?,
        nhs_verified: f.opt::<bool>("nhs_verified")?.unwrap_or(false),
        edrpou: f.opt::<String>("edrpou")?,
    })
}

fn party(f: &Fields) -> anyhow::Result<ReferenceRow> {
    let verification_status = f.opt::<String>("verification_status")?;
    if let Some(status) = &verification_status {
        if !PARTY_VERIFICATION_STATUSES.contains(&status.as_str()) {
            return Err(f.err(
                "verification_status",
                format!("expected one of {}", PARTY_VERIFICATION_STATUSES.join(", ")),
            ));
        }
    }
    Ok(ReferenceRow::Party {
        id: f.uuid("id")?,
        tax_id: f.opt::<String>("tax_id")?,
        first_name: f.opt::<String>("first_name")?,
        last_name: f.opt::<String>("last_name")?,
        verification_status,
        death_date: f.opt::<chrono::NaiveDate>("death_date")?,
    })
}

fn user(f: &Fields) -> anyhow::Result<ReferenceRow> {
    Ok(ReferenceRow::User {
        id: f.uuid("id")?,
        party_id: f.uuid("party_id")?,
    })
}

fn employee(f: &Fields) -> anyhow::Result<ReferenceRow> {
    Ok(ReferenceRow::Employee {
        id: f.uuid("id")?,
        party_id: f.uuid("party_id")?,
        legal_entity_id: f.uuid("legal_entity_id")?,
        employee_type: f.string("employee_type")?,
        status: f.string("status")?,
    })
}

fn person(f: &Fields) -> anyhow::Result<ReferenceRow> {
    // Validated here so a bad method is reported at import, not at the first resend.
    f.opt::<Vec<crate::reference::AuthMethod>>("authentication_methods")?;
    Ok(ReferenceRow::Person {
        id: f.uuid("id")?,
        status: f.string("status")?,
        authentication_methods: f
            .obj
            .get("authentication_methods")
            .cloned()
            .unwrap_or(Value::Array(vec![])),
    })
}
