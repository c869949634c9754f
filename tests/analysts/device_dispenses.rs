//! `GET /api/device_dispenses`: the dispenses the legal entity performed, by status, patient and
//! date.

use serde_json::json;

use crate::support::world::*;
use crate::support::TestApp;
use crate::*;

/// A dispense of P_OFFLINE performed by LE_MAIN in March 2023.
const DD_2023: uuid::Uuid = uuid::Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_00aa_7001);

async fn import_2023(app: &TestApp) {
    app.import(&json!({ "device_dispenses": [ {
            "id": DD_2023, "patient_id": P_OFFLINE, "status": "completed",
            "performer_legal_entity": LE_MAIN,
            "inserted_at": "2023-03-01T08:00:00Z", "updated_at": "2023-03-02T08:00:00Z"
        } ] }))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_holds_the_dispenses_the_legal_entity_performed_rendered_like_the_read_endpoint() {
    let (app, token) = doctor_app().await;
    import_2023(&app).await;

    let reply = app.get(DEVICE_DISPENSES, Some(&token)).await;

    assert_eq!(ids(&reply), [DD_2023, DD_IN_PROGRESS, DD_COMPLETED]);
    assert_items_as_read(&app, &token, &reply, |item| {
        paths::device_dispense(item_patient(item), item_id(item))
    })
    .await;
    let pages = walk(&app, DEVICE_DISPENSES, "limit=1", &token).await;
    assert_eq!(page_ids(&pages), [DD_2023, DD_IN_PROGRESS, DD_COMPLETED]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispenses_are_filtered_by_status_patient_and_dates_alone_and_combined() {
    let (app, token) = doctor_app().await;
    import_2023(&app).await;
    let cases = [
        ("status=in_progress".to_string(), vec![DD_IN_PROGRESS]),
        ("status=completed".to_string(), vec![DD_2023, DD_COMPLETED]),
        ("status=stopped".to_string(), vec![]),
        (
            format!("patient_id={P_OTP}"),
            vec![DD_IN_PROGRESS, DD_COMPLETED],
        ),
        (format!("patient_id={P_OFFLINE}"), vec![DD_2023]),
        ("updated_to=2024-01-01".to_string(), vec![DD_2023]),
        (
            "updated_from=2024-01-01".to_string(),
            vec![DD_IN_PROGRESS, DD_COMPLETED],
        ),
        (
            "inserted_from=2023-03-01&inserted_to=2023-03-01T08:00:00.000001Z".to_string(),
            vec![DD_2023],
        ),
        (
            format!("status=completed&patient_id={P_OTP}"),
            vec![DD_COMPLETED],
        ),
        (
            format!("status=completed&patient_id={P_OFFLINE}&updated_from=2023-03-02&updated_to=2023-03-03"),
            vec![DD_2023],
        ),
    ];
    assert_lists(&app, DEVICE_DISPENSES, &token, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_dispense_is_listed_as_stopped_after_the_others() {
    let (app, token) = doctor_app().await;
    let job = app
        .stop_device_dispense(P_OTP, DD_IN_PROGRESS, &token)
        .await
        .job_href();
    app.wait_job(&job, &token).await;

    let cases = [
        ("status=stopped", vec![DD_IN_PROGRESS]),
        ("status=in_progress", vec![]),
        ("", vec![DD_COMPLETED, DD_IN_PROGRESS]),
    ];
    assert_lists(&app, DEVICE_DISPENSES, &token, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_legal_entity_sees_only_the_dispenses_it_performed() {
    let app = TestApp::spawn().await;
    let other = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);
    let cases = [
        (String::new(), vec![DD_OTHER_LE]),
        ("status=completed".to_string(), vec![]),
        (format!("patient_id={P_OTP}"), vec![DD_OTHER_LE]),
    ];
    assert_lists(&app, DEVICE_DISPENSES, &other, cases).await;
}
