//! After the recall: who gets the SMS, and who does not.

use uuid::Uuid;

use crate::support::world::*;
use crate::support::TestApp;
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_a_service_request_with_a_performer_or_an_offline_patient_sends_no_sms() {
    let cases: [(&str, Uuid, Uuid); 2] = [
        ("has a performer", P_OTP, SR_PERFORMER),
        (
            "patient authenticates OFFLINE",
            P_OFFLINE,
            SR_OFFLINE_PATIENT,
        ),
    ];

    for (what, patient, id) in cases {
        let app = TestApp::spawn().await;
        let token = doctor_token(&app);
        let (body, signed) = doctor_recall(&app, patient, id).await;

        let href = recall_and_wait(&app, &token, patient, id, &body).await;

        // The SMS would be queued in the transaction that finished the job.
        app.workers_idle().await;
        assert!(app.sms().await.is_empty(), "{what}: {:#?}", app.sms().await);
        let job = app.get(&href, Some(&token)).await;
        assert_eq!(
            job.headers["location"],
            paths::service_request(patient, id).as_str(),
            "{what}"
        );
        let events = app.log(id).await;
        assert_eq!(events.len(), 2, "{what}: {events:#?}");
        assert_eq!(events[1]["event_type"], "ServiceRequestRecalled");
        let row = app.current("service_requests", id).await.unwrap();
        assert_eq!(row["status"], "recalled", "{what}");
        assert_envelope_stored(&app, what, &signed);
        // SR_ACTIVE's approvals are not touched by another service request's recall.
        for approval in [AP_SR_1, AP_SR_2, AP_SR_3] {
            assert_eq!(app.log(approval).await.len(), 1, "{what}: {approval}");
        }
    }
}
