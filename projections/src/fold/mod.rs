//! The one place events become projection rows. A [`Fold`] keeps the states of the entities it has
//! seen in memory, applies events to them with the aggregates' own `apply`, collects the status
//! history and feed rows of every change, and hands the rows out as a [`Batch`] written with
//! multi-row statements.
//!
//! The live path (`project`, inside the append transaction) loads the few entities a commit
//! touches, folds the commit and writes one batch. A rebuild folds the whole log through one
//! `Fold` and writes large batches into tables built aside. Same code, so the two cannot diverge.

mod batch;
mod slots;

use std::any::Any;

use cqrs_es::Aggregate;
use ehealth_aggregates::{
    Approval, CarePlanActivity, DeviceDispense, MergeRequest, ServiceRequest,
};
use sqlx::{PgConnection, SqliteConnection};
use uuid::Uuid;

use crate::rows::Tables;
use crate::status::StatusRows;
use crate::{EventRef, ProjectionError};
pub use batch::Batch;
use slots::{Slot, Slots};

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
        with_slots!(@each $fold, $kind, $slots => $body;
            ServiceRequest: service_requests,
            MergeRequest: merge_requests,
            DeviceDispense: device_dispenses,
            Approval: approvals,
            CarePlanActivity: care_plan_activities)
    };
    (@each $fold:expr, $kind:expr, $slots:ident => $body:expr; $($variant:ident: $field:ident),*) => {
        match $kind {
            $(Kind::$variant => {
                let $slots = &mut $fold.$field;
                $body
            })*
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
    pub(crate) fn from_empty() -> Self {
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
    pub(crate) fn needs_loads(&self) -> bool {
        !self.complete
    }

    /// Loads, from `tables`, the states of the entities of `events` that are not in memory.
    pub async fn load(
        &mut self,
        conn: &mut PgConnection,
        tables: &Tables,
        events: &[EventRef<'_>],
    ) -> Result<(), ProjectionError> {
        for (kind, ids) in self.unloaded(events)? {
            with_slots!(self, kind, slots => slots.load(conn, tables, &ids).await?);
        }
        Ok(())
    }

    /// [`load`](Self::load) from the live tables of a SQLite database.
    pub(crate) async fn load_sqlite(
        &mut self,
        conn: &mut SqliteConnection,
        events: &[EventRef<'_>],
    ) -> Result<(), ProjectionError> {
        for (kind, ids) in self.unloaded(events)? {
            with_slots!(self, kind, slots => slots.load_sqlite(conn, &ids).await?);
        }
        Ok(())
    }

    /// The ids of the entities of `events` whose states must be loaded, per kind: none when the
    /// fold started from empty tables.
    fn unloaded(
        &mut self,
        events: &[EventRef<'_>],
    ) -> Result<Vec<(Kind, Vec<Uuid>)>, ProjectionError> {
        if self.complete {
            return Ok(Vec::new());
        }
        Ok(KINDS.into_iter().zip(self.missing(events)?).collect())
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
    pub(crate) fn pending_status_rows(&self) -> usize {
        self.status.len()
    }

    /// Changed entities that have no row yet.
    pub(crate) fn dirty_unwritten_entities(&self) -> usize {
        self.service_requests.dirty_unwritten
            + self.merge_requests.dirty_unwritten
            + self.device_dispenses.dirty_unwritten
            + self.approvals.dirty_unwritten
            + self.care_plan_activities.dirty_unwritten
    }

    /// Entities in memory.
    pub(crate) fn entities_in_memory(&self) -> usize {
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
    pub(crate) fn take_loadable_batch(&mut self) -> Result<Batch, ProjectionError> {
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
    pub(crate) fn evict(&mut self) {
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
