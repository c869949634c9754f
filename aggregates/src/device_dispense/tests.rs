use super::*;

use serde_json::json;

use crate::test_support::*;

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

const DD_ID: Uuid = Uuid::from_u128(0xdd00_0000_0000_0000_0000_0000_0000_0001);
const PHARMACY: Uuid = Uuid::from_u128(0x1e00_0000_0000_0000_0000_0000_0000_0001);
const PERFORMER: Uuid = Uuid::from_u128(0xe000_0000_0000_0000_0000_0000_0000_0001);

/// An in_progress dispense performed by `PHARMACY` for `PATIENT`.
fn record() -> DeviceDispenseRecord {
    let mut other = Map::new();
    other.insert("note".into(), json!("Glucose meter"));
    other.insert("status_reason".into(), Value::Null);
    DeviceDispenseRecord {
        id: DD_ID,
        patient_id: PATIENT,
        status: DeviceDispenseStatus::InProgress,
        performer_legal_entity: PHARMACY,
        performer: Some(PERFORMER),
        inserted_at: created_at(),
        inserted_by: Some(CREATOR),
        updated_at: created_at(),
        updated_by: Some(CREATOR),
        other,
    }
}

fn record_in(status: DeviceDispenseStatus) -> DeviceDispenseRecord {
    DeviceDispenseRecord { status, ..record() }
}

fn stop(patient_id: Uuid, legal_entity_id: Uuid) -> DeviceDispenseCommand {
    DeviceDispenseCommand::Stop {
        patient_id: patient_id.into(),
        legal_entity_id: legal_entity_id.into(),
        user_id: USER.into(),
        at: now(),
    }
}

fn stop_by_pharmacy() -> DeviceDispenseCommand {
    stop(PATIENT, PHARMACY)
}

