//! Rules about who acts and for whom, that do not depend on the entity acted on: the caller's
//! party (the person behind the user) and the patient. The service resolves the facts from the
//! registries' local copy and these functions decide, so every action applies them the same way.

use chrono::NaiveDate;

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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallerError {
    #[error("Access denied. Party is not verified")]
    PartyNotVerified,
    #[error("Access denied. Party is deceased")]
    PartyDeceased,
    #[error("Person not found")]
    PersonNotFound,
    #[error("Person is not active")]
    PersonNotActive,
}

/// The caller's party may act: it is not refused verification (`NOT_VERIFIED`; a party whose
/// verification is merely pending still acts, as in eHealth) and it has not died. A user without
/// a party in the registry has nothing to check here; the employee rules refuse it later.
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

/// The patient exists (404) and is active (409 `Person is not active`).
pub fn check_patient(patient: Option<&PatientFacts>) -> Result<(), CallerError> {
    match patient {
        None => Err(CallerError::PersonNotFound),
        Some(p) if !p.status.eq_ignore_ascii_case("active") => Err(CallerError::PersonNotActive),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
    }

    fn party(status: Option<&str>, died: Option<NaiveDate>) -> PartyFacts {
        PartyFacts {
            verification_status: status.map(str::to_string),
            death_date: died,
        }
    }

    #[test]
    fn given_a_verified_living_party_when_it_acts_then_it_may() {
        assert_eq!(
            check_party(Some(&party(Some("VERIFIED"), None)), today()),
            Ok(())
        );
    }

    #[test]
    fn given_a_party_without_a_verification_status_when_it_acts_then_it_counts_as_verified() {
        assert_eq!(check_party(Some(&party(None, None)), today()), Ok(()));
        assert_eq!(check_party(None, today()), Ok(()));
    }

    #[test]
    fn given_a_party_whose_verification_is_pending_when_it_acts_then_it_may() {
        let pending = party(Some("VERIFICATION_NEEDED"), None);
        assert_eq!(check_party(Some(&pending), today()), Ok(()));
    }

    #[test]
    fn given_a_party_refused_verification_when_it_acts_then_access_is_denied() {
        for status in ["NOT_VERIFIED", "not_verified"] {
            assert_eq!(
                check_party(Some(&party(Some(status), None)), today()),
                Err(CallerError::PartyNotVerified)
            );
        }
        assert_eq!(
            CallerError::PartyNotVerified.to_string(),
            "Access denied. Party is not verified"
        );
    }

    #[test]
    fn given_a_party_that_died_when_it_acts_then_access_is_denied() {
        let died = party(Some("VERIFIED"), Some(today()));
        assert_eq!(
            check_party(Some(&died), today()),
            Err(CallerError::PartyDeceased)
        );
        let later = party(None, today().succ_opt());
        assert_eq!(check_party(Some(&later), today()), Ok(()));
        assert_eq!(
            CallerError::PartyDeceased.to_string(),
            "Access denied. Party is deceased"
        );
    }

    #[test]
    fn given_an_unverified_party_that_died_when_it_acts_then_verification_is_named_first() {
        let both = party(Some("NOT_VERIFIED"), Some(today()));
        assert_eq!(
            check_party(Some(&both), today()),
            Err(CallerError::PartyNotVerified)
        );
    }

    #[test]
    fn given_a_patient_when_checked_then_unknown_is_not_found_and_inactive_is_a_conflict() {
        assert_eq!(check_patient(None), Err(CallerError::PersonNotFound));
        let inactive = PatientFacts {
            status: "inactive".into(),
        };
        assert_eq!(
            check_patient(Some(&inactive)),
            Err(CallerError::PersonNotActive)
        );
        let active = PatientFacts {
            status: "ACTIVE".into(),
        };
        assert_eq!(check_patient(Some(&active)), Ok(()));
    }
}
