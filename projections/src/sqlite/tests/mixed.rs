//! One commit of mixed aggregates (a merge request, a device dispense, an approval and a service
//! request) fills every aggregate table, its history and its feed on the SQLite live path.

use super::*;

#[tokio::test]
async fn every_aggregate_table_in_one_commit_of_mixed_aggregates() {
    let pool = sqlite().await;
    let (mr, dd, ap) = (
        Uuid::from_u128(0x3a00_0000_0000_4000_8000_0000_0000_0001),
        Uuid::from_u128(0xdd00_0000_0000_4000_8000_0000_0000_0001),
        Uuid::from_u128(0xab00_0000_0000_4000_8000_0000_0000_0001),
    );
    let later = at("2024-03-05T12:00:00.5Z");
    let expires = at("2024-03-01T09:15:00Z");
    let merge_request = MergeRequestRecord {
        id: mr,
        master_person_id: PATIENT,
        merge_person_id: Uuid::from_u128(0x9a00_0000_0000_4000_8000_0000_0000_0002),
        status: MergeRequestStatus::New,
        legal_entity_id: REQUESTER_LE,
        inserted_by: AUTHOR,
        inserted_at: created_at(),
        updated_by: AUTHOR,
        updated_at: created_at(),
        other: Map::new(),
    };
    let dispense = DeviceDispenseRecord {
        id: dd,
        patient_id: PATIENT,
        status: DeviceDispenseStatus::InProgress,
        performer_legal_entity: USING_LE,
        performer: None,
        inserted_at: created_at(),
        inserted_by: None,
        updated_at: created_at(),
        updated_by: None,
        other: Map::new(),
    };
    let approval = ApprovalRecord {
        id: ap,
        patient_id: PATIENT,
        status: ApprovalStatus::New,
        reason_service_request: Some(SR),
        granted_to: Some(USING_EMPLOYEE),
        legal_entity_id: Some(USING_LE),
        authorize_with: None,
        inserted_at: created_at(),
        inserted_by: Some(AUTHOR),
        updated_at: created_at(),
        updated_by: Some(AUTHOR),
        otp: Some(OtpChallenge {
            method_type: "OTP".into(),
            phone_number: "+380000000000".into(),
            salt: "salt".into(),
            issued_at: created_at(),
            expires_at: expires,
        }),
        other: Map::new(),
    };
    let events = [
        stored(
            "MergeRequest",
            mr,
            1,
            1,
            &MergeRequestEvent::MergeRequestImported(Box::new(merge_request)),
            AUTHOR,
            created_at(),
        ),
        stored(
            "DeviceDispense",
            dd,
            1,
            2,
            &DeviceDispenseEvent::DeviceDispenseImported(Box::new(dispense)),
            AUTHOR,
            created_at(),
        ),
        stored(
            "Approval",
            ap,
            1,
            3,
            &ApprovalEvent::ApprovalImported(Box::new(approval)),
            AUTHOR,
            created_at(),
        ),
        stored(
            "MergeRequest",
            mr,
            2,
            4,
            &MergeRequestEvent::MergeRequestRejected {
                by: RECALLER,
                at: later,
            },
            RECALLER,
            later,
        ),
        stored(
            "DeviceDispense",
            dd,
            2,
            5,
            &DeviceDispenseEvent::DeviceDispenseStopped {
                by: RECALLER,
                at: later,
            },
            RECALLER,
            later,
        ),
        stored(
            "Approval",
            ap,
            2,
            6,
            &ApprovalEvent::ApprovalRevoked {
                service_request_id: SR,
                by: RECALLER,
                at: later,
            },
            RECALLER,
            later,
        ),
    ];
    project_committed(&pool, &events).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let later_ts = "2024-03-05T12:00:00.500000Z".to_string();

    let mr_row: (String, String, String, String, String, String, String, i64) = one(
        &mut conn,
        "SELECT id, status, legal_entity_id, inserted_by, inserted_at, updated_by, updated_at, \
         version FROM merge_requests",
    )
    .await;
    assert_eq!(
        mr_row,
        (
            s(mr),
            "REJECTED".into(),
            s(REQUESTER_LE),
            s(AUTHOR),
            "2024-03-01T09:00:00.000000Z".into(),
            s(RECALLER),
            later_ts.clone(),
            2
        )
    );
    let dd_row: (String, String, String, String, Option<String>, i64) = one(
        &mut conn,
        "SELECT id, status, performer_legal_entity_id, updated_at, updated_by, version \
         FROM device_dispenses",
    )
    .await;
    assert_eq!(
        dd_row,
        (
            s(dd),
            "stopped".into(),
            s(USING_LE),
            later_ts.clone(),
            Some(s(RECALLER)),
            2
        )
    );
    type ApRow = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        i64,
    );
    let ap_row: ApRow = one(
        &mut conn,
        "SELECT id, status, reason_service_request, granted_to, legal_entity_id, otp_expires_at, \
         updated_at, version FROM approvals",
    )
    .await;
    assert_eq!(
        ap_row,
        (
            s(ap),
            "cancelled".into(),
            Some(s(SR)),
            Some(s(USING_EMPLOYEE)),
            Some(s(USING_LE)),
            Some("2024-03-01T09:15:00.000000Z".into()),
            later_ts.clone(),
            2
        )
    );

    // One history row per creation and per change; a feed record per change only.
    assert_eq!(history(&mut conn).await.len(), 6);
    let feed = feed(&mut conn).await;
    let got: Vec<_> = feed
        .iter()
        .map(|f| (f.0.clone(), f.2.as_str(), f.4.as_str(), f.7))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                feed_id("MergeRequest", mr, 2),
                "MergeRequest",
                r#"{"status":{"new_value":"REJECTED"}}"#,
                4
            ),
            (
                feed_id("DeviceDispense", dd, 2),
                "DeviceDispense",
                r#"{"status":{"new_value":"stopped"}}"#,
                5
            ),
            (
                feed_id("Approval", ap, 2),
                "Approval",
                r#"{"status":{"new_value":"cancelled"}}"#,
                6
            ),
        ]
    );
    assert!(feed.iter().all(|f| f.5 == later_ts && f.6 == s(RECALLER)));
}
