//! The entity states of one kind that a [`Fold`](super::Fold) holds, and how they are loaded
//! from and turned into rows of their table.

use std::collections::HashMap;

use sqlx::{PgConnection, SqliteConnection};
use uuid::Uuid;

use super::parse_id;
use crate::entities::Projected;
use crate::rows::{quote_ident, Tables};
use crate::sqlite::{self, LOAD_CHUNK};
use crate::status::{self, ChangeRecord, StatusRows};
use crate::table::Rows;
use crate::{EventRef, ProjectionError};

pub(super) struct Slot<A> {
    pub(super) state: A,
    /// Sequence of the last event applied (0: none).
    pub(super) version: i64,
    pub(super) dirty: bool,
    /// The table has a row for the entity (it was loaded from it, or written to it).
    pub(super) written: bool,
}

impl<A: Default> Slot<A> {
    pub(super) fn empty() -> Self {
        Self {
            state: A::default(),
            version: 0,
            dirty: false,
            written: false,
        }
    }
}

pub(super) struct Slots<A> {
    pub(super) map: HashMap<Uuid, Slot<A>>,
    /// Entities changed since the last batch, in the order they first changed.
    pub(super) dirty: Vec<Uuid>,
    /// How many of the dirty entities have no row yet.
    pub(super) dirty_unwritten: usize,
}

impl<A> Default for Slots<A> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            dirty: Vec::new(),
            dirty_unwritten: 0,
        }
    }
}

impl<A: Projected> Slots<A>
where
    A::Event: 'static,
{
    /// Applies one event and records its status changes.
    pub(super) fn apply(
        &mut self,
        status: &mut StatusRows,
        complete: bool,
        id: Uuid,
        event: &EventRef<'_>,
    ) -> Result<(), ProjectionError> {
        let payload: A::Event =
            event
                .payload
                .decode()
                .map_err(|source| ProjectionError::Payload {
                    aggregate_type: event.aggregate_type.to_string(),
                    aggregate_id: event.aggregate_id.to_string(),
                    sequence: event.sequence,
                    source,
                })?;
        if !complete && !self.map.contains_key(&id) {
            return Err(ProjectionError::NotLoaded(format!("{}/{id}", A::TYPE)));
        }
        let slot = self.map.entry(id).or_insert_with(Slot::empty);
        // Events of one entity arrive in sequence order exactly once; anything else means the
        // caller read the log wrongly (a doubled or skipped event), so stop rather than project it.
        if event.sequence <= slot.version {
            return Err(ProjectionError::OutOfOrder {
                aggregate_type: A::TYPE,
                aggregate_id: id.to_string(),
                sequence: event.sequence,
                version: slot.version,
            });
        }
        let before = slot.state.tracked();
        let creation = before.iter().all(|(_, v)| v.is_none());
        slot.state.apply(payload);
        let changes = status::changes(&before, &slot.state.tracked());
        status.push(&ChangeRecord {
            entity_type: A::TYPE,
            entity_id: id,
            sequence: event.sequence,
            global_position: event.global_position,
            changed_by: event.user_id,
            changed_at: slot.state.changed_at().unwrap_or(event.recorded_at),
            creation,
            changes: &changes,
        });
        slot.version = event.sequence;
        if !slot.dirty {
            slot.dirty = true;
            self.dirty.push(id);
            if !slot.written {
                self.dirty_unwritten += 1;
            }
        }
        Ok(())
    }

    /// The rows of the changed entities (only of those without a row yet when `unwritten_only`);
    /// they are clean afterwards, the others stay dirty.
    pub(super) fn take_rows(&mut self, unwritten_only: bool) -> Result<A::Rows, ProjectionError> {
        let mut rows = A::Rows::default();
        let mut kept = Vec::new();
        for id in self.dirty.drain(..) {
            let Some(slot) = self.map.get_mut(&id) else {
                continue;
            };
            if unwritten_only && slot.written {
                kept.push(id);
                continue;
            }
            slot.state
                .push_row(slot.version, &mut rows)
                .map_err(|source| ProjectionError::Document {
                    table: <A::Rows as Rows>::TABLE.name,
                    id: id.to_string(),
                    source,
                })?;
            slot.dirty = false;
            slot.written = true;
        }
        self.dirty = kept;
        self.dirty_unwritten = 0;
        Ok(rows)
    }

    pub(super) fn missing(&self, id: Uuid, out: &mut Vec<Uuid>) {
        if !self.map.contains_key(&id) && !out.contains(&id) {
            out.push(id);
        }
    }

    /// Loads the stored states of `ids`; an id without a row starts from the empty state.
    pub(super) async fn load(
        &mut self,
        conn: &mut PgConnection,
        tables: &Tables,
        ids: &[Uuid],
    ) -> Result<(), ProjectionError> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "SELECT id, version, document::text FROM {} WHERE id = ANY($1)",
            tables.name(<A::Rows as Rows>::TABLE.name)
        );
        let rows: Vec<(Uuid, i64, String)> =
            sqlx::query_as(&sql).bind(ids).fetch_all(&mut *conn).await?;
        for (id, version, document) in rows {
            self.insert_stored(id, version, &document)?;
        }
        self.start_missing(ids);
        Ok(())
    }

    /// [`load`](Self::load) from the live tables of a SQLite database.
    pub(super) async fn load_sqlite(
        &mut self,
        conn: &mut SqliteConnection,
        ids: &[Uuid],
    ) -> Result<(), ProjectionError> {
        for chunk in ids.chunks(LOAD_CHUNK) {
            let sql = format!(
                "SELECT id, version, document FROM {} WHERE id IN ({})",
                quote_ident(<A::Rows as Rows>::TABLE.name),
                sqlite::placeholders(chunk.len())
            );
            let mut query = sqlx::query_as::<_, (String, i64, String)>(&sql);
            for id in chunk {
                query = query.bind(sqlite::id(*id));
            }
            for (id, version, document) in query.fetch_all(&mut *conn).await? {
                let id = parse_id(&id)?;
                self.insert_stored(id, version, &document)?;
            }
        }
        self.start_missing(ids);
        Ok(())
    }

    /// Keeps the stored state of an entity that has a row.
    fn insert_stored(
        &mut self,
        id: Uuid,
        version: i64,
        document: &str,
    ) -> Result<(), ProjectionError> {
        let state: A =
            serde_json::from_str(document).map_err(|source| ProjectionError::Document {
                table: <A::Rows as Rows>::TABLE.name,
                id: id.to_string(),
                source,
            })?;
        self.map.insert(
            id,
            Slot {
                state,
                version,
                dirty: false,
                written: true,
            },
        );
        Ok(())
    }

    /// The ids of `ids` without a stored row start from the empty state.
    fn start_missing(&mut self, ids: &[Uuid]) {
        for id in ids {
            self.map.entry(*id).or_insert_with(Slot::empty);
        }
    }

    /// Forgets every clean state (they are all written).
    pub(super) fn evict(&mut self) {
        self.map.retain(|_, slot| slot.dirty);
    }
}
