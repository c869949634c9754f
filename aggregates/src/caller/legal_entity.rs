//! The caller's legal entity (the token's `client_id`), in the wording of each action's spec.
//! `le` is `None` when the registry does not know it; `allowed_types` is the setting
//! `me_allowed_transactions_le_types`.

use super::CallerError;

/// The legal entity types that may reject a merge request.
pub const MERGE_REQUEST_TYPES: [&str; 2] = ["EMERGENCY", "OUTPATIENT"];

/// What the registry says of a legal entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalEntityFacts {
    /// `type` (`PRIMARY_CARE`, `OUTPATIENT`, `PHARMACY`, …).
    pub kind: String,
    pub status: String,
    pub nhs_verified: bool,
}

impl LegalEntityFacts {
    pub fn is_active(&self) -> bool {
        self.status.eq_ignore_ascii_case("ACTIVE")
    }

    fn type_allowed(&self, allowed_types: &[String]) -> bool {
        allowed_types.contains(&self.kind)
    }
}

/// Release: the type is allowed and the legal entity is ACTIVE, else 409 `Action is not allowed
/// for the legal entity`.
pub fn check_release(
    le: Option<&LegalEntityFacts>,
    allowed_types: &[String],
) -> Result<(), CallerError> {
    let ok = le.is_some_and(|le| le.type_allowed(allowed_types) && le.is_active());
    ok.then_some(()).ok_or(CallerError::LegalEntityNotAllowed)
}

/// Recall: as for release, and the legal entity is also NHS-verified.
pub fn check_recall(
    le: Option<&LegalEntityFacts>,
    allowed_types: &[String],
) -> Result<(), CallerError> {
    check_release(le, allowed_types)?;
    let verified = le.is_some_and(|le| le.nhs_verified);
    verified
        .then_some(())
        .ok_or(CallerError::LegalEntityNotAllowed)
}

/// Stop device dispense: an unknown legal entity is `not active`; then the type (`Invalid
/// LegalEntity type`), then the status (`client_id refers to legal entity that is not active`),
/// each its own 409.
pub fn check_stop_device_dispense(
    le: Option<&LegalEntityFacts>,
    allowed_types: &[String],
) -> Result<(), CallerError> {
    let le = le.ok_or(CallerError::LegalEntityNotActive)?;
    if !le.type_allowed(allowed_types) {
        return Err(CallerError::LegalEntityTypeInvalid);
    }
    if !le.is_active() {
        return Err(CallerError::LegalEntityNotActive);
    }
    Ok(())
}

/// Reject merge request: only an ACTIVE EMERGENCY or OUTPATIENT legal entity (the setting does
/// not apply), else 409 `Action is not allowed for the legal entity`.
pub fn check_reject_merge_request(le: Option<&LegalEntityFacts>) -> Result<(), CallerError> {
    let ok = le.is_some_and(|le| MERGE_REQUEST_TYPES.contains(&le.kind.as_str()) && le.is_active());
    ok.then_some(()).ok_or(CallerError::LegalEntityNotAllowed)
}
