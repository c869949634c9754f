//! Choosing the method of a resent code: given a person's methods (and their confidants), when a
//! resend asks for a method, then this is where the code goes.

use chrono::{Duration, TimeZone};
use serde_json::json;

use super::method::*;
use super::*;
use crate::test_support::{
    AUTH_METHOD as M_OTP, PATIENT as PERSON, PHONE, THIRD_PERSON as CONFIDANT,
    THIRD_PERSON_PHONE as CONFIDANT_PHONE,
};

const OTHER_CONFIDANT: Uuid = Uuid::from_u128(0xa000_0000_0000_0000_0000_0000_0000_0004);
const M_OTP_2: Uuid = Uuid::from_u128(0xf000_0000_0000_0000_0000_0000_0000_0002);
const M_OFFLINE: Uuid = Uuid::from_u128(0xf000_0000_0000_0000_0000_0000_0000_0003);
const M_THIRD: Uuid = Uuid::from_u128(0xf000_0000_0000_0000_0000_0000_0000_0004);
const M_THIRD_2: Uuid = Uuid::from_u128(0xf000_0000_0000_0000_0000_0000_0000_0005);
const NEW_PHONE: &str = "+380931112222";
const OTHER_CONFIDANT_PHONE: &str = "+380501234567";

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 9, 1, 12, 0, 0).unwrap()
}

fn method(id: Uuid, kind: &str) -> AuthMethod {
    AuthMethod {
        id: Some(id),
        kind: kind.into(),
        phone_number: None,
        value: None,
        ended_at: None,
    }
}

fn otp(id: Uuid, phone: &str) -> AuthMethod {
    AuthMethod {
        phone_number: Some(phone.into()),
        ..method(id, OTP)
    }
}

fn third(id: Uuid, confidant: Uuid) -> AuthMethod {
    AuthMethod {
        value: Some(confidant.to_string()),
        ..method(id, THIRD_PERSON)
    }
}

fn ended(m: AuthMethod) -> AuthMethod {
    AuthMethod {
        ended_at: Some(at() - Duration::days(1)),
        ..m
    }
}

fn person(methods: &[AuthMethod]) -> PersonMethods<'_> {
    PersonMethods {
        id: PERSON,
        active: true,
        methods,
    }
}

fn confidant(id: Uuid, active: bool, methods: &[AuthMethod]) -> PersonMethods<'_> {
    PersonMethods {
        id,
        active,
        methods,
    }
}

fn to_phone(phone: &str) -> OtpDelivery {
    OtpDelivery::Otp {
        phone_number: phone.into(),
    }
}

fn to_confidant(id: Uuid, phone: &str) -> OtpDelivery {
    OtpDelivery::ThirdPerson {
        third_person_id: id,
        phone_number: phone.into(),
    }
}

fn refused(method_type: &str) -> OtpDelivery {
    OtpDelivery::NotAllowed {
        method_type: method_type.into(),
    }
}

/// A confidant who can receive codes: active, with a current OTP method.
fn otp_confidant() -> Vec<AuthMethod> {
    vec![otp(M_OTP_2, CONFIDANT_PHONE)]
}

/// Where the code goes for a person with `methods` asked for `named` (else the default method),
/// who has no confidants.
fn delivery(methods: &[AuthMethod], named: Option<Uuid>) -> OtpDelivery {
    otp_delivery(&person(methods), named, &[], at())
}

/// Where the code goes for a person with `methods` asked for `named` (else the default method),
/// whose confidant `CONFIDANT` uses OTP and is `active` or not.
fn delivery_via_confidant(
    methods: &[AuthMethod],
    named: Option<Uuid>,
    active: bool,
) -> OtpDelivery {
    let confidant_methods = otp_confidant();
    let confidants = [confidant(CONFIDANT, active, &confidant_methods)];
    otp_delivery(&person(methods), named, &confidants, at())
}

// ---------------------------------------------------------------------------------------------
// Without `authorize_with`: the default method
// ---------------------------------------------------------------------------------------------

#[test]
fn a_person_with_an_otp_method_gets_the_code_on_its_phone() {
    let methods = [otp(M_OTP, PHONE)];
    assert_eq!(delivery(&methods, None), to_phone(PHONE));
}

#[test]
fn an_otp_method_comes_before_offline_and_third_person_whatever_the_order() {
    let methods = [
        third(M_THIRD, CONFIDANT),
        method(M_OFFLINE, OFFLINE),
        otp(M_OTP, PHONE),
    ];
    assert_eq!(
        delivery_via_confidant(&methods, None, true),
        to_phone(PHONE)
    );
}

