//! Why a command on a service request is refused. The HTTP layer maps each variant to its status,
//! `error.type` and message in one place (`src/api/error.rs`).

use super::state::ServiceRequestStatus;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServiceRequestError {
    #[error("Service request not found")]
    NotFound,
    #[error("Invalid service request status")]
    ReleaseInvalidStatus,
    #[error("Invalid program processing status")]
    ReleaseInvalidProgramProcessingStatus,
    #[error("Service request is used by another legal entity")]
    ReleaseUsedByAnotherLegalEntity,
    #[error("Only an employee from legal entity where service request is created can recall service request")]
    RecallNotRequesterLegalEntity,
    #[error("Does not match the signer drfo")]
    RecallDrfoMismatch,
    #[error("Employees related to this party_id not in current MSP")]
    RecallEmployeeNotInMsp,
    #[error("Service request in status {} cannot be recalled", .0.as_str())]
    RecallInvalidStatus(ServiceRequestStatus),
    /// `entry` is the JSONPath of the offending value inside the signed content.
    #[error("required property status_reason was not present")]
    RecallReasonMissing { entry: String },
    #[error("value is not allowed in enum")]
    RecallReasonNotAllowed { entry: String, allowed: Vec<String> },
    #[error("Signed content id does not match the service request in the URL")]
    RecallContentIdMismatch,
    #[error("Signed content doesn't match with previously created service request")]
    RecallContentMismatch,
}
