//! `GET /api/service_requests`: what a legal entity sees, each filter alone and combined.

use serde_json::json;

use crate::support::world::*;
use crate::support::TestApp;
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_holds_every_service_request_the_legal_entity_requested_or_uses_rendered_like_the_read_endpoint(
) {
    let (app, token) = doctor_app().await;

    let reply = app.get(SERVICE_REQUESTS, Some(&token)).await;

    assert_eq!(ids(&reply), MAIN_SERVICE_REQUESTS);
    assert!(reply.body["meta"]["url"]
        .as_str()
        .unwrap()
        .ends_with(SERVICE_REQUESTS));
    assert_eq!(
        reply.body["paging"],
        json!({ "limit": 50, "next_cursor": null, "has_more": false })
    );
    assert_eq!(reply.headers["vary"], "accept");
    assert_items_as_read(&app, &token, &reply, |item| {
        paths::service_request(item_patient(item), item_id(item))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_request_filter_alone_selects_only_its_matches() {
    let (app, token) = doctor_app().await;
    let cases = [
        ("status=recalled", vec![SR_RECALLED]),
        ("status=completed", vec![SR_COMPLETED]),
        ("status=in_progress", vec![]),
        (
            "program_processing_status=in_queue",
            vec![SR_QUEUED, SR_RECALLED, SR_USED_BY_OTHER],
        ),
        ("program_processing_status=new", vec![SR_PPS_NEW]),
        (
            &format!("requester_legal_entity={LE_MAIN}"),
            MAIN_SERVICE_REQUESTS
                .into_iter()
                .filter(|id| *id != SR_USED_BY_MAIN)
                .collect(),
        ),
        (
            &format!("used_by_legal_entity={LE_MAIN}"),
            vec![SR_QUEUED, SR_RECALLED, SR_USED_BY_MAIN],
        ),
        (
            &format!("used_by_legal_entity={LE_OTHER}"),
            vec![SR_USED_BY_OTHER],
        ),
        (&format!("patient_id={P_OFFLINE}"), vec![SR_OFFLINE_PATIENT]),
        (&format!("patient_id={P_UNKNOWN}"), vec![]),
    ];
    assert_lists(&app, SERVICE_REQUESTS, &token, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_request_filters_combine_as_and() {
    let (app, token) = doctor_app().await;
    let cases = [
        (
            format!("status=active&program_processing_status=in_queue&used_by_legal_entity={LE_MAIN}"),
            vec![SR_QUEUED],
        ),
        (
            "status=active&program_processing_status=in_queue".to_string(),
            vec![SR_QUEUED, SR_USED_BY_OTHER],
        ),
        (
            format!("status=recalled&patient_id={P_OFFLINE}"),
            vec![],
        ),
        (
            format!("status=active&patient_id={P_OFFLINE}&requester_legal_entity={LE_MAIN}&updated_from=2024-05-01&updated_to=2024-05-02"),
            vec![SR_OFFLINE_PATIENT],
        ),
    ];
    assert_lists(&app, SERVICE_REQUESTS, &token, cases).await;
}

/// Three service requests of LE_MAIN updated on consecutive days of June, created in January.
async fn import_dated(app: &TestApp) -> [uuid::Uuid; 3] {
    let ids = [extra_id(1), extra_id(2), extra_id(3)];
    let srs: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            service_request(
                *id,
                json!({
                    "inserted_at": format!("2024-01-0{}T12:00:00Z", i + 1),
                    "updated_at": format!("2024-06-0{}T00:00:00Z", i + 1),
                }),
            )
        })
        .collect();
    app.import(&json!({ "service_requests": srs })).await;
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn date_ranges_include_their_start_and_exclude_their_end() {
    let (app, token) = doctor_app().await;
    let [june1, june2, june3] = import_dated(&app).await;
    let cases = [
        ("updated_from=2024-06-01", vec![june1, june2, june3]),
        (
            "updated_from=2024-06-01&updated_to=2024-06-03",
            vec![june1, june2],
        ),
        ("updated_to=2024-06-01", MAIN_SERVICE_REQUESTS.to_vec()),
        // An instant with an offset: 03:00+03:00 is midnight UTC of June 2.
        (
            "updated_from=2024-06-02T03:00:00%2B03:00",
            vec![june2, june3],
        ),
        (
            "updated_from=2024-06-01T00:00:00.000001Z",
            vec![june2, june3],
        ),
        ("updated_from=2024-06-03&updated_to=2024-06-01", vec![]),
        ("inserted_from=2024-01-02", {
            let mut v = vec![june2, june3];
            v.splice(0..0, MAIN_SERVICE_REQUESTS);
            v
        }),
        (
            "inserted_from=2024-01-01&inserted_to=2024-01-03",
            vec![june1, june2],
        ),
        ("inserted_to=2024-01-01T12:00:00Z", vec![]),
        (
            "inserted_from=2024-01-02&inserted_to=2024-02-01&updated_to=2024-06-03",
            vec![june2],
        ),
    ];
    assert_lists(&app, SERVICE_REQUESTS, &token, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_service_request_is_found_by_its_new_state_and_update_time() {
    let (app, token) = doctor_app().await;
    let job = app.release(SR_QUEUED, &token).await.job_href();
    app.wait_job(&job, &token).await;
    let today = chrono::Utc::now().date_naive();

    let cases = [
        (format!("updated_from={today}"), vec![SR_QUEUED]),
        (
            "program_processing_status=new".to_string(),
            vec![SR_PPS_NEW, SR_QUEUED],
        ),
        (
            format!("used_by_legal_entity={LE_MAIN}"),
            vec![SR_RECALLED, SR_USED_BY_MAIN],
        ),
    ];
    assert_lists(&app, SERVICE_REQUESTS, &token, cases).await;
    let all = list_ids(&app, SERVICE_REQUESTS, "", &token).await;
    assert_eq!(all.last(), Some(&SR_QUEUED), "the latest change comes last");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_legal_entity_sees_only_the_service_requests_it_requested_or_uses() {
    let app = TestApp::spawn().await;
    let other = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);

    let cases = [
        (
            String::new(),
            vec![SR_USED_BY_OTHER, SR_OTHER_LE, SR_USED_BY_MAIN],
        ),
        // Filtering on LE_MAIN as requester does not open LE_MAIN's list: only what LE_OTHER uses.
        (
            format!("requester_legal_entity={LE_MAIN}"),
            vec![SR_USED_BY_OTHER],
        ),
        (
            format!("requester_legal_entity={LE_MAIN}&used_by_legal_entity={LE_MAIN}"),
            vec![],
        ),
        ("status=recalled".to_string(), vec![]),
    ];
    assert_lists(&app, SERVICE_REQUESTS, &other, cases).await;
    // A legal entity with no service requests sees none, whatever it asks for.
    let primary = app.token(U_DOCTOR, LE_PRIMARY, ALL_SCOPES);
    let cases = [String::new(), format!("requester_legal_entity={LE_MAIN}")].map(|q| (q, vec![]));
    assert_lists(&app, SERVICE_REQUESTS, &primary, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_request_its_requester_also_uses_is_listed_once() {
    let (app, token) = doctor_app().await;
    // SR_QUEUED is requested and used by LE_MAIN: both branches of the query could yield it.
    let all = list_ids(&app, SERVICE_REQUESTS, "", &token).await;
    assert_eq!(all.iter().filter(|id| **id == SR_QUEUED).count(), 1);
    assert_no_repeats(&all);
}
