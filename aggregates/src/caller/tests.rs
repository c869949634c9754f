use chrono::NaiveDate;
use uuid::Uuid;

use super::party::{patient_active, patient_exists};
use super::*;
use crate::ids::EmployeeId;
use crate::test_support::{assert_each_refused, assert_refused};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
}

fn party(status: Option<&str>, died: Option<NaiveDate>) -> PartyFacts {
    PartyFacts {
        verification_status: status.map(str::to_string),
        death_date: died,
    }
}

fn le(kind: &str, status: &str, nhs_verified: bool) -> LegalEntityFacts {
    LegalEntityFacts {
        kind: kind.into(),
        status: status.into(),
        nhs_verified,
    }
}

fn allowed() -> Vec<String> {
    vec![
        "PRIMARY_CARE".into(),
        "OUTPATIENT".into(),
        "PHARMACY".into(),
    ]
}

const NOT_ALLOWED: &str = "Action is not allowed for the legal entity";
const NOT_ACTIVE: &str = "client_id refers to legal entity that is not active";

fn employee(n: u128, kind: &str, status: &str) -> EmployeeFacts {
    EmployeeFacts {
        id: EmployeeId::new(Uuid::from_u128(n)),
        kind: kind.into(),
        status: status.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// The party
// ---------------------------------------------------------------------------------------------

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
    assert_each_refused(
        ["NOT_VERIFIED", "not_verified"].map(|status| {
            (
                status,
                check_party(Some(&party(Some(status), None)), today()),
            )
        }),
        CallerError::PartyNotVerified,
        "Access denied. Party is not verified",
    );
}

#[test]
fn given_a_party_that_died_when_it_acts_then_access_is_denied() {
    let died = party(Some("VERIFIED"), Some(today()));
    assert_refused(
        check_party(Some(&died), today()),
        CallerError::PartyDeceased,
        "Access denied. Party is deceased",
    );
    let later = party(None, today().succ_opt());
    assert_eq!(check_party(Some(&later), today()), Ok(()));
}

#[test]
fn given_an_unverified_party_that_died_when_it_acts_then_verification_is_named_first() {
    let both = party(Some("NOT_VERIFIED"), Some(today()));
    assert_eq!(
        check_party(Some(&both), today()),
        Err(CallerError::PartyNotVerified)
    );
}

// ---------------------------------------------------------------------------------------------
// The patient
// ---------------------------------------------------------------------------------------------

#[test]
fn given_a_patient_when_checked_then_unknown_is_not_found_and_inactive_is_a_conflict() {
    assert_refused(
        check_patient(None),
        CallerError::PersonNotFound,
        "Person not found",
    );
    let inactive = PatientFacts {
        status: "inactive".into(),
    };
    assert_refused(
        check_patient(Some(&inactive)),
        CallerError::PersonNotActive,
        "Person is not active",
    );
    let active = PatientFacts {
        status: "ACTIVE".into(),
    };
    assert_eq!(check_patient(Some(&active)), Ok(()));
}

#[test]
fn given_a_known_inactive_patient_when_its_existence_is_checked_alone_then_it_passes() {
    let inactive = PatientFacts {
        status: "inactive".into(),
    };
    assert_eq!(patient_exists(Some(&inactive)), Ok(&inactive));
    assert_eq!(
        patient_exists(None::<PatientFacts>),
        Err(CallerError::PersonNotFound)
    );
    assert_eq!(patient_active(&inactive), Err(CallerError::PersonNotActive));
}

// ---------------------------------------------------------------------------------------------
// The legal entity: release and recall
// ---------------------------------------------------------------------------------------------

#[test]
fn given_an_active_legal_entity_of_an_allowed_type_when_it_releases_then_it_may() {
    let active = le("OUTPATIENT", "ACTIVE", false);
    assert_eq!(
        legal_entity::check_release(Some(&active), &allowed()),
        Ok(())
    );
    let lower = le("OUTPATIENT", "active", false);
    assert_eq!(
        legal_entity::check_release(Some(&lower), &allowed()),
        Ok(())
    );
}

#[test]
fn given_an_unknown_disallowed_or_inactive_legal_entity_when_it_releases_then_it_is_not_allowed() {
    let refused = [
        None,
        Some(le("MSP", "ACTIVE", true)),
        Some(le("outpatient", "ACTIVE", true)),
        Some(le("OUTPATIENT", "CLOSED", true)),
        Some(le("OUTPATIENT", "SUSPENDED", true)),
    ];
    assert_each_refused(
        refused.map(|facts| {
            let result = legal_entity::check_release(facts.as_ref(), &allowed());
            (facts, result)
        }),
        CallerError::LegalEntityNotAllowed,
        NOT_ALLOWED,
    );
}

#[test]
fn given_a_legal_entity_that_is_not_nhs_verified_when_it_recalls_then_it_is_not_allowed() {
    let unverified = le("PRIMARY_CARE", "ACTIVE", false);
    assert_eq!(
        legal_entity::check_release(Some(&unverified), &allowed()),
        Ok(())
    );
    assert_eq!(
        legal_entity::check_recall(Some(&unverified), &allowed()),
        Err(CallerError::LegalEntityNotAllowed)
    );
    let verified = le("PRIMARY_CARE", "ACTIVE", true);
    assert_eq!(
        legal_entity::check_recall(Some(&verified), &allowed()),
        Ok(())
    );
}

#[test]
fn given_an_nhs_verified_legal_entity_of_another_type_or_status_when_it_recalls_then_it_is_not_allowed(
) {
    let refused = [
        None,
        Some(le("MSP", "ACTIVE", true)),
        Some(le("PRIMARY_CARE", "CLOSED", true)),
    ];
    assert_each_refused(
        refused.map(|facts| {
            let result = legal_entity::check_recall(facts.as_ref(), &allowed());
            (facts, result)
        }),
        CallerError::LegalEntityNotAllowed,
        NOT_ALLOWED,
    );
}

// ---------------------------------------------------------------------------------------------
// The legal entity: stop device dispense
// ---------------------------------------------------------------------------------------------

#[test]
fn given_an_active_pharmacy_when_it_stops_a_device_dispense_then_it_may() {
    let pharmacy = le("PHARMACY", "ACTIVE", false);
    assert_eq!(
        legal_entity::check_stop_device_dispense(Some(&pharmacy), &allowed()),
        Ok(())
    );
}

#[test]
fn given_an_unknown_legal_entity_when_it_stops_a_device_dispense_then_it_is_not_active() {
    assert_refused(
        legal_entity::check_stop_device_dispense(None, &allowed()),
        CallerError::LegalEntityNotActive,
        NOT_ACTIVE,
    );
}

#[test]
fn given_a_legal_entity_of_a_type_not_allowed_when_it_stops_then_the_type_is_named_before_the_status(
) {
    assert_each_refused(
        ["ACTIVE", "CLOSED"].map(|status| {
            let facts = le("MSP", status, true);
            (
                status,
                legal_entity::check_stop_device_dispense(Some(&facts), &allowed()),
            )
        }),
        CallerError::LegalEntityTypeInvalid,
        "Invalid LegalEntity type",
    );
}

#[test]
fn given_an_inactive_legal_entity_of_an_allowed_type_when_it_stops_then_it_is_not_active() {
    assert_refused(
        legal_entity::check_stop_device_dispense(Some(&le("PHARMACY", "CLOSED", true)), &allowed()),
        CallerError::LegalEntityNotActive,
        NOT_ACTIVE,
    );
}

// ---------------------------------------------------------------------------------------------
// The legal entity and the employee: reject merge request
// ---------------------------------------------------------------------------------------------

#[test]
fn given_an_active_emergency_or_outpatient_legal_entity_when_it_rejects_a_merge_request_then_it_may(
) {
    for kind in ["EMERGENCY", "OUTPATIENT"] {
        assert_eq!(
            legal_entity::check_reject_merge_request(Some(&le(kind, "ACTIVE", false))),
            Ok(())
        );
    }
}

#[test]
fn given_another_type_an_inactive_or_unknown_legal_entity_when_it_rejects_then_it_is_not_allowed() {
    let refused = [
        None,
        Some(le("PRIMARY_CARE", "ACTIVE", true)),
        Some(le("PHARMACY", "ACTIVE", true)),
        Some(le("OUTPATIENT", "CLOSED", true)),
    ];
    assert_each_refused(
        refused.map(|facts| {
            let result = legal_entity::check_reject_merge_request(facts.as_ref());
            (facts, result)
        }),
        CallerError::LegalEntityNotAllowed,
        NOT_ALLOWED,
    );
}

#[test]
fn given_an_approved_specialist_assistant_or_receptionist_when_rejecting_then_the_user_may() {
    for kind in ["SPECIALIST", "ASSISTANT", "RECEPTIONIST"] {
        let employees = [
            employee(1, "DOCTOR", "APPROVED"),
            employee(2, kind, "APPROVED"),
        ];
        assert_eq!(employee::check_reject_merge_request(&employees), Ok(()));
    }
}

#[test]
fn given_no_approved_employee_of_an_allowed_type_when_rejecting_then_the_user_is_forbidden() {
    let refused: [&[EmployeeFacts]; 4] = [
        &[],
        &[employee(1, "DOCTOR", "APPROVED")],
        &[employee(1, "SPECIALIST", "DISMISSED")],
        &[employee(1, "SPECIALIST", "approved")],
    ];
    assert_each_refused(
        refused.map(|employees| (employees, employee::check_reject_merge_request(employees))),
        CallerError::EmployeeMayNotRejectMergeRequest,
        "Only SPECIALIST, ASSISTANT or RECEPTIONIST employees can reject merge requests",
    );
}

// ---------------------------------------------------------------------------------------------
// The employee: recall
// ---------------------------------------------------------------------------------------------

#[test]
fn given_the_users_employees_when_recalling_then_only_the_approved_ones_act() {
    let employees = [
        employee(1, "DOCTOR", "APPROVED"),
        employee(2, "DOCTOR", "DISMISSED"),
        employee(3, "SPECIALIST", "APPROVED"),
        employee(4, "DOCTOR", "NEW"),
    ];
    assert_eq!(
        employee::approved(&employees),
        vec![
            EmployeeId::new(Uuid::from_u128(1)),
            EmployeeId::new(Uuid::from_u128(3))
        ]
    );
    assert!(employee::approved(&[]).is_empty());
}
