//! What a successful action stored, as the suites check it: the one event it appended to the
//! entity's log (or the several it appended in
//! order), and single values of the entity's current state.

use serde_json::Value;
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
}
