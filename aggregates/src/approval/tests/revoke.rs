//! Revoke: after the service request an approval was made for is recalled.

use super::*;

/// A new or active approval is revoked; one already over (cancelled, expired, rejected) is left
/// as it is, so the revocation writes nothing.
#[tokio::test]
async fn revoke_revokes_a_new_or_active_approval_and_leaves_one_already_over() {
    let revocable = [ApprovalStatus::New, ApprovalStatus::Active];
    for (status, text) in statuses_except(ApprovalStatus::VALUES, &[]) {
        let expected = if revocable.contains(&status) {
            vec![revoked_event()]
        } else {
            vec![]
        };
        assert_eq!(
            when(given(record_in(status)), revoke()).await,
            Ok(expected),
            "status {text}"
        );
    }
}

#[tokio::test]
async fn a_revoked_approval_is_cancelled_and_updated_by_the_revoker() {
    assert_eq!(
        state_after_command(record_in(ApprovalStatus::Active), revoke()).await,
        ApprovalRecord {
            status: ApprovalStatus::Cancelled,
            updated_by: Some(USER),
            updated_at: now(),
            ..record()
        }
    );
}

#[tokio::test]
async fn revoke_without_an_approval_made_for_that_service_request_to_revoke_is_a_no_op() {
    let other = Uuid::from_u128(0x5e00_0000_0000_0000_0000_0000_0000_0099);
    let naming_other = ApprovalCommand::Revoke {
        service_request_id: other.into(),
        by: Uuid::new_v4().into(),
        at: chrono::Utc::now(),
    };
    let cases = [
        (
            "of an approval that does not exist",
            given_nothing::<Approval>(),
            revoke(),
        ),
        (
            "retried",
            given(record()).and(vec![revoked_event()]),
            revoke(),
        ),
        (
            "naming another service request",
            given(record()),
            naming_other,
        ),
    ];
    for (case, approval, command) in cases {
        assert_eq!(when(approval, command).await, Ok(vec![]), "revoke {case}");
    }
}
