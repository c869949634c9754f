//! What the service stored, read straight from its database on either backend: the event log of
//! an entity, its current-state row, its status history and feed records, jobs, the SMS outbox
//! and media storage. Refusals are checked against these too (nothing appended, no job, no SMS).

use std::path::{Path, PathBuf};

use serde_json::Value;
use uuid::Uuid;

use super::app::TestApp;
use super::database::{self, select_by_id};

impl TestApp {
    /// Rows of a query as JSON objects, one uuid bind (`$1`); see [`database::select_by_id`].
    pub async fn rows(&self, sql: &str, id: Uuid) -> Vec<Value> {
        select_by_id(&self.db, sql, id).await
    }

    /// Rows of a query without binds as JSON objects, on either backend; see
    /// [`database::select`].
    pub async fn select(&self, sql: &str) -> Vec<Value> {
        database::select(&self.db, sql).await
    }

    /// The single integer a query answers (`count(*)` and the like), on either backend.
    pub async fn count(&self, sql: &str) -> i64 {
        database::count(&self.db, sql).await
    }

    /// The text values of a one-column query, on either backend.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        database::strings(&self.db, sql).await
    }

    /// The event log of one aggregate, in sequence order: `sequence`, `event_type`, `payload`,
    /// `metadata`, `global_position`.
    pub async fn log(&self, aggregate_id: Uuid) -> Vec<Value> {
        self.rows(
            "SELECT sequence, event_type, payload, metadata, global_position FROM events \
             WHERE aggregate_id = $1::text ORDER BY sequence",
            aggregate_id,
        )
        .await
    }

    /// How many events the whole log holds.
    pub async fn event_count(&self) -> i64 {
        self.count("SELECT count(*) FROM events").await
    }

    /// The current-state row of an entity in `table`.
    pub async fn current(&self, table: &str, id: Uuid) -> Option<Value> {
        self.rows(&format!("SELECT * FROM {table} WHERE id = $1"), id)
            .await
            .into_iter()
            .next()
    }

    pub async fn status_history(&self, entity_id: Uuid) -> Vec<Value> {
        self.rows(
            "SELECT sequence, attribute, old_value, new_value, changed_by FROM status_history \
             WHERE entity_id = $1 ORDER BY sequence, attribute",
            entity_id,
        )
        .await
    }

    /// The entity's records in the Event Manager's feed table, in feed order.
    pub async fn feed(&self, entity_id: Uuid) -> Vec<Value> {
        self.rows(
            "SELECT event_type, entity_type, entity_id, properties, changed_by FROM status_change_events \
             WHERE entity_id = $1 ORDER BY global_position",
            entity_id,
        )
        .await
    }

    /// The stored row of the job at `href` (or of the job id itself).
    pub async fn job_row(&self, href: &str) -> Value {
        let id = href.rsplit('/').next().unwrap_or_default();
        database::select(&self.db, &format!("SELECT * FROM jobs WHERE id = '{id}'"))
            .await
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no job {id}"))
    }

    /// How many jobs exist (a refusal must not leave one behind).
    pub async fn job_count(&self) -> i64 {
        self.count("SELECT count(*) FROM jobs").await
    }

    /// Every SMS in the outbox, oldest first.
    pub async fn sms(&self) -> Vec<Value> {
        self.select("SELECT * FROM sms_outbox ORDER BY created_at, source_position")
            .await
    }

    /// Every file under the media directory, sorted.
    pub fn media_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(self.media_dir.path(), &mut files);
        files.sort();
        files
    }
}
