//! Every error the API answers, and the one place where domain errors become a status,
//! `error.type` and message (eHealth's types: `access_denied` 401, `forbidden` 403, `not_found`
//! 404, `request_conflict` 409, `validation_failed` 422, …).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ehealth_aggregates::approval::ApprovalError;
use ehealth_aggregates::caller::CallerError;
use ehealth_aggregates::care_plan_activity::CarePlanActivityError;
use ehealth_aggregates::device_dispense::DeviceDispenseError;
use ehealth_aggregates::merge_request::MergeRequestError;
use ehealth_aggregates::service_request::ServiceRequestError;
use serde_json::{json, Map, Value};

use super::envelope::PendingBody;
use crate::commands::CommandError;

pub const VALIDATION_FAILED: &str = "Validation failed. You can find validators description at our API Manifest: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors.";
pub const MALFORMED_JSON: &str = "Malformed request. Probably, you have sent corrupted JSON.";
/// The answer while the database cannot serve: nothing was done, the client may retry.
pub const UNAVAILABLE: &str = "Service temporarily unavailable, please retry";
/// The answer when an action's deadline passed while its commit was in flight.
pub const OUTCOME_UNKNOWN: &str = "Service temporarily unavailable, please retry. The request may \
still have been carried out: retry it with the same Idempotency-Key (or, without one, the same \
request: a pending job of the same command is answered), or look for its request id in the \
entity's history";
/// Seconds a client is asked to wait before retrying a 503.
pub const RETRY_AFTER_SECONDS: u64 = 1;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
    pub invalid: Option<Vec<Value>>,
    /// Seconds for the `Retry-After` header (429).
    pub retry_after: Option<u64>,
}

/// One `invalid[]` entry for a JSON body property.
pub fn invalid_entry(entry: &str, rule: &str, description: &str, params: Value) -> Value {
    json!({
        "entry_type": "json_data_property",
        "entry": entry,
        "rules": [ { "rule": rule, "description": description, "params": params } ]
    })
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            invalid: None,
            retry_after: None,
        }
    }

    pub fn unauthorized(message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "access_denied", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn missing_scopes(missing: &[String]) -> Self {
        Self::forbidden(format!(
            "Your scope does not allow to access this resource. Missing allowances: {}",
            missing.join(", ")
        ))
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "request_conflict", message)
    }

    /// 429 of the OTP service's initialisation limit, with the seconds left in `Retry-After`.
    pub fn too_many_requests(retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "too many requests",
        );
        e.retry_after = Some(retry_after);
        e
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::BAD_REQUEST, "request_malformed", message);
        e.invalid = Some(vec![
            json!({"entry_type": "request", "rules": [{"rule": "json"}]}),
        ]);
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "request_malformed", message)
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_invalid",
            "Invalid Content-Type header. Try to set 'Content-Type: application/json' header: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/content-type.",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method not allowed",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request_too_large",
            "Request body is too large",
        )
    }

    /// 422 with one rule on one property; the rule's description is also the message.
    pub fn invalid(entry: &str, rule: &str, description: &str, params: Value) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            description,
        );
        e.invalid = Some(vec![invalid_entry(entry, rule, description, params)]);
        e
    }

    /// 422 with several schema violations and eHealth's generic message.
    pub fn validation(invalid: Vec<Value>) -> Self {
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            VALIDATION_FAILED,
        );
        e.invalid = Some(invalid);
        e
    }

    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            message,
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "internal_error", message);
        e.retry_after = Some(RETRY_AFTER_SECONDS);
        e
    }

    /// 503: the database cannot serve now; nothing was done.
    pub fn database_unavailable() -> Self {
        Self::unavailable(UNAVAILABLE)
    }

    /// 503 for a request that ran out of time: a read did nothing, an action may have committed.
    pub fn timed_out(action: bool) -> Self {
        Self::unavailable(if action { OUTCOME_UNKNOWN } else { UNAVAILABLE })
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal server error",
        )
    }

    pub fn internal_with(message: &str) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    /// The `error` object of the envelope.
    pub fn to_json(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind));
        error.insert("message".into(), json!(self.message));
        if let Some(invalid) = &self.invalid {
            error.insert("invalid".into(), json!(invalid));
        }
        Value::Object(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), self.to_json());
        let mut response = self.status.into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(seconds),
            );
        }
        response.extensions_mut().insert(PendingBody(body));
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if crate::commands::database_unavailable(&err) {
            // The database's state changes are logged once each (`db_health`); not per request.
            tracing::debug!(error = %err, "database unavailable");
            ApiError::database_unavailable()
        } else {
            tracing::error!(error = %err, "database error");
            ApiError::internal()
        }
    }
}

