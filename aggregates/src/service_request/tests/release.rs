//! Release: the rules in order, the released state, and `check_release`.

use super::*;

fn expiring_at(text: &str) -> ServiceRequestRecord {
    record_with(|r| {
        r.other
            .insert("expiration_date".into(), Value::String(text.into()));
    })
}

#[tokio::test]
async fn release_checks_the_expiration_before_the_status() {
    let mut expired = expiring_at("2024-01-01T00:00:00+02:00");
    expired.status = ServiceRequestStatus::Recalled;
    given(expired)
        .when_async(release_by(USING_LE))
        .await
        .then_expect_error(ServiceRequestError::ReleaseExpired);
}

#[tokio::test]
async fn release_of_a_service_request_expiring_later_or_never_succeeds() {
    for text in ["2024-03-05T14:30:16Z", "2024-03-05", "2024-03-05T14:30:16"] {
        let events = outcome(expiring_at(text), release_by(USING_LE)).await;
        assert!(events.is_ok(), "{text}: {events:?}");
    }
    let mut without = record();
    without.other.remove("expiration_date");
    assert!(outcome(without, release_by(USING_LE)).await.is_ok());
}

#[test]
fn a_bare_expiration_date_lasts_until_the_end_of_that_day() {
    let sr = expiring_at("2024-03-04");
    assert!(sr.is_expired(now()));
    assert!(!expiring_at("2024-03-05").is_expired(now()));
    assert!(!expiring_at("2024-03-05T14:30:15.000001+00:00").is_expired(now()));
    assert!(!expiring_at("not a date").is_expired(now()));
}

/// Asserts a release by the using legal entity of each named service request is refused with
/// `expected`, whose message is `message`.
async fn assert_releases_refused(
    service_requests: impl IntoIterator<Item = (String, ServiceRequestRecord)>,
    expected: ServiceRequestError,
    message: &str,
) {
    for (case, service_request) in service_requests {
        let refusal = outcome(service_request, release_by(USING_LE)).await;
        assert_eq!(refusal, Err(expected.clone()), "release {case}");
        assert_eq!(refusal.unwrap_err().to_string(), message, "release {case}");
    }
}

#[tokio::test]
async fn release_of_a_service_request_that_is_not_active_is_refused_with_invalid_status() {
    let service_requests = non_active().into_iter().map(|(status, text)| {
        (
            format!("in status {text}"),
            record_with(|r| r.status = status),
        )
    });
    assert_releases_refused(
        service_requests,
        ServiceRequestError::ReleaseInvalidStatus,
        "Invalid service request status",
    )
    .await;
}

#[tokio::test]
async fn release_of_a_service_request_whose_program_processing_status_is_not_in_queue_is_refused() {
    let not_in_queue = [
        Some(ProgramProcessingStatus::New),
        Some(ProgramProcessingStatus::InProgress),
        Some(ProgramProcessingStatus::Completed),
        None,
    ];
    let service_requests = not_in_queue.into_iter().map(|pps| {
        let case = format!("whose program_processing_status is {pps:?}");
        (case, record_with(|r| r.program_processing_status = pps))
    });
    assert_releases_refused(
        service_requests,
        ServiceRequestError::ReleaseInvalidProgramProcessingStatus,
        "Invalid program processing status",
    )
    .await;
}

#[tokio::test]
async fn release_by_the_requester_of_a_service_request_used_by_another_legal_entity_is_refused() {
    given(record())
        .when_async(release_by(REQUESTER_LE))
        .await
        .then_expect_error(ServiceRequestError::ReleaseUsedByAnotherLegalEntity);
    assert_eq!(
        ServiceRequestError::ReleaseUsedByAnotherLegalEntity.to_string(),
        "Service request is used by another legal entity"
    );
}

