//! Status history and the Event Manager feed: one record per change of a tracked attribute
//! (`status`, and `program_processing_status` of service requests).
//!
//! [`changes`] and [`StatusRows::push`] are pure: the live path and a rebuild compute the same rows
//! from the same event, and write them with the same statements ([`StatusRows::write`]).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, SqliteConnection};
use uuid::Uuid;

use crate::copy::CopyRows;
use crate::rows::{chunks, renumber, PgQuery, Tables, WriteMode};
use crate::sqlite::{id, opt_id, ts};

/// The Event Manager entity types, as eHealth names them.
pub const ENTITY_TYPES: [&str; 5] = [
    "ServiceRequest",
    "MergeRequest",
    "DeviceDispense",
    "Approval",
    "CarePlanActivity",
];

/// Namespace for the deterministic ids of feed records, so a rebuild reproduces the same ids.
pub(crate) const FEED_NAMESPACE: Uuid = Uuid::from_u128(0x6d1f_0f9e_8c4b_4a53_9a8e_5e2c_3f10_7b21);

#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    pub attribute: &'static str,
    pub old_value: Option<&'static str>,
    pub new_value: Option<&'static str>,
}

/// The tracked attributes of an entity and their values (the statuses' own names).
pub type Tracked = Vec<(&'static str, Option<&'static str>)>;

