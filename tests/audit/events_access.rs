//! Who may read the Event Manager (scope `event:read`, one legal entity's records), its refused
//! parameters, and `GET /api/events/{id}`.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::events::{assert_query_error, entity_ids, events};
use crate::support::world::*;
use crate::support::TestApp;
use crate::{after_busy_day, busy_day, doctor, other_doctor, release};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_parameters_are_absent_and_unknown_or_repeated_ones_answer_422() {
    let (app, token) = after_busy_day().await;
    let reply = events(&app, &token, "date=&entity_id=&page=&event_type=").await;
    assert_eq!(reply.body["paging"]["total_entries"], 6, "{:#}", reply.body);

    // A misspelt filter must not answer the unfiltered feed as if it were the filtered one.
    let reply = events(&app, &token, "entity_tpye=Approval").await;
    assert_query_error(
        &reply,
        "a misspelt filter",
        "query parameter is not allowed",
        &[("entity_tpye", "schema")],
    );
    assert_eq!(
        reply.body["error"]["invalid"][0]["rules"][0]["params"],
        json!([
            "date",
            "event_type",
            "entity_type",
            "entity_id",
            "attribute_name",
            "new_value",
            "page",
            "page_size"
        ])
    );
    let reply = events(
        &app,
        &token,
        "entity_type=Approval&entity_type=MergeRequest",
    )
    .await;
    assert_query_error(
        &reply,
        "a repeated filter",
        "query parameter must be given at most once",
        &[("entity_type", "invalid")],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_manager_needs_the_event_read_scope() {
    let app = TestApp::spawn().await;
    busy_day(&app).await;
    let without = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let id: Uuid = app
        .strings("SELECT CAST(id AS text) FROM status_change_events LIMIT 1")
        .await[0]
        .parse()
        .unwrap();
    for path in ["/api/events".to_string(), format!("/api/events/{id}")] {
        let reply = app.get(&path, Some(&without)).await;
        reply.assert_error(
            403,
            "forbidden",
            "Your scope does not allow to access this resource. Missing allowances: event:read",
        );
        let reply = app.get(&path, None).await;
        reply.assert_error(
            401,
            "access_denied",
            "Authorization header is not set or doesn't contain Bearer token",
        );
    }
    // The scope is checked before the parameters.
    let reply = events(&app, &without, "new_value=x").await;
    assert_eq!(reply.status, 403, "{:#}", reply.body);
    let only = app.token(U_DOCTOR, LE_MAIN, "event:read");
    assert_eq!(events(&app, &only, "").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legal_entity_sees_only_the_records_of_entities_it_may_read() {
    let app = TestApp::spawn().await;
    busy_day(&app).await;

    let other = events(&app, &other_doctor(&app), "").await;
    assert_eq!(entity_ids(&other), vec![DD_OTHER_LE]);
    assert_eq!(other.body["paging"]["total_entries"], 1);
    assert_eq!(other.data()[0]["changed_by"], U_OTHER.to_string());

    let main = events(&app, &doctor(&app), "").await;
    assert!(!entity_ids(&main).contains(&DD_OTHER_LE));
    // Filters never reach past tenancy.
    let probe = events(&app, &doctor(&app), &format!("entity_id={DD_OTHER_LE}")).await;
    assert_eq!(entity_ids(&probe), Vec::<Uuid>::new());
    assert_eq!(probe.body["paging"]["total_entries"], 0);

    // A legal entity with no entities sees nothing.
    let primary = app.token(U_DOCTOR, LE_PRIMARY, "event:read");
    assert_eq!(
        entity_ids(&events(&app, &primary, "").await),
        Vec::<Uuid>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legal_entity_keeps_seeing_the_record_of_what_it_released() {
    let app = TestApp::spawn().await;
    let other = other_doctor(&app);
    // SR_USED_BY_OTHER was requested by LE_MAIN and is used by LE_OTHER; releasing it ends
    // LE_OTHER's use, but LE_OTHER changed it, so it keeps seeing it and the record of its own
    // release. The requester sees it too; a legal entity that never touched it does not.
    let before = events(&app, &other, "").await;
    assert_eq!(entity_ids(&before), Vec::<Uuid>::new());
    release(&app, &other, SR_USED_BY_OTHER).await;

    let reply = events(&app, &other, "").await;
    assert_eq!(entity_ids(&reply), vec![SR_USED_BY_OTHER]);
    assert_eq!(reply.body["paging"]["total_entries"], 1);
    let main = events(&app, &doctor(&app), "").await;
    assert_eq!(entity_ids(&main), vec![SR_USED_BY_OTHER]);
    assert_eq!(main.data()[0]["changed_by"], U_OTHER.to_string());
    let id = main.data()[0]["id"].as_str().unwrap();
    let reply = app.event(id, &other).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    let primary = app.token(U_DOCTOR, LE_PRIMARY, "event:read");
    let reply = app.event(id, &primary).await;
    reply.assert_error(404, "not_found", "Event not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_record_is_read_by_its_id() {
    let (app, token) = after_busy_day().await;
    let listed = events(&app, &token, "entity_type=MergeRequest").await;
    let record = listed.data()[0].clone();
    let id = record["id"].as_str().unwrap();

    let reply = app.event(id, &token).await;

    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["meta"]["type"], "object");
    assert_eq!(reply.data(), &record);
    assert!(reply.body.get("paging").is_none());
    assert_eq!(
        reply.data()["id"],
        Value::String(id.to_string()),
        "{:#}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_malformed_or_invisible_event_id_answers_404_event_not_found() {
    let (app, token) = after_busy_day().await;
    let foreign: Uuid = app
        .strings(&format!(
            "SELECT CAST(id AS text) FROM status_change_events WHERE entity_id = '{DD_OTHER_LE}'"
        ))
        .await[0]
        .parse()
        .unwrap();
    for id in [
        foreign.to_string(),
        Uuid::new_v4().to_string(),
        "not-a-uuid".to_string(),
        "0".to_string(),
    ] {
        let reply = app.event(id, &token).await;
        reply.assert_error(404, "not_found", "Event not found");
    }
    // Its own legal entity does see it.
    let reply = app
        .get(&format!("/api/events/{foreign}"), Some(&other_doctor(&app)))
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.data()["entity_id"], DD_OTHER_LE.to_string());
}