#[test]
fn an_offline_person_is_refused_even_with_a_usable_third_person() {
    let methods = [method(M_OFFLINE, OFFLINE), third(M_THIRD, CONFIDANT)];
    assert_eq!(
        delivery_via_confidant(&methods, None, true),
        refused(OFFLINE)
    );
}

#[test]
fn an_ended_otp_method_is_skipped_so_the_next_default_applies() {
    let methods = [ended(otp(M_OTP, PHONE)), method(M_OFFLINE, OFFLINE)];
    assert_eq!(delivery(&methods, None), refused(OFFLINE));
    let methods = [ended(otp(M_OTP, PHONE)), otp(M_OTP_2, NEW_PHONE)];
    assert_eq!(delivery(&methods, None), to_phone(NEW_PHONE));
}

#[test]
fn a_method_that_ends_at_the_very_instant_is_no_longer_current() {
    let methods = [AuthMethod {
        ended_at: Some(at()),
        ..otp(M_OTP, PHONE)
    }];
    assert_eq!(delivery(&methods, None), refused("NA"));
    let later = AuthMethod {
        ended_at: Some(at() + Duration::seconds(1)),
        ..otp(M_OTP, PHONE)
    };
    let methods = [later];
    assert_eq!(delivery(&methods, None), to_phone(PHONE));
}

#[test]
fn a_third_person_whose_confidant_is_active_and_uses_otp_gets_the_code_on_the_confidants_phone() {
    let methods = [third(M_THIRD, CONFIDANT)];
    assert_eq!(
        delivery_via_confidant(&methods, None, true),
        to_confidant(CONFIDANT, CONFIDANT_PHONE)
    );
}

#[test]
fn among_third_persons_the_first_whose_confidant_can_receive_a_code_is_chosen() {
    let methods = [third(M_THIRD, CONFIDANT), third(M_THIRD_2, OTHER_CONFIDANT)];
    let first = otp_confidant();
    let second = [otp(M_OTP, OTHER_CONFIDANT_PHONE)];
    let confidants = [
        confidant(CONFIDANT, false, &first),
        confidant(OTHER_CONFIDANT, true, &second),
    ];
    let delivery = otp_delivery(&person(&methods), None, &confidants, at());
    assert_eq!(
        delivery,
        to_confidant(OTHER_CONFIDANT, OTHER_CONFIDANT_PHONE)
    );
}

#[test]
fn a_third_person_whose_confidant_is_not_active_is_refused() {
    let methods = [third(M_THIRD, CONFIDANT)];
    assert_eq!(
        delivery_via_confidant(&methods, None, false),
        refused(THIRD_PERSON)
    );
}

#[test]
fn a_third_person_whose_confidant_does_not_use_otp_is_refused() {
    let methods = [third(M_THIRD, CONFIDANT)];
    for confidant_methods in [
        vec![method(M_OFFLINE, OFFLINE)],
        vec![
            ended(otp(M_OTP_2, CONFIDANT_PHONE)),
            method(M_OFFLINE, OFFLINE),
        ],
        vec![method(M_OTP_2, OTP)],
        vec![],
    ] {
        let confidants = [confidant(CONFIDANT, true, &confidant_methods)];
        let delivery = otp_delivery(&person(&methods), None, &confidants, at());
        assert_eq!(delivery, refused(THIRD_PERSON), "{confidant_methods:?}");
    }
}

#[test]
fn a_third_person_whose_confidant_is_unknown_is_refused() {
    let methods = [
        third(M_THIRD, CONFIDANT),
        AuthMethod {
            value: Some("not-a-uuid".into()),
            ..method(M_THIRD_2, THIRD_PERSON)
        },
    ];
    assert_eq!(delivery(&methods, None), refused(THIRD_PERSON));
}

#[test]
fn an_ended_third_person_or_no_method_at_all_is_refused() {
    let methods = [ended(third(M_THIRD, CONFIDANT))];
    let confidant_methods = otp_confidant();
    let confidants = [confidant(CONFIDANT, true, &confidant_methods)];
    assert_eq!(
        otp_delivery(&person(&methods), None, &confidants, at()),
        refused("NA")
    );
    assert_eq!(delivery(&[], None), refused("NA"));
}

