//! Async jobs (`jobs`): created pending by the append of their command ([`super::NewJob`]),
//! finished by the workers in the transaction of what finishes them (the effects worker's pass,
//! the SMS dispatcher's send), read by `GET /api/jobs/{id}` and by the deduplication of a request
//! whose command is still under way.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, PgPool, Row, Type};
use uuid::fmt::Hyphenated;
use uuid::Uuid;

use crate::db::{Lite, Pooled};

#[async_trait]
pub trait Jobs: Send + Sync {
    /// The job `which` of `legal_entity` (the only one that may read it).
    async fn find(
        &self,
        which: JobQuery<'_>,
        legal_entity: Uuid,
    ) -> Result<Option<JobView>, sqlx::Error>;
}

/// Which job to read.
#[derive(Debug, Clone, Copy)]
pub enum JobQuery<'a> {
    Id(&'a str),
    /// The pending job of a command key.
    Pending(&'a str),
    /// The job of a command key: the pending one, else the newest.
    Latest(&'a str),
}

/// A job row as `GET /api/jobs/{id}` renders it (`crate::jobs`).
pub struct JobView {
    pub id: String,
    pub status: String,
    pub status_code: Option<i32>,
    pub eta: DateTime<Utc>,
    pub links: Option<Value>,
    pub response_data: Option<Value>,
    pub error: Option<Value>,
}

/// How a job ends.
#[derive(Debug)]
pub enum JobEnd {
    Processed,
    Failed { status_code: i32, error: Value },
}

/// A job finished by its event, with a link to its entity (`/api/patients/{patient}/{entity}s/{id}`).
pub struct JobLink {
    pub job_id: String,
    /// `service_request` or `device_dispense`.
    pub entity: &'static str,
    pub entity_id: Uuid,
}

impl JobQuery<'_> {
    /// The statement (the same on both backends) and the value it binds first; the legal entity
    /// is bound second.
    pub(super) fn sql(&self) -> (&'static str, &str) {
        match *self {
            JobQuery::Id(id) => (
                "SELECT id, status, status_code, eta, links, response_data, error FROM jobs \
                 WHERE id = $1 AND legal_entity_id = $2",
                id,
            ),
            JobQuery::Pending(key) => (
                "SELECT id, status, status_code, eta, links, response_data, error FROM jobs \
                 WHERE dedup_key = $1 AND legal_entity_id = $2 AND status = 'pending'",
                key,
            ),
            JobQuery::Latest(key) => (
                "SELECT id, status, status_code, eta, links, response_data, error FROM jobs \
                 WHERE dedup_key = $1 AND legal_entity_id = $2 \
                 ORDER BY status = 'pending' DESC, inserted_at DESC LIMIT 1",
                key,
            ),
        }
    }
}

impl JobView {
    /// A row of [`JobQuery::sql`], on either backend (JSON decodes from `jsonb` and from text
    /// alike).
    fn read<'r, R: Row>(row: &'r R) -> Self
    where
        &'static str: ColumnIndex<R>,
        String: Decode<'r, R::Database> + Type<R::Database>,
        Option<i32>: Decode<'r, R::Database> + Type<R::Database>,
        DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
        Option<Json<Value>>: Decode<'r, R::Database> + Type<R::Database>,
    {
        let json = |column: &'static str| row.get::<Option<Json<Value>>, _>(column).map(|j| j.0);
        JobView {
            id: row.get("id"),
            status: row.get("status"),
            status_code: row.get("status_code"),
            eta: row.get("eta"),
            links: json("links"),
            response_data: json("response_data"),
            error: json("error"),
        }
    }
}

/// The [`Jobs`] of a backend: `$name` over its handle `$handle`, which stores uuids as `$uuid`.
/// The statements and the reading of their rows are the same on both backends; only the legal
/// entity is bound as the backend stores uuids.
macro_rules! jobs {
    ($name:ident($handle:ty), uuid: $uuid:ty) => {
        pub(crate) struct $name(pub $handle);

        #[async_trait]
        impl Jobs for $name {
            async fn find(
                &self,
                which: JobQuery<'_>,
                legal_entity: Uuid,
            ) -> Result<Option<JobView>, sqlx::Error> {
                let (sql, value) = which.sql();
                let row = sqlx::query(sql)
                    .bind(value)
                    .bind(<$uuid>::from(legal_entity))
                    .fetch_optional(Pooled::pool(&self.0))
                    .await?;
                Ok(row.as_ref().map(JobView::read))
            }
        }
    };
}

jobs!(PgJobs(PgPool), uuid: Uuid);
jobs!(SqliteJobs(Lite), uuid: Hyphenated);

/// Jobs waiting for their processing.
pub(super) const PENDING: &str = "SELECT count(*) FROM jobs WHERE status = 'pending'";
