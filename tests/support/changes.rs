//! What a successful action stored, as the suites check it: the one event it appended to the
//! entity's log, and single values of the entity's current state.

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
}
