//! `care_plan_activities` of the import file: each becomes a CarePlanActivity through its Import
//! command. References may be bare ids or eHealth's identifier form; each has an alias that is
//! the name the read endpoint renders it under, so a rendered activity imports as it is.

use ehealth_aggregates::care_plan_activity::{CarePlanActivityRecord, Quantity};

use super::fields::Fields;
use crate::api::actions::now;

/// `(field, alias)` of each reference.
const REFERENCES: [(&str, &str); 3] = [
    ("care_plan_id", "care_plan"),
    ("patient_id", "subject"),
    ("legal_entity_id", "managing_organization"),
];

pub(super) fn care_plan_activity(f: &Fields) -> anyhow::Result<CarePlanActivityRecord> {
    let [care_plan_id, patient_id, legal_entity_id] =
        REFERENCES.map(|(field, alias)| match f.opt_uuid(field) {
            Ok(Some(id)) => Ok(id),
            Ok(None) => f
                .opt_uuid(alias)?
                .ok_or_else(|| f.err(field, "is required")),
            Err(e) => Err(e),
        });
    let quantity: Option<Quantity> = f.opt("quantity")?;
    // eHealth sets the remaining quantity to the planned one when an activity is created.
    let remaining_quantity = match f.opt("remaining_quantity")? {
        Some(remaining) => Some(remaining),
        None => quantity.clone(),
    };
    let inserted_at = f.time("inserted_at", now())?;
    let record = CarePlanActivityRecord {
        id: f.uuid("id")?,
        care_plan_id: care_plan_id?,
        patient_id: patient_id?,
        status: f.parse("status")?,
        quantity,
        remaining_quantity,
        legal_entity_id: legal_entity_id?,
        inserted_at,
        inserted_by: f.opt_uuid("inserted_by")?,
        updated_at: f.time("updated_at", inserted_at)?,
        updated_by: f.opt_uuid("updated_by")?,
        returned_by: Vec::new(),
        changed_by_legal_entities: Vec::new(),
        other: f.other(&[
            "care_plan_id",
            "care_plan",
            "patient_id",
            "subject",
            "legal_entity_id",
            "managing_organization",
            "status",
            "quantity",
            "remaining_quantity",
        ]),
    };
    record
        .validate()
        .map_err(|why| anyhow::anyhow!("{}: {why}", f.what))?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ehealth_aggregates::care_plan_activity::CarePlanActivityStatus;
    use ehealth_aggregates::common::reference;
    use serde_json::{json, Value};
    use uuid::Uuid;

    const ID: Uuid = Uuid::from_u128(0xca00_0000_0000_4000_8000_0000_0000_0001);
    const CARE_PLAN: Uuid = Uuid::from_u128(0xc900_0000_0000_4000_8000_0000_0000_0001);
    const PATIENT: Uuid = Uuid::from_u128(0xa000_0000_0000_4000_8000_0000_0000_0001);
    const LE: Uuid = Uuid::from_u128(0x1e00_0000_0000_4000_8000_0000_0000_0001);

    /// The activity read from `entry` as the import file's entry number `index`.
    fn read(index: usize, entry: &Value) -> anyhow::Result<CarePlanActivityRecord> {
        care_plan_activity(&Fields::new("care_plan_activities", index, entry)?)
    }

    fn entry() -> Value {
        json!({
            "id": ID, "care_plan_id": CARE_PLAN, "patient_id": PATIENT, "status": "scheduled",
            "legal_entity_id": LE, "quantity": { "value": 10, "code": "pc" },
            "remaining_quantity": { "value": 7.5, "code": "pc" }, "kind": "service_request"
        })
    }

    fn with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
        let mut v = entry();
        edit(v.as_object_mut().unwrap());
        v
    }

    #[test]
    fn an_activity_is_read_with_its_references_quantities_and_other_fields() {
        let a = read(0, &entry()).unwrap();
        assert_eq!(
            (a.id, a.care_plan_id, a.patient_id, a.legal_entity_id),
            (ID, CARE_PLAN, PATIENT, LE)
        );
        assert_eq!(a.status, CarePlanActivityStatus::Scheduled);
        assert_eq!(a.quantity.unwrap().value, "10".parse().unwrap());
        assert_eq!(a.remaining_quantity.unwrap().value, "7.5".parse().unwrap());
        assert_eq!(a.other.keys().collect::<Vec<_>>(), vec!["kind"]);
    }

    #[test]
    fn references_may_be_given_in_the_identifier_form_under_their_rendered_names() {
        let rendered = with(|m| {
            m.remove("care_plan_id");
            m.remove("patient_id");
            m.remove("legal_entity_id");
            m.insert("care_plan".into(), reference("care_plan", CARE_PLAN));
            m.insert("subject".into(), reference("patient", PATIENT));
            m.insert(
                "managing_organization".into(),
                reference("legal_entity", LE),
            );
        });
        let a = read(0, &rendered).unwrap();
        assert_eq!(
            (a.care_plan_id, a.patient_id, a.legal_entity_id),
            (CARE_PLAN, PATIENT, LE)
        );
        assert!(a.other.get("care_plan").is_none());
    }

    #[test]
    fn without_a_remaining_quantity_the_whole_quantity_remains() {
        let a = read(
            0,
            &with(|m| {
                m.remove("remaining_quantity");
            }),
        )
        .unwrap();
        assert_eq!(a.remaining_quantity, a.quantity);
    }

    #[test]
    fn a_bad_activity_is_refused_naming_its_entry() {
        let cases = [
            (
                with(|m| {
                    m.remove("legal_entity_id");
                }),
                "care_plan_activities[3].legal_entity_id: is required",
            ),
            (
                with(|m| {
                    m.insert("status".into(), json!("done"));
                }),
                "care_plan_activities[3].status: unknown variant `done`",
            ),
            (
                with(|m| {
                    m.insert("quantity".into(), json!({ "value": "x" }));
                }),
                "care_plan_activities[3].quantity: 'x' is not a decimal number",
            ),
            (
                with(|m| {
                    m.insert("remaining_quantity".into(), json!({ "value": 11 }));
                }),
                "care_plan_activities[3]: remaining_quantity.value must not exceed quantity.value",
            ),
            (
                with(|m| {
                    m.insert("patient_id".into(), json!("nope"));
                }),
                "care_plan_activities[3].patient_id: 'nope' is not a uuid",
            ),
        ];
        for (entry, expected) in cases {
            let err = read(3, &entry).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{err}");
        }
    }
}
