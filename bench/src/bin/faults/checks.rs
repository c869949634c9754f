//! What must hold after a fault, checked by query on the scenario's database: every acknowledged
//! command's event is in the log, every job finished, every SMS sent exactly once, no one-shot
//! action applied twice, and the projections equal a rebuild (`ehealth-es projections verify`).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

use crate::load::{Ack, Action};
use crate::provider::Received;

/// Waits (at most `limit`) until no job and no SMS is pending; returns how long it took.
pub async fn drain(pool: &PgPool, limit: Duration) -> anyhow::Result<Duration> {
    let started = Instant::now();
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT (SELECT count(*) FROM jobs WHERE status = 'pending') \
                  + (SELECT count(*) FROM sms_outbox WHERE status = 'pending')",
        )
        .fetch_one(pool)
        .await?;
        if pending == 0 || started.elapsed() > limit {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The figures of one check run.
#[derive(Debug, Default)]
pub struct Findings {
    pub acknowledged: usize,
    /// Acknowledged commands whose event (with the job it started) is in the log.
    pub found: usize,
    pub missing: Vec<String>,
    /// Acknowledged jobs not processed, and pending jobs overall.
    pub jobs_stuck: i64,
    /// Events that ask for an SMS, and the outbox rows that answer them.
    pub sms_expected: i64,
    pub sms_sent: i64,
    pub sms_missing: i64,
    pub sms_unsent: i64,
    /// A second message for one event: a second outbox row, or a delivery under an id that is
    /// no outbox row.
    pub sms_duplicates: i64,
    /// Deliveries of the same message id again (a crash between the provider's answer and the
    /// commit); the provider deduplicates them by Idempotency-Key.
    pub sms_redelivered: usize,
    /// Deliveries the provider received in all.
    pub sms_delivered: usize,
    /// One-shot actions applied (or acknowledged) more than once on one entity.
    pub double_changes: i64,
    /// `Some(true)` equal to a rebuild, `Some(false)` different, `None` not available.
    pub verify: Option<bool>,
    pub verify_line: String,
}

impl Findings {
    /// The broken promises, one line each.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.found < self.acknowledged {
            out.push(format!(
                "{} acknowledged command(s) not in the event log, e.g. {:?}",
                self.acknowledged - self.found,
                self.missing.iter().take(3).collect::<Vec<_>>()
            ));
        }
        if self.jobs_stuck > 0 {
            out.push(format!("{} job(s) stuck in pending", self.jobs_stuck));
        }
        if self.sms_missing > 0 || self.sms_unsent > 0 {
            out.push(format!(
                "{} SMS never queued, {} queued but not sent",
                self.sms_missing, self.sms_unsent
            ));
        }
        if self.sms_duplicates > 0 {
            out.push(format!("{} duplicated SMS", self.sms_duplicates));
        }
        if self.double_changes > 0 {
            out.push(format!(
                "{} one-shot action(s) applied or acknowledged twice",
                self.double_changes
            ));
        }
        if self.verify == Some(false) {
            out.push(format!(
                "projections differ from a rebuild: {}",
                self.verify_line
            ));
        }
        out
    }
}

