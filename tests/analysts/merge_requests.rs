//! `GET /api/merge_requests`: the legal entity's merge requests by status and date.

use crate::support::world::*;
use crate::support::TestApp;
use crate::*;

/// LE_MAIN's merge requests, in page order (same update time, so by id).
const MAIN_MERGE_REQUESTS: [uuid::Uuid; 5] = [
    MR_NEW,
    MR_APPROVED,
    MR_REJECTED,
    MR_CANCELLED,
    MR_BY_RECEPTIONIST,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_holds_the_merge_requests_created_in_the_legal_entity_rendered_like_the_read_endpoint(
) {
    let (app, token) = doctor_app().await;

    let reply = app.get(MERGE_REQUESTS, Some(&token)).await;

    assert_eq!(ids(&reply), MAIN_MERGE_REQUESTS);
    assert_items_as_read(&app, &token, &reply, |item| {
        paths::merge_request(item_id(item))
    })
    .await;
    let pages = walk(&app, MERGE_REQUESTS, "limit=2", &token).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    assert_eq!(page_ids(&pages), MAIN_MERGE_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_requests_are_filtered_by_status_and_dates_alone_and_combined() {
    let (app, token) = doctor_app().await;
    let specialist = app.token(U_SPECIALIST, LE_MAIN, "merge_request:write");
    let rejected = app.reject_merge_request(MR_NEW, &specialist).await;
    assert_eq!(rejected.status, 200, "{:#}", rejected.body);
    let today = chrono::Utc::now().date_naive();

    let cases = [
        ("status=NEW".to_string(), vec![MR_BY_RECEPTIONIST]),
        ("status=REJECTED".to_string(), vec![MR_REJECTED, MR_NEW]),
        ("status=APPROVED".to_string(), vec![MR_APPROVED]),
        ("status=MERGED".to_string(), vec![]),
        (format!("updated_from={today}"), vec![MR_NEW]),
        (
            format!("updated_to={today}"),
            vec![MR_APPROVED, MR_REJECTED, MR_CANCELLED, MR_BY_RECEPTIONIST],
        ),
        (
            "inserted_from=2024-04-20&inserted_to=2024-04-21".to_string(),
            vec![
                MR_APPROVED,
                MR_REJECTED,
                MR_CANCELLED,
                MR_BY_RECEPTIONIST,
                MR_NEW,
            ],
        ),
        (
            "inserted_from=2024-04-20T19:14:13.000001Z".to_string(),
            vec![],
        ),
        (
            format!("status=REJECTED&updated_from={today}"),
            vec![MR_NEW],
        ),
        (
            format!("status=REJECTED&updated_to={today}"),
            vec![MR_REJECTED],
        ),
    ];
    assert_lists(&app, MERGE_REQUESTS, &token, cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_legal_entity_sees_only_the_merge_requests_created_there() {
    let app = TestApp::spawn().await;
    let other = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);
    let cases = [("", vec![MR_OTHER_LE]), ("status=REJECTED", vec![])];
    assert_lists(&app, MERGE_REQUESTS, &other, cases).await;
}
