//! The effects worker: a checkpointed subscriber of the ordered feed.
//!
//! For each event, in order: Recall revokes the approvals made for the service request (through
//! their aggregate, idempotently), gives the service request's quantity back to the care plan
//! activity it is based on (through that aggregate, once per service request) and queues the
//! patient's SMS; ResendOtp queues the OTP SMS, whose job the SMS dispatcher finishes once the
//! gateway accepted it (sms::otp_rules); every other event that belongs to a job finishes it. The
//! SMS rows, the job updates and the checkpoint
//! commit in one transaction, so after a crash the work is redone exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ehealth_aggregates::approval::ApprovalCommand;
use ehealth_aggregates::{Approval, ServiceRequest};
use ehealth_projections::StoredEvent;
use serde_json::{json, Value};
use sqlx::types::Json;
use sqlx::PgConnection;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::give_back;
use crate::commands::{CommandBus, CommandError, CommandMeta};
use crate::db::sqlite::{id as text_id, ts};
use crate::db::Db;
use crate::reference::Reference;
use crate::store::{feed, CommandContext};

pub const SUBSCRIBER: &str = "effects";
const BATCH: i64 = 500;

pub struct EffectsWorker {
    pub db: Db,
    pub bus: Arc<CommandBus>,
    pub reference: Reference,
    pub wake: Arc<Notify>,
    pub sms_wake: Arc<Notify>,
}

#[derive(Debug, thiserror::Error)]
pub enum EffectError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Command(String),
}

/// Passes start at least this far apart. A pass costs a transaction of about ten statements and a
/// WAL flush whatever its size; woken by every commit, the worker ran a pass for every one to
/// three events under load. Spaced, a pass takes what this long brought (≈ 60 events at
/// 6 000 actions/s), at the price of at most this much on a job's latency (the target is 100 ms
/// at p99). A commit after a quiet spell is still processed at once.
pub const PACE: Duration = Duration::from_millis(10);

/// How long one pass may take before it is abandoned and tried again.
const PASS_DEADLINE: Duration = Duration::from_secs(30);

