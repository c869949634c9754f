//! Shapes shared by the aggregates: eHealth resource references and the import rule.

use serde_json::{json, Map, Value};
use uuid::Uuid;

/// The version written with every event; bump it together with an upcaster when a payload changes.
pub const EVENT_VERSION: &str = "1.0";

/// Renders an eHealth resource reference:
/// `{identifier:{type:{coding:[{system:"eHealth/resources",code}]},value}}`.
pub fn reference(code: &str, id: Uuid) -> Value {
    json!({
        "identifier": {
            "type": { "coding": [ { "system": "eHealth/resources", "code": code } ] },
            "value": id.to_string()
        }
    })
}

/// The eHealth view of a record: the imported fields it keeps verbatim (`other`), with the fields
/// it types written over them.
pub(crate) fn overlay<'a>(
    other: &Map<String, Value>,
    typed: impl IntoIterator<Item = (&'a str, Value)>,
) -> Map<String, Value> {
    let mut doc = other.clone();
    doc.extend(typed.into_iter().map(|(k, v)| (k.to_string(), v)));
    doc
}

/// Renders an optional reference, `null` when absent.
pub fn optional_reference(code: &str, id: Option<Uuid>) -> Value {
    id.map_or(Value::Null, |id| reference(code, id))
}

/// Reads a reference given either as a bare id string or in eHealth's identifier form.
/// `Ok(None)` for an absent or `null` value; `Err` with a reason for anything else.
pub fn parse_reference(value: Option<&Value>) -> Result<Option<Uuid>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Uuid::parse_str(s)
            .map(Some)
            .map_err(|_| format!("'{s}' is not a uuid")),
        Some(v @ Value::Object(_)) => {
            let raw = v
                .pointer("/identifier/value")
                .and_then(Value::as_str)
                .ok_or_else(|| "reference has no identifier.value".to_string())?;
            Uuid::parse_str(raw)
                .map(Some)
                .map_err(|_| format!("'{raw}' is not a uuid"))
        }
        Some(other) => Err(format!("expected a reference, got {other}")),
    }
}

/// Masks a phone number the way eHealth renders `authentication_method_current.number`:
/// the first 6 characters, five stars, the last 2.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}*****{tail}")
}

/// An aggregate that holds one record, `None` until an import creates it; `record_aggregate!`
/// implements it for every aggregate of this crate.
pub(crate) trait RecordAggregate: cqrs_es::Aggregate + Default {
    type Record;

    /// The event that creates the entity from an imported record.
    fn imported(record: Box<Self::Record>) -> Self::Event;

    fn record(&self) -> Option<&Self::Record>;

    /// The import rule every aggregate shares: importing an entity that does not exist records
    /// `record` as given; importing one that exists writes nothing, even when the file changed it.
    fn import(&self, record: Box<Self::Record>) -> Option<Self::Event> {
        self.record().is_none().then(|| Self::imported(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_in_both_forms_and_render_in_ehealth_form() {
        let id = Uuid::new_v4();
        let bare = json!(id.to_string());
        let full = reference("employee", id);
        assert_eq!(parse_reference(Some(&bare)).unwrap(), Some(id));
        assert_eq!(parse_reference(Some(&full)).unwrap(), Some(id));
        assert_eq!(parse_reference(Some(&Value::Null)).unwrap(), None);
        assert!(parse_reference(Some(&json!("nope"))).is_err());
        assert!(parse_reference(Some(&json!(5))).is_err());
    }

    #[test]
    fn phones_are_masked_like_ehealth() {
        assert_eq!(mask_phone("+380931234585"), "+38093*****85");
    }
}
