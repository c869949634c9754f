use super::*;

use serde_json::json;

use crate::test_support::*;

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

const MR_ID: Uuid = Uuid::from_u128(0x3e00_0000_0000_0000_0000_0000_0000_0001);
const MASTER_PERSON: Uuid = Uuid::from_u128(0xa000_0000_0000_0000_0000_0000_0000_0001);
const PREPERSON: Uuid = Uuid::from_u128(0xa000_0000_0000_0000_0000_0000_0000_0002);
const OTHER_USER: Uuid = Uuid::from_u128(0xb000_0000_0000_0000_0000_0000_0000_0002);
/// Whoever last touched the request before the reject (it was approved by the person).
const APPROVER: Uuid = Uuid::from_u128(0xb000_0000_0000_0000_0000_0000_0000_0003);

/// A NEW merge request created by `AUTHOR` in `LEGAL_ENTITY`, last updated by `APPROVER`.
fn record() -> MergeRequestRecord {
    let mut other = Map::new();
    other.insert("channel".into(), json!("MIS"));
    other.insert("authorize_with".into(), Value::Null);
    MergeRequestRecord {
        id: MR_ID,
        master_person_id: MASTER_PERSON,
        merge_person_id: PREPERSON,
        status: MergeRequestStatus::New,
        legal_entity_id: LEGAL_ENTITY,
        inserted_by: AUTHOR,
        inserted_at: created_at(),
        updated_by: APPROVER,
        updated_at: created_at(),
        other,
    }
}

fn record_in(status: MergeRequestStatus) -> MergeRequestRecord {
    MergeRequestRecord { status, ..record() }
}

fn reject(user_id: Uuid, legal_entity_id: Uuid) -> MergeRequestCommand {
    MergeRequestCommand::Reject {
        user_id: user_id.into(),
        legal_entity_id: legal_entity_id.into(),
        at: now(),
    }
}

fn reject_by_author() -> MergeRequestCommand {
    reject(AUTHOR, LEGAL_ENTITY)
}

