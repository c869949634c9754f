//! What a successful action stored, as the suites check it: the one event it appended to the
//! entity's log (or the several it appended in order), the status change it recorded in the
//! history and the feed, and single values of the entity's current state.

use serde_json::{json, Value};
use uuid::Uuid;

use super::app::TestApp;

impl TestApp {
    /// Asserts the log of `id` is its first event and one more, `event_type`, appended by `user`
    /// acting for `client` (the token's user and legal entity); answers that event.
    pub async fn assert_one_event_appended(
        &self,
        id: Uuid,
        event_type: &str,
        user: Uuid,
        client: Uuid,
    ) -> Value {
        let mut events = self.log(id).await;
        assert_eq!(events.len(), 2, "{events:#?}");
        let event = events.pop().expect("the appended event");
        assert_eq!(event["sequence"], 2, "{event:#}");
        assert_eq!(event["event_type"], event_type, "{event:#}");
        assert_eq!(event["metadata"]["user_id"], user.to_string(), "{event:#}");
        assert_eq!(
            event["metadata"]["client_id"],
            client.to_string(),
            "{event:#}"
        );
        event
    }

    /// One column of the current state of `id` in `table`, which must hold it.
    pub async fn current_value(&self, table: &str, id: Uuid, column: &str) -> Value {
        let row = self
            .current(table, id)
            .await
            .unwrap_or_else(|| panic!("{id} is in {table}"));
        row[column].clone()
    }

    /// Asserts the log of `id` is its first event followed by `n` events `event_type`, with
    /// gapless sequences from 1 (none lost, none doubled); answers the whole log.
    pub async fn assert_appended_in_order(
        &self,
        id: Uuid,
        n: usize,
        event_type: &str,
    ) -> Vec<Value> {
        let log = self.log(id).await;
        let sequences: Vec<i64> = log
            .iter()
            .map(|e| e["sequence"].as_i64().expect("a sequence"))
            .collect();
        assert_eq!(sequences, (1..=n as i64 + 1).collect::<Vec<i64>>());
        assert!(
            log[1..].iter().all(|e| e["event_type"] == event_type),
            "{log:#?}"
        );
        log
    }

    /// Asserts the change of `attribute` from `old` to `new` by `by`, made by the event at
    /// sequence 2 (the first after the import), is the last row of the status history of `id`
    /// and the entity's one feed record (which names its `entity_type`, e.g. `DeviceDispense`);
    /// answers the whole history.
    pub async fn assert_status_changed(
        &self,
        id: Uuid,
        entity_type: &str,
        (attribute, old, new): (&str, &str, &str),
        by: Uuid,
    ) -> Vec<Value> {
        let history = self.status_history(id).await;
        assert_eq!(
            history.last(),
            Some(
                &json!({ "sequence": 2, "attribute": attribute, "old_value": old, "new_value": new, "changed_by": by })
            ),
            "{history:#?}"
        );
        let feed = self.feed(id).await;
        assert_eq!(
            feed,
            [json!({
                "event_type": "StatusChangeEvent",
                "entity_type": entity_type,
                "entity_id": id,
                "properties": { attribute: { "new_value": new } },
                "changed_by": by
            })]
        );
        history
    }
}
