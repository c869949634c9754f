//! Rules about who acts and for whom, that do not depend on the entity acted on: the caller's
//! legal entity (the token's `client_id`), the user's employees there, the party behind the user,
//! and the patient. The service resolves the facts from the registries' local copy and passes
//! them in; these functions decide, so every action applies them the same way and each is
//! unit-tested without a database. Each action's own wording is kept: the functions are named
//! for the action whose rule they are.
//!
//! The rules about the entity's state are the aggregates' (`check_*` on each aggregate); an
//! action checks the caller first, in the order `docs/rules.md` lists.

pub mod employee;
pub mod legal_entity;
pub mod party;
#[cfg(test)]
mod tests;

pub use employee::EmployeeFacts;
pub use legal_entity::LegalEntityFacts;
pub use party::{check_party, check_patient, PartyFacts, PatientFacts};

/// Why the caller may not act. The HTTP layer maps each to its status, `error.type` and message
/// in one place (`src/api/error.rs`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    /// 409: the legal entity's type is not allowed, or it is not ACTIVE (or, for a recall, not
    /// NHS-verified). Release, recall and reject merge request.
    #[error("Action is not allowed for the legal entity")]
    LegalEntityNotAllowed,
    /// 409, stop device dispense: the type is not in `me_allowed_transactions_le_types`.
    #[error("Invalid LegalEntity type")]
    LegalEntityTypeInvalid,
    /// 409, stop device dispense: the legal entity is unknown or not ACTIVE.
    #[error("client_id refers to legal entity that is not active")]
    LegalEntityNotActive,
    /// 403, reject merge request: the user has no APPROVED employee of an allowed type there.
    #[error("Only SPECIALIST, ASSISTANT or RECEPTIONIST employees can reject merge requests")]
    EmployeeMayNotRejectMergeRequest,
    #[error("Access denied. Party is not verified")]
    PartyNotVerified,
    #[error("Access denied. Party is deceased")]
    PartyDeceased,
    #[error("Person not found")]
    PersonNotFound,
    #[error("Person is not active")]
    PersonNotActive,
}
