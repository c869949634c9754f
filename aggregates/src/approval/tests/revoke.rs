//! Revoke: after the service request an approval was made for is recalled.

use super::*;

// ---------------------------------------------------------------------------------------------
// Revoke
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn revoke_of_a_new_or_active_approval_emits_revoked() {
    for status in [ApprovalStatus::New, ApprovalStatus::Active] {
        assert_eq!(
            when(given(record_in(status)), revoke()).await,
            Ok(vec![revoked_event()]),
            "status {}",
            status.as_str()
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
async fn revoke_of_an_approval_that_is_already_over_is_a_no_op() {
    for status in [
        ApprovalStatus::Cancelled,
        ApprovalStatus::Expired,
        ApprovalStatus::Rejected,
    ] {
        let result = when(given(record_in(status)), revoke()).await;
        assert_eq!(result, Ok(vec![]), "status {}", status.as_str());
    }
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