impl EffectsWorker {
    pub async fn run(self, shutdown: CancellationToken) {
        let mut last_pass: Option<tokio::time::Instant> = None;
        let mut spell = super::FailureSpell::new("effects");
        loop {
            // Register interest before reading, so a commit between the read and the wait wakes us.
            let woken = self.wake.notified();
            if let Some(due) = last_pass.map(|at| at + PACE) {
                tokio::select! {
                    _ = tokio::time::sleep_until(due) => {}
                    _ = shutdown.cancelled() => return,
                }
            }
            last_pass = Some(tokio::time::Instant::now());
            // A pass whose database stopped answering is abandoned (its connection is then
            // tested, and closed if it does not answer) and tried again.
            let pass = tokio::time::timeout(PASS_DEADLINE, self.run_once())
                .await
                .unwrap_or_else(|_| Err(EffectError::Command("the pass ran out of time".into())));
            match pass {
                Ok(n) => {
                    spell.succeeded();
                    if n > 0 {
                        let metrics = self.bus.metrics();
                        metrics.effects_passes.inc();
                        metrics.effects_events.inc_by(n as u64);
                        continue;
                    }
                }
                Err(err) => spell.failed(&err),
            }
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }

    /// Processes the next batch of the feed; returns how many events it consumed.
    #[tracing::instrument(name = "effects_pass", skip_all)]
    pub async fn run_once(&self) -> Result<usize, EffectError> {
        match &self.db {
            Db::Postgres(pool) => self.run_once_postgres(pool).await,
            Db::Sqlite(lite) => self.run_once_sqlite(lite).await,
        }
    }

    /// On SQLite the batch is read and planned outside the write transaction (Recall's
    /// revocations are commands, each a write transaction of its own, and SQLite has one writer);
    /// the effects and the checkpoint then commit together, if no other pass moved the checkpoint
    /// meanwhile. A crash before that commit redoes the batch: revocations are idempotent and the
    /// SMS insert is keyed by its source event.
    async fn run_once_sqlite(&self, lite: &crate::db::Lite) -> Result<usize, EffectError> {
        let mut conn = lite.pool.acquire().await?;
        let cursor = feed::sqlite::checkpoint(&mut conn, SUBSCRIBER).await?;
        let batch = feed::sqlite::read_after(&mut conn, cursor, BATCH).await?;
        drop(conn);
        let Some((last, _)) = batch.last() else {
            return Ok(0);
        };
        let last = *last;
        let lookups = Lookups::read_sqlite(lite, &batch).await?;
        let mut work = Work::default();
        for (_, event) in &batch {
            self.plan(event, &lookups, &mut work).await?;
        }
        let mut tx = lite.begin_write().await?;
        if feed::sqlite::checkpoint(tx.conn(), SUBSCRIBER).await? != cursor {
            tx.rollback().await?;
            return Ok(0);
        }
        let queued_sms = work.write_sqlite(tx.conn()).await?;
        feed::sqlite::save_checkpoint(tx.conn(), SUBSCRIBER, last).await?;
        tx.commit().await?;
        if queued_sms {
            self.sms_wake.notify_one();
        }
        Ok(batch.len())
    }

    async fn run_once_postgres(&self, pool: &sqlx::PgPool) -> Result<usize, EffectError> {
        let mut tx = pool.begin().await?;
        let cursor = feed::lock_checkpoint(&mut tx, SUBSCRIBER).await?;
        let batch = feed::read_after(&mut tx, cursor, BATCH).await?;
        let Some((last, _)) = batch.last() else {
            tx.rollback().await?;
            return Ok(0);
        };
        let last = *last;
        // Everything planning reads, read at once on the batch's own connection: the pass holds
        // the checkpoint's lock and a transaction id, so it must not wait on one query per event.
        let lookups = Lookups::read_postgres(&mut tx, &batch).await?;
        let mut work = Work::default();
        for (_, event) in &batch {
            self.plan(event, &lookups, &mut work).await?;
        }
        // The common effects are written per batch, not per event: a few statements whatever the
        // batch size, so the worker keeps up with the write path.
        let queued_sms = work.write(&mut tx).await?;
        feed::save_checkpoint(&mut tx, SUBSCRIBER, last).await?;
        tx.commit().await?;
        if queued_sms {
            self.sms_wake.notify_one();
        }
        Ok(batch.len())
    }

    /// Decides the effects of one event. Recall's revocations run at once (they are commands on
    /// other aggregates); everything else is collected into `work`.
    async fn plan(
        &self,
        event: &StoredEvent,
        lookups: &Lookups,
        work: &mut Work,
    ) -> Result<(), EffectError> {
        let job = event.metadata.get("job_id").and_then(Value::as_str);
        let entity_id = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
        match (event.aggregate_type.as_str(), event.event_type.as_str()) {
            ("ServiceRequest", "ServiceRequestRecalled") => {
                self.revoke_approvals(event, lookups).await?;
                let recalled = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
                let record = lookups
                    .service_requests
                    .get(&recalled)
                    .and_then(|s| s.record.as_ref());
                give_back::return_quantity(&self.bus, event, record).await?;
                if let Some(sms) = self.recall_sms(event, lookups).await? {
                    work.sms.push(sms);
                }
                if let Some(job) = job {
                    work.links
                        .push((job.to_string(), "service_request", entity_id));
                }
            }
            ("ServiceRequest", "ServiceRequestReleased") => {
                if let Some(job) = job {
                    work.links
                        .push((job.to_string(), "service_request", entity_id));
                }
            }
            ("DeviceDispense", "DeviceDispenseStopped") => {
                if let Some(job) = job {
                    work.links
                        .push((job.to_string(), "device_dispense", entity_id));
                }
            }
            ("Approval", "ApprovalOtpResent") => {
                let resent = &event.payload["ApprovalOtpResent"];
                work.sms.push(QueuedSms {
                    kind: "otp",
                    phone: resent["phone_number"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    template: "otp",
                    params: json!({ "approval_id": event.aggregate_id, "salt": resent["salt"] }),
                    source_position: event.global_position,
                    job_id: job.map(str::to_string),
                });
            }
            _ => {}
        }
        Ok(())
    }

    async fn revoke_approvals(
        &self,
        event: &StoredEvent,
        lookups: &Lookups,
    ) -> Result<(), EffectError> {
        let sr_id = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
        let approvals = lookups.approvals.get(&sr_id).map_or(&[][..], Vec::as_slice);
        let by = event.user_id().unwrap_or_default();
        let at = event
            .payload
            .pointer("/ServiceRequestRecalled/at")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or(event.recorded_at);
        for &approval in approvals {
            let meta = CommandMeta {
                user_id: by,
                client_id: meta_uuid(event, "client_id"),
                request_id: meta_str(event, "request_id"),
                command_id: format!("revoke:{approval}:{}", event.global_position),
                correlation_id: meta_str(event, "correlation_id"),
                causation_id: meta_str(event, "command_id"),
                at,
                job_id: None,
            };
            let command = ApprovalCommand::Revoke {
                service_request_id: sr_id.into(),
                by: by.into(),
                at,
            };
            match self
                .bus
                .execute::<Approval>(approval, command, meta, CommandContext::default())
                .await
            {
                Ok(_) => {}
                Err(CommandError::Rejected(e)) => {
                    tracing::warn!(%approval, error = %e, "approval not revoked")
                }
                Err(e) => return Err(EffectError::Command(e.to_string())),
            }
        }
        Ok(())
    }

    /// The recall SMS goes to a patient who authenticates with OTP, unless the service request has a
    /// performer (ehealth-notes §2.3).
    async fn recall_sms(
        &self,
        event: &StoredEvent,
        lookups: &Lookups,
    ) -> Result<Option<QueuedSms>, EffectError> {
        let sr_id = Uuid::parse_str(&event.aggregate_id).unwrap_or_default();
        let Some(sr) = lookups
            .service_requests
            .get(&sr_id)
            .and_then(|s| s.record.as_ref())
        else {
            return Ok(None);
        };
        if sr.other.get("performer").is_some_and(|p| !p.is_null()) {
            return Ok(None);
        }
        let Some(person) = self.reference.person(sr.patient_id).await? else {
            return Ok(None);
        };
        let Some(phone) = person
            .default_method()
            .filter(|m| m.kind == "OTP")
            .and_then(|m| m.phone_number.clone())
        else {
            return Ok(None);
        };
        let requisition = sr
            .other
            .get("requisition")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(Some(QueuedSms {
            kind: "service_request_recalled",
            phone,
            template: "service_request_recalled",
            params: json!({ "requisition": requisition }),
            source_position: event.global_position,
            job_id: None,
        }))
    }
}

/// What planning a batch reads, read with one query per kind for the whole batch: the stored
/// states of the recalled service requests, and the approvals still in force made for them.
#[derive(Default)]
struct Lookups {
    service_requests: HashMap<Uuid, ServiceRequest>,
    approvals: HashMap<Uuid, Vec<Uuid>>,
}

const IN_FORCE: &str = "status IN ('new', 'active')";

impl Lookups {
    fn recalled(batch: &[(impl Sized, StoredEvent)]) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = batch
            .iter()
            .map(|(_, e)| e)
            .filter(|e| {
                e.aggregate_type == "ServiceRequest" && e.event_type == "ServiceRequestRecalled"
            })
            .filter_map(|e| Uuid::parse_str(&e.aggregate_id).ok())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn keep(&mut self, id: Uuid, document: &str) {
        if let Ok(sr) = serde_json::from_str::<ServiceRequest>(document) {
            self.service_requests.insert(id, sr);
        }
    }

    async fn read_postgres(
        conn: &mut PgConnection,
        batch: &[(feed::FeedCursor, StoredEvent)],
    ) -> Result<Self, sqlx::Error> {
        let mut lookups = Lookups::default();
        let recalled = Self::recalled(batch);
        if recalled.is_empty() {
            return Ok(lookups);
        }
        let docs: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, document::text FROM service_requests WHERE id = ANY($1)")
                .bind(&recalled)
                .fetch_all(&mut *conn)
                .await?;
        for (id, document) in docs {
            lookups.keep(id, &document);
        }
        let approvals: Vec<(Uuid, Uuid)> = sqlx::query_as(&format!(
            "SELECT id, reason_service_request FROM approvals \
             WHERE reason_service_request = ANY($1) AND {IN_FORCE} ORDER BY id"
        ))
        .bind(&recalled)
        .fetch_all(&mut *conn)
        .await?;
        for (approval, sr) in approvals {
            lookups.approvals.entry(sr).or_default().push(approval);
        }
        Ok(lookups)
    }

    async fn read_sqlite(
        lite: &crate::db::Lite,
        batch: &[(feed::FeedCursor, StoredEvent)],
    ) -> Result<Self, sqlx::Error> {
        let mut lookups = Lookups::default();
        let mut conn = lite.pool.acquire().await?;
        for sr in Self::recalled(batch) {
            if let Some(document) =
                ehealth_projections::load_document_sqlite(&mut conn, "service_requests", sr).await?
            {
                lookups.keep(sr, &document);
            }
            let approvals: Vec<uuid::fmt::Hyphenated> = sqlx::query_scalar(&format!(
                "SELECT id FROM approvals WHERE reason_service_request = $1 AND {IN_FORCE} \
                 ORDER BY id"
            ))
            .bind(text_id(sr))
            .fetch_all(&mut *conn)
            .await?;
            lookups
                .approvals
                .insert(sr, approvals.into_iter().map(|a| a.into_uuid()).collect());
        }
        Ok(lookups)
    }
}

/// An SMS to queue in the outbox; `(kind, source_position)` makes the insert idempotent.
struct QueuedSms {
    kind: &'static str,
    phone: String,
    template: &'static str,
    params: Value,
    source_position: i64,
    /// The job the message finishes (a resend's), if any.
    job_id: Option<String>,
}

/// The effects of one batch, written together.
#[derive(Default)]
struct Work {
    sms: Vec<QueuedSms>,
    /// Jobs finished with a link to their entity: `(job id, entity kind, entity id)`.
    links: Vec<(String, &'static str, Uuid)>,
}

// Finishing a batch of jobs. They are found by their primary key: `status = (SELECT 'pending')`
// keeps the guard (a job is finished once) out of reach of jobs_pending_idx. With a plain
// `= 'pending'` the planner, estimating a handful of pending jobs, scanned that partial index (a
// bitmap scan visits the entry of every job finished since the last vacuum: bitmap scans never
// mark dead entries): 3–4 ms per batch under load instead of ~0.1
// (tests::finishing_jobs_reads_them_by_primary_key).

/// Jobs whose link names the patient, which the release event does not carry: one lookup per
/// batch for both entity kinds.
const FINISH_WITH_LINKS: &str = "UPDATE jobs SET status = 'processed', status_code = 200, updated_at = now(), \
     links = jsonb_build_array(jsonb_build_object('entity', u.entity, 'href', \
       '/api/patients/' || coalesce(sr.patient_id, dd.patient_id, '00000000-0000-0000-0000-000000000000'::uuid) \
       || '/' || u.entity || 's/' || u.entity_id)) \
     FROM UNNEST($1::text[], $2::text[], $3::uuid[]) AS u(job_id, entity, entity_id) \
     LEFT JOIN service_requests sr ON u.entity = 'service_request' AND sr.id = u.entity_id \
     LEFT JOIN device_dispenses dd ON u.entity = 'device_dispense' AND dd.id = u.entity_id \
     WHERE jobs.id = u.job_id AND jobs.status = (SELECT 'pending')";

impl Work {
    /// Writes the batch's effects; true when an SMS was queued.
    async fn write(self, conn: &mut PgConnection) -> Result<bool, EffectError> {
        let mut queued = false;
        if !self.sms.is_empty() {
            let inserted = sqlx::query(
                "INSERT INTO sms_outbox (id, kind, phone_number, template, params, source_position, job_id) \
                 SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::bigint[], $7::text[]) \
                 ON CONFLICT (kind, source_position) DO NOTHING",
            )
            .bind(self.sms.iter().map(|_| Uuid::new_v4()).collect::<Vec<_>>())
            .bind(self.sms.iter().map(|m| m.kind).collect::<Vec<_>>())
            .bind(self.sms.iter().map(|m| m.phone.clone()).collect::<Vec<_>>())
            .bind(self.sms.iter().map(|m| m.template).collect::<Vec<_>>())
            .bind(self.sms.iter().map(|m| m.params.clone()).collect::<Vec<_>>())
            .bind(self.sms.iter().map(|m| m.source_position).collect::<Vec<_>>())
            .bind(self.sms.iter().map(|m| m.job_id.clone()).collect::<Vec<_>>())
            .execute(&mut *conn)
            .await?;
            queued = inserted.rows_affected() > 0;
        }
        if !self.links.is_empty() {
            sqlx::query(FINISH_WITH_LINKS)
                .bind(
                    self.links
                        .iter()
                        .map(|(j, _, _)| j.clone())
                        .collect::<Vec<_>>(),
                )
                .bind(self.links.iter().map(|(_, e, _)| *e).collect::<Vec<_>>())
                .bind(self.links.iter().map(|(_, _, id)| *id).collect::<Vec<_>>())
                .execute(&mut *conn)
                .await?;
        }
        Ok(queued)
    }
}

impl Work {
    /// [`Work::write`] on SQLite, one statement per row.
    async fn write_sqlite(self, conn: &mut sqlx::SqliteConnection) -> Result<bool, EffectError> {
        let now = ts(chrono::Utc::now());
        let mut queued = false;
        for m in &self.sms {
            let inserted = sqlx::query(
                "INSERT INTO sms_outbox (id, kind, phone_number, template, params, source_position, \
                 created_at, next_attempt_at, job_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
                 ON CONFLICT (kind, source_position) DO NOTHING",
            )
            .bind(text_id(Uuid::new_v4()))
            .bind(m.kind)
            .bind(&m.phone)
            .bind(m.template)
            .bind(Json(&m.params))
            .bind(m.source_position)
            .bind(&now)
            .bind(&m.job_id)
            .execute(&mut *conn)
            .await?;
            queued |= inserted.rows_affected() > 0;
        }
        for (job, entity, entity_id) in &self.links {
            // The link names the patient, which the release event does not carry.
            sqlx::query(
                "UPDATE jobs SET status = 'processed', status_code = 200, updated_at = $4, \
                 links = json_array(json_object('entity', $2, 'href', '/api/patients/' || \
                   coalesce((SELECT patient_id FROM service_requests WHERE $2 = 'service_request' AND id = $3), \
                            (SELECT patient_id FROM device_dispenses WHERE $2 = 'device_dispense' AND id = $3), \
                            '00000000-0000-0000-0000-000000000000') \
                   || '/' || $2 || 's/' || $3)) \
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(job)
            .bind(*entity)
            .bind(text_id(*entity_id))
            .bind(&now)
            .execute(&mut *conn)
            .await?;
        }
        Ok(queued)
    }
}

pub(super) fn meta_str(event: &StoredEvent, key: &str) -> String {
    event
        .metadata
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(super) fn meta_uuid(event: &StoredEvent, key: &str) -> Uuid {
    Uuid::parse_str(&meta_str(event, key)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    //! On a real PostgreSQL (`EHEALTH_TEST_DATABASE_URL`, as the black-box suites).

    use super::*;
    use sqlx::{Connection, PgConnection, PgPool};

    async fn database() -> PgPool {
        let admin = std::env::var("EHEALTH_TEST_DATABASE_URL").expect(
            "EHEALTH_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
        );
        let name = format!("ehealth_fx_{}", Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("admin connection");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("create database");
        let (base, _) = admin.rsplit_once('/').expect("admin URL names a database");
        let pool = crate::db::connect(&format!("{base}/{name}"), 2)
            .await
            .expect("connect");
        crate::db::migrate(&pool).await.expect("migrate");
        pool
    }

    async fn add_jobs(pool: &PgPool, prefix: &str, n: i32) -> Vec<String> {
        sqlx::query_scalar(
            "INSERT INTO jobs (id, legal_entity_id, user_id, action, aggregate_type, aggregate_id, eta) \
             SELECT $1 || i, gen_random_uuid(), gen_random_uuid(), 'release_service_request', \
                    'ServiceRequest', gen_random_uuid()::text, now() + interval '1 minute' \
             FROM generate_series(1, $2) AS i RETURNING id",
        )
        .bind(prefix)
        .bind(n)
        .fetch_all(pool)
        .await
        .expect("jobs")
    }

    async fn plan(conn: &mut PgConnection, sql: &str, ids: &[String]) -> String {
        sqlx::query_scalar::<_, String>(sql)
            .bind(ids.to_vec())
            .bind(vec!["service_request"; ids.len()])
            .bind(vec![Uuid::new_v4(); ids.len()])
            .fetch_all(conn)
            .await
            .expect("explain")
            .join("\n")
    }

    /// Thousands of finished jobs whose entries in jobs_pending_idx are dead (no vacuum since), a
    /// few pending: the finishing statement finds the pending ones by primary key, with the
    /// custom plan and with the generic one, and finishes each job once. (With a plain
    /// `status = 'pending'` guard both plans scan jobs_pending_idx.)
    #[tokio::test]
    async fn finishing_jobs_reads_them_by_primary_key() {
        let pool = database().await;
        add_jobs(&pool, "done", 5000).await;
        sqlx::query("UPDATE jobs SET status = 'processed'")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("ANALYZE jobs").execute(&pool).await.unwrap();
        let pending = add_jobs(&pool, "open", 10).await;

        let mut conn = pool.acquire().await.unwrap();
        for mode in ["force_custom_plan", "force_generic_plan"] {
            sqlx::query(&format!("SET plan_cache_mode = {mode}"))
                .execute(&mut *conn)
                .await
                .unwrap();
            let plan = plan(&mut conn, &format!("EXPLAIN {FINISH_WITH_LINKS}"), &pending).await;
            assert!(plan.contains("jobs_pkey"), "{mode}: {plan}");
            assert!(!plan.contains("jobs_pending_idx"), "{mode}: {plan}");
        }

        let finish = || {
            sqlx::query(FINISH_WITH_LINKS)
                .bind(pending.clone())
                .bind(vec!["service_request"; pending.len()])
                .bind(vec![Uuid::new_v4(); pending.len()])
        };
        assert_eq!(finish().execute(&pool).await.unwrap().rows_affected(), 10);
        assert_eq!(finish().execute(&pool).await.unwrap().rows_affected(), 0);
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status = 'pending'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(open, 0);
    }
}
