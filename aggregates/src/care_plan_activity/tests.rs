use super::*;

use serde_json::{json, Map};
use uuid::Uuid;

use crate::test_support::*;
use crate::test_support::{
    LEGAL_ENTITY as MANAGING_LE, OTHER_LEGAL_ENTITY as RECALLING_LE,
    THIRD_LEGAL_ENTITY as STRANGER_LE, USER as RECALLER,
};

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

const ACTIVITY: Uuid = Uuid::from_u128(0xca00_0000_0000_4000_8000_0000_0000_0001);
const CARE_PLAN: Uuid = Uuid::from_u128(0xc900_0000_0000_4000_8000_0000_0000_0001);
const SECOND_SERVICE_REQUEST: Uuid = Uuid::from_u128(0x5e00_0000_0000_4000_8000_0000_0000_0002);
const UNITS: &str = "eHealth/ucum/units";

fn amount(text: &str) -> Amount {
    text.parse().unwrap()
}

fn pieces(value: &str) -> Quantity {
    Quantity {
        value: amount(value),
        system: Some(UNITS.into()),
        code: Some("pc".into()),
        unit: Some("шт".into()),
    }
}

/// A scheduled activity of a care plan managed by `MANAGING_LE`: 10 pieces planned, 7 left.
fn record() -> CarePlanActivityRecord {
    let mut other = Map::new();
    other.insert("kind".into(), json!("service_request"));
    other.insert(
        "author".into(),
        json!("d0000000-0000-4000-8000-000000000001"),
    );
    CarePlanActivityRecord {
        id: ACTIVITY,
        care_plan_id: CARE_PLAN,
        patient_id: PATIENT,
        status: CarePlanActivityStatus::Scheduled,
        quantity: Some(pieces("10")),
        remaining_quantity: Some(pieces("7")),
        legal_entity_id: MANAGING_LE,
        inserted_at: created_at(),
        inserted_by: Some(AUTHOR),
        updated_at: created_at(),
        updated_by: Some(AUTHOR),
        returned_by: vec![],
        changed_by_legal_entities: vec![],
        other,
    }
}

fn record_with(edit: impl FnOnce(&mut CarePlanActivityRecord)) -> CarePlanActivityRecord {
    let mut r = record();
    edit(&mut r);
    r
}

fn give_back_by(service_request_id: Uuid, quantity: Quantity) -> CarePlanActivityCommand {
    CarePlanActivityCommand::ReturnQuantity {
        service_request_id: service_request_id.into(),
        quantity,
        legal_entity_id: RECALLING_LE.into(),
        by: RECALLER.into(),
        at: now(),
    }
}

fn give_back(value: &str) -> CarePlanActivityCommand {
    give_back_by(SERVICE_REQUEST, pieces(value))
}

fn returned_by(service_request_id: Uuid, value: &str, remaining: &str) -> CarePlanActivityEvent {
    CarePlanActivityEvent::CarePlanActivityQuantityReturned {
        service_request_id,
        quantity: pieces(value),
        remaining_quantity: pieces(remaining),
        legal_entity_id: RECALLING_LE,
        by: RECALLER,
        at: now(),
    }
}