fn stopped_event() -> DeviceDispenseEvent {
    DeviceDispenseEvent::DeviceDispenseStopped {
        by: USER,
        at: now(),
    }
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn import_of_a_new_device_dispense_creates_it_and_a_second_import_is_a_no_op() {
    let changed = record_in(DeviceDispenseStatus::Completed);
    assert_imported_once(record(), changed, DeviceDispenseCommand::Import).await;
}

// ---------------------------------------------------------------------------------------------
// Stop: rules in order
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn stop_of_a_device_dispense_that_does_not_exist_is_refused_with_not_found() {
    assert_refused(
        when(given_nothing::<DeviceDispense>(), stop_by_pharmacy()).await,
        DeviceDispenseError::NotFound,
        "Device dispense not found",
    );
}

#[tokio::test]
async fn stop_by_another_legal_entity_is_refused_as_belonging_to_another_legal_entity() {
    assert_refused(
        when(given(record()), stop(PATIENT, OTHER_LEGAL_ENTITY)).await,
        DeviceDispenseError::BelongsToAnotherLegalEntity,
        "Device dispense belongs to another legal entity",
    );
}

#[tokio::test]
async fn stop_in_the_context_of_another_patient_is_refused_with_not_found() {
    let cases = [
        (
            "an in_progress dispense, by its legal entity",
            record(),
            PHARMACY,
        ),
        (
            "a stopped dispense, from another legal entity",
            record_in(DeviceDispenseStatus::Stopped),
            OTHER_LEGAL_ENTITY,
        ),
    ];
    for (case, dispense, legal_entity) in cases {
        assert_eq!(
            when(given(dispense), stop(OTHER_PATIENT, legal_entity)).await,
            Err(DeviceDispenseError::NotFound),
            "stop of {case}"
        );
    }
}

#[tokio::test]
async fn stop_by_another_legal_entity_is_refused_before_the_status_is_looked_at() {
    given(record_in(DeviceDispenseStatus::Completed))
        .when_async(stop(PATIENT, OTHER_LEGAL_ENTITY))
        .await
        .then_expect_error(DeviceDispenseError::BelongsToAnotherLegalEntity);
}

#[tokio::test]
async fn stop_of_a_device_dispense_that_is_not_in_progress_is_refused_with_its_status() {
    let not_in_progress = statuses_except(
        DeviceDispenseStatus::VALUES,
        &[DeviceDispenseStatus::InProgress],
    );
    assert_eq!(not_in_progress.len(), 7);
    for (status, text) in not_in_progress {
        let result = when(given(record_in(status)), stop_by_pharmacy()).await;
        assert_eq!(
            result,
            Err(DeviceDispenseError::InvalidStatus(status)),
            "status {text}"
        );
        assert_eq!(
            result.unwrap_err().to_string(),
            format!("Device dispense in status {text} cannot be stopped")
        );
    }
}

#[tokio::test]
async fn a_stopped_device_dispense_cannot_be_stopped_again() {
    assert_refused(
        when(
            given(record()).and(vec![stopped_event()]),
            stop_by_pharmacy(),
        )
        .await,
        DeviceDispenseError::InvalidStatus(DeviceDispenseStatus::Stopped),
        "Device dispense in status stopped cannot be stopped",
    );
}

// ---------------------------------------------------------------------------------------------
// Stop: success
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn stop_of_an_in_progress_dispense_by_its_legal_entity_emits_stopped() {
    given(record())
        .when_async(stop_by_pharmacy())
        .await
        .then_expect_events(vec![stopped_event()]);
}

#[tokio::test]
async fn stop_by_any_user_of_the_performing_legal_entity_is_allowed() {
    // The performer employee is not required to be the one who stops it.
    let cmd = DeviceDispenseCommand::Stop {
        patient_id: PATIENT.into(),
        legal_entity_id: PHARMACY.into(),
        user_id: CREATOR.into(),
        at: now(),
    };
    given(record())
        .when_async(cmd)
        .await
        .then_expect_events(vec![DeviceDispenseEvent::DeviceDispenseStopped {
            by: CREATOR,
            at: now(),
        }]);
}

#[tokio::test]
async fn a_stopped_device_dispense_is_stopped_and_updated_by_the_user() {
    let state = state_after_command(record(), stop_by_pharmacy()).await;
    assert_eq!(
        state,
        DeviceDispenseRecord {
            status: DeviceDispenseStatus::Stopped,
            updated_by: Some(USER),
            updated_at: now(),
            ..record()
        }
    );
    let view = state.render();
    assert_eq!(view["status"], json!("stopped"));
    assert_eq!(view["updated_by"], json!(USER.to_string()));
    assert_eq!(view["updated_at"], json!(now()));
    assert_eq!(view["inserted_by"], json!(CREATOR.to_string()));
}

#[test]
fn a_device_dispense_renders_its_references_in_ehealth_form() {
    assert_fields(
        &record().render(),
        &[
            ("/id", json!(DD_ID)),
            ("/status", json!("in_progress")),
            ("/subject/identifier/value", json!(PATIENT)),
            ("/subject/identifier/type/coding/0/code", json!("patient")),
            ("/performer_legal_entity/identifier/value", json!(PHARMACY)),
            (
                "/performer/identifier/type/coding/0/code",
                json!("employee"),
            ),
            ("/note", json!("Glucose meter")),
        ],
    );
    let no_performer = DeviceDispenseRecord {
        performer: None,
        ..record()
    };
    assert_eq!(no_performer.render()["performer"], Value::Null);
}

#[test]
fn device_dispense_statuses_are_stored_lower_case() {
    assert_written_as(DeviceDispenseStatus::VALUES, DeviceDispenseStatus::as_str);
    assert_eq!(DeviceDispenseStatus::InProgress.as_str(), "in_progress");
}

#[tokio::test]
async fn check_stop_gives_the_same_answer_as_the_command() {
    let aggregate = holding(record());
    let cases = [
        ("by its legal entity", PATIENT, PHARMACY, Ok(())),
        (
            "for another patient",
            OTHER_PATIENT,
            PHARMACY,
            Err(DeviceDispenseError::NotFound),
        ),
        (
            "by another legal entity",
            PATIENT,
            OTHER_LEGAL_ENTITY,
            Err(DeviceDispenseError::BelongsToAnotherLegalEntity),
        ),
    ];
    for (case, patient, legal_entity, expected) in cases {
        assert_eq!(
            aggregate.check_stop(patient.into(), legal_entity.into()),
            expected,
            "stop {case}"
        );
        assert_eq!(
            when(given(record()), stop(patient, legal_entity))
                .await
                .map(|_| ()),
            expected,
            "the command: stop {case}"
        );
    }
}

#[test]
fn a_stop_of_a_device_dispense_that_was_never_imported_changes_nothing() {
    assert_nothing_changes_before_the_import::<DeviceDispense>([stopped_event()]);
}

#[test]
fn device_dispense_events_are_named_and_versioned() {
    assert_named_and_versioned(vec![
        (imported(record()).remove(0), "DeviceDispenseImported"),
        (stopped_event(), "DeviceDispenseStopped"),
    ]);
}
