//! The facts the caller rules (`ehealth_aggregates::caller`) decide on, read from the reference
//! data: the handlers read them in the order their action checks them, and the domain decides.

use ehealth_aggregates::caller::{CallerError, EmployeeFacts, LegalEntityFacts};
use ehealth_aggregates::ids::{LegalEntityId, UserId};

use super::error::ApiError;
use crate::app::AppState;

/// An action's rule on the caller's legal entity (`check`, one of
/// `ehealth_aggregates::caller::legal_entity`), judged on `me_allowed_transactions_le_types` and
/// the legal entity as the registry knows it.
pub async fn check_legal_entity(
    app: &AppState,
    id: LegalEntityId,
    check: fn(Option<&LegalEntityFacts>, &[String]) -> Result<(), CallerError>,
) -> Result<(), ApiError> {
    let allowed_types = app.reference.allowed_legal_entity_types().await?;
    let le = legal_entity(app, id).await?;
    Ok(check(le.as_ref(), &allowed_types)?)
}

/// The legal entity, `None` when the registry does not know it.
pub async fn legal_entity(
    app: &AppState,
    id: LegalEntityId,
) -> Result<Option<LegalEntityFacts>, ApiError> {
    Ok(app
        .reference
        .legal_entity(id.uuid())
        .await?
        .map(|le| LegalEntityFacts {
            kind: le.kind,
            status: le.status,
            nhs_verified: le.nhs_verified,
        }))
}

/// The employees of the user's party in the legal entity.
pub async fn employees(
    app: &AppState,
    user: UserId,
    legal_entity: LegalEntityId,
) -> Result<Vec<EmployeeFacts>, ApiError> {
    Ok(app
        .reference
        .user_employees(user.uuid(), legal_entity.uuid())
        .await?
        .into_iter()
        .map(|e| EmployeeFacts {
            id: e.id.into(),
            kind: e.employee_type,
            status: e.status,
        })
        .collect())
}