impl<E: Into<ApiError>> From<CommandError<E>> for ApiError {
    fn from(err: CommandError<E>) -> Self {
        match err {
            CommandError::Rejected(e) => e.into(),
            // `DuplicateJob` is answered with the pending job (api/actions.rs); only if that job
            // cannot be read is it a conflict.
            CommandError::Conflict | CommandError::DuplicateJob => ApiError::conflict(
                "The request could not be completed due to a conflict with the current state of the resource. Please retry.",
            ),
            CommandError::DuplicateCommand => ApiError::conflict("A request with this Idempotency-Key is being processed"),
            CommandError::Unavailable(msg) => {
                tracing::debug!(error = %msg, "database unavailable");
                ApiError::database_unavailable()
            }
            CommandError::OutcomeUnknown(msg) => {
                tracing::debug!(error = %msg, "commit outcome unknown");
                ApiError::timed_out(true)
            }
            CommandError::Internal(msg) => {
                tracing::error!(error = %msg, "command failed");
                ApiError::internal()
            }
        }
    }
}

impl From<ServiceRequestError> for ApiError {
    fn from(err: ServiceRequestError) -> Self {
        use ServiceRequestError as E;
        let message = err.to_string();
        match err {
            E::NotFound => ApiError::not_found(message),
            E::ReleaseExpired
            | E::ReleaseInvalidStatus
            | E::ReleaseInvalidProgramProcessingStatus
            | E::ReleaseUsedByAnotherLegalEntity
            | E::RecallNotRequesterLegalEntity
            | E::RecallEmployeeNotInMsp
            | E::RecallInvalidStatus(_) => ApiError::conflict(message),
            E::RecallDrfoMismatch | E::RecallContentIdMismatch | E::RecallContentMismatch => {
                ApiError::invalid("$.signed_data", "invalid", &message, json!([]))
            }
            E::RecallReasonNotAllowed { entry, allowed } => {
                ApiError::invalid(&entry, "inclusion", &message, json!(allowed))
            }
            E::RecallContentInvalid(invalid) => match invalid.as_slice() {
                [one] => {
                    ApiError::invalid(&one.entry, &one.rule, &one.description, one.params.clone())
                }
                many => ApiError::validation(
                    many.iter()
                        .map(|i| invalid_entry(&i.entry, &i.rule, &i.description, i.params.clone()))
                        .collect(),
                ),
            },
        }
    }
}

impl From<CarePlanActivityError> for ApiError {
    fn from(err: CarePlanActivityError) -> Self {
        let message = err.to_string();
        match err {
            CarePlanActivityError::NotFound => ApiError::not_found(message),
            CarePlanActivityError::FinalStatus(_)
            | CarePlanActivityError::QuantityNotPositive
            | CarePlanActivityError::UnitsDiffer => ApiError::conflict(message),
        }
    }
}

impl From<CallerError> for ApiError {
    fn from(err: CallerError) -> Self {
        let message = err.to_string();
        match err {
            CallerError::PartyNotVerified
            | CallerError::PartyDeceased
            | CallerError::EmployeeMayNotRejectMergeRequest => ApiError::forbidden(message),
            CallerError::PersonNotFound => ApiError::not_found(message),
            CallerError::LegalEntityNotAllowed
            | CallerError::LegalEntityTypeInvalid
            | CallerError::LegalEntityNotActive
            | CallerError::PersonNotActive => ApiError::conflict(message),
        }
    }
}

impl From<MergeRequestError> for ApiError {
    fn from(err: MergeRequestError) -> Self {
        let message = err.to_string();
        match err {
            MergeRequestError::NotFound => ApiError::not_found(message),
            MergeRequestError::NotAuthor => ApiError::forbidden(message),
            MergeRequestError::OtherLegalEntity => ApiError::unprocessable(message),
            MergeRequestError::InvalidStatus => ApiError::conflict(message),
        }
    }
}

impl From<DeviceDispenseError> for ApiError {
    fn from(err: DeviceDispenseError) -> Self {
        let message = err.to_string();
        match err {
            DeviceDispenseError::NotFound => ApiError::not_found(message),
            DeviceDispenseError::BelongsToAnotherLegalEntity
            | DeviceDispenseError::InvalidStatus(_) => ApiError::conflict(message),
        }
    }
}

impl From<ApprovalError> for ApiError {
    fn from(err: ApprovalError) -> Self {
        let message = err.to_string();
        match err {
            ApprovalError::NotFound => ApiError::not_found(message),
            ApprovalError::ResendNotAllowed
            | ApprovalError::InvalidStatus(_)
            | ApprovalError::BelongsToAnotherLegalEntity => ApiError::conflict(message),
        }
    }
}
