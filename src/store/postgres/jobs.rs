//! Jobs on PostgreSQL. A job is finished once: its update is guarded by `status = (SELECT
//! 'pending')`, which keeps the guard out of reach of `jobs_pending_idx` so the job is found by
//! its primary key. With a plain `= 'pending'` the planner, estimating a handful of pending jobs,
//! scanned that partial index (a bitmap scan visits the entry of every job finished since the
//! last vacuum: bitmap scans never mark dead entries): 3–4 ms per batch under load instead of
//! ~0.1 (tests::finishing_jobs_reads_them_by_primary_key).

use sqlx::PgConnection;

use crate::store::jobs::{JobEnd, JobLink};

/// Written once for both backends, in `store::jobs`.
pub(super) use crate::store::jobs::PgJobs;

/// Finishes a pending job (a finished one is left as it is).
pub(super) async fn finish(
    conn: &mut PgConnection,
    job_id: &str,
    end: &JobEnd,
) -> Result<(), sqlx::Error> {
    match end {
        JobEnd::Processed => sqlx::query(
            "UPDATE jobs SET status = 'processed', status_code = 200, response_data = '\"\"', \
             updated_at = now() WHERE id = $1 AND status = (SELECT 'pending')",
        )
        .bind(job_id)
        .execute(conn)
        .await
        .map(drop),
        JobEnd::Failed { status_code, error } => sqlx::query(
            "UPDATE jobs SET status = 'failed', status_code = $2, error = $3, updated_at = now() \
             WHERE id = $1 AND status = (SELECT 'pending')",
        )
        .bind(job_id)
        .bind(status_code)
        .bind(error)
        .execute(conn)
        .await
        .map(drop),
    }
}

/// Jobs finished with a link to their entity, whose link names the patient, which the event does
/// not carry: one lookup for the whole batch and both entity kinds.
const FINISH_WITH_LINKS: &str = "UPDATE jobs SET status = 'processed', status_code = 200, updated_at = now(), \
     links = jsonb_build_array(jsonb_build_object('entity', u.entity, 'href', \
       '/api/patients/' || coalesce(sr.patient_id, dd.patient_id, '00000000-0000-0000-0000-000000000000'::uuid) \
       || '/' || u.entity || 's/' || u.entity_id)) \
     FROM UNNEST($1::text[], $2::text[], $3::uuid[]) AS u(job_id, entity, entity_id) \
     LEFT JOIN service_requests sr ON u.entity = 'service_request' AND sr.id = u.entity_id \
     LEFT JOIN device_dispenses dd ON u.entity = 'device_dispense' AND dd.id = u.entity_id \
     WHERE jobs.id = u.job_id AND jobs.status = (SELECT 'pending')";

/// Finishes the jobs of `links` with their links, in one statement.
pub(super) async fn finish_with_links(
    conn: &mut PgConnection,
    links: &[JobLink],
) -> Result<(), sqlx::Error> {
    if links.is_empty() {
        return Ok(());
    }
    sqlx::query(FINISH_WITH_LINKS)
        .bind(links.iter().map(|l| l.job_id.as_str()).collect::<Vec<_>>())
        .bind(links.iter().map(|l| l.entity).collect::<Vec<_>>())
        .bind(links.iter().map(|l| l.entity_id).collect::<Vec<_>>())
        .execute(conn)
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use sqlx::PgPool;
    use uuid::Uuid;

    use super::*;

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
        let pool = super::super::test_database("ehealth_fx", 2).await;
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
