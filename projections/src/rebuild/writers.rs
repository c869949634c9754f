//! The two writer tasks of a pass and what the fold sends them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgConnection;
use tokio::sync::{mpsc, oneshot};

use super::indexes::IndexQueue;
use crate::rows::{Tables, WriteMode};
use crate::ProjectionError;

/// Messages to a writer task.
pub(super) enum Write {
    Rows(Box<crate::Batch>, WriteMode),
    /// Status rows held back by the first pass, copied in key order.
    SortedStatus(Vec<crate::Batch>),
    /// Every entity row this writer was sent is written.
    EntitiesLoaded(Arc<IndexQueue>),
    /// Run jobs (the held status rows' copies, key and index builds) from the shared queue.
    Index(Arc<IndexQueue>),
    /// Answered once every earlier batch is written.
    Sync(oneshot::Sender<()>),
}

/// The two writer tasks of a pass, each on its own connection, so that PostgreSQL writes on two
/// cores. Before the tables have keys, entity rows go to either (in turns: plain COPYs into
/// tables without keys cannot conflict) and status rows are held back; once they have keys,
/// entity rows go to the first (upserts of one entity must not race) and status rows to the
/// second.
pub(super) struct Writers {
    pub(super) entities: mpsc::Sender<Write>,
    pub(super) status: mpsc::Sender<Write>,
    pub(super) turn: std::sync::atomic::AtomicBool,
}

fn stopped() -> ProjectionError {
    ProjectionError::Task("a writer stopped".into())
}

impl Writers {
    async fn send(sender: &mpsc::Sender<Write>, write: Write) -> Result<(), ProjectionError> {
        sender.send(write).await.map_err(|_| stopped())
    }

    /// Sends a batch's entity rows and its status rows to their writers.
    pub(super) async fn rows(
        &self,
        mut batch: crate::Batch,
        mode: WriteMode,
    ) -> Result<(), ProjectionError> {
        let entities = batch.split_entities();
        if !entities.is_empty() {
            Self::send(&self.entities, Write::Rows(Box::new(entities), mode)).await?;
        }
        if !batch.is_empty() {
            Self::send(&self.status, Write::Rows(Box::new(batch), mode)).await?;
        }
        Ok(())
    }

    /// Copies a batch's entity rows in (on the two writers in turn) and keeps its status rows
    /// in `held` (the first pass loads them in key order at its end); `held` is written once it
    /// grows past `limit` rows.
    pub(super) async fn load_holding_status(
        &self,
        mut batch: crate::Batch,
        held: &mut Held,
        limit: usize,
    ) -> Result<(), ProjectionError> {
        let entities = batch.split_entities();
        if !entities.is_empty() {
            let writer = if self
                .turn
                .fetch_xor(true, std::sync::atomic::Ordering::Relaxed)
            {
                &self.status
            } else {
                &self.entities
            };
            Self::send(writer, Write::Rows(Box::new(entities), WriteMode::Load)).await?;
        }
        if !batch.is_empty() {
            held.rows += batch.len();
            held.batches.push(batch);
        }
        if held.rows >= limit {
            self.release(held).await?;
        }
        Ok(())
    }

    /// Sends the held status rows to be copied in key order.
    pub(super) async fn release(&self, held: &mut Held) -> Result<(), ProjectionError> {
        if held.batches.is_empty() {
            return Ok(());
        }
        let batches = std::mem::take(&mut held.batches);
        held.rows = 0;
        Self::send(&self.status, Write::SortedStatus(batches)).await
    }

    /// Ends the first pass: the held status rows become copy jobs of `queue`, both writers say
    /// when their entity rows are in, then both run the queue's jobs.
    pub(super) async fn finish_load(
        &self,
        held: &mut Held,
        queue: Arc<IndexQueue>,
    ) -> Result<(), ProjectionError> {
        queue.add_status_copies(std::mem::take(&mut held.batches));
        held.rows = 0;
        for writer in [&self.entities, &self.status] {
            Self::send(writer, Write::EntitiesLoaded(queue.clone())).await?;
            Self::send(writer, Write::Index(queue.clone())).await?;
        }
        Ok(())
    }

    /// Waits until every batch sent so far is written.
    pub(super) async fn sync(&self) -> Result<(), ProjectionError> {
        for sender in [&self.entities, &self.status] {
            let (ack, done) = oneshot::channel();
            Self::send(sender, Write::Sync(ack)).await?;
            done.await.map_err(|_| stopped())?;
        }
        Ok(())
    }
}

/// Status rows of the first pass not written yet.
#[derive(Default)]
pub(super) struct Held {
    batches: Vec<crate::Batch>,
    rows: usize,
}

pub(super) async fn write_rows(
    mut conn: PgConnection,
    tables: Tables,
    writer: &'static str,
    mut writes: mpsc::Receiver<Write>,
) -> Result<PgConnection, ProjectionError> {
    let (mut idle, mut rows) = (Duration::ZERO, Duration::ZERO);
    loop {
        let t = Instant::now();
        let Some(write) = writes.recv().await else {
            break;
        };
        idle += t.elapsed();
        match write {
            Write::Rows(batch, mode) => {
                let t = Instant::now();
                batch.write(&mut conn, &tables, mode).await?;
                rows += t.elapsed();
            }
            Write::SortedStatus(batches) => {
                crate::Batch::copy_history_sorted(&batches, &mut conn, &tables).await?;
                crate::Batch::copy_feed_sorted(&batches, &mut conn, &tables).await?;
            }
            Write::EntitiesLoaded(queue) => {
                tracing::debug!(writer, "projections: entity rows written");
                queue.entities_loaded();
            }
            Write::Index(queue) => {
                queue.run(&mut conn, &tables).await?;
                tracing::debug!(writer, "projections: jobs done");
            }
            Write::Sync(ack) => {
                let _ = ack.send(());
            }
        }
    }
    tracing::debug!(writer, ?idle, ?rows, "projections: writer");
    Ok(conn)
}
