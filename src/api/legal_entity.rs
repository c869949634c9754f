//! Checks on the caller's legal entity (the token's `client_id`), in the wording of each spec.

use uuid::Uuid;

use super::error::{ApiError, LE_NOT_ALLOWED};
use crate::app::AppState;

/// Release and Recall: the type is in `me_allowed_transactions_le_types` and the legal entity is
/// ACTIVE (and, for Recall, NHS-verified); else 409 `Action is not allowed for the legal entity`.
pub async fn require_allowed(
    app: &AppState,
    client_id: Uuid,
    nhs_verified: bool,
) -> Result<(), ApiError> {
    let allowed = app.reference.allowed_legal_entity_types().await?;
    let ok = app
        .reference
        .legal_entity(client_id)
        .await?
        .is_some_and(|le| {
            allowed.contains(&le.kind) && le.is_active() && (!nhs_verified || le.nhs_verified)
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::conflict(LE_NOT_ALLOWED))
    }
}

/// Stop device dispense (RС_[UPD]): type first, then status, each with its own message.
pub async fn require_allowed_for_device_dispense(
    app: &AppState,
    client_id: Uuid,
) -> Result<(), ApiError> {
    let allowed = app.reference.allowed_legal_entity_types().await?;
    let Some(le) = app.reference.legal_entity(client_id).await? else {
        return Err(ApiError::conflict(
            "client_id refers to legal entity that is not active",
        ));
    };
    if !allowed.contains(&le.kind) {
        return Err(ApiError::conflict("Invalid LegalEntity type"));
    }
    if !le.is_active() {
        return Err(ApiError::conflict(
            "client_id refers to legal entity that is not active",
        ));
    }
    Ok(())
}

/// Reject merge request: only EMERGENCY or OUTPATIENT legal entities that are ACTIVE.
pub async fn require_merge_request_legal_entity(
    app: &AppState,
    client_id: Uuid,
) -> Result<(), ApiError> {
    let ok = app
        .reference
        .legal_entity(client_id)
        .await?
        .is_some_and(|le| matches!(le.kind.as_str(), "EMERGENCY" | "OUTPATIENT") && le.is_active());
    if ok {
        Ok(())
    } else {
        Err(ApiError::conflict(LE_NOT_ALLOWED))
    }
}
