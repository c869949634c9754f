//! Why a command on a service request is refused. The HTTP layer maps each variant to its status,
//! `error.type` and message in one place (`src/api/error.rs`).

use super::signed_content::Invalid;
use super::state::ServiceRequestStatus;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServiceRequestError {
    #[error("Service request not found")]
    NotFound,
    #[error("Service request is expired")]
    ReleaseExpired,
    #[error("Invalid service request status")]
    ReleaseInvalidStatus,
    #[error("Invalid program processing status")]
    ReleaseInvalidProgramProcessingStatus,
    #[error("Service request is used by another legal entity")]
    ReleaseUsedByAnotherLegalEntity,
    #[error("Only an employee from legal entity where service request is created can recall service request")]
    RecallNotRequesterLegalEntity,
    /// The signed content breaks eHealth's signed-content schema: every violation, in order.
    #[error("{}", describe_invalid(.0))]
    RecallContentInvalid(Vec<Invalid>),
    #[error("Does not match the signer drfo")]
    RecallDrfoMismatch,
    #[error("Employees related to this party_id not in current MSP")]
    RecallEmployeeNotInMsp,
    #[error("Service request in status {} cannot be recalled", .0.as_str())]
    RecallInvalidStatus(ServiceRequestStatus),
    #[error("value is not allowed in enum")]
    RecallReasonNotAllowed { entry: String, allowed: Vec<String> },
    #[error("Signed content id does not match the service request in the URL")]
    RecallContentIdMismatch,
    #[error("Signed content doesn't match with previously created service request")]
    RecallContentMismatch,
}

/// The message of a schema refusal: the violation's own text when there is one, else eHealth's
/// generic one.
fn describe_invalid(invalid: &[Invalid]) -> String {
    match invalid {
        [one] => one.description.clone(),
        _ => VALIDATION_FAILED.to_string(),
    }
}

/// eHealth's message of a refusal that lists several violations.
pub const VALIDATION_FAILED: &str = "Validation failed. You can find validators description at our API Manifest: http://docs.apimanifest.apiary.io/#introduction/interacting-with-api/errors.";
