//! The Event Manager API, `GET /api/events`: eHealth's Event Manager filters and paging in
//! eHealth's `paging` object. Who may read it, its parameter refusals and one record by id are in
//! `events_access`.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{Reply, TestApp};
use crate::{after_busy_day, doctor};

/// `GET /api/events?{query}` (no query string when `query` is empty).
pub async fn events(app: &TestApp, token: &str, query: &str) -> Reply {
    if query.is_empty() {
        app.events(token).await
    } else {
        app.events(token).query(query).await
    }
}

/// The listed records' entity ids, in order.
#[track_caller]
pub fn entity_ids(reply: &Reply) -> Vec<Uuid> {
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["meta"]["type"], "list", "{:#}", reply.body);
    reply
        .data()
        .as_array()
        .expect("data is a list")
        .iter()
        .map(|r| r["entity_id"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// The entity ids the feed filtered by `query` lists, all on the first page: `paging` counts just
/// them.
pub async fn filtered(app: &TestApp, token: &str, query: &str) -> Vec<Uuid> {
    let reply = events(app, token, query).await;
    let ids = entity_ids(&reply);
    assert_eq!(
        reply.body["paging"]["total_entries"],
        ids.len(),
        "{query}: {:#}",
        reply.body
    );
    ids
}

/// The entity ids of a filtered list, compared as a set (records with the same `event_time` come in
/// log order, and the worker revokes the two approvals in no particular order).
#[track_caller]
fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort();
    ids
}

/// The six records LE_MAIN sees after `busy_day`, in order: three actions, then the recall and the
/// two revocations it caused (same `event_time`, log order).
fn main_day() -> Vec<Uuid> {
    vec![
        SR_QUEUED,
        MR_NEW,
        DD_IN_PROGRESS,
        SR_ACTIVE,
        AP_SR_1,
        AP_SR_2,
    ]
}

#[track_caller]
pub fn assert_query_error(reply: &Reply, case: &str, message: &str, entries: &[(&str, &str)]) {
    reply.assert_case_error(case, (422, "validation_failed", message));
    let invalid = reply.body["error"]["invalid"]
        .as_array()
        .expect("invalid[]");
    let got: Vec<(String, String, String)> = invalid
        .iter()
        .map(|e| {
            (
                e["entry_type"].as_str().unwrap_or_default().to_string(),
                e["entry"].as_str().unwrap_or_default().to_string(),
                e["rules"][0]["rule"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = entries
        .iter()
        .map(|(entry, rule)| {
            (
                "query_parameter".to_string(),
                entry.to_string(),
                rule.to_string(),
            )
        })
        .collect();
    assert_eq!(got, want, "{case}: {:#}", reply.body);
    for e in invalid {
        assert!(
            e["rules"][0]["description"].is_string(),
            "{case}: {:#}",
            reply.body
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_lists_every_visible_status_change_in_time_order_with_default_paging() {
    let (app, token) = after_busy_day().await;

    let reply = events(&app, &token, "").await;

    let ids = entity_ids(&reply);
    assert_eq!(ids[..4], main_day()[..4]);
    assert_eq!(sorted(ids[4..].to_vec()), sorted(main_day()[4..].to_vec()));
    assert_eq!(
        reply.body["paging"],
        json!({ "page_number": 1, "page_size": 50, "total_entries": 6, "total_pages": 1 })
    );
    assert_eq!(reply.body["meta"]["code"], 200);
    let data = reply.data().as_array().unwrap();
    let first = &data[0];
    let keys: Vec<&str> = first
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        sorted_strs(keys),
        vec![
            "changed_by",
            "entity_id",
            "entity_type",
            "event_time",
            "event_type",
            "id",
            "properties"
        ]
    );
    assert_eq!(first["event_type"], "StatusChangeEvent");
    assert_eq!(first["entity_type"], "ServiceRequest");
    assert_eq!(
        first["properties"],
        json!({ "program_processing_status": { "new_value": "new" } })
    );
    assert_eq!(first["changed_by"], U_DOCTOR.to_string());
    assert_eq!(data[1]["entity_type"], "MergeRequest");
    assert_eq!(
        data[1]["properties"],
        json!({ "status": { "new_value": "REJECTED" } })
    );
    assert_eq!(data[1]["changed_by"], U_SPECIALIST.to_string());
    assert_eq!(data[2]["entity_type"], "DeviceDispense");
    assert_eq!(
        data[2]["properties"],
        json!({ "status": { "new_value": "stopped" } })
    );
    assert_eq!(
        data[3]["properties"],
        json!({ "status": { "new_value": "recalled" } })
    );
    for revoked in &data[4..] {
        assert_eq!(revoked["entity_type"], "Approval");
        assert_eq!(
            revoked["properties"],
            json!({ "status": { "new_value": "cancelled" } })
        );
        // Revocations are recorded on the authority (and at the time) of the recall.
        assert_eq!(revoked["changed_by"], U_DOCTOR.to_string());
        assert_eq!(revoked["event_time"], data[3]["event_time"]);
    }
    let times: Vec<DateTime<Utc>> = data
        .iter()
        .map(|r| r["event_time"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    // The same records as the stored feed, ids included.
    let stored: Vec<String> = app
        .strings(&format!(
            "SELECT CAST(id AS text) FROM status_change_events \
             WHERE entity_id <> '{DD_OTHER_LE}' ORDER BY id"
        ))
        .await;
    let mut listed: Vec<String> = data
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, stored);
}

fn sorted_strs(mut v: Vec<&str>) -> Vec<&str> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_feed_is_an_empty_list_with_one_empty_page() {
    let app = TestApp::spawn().await;
    let reply = events(&app, &doctor(&app), "").await;
    assert_eq!(entity_ids(&reply), Vec::<Uuid>::new());
    assert_eq!(
        reply.body["paging"],
        json!({ "page_number": 1, "page_size": 50, "total_entries": 0, "total_pages": 1 })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_date_filter_keeps_records_at_or_after_a_date_or_an_instant() {
    let (app, token) = after_busy_day().await;
    let all = events(&app, &token, "").await;
    let stop_time: DateTime<Utc> = all.data()[2]["event_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // An instant: inclusive lower bound.
    let at_stop = stop_time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let reply = events(&app, &token, &format!("date={at_stop}")).await;
    assert_eq!(entity_ids(&reply)[..2], [DD_IN_PROGRESS, SR_ACTIVE]);
    assert_eq!(reply.body["paging"]["total_entries"], 4);

    // The same instant with an offset (`+` encoded), and one microsecond later.
    let kyiv = FixedOffset::east_opt(2 * 3600).unwrap();
    let with_offset = stop_time
        .with_timezone(&kyiv)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
        .replace('+', "%2B");
    let reply = events(&app, &token, &format!("date={with_offset}")).await;
    assert_eq!(reply.body["paging"]["total_entries"], 4, "{:#}", reply.body);
    let after = (stop_time + Duration::microseconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let reply = events(&app, &token, &format!("date={after}")).await;
    assert_eq!(entity_ids(&reply)[0], SR_ACTIVE);
    assert_eq!(reply.body["paging"]["total_entries"], 3);

    // A date means midnight UTC.
    let today = Utc::now().date_naive();
    let reply = events(&app, &token, &format!("date={today}")).await;
    assert_eq!(reply.body["paging"]["total_entries"], 6, "{:#}", reply.body);
    let tomorrow = today + Duration::days(1);
    let reply = events(&app, &token, &format!("date={tomorrow}")).await;
    assert_eq!(entity_ids(&reply), Vec::<Uuid>::new());
    assert_eq!(reply.body["paging"]["total_entries"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_type_entity_type_and_entity_id_filters_match_exactly() {
    let (app, token) = after_busy_day().await;

    assert_eq!(
        filtered(&app, &token, "event_type=StatusChangeEvent")
            .await
            .len(),
        6
    );
    assert_eq!(
        sorted(filtered(&app, &token, "entity_type=Approval").await),
        sorted(vec![AP_SR_1, AP_SR_2])
    );
    for (query, expected) in [
        ("event_type=EmployeeRequestCreated".to_string(), vec![]),
        (
            "entity_type=ServiceRequest".to_string(),
            vec![SR_QUEUED, SR_ACTIVE],
        ),
        ("entity_type=MergeRequest".to_string(), vec![MR_NEW]),
        (
            "entity_type=DeviceDispense".to_string(),
            vec![DD_IN_PROGRESS],
        ),
        ("entity_type=serviceRequest".to_string(), vec![]),
        (format!("entity_id={SR_ACTIVE}"), vec![SR_ACTIVE]),
        // Upper-case uuids name the same entity.
        (
            format!("entity_id={}", SR_ACTIVE.to_string().to_uppercase()),
            vec![SR_ACTIVE],
        ),
        (format!("entity_id={}", Uuid::new_v4()), vec![]),
    ] {
        assert_eq!(filtered(&app, &token, &query).await, expected, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attribute_name_filter_keeps_records_that_change_that_attribute() {
    let (app, token) = after_busy_day().await;

    let changing_status = filtered(&app, &token, "attribute_name=status").await;
    assert_eq!(changing_status.len(), 5);
    assert!(!changing_status.contains(&SR_QUEUED));
    for (query, expected) in [
        ("attribute_name=program_processing_status", vec![SR_QUEUED]),
        ("attribute_name=new_value", vec![]),
    ] {
        assert_eq!(filtered(&app, &token, query).await, expected, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_value_filter_matches_the_new_value_of_the_named_attribute() {
    let (app, token) = after_busy_day().await;

    assert_eq!(
        sorted(filtered(&app, &token, "attribute_name=status&new_value=cancelled").await),
        sorted(vec![AP_SR_1, AP_SR_2])
    );
    for (query, expected) in [
        ("attribute_name=status&new_value=REJECTED", vec![MR_NEW]),
        (
            "attribute_name=program_processing_status&new_value=new",
            vec![SR_QUEUED],
        ),
        // The value of another attribute does not match.
        ("attribute_name=status&new_value=new", vec![]),
        // Values are compared exactly.
        ("attribute_name=status&new_value=rejected", vec![]),
    ] {
        assert_eq!(filtered(&app, &token, query).await, expected, "{query}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_filter_combines_with_the_others() {
    let (app, token) = after_busy_day().await;
    let today = Utc::now().date_naive();

    let reply = events(
        &app,
        &token,
        &format!(
            "date={today}&event_type=StatusChangeEvent&entity_type=Approval&entity_id={AP_SR_2}\
             &attribute_name=status&new_value=cancelled&page=1&page_size=10"
        ),
    )
    .await;
    assert_eq!(entity_ids(&reply), vec![AP_SR_2]);
    assert_eq!(
        reply.body["paging"],
        json!({ "page_number": 1, "page_size": 10, "total_entries": 1, "total_pages": 1 })
    );

    // Each filter, when it disagrees with the others, empties the answer.
    let tomorrow = today + Duration::days(1);
    for query in [
        format!("entity_type=ServiceRequest&entity_id={AP_SR_2}"),
        "entity_type=Approval&attribute_name=status&new_value=REJECTED".to_string(),
        format!("entity_id={AP_SR_2}&attribute_name=program_processing_status"),
        format!("entity_id={AP_SR_2}&date={tomorrow}"),
        format!("entity_id={AP_SR_2}&event_type=Other"),
    ] {
        assert_eq!(
            filtered(&app, &token, &query).await,
            Vec::<Uuid>::new(),
            "{query}"
        );
    }

    assert_eq!(
        filtered(
            &app,
            &token,
            "entity_type=ServiceRequest&attribute_name=status"
        )
        .await,
        [SR_ACTIVE]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_splits_the_feed_into_pages_of_page_size() {
    let (app, token) = after_busy_day().await;
    let all = entity_ids(&events(&app, &token, "").await);

    let first = events(&app, &token, "page_size=4").await;
    assert_eq!(entity_ids(&first), all[..4]);
    assert_eq!(
        first.body["paging"],
        json!({ "page_number": 1, "page_size": 4, "total_entries": 6, "total_pages": 2 })
    );
    let second = events(&app, &token, "page=2&page_size=4").await;
    assert_eq!(entity_ids(&second), all[4..]);
    assert_eq!(
        second.body["paging"],
        json!({ "page_number": 2, "page_size": 4, "total_entries": 6, "total_pages": 2 })
    );
    let beyond = events(&app, &token, "page=3&page_size=4").await;
    assert_eq!(entity_ids(&beyond), Vec::<Uuid>::new());
    assert_eq!(
        beyond.body["paging"],
        json!({ "page_number": 3, "page_size": 4, "total_entries": 6, "total_pages": 2 })
    );
    let largest = events(&app, &token, "page_size=500").await;
    assert_eq!(entity_ids(&largest), all);
    let exact = events(&app, &token, "page=3&page_size=2").await;
    assert_eq!(entity_ids(&exact), all[4..]);
    assert_eq!(exact.body["paging"]["total_pages"], 3);
}