#[test]
fn an_otp_method_without_a_phone_cannot_receive_a_code() {
    for phone in [None, Some(String::new())] {
        let methods = [AuthMethod {
            phone_number: phone.clone(),
            ..method(M_OTP, OTP)
        }];
        assert_eq!(delivery(&methods, None), refused(OTP), "{phone:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// With `authorize_with`: that method or nothing
// ---------------------------------------------------------------------------------------------

#[test]
fn a_named_otp_method_gets_the_code_on_its_own_phone() {
    let methods = [otp(M_OTP, PHONE), otp(M_OTP_2, NEW_PHONE)];
    assert_eq!(delivery(&methods, Some(M_OTP_2)), to_phone(NEW_PHONE));
}

#[test]
fn a_named_method_that_ended_is_refused_and_never_replaced_by_the_default() {
    let methods = [ended(otp(M_OTP, PHONE)), otp(M_OTP_2, NEW_PHONE)];
    assert_eq!(delivery(&methods, Some(M_OTP)), refused("NA"));
}

#[test]
fn a_named_method_the_person_does_not_have_is_refused_and_never_replaced_by_the_default() {
    let methods = [otp(M_OTP, PHONE)];
    assert_eq!(delivery(&methods, Some(M_THIRD)), refused("NA"));
}

#[test]
fn a_named_third_person_is_used_even_when_the_person_also_has_an_otp_method() {
    let methods = [otp(M_OTP, PHONE), third(M_THIRD, CONFIDANT)];
    assert_eq!(
        delivery_via_confidant(&methods, Some(M_THIRD), true),
        to_confidant(CONFIDANT, CONFIDANT_PHONE)
    );
}

#[test]
fn a_named_third_person_whose_confidant_cannot_receive_a_code_is_refused() {
    let methods = [otp(M_OTP, PHONE), third(M_THIRD, CONFIDANT)];
    assert_eq!(
        delivery_via_confidant(&methods, Some(M_THIRD), false),
        refused(THIRD_PERSON)
    );
}

#[test]
fn a_named_offline_method_is_refused() {
    let methods = [method(M_OFFLINE, OFFLINE), otp(M_OTP, PHONE)];
    assert_eq!(delivery(&methods, Some(M_OFFLINE)), refused(OFFLINE));
}

// ---------------------------------------------------------------------------------------------
// What the service loads, and the default method on its own
// ---------------------------------------------------------------------------------------------

#[test]
fn the_confidants_needed_are_those_of_the_current_third_persons_or_of_the_named_one() {
    let methods = [
        otp(M_OTP, PHONE),
        third(M_THIRD, CONFIDANT),
        ended(third(M_THIRD_2, OTHER_CONFIDANT)),
    ];
    let p = person(&methods);
    assert_eq!(confidants_needed(&p, None, at()), vec![CONFIDANT]);
    assert_eq!(confidants_needed(&p, Some(M_THIRD), at()), vec![CONFIDANT]);
    assert!(confidants_needed(&p, Some(M_THIRD_2), at()).is_empty());
    assert!(confidants_needed(&p, Some(M_OTP), at()).is_empty());
}

#[test]
fn the_default_method_is_otp_then_offline_then_third_person_among_current_methods() {
    let methods = [
        third(M_THIRD, CONFIDANT),
        method(M_OFFLINE, OFFLINE),
        ended(otp(M_OTP, PHONE)),
    ];
    assert_eq!(
        default_method(&methods, at()).map(|m| m.id),
        Some(Some(M_OFFLINE))
    );
    assert_eq!(
        default_method(&methods[..1], at()).map(|m| m.id),
        Some(Some(M_THIRD))
    );
    assert!(default_method(&methods[2..], at()).is_none());
}

#[test]
fn a_delivery_names_its_phone_only_when_a_code_can_be_sent() {
    assert_eq!(to_phone(PHONE).phone_number(), Some(PHONE));
    assert_eq!(
        to_confidant(CONFIDANT, CONFIDANT_PHONE).phone_number(),
        Some(CONFIDANT_PHONE)
    );
    assert_eq!(refused(OFFLINE).phone_number(), None);
}

#[test]
fn methods_are_imported_with_or_without_an_end() {
    let current: AuthMethod =
        serde_json::from_value(json!({ "type": "OTP", "phone_number": PHONE })).unwrap();
    assert_eq!(current.ended_at, None);
    assert!(current.is_current(at()));
    let gone: AuthMethod = serde_json::from_value(json!({
        "id": M_OTP, "type": "OTP", "phone_number": PHONE, "ended_at": "2024-08-31T12:00:00Z"
    }))
    .unwrap();
    assert_eq!(gone.ended_at, Some(at() - Duration::days(1)));
    assert!(!gone.is_current(at()));
    assert!(
        serde_json::from_value::<AuthMethod>(json!({ "type": "OTP", "ended_at": "soon" })).is_err()
    );
}
