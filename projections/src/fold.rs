//! The one place events become projection rows. A [`Fold`] keeps the states of the entities it has
//! seen in memory, applies events to them with the aggregates' own `apply`, collects the status
//! history and feed rows of every change, and hands the rows out as a [`Batch`] written with
//! multi-row statements.
//!
//! The live path (`project`, inside the append transaction) loads the few entities a commit
//! touches, folds the commit and writes one batch. A rebuild folds the whole log through one
//! `Fold` and writes large batches into tables built aside. Same code, so the two cannot diverge.

use std::any::Any;
use std::collections::HashMap;

use cqrs_es::Aggregate;

use ehealth_aggregates::{
    Approval, CarePlanActivity, DeviceDispense, MergeRequest, ServiceRequest,
};
use sqlx::{PgConnection, SqliteConnection};
use uuid::Uuid;

use crate::entities::Projected;
use crate::rows::{quote_ident, PgQuery, Tables, WriteMode};
use crate::sqlite::{self, LOAD_CHUNK};
use crate::status::{self, ChangeRecord, StatusRows};
use crate::{EventRef, ProjectionError};

/// The aggregate types the projections know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ServiceRequest,
    MergeRequest,
    DeviceDispense,
    Approval,
    CarePlanActivity,
}

impl Kind {
    fn of(aggregate_type: &str) -> Result<Kind, ProjectionError> {
        match aggregate_type {
            "ServiceRequest" => Ok(Kind::ServiceRequest),
            "MergeRequest" => Ok(Kind::MergeRequest),
            "DeviceDispense" => Ok(Kind::DeviceDispense),
            "Approval" => Ok(Kind::Approval),
            "CarePlanActivity" => Ok(Kind::CarePlanActivity),
            other => Err(ProjectionError::UnknownAggregate(other.to_string())),
        }
    }
}

struct Slot<A> {
    state: A,
    /// Sequence of the last event applied (0: none).
    version: i64,
    dirty: bool,
    /// The table has a row for the entity (it was loaded from it, or written to it).
    written: bool,
}

impl<A: Default> Slot<A> {
    fn empty() -> Self {
        Self {
            state: A::default(),
            version: 0,
            dirty: false,
            written: false,
        }
    }
}

struct Slots<A> {
    map: HashMap<Uuid, Slot<A>>,
    /// Entities changed since the last batch, in the order they first changed.
    dirty: Vec<Uuid>,
    /// How many of the dirty entities have no row yet.
    dirty_unwritten: usize,
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
    fn apply(
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
    fn take_rows(&mut self, unwritten_only: bool) -> Result<A::Columns, ProjectionError> {
        let mut columns = A::Columns::default();
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
                .push_row(slot.version, &mut columns)
                .map_err(|source| ProjectionError::Document {
                    table: A::TABLE,
                    id: id.to_string(),
                    source,
                })?;
            slot.dirty = false;
            slot.written = true;
        }
        self.dirty = kept;
        self.dirty_unwritten = 0;
        Ok(columns)
    }

    fn missing(&self, id: Uuid, out: &mut Vec<Uuid>) {
        if !self.map.contains_key(&id) && !out.contains(&id) {
            out.push(id);
        }
    }

