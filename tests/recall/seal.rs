//! A personal signature wrapped in the legal entity's seal (a second SignedData around the
//! first): the seal is unwrapped, exactly one personal signer is required, and the seal's EDRPOU
//! must be the caller's legal entity's (`edrpou` in the reference data).

use serde_json::json;

use crate::support::qualified_pki::{qualified, SEAL_EDRPOU};
use crate::support::world::*;
use crate::support::{pki, TestApp};
use crate::*;

/// The app, with LE_MAIN given the EDRPOU [`SEAL_EDRPOU`] (`None` leaves it unknown).
async fn app_with_edrpou(edrpou: Option<&str>) -> TestApp {
    let app = TestApp::spawn().await;
    if let Some(edrpou) = edrpou {
        app.import(&json!({ "legal_entities": [ {
            "id": LE_MAIN, "type": "OUTPATIENT", "status": "ACTIVE", "nhs_verified": true,
            "edrpou": edrpou,
        } ] }))
        .await;
    }
    app
}

/// The doctor's signed recall of SR_ACTIVE (base64), not yet sealed.
async fn doctor_signed(app: &TestApp) -> String {
    doctor_recall(app, P_OTP, SR_ACTIVE).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_signed_by_the_doctor_under_the_legal_entitys_seal_is_accepted() {
    let app = app_with_edrpou(Some(SEAL_EDRPOU)).await;
    let sealed = qualified().sealed(&qualified().seal, &doctor_signed(&app).await);

    recall_and_wait(
        &app,
        &doctor_token(&app),
        P_OTP,
        SR_ACTIVE,
        &body_of(&sealed),
    )
    .await;

    let events = app.log(SR_ACTIVE).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    let row = app.current("service_requests", SR_ACTIVE).await.unwrap();
    assert_eq!(row["status"], "recalled");
    // What was received is kept: the sealed envelope.
    let files = app.media_files();
    assert_eq!(std::fs::read_to_string(&files[0]).unwrap(), sealed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_under_another_organisations_seal_answers_422_and_changes_nothing() {
    let app = app_with_edrpou(Some(SEAL_EDRPOU)).await;
    let sealed = qualified().sealed(&qualified().other_seal, &doctor_signed(&app).await);
    assert_signed_refused(&app, &sealed, "Does not match the legal entity").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_under_a_seal_when_the_legal_entitys_edrpou_is_unknown_answers_422() {
    let app = app_with_edrpou(None).await;
    let sealed = qualified().sealed(&qualified().seal, &doctor_signed(&app).await);
    assert_signed_refused(&app, &sealed, "Does not match the legal entity").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_with_two_personal_signatures_under_a_seal_answers_422_two_signatures() {
    let app = app_with_edrpou(Some(SEAL_EDRPOU)).await;
    let inner = doctor_signed(&app).await;
    let countersigned = qualified().sealed(&pki().stranger, &inner);
    let sealed = qualified().sealed(&qualified().seal, &countersigned);
    let message = "document must be signed by 1 signer but contains 2 signatures";
    assert_signed_refused(&app, &sealed, message).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_whose_inner_signature_is_invalid_answers_that_signatures_message() {
    let app = app_with_edrpou(Some(SEAL_EDRPOU)).await;
    let inner = qualified().revoked.sign(b"{}");
    let sealed = qualified().sealed(&qualified().seal, &inner);
    assert_signed_refused(&app, &sealed, "certificate is revoked").await;
}