fn rejected_event() -> MergeRequestEvent {
    MergeRequestEvent::MergeRequestRejected {
        by: AUTHOR,
        at: now(),
    }
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn import_of_a_new_merge_request_creates_it_and_a_second_import_is_a_no_op() {
    let changed = record_in(MergeRequestStatus::Merged);
    assert_imported_once(record(), changed, MergeRequestCommand::Import).await;
}

// ---------------------------------------------------------------------------------------------
// Reject: rules in order
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reject_of_a_merge_request_that_does_not_exist_is_refused_with_not_found() {
    assert_refused(
        when(given_nothing::<MergeRequest>(), reject_by_author()).await,
        MergeRequestError::NotFound,
        "Merge request not found",
    );
}

#[tokio::test]
async fn reject_by_someone_other_than_the_author_is_refused_with_not_author() {
    assert_refused(
        when(given(record()), reject(OTHER_USER, LEGAL_ENTITY)).await,
        MergeRequestError::NotAuthor,
        "Only author of merge request is allowed to reject it",
    );
}

#[tokio::test]
async fn reject_by_the_author_from_another_legal_entity_is_refused_with_other_legal_entity() {
    assert_refused(
        when(given(record()), reject(AUTHOR, OTHER_LEGAL_ENTITY)).await,
        MergeRequestError::OtherLegalEntity,
        "User doesn't belong to legal entity where the merge request was created",
    );
}

#[tokio::test]
async fn reject_of_a_merge_request_that_is_not_new_or_approved_is_refused_with_invalid_status() {
    let rejectable = [MergeRequestStatus::New, MergeRequestStatus::Approved];
    let others = statuses_except(MergeRequestStatus::VALUES, &rejectable);
    assert_eq!(others.len(), 5);
    for (status, text) in others {
        assert_eq!(
            when(given(record_in(status)), reject_by_author()).await,
            Err(MergeRequestError::InvalidStatus),
            "status {text}"
        );
    }
    assert_eq!(
        MergeRequestError::InvalidStatus.to_string(),
        "Invalid merge request status"
    );
}

#[tokio::test]
async fn reject_of_an_already_rejected_merge_request_is_refused_with_invalid_status() {
    given(record())
        .and(vec![rejected_event()])
        .when_async(reject_by_author())
        .await
        .then_expect_error(MergeRequestError::InvalidStatus);
}

#[tokio::test]
async fn reject_checks_the_author_before_the_legal_entity_and_both_before_the_status() {
    let merged = || record_in(MergeRequestStatus::Merged);
    let cases = [
        (
            "a stranger from another legal entity",
            record(),
            OTHER_USER,
            OTHER_LEGAL_ENTITY,
            MergeRequestError::NotAuthor,
        ),
        (
            "a non-author of a merged request",
            merged(),
            OTHER_USER,
            LEGAL_ENTITY,
            MergeRequestError::NotAuthor,
        ),
        (
            "the author from another legal entity, of a merged request",
            merged(),
            AUTHOR,
            OTHER_LEGAL_ENTITY,
            MergeRequestError::OtherLegalEntity,
        ),
    ];
    for (case, merge_request, user, legal_entity, expected) in cases {
        assert_eq!(
            when(given(merge_request), reject(user, legal_entity)).await,
            Err(expected),
            "reject by {case}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Reject: success
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn reject_of_a_new_or_approved_merge_request_by_its_author_emits_rejected() {
    for status in [MergeRequestStatus::New, MergeRequestStatus::Approved] {
        assert_eq!(
            when(given(record_in(status)), reject_by_author()).await,
            Ok(vec![rejected_event()]),
            "status {}",
            status.as_str()
        );
    }
}

#[tokio::test]
async fn a_rejected_merge_request_is_rejected_and_updated_by_the_author() {
    let state =
        state_after_command(record_in(MergeRequestStatus::Approved), reject_by_author()).await;
    assert_eq!(
        state,
        MergeRequestRecord {
            status: MergeRequestStatus::Rejected,
            updated_by: AUTHOR,
            updated_at: now(),
            ..record()
        }
    );
    let view = state.render();
    assert_eq!(view["status"], json!("REJECTED"));
    assert_eq!(view["updated_by"], json!(AUTHOR.to_string()));
    assert_eq!(view["inserted_at"], json!(created_at()));
    assert_eq!(view["updated_at"], json!(now()));
    assert_eq!(view["channel"], json!("MIS"));
}

#[test]
fn a_merge_request_renders_its_fields_in_the_ehealth_view() {
    assert_fields(
        &record().render(),
        &[
            ("/id", json!(MR_ID)),
            ("/master_person_id", json!(MASTER_PERSON)),
            ("/merge_person_id", json!(PREPERSON)),
            ("/status", json!("NEW")),
            ("/legal_entity_id", json!(LEGAL_ENTITY)),
            ("/inserted_by", json!(AUTHOR)),
            ("/authorize_with", Value::Null),
        ],
    );
}

#[test]
fn merge_request_statuses_are_written_in_upper_case() {
    assert_written_as(MergeRequestStatus::VALUES, MergeRequestStatus::as_str);
    assert_eq!(MergeRequestStatus::Approved.as_str(), "APPROVED");
}

#[tokio::test]
async fn check_reject_gives_the_same_answer_as_the_command() {
    let aggregate = holding(record());
    let cases = [
        ("by its author", AUTHOR, LEGAL_ENTITY, Ok(())),
        (
            "by another user",
            OTHER_USER,
            LEGAL_ENTITY,
            Err(MergeRequestError::NotAuthor),
        ),
        (
            "by its author from another legal entity",
            AUTHOR,
            OTHER_LEGAL_ENTITY,
            Err(MergeRequestError::OtherLegalEntity),
        ),
    ];
    for (case, user, legal_entity, expected) in cases {
        assert_eq!(
            aggregate.check_reject(user.into(), legal_entity.into()),
            expected,
            "reject {case}"
        );
        assert_eq!(
            when(given(record()), reject(user, legal_entity))
                .await
                .map(|_| ()),
            expected,
            "the command: reject {case}"
        );
    }
    assert_eq!(
        MergeRequest::default().check_reject(AUTHOR.into(), LEGAL_ENTITY.into()),
        Err(MergeRequestError::NotFound)
    );
}

#[test]
fn a_rejection_of_a_merge_request_that_was_never_imported_changes_nothing() {
    assert_nothing_changes_before_the_import::<MergeRequest>([rejected_event()]);
}

#[test]
fn merge_request_events_are_named_and_versioned() {
    assert_named_and_versioned(vec![
        (imported(record()).remove(0), "MergeRequestImported"),
        (rejected_event(), "MergeRequestRejected"),
    ]);
}