    /// Loads the stored states of `ids`; an id without a row starts from the empty state.
    async fn load(
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
            tables.name(A::TABLE)
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
    async fn load_sqlite(
        &mut self,
        conn: &mut SqliteConnection,
        ids: &[Uuid],
    ) -> Result<(), ProjectionError> {
        for chunk in ids.chunks(LOAD_CHUNK) {
            let sql = format!(
                "SELECT id, version, document FROM {} WHERE id IN ({})",
                quote_ident(A::TABLE),
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
                table: A::TABLE,
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
    fn evict(&mut self) {
        self.map.retain(|_, slot| slot.dirty);
    }
}

/// Entity states in memory and the rows their events produced, not yet written.
pub struct Fold {
    service_requests: Slots<ServiceRequest>,
    merge_requests: Slots<MergeRequest>,
    device_dispenses: Slots<DeviceDispense>,
    approvals: Slots<Approval>,
    care_plan_activities: Slots<CarePlanActivity>,
    status: StatusRows,
    /// Every entity that has a row is in memory (a rebuild from empty tables that has evicted
    /// nothing), so an entity not in memory is new and nothing needs to be loaded.
    complete: bool,
}

/// Dispatches on the aggregate type to the matching `Slots<A>`.
macro_rules! with_slots {
    ($fold:expr, $kind:expr, $slots:ident => $body:expr) => {
        match $kind {
            Kind::ServiceRequest => {
                let $slots = &mut $fold.service_requests;
                $body
            }
            Kind::MergeRequest => {
                let $slots = &mut $fold.merge_requests;
                $body
            }
            Kind::DeviceDispense => {
                let $slots = &mut $fold.device_dispenses;
                $body
            }
            Kind::Approval => {
                let $slots = &mut $fold.approvals;
                $body
            }
            Kind::CarePlanActivity => {
                let $slots = &mut $fold.care_plan_activities;
                $body
            }
        }
    };
}

const KINDS: [Kind; 5] = [
    Kind::ServiceRequest,
    Kind::MergeRequest,
    Kind::DeviceDispense,
    Kind::Approval,
    Kind::CarePlanActivity,
];

impl Fold {
    /// A fold over tables that already hold rows: entities must be [`load`](Self::load)ed first.
    pub fn over_existing() -> Self {
        Self::new(false)
    }

    /// A fold that starts from empty tables.
    pub fn from_empty() -> Self {
        Self::new(true)
    }

    fn new(complete: bool) -> Self {
        Self {
            service_requests: Slots::default(),
            merge_requests: Slots::default(),
            device_dispenses: Slots::default(),
            approvals: Slots::default(),
            care_plan_activities: Slots::default(),
            status: StatusRows::default(),
            complete,
        }
    }

    /// Starts an entity from a state the caller already holds (the command that is appending its
    /// events loaded it), instead of [`load`](Self::load)ing its row: the state after event
    /// `version` (0: the entity is new). The live path on PostgreSQL uses it, so that projecting a
    /// commit reads nothing.
    pub fn seed<A: Aggregate + 'static>(
        &mut self,
        id: Uuid,
        version: i64,
        state: A,
    ) -> Result<(), ProjectionError> {
        fn put<T: 'static, A: 'static>(slots: &mut Slots<T>, id: Uuid, version: i64, state: A) {
            let any: Box<dyn Any> = Box::new(state);
            if let Ok(state) = any.downcast::<T>() {
                slots.map.insert(
                    id,
                    Slot {
                        state: *state,
                        version,
                        dirty: false,
                        written: version > 0,
                    },
                );
            }
        }
        match Kind::of(A::TYPE)? {
            Kind::ServiceRequest => put(&mut self.service_requests, id, version, state),
            Kind::MergeRequest => put(&mut self.merge_requests, id, version, state),
            Kind::DeviceDispense => put(&mut self.device_dispenses, id, version, state),
            Kind::Approval => put(&mut self.approvals, id, version, state),
            Kind::CarePlanActivity => put(&mut self.care_plan_activities, id, version, state),
        }
        Ok(())
    }

    /// Whether [`load`](Self::load) has anything to do.
    pub fn needs_loads(&self) -> bool {
        !self.complete
    }

    /// Loads, from `tables`, the states of the entities of `events` that are not in memory.
    pub async fn load(
        &mut self,
        conn: &mut PgConnection,
        tables: &Tables,
        events: &[EventRef<'_>],
    ) -> Result<(), ProjectionError> {
        if self.complete {
            return Ok(());
        }
        let missing = self.missing(events)?;
        for (kind, ids) in KINDS.into_iter().zip(missing.iter()) {
            with_slots!(self, kind, slots => slots.load(conn, tables, ids).await?);
        }
        Ok(())
    }

    /// [`load`](Self::load) from the live tables of a SQLite database.
    pub async fn load_sqlite(
        &mut self,
        conn: &mut SqliteConnection,
        events: &[EventRef<'_>],
    ) -> Result<(), ProjectionError> {
        if self.complete {
            return Ok(());
        }
        let missing = self.missing(events)?;
        for (kind, ids) in KINDS.into_iter().zip(missing.iter()) {
            with_slots!(self, kind, slots => slots.load_sqlite(conn, ids).await?);
        }
        Ok(())
    }

    /// The ids of the entities of `events` that are not in memory, per kind (in [`KINDS`] order).
    fn missing(&mut self, events: &[EventRef<'_>]) -> Result<[Vec<Uuid>; 5], ProjectionError> {
        let mut missing: [Vec<Uuid>; 5] = Default::default();
        for event in events {
            let kind = Kind::of(event.aggregate_type)?;
            let id = parse_id(event.aggregate_id)?;
            let slot = KINDS.iter().position(|k| *k == kind).unwrap_or(0);
            with_slots!(self, kind, slots => slots.missing(id, &mut missing[slot]));
        }
        Ok(missing)
    }

    /// Applies one event: pure, no I/O.
    pub fn apply(&mut self, event: &EventRef<'_>) -> Result<(), ProjectionError> {
        let kind = Kind::of(event.aggregate_type)?;
        let id = parse_id(event.aggregate_id)?;
        let complete = self.complete;
        with_slots!(self, kind, slots => slots.apply(&mut self.status, complete, id, event))
    }

    /// Status history and feed rows waiting.
    pub fn pending_status_rows(&self) -> usize {
        self.status.len()
    }

    /// Entities changed since the last batch with entity rows.
    pub fn dirty_entities(&self) -> usize {
        self.service_requests.dirty.len()
            + self.merge_requests.dirty.len()
            + self.device_dispenses.dirty.len()
            + self.approvals.dirty.len()
            + self.care_plan_activities.dirty.len()
    }

    /// Changed entities that have no row yet.
    pub fn dirty_unwritten_entities(&self) -> usize {
        self.service_requests.dirty_unwritten
            + self.merge_requests.dirty_unwritten
            + self.device_dispenses.dirty_unwritten
            + self.approvals.dirty_unwritten
            + self.care_plan_activities.dirty_unwritten
    }

    /// Entities in memory.
    pub fn entities_in_memory(&self) -> usize {
        self.service_requests.map.len()
            + self.merge_requests.map.len()
            + self.device_dispenses.map.len()
            + self.approvals.map.len()
            + self.care_plan_activities.map.len()
    }

    /// Takes the rows waiting: the status rows always, the changed entities' rows when
    /// `with_entities` (an entity's row is its latest state, so writing it once after many events
    /// is enough).
    pub fn take_batch(&mut self, with_entities: bool) -> Result<Batch, ProjectionError> {
        self.take(with_entities.then_some(false))
    }

    /// Takes the status rows and the rows of the changed entities that have no row yet: what can
    /// be loaded into tables without keys ([`WriteMode::Load`]). Entities that changed again after
    /// their row was written stay dirty, for an upsert once the keys exist.
    pub fn take_loadable_batch(&mut self) -> Result<Batch, ProjectionError> {
        self.take(Some(true))
    }

    /// `entities`: none, or all changed ones (`Some(false)`), or only those without a row.
    fn take(&mut self, entities: Option<bool>) -> Result<Batch, ProjectionError> {
        let mut batch = Batch {
            status: std::mem::take(&mut self.status),
            ..Batch::default()
        };
        if let Some(unwritten_only) = entities {
            batch.service_requests = self.service_requests.take_rows(unwritten_only)?;
            batch.merge_requests = self.merge_requests.take_rows(unwritten_only)?;
            batch.device_dispenses = self.device_dispenses.take_rows(unwritten_only)?;
            batch.approvals = self.approvals.take_rows(unwritten_only)?;
            batch.care_plan_activities = self.care_plan_activities.take_rows(unwritten_only)?;
        }
        Ok(batch)
    }

    /// Forgets the states of entities whose rows are written, to bound memory; from then on,
    /// entities not in memory are loaded from the tables.
    pub fn evict(&mut self) {
        self.service_requests.evict();
        self.merge_requests.evict();
        self.device_dispenses.evict();
        self.approvals.evict();
        self.care_plan_activities.evict();
        self.complete = false;
    }
}

fn parse_id(raw: &str) -> Result<Uuid, ProjectionError> {
    Uuid::parse_str(raw).map_err(|_| ProjectionError::BadId(raw.to_string()))
}

/// Rows taken out of a [`Fold`], ready to be written.
#[derive(Default)]
pub struct Batch {
    service_requests: <ServiceRequest as Projected>::Columns,
    merge_requests: <MergeRequest as Projected>::Columns,
    device_dispenses: <DeviceDispense as Projected>::Columns,
    approvals: <Approval as Projected>::Columns,
    care_plan_activities: <CarePlanActivity as Projected>::Columns,
    status: StatusRows,
}

impl Batch {
    /// Rows in the batch.
    pub fn len(&self) -> usize {
        ServiceRequest::row_count(&self.service_requests)
            + MergeRequest::row_count(&self.merge_requests)
            + DeviceDispense::row_count(&self.device_dispenses)
            + Approval::row_count(&self.approvals)
            + CarePlanActivity::row_count(&self.care_plan_activities)
            + self.status.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes every row into `tables`.
    pub async fn write(
        &self,
        conn: &mut PgConnection,
        tables: &Tables,
        mode: WriteMode,
    ) -> Result<(), sqlx::Error> {
        let name = |table| tables.name(table);
        ServiceRequest::write(
            &self.service_requests,
            conn,
            &name(ServiceRequest::TABLE),
            mode,
        )
        .await?;
        MergeRequest::write(&self.merge_requests, conn, &name(MergeRequest::TABLE), mode).await?;
        DeviceDispense::write(
            &self.device_dispenses,
            conn,
            &name(DeviceDispense::TABLE),
            mode,
        )
        .await?;
        Approval::write(&self.approvals, conn, &name(Approval::TABLE), mode).await?;
        CarePlanActivity::write(
            &self.care_plan_activities,
            conn,
            &name(CarePlanActivity::TABLE),
            mode,
        )
        .await?;
        self.status.write(conn, tables, mode).await
    }

    /// The CTEs that write this batch into the live tables as part of one append statement (the
    /// live path on PostgreSQL: events, idempotency record, job and projections in a single
    /// statement, one round trip). Parameters are numbered from `$first`; the statement must
    /// define the CTE `ev (aggregate_type, aggregate_id, sequence, global_position)` of the
    /// appended events. Returns the SQL and the number of parameters it takes; bind them with
    /// [`bind_append`](Self::bind_append).
    pub fn append_ctes(&self, first: usize) -> (String, usize) {
        let mut ctes = Vec::new();
        let mut next = first;
        upsert_cte::<ServiceRequest>(&self.service_requests, &mut next, &mut ctes);
        upsert_cte::<MergeRequest>(&self.merge_requests, &mut next, &mut ctes);
        upsert_cte::<DeviceDispense>(&self.device_dispenses, &mut next, &mut ctes);
        upsert_cte::<Approval>(&self.approvals, &mut next, &mut ctes);
        upsert_cte::<CarePlanActivity>(&self.care_plan_activities, &mut next, &mut ctes);
        let status = StatusRows::append_ctes(next);
        let last = crate::rows::param_count(&status);
        ctes.push(status);
        (ctes.join(", "), last + 1 - first)
    }

    /// Appends copies of `other`'s rows: one statement then writes the commits of both. Their
    /// entities must differ (an upsert cannot touch one row twice in a statement).
    pub fn absorb(&mut self, other: &Batch) {
        use crate::rows::Absorb;
        self.service_requests.absorb(&other.service_requests);
        self.merge_requests.absorb(&other.merge_requests);
        self.device_dispenses.absorb(&other.device_dispenses);
        self.approvals.absorb(&other.approvals);
        self.care_plan_activities
            .absorb(&other.care_plan_activities);
        self.status.absorb(&other.status);
    }

    /// Binds the parameters of [`append_ctes`](Self::append_ctes).
    pub fn bind_append<'q>(&'q self, q: PgQuery<'q>) -> PgQuery<'q> {
        let q = bind_upsert::<ServiceRequest>(&self.service_requests, q);
        let q = bind_upsert::<MergeRequest>(&self.merge_requests, q);
        let q = bind_upsert::<DeviceDispense>(&self.device_dispenses, q);
        let q = bind_upsert::<Approval>(&self.approvals, q);
        let q = bind_upsert::<CarePlanActivity>(&self.care_plan_activities, q);
        self.status.bind_append(q)
    }

    /// [`write`](Self::write) into the live tables of a SQLite database ([`WriteMode::Upsert`]).
    pub async fn write_sqlite(&self, conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        let sr = quote_ident(ServiceRequest::TABLE);
        ServiceRequest::write_sqlite(&self.service_requests, conn, &sr).await?;
        let mr = quote_ident(MergeRequest::TABLE);
        MergeRequest::write_sqlite(&self.merge_requests, conn, &mr).await?;
        let dd = quote_ident(DeviceDispense::TABLE);
        DeviceDispense::write_sqlite(&self.device_dispenses, conn, &dd).await?;
        let ap = quote_ident(Approval::TABLE);
        Approval::write_sqlite(&self.approvals, conn, &ap).await?;
        let cpa = quote_ident(CarePlanActivity::TABLE);
        CarePlanActivity::write_sqlite(&self.care_plan_activities, conn, &cpa).await?;
        self.status.write_sqlite(conn).await
    }

    /// Moves the entity rows into a batch of their own (this one keeps the status rows), so the
    /// two can be written on two connections at once.
    pub fn split_entities(&mut self) -> Batch {
        Batch {
            service_requests: std::mem::take(&mut self.service_requests),
            merge_requests: std::mem::take(&mut self.merge_requests),
            device_dispenses: std::mem::take(&mut self.device_dispenses),
            approvals: std::mem::take(&mut self.approvals),
            care_plan_activities: std::mem::take(&mut self.care_plan_activities),
            status: StatusRows::default(),
        }
    }
}

/// The upsert of `A`'s rows as the CTE `<table>_rows`, parameters from `*next` (moved past them);
/// nothing when there are no rows.
fn upsert_cte<A: Projected>(columns: &A::Columns, next: &mut usize, ctes: &mut Vec<String>) {
    if A::row_count(columns) == 0 {
        return;
    }
    let sql = A::upsert_sql(&quote_ident(A::TABLE), *next);
    *next = crate::rows::param_count(&sql) + 1;
    ctes.push(format!("{}_rows AS ({sql})", A::TABLE));
}

/// Binds the parameters of [`upsert_cte`] (none when there are no rows).
fn bind_upsert<'q, A: Projected>(columns: &'q A::Columns, q: PgQuery<'q>) -> PgQuery<'q> {
    match A::row_count(columns) {
        0 => q,
        rows => A::bind_upsert(columns, 0..rows, q),
    }
}

/// What a rebuild needs of a [`Batch`] beyond writing it.
impl Batch {
    /// Copies the history rows of `batches` into a table without keys, in key order
    /// ([`StatusRows::copy_history_sorted`]); nothing else of them is written.
    pub(crate) async fn copy_history_sorted(
        batches: &[Batch],
        conn: &mut PgConnection,
        tables: &Tables,
    ) -> Result<(), sqlx::Error> {
        let parts: Vec<&StatusRows> = batches.iter().map(|b| &b.status).collect();
        StatusRows::copy_history_sorted(&parts, conn, tables).await
    }

    /// Copies the feed rows of `batches` in key order ([`StatusRows::copy_feed_sorted`]).
    pub(crate) async fn copy_feed_sorted(
        batches: &[Batch],
        conn: &mut PgConnection,
        tables: &Tables,
    ) -> Result<(), sqlx::Error> {
        let parts: Vec<&StatusRows> = batches.iter().map(|b| &b.status).collect();
        StatusRows::copy_feed_sorted(&parts, conn, tables).await
    }
}
