//! History of an entity: `GET …/{id}/history` on each entity's read path — every event in order,
//! with its position, type, version, redacted payload, time and authority.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{Reply, TestApp};
use crate::{
    approval, device_dispense, doctor, merge_request, other_doctor, recall, reject, resend,
    service_request, stop,
};

/// The history's entries, checked to be a list with consecutive sequences and growing positions.
#[track_caller]
fn entries(reply: &Reply) -> Vec<Value> {
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["meta"]["type"], "list");
    let list = reply.data().as_array().expect("data is a list").clone();
    for pair in list.windows(2) {
        assert_eq!(
            pair[1]["sequence"].as_i64().unwrap(),
            pair[0]["sequence"].as_i64().unwrap() + 1
        );
        assert!(pair[1]["global_position"].as_i64() > pair[0]["global_position"].as_i64());
    }
    list
}

/// The authority of an imported event: the nil user and legal entity, the import's ids.
#[track_caller]
fn assert_imported(entry: &Value, id: Uuid, event_type: &str) {
    assert_eq!(entry["sequence"], 1);
    assert_eq!(entry["event_type"], event_type);
    assert_eq!(entry["event_version"], "1.0");
    assert_eq!(entry["payload"]["id"], id.to_string());
    let nil = Uuid::nil().to_string();
    assert_eq!(
        entry["authority"],
        json!({ "user_id": nil, "legal_entity_id": nil, "request_id": "import",
                "command_id": entry["authority"]["command_id"], "correlation_id": "import",
                "causation_id": "import", "job_id": null })
    );
    assert!(entry["authority"]["command_id"]
        .as_str()
        .unwrap()
        .starts_with("import:"));
    recorded_at(entry);
}

#[track_caller]
fn recorded_at(entry: &Value) -> DateTime<Utc> {
    entry["recorded_at"]
        .as_str()
        .expect("recorded_at")
        .parse()
        .expect("recorded_at is RFC 3339")
}