/// Runs every check. `received` is the SMS provider's record.
pub async fn check(
    pool: &PgPool,
    acks: &[Ack],
    received: &Received,
    binary: &Path,
    database_url: &str,
) -> anyhow::Result<Findings> {
    let mut f = Findings {
        acknowledged: acks.len(),
        ..Findings::default()
    };

    // Every acknowledged command: its event, on its entity, carrying its job.
    let rows: Vec<(i32, bool, Option<String>)> = sqlx::query_as(
        "SELECT a.n, EXISTS (SELECT 1 FROM events e WHERE e.aggregate_id = a.entity \
                AND e.event_type = a.event_type \
                AND (a.job IS NULL OR e.metadata->>'job_id' = a.job)), \
                (SELECT j.status FROM jobs j WHERE j.id = a.job) \
         FROM UNNEST($1::int[], $2::text[], $3::text[], $4::text[]) AS a(n, entity, event_type, job)",
    )
    .bind((0..acks.len() as i32).collect::<Vec<_>>())
    .bind(acks.iter().map(|a| a.entity.to_string()).collect::<Vec<_>>())
    .bind(acks.iter().map(|a| a.action.event_type()).collect::<Vec<_>>())
    .bind(acks.iter().map(|a| a.job.clone()).collect::<Vec<_>>())
    .fetch_all(pool)
    .await?;
    let mut acked_jobs_open = 0;
    for (n, present, job_status) in rows {
        let ack = &acks[n as usize];
        if present {
            f.found += 1;
        } else if f.missing.len() < 10 {
            f.missing
                .push(format!("{:?} {} job {:?}", ack.action, ack.entity, ack.job));
        }
        if ack.job.is_some() && job_status.as_deref() != Some("processed") {
            acked_jobs_open += 1;
        }
    }
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE status <> 'processed'")
        .fetch_one(pool)
        .await?;
    f.jobs_stuck = pending.max(acked_jobs_open);

    // SMS: one sent outbox row per event that asks for one (every resend; every recall, since the
    // data set's patient authenticates by OTP and no service request has a performer).
    let (expected, sent, missing, unsent, extra_rows): (i64, i64, i64, i64, i64) = sqlx::query_as(
        "WITH asked AS ( \
           SELECT global_position, CASE event_type WHEN 'ApprovalOtpResent' THEN 'otp' \
                  ELSE 'service_request_recalled' END AS kind FROM events \
           WHERE event_type IN ('ApprovalOtpResent', 'ServiceRequestRecalled')) \
         SELECT (SELECT count(*) FROM asked), \
                (SELECT count(*) FROM sms_outbox WHERE status = 'sent'), \
                (SELECT count(*) FROM asked a WHERE NOT EXISTS (SELECT 1 FROM sms_outbox s \
                   WHERE s.kind = a.kind AND s.source_position = a.global_position)), \
                (SELECT count(*) FROM sms_outbox WHERE status <> 'sent'), \
                (SELECT count(*) - count(DISTINCT (kind, source_position)) FROM sms_outbox)",
    )
    .fetch_one(pool)
    .await?;
    f.sms_expected = expected;
    f.sms_sent = sent;
    f.sms_missing = missing;
    f.sms_unsent = unsent;
    let ids: HashSet<Uuid> = sqlx::query_scalar("SELECT id FROM sms_outbox")
        .fetch_all(pool)
        .await?
        .into_iter()
        .collect();
    let strangers = received
        .by_key
        .keys()
        .filter(|k| Uuid::parse_str(k).map_or(true, |id| !ids.contains(&id)))
        .count() as i64;
    let undelivered: i64 =
        sqlx::query_scalar::<_, Uuid>("SELECT id FROM sms_outbox WHERE status = 'sent'")
            .fetch_all(pool)
            .await?
            .iter()
            .filter(|id| !received.by_key.contains_key(&id.to_string()))
            .count() as i64;
    f.sms_missing += undelivered;
    f.sms_duplicates = extra_rows + strangers;
    f.sms_redelivered = received.by_key.values().map(|n| n - 1).sum();
    f.sms_delivered = received.total;

    // One-shot actions: at most one event per entity in the log, at most one 2xx per entity.
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT aggregate_id, event_type FROM events \
         WHERE event_type IN ('ServiceRequestReleased', 'ServiceRequestRecalled', \
                              'DeviceDispenseStopped', 'MergeRequestRejected') \
         GROUP BY 1, 2 HAVING count(*) > 1) t",
    )
    .fetch_one(pool)
    .await?;
    let mut acked: HashMap<(Uuid, Action), usize> = HashMap::new();
    for ack in acks.iter().filter(|a| a.action.one_shot()) {
        *acked.entry((ack.entity, ack.action)).or_default() += 1;
    }
    f.double_changes = twice + acked.values().filter(|n| **n > 1).count() as i64;

    let (verify, line) = verify_projections(binary, database_url).await;
    f.verify = verify;
    f.verify_line = line;
    Ok(f)
}

/// `ehealth-es projections verify`, when the binary has it (another change adds it).
async fn verify_projections(binary: &Path, database_url: &str) -> (Option<bool>, String) {
    let help = tokio::process::Command::new(binary)
        .args(["projections", "--help"])
        .output()
        .await;
    if !help.is_ok_and(|o| o.status.success()) {
        return (None, "skipped: verify not available".into());
    }
    let out = tokio::process::Command::new(binary)
        .args(["projections", "verify"])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .output()
        .await;
    match out {
        Ok(o) => {
            let stdout = String::from_utf8_lossy(&o.stdout);
            let stderr = String::from_utf8_lossy(&o.stderr);
            let line = stdout
                .lines()
                .chain(stderr.lines())
                .rfind(|l| l.contains("difference") || l.contains("differ"))
                .or_else(|| stderr.lines().last())
                .unwrap_or("")
                .to_string();
            (Some(o.status.success()), line)
        }
        Err(e) => (Some(false), format!("could not run: {e}")),
    }
}
