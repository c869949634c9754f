//! Status history and the Event Manager feed: one record per change of a tracked attribute
//! (`status`, and `program_processing_status` of service requests).
//!
//! [`changes`] and [`StatusRows::push`] are pure: the live path and a rebuild compute the same rows
//! from the same event, and write them with the same statements (those of the tables'
//! declarations).

mod feed;
mod sorted;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, SqliteConnection};
use uuid::Uuid;

use crate::rows::{PgQuery, Tables, WriteMode};
use crate::table::{write, Rows};
use crate::tables::{FeedRow, FeedRows, HistoryRow, HistoryRows};
#[cfg(test)]
pub(crate) use feed::FEED_NAMESPACE;
use feed::{feed_id, properties};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusChange {
    pub attribute: &'static str,
    pub old_value: Option<&'static str>,
    pub new_value: Option<&'static str>,
}

/// The tracked attributes of an entity and their values (the statuses' own names).
pub(crate) type Tracked = Vec<(&'static str, Option<&'static str>)>;

/// The tracked attributes that differ between two snapshots.
pub(crate) fn changes(
    before: &[(&'static str, Option<&'static str>)],
    after: &[(&'static str, Option<&'static str>)],
) -> Vec<StatusChange> {
    after
        .iter()
        .map(|&(attribute, new_value)| {
            let old_value = before
                .iter()
                .find(|(a, _)| *a == attribute)
                .and_then(|&(_, v)| v);
            StatusChange {
                attribute,
                old_value,
                new_value,
            }
        })
        .filter(|c| c.old_value != c.new_value)
        .collect()
}

pub(crate) struct ChangeRecord<'a> {
    pub entity_type: &'static str,
    pub entity_id: Uuid,
    pub sequence: i64,
    pub global_position: i64,
    pub changed_by: Option<Uuid>,
    pub changed_at: DateTime<Utc>,
    /// A creation is history, but not an Event Manager status change.
    pub creation: bool,
    pub changes: &'a [StatusChange],
}

/// `status_history` and `status_change_events` rows waiting to be written.
#[derive(Default)]
pub(crate) struct StatusRows {
    pub(crate) history: HistoryRows,
    pub(crate) feed: FeedRows,
}

impl StatusRows {
    /// The history rows of one event's changes, and its feed record unless it is a creation.
    pub(crate) fn push(&mut self, rec: &ChangeRecord<'_>) {
        if rec.changes.is_empty() {
            return;
        }
        for change in rec.changes {
            self.history.push(HistoryRow {
                entity_type: rec.entity_type,
                entity_id: rec.entity_id,
                sequence: rec.sequence,
                attribute: change.attribute,
                old_value: change.old_value,
                new_value: change.new_value,
                global_position: rec.global_position,
                changed_by: rec.changed_by,
                changed_at: rec.changed_at,
            });
        }
        if rec.creation {
            return;
        }
        self.feed.push(FeedRow {
            id: feed_id(rec.entity_type, rec.entity_id, rec.sequence),
            event_type: "StatusChangeEvent",
            entity_type: rec.entity_type,
            entity_id: rec.entity_id,
            properties: properties(rec.changes),
            event_time: rec.changed_at,
            changed_by: rec.changed_by.unwrap_or(Uuid::nil()),
            global_position: rec.global_position,
            sequence: rec.sequence,
        });
    }

    /// Rows waiting (history and feed together).
    pub(crate) fn len(&self) -> usize {
        self.history.len() + self.feed.len()
    }

    pub(crate) fn absorb(&mut self, other: &StatusRows) {
        self.history.absorb(&other.history);
        self.feed.absorb(&other.feed);
    }

    /// Writes the rows in chunks. Rows already present are left alone: they are keyed by
    /// `(entity, sequence[, attribute])`, so writing an event twice changes nothing. In
    /// [`WriteMode::Load`] (a rebuild's first, unindexed load) they are copied in instead.
    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        tables: &Tables,
        mode: WriteMode,
    ) -> Result<(), sqlx::Error> {
        write::write_pg(&self.history, conn, tables, mode).await?;
        write::write_pg(&self.feed, conn, tables, mode).await
    }

    /// The history and feed inserts of the live append statement, parameters from `*next`:
    /// the rows of [`write`](Self::write), each taking its event's global position from the
    /// statement's `ev` CTE, which assigns it. Always present, so the statement always has a CTE
    /// after its own.
    pub(crate) fn append_ctes(&self, next: &mut usize, ctes: &mut Vec<String>) {
        write::append_cte(&self.history, true, next, ctes);
        write::append_cte(&self.feed, true, next, ctes);
    }

    /// Binds the parameters of [`append_ctes`](Self::append_ctes).
    pub(crate) fn bind_append<'q>(&'q self, q: PgQuery<'q>) -> PgQuery<'q> {
        let q = write::bind_append(&self.history, true, q);
        write::bind_append(&self.feed, true, q)
    }

    /// [`write`](Self::write)'s upsert on SQLite (the live tables), one statement per row; rows
    /// already present are left alone, as there.
    pub(crate) async fn write_sqlite(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<(), sqlx::Error> {
        write::write_sqlite(&self.history, conn).await?;
        write::write_sqlite(&self.feed, conn).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Rows;

    #[test]
    fn only_attributes_that_differ_are_changes() {
        let before = [
            ("status", Some("active")),
            ("program_processing_status", Some("in_queue")),
        ];
        let after = [
            ("status", Some("active")),
            ("program_processing_status", Some("new")),
        ];
        let got = changes(&before, &after);
        assert_eq!(
            got,
            vec![StatusChange {
                attribute: "program_processing_status",
                old_value: Some("in_queue"),
                new_value: Some("new")
            }]
        );
    }

    #[test]
    fn a_creation_changes_every_present_attribute_from_nothing() {
        let got = changes(&[], &[("status", Some("NEW")), ("x", None)]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].old_value, None);
    }

    fn record(creation: bool, changes: &[StatusChange]) -> ChangeRecord<'_> {
        ChangeRecord {
            entity_type: "ServiceRequest",
            entity_id: Uuid::from_u128(7),
            sequence: 2,
            global_position: 10,
            changed_by: None,
            changed_at: Utc::now(),
            creation,
            changes,
        }
    }

    #[test]
    fn a_creation_is_history_but_not_a_feed_record() {
        let change = [StatusChange {
            attribute: "status",
            old_value: None,
            new_value: Some("active"),
        }];
        let mut rows = StatusRows::default();
        rows.push(&record(true, &change));
        assert_eq!((rows.history.len(), rows.feed.len()), (1, 0));
        rows.push(&record(false, &change));
        assert_eq!((rows.history.len(), rows.feed.len()), (2, 1));
        assert_eq!(rows.feed.changed_by, vec![Uuid::nil()]);
    }

    #[test]
    fn feed_ids_are_deterministic_so_a_rebuild_reproduces_them() {
        let change = [StatusChange {
            attribute: "status",
            old_value: Some("active"),
            new_value: Some("recalled"),
        }];
        let (mut a, mut b) = (StatusRows::default(), StatusRows::default());
        a.push(&record(false, &change));
        b.push(&record(false, &change));
        assert_eq!(a.feed.id, b.feed.id);
        assert_eq!(
            a.feed.properties[0],
            r#"{"status":{"new_value":"recalled"}}"#
        );
    }
}
