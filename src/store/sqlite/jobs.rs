//! Jobs on SQLite. A job is finished once (`status = 'pending'` guards every update).

use sqlx::types::Json;
use sqlx::SqliteConnection;

use crate::db::sqlite::{id, ts};
use crate::store::jobs::{JobEnd, JobLink};

/// Written once for both backends, in `store::jobs`.
pub(super) use crate::store::jobs::SqliteJobs;

/// Finishes a pending job (a finished one is left as it is).
pub(super) async fn finish(
    conn: &mut SqliteConnection,
    job_id: &str,
    end: &JobEnd,
) -> Result<(), sqlx::Error> {
    let now = ts(chrono::Utc::now());
    match end {
        JobEnd::Processed => sqlx::query(
            "UPDATE jobs SET status = 'processed', status_code = 200, response_data = '\"\"', \
             updated_at = $2 WHERE id = $1 AND status = 'pending'",
        )
        .bind(job_id)
        .bind(now)
        .execute(conn)
        .await
        .map(drop),
        JobEnd::Failed { status_code, error } => sqlx::query(
            "UPDATE jobs SET status = 'failed', status_code = $2, error = $3, updated_at = $4 \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(job_id)
        .bind(status_code)
        .bind(Json(error))
        .bind(now)
        .execute(conn)
        .await
        .map(drop),
    }
}

/// Finishes the jobs of `links` with their links (which name the patient, which the event does
/// not carry), one statement per job.
pub(super) async fn finish_with_links(
    conn: &mut SqliteConnection,
    links: &[JobLink],
    now: &str,
) -> Result<(), sqlx::Error> {
    for link in links {
        sqlx::query(
            "UPDATE jobs SET status = 'processed', status_code = 200, updated_at = $4, \
             links = json_array(json_object('entity', $2, 'href', '/api/patients/' || \
               coalesce((SELECT patient_id FROM service_requests WHERE $2 = 'service_request' AND id = $3), \
                        (SELECT patient_id FROM device_dispenses WHERE $2 = 'device_dispense' AND id = $3), \
                        '00000000-0000-0000-0000-000000000000') \
               || '/' || $2 || 's/' || $3)) \
             WHERE id = $1 AND status = 'pending'",
        )
        .bind(&link.job_id)
        .bind(link.entity)
        .bind(id(link.entity_id))
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