/// Which rule answers first when several fail, and the ones no other test isolates.
#[tokio::test]
async fn release_refusals_follow_the_rule_order() {
    let recalled = record_with(|r| r.status = ServiceRequestStatus::Recalled);
    let completed_everywhere = record_with(|r| {
        r.status = ServiceRequestStatus::Completed;
        r.program_processing_status = Some(ProgramProcessingStatus::Completed);
    });
    // The requester sees it but does not use it, and it is not in the queue either.
    let not_in_queue =
        record_with(|r| r.program_processing_status = Some(ProgramProcessingStatus::New));
    let used_by_nobody = record_with(|r| {
        r.used_by_employee = None;
        r.used_by_legal_entity = None;
    });
    let cases = [
        (
            "by a legal entity that neither requested nor uses it",
            given(record()),
            STRANGER_LE,
            ServiceRequestError::ReleaseUsedByAnotherLegalEntity,
        ),
        (
            "by a stranger legal entity, of a recalled one: the status rule first",
            given(recalled),
            STRANGER_LE,
            ServiceRequestError::ReleaseInvalidStatus,
        ),
        (
            // now() is 2024-03-05T14:30:15Z.
            "of one whose expiration date has passed",
            given(expiring_at("2024-03-05T14:30:14Z")),
            USING_LE,
            ServiceRequestError::ReleaseExpired,
        ),
        (
            "of one recalled after its import",
            given(record()).and(vec![recalled_event()]),
            USING_LE,
            ServiceRequestError::ReleaseInvalidStatus,
        ),
        (
            "of a completed one: the status before the program processing status",
            given(completed_everywhere),
            USING_LE,
            ServiceRequestError::ReleaseInvalidStatus,
        ),
        (
            "by the requester, of one not in the queue: the program processing status before who \
             uses it",
            given(not_in_queue),
            REQUESTER_LE,
            ServiceRequestError::ReleaseInvalidProgramProcessingStatus,
        ),
        (
            "of an in-queue one used by nobody",
            given(used_by_nobody),
            REQUESTER_LE,
            ServiceRequestError::ReleaseUsedByAnotherLegalEntity,
        ),
    ];
    for (case, service_request, legal_entity, expected) in cases {
        assert_eq!(
            when(service_request, release_by(legal_entity)).await,
            Err(expected),
            "release {case}"
        );
    }
}

#[tokio::test]
async fn release_by_the_using_legal_entity_emits_released_with_the_previous_reservation() {
    given(record())
        .when_async(release_by(USING_LE))
        .await
        .then_expect_events(vec![ServiceRequestEvent::ServiceRequestReleased {
            released_employee: Some(USING_EMPLOYEE),
            released_legal_entity: Some(USING_LE),
            by: USER,
            at: now(),
        }]);
}

#[tokio::test]
async fn release_by_the_using_legal_entity_that_also_requested_it_succeeds() {
    let sr = record_with(|r| r.requester_legal_entity = Some(USING_LE));
    let events = outcome(sr, release_by(USING_LE)).await.unwrap();
    assert_eq!(events.len(), 1);
    assert!(matches!(
        events[0],
        ServiceRequestEvent::ServiceRequestReleased {
            released_legal_entity: Some(USING_LE),
            ..
        }
    ));
}

#[tokio::test]
async fn a_released_service_request_is_no_longer_used_and_is_back_to_new() {
    let state = state_after_command(record(), release_by(USING_LE)).await;
    let expected = record_with(|r| {
        r.used_by_employee = None;
        r.used_by_legal_entity = None;
        r.program_processing_status = Some(ProgramProcessingStatus::New);
        r.updated_by = Some(USER);
        r.updated_at = now();
    });
    assert_eq!(
        state,
        ServiceRequestRecord {
            released_by: vec![USING_LE],
            ..expected
        }
    );
    assert_eq!(state.status, ServiceRequestStatus::Active);
}

#[tokio::test]
async fn the_legal_entity_that_released_a_service_request_keeps_seeing_it() {
    let state = state_after_command(record(), release_by(USING_LE)).await;
    assert!(state.visible_to(USING_LE));
    assert!(state.visible_to(REQUESTER_LE));
    assert!(!state.visible_to(STRANGER_LE));
    // The released list is not part of eHealth's rendering.
    assert!(state.render().get("released_by").is_none());
}

#[tokio::test]
async fn a_released_service_request_cannot_be_released_again() {
    let released = state_after_command(record(), release_by(USING_LE)).await;
    // It is back to `new`, whoever asks: the legal entity that used it, or the requester who
    // sees it.
    for legal_entity in [USING_LE, REQUESTER_LE] {
        assert_eq!(
            outcome(released.clone(), release_by(legal_entity)).await,
            Err(ServiceRequestError::ReleaseInvalidProgramProcessingStatus),
            "release by {legal_entity}"
        );
    }
}

#[tokio::test]
async fn check_release_gives_the_same_answer_as_the_command() {
    let aggregate = holding(record());
    let cases = [
        (USING_LE, Ok(())),
        (
            STRANGER_LE,
            Err(ServiceRequestError::ReleaseUsedByAnotherLegalEntity),
        ),
        (
            REQUESTER_LE,
            Err(ServiceRequestError::ReleaseUsedByAnotherLegalEntity),
        ),
    ];
    for (legal_entity, expected) in cases {
        let cmd = ReleaseServiceRequest {
            legal_entity_id: LegalEntityId::new(legal_entity),
            user_id: USER.into(),
            at: now(),
        };
        assert_eq!(
            aggregate.check_release(&cmd),
            expected,
            "check_release by {legal_entity}"
        );
        assert_eq!(
            outcome(record(), release_by(legal_entity))
                .await
                .map(|_| ()),
            expected,
            "release by {legal_entity}"
        );
    }
}
