//! What a recalled service request gives back: the care plan activity it is based on and its
//! quantity, read from the fields the import kept verbatim (`based_on`, `quantity`).

use serde_json::Value;
use uuid::Uuid;

use super::quantity::{Amount, Quantity};
use crate::service_request::ServiceRequestRecord;

/// The `identifier.type.coding[].code` values that name a care plan activity in a reference.
pub const ACTIVITY_CODES: [&str; 2] = ["activity", "care_plan_activity"];

/// A give-back: `quantity` goes back to `activity`.
#[derive(Debug, Clone, PartialEq)]
pub struct GiveBack {
    pub activity: Uuid,
    pub quantity: Quantity,
}

/// The give-back of a service request: `Ok(None)` when it is not based on an activity or has no
/// quantity; `Err` with the reason when the quantity cannot be read.
pub fn give_back(service_request: &ServiceRequestRecord) -> Result<Option<GiveBack>, String> {
    let Some(activity) = based_on_activity(service_request.other.get("based_on")) else {
        return Ok(None);
    };
    let quantity = match service_request.other.get("quantity") {
        None | Some(Value::Null) => return Ok(None),
        Some(value) => quantity(value)?,
    };
    Ok(Some(GiveBack { activity, quantity }))
}

/// The first reference of `based_on` (one reference or a list of them) that names an activity.
pub fn based_on_activity(based_on: Option<&Value>) -> Option<Uuid> {
    let references = match based_on? {
        Value::Array(items) => items.iter().collect::<Vec<_>>(),
        one => vec![one],
    };
    references.into_iter().find_map(|reference| {
        let codings = reference.pointer("/identifier/type/coding")?.as_array()?;
        let names_activity = codings.iter().any(|coding| {
            coding
                .get("code")
                .and_then(Value::as_str)
                .is_some_and(|code| ACTIVITY_CODES.contains(&code))
        });
        let id = reference.pointer("/identifier/value")?.as_str()?;
        names_activity.then(|| Uuid::parse_str(id).ok()).flatten()
    })
}

/// A service request's `quantity`: its `value` and, when given, its unit; other members are not
/// this service's to judge.
fn quantity(value: &Value) -> Result<Quantity, String> {
    let amount = value
        .get("value")
        .ok_or("quantity has no value")
        .and_then(|v| {
            serde_json::from_value::<Amount>(v.clone())
                .map_err(|_| "quantity.value is not a number")
        })?;
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(Quantity {
        value: amount,
        system: text("system"),
        code: text("code"),
        unit: text("unit"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::reference;
    use serde_json::json;

    const ACTIVITY: Uuid = Uuid::from_u128(0xca00_0000_0000_4000_8000_0000_0000_0001);

    #[test]
    fn the_activity_is_the_first_based_on_reference_coded_as_one() {
        let activity = reference("activity", ACTIVITY);
        let care_plan = reference("care_plan", Uuid::from_u128(9));
        assert_eq!(based_on_activity(Some(&activity)), Some(ACTIVITY));
        assert_eq!(
            based_on_activity(Some(&json!([care_plan, activity]))),
            Some(ACTIVITY)
        );
        assert_eq!(
            based_on_activity(Some(&reference("care_plan_activity", ACTIVITY))),
            Some(ACTIVITY)
        );
        assert_eq!(based_on_activity(Some(&care_plan)), None);
        assert_eq!(based_on_activity(Some(&json!(ACTIVITY.to_string()))), None);
        assert_eq!(based_on_activity(Some(&json!([]))), None);
        assert_eq!(based_on_activity(None), None);
        let not_a_uuid = json!({ "identifier": { "type": { "coding": [ { "code": "activity" } ] }, "value": "x" } });
        assert_eq!(based_on_activity(Some(&not_a_uuid)), None);
    }

    #[test]
    fn the_quantity_is_the_value_with_its_unit() {
        let q = quantity(&json!({ "value": 0.1, "system": "eHealth/ucum/units", "code": "pc", "comparator": "<" }))
            .unwrap();
        assert_eq!(q.value, "0.1".parse().unwrap());
        assert_eq!(q.code.as_deref(), Some("pc"));
        assert_eq!(
            quantity(&json!({ "unit": "pc" })).unwrap_err(),
            "quantity has no value"
        );
        assert_eq!(
            quantity(&json!({ "value": "many" })).unwrap_err(),
            "quantity.value is not a number"
        );
    }
}
