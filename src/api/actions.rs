//! What every action shares: the Idempotency-Key (a retried request returns the first answer and
//! appends nothing; the same key with another request is 422), the job of async actions and its
//! deduplication (a request for a command whose job is still pending is answered with that job
//! and appends nothing), and the command's metadata (who, on whose authority, through which
//! request).

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::envelope::ApiResponse;
use super::error::ApiError;
use super::extract::Caller;
use crate::app::AppState;
use crate::commands::{CommandError, CommandMeta, Routed};
use crate::jobs::{self, JobSpec};
use crate::store::{CommandContext, JobQuery, NewJob};

/// Timestamps are kept at microsecond precision, the precision PostgreSQL stores.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// What became of an action.
pub enum Outcome {
    /// The command was executed now; `response` is the 202 of an async action.
    Executed {
        response: Option<ApiResponse>,
        command_id: Option<String>,
    },
    /// The request was answered before: the first answer to its Idempotency-Key (if it was
    /// stored), or the job of the same command, still pending.
    Replayed(Option<ApiResponse>),
}

impl Outcome {
    /// The answer of an async action: its 202, or the first answer of a retried request.
    pub fn into_accepted(self) -> ApiResponse {
        match self {
            Outcome::Executed { response, .. } | Outcome::Replayed(response) => response,
        }
        .unwrap_or_else(|| ApiResponse::new(StatusCode::ACCEPTED, json!({ "status": "pending" })))
    }
}

fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0]);
    hasher.update(path.as_bytes());
    hasher.update([0]);
    hasher.update(body);
    hex::encode(hasher.finalize())
}

async fn stored_answer(
    app: &AppState,
    command_id: &str,
    request_hash: &str,
) -> Result<Option<Option<ApiResponse>>, ApiError> {
    let Some(processed) = app.store.idempotency.processed(command_id).await? else {
        return Ok(None);
    };
    if processed.request_hash != request_hash {
        return Err(ApiError::invalid(
            "$.headers.idempotency-key",
            "unique",
            "Idempotency-Key has already been used for a different request",
            json!([]),
        ));
    }
    Ok(Some(processed.response.and_then(|r| {
        let status = StatusCode::from_u16(r.get("status")?.as_u64()? as u16).ok()?;
        Some(ApiResponse::new(status, r.get("data")?.clone()))
    })))
}

/// Stores the answer of a sync action for later retries with the same key.
pub async fn remember_answer(app: &AppState, command_id: &str, status: StatusCode, data: &Value) {
    let response = json!({ "status": status.as_u16(), "data": data });
    let stored = app
        .store
        .idempotency
        .remember_response(command_id, response)
        .await;
    if let Err(err) = stored {
        // The key is recorded already; a retry re-renders the entity instead of replaying.
        tracing::warn!(error = %err, "could not store the answer of an idempotent request");
    }
}

pub struct ActionRequest<'a> {
    pub caller: &'a Caller,
    pub method: &'static str,
    pub path: String,
    pub body: &'a [u8],
    /// For async actions, which answer 202 with a job: the action and its parameters.
    pub job: Option<JobSpec>,
}

fn command_key(req: &ActionRequest<'_>) -> Option<String> {
    let identity = &req.caller.identity;
    req.caller
        .idempotency_key
        .as_ref()
        .map(|key| format!("{}:{}:{key}", identity.client_id, identity.user_id))
}

/// The key of a request's command for job deduplication; none with an Idempotency-Key, which
/// alone decides what a retry of such a request gets.
fn dedup_key(caller: &Caller, job: &JobSpec) -> Option<String> {
    if caller.idempotency_key.is_some() {
        return None;
    }
    job.key(caller.identity.user_id, caller.identity.client_id)
}

/// The job of a command key, rendered as `GET /api/jobs/{id}` renders it now.
async fn job_answer(
    app: &AppState,
    caller: &Caller,
    job: JobQuery<'_>,
) -> Result<Option<ApiResponse>, ApiError> {
    Ok(super::jobs::read(app, job, caller.identity.client_id)
        .await?
        .map(|view| super::jobs::respond(&view)))
}

/// The job of the same command (same action, user, legal entity and parameters) while it is
/// pending, as `GET /api/jobs/{id}` renders it: the answer to a request for a command already
/// under way, which then appends nothing. Actions call this after their token, scope and body
/// checks and before any check of stored state, which the first request may already have changed.
/// `None` for a request with an Idempotency-Key.
pub async fn pending_job(
    app: &AppState,
    caller: &Caller,
    job: &JobSpec,
) -> Result<Option<ApiResponse>, ApiError> {
    match dedup_key(caller, job) {
        Some(key) => job_answer(app, caller, JobQuery::Pending(&key)).await,
        None => Ok(None),
    }
}

