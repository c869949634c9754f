//! The rows a [`Fold`](super::Fold) hands out, and every way they are written: into PostgreSQL
//! tables (upserts, or a rebuild's first COPY), as CTEs of the live append statement, and into
//! SQLite's live tables.

use sqlx::{PgConnection, SqliteConnection};

use crate::rows::{PgQuery, Tables, WriteMode};
use crate::status::StatusRows;
use crate::table::{write, Rows};
use crate::tables::{
    ApprovalRows, CarePlanActivityRows, DeviceDispenseRows, MergeRequestRows, ServiceRequestRows,
};

/// Rows taken out of a [`Fold`](super::Fold), ready to be written.
#[derive(Default)]
pub struct Batch {
    pub(super) service_requests: ServiceRequestRows,
    pub(super) merge_requests: MergeRequestRows,
    pub(super) device_dispenses: DeviceDispenseRows,
    pub(super) approvals: ApprovalRows,
    pub(super) care_plan_activities: CarePlanActivityRows,
    pub(super) status: StatusRows,
}

/// Runs `$body` with `$rows` bound to each entity table's rows of `$batch`, in table order.
macro_rules! each_entity_table {
    ($batch:expr, $rows:ident => $body:expr) => {{
        {
            let $rows = &$batch.service_requests;
            $body
        }
        {
            let $rows = &$batch.merge_requests;
            $body
        }
        {
            let $rows = &$batch.device_dispenses;
            $body
        }
        {
            let $rows = &$batch.approvals;
            $body
        }
        {
            let $rows = &$batch.care_plan_activities;
            $body
        }
    }};
}

impl Batch {
    /// Rows in the batch.
    pub(crate) fn len(&self) -> usize {
        let mut len = self.status.len();
        each_entity_table!(self, rows => len += rows.len());
        len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes every row into `tables`.
    pub(crate) async fn write(
        &self,
        conn: &mut PgConnection,
        tables: &Tables,
        mode: WriteMode,
    ) -> Result<(), sqlx::Error> {
        each_entity_table!(self, rows => write::write_pg(rows, conn, tables, mode).await?);
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
        each_entity_table!(self, rows => write::append_cte(rows, false, &mut next, &mut ctes));
        self.status.append_ctes(&mut next, &mut ctes);
        (ctes.join(", "), next - first)
    }

    /// Binds the parameters of [`append_ctes`](Self::append_ctes).
    pub fn bind_append<'q>(&'q self, q: PgQuery<'q>) -> PgQuery<'q> {
        let mut q = q;
        each_entity_table!(self, rows => q = write::bind_append(rows, false, q));
        self.status.bind_append(q)
    }

    /// Appends copies of `other`'s rows: one statement then writes the commits of both. Their
    /// entities must differ (an upsert cannot touch one row twice in a statement).
    pub fn absorb(&mut self, other: &Batch) {
        self.service_requests.absorb(&other.service_requests);
        self.merge_requests.absorb(&other.merge_requests);
        self.device_dispenses.absorb(&other.device_dispenses);
        self.approvals.absorb(&other.approvals);
        self.care_plan_activities
            .absorb(&other.care_plan_activities);
        self.status.absorb(&other.status);
    }

    /// [`write`](Self::write) into the live tables of a SQLite database ([`WriteMode::Upsert`]).
    pub(crate) async fn write_sqlite(
        &self,
        conn: &mut SqliteConnection,
    ) -> Result<(), sqlx::Error> {
        each_entity_table!(self, rows => write::write_sqlite(rows, conn).await?);
        self.status.write_sqlite(conn).await
    }

    /// Moves the entity rows into a batch of their own (this one keeps the status rows), so the
    /// two can be written on two connections at once.
    pub(crate) fn split_entities(&mut self) -> Batch {
        Batch {
            service_requests: std::mem::take(&mut self.service_requests),
            merge_requests: std::mem::take(&mut self.merge_requests),
            device_dispenses: std::mem::take(&mut self.device_dispenses),
            approvals: std::mem::take(&mut self.approvals),
            care_plan_activities: std::mem::take(&mut self.care_plan_activities),
            status: StatusRows::default(),
        }
    }

    /// Copies the history rows of `batches` into a table without keys, in key order; nothing
    /// else of them is written (a rebuild's first pass).
    pub(crate) async fn copy_history_sorted(
        batches: &[Batch],
        conn: &mut PgConnection,
        tables: &Tables,
    ) -> Result<(), sqlx::Error> {
        let parts: Vec<&StatusRows> = batches.iter().map(|b| &b.status).collect();
        StatusRows::copy_history_sorted(&parts, conn, tables).await
    }

    /// Copies the feed rows of `batches` in key order.
    pub(crate) async fn copy_feed_sorted(
        batches: &[Batch],
        conn: &mut PgConnection,
        tables: &Tables,
    ) -> Result<(), sqlx::Error> {
        let parts: Vec<&StatusRows> = batches.iter().map(|b| &b.status).collect();
        StatusRows::copy_feed_sorted(&parts, conn, tables).await
    }
}