fn job_id(reply: &Reply) -> String {
    reply.job_href().rsplit('/').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_of_a_released_service_request_shows_both_events_with_their_authority() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    let released = app
        .release(SR_QUEUED, &token)
        .request_id("audit-request-1")
        .idempotency_key("release-1")
        .await;
    let job = job_id(&released);

    let reply = app
        .history(&service_request(P_OTP, SR_QUEUED), &token)
        .await;

    let list = entries(&reply);
    assert_eq!(list.len(), 2, "{:#}", reply.body);
    assert_imported(&list[0], SR_QUEUED, "ServiceRequestImported");
    assert_eq!(list[0]["payload"]["program_processing_status"], "in_queue");
    assert_eq!(
        list[0]["payload"]["used_by_legal_entity"],
        LE_MAIN.to_string()
    );
    let release = &list[1];
    assert_eq!(release["sequence"], 2);
    assert_eq!(release["event_type"], "ServiceRequestReleased");
    assert_eq!(release["event_version"], "1.0");
    let payload = release["payload"].as_object().unwrap();
    assert_eq!(payload["released_employee"], E_DOCTOR.to_string());
    assert_eq!(payload["released_legal_entity"], LE_MAIN.to_string());
    assert_eq!(payload["by"], U_DOCTOR.to_string());
    assert!(payload["at"].is_string());
    let command_id = format!("{LE_MAIN}:{U_DOCTOR}:release-1");
    assert_eq!(
        release["authority"],
        json!({ "user_id": U_DOCTOR, "legal_entity_id": LE_MAIN, "request_id": "audit-request-1",
                "command_id": command_id, "correlation_id": "audit-request-1",
                "causation_id": command_id, "job_id": job })
    );
    assert!(recorded_at(release) >= recorded_at(&list[0]));
    assert_eq!(
        reply.body["paging"],
        json!({ "page_number": 1, "page_size": 50, "total_entries": 2, "total_pages": 1 })
    );

    // The positions are the event log's.
    let stored = app.log(SR_QUEUED).await;
    for (entry, row) in list.iter().zip(&stored) {
        assert_eq!(entry["global_position"], row["global_position"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_of_a_rejected_merge_request_names_the_author_of_the_rejection() {
    let app = TestApp::spawn().await;
    let specialist = app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES);
    reject(&app, &specialist, MR_NEW).await;

    let reply = app.history(&merge_request(MR_NEW), &specialist).await;

    let list = entries(&reply);
    assert_eq!(list.len(), 2);
    assert_imported(&list[0], MR_NEW, "MergeRequestImported");
    assert_eq!(list[0]["payload"]["status"], "NEW");
    assert_eq!(list[1]["event_type"], "MergeRequestRejected");
    assert_eq!(list[1]["payload"]["by"], U_SPECIALIST.to_string());
    assert_eq!(list[1]["authority"]["user_id"], U_SPECIALIST.to_string());
    assert_eq!(list[1]["authority"]["legal_entity_id"], LE_MAIN.to_string());
    // A sync action has no job.
    assert_eq!(list[1]["authority"]["job_id"], Value::Null);
    assert!(list[1]["authority"]["request_id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_of_a_stopped_device_dispense_ends_with_the_stop() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    let stopped = stop(&app, &token, P_OTP, DD_IN_PROGRESS).await;

    let reply = app
        .history(&device_dispense(P_OTP, DD_IN_PROGRESS), &token)
        .await;

    let list = entries(&reply);
    assert_eq!(list.len(), 2);
    assert_imported(&list[0], DD_IN_PROGRESS, "DeviceDispenseImported");
    assert_eq!(list[1]["event_type"], "DeviceDispenseStopped");
    assert_eq!(list[1]["payload"]["by"], U_DOCTOR.to_string());
    assert_eq!(list[1]["authority"]["job_id"], job_id(&stopped));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_of_a_twice_resent_approval_redacts_salts_and_masks_phones_and_never_holds_a_code(
) {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    resend(&app, &token, P_OTP, AP_OTP).await;
    resend(&app, &token, P_OTP, AP_OTP).await;
    let sms = app.wait_sms_sent(2).await;
    let codes: Vec<String> = sms
        .iter()
        .map(|s| {
            s["delivered_text"]
                .as_str()
                .unwrap()
                .rsplit(' ')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(codes.len(), 2);
    // `->` and `->>` read JSON the same way on PostgreSQL and SQLite.
    let salts: Vec<String> = app
        .strings(&format!(
            "SELECT payload->'ApprovalOtpResent'->>'salt' FROM events \
             WHERE aggregate_id = '{AP_OTP}' AND event_type = 'ApprovalOtpResent' ORDER BY sequence"
        ))
        .await;
    assert_eq!(salts.len(), 2);

    let reply = app.history(&approval(P_OTP, AP_OTP), &token).await;

    let list = entries(&reply);
    assert_eq!(list.len(), 3, "{:#}", reply.body);
    assert_imported(&list[0], AP_OTP, "ApprovalImported");
    for resent in &list[1..] {
        assert_eq!(resent["event_type"], "ApprovalOtpResent");
        assert_eq!(resent["payload"]["salt"], "[redacted]");
        assert_eq!(resent["payload"]["phone_number"], "+38093*****85");
        assert_eq!(resent["payload"]["method_type"], "OTP");
        assert!(resent["payload"]["expires_at"].is_string());
        assert_eq!(resent["authority"]["user_id"], U_DOCTOR.to_string());
        assert!(resent["authority"]["job_id"].is_string());
    }
    let text = reply.body.to_string();
    assert!(!text.contains(PHONE_OTP), "{text}");
    for salt in &salts {
        assert!(!text.contains(salt.as_str()), "salt {salt} in {text}");
    }
    let tokens: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .collect();
    for code in &codes {
        assert!(!tokens.contains(&code.as_str()), "code {code} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_of_an_approval_revoked_by_a_recall_is_caused_by_the_recall() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    recall(&app, &token, P_OTP, SR_ACTIVE).await;

    let sr = entries(
        &app.history(&service_request(P_OTP, SR_ACTIVE), &token)
            .await,
    );
    assert_eq!(sr.len(), 2);
    assert_eq!(sr[1]["event_type"], "ServiceRequestRecalled");
    assert_eq!(sr[1]["payload"]["status_reason"]["coding"][0]["code"], "1");
    let ap = entries(&app.history(&approval(P_OTP, AP_SR_1), &token).await);
    assert_eq!(ap.len(), 2);
    assert_eq!(ap[1]["event_type"], "ApprovalRevoked");
    assert_eq!(
        ap[1]["payload"]["service_request_id"],
        SR_ACTIVE.to_string()
    );
    let (recall_authority, revoke_authority) = (&sr[1]["authority"], &ap[1]["authority"]);
    assert_eq!(revoke_authority["user_id"], U_DOCTOR.to_string());
    assert_eq!(revoke_authority["legal_entity_id"], LE_MAIN.to_string());
    assert_eq!(
        revoke_authority["causation_id"],
        recall_authority["command_id"]
    );
    assert_eq!(
        revoke_authority["correlation_id"],
        recall_authority["correlation_id"]
    );
    assert_eq!(
        revoke_authority["request_id"],
        recall_authority["request_id"]
    );
    assert!(ap[1]["global_position"].as_i64() > sr[1]["global_position"].as_i64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_like_the_event_manager() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    resend(&app, &token, P_OTP, AP_OTP).await;
    resend(&app, &token, P_OTP, AP_OTP).await;
    let path = approval(P_OTP, AP_OTP);

    let reply = app.history(&path, &token).query("page=2&page_size=2").await;

    let list = entries(&reply);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["sequence"], 3);
    assert_eq!(
        reply.body["paging"],
        json!({ "page_number": 2, "page_size": 2, "total_entries": 3, "total_pages": 2 })
    );
    let reply = app.history(&path, &token).query("page_size=501").await;
    reply.assert_error(
        422,
        "validation_failed",
        "expected an integer between 1 and 500",
    );
    assert_eq!(
        reply.body["error"]["invalid"][0]["entry_type"],
        "query_parameter"
    );
    assert_eq!(reply.body["error"]["invalid"][0]["entry"], "page_size");
    // History takes only the paging parameters.
    let reply = app.history(&path, &token).query("version=1").await;
    reply.assert_error(422, "validation_failed", "query parameter is not allowed");
    assert_eq!(reply.invalid_entries(), vec!["version"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_has_the_read_endpoints_scope_visibility_and_404s() {
    let app = TestApp::spawn().await;
    let main = doctor(&app);
    let other = other_doctor(&app);
    for (path, scope, not_found, wrong_patient) in [
        (
            service_request(P_OTP, SR_ACTIVE),
            "service_request:read",
            "Service request not found",
            Some(service_request(P_OFFLINE, SR_ACTIVE)),
        ),
        (
            merge_request(MR_NEW),
            "merge_request:read",
            "Merge request not found",
            None,
        ),
        (
            device_dispense(P_OTP, DD_IN_PROGRESS),
            "device_dispense:read",
            "Device dispense not found",
            Some(device_dispense(P_OFFLINE, DD_IN_PROGRESS)),
        ),
        (
            approval(P_OTP, AP_OTP),
            "approval:read",
            "Approval with such id is not found",
            Some(approval(P_OFFLINE, AP_OTP)),
        ),
    ] {
        assert_eq!(entries(&app.history(&path, &main).await).len(), 1);

        let reply = app.history(&path, &other).await;
        reply.assert_error(404, "not_found", not_found);

        let without = app.token(U_DOCTOR, LE_MAIN, "event:read job:read");
        let reply = app.history(&path, &without).await;
        reply.assert_error(
            403,
            "forbidden",
            &format!(
                "Your scope does not allow to access this resource. Missing allowances: {scope}"
            ),
        );
        let only = app.token(U_DOCTOR, LE_MAIN, scope);
        assert_eq!(app.history(&path, &only).await.status, 200);

        let unknown = path.rsplit_once('/').unwrap().0.to_string();
        for id in [Uuid::new_v4().to_string(), "nope".to_string()] {
            let reply = app.history(&format!("{unknown}/{id}"), &main).await;
            reply.assert_error(404, "not_found", not_found);
        }
        if let Some(wrong) = wrong_patient {
            let reply = app.history(&wrong, &main).await;
            reply.assert_error(404, "not_found", not_found);
        }
    }
}