/// The answer to a request refused by its entity's state (`err`): the same command's job if it is
/// pending, else `err`. A request that passed [`pending_job`] while its twin was committing finds
/// the state its twin changed; it is the same command, so it gets the twin's job.
pub async fn refused(
    app: &AppState,
    req: &ActionRequest<'_>,
    err: ApiError,
) -> Result<ApiResponse, ApiError> {
    if let Some(job) = &req.job {
        if let Some(answer) = pending_job(app, req.caller, job).await? {
            return Ok(answer);
        }
    }
    Err(err)
}

/// The first answer to a request retried with the same Idempotency-Key, if there was one; 422 when
/// the key was used for another request. Actions that check the entity's state before executing
/// call this first: a retry must get the first answer even though the state has moved on.
pub async fn replay(
    app: &AppState,
    req: &ActionRequest<'_>,
) -> Result<Option<ApiResponse>, ApiError> {
    let Some(command_id) = command_key(req) else {
        return Ok(None);
    };
    let request_hash = fingerprint(req.method, &req.path, req.body);
    Ok(stored_answer(app, &command_id, &request_hash)
        .await?
        .map(|answer| Outcome::Replayed(answer).into_accepted()))
}

/// Runs an action's command with its idempotency record and job, in the append transaction.
pub async fn run<A>(
    app: &Arc<AppState>,
    req: ActionRequest<'_>,
    aggregate_id: Uuid,
    command: A::Command,
) -> Result<Outcome, ApiError>
where
    A: Routed,
    A::Command: Clone + Send + Sync + 'static,
    A::Error: Send + 'static + Into<ApiError>,
{
    let identity = &req.caller.identity;
    let request_hash = fingerprint(req.method, &req.path, req.body);
    let command_key = command_key(&req);
    if let Some(command_id) = &command_key {
        if let Some(answer) = stored_answer(app, command_id, &request_hash).await? {
            return Ok(Outcome::Replayed(answer));
        }
    }

    let at = now();
    let dedup = req.job.as_ref().and_then(|job| dedup_key(req.caller, job));
    let job = req.job.as_ref().map(|spec| NewJob {
        id: jobs::new_job_id(),
        legal_entity_id: identity.client_id,
        user_id: identity.user_id,
        action: spec.action,
        eta: at + Duration::seconds(60),
        dedup_key: dedup.clone(),
    });
    let accepted = job.as_ref().map(jobs::accepted_response);
    let stored_response = accepted
        .as_ref()
        .map(|r| json!({ "status": 202, "data": r.body.get("data") }));
    let command_id = command_key
        .clone()
        .unwrap_or_else(|| Uuid::new_v4().to_string());
    let meta = CommandMeta {
        user_id: identity.user_id,
        client_id: identity.client_id,
        request_id: req.caller.meta.request_id.clone(),
        command_id: command_id.clone(),
        correlation_id: req.caller.meta.request_id.clone(),
        causation_id: command_id.clone(),
        at,
        job_id: job.as_ref().map(|j| j.id.clone()),
    };
    let context = CommandContext::new(
        command_key
            .clone()
            .map(|key| (key, request_hash.clone(), stored_response)),
        job,
    );
    match app
        .bus
        .execute::<A>(aggregate_id, command, meta, context)
        .await
    {
        Ok(_) => Ok(Outcome::Executed {
            response: accepted,
            command_id: command_key,
        }),
        Err(CommandError::DuplicateCommand) => {
            // The same key committed concurrently: answer as a retry would be answered.
            let key = command_key.unwrap_or_default();
            let answer = stored_answer(app, &key, &request_hash).await?;
            Ok(Outcome::Replayed(answer.flatten()))
        }
        Err(CommandError::DuplicateJob) => {
            // The same command's job was pending when this one was written: a twin request
            // committed first. Its job, pending or (if it finished meanwhile) as it ended.
            let key = dedup.unwrap_or_default();
            match job_answer(app, req.caller, JobQuery::Latest(&key)).await? {
                Some(answer) => Ok(Outcome::Replayed(Some(answer))),
                None => Err(CommandError::<A::Error>::DuplicateJob.into()),
            }
        }
        Err(err @ (CommandError::Rejected(_) | CommandError::Conflict)) => {
            // A duplicate of a request that committed while this one was being decided: the state
            // has moved on, but the key says this is a retry, so it gets the first answer.
            if let Some(key) = &command_key {
                if let Some(answer) = stored_answer(app, key, &request_hash).await? {
                    return Ok(Outcome::Replayed(answer));
                }
            }
            // The same for the same command without a key, while its job is pending.
            if let Some(key) = &dedup {
                if let Some(answer) = job_answer(app, req.caller, JobQuery::Pending(key)).await? {
                    return Ok(Outcome::Replayed(Some(answer)));
                }
            }
            Err(err.into())
        }
        Err(err) => Err(err.into()),
    }
}