/// The tracked attributes that differ between two snapshots.
pub fn changes(
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

/// The deterministic id of the feed record of an entity's event `sequence`: a v5 uuid of
/// `<entity_type>/<entity_id>/<sequence>` in [`FEED_NAMESPACE`].
fn feed_id(entity_type: &str, entity_id: Uuid, sequence: i64) -> Uuid {
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
fn properties(changes: &[StatusChange]) -> String {
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

pub struct ChangeRecord<'a> {
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

/// `status_history` and `status_change_events` rows waiting to be written, column by column (the
/// shape `UNNEST` takes).
#[derive(Debug, Default)]
pub struct StatusRows {
    h_entity_type: Vec<&'static str>,
    h_entity_id: Vec<Uuid>,
    h_sequence: Vec<i64>,
    h_attribute: Vec<&'static str>,
    h_old: Vec<Option<&'static str>>,
    h_new: Vec<Option<&'static str>>,
    h_position: Vec<i64>,
    h_by: Vec<Option<Uuid>>,
    h_at: Vec<DateTime<Utc>>,

    f_id: Vec<Uuid>,
    f_entity_type: Vec<&'static str>,
    f_entity_id: Vec<Uuid>,
    f_properties: Vec<String>,
    f_time: Vec<DateTime<Utc>>,
    f_by: Vec<Uuid>,
    f_position: Vec<i64>,
    f_sequence: Vec<i64>,
}

crate::rows::absorb_columns!(StatusRows {
    h_entity_type,
    h_entity_id,
    h_sequence,
    h_attribute,
    h_old,
    h_new,
    h_position,
    h_by,
    h_at,
    f_id,
    f_entity_type,
    f_entity_id,
    f_properties,
    f_time,
    f_by,
    f_position,
    f_sequence,
});

impl StatusRows {
    /// The history rows of one event's changes, and its feed record unless it is a creation.
    pub fn push(&mut self, rec: &ChangeRecord<'_>) {
        if rec.changes.is_empty() {
            return;
        }
        for change in rec.changes {
            self.h_entity_type.push(rec.entity_type);
            self.h_entity_id.push(rec.entity_id);
            self.h_sequence.push(rec.sequence);
            self.h_attribute.push(change.attribute);
            self.h_old.push(change.old_value);
            self.h_new.push(change.new_value);
            self.h_position.push(rec.global_position);
            self.h_by.push(rec.changed_by);
            self.h_at.push(rec.changed_at);
        }
        if rec.creation {
            return;
        }
        self.f_id
            .push(feed_id(rec.entity_type, rec.entity_id, rec.sequence));
        self.f_entity_type.push(rec.entity_type);
        self.f_entity_id.push(rec.entity_id);
        self.f_properties.push(properties(rec.changes));
        self.f_time.push(rec.changed_at);
        self.f_by.push(rec.changed_by.unwrap_or(Uuid::nil()));
        self.f_position.push(rec.global_position);
        self.f_sequence.push(rec.sequence);
    }

    /// Rows waiting (history and feed together).
    pub fn len(&self) -> usize {
        self.h_sequence.len() + self.f_sequence.len()
    }

    /// Writes the rows in chunks. Rows already present are left alone: they
    /// are keyed by `(entity, sequence[, attribute])`, so writing an event twice changes nothing.
    /// In [`WriteMode::Load`] (a rebuild's first, unindexed load) they are copied in instead.
    pub async fn write(
        &self,
        conn: &mut PgConnection,
        tables: &Tables,
        mode: WriteMode,
    ) -> Result<(), sqlx::Error> {
        if mode == WriteMode::Load {
            return self.copy(conn, tables).await;
        }
        let history = format!(
            "INSERT INTO {} (entity_type, entity_id, sequence, attribute, old_value, new_value, \
             global_position, changed_by, changed_at) \
             SELECT * FROM UNNEST($1::text[], $2::uuid[], $3::bigint[], $4::text[], $5::text[], \
             $6::text[], $7::bigint[], $8::uuid[], $9::timestamptz[]) ON CONFLICT DO NOTHING",
            tables.name("status_history")
        );
        for r in chunks(self.h_sequence.len()) {
            sqlx::query(&history)
                .bind(&self.h_entity_type[r.clone()])
                .bind(&self.h_entity_id[r.clone()])
                .bind(&self.h_sequence[r.clone()])
                .bind(&self.h_attribute[r.clone()])
                .bind(&self.h_old[r.clone()])
                .bind(&self.h_new[r.clone()])
                .bind(&self.h_position[r.clone()])
                .bind(&self.h_by[r.clone()])
                .bind(&self.h_at[r])
                .execute(&mut *conn)
                .await?;
        }
        let feed = format!(
            "INSERT INTO {} (id, event_type, entity_type, entity_id, properties, event_time, \
             changed_by, global_position, sequence) \
             SELECT id, 'StatusChangeEvent', entity_type, entity_id, properties::jsonb, event_time, \
             changed_by, global_position, sequence \
             FROM UNNEST($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], \
             $6::uuid[], $7::bigint[], $8::bigint[]) \
             AS u(id, entity_type, entity_id, properties, event_time, changed_by, global_position, sequence) \
             ON CONFLICT DO NOTHING",
            tables.name("status_change_events")
        );
        for r in chunks(self.f_sequence.len()) {
            sqlx::query(&feed)
                .bind(&self.f_id[r.clone()])
                .bind(&self.f_entity_type[r.clone()])
                .bind(&self.f_entity_id[r.clone()])
                .bind(&self.f_properties[r.clone()])
                .bind(&self.f_time[r.clone()])
                .bind(&self.f_by[r.clone()])
                .bind(&self.f_position[r.clone()])
                .bind(&self.f_sequence[r])
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The history and feed inserts of the live append statement (as CTEs named `history` and
    /// `feed`), parameters from `$first`: the rows of [`write`](Self::write), except that each
    /// takes its event's global position from the statement's `ev` CTE (`aggregate_type`,
    /// `aggregate_id`, `sequence`, `global_position`), which assigns it.
    pub(crate) fn append_ctes(first: usize) -> String {
        renumber(
            "history AS (INSERT INTO status_history (entity_type, entity_id, sequence, attribute, \
             old_value, new_value, global_position, changed_by, changed_at) \
             SELECT u.entity_type, u.entity_id, u.sequence, u.attribute, u.old_value, u.new_value, \
             ev.global_position, u.changed_by, u.changed_at \
             FROM UNNEST($1::text[], $2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::text[], \
             $7::uuid[], $8::timestamptz[]) \
             AS u(entity_type, entity_id, sequence, attribute, old_value, new_value, changed_by, changed_at) \
             JOIN ev ON ev.aggregate_type = u.entity_type \
             AND ev.aggregate_id = u.entity_id::text AND ev.sequence = u.sequence \
             ON CONFLICT DO NOTHING), \
             feed AS (INSERT INTO status_change_events (id, event_type, entity_type, entity_id, \
             properties, event_time, changed_by, global_position, sequence) \
             SELECT u.id, 'StatusChangeEvent', u.entity_type, u.entity_id, u.properties::jsonb, \
             u.event_time, u.changed_by, ev.global_position, u.sequence \
             FROM UNNEST($9::uuid[], $10::text[], $11::uuid[], $12::text[], $13::timestamptz[], \
             $14::uuid[], $15::bigint[]) \
             AS u(id, entity_type, entity_id, properties, event_time, changed_by, sequence) \
             JOIN ev ON ev.aggregate_type = u.entity_type \
             AND ev.aggregate_id = u.entity_id::text AND ev.sequence = u.sequence \
             ON CONFLICT DO NOTHING)",
            first,
        )
    }

    /// Binds the parameters of [`append_ctes`](Self::append_ctes).
    pub(crate) fn bind_append<'q>(&'q self, q: PgQuery<'q>) -> PgQuery<'q> {
        q.bind(&self.h_entity_type)
            .bind(&self.h_entity_id)
            .bind(&self.h_sequence)
            .bind(&self.h_attribute)
            .bind(&self.h_old)
            .bind(&self.h_new)
            .bind(&self.h_by)
            .bind(&self.h_at)
            .bind(&self.f_id)
            .bind(&self.f_entity_type)
            .bind(&self.f_entity_id)
            .bind(&self.f_properties)
            .bind(&self.f_time)
            .bind(&self.f_by)
            .bind(&self.f_sequence)
    }

    /// [`write`](Self::write)'s upsert on SQLite (the live tables), one statement per row; rows
    /// already present are left alone, as there.
    pub async fn write_sqlite(&self, conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        let history = "INSERT INTO status_history (entity_type, entity_id, sequence, attribute, \
             old_value, new_value, global_position, changed_by, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING";
        for i in 0..self.h_sequence.len() {
            sqlx::query(history)
                .bind(self.h_entity_type[i])
                .bind(id(self.h_entity_id[i]))
                .bind(self.h_sequence[i])
                .bind(self.h_attribute[i])
                .bind(self.h_old[i])
                .bind(self.h_new[i])
                .bind(self.h_position[i])
                .bind(opt_id(self.h_by[i]))
                .bind(ts(self.h_at[i]))
                .execute(&mut *conn)
                .await?;
        }
        let feed = "INSERT INTO status_change_events (id, event_type, entity_type, entity_id, \
             properties, event_time, changed_by, global_position, sequence) \
             VALUES ($1, 'StatusChangeEvent', $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
        for i in 0..self.f_sequence.len() {
            sqlx::query(feed)
                .bind(id(self.f_id[i]))
                .bind(self.f_entity_type[i])
                .bind(id(self.f_entity_id[i]))
                .bind(self.f_properties[i].as_str())
                .bind(ts(self.f_time[i]))
                .bind(id(self.f_by[i]))
                .bind(self.f_position[i])
                .bind(self.f_sequence[i])
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    async fn copy(&self, conn: &mut PgConnection, tables: &Tables) -> Result<(), sqlx::Error> {
        for r in chunks(self.h_sequence.len()) {
            let mut copy = CopyRows::new();
            for i in r {
                copy.row(9);
                copy.text(self.h_entity_type[i]);
                copy.uuid(self.h_entity_id[i]);
                copy.int8(self.h_sequence[i]);
                copy.text(self.h_attribute[i]);
                copy.opt_text(self.h_old[i]);
                copy.opt_text(self.h_new[i]);
                copy.int8(self.h_position[i]);
                copy.opt_uuid(self.h_by[i]);
                copy.timestamptz(self.h_at[i])?;
            }
            copy.send(
                &mut *conn,
                &tables.name("status_history"),
                "entity_type, entity_id, sequence, attribute, old_value, new_value, \
                 global_position, changed_by, changed_at",
            )
            .await?;
        }
        for r in chunks(self.f_sequence.len()) {
            let mut copy = CopyRows::new();
            for i in r {
                copy.row(9);
                copy.uuid(self.f_id[i]);
                copy.text("StatusChangeEvent");
                copy.text(self.f_entity_type[i]);
                copy.uuid(self.f_entity_id[i]);
                copy.jsonb(&self.f_properties[i]);
                copy.timestamptz(self.f_time[i])?;
                copy.uuid(self.f_by[i]);
                copy.int8(self.f_position[i]);
                copy.int8(self.f_sequence[i]);
            }
            copy.send(
                &mut *conn,
                &tables.name("status_change_events"),
                "id, event_type, entity_type, entity_id, properties, event_time, changed_by, \
                 global_position, sequence",
            )
            .await?;
        }
        Ok(())
    }
}

/// The distinct values of a text column, in byte order (few: entity types, attribute names).
fn ranks<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut distinct: Vec<&str> = Vec::new();
    for value in values {
        if !distinct.contains(&value) {
            distinct.push(value);
        }
    }
    distinct.sort_unstable();
    distinct
}

/// The rank of `value` among `ranks` (past the end when absent, which cannot happen).
fn rank(ranks: &[&str], value: &str) -> u8 {
    ranks
        .iter()
        .position(|r| *r == value)
        .map_or(u8::MAX, |p| p.min(usize::from(u8::MAX)) as u8)
}

/// A rebuild's load of status rows gathered from several batches, in key order.
impl StatusRows {
    /// Copies the history rows of `parts` into a table without keys ([`WriteMode::Load`]), like
    /// [`write`](Self::write) does, but in the order of its key, `(entity_type, entity_id,
    /// sequence, attribute)`. The rows are the same; only their physical order differs, and with
    /// it the cost of the key build that follows (PostgreSQL's sort finds presorted input in one
    /// pass instead of comparing text columns n·log n times).
    pub(crate) async fn copy_history_sorted(
        parts: &[&StatusRows],
        conn: &mut PgConnection,
        tables: &Tables,
    ) -> Result<(), sqlx::Error> {
        // Sort keys of fixed size: a text column's rank among its few distinct values (in byte
        // order, as the C collation and every common one order them), then the row's place.
        let types = ranks(
            parts
                .iter()
                .flat_map(|rows| rows.h_entity_type.iter().copied()),
        );
        let attributes = ranks(
            parts
                .iter()
                .flat_map(|rows| rows.h_attribute.iter().copied()),
        );
        let mut history: Vec<(u8, u128, i64, u8, u32, u32)> =
            Vec::with_capacity(parts.iter().map(|rows| rows.h_sequence.len()).sum());
        for (p, rows) in parts.iter().enumerate() {
            for i in 0..rows.h_sequence.len() {
                history.push((
                    rank(&types, rows.h_entity_type[i]),
                    rows.h_entity_id[i].as_u128(),
                    rows.h_sequence[i],
                    rank(&attributes, rows.h_attribute[i]),
                    p as u32,
                    i as u32,
                ));
            }
        }
        history.sort_unstable();
        for r in chunks(history.len()) {
            let mut copy = CopyRows::new();
            for &(.., p, i) in &history[r] {
                let (rows, i) = (parts[p as usize], i as usize);
                copy.row(9);
                copy.text(rows.h_entity_type[i]);
                copy.uuid(rows.h_entity_id[i]);
                copy.int8(rows.h_sequence[i]);
                copy.text(rows.h_attribute[i]);
                copy.opt_text(rows.h_old[i]);
                copy.opt_text(rows.h_new[i]);
                copy.int8(rows.h_position[i]);
                copy.opt_uuid(rows.h_by[i]);
                copy.timestamptz(rows.h_at[i])?;
            }
            copy.send(
                &mut *conn,
                &tables.name("status_history"),
                "entity_type, entity_id, sequence, attribute, old_value, new_value, \
                 global_position, changed_by, changed_at",
            )
            .await?;
        }
        Ok(())
    }

    /// [`copy_history_sorted`](Self::copy_history_sorted) for the feed rows, in the order of
    /// their key `(entity_type, entity_id, sequence)`.
    pub(crate) async fn copy_feed_sorted(
        parts: &[&StatusRows],
        conn: &mut PgConnection,
        tables: &Tables,
    ) -> Result<(), sqlx::Error> {
        let types = ranks(
            parts
                .iter()
                .flat_map(|rows| rows.f_entity_type.iter().copied()),
        );
        let mut feed: Vec<(u8, u128, i64, u32, u32)> =
            Vec::with_capacity(parts.iter().map(|rows| rows.f_sequence.len()).sum());
        for (p, rows) in parts.iter().enumerate() {
            for i in 0..rows.f_sequence.len() {
                feed.push((
                    rank(&types, rows.f_entity_type[i]),
                    rows.f_entity_id[i].as_u128(),
                    rows.f_sequence[i],
                    p as u32,
                    i as u32,
                ));
            }
        }
        feed.sort_unstable();
        for r in chunks(feed.len()) {
            let mut copy = CopyRows::new();
            for &(.., p, i) in &feed[r] {
                let (rows, i) = (parts[p as usize], i as usize);
                copy.row(9);
                copy.uuid(rows.f_id[i]);
                copy.text("StatusChangeEvent");
                copy.text(rows.f_entity_type[i]);
                copy.uuid(rows.f_entity_id[i]);
                copy.jsonb(&rows.f_properties[i]);
                copy.timestamptz(rows.f_time[i])?;
                copy.uuid(rows.f_by[i]);
                copy.int8(rows.f_position[i]);
                copy.int8(rows.f_sequence[i]);
            }
            copy.send(
                &mut *conn,
                &tables.name("status_change_events"),
                "id, event_type, entity_type, entity_id, properties, event_time, changed_by, \
                 global_position, sequence",
            )
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!((rows.h_sequence.len(), rows.f_sequence.len()), (1, 0));
        rows.push(&record(false, &change));
        assert_eq!((rows.h_sequence.len(), rows.f_sequence.len()), (2, 1));
        assert_eq!(rows.f_by, vec![Uuid::nil()]);
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
        assert_eq!(a.f_id, b.f_id);
        assert_eq!(a.f_properties[0], r#"{"status":{"new_value":"recalled"}}"#);
    }

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