fn returned(value: &str, remaining: &str) -> CarePlanActivityEvent {
    returned_by(SERVICE_REQUEST, value, remaining)
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn import_of_a_new_activity_creates_it_and_a_second_import_is_a_no_op() {
    let changed = record_with(|r| r.status = CarePlanActivityStatus::Completed);
    assert_imported_once(record(), changed, CarePlanActivityCommand::Import).await;
}

#[test]
fn an_activity_is_rendered_with_references_quantities_and_every_imported_field() {
    let doc = record().render();
    assert_fields(
        &doc,
        &[
            ("/id", json!(ACTIVITY)),
            ("/status", json!("scheduled")),
            ("/care_plan/identifier/value", json!(CARE_PLAN)),
            (
                "/care_plan/identifier/type/coding/0/code",
                json!("care_plan"),
            ),
            ("/subject/identifier/value", json!(PATIENT)),
            (
                "/managing_organization/identifier/value",
                json!(MANAGING_LE),
            ),
            (
                "/quantity",
                json!({ "value": 10, "system": UNITS, "code": "pc", "unit": "шт" }),
            ),
            ("/remaining_quantity/value", json!(7)),
            ("/kind", json!("service_request")),
        ],
    );
    assert!(doc.get("returned_by").is_none(), "{doc:#}");
    let without = record_with(|r| {
        r.quantity = None;
        r.remaining_quantity = None;
    });
    assert_eq!(without.render()["quantity"], json!(null));
}

#[test]
fn an_imported_activity_must_not_plan_negative_or_remain_more_than_planned() {
    assert_eq!(record().validate(), Ok(()));
    let cases = [
        (
            record_with(|r| r.quantity = Some(pieces("-1"))),
            "quantity.value must not be negative",
        ),
        (
            record_with(|r| r.remaining_quantity = Some(pieces("-0.5"))),
            "remaining_quantity.value must not be negative",
        ),
        (
            record_with(|r| r.remaining_quantity = Some(pieces("10.01"))),
            "remaining_quantity.value must not exceed quantity.value",
        ),
        (
            record_with(|r| r.quantity = None),
            "remaining_quantity needs a quantity",
        ),
    ];
    for (activity, why) in cases {
        assert_eq!(activity.validate(), Err(why.to_string()));
    }
}

// ---------------------------------------------------------------------------------------------
// ReturnQuantity
// ---------------------------------------------------------------------------------------------

/// The remaining quantity becomes `min(quantity, remaining + returned)`: 10 pieces planned, 7 left
/// unless the case says otherwise.
#[tokio::test]
async fn a_recalled_service_request_gives_its_quantity_back_to_the_remaining_quantity() {
    type Edit = fn(&mut CarePlanActivityRecord);
    let cases: [(&str, Edit, &str, &str); 5] = [
        ("a scheduled activity", |_| {}, "2", "9"),
        (
            "decimal quantities, exactly",
            |r| {
                r.quantity = Some(pieces("1"));
                r.remaining_quantity = Some(pieces("0.2"));
            },
            "0.1",
            "0.3",
        ),
        ("never more than the planned quantity", |_| {}, "5", "10"),
        (
            "an activity without a remaining quantity, counted as unused",
            |r| r.remaining_quantity = None,
            "1",
            "10",
        ),
        (
            "an activity in progress",
            |r| r.status = CarePlanActivityStatus::InProgress,
            "2",
            "9",
        ),
    ];
    for (case, edit, value, remaining) in cases {
        assert_eq!(
            when(given(record_with(edit)), give_back(value)).await,
            Ok(vec![returned(value, remaining)]),
            "{case}"
        );
    }
}

#[test]
fn after_the_give_back_the_activity_remembers_it_and_the_legal_entity_on_whose_behalf_it_was() {
    let after =
        state_after::<CarePlanActivity>(vec![imported(record()).remove(0), returned("2", "9")]);
    assert_eq!(after.remaining_quantity, Some(pieces("9")));
    assert_eq!(after.quantity, Some(pieces("10")));
    assert_eq!(after.returned_by, vec![SERVICE_REQUEST]);
    assert_eq!(after.changed_by_legal_entities, vec![RECALLING_LE]);
    assert_eq!(after.updated_by, Some(RECALLER));
    assert_eq!(after.updated_at, now());
    assert_eq!(after.status, CarePlanActivityStatus::Scheduled);
    assert!(after.visible_to(MANAGING_LE));
    assert!(after.visible_to(RECALLING_LE));
    assert!(!after.visible_to(STRANGER_LE));
    assert!(!record().visible_to(RECALLING_LE));
}

#[tokio::test]
async fn a_service_request_gives_back_only_once_so_a_retried_command_appends_nothing() {
    given(record())
        .and(vec![returned("2", "9")])
        .when_async(give_back("2"))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn another_service_request_based_on_the_same_activity_gives_back_too() {
    given(record())
        .and(vec![returned("2", "9")])
        .when_async(give_back_by(SECOND_SERVICE_REQUEST, pieces("0.5")))
        .await
        .then_expect_events(vec![returned_by(SECOND_SERVICE_REQUEST, "0.5", "9.5")]);
}

#[tokio::test]
async fn an_activity_without_quantity_has_nothing_to_recalculate() {
    let activity = record_with(|r| {
        r.quantity = None;
        r.remaining_quantity = None;
    });
    given(activity)
        .when_async(give_back("2"))
        .await
        .then_expect_events(vec![]);
}

#[tokio::test]
async fn giving_back_to_an_activity_that_does_not_exist_is_refused_with_not_found() {
    assert_refused(
        when(given_nothing::<CarePlanActivity>(), give_back("2")).await,
        CarePlanActivityError::NotFound,
        "Care plan activity not found",
    );
}

#[tokio::test]
async fn an_activity_in_a_final_status_takes_no_quantity_back() {
    for (status, name) in [
        (CarePlanActivityStatus::Completed, "completed"),
        (CarePlanActivityStatus::Cancelled, "cancelled"),
        (CarePlanActivityStatus::EnteredInError, "entered_in_error"),
    ] {
        assert_refused(
            when(given(record_with(|r| r.status = status)), give_back("2")).await,
            CarePlanActivityError::FinalStatus(status),
            &format!("Care plan activity in status {name} cannot take quantity back"),
        );
    }
}

#[tokio::test]
async fn a_quantity_of_zero_or_less_is_refused() {
    for value in ["0", "-1"] {
        given(record())
            .when_async(give_back(value))
            .await
            .then_expect_error(CarePlanActivityError::QuantityNotPositive);
    }
}

#[tokio::test]
async fn a_quantity_in_other_units_is_refused_and_one_without_units_is_taken() {
    let milligrams = Quantity {
        code: Some("mg".into()),
        ..pieces("2")
    };
    given(record())
        .when_async(give_back_by(SERVICE_REQUEST, milligrams))
        .await
        .then_expect_error(CarePlanActivityError::UnitsDiffer);
    let bare = Quantity {
        value: amount("2"),
        system: None,
        code: None,
        unit: None,
    };
    let event = CarePlanActivityEvent::CarePlanActivityQuantityReturned {
        service_request_id: SERVICE_REQUEST,
        quantity: bare.clone(),
        remaining_quantity: pieces("9"),
        legal_entity_id: RECALLING_LE,
        by: RECALLER,
        at: now(),
    };
    given(record())
        .when_async(give_back_by(SERVICE_REQUEST, bare))
        .await
        .then_expect_events(vec![event]);
}

#[test]
fn events_round_trip_through_json_with_quantities_as_numbers() {
    let event = returned("0.1", "0.3");
    let json = serde_json::to_value(&event).unwrap();
    let payload = &json["CarePlanActivityQuantityReturned"];
    assert_eq!(payload["quantity"]["value"], json!(0.1));
    assert_eq!(payload["remaining_quantity"]["value"], json!(0.3));
    let back: CarePlanActivityEvent = serde_json::from_value(json).unwrap();
    assert_eq!(back, event);
    use cqrs_es::DomainEvent;
    assert_eq!(event.event_type(), "CarePlanActivityQuantityReturned");
    assert_eq!(
        imported(record())[0].event_type(),
        "CarePlanActivityImported"
    );
}
