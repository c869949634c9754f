//! Cursor paging: every item exactly once, in `(updated_at, id)` order, `next_cursor` null at the
//! end, the default and largest page, and what a change made while paging does.

use serde_json::json;

use crate::support::world::*;
use crate::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_three_at_a_time_delivers_every_service_request_once_in_order() {
    let (app, token) = doctor_app().await;

    let pages = walk(&app, SERVICE_REQUESTS, "limit=3", &token).await;

    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 1]);
    assert_eq!(page_ids(&pages), MAIN_SERVICE_REQUESTS);
    let first = app
        .get(&format!("{SERVICE_REQUESTS}?limit=3"), Some(&token))
        .await;
    assert_eq!(first.body["paging"]["limit"], 3);
    assert_eq!(first.body["paging"]["has_more"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_page_that_is_exactly_full_has_no_next_cursor() {
    let (app, token) = doctor_app().await;

    let pages = walk(&app, SERVICE_REQUESTS, "limit=5", &token).await;

    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5]);
    assert_eq!(page_ids(&pages), MAIN_SERVICE_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cursor_pages_within_the_filters() {
    let (app, token) = doctor_app().await;

    let pages = walk(&app, SERVICE_REQUESTS, "status=active&limit=2", &token).await;

    assert_eq!(
        page_ids(&pages),
        [
            SR_QUEUED,
            SR_PPS_NEW,
            SR_USED_BY_OTHER,
            SR_ACTIVE,
            SR_PASSPORT,
            SR_USED_BY_MAIN,
            SR_PERFORMER,
            SR_OFFLINE_PATIENT
        ]
    );
    assert_eq!(pages.len(), 4);
    assert!(pages.iter().flatten().all(|sr| sr["status"] == "active"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_hold_fifty_by_default_and_up_to_five_hundred_on_request() {
    let (app, token) = doctor_app().await;
    let extra: Vec<_> = (1..=60)
        .map(|n| {
            service_request(
                extra_id(n),
                json!({ "updated_at": format!("2024-07-01T00:00:{:02}Z", n % 60) }),
            )
        })
        .collect();
    app.import(&json!({ "service_requests": extra })).await;

    let first = app.get(SERVICE_REQUESTS, Some(&token)).await;
    assert_eq!(ids(&first).len(), 50);
    assert_eq!(first.body["paging"]["limit"], 50);
    assert_eq!(first.body["paging"]["has_more"], true);
    let default_pages = walk(&app, SERVICE_REQUESTS, "", &token).await;
    assert_eq!(
        default_pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [50, 20]
    );

    let all = app
        .get(&format!("{SERVICE_REQUESTS}?limit=500"), Some(&token))
        .await;
    let all_ids = ids(&all);
    assert_eq!(all_ids.len(), 70);
    assert_eq!(all.body["paging"]["has_more"], false);
    assert_eq!(all_ids, page_ids(&default_pages));
    assert_no_repeats(&all_ids);
    // Equal update times (n = 60 and the fixture's own) are ordered by id.
    assert_eq!(all_ids[..10], MAIN_SERVICE_REQUESTS);
    assert_eq!(all_ids[10], extra_id(60));
    assert_eq!(all_ids[11], extra_id(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_request_changed_while_paging_is_delivered_again_with_its_new_state_and_nothing_is_missed(
) {
    let (app, token) = doctor_app().await;
    let first = app
        .get(&format!("{SERVICE_REQUESTS}?limit=3"), Some(&token))
        .await;
    let mut seen = ids(&first);
    assert_eq!(seen, [SR_QUEUED, SR_PPS_NEW, SR_RECALLED]);

    let job = app.release(SR_QUEUED, &token).await.job_href();
    app.wait_job(&job, &token).await;

    let cursor = first.body["paging"]["next_cursor"]
        .as_str()
        .map(str::to_string);
    let rest = walk_from(&app, SERVICE_REQUESTS, "limit=3", &token, cursor).await;
    seen.extend(page_ids(&rest));
    assert_eq!(seen.len(), 11);
    assert_eq!(seen[3..10], MAIN_SERVICE_REQUESTS[3..]);
    assert_eq!(seen[10], SR_QUEUED);
    let last = rest.last().unwrap().last().unwrap();
    assert_eq!(last["program_processing_status"], "new");
    assert_eq!(last["used_by_legal_entity"], json!(null));
}
