//! Status history and the Event Manager feed: one record per change of a tracked attribute
//! (`status`, and `program_processing_status` of service requests).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

/// The Event Manager entity types, as eHealth names them.
pub const ENTITY_TYPES: [&str; 4] = [
    "ServiceRequest",
    "MergeRequest",
    "DeviceDispense",
    "Approval",
];

/// Namespace for the deterministic ids of feed records, so a rebuild reproduces the same ids.
const FEED_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_0f9e_8c4b_4a53_9a8e_5e2c_3f10_7b21);

#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub attribute: &'static str,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

/// The tracked attributes that differ between two snapshots.
pub fn changes(
    before: &[(&'static str, Option<String>)],
    after: &[(&'static str, Option<String>)],
) -> Vec<StatusChange> {
    after
        .iter()
        .map(|(attribute, new_value)| {
            let old_value = before
                .iter()
                .find(|(a, _)| a == attribute)
                .and_then(|(_, v)| v.clone());
            StatusChange {
                attribute,
                old_value,
                new_value: new_value.clone(),
            }
        })
        .filter(|c| c.old_value != c.new_value)
        .collect()
}

pub struct ChangeRecord<'a> {
    pub entity_type: &'a str,
    pub entity_id: Uuid,
    pub sequence: i64,
    pub global_position: i64,
    pub changed_by: Option<Uuid>,
    pub changed_at: DateTime<Utc>,
    /// A creation is history, but not an Event Manager status change.
    pub creation: bool,
}

pub async fn record(
    conn: &mut PgConnection,
    rec: &ChangeRecord<'_>,
    changes: &[StatusChange],
) -> Result<(), sqlx::Error> {
    if changes.is_empty() {
        return Ok(());
    }
    for change in changes {
        sqlx::query(
            "INSERT INTO status_history (entity_type, entity_id, sequence, attribute, old_value, \
             new_value, global_position, changed_by, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(rec.entity_type)
        .bind(rec.entity_id)
        .bind(rec.sequence)
        .bind(change.attribute)
        .bind(&change.old_value)
        .bind(&change.new_value)
        .bind(rec.global_position)
        .bind(rec.changed_by)
        .bind(rec.changed_at)
        .execute(&mut *conn)
        .await?;
    }
    if rec.creation {
        return Ok(());
    }
    let mut properties = serde_json::Map::new();
    for change in changes {
        properties.insert(
            change.attribute.to_string(),
            json!({ "new_value": change.new_value }),
        );
    }
    let name = format!("{}/{}/{}", rec.entity_type, rec.entity_id, rec.sequence);
    sqlx::query(
        "INSERT INTO status_change_events (id, event_type, entity_type, entity_id, properties, \
         event_time, changed_by, global_position, sequence) \
         VALUES ($1, 'StatusChangeEvent', $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(Uuid::new_v5(&FEED_NAMESPACE, name.as_bytes()))
    .bind(rec.entity_type)
    .bind(rec.entity_id)
    .bind(serde_json::Value::Object(properties))
    .bind(rec.changed_at)
    .bind(rec.changed_by.unwrap_or(Uuid::nil()))
    .bind(rec.global_position)
    .bind(rec.sequence)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_attributes_that_differ_are_changes() {
        let before = [
            ("status", Some("active".into())),
            ("program_processing_status", Some("in_queue".into())),
        ];
        let after = [
            ("status", Some("active".into())),
            ("program_processing_status", Some("new".into())),
        ];
        let got = changes(&before, &after);
        assert_eq!(
            got,
            vec![StatusChange {
                attribute: "program_processing_status",
                old_value: Some("in_queue".into()),
                new_value: Some("new".into())
            }]
        );
    }

    #[test]
    fn a_creation_changes_every_present_attribute_from_nothing() {
        let got = changes(&[], &[("status", Some("NEW".into())), ("x", None)]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].old_value, None);
    }
}
