//! The party behind the calling user, and the patient.

use chrono::NaiveDate;

use super::CallerError;

/// What the registry says of the party behind the calling user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartyFacts {
    /// `VERIFIED`, `VERIFICATION_NEEDED` or `NOT_VERIFIED`; absent means verified (registries that
    /// predate party verification carry none).
    pub verification_status: Option<String>,
    pub death_date: Option<NaiveDate>,
}

/// What the registry says of the patient (MPI person).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientFacts {
    pub status: String,
}

/// Recall: the caller's party may act: it is not refused verification (`NOT_VERIFIED`; a party
/// whose verification is merely pending still acts, as in eHealth) and it has not died. A user
/// without a party in the registry has nothing to check here; the employee rules refuse it later.
pub fn check_party(party: Option<&PartyFacts>, today: NaiveDate) -> Result<(), CallerError> {
    let Some(party) = party else {
        return Ok(());
    };
    if party
        .verification_status
        .as_deref()
        .is_some_and(|s| s.eq_ignore_ascii_case("NOT_VERIFIED"))
    {
        return Err(CallerError::PartyNotVerified);
    }
    if party.death_date.is_some_and(|died| died <= today) {
        return Err(CallerError::PartyDeceased);
    }
    Ok(())
}

/// The patient exists (404 `Person not found`): answers it, in whatever form the caller read it.
/// Resend checks this before the approval, and whether the person is active after it.
pub fn patient_exists<P>(patient: Option<P>) -> Result<P, CallerError> {
    patient.ok_or(CallerError::PersonNotFound)
}

/// The patient is active (409 `Person is not active`).
pub fn patient_active(patient: &PatientFacts) -> Result<(), CallerError> {
    if patient.status.eq_ignore_ascii_case("active") {
        Ok(())
    } else {
        Err(CallerError::PersonNotActive)
    }
}

/// Recall: the patient exists (404) and is active (409), one after the other.
pub fn check_patient(patient: Option<&PatientFacts>) -> Result<(), CallerError> {
    patient_active(patient_exists(patient)?)
}
