//! Accepted recalls: the 202, the job, and everything the recall leaves behind.

use serde_json::{json, Value};

use crate::support::world::*;
use crate::support::{pki, TestApp};
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_an_active_service_request_by_its_requester_recalls_it_revokes_its_approvals_and_texts_the_patient(
) {
    let (app, token) = doctor_app().await;
    let (body, signed) = doctor_recall(&app, P_OTP, SR_ACTIVE).await;
    let path = paths::recall(P_OTP, SR_ACTIVE);

    let reply = app
        .recall(P_OTP, SR_ACTIVE, &body, &token)
        .request_id("req-recall-happy-1")
        .await;

    // The 202 with its pending job, in eHealth's envelope.
    let href = reply.job_href();
    assert_eq!(reply.body["meta"]["code"], 202, "{:#}", reply.body);
    assert_eq!(reply.body["meta"]["type"], "object");
    assert_eq!(reply.body["meta"]["request_id"], "req-recall-happy-1");
    assert_eq!(reply.headers["x-request-id"], "req-recall-happy-1");
    let url = reply.body["meta"]["url"].as_str().expect("meta.url");
    assert!(url.starts_with("http://") && url.ends_with(&path), "{url}");
    assert!(reply.data()["eta"].is_string(), "{:#}", reply.body);
    let job_id = href
        .strip_prefix("/api/jobs/")
        .expect("job href")
        .to_string();
    assert_eq!(job_id.len(), 24, "{href}");
    assert!(job_id.chars().all(|c| c.is_ascii_hexdigit()), "{href}");

    // The job finishes with the service request's link.
    let job = app.wait_job(&href, &token).await;
    let link = paths::service_request(P_OTP, SR_ACTIVE);
    assert_eq!(job.status, 303, "{:#}", job.body);
    assert_eq!(job.headers["location"], link.as_str());
    assert_eq!(job.data()["status"], "processed");
    assert_eq!(job.data()["status_code"], 200);
    assert_eq!(
        job.data()["links"],
        json!([{ "entity": "service_request", "href": link }])
    );
    let job_row = app.job_row(&href).await;
    assert_eq!(job_row["status"], "processed");
    assert_eq!(job_row["action"], "recall_service_request");
    assert_eq!(job_row["user_id"], U_DOCTOR.to_string());
    assert_eq!(job_row["legal_entity_id"], LE_MAIN.to_string());

    // One event, with who, on whose authority, through which request and job.
    let events = app.log(SR_ACTIVE).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    let recalled = &events[1];
    assert_eq!(recalled["sequence"], 2);
    assert_eq!(recalled["event_type"], "ServiceRequestRecalled");
    assert_eq!(recalled["metadata"]["user_id"], U_DOCTOR.to_string());
    assert_eq!(recalled["metadata"]["client_id"], LE_MAIN.to_string());
    assert_eq!(recalled["metadata"]["request_id"], "req-recall-happy-1");
    assert_eq!(recalled["metadata"]["job_id"], job_id);
    let payload = &recalled["payload"]["ServiceRequestRecalled"];
    assert_eq!(payload["status_reason"], reason());
    assert_eq!(payload["by"], U_DOCTOR.to_string());

    // The current-state row, the status history and the Event Manager feed.
    let row = app.current("service_requests", SR_ACTIVE).await.unwrap();
    for (column, value) in [
        ("status", json!("recalled")),
        ("status_reason", reason()),
        ("updated_by", json!(U_DOCTOR)),
        ("version", json!(2)),
    ] {
        assert_eq!(row[column], value, "{column} of {row:#}");
    }
    let history = app.status_history(SR_ACTIVE).await;
    assert_eq!(
        history.last().unwrap(),
        &json!({ "sequence": 2, "attribute": "status", "old_value": "active", "new_value": "recalled", "changed_by": U_DOCTOR })
    );
    let feed = app.feed(SR_ACTIVE).await;
    assert_eq!(feed.len(), 1, "{feed:#?}");
    assert_eq!(feed[0]["event_type"], "StatusChangeEvent");
    assert_eq!(feed[0]["entity_type"], "ServiceRequest");
    assert_eq!(feed[0]["entity_id"], SR_ACTIVE.to_string());
    assert_eq!(
        feed[0]["properties"],
        json!({ "status": { "new_value": "recalled" } })
    );
    assert_eq!(feed[0]["changed_by"], U_DOCTOR.to_string());

    // The approvals made for it: new and active ones are revoked, the cancelled one is left alone.
    for approval in [AP_SR_1, AP_SR_2] {
        let row = app.current("approvals", approval).await.unwrap();
        assert_eq!(row["status"], "cancelled", "approval {approval}: {row:#}");
        let events = app.log(approval).await;
        assert_eq!(events.len(), 2, "approval {approval}: {events:#?}");
        assert_eq!(events[1]["event_type"], "ApprovalRevoked");
        assert_eq!(events[1]["metadata"]["user_id"], U_DOCTOR.to_string());
        let feed = app.feed(approval).await;
        assert_eq!(feed.len(), 1, "approval {approval}: {feed:#?}");
        assert_eq!(feed[0]["entity_type"], "Approval");
        assert_eq!(
            feed[0]["properties"],
            json!({ "status": { "new_value": "cancelled" } })
        );
        assert_eq!(feed[0]["changed_by"], U_DOCTOR.to_string());
    }
    assert_eq!(app.log(AP_SR_3).await.len(), 1);
    assert!(app.feed(AP_SR_3).await.is_empty());
    assert_eq!(
        app.current("approvals", AP_SR_3).await.unwrap()["status"],
        "cancelled"
    );
    // Approvals made for other reasons are untouched.
    for approval in [AP_OTP, AP_ACTIVE] {
        assert_eq!(app.log(approval).await.len(), 1, "approval {approval}");
    }

    // Exactly one SMS, to the patient's OTP phone, with the requisition number.
    let sms = app.settled_sms(1).await;
    assert_eq!(sms.len(), 1, "{sms:#?}");
    assert_eq!(sms[0]["phone_number"], PHONE_OTP);
    assert_eq!(sms[0]["status"], "sent");
    let text = sms[0]["delivered_text"].as_str().expect("delivered text");
    assert!(text.contains(SR_REQUISITION), "{text}");
    assert_eq!(
        text,
        format!("Ваше направлення під номером {SR_REQUISITION} було відкликано")
    );

    // The signed data is in media storage exactly as received, under the link the event names.
    assert_envelope_stored(&app, "the recall", &signed);
    let files = app.media_files();
    let link = payload["signed_content_link"].as_str().expect("link");
    assert!(link.starts_with(&format!("{SR_ACTIVE}/recall/")), "{link}");
    let digest = link.rsplit('/').next().unwrap();
    assert!(
        files[0].ends_with(format!("{SR_ACTIVE}/recall/{digest}.p7s.b64")),
        "{files:?} vs {link}"
    );

    // The read endpoint shows the recall.
    let shown = app.service_request(P_OTP, SR_ACTIVE, &token).await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    assert_eq!(shown.data()["status"], "recalled");
    assert_eq!(shown.data()["status_reason"], reason());
    let entry = shown.data()["status_history"]
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(entry["status"], "recalled", "{:#}", shown.body);
    assert_eq!(entry["status_reason"], reason());
    assert_eq!(entry["inserted_by"], U_DOCTOR.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_with_an_ecdsa_certificate_whose_latin_drfo_looks_like_the_cyrillic_tax_id_is_accepted(
) {
    let app = TestApp::spawn().await;
    let token = app.token(U_PASSPORT, LE_MAIN, ALL_SCOPES);
    let content = with_reason(rendering(&app, &token, P_OTP, SR_PASSPORT).await, reason());
    let signed = sign_json(&pki().passport_latin, &content);

    recall_and_wait(&app, &token, P_OTP, SR_PASSPORT, &body_of(&signed)).await;

    let events = app.log(SR_PASSPORT).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[1]["event_type"], "ServiceRequestRecalled");
    assert_eq!(events[1]["metadata"]["user_id"], U_PASSPORT.to_string());
    let row = app.current("service_requests", SR_PASSPORT).await.unwrap();
    assert_eq!(row["status"], "recalled");
    assert_eq!(row["updated_by"], U_PASSPORT.to_string());
    assert_envelope_stored(&app, "the recall", &signed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_content_that_differs_only_in_explanatory_letter_and_timestamps_is_accepted() {
    let (app, token) = doctor_app().await;
    let mut content = with_reason(rendering(&app, &token, P_OTP, SR_ACTIVE).await, reason());
    content["explanatory_letter"] = json!("Пацієнт відмовився від послуги");
    content["inserted_at"] = json!("2020-01-01T00:00:00Z");
    content["updated_at"] = json!("2021-02-03T04:05:06.789Z");
    let signed = sign_json(&pki().doctor, &content);

    recall_and_wait(&app, &token, P_OTP, SR_ACTIVE, &body_of(&signed)).await;

    let events = app.log(SR_ACTIVE).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(
        events[1]["payload"]["ServiceRequestRecalled"]["explanatory_letter"],
        "Пацієнт відмовився від послуги"
    );
    let shown = rendering(&app, &token, P_OTP, SR_ACTIVE).await;
    assert_eq!(shown["status"], "recalled");
    assert_eq!(
        shown["explanatory_letter"],
        "Пацієнт відмовився від послуги"
    );
    // The stored timestamps are the service's, not the signed content's.
    assert_eq!(shown["inserted_at"], "2024-05-01T10:00:00Z");
    assert_ne!(shown["updated_at"], "2021-02-03T04:05:06.789Z");
}
