//! The Event Manager record of a change: its deterministic id and its `properties`.

use uuid::Uuid;

use super::StatusChange;

/// Namespace for the deterministic ids of feed records, so a rebuild reproduces the same ids.
pub(crate) const FEED_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_0f9e_8c4b_4a53_9a8e_5e2c_3f10_7b21);

/// The deterministic id of the feed record of an entity's event `sequence`: a v5 uuid of
/// `<entity_type>/<entity_id>/<sequence>` in [`FEED_NAMESPACE`].
pub(super) fn feed_id(entity_type: &str, entity_id: Uuid, sequence: i64) -> Uuid {
    use std::io::Write;
    let mut name = [0u8; 128];
    let mut cursor = std::io::Cursor::new(&mut name[..]);
    let written = write!(
        cursor,
        "{entity_type}/{}/{sequence}",
        entity_id.hyphenated()
    );
    let len = cursor.position() as usize;
    match written {
        Ok(()) => Uuid::new_v5(&FEED_NAMESPACE, &name[..len]),
        // A name longer than the buffer (an entity type we do not have): the same id, slower.
        Err(_) => Uuid::new_v5(
            &FEED_NAMESPACE,
            format!("{entity_type}/{entity_id}/{sequence}").as_bytes(),
        ),
    }
}

/// The feed record's `properties`: `{"<attribute>":{"new_value":<value or null>}, …}`, keys in
/// byte order, each key once with its last value (the JSON text of a `serde_json::Map` of
/// those entries, written directly).
pub(super) fn properties(changes: &[StatusChange]) -> String {
    let mut order: Vec<&StatusChange> = Vec::with_capacity(changes.len());
    for change in changes {
        match order.iter().position(|c| c.attribute == change.attribute) {
            Some(i) => order[i] = change,
            None => order.push(change),
        }
    }
    order.sort_by(|a, b| a.attribute.cmp(b.attribute));
    let mut out = Vec::with_capacity(48 * order.len() + 2);
    out.push(b'{');
    for (i, change) in order.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, change.attribute);
        out.extend_from_slice(b":{\"new_value\":");
        let _ = serde_json::to_writer(&mut out, &change.new_value);
        out.push(b'}');
    }
    out.push(b'}');
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `push` computed with a `serde_json::Map` before it wrote the JSON itself.
    fn properties_as_a_map(changes: &[StatusChange]) -> String {
        let mut properties = serde_json::Map::new();
        for change in changes {
            properties.insert(
                change.attribute.to_string(),
                serde_json::json!({ "new_value": change.new_value }),
            );
        }
        serde_json::Value::Object(properties).to_string()
    }

    #[test]
    fn feed_properties_and_ids_are_those_of_the_json_map_and_the_formatted_name() {
        let change = |attribute, new_value| StatusChange {
            attribute,
            old_value: None,
            new_value,
        };
        let cases: Vec<Vec<StatusChange>> = vec![
            vec![change("status", Some("recalled"))],
            vec![
                change("status", Some("active")),
                change("program_processing_status", Some("in_queue")),
            ],
            vec![change("status", None)],
            vec![change("status", Some("a\"b\\c\u{1}é"))],
            vec![change("status", Some("x")), change("status", Some("y"))],
        ];
        for changes in &cases {
            assert_eq!(properties(changes), properties_as_a_map(changes));
        }
        for (entity_type, sequence) in [("ServiceRequest", 2), ("Approval", i64::MAX), ("X", -1)] {
            let id = Uuid::from_u128(0xbe00_0000_0000_4000_8000_0000_0000_4001);
            let name = format!("{entity_type}/{id}/{sequence}");
            assert_eq!(
                feed_id(entity_type, id, sequence),
                Uuid::new_v5(&FEED_NAMESPACE, name.as_bytes())
            );
        }
        let long = "T".repeat(200);
        assert_eq!(
            feed_id(&long, Uuid::nil(), 1),
            Uuid::new_v5(
                &FEED_NAMESPACE,
                format!("{long}/{}/1", Uuid::nil()).as_bytes()
            )
        );
    }
}
