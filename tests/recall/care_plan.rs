//! After the recall of a service request based on a care plan activity: the service request's
//! quantity given back to the activity, exactly once; and the activity's read endpoint, history
//! and Event Manager records, visible to the care plan's legal entity and, once its recall changed
//! the activity, to the recalling one.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{execute, pki, sqlite_backend, TestApp};
use crate::*;

fn activity_path(id: Uuid) -> String {
    paths::care_plan_activity(P_OTP, CP_OTHER_LE, id)
}

/// CPA_QUANTITY as its read endpoint answers `token`, after checking the answer is a 200.
async fn quantity_activity(app: &TestApp, token: &str) -> Reply {
    let reply = app
        .care_plan_activity(P_OTP, CP_OTHER_LE, CPA_QUANTITY, token)
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    reply
}

/// CPA_QUANTITY read with a time-travel `query` (`version=1`, `as_of=…`).
async fn quantity_activity_at(app: &TestApp, query: &str, token: &str) -> Reply {
    let path = format!("{}?{query}", activity_path(CPA_QUANTITY));
    app.get(&path, Some(token)).await
}

/// A token of `legal_entity` with the care plan scope (and the event scope).
fn reader(app: &TestApp, user: Uuid, legal_entity: Uuid) -> String {
    app.token(user, legal_entity, &format!("{CARE_PLAN_READ} event:read"))
}

/// `quantity_value` and `remaining_quantity_value` of the activity's row, as text (exact on both
/// backends), and its version.
async fn quantities_in_row(app: &TestApp, id: Uuid) -> Value {
    app.select(&format!(
        "SELECT quantity_value::text AS quantity, remaining_quantity_value::text AS remaining, \
         version FROM care_plan_activities WHERE id = '{id}'"
    ))
    .await
    .into_iter()
    .next()
    .expect("the activity's row")
}

fn pieces(value: Value) -> Value {
    json!({ "value": value, "system": PIECES_SYSTEM, "code": "pc", "unit": "шт" })
}

/// Recalls `id` as its requester, the doctor in LE_CARE, and waits for its job; returns the
/// recall's event.
async fn recall(app: &TestApp, id: Uuid) -> Value {
    let token = app.token(U_DOCTOR, LE_CARE, ALL_SCOPES);
    let content = with_reason(rendering(app, &token, P_OTP, id).await, reason());
    let body = body_of(&sign_json(&pki().doctor, &content));
    recall_and_wait(app, &token, P_OTP, id, &body).await;
    let events = app.log(id).await;
    assert_eq!(
        events[1]["event_type"], "ServiceRequestRecalled",
        "{events:#?}"
    );
    events[1].clone()
}

/// Makes the effects worker process the whole log again, as after a crash before its checkpoint
/// was saved, and waits until it has.
async fn replay_effects(app: &TestApp) {
    let reset = if sqlite_backend() {
        "UPDATE subscriber_checkpoints SET last_position = 0 WHERE name = 'effects'"
    } else {
        "UPDATE subscriber_checkpoints SET last_tx = '0', last_position = 0 WHERE name = 'effects'"
    };
    assert_eq!(execute(&app.db, reset).await, 1);
    assert!(app.effects_lag().await > 0);
    app.workers_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_a_service_request_based_on_an_activity_gives_its_quantity_back_exactly_once() {
    let app = TestApp::spawn().await;
    assert_eq!(
        quantities_in_row(&app, CPA_QUANTITY).await,
        json!({ "quantity": "1", "remaining": "0.2", "version": 1 })
    );

    let recalled = recall(&app, SR_ON_ACTIVITY).await;

    // Given back before the job finished: 0.2 + 0.1 is exactly 0.3.
    let events = app.log(CPA_QUANTITY).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    let returned = &events[1];
    assert_eq!(returned["event_type"], "CarePlanActivityQuantityReturned");
    assert_eq!(
        returned["payload"]["CarePlanActivityQuantityReturned"],
        json!({
            "service_request_id": SR_ON_ACTIVITY,
            "quantity": pieces(json!(0.1)),
            "remaining_quantity": pieces(json!(0.3)),
            "legal_entity_id": LE_CARE,
            "by": U_DOCTOR,
            "at": recalled["payload"]["ServiceRequestRecalled"]["at"],
        })
    );
    let metadata = &returned["metadata"];
    assert_eq!(metadata["user_id"], U_DOCTOR.to_string());
    assert_eq!(metadata["client_id"], LE_CARE.to_string());
    assert_eq!(metadata["causation_id"], recalled["metadata"]["command_id"]);
    assert_eq!(
        metadata["correlation_id"],
        recalled["metadata"]["correlation_id"]
    );
    assert_eq!(metadata["request_id"], recalled["metadata"]["request_id"]);
    assert_eq!(
        metadata["command_id"],
        format!("return:{CPA_QUANTITY}:{}", recalled["global_position"])
    );
    assert!(metadata.get("job_id").is_none(), "{metadata:#}");
    assert_eq!(
        quantities_in_row(&app, CPA_QUANTITY).await,
        json!({ "quantity": "1", "remaining": "0.3", "version": 2 })
    );

    // The read endpoint, for the care plan's legal entity and for the recalling one.
    for (user, legal_entity) in [(U_OTHER, LE_OTHER), (U_DOCTOR, LE_CARE)] {
        let token = reader(&app, user, legal_entity);
        let reply = app
            .care_plan_activity(P_OTP, CP_OTHER_LE, CPA_QUANTITY, &token)
            .await;
        assert_eq!(reply.status, 200, "{legal_entity}: {:#}", reply.body);
        let data = reply.data();
        assert_eq!(data["remaining_quantity"], pieces(json!(0.3)), "{data:#}");
        assert_eq!(data["quantity"], pieces(json!(1)), "{data:#}");
        assert_eq!(data["updated_by"], U_DOCTOR.to_string());
        assert_eq!(data["status"], "scheduled");
    }

    // Its history shows the give-back, caused by the recall's command.
    let token = reader(&app, U_DOCTOR, LE_CARE);
    let history = app.history(&activity_path(CPA_QUANTITY), &token).await;
    assert_eq!(history.status, 200, "{:#}", history.body);
    let entries = history.data().as_array().expect("a list").clone();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    assert_eq!(entries[0]["event_type"], "CarePlanActivityImported");
    let entry = &entries[1];
    assert_eq!(entry["event_type"], "CarePlanActivityQuantityReturned");
    assert_eq!(entry["payload"]["remaining_quantity"]["value"], json!(0.3));
    assert_eq!(
        entry["authority"]["causation_id"],
        recalled["metadata"]["command_id"]
    );
    assert_eq!(entry["authority"]["legal_entity_id"], LE_CARE.to_string());
    assert_eq!(entry["authority"]["user_id"], U_DOCTOR.to_string());
    assert_eq!(entry["authority"]["job_id"], Value::Null);
    assert_eq!(history.body["paging"]["total_entries"], 2);

    // The status did not change: its history is the import's row, and the feed has nothing.
    let status = app.status_history(CPA_QUANTITY).await;
    assert_eq!(status.len(), 1, "{status:#?}");
    assert_eq!(status[0]["new_value"], "scheduled");
    assert!(app.feed(CPA_QUANTITY).await.is_empty());

    // The worker's pass done again gives nothing back twice.
    let sms = app.sms().await.len();
    replay_effects(&app).await;
    assert_eq!(app.log(CPA_QUANTITY).await.len(), 2);
    assert_eq!(
        quantities_in_row(&app, CPA_QUANTITY).await,
        json!({ "quantity": "1", "remaining": "0.3", "version": 2 })
    );
    assert_eq!(app.sms().await.len(), sms, "no SMS queued twice either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_of_a_service_request_based_on_an_activity_without_quantity_changes_nothing() {
    let app = TestApp::spawn().await;

    recall(&app, SR_ON_UNCOUNTED_ACTIVITY).await;

    // The job is processed only after the give-back step, so nothing is still to come.
    assert_eq!(app.effects_lag().await, 0);
    assert_eq!(app.log(CPA_NO_QUANTITY).await.len(), 1);
    let row = app
        .current("care_plan_activities", CPA_NO_QUANTITY)
        .await
        .unwrap();
    assert_eq!(row["version"], 1);
    assert_eq!(row["quantity_value"], Value::Null);
    assert_eq!(row["remaining_quantity_value"], Value::Null);
    // Nothing was done on the recalling legal entity's behalf: it still does not see the activity.
    let token = reader(&app, U_DOCTOR, LE_CARE);
    let reply = app
        .care_plan_activity(P_OTP, CP_OTHER_LE, CPA_NO_QUANTITY, &token)
        .await;
    reply.assert_error(404, "not_found", "Care plan activity not found");
    // Nor was anything given to the activity of another service request.
    assert_eq!(app.log(CPA_QUANTITY).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_read_endpoint_renders_the_activity_for_its_care_plans_legal_entity_and_404s_for_anyone_else(
) {
    let app = TestApp::spawn().await;
    let owner = reader(&app, U_OTHER, LE_OTHER);

    let reply = quantity_activity(&app, &owner).await;
    let data = reply.data();
    assert_eq!(data["id"], CPA_QUANTITY.to_string());
    assert_eq!(data["status"], "scheduled");
    assert_eq!(
        data["care_plan"]["identifier"]["value"],
        CP_OTHER_LE.to_string()
    );
    assert_eq!(
        data["care_plan"]["identifier"]["type"]["coding"][0]["code"],
        "care_plan"
    );
    assert_eq!(data["subject"]["identifier"]["value"], P_OTP.to_string());
    assert_eq!(
        data["managing_organization"]["identifier"]["value"],
        LE_OTHER.to_string()
    );
    assert_eq!(data["quantity"], pieces(json!(1)));
    assert_eq!(data["remaining_quantity"], pieces(json!(0.2)));
    assert_eq!(data["kind"], "service_request");
    let without = app
        .care_plan_activity(P_OTP, CP_OTHER_LE, CPA_NO_QUANTITY, &owner)
        .await;
    assert_eq!(without.status, 200, "{:#}", without.body);
    assert_eq!(without.data()["quantity"], Value::Null);
    assert_eq!(without.data()["remaining_quantity"], Value::Null);
    let history = app.history(&activity_path(CPA_QUANTITY), &owner).await;
    assert_eq!(history.status, 200, "{:#}", history.body);
    assert_eq!(history.data()[0]["event_type"], "CarePlanActivityImported");
    assert_eq!(
        history.data()[0]["authority"]["user_id"],
        Uuid::nil().to_string()
    );

    // Time travel: the imported state is version 1; nothing happened after it.
    let v1 = quantity_activity_at(&app, "version=1", &owner).await;
    assert_eq!(v1.status, 200, "{:#}", v1.body);
    assert_eq!(v1.data(), data);
    let v2 = quantity_activity_at(&app, "version=2", &owner).await;
    v2.assert_error(404, "not_found", "Care plan activity not found");
    let bad = quantity_activity_at(&app, "as_of=yesterday", &owner).await;
    bad.assert_error(
        422,
        "validation_failed",
        "expected an RFC 3339 date-time, e.g. 2026-01-02T03:04:05Z",
    );

    // Without the scope: 403, for the read and the history alike.
    let no_scope = app.token(U_OTHER, LE_OTHER, ALL_SCOPES);
    for path in [
        activity_path(CPA_QUANTITY),
        paths::history(&activity_path(CPA_QUANTITY)),
    ] {
        let reply = app.get(&path, Some(&no_scope)).await;
        reply.assert_error(
            403,
            "forbidden",
            "Your scope does not allow to access this resource. Missing allowances: care_plan:read",
        );
    }

    // Another legal entity (not the care plan's, never acted on it: the recalling one before its
    // recall), an unknown or malformed id,
    // the activity under another care plan or patient: all 404, alike.
    let stranger = reader(&app, U_DOCTOR, LE_CARE);
    let unknown = Uuid::from_u128(0xdead);
    let cases = [
        (stranger.as_str(), activity_path(CPA_QUANTITY)),
        (owner.as_str(), activity_path(unknown)),
        (
            owner.as_str(),
            format!("/api/patients/{P_OTP}/care_plans/{CP_OTHER_LE}/activities/not-a-uuid"),
        ),
        (
            owner.as_str(),
            format!("/api/patients/{P_OTP}/care_plans/{unknown}/activities/{CPA_QUANTITY}"),
        ),
        (
            owner.as_str(),
            format!("/api/patients/{P_OFFLINE}/care_plans/{CP_OTHER_LE}/activities/{CPA_QUANTITY}"),
        ),
    ];
    for (token, path) in cases {
        for path in [path.clone(), format!("{path}/history")] {
            let reply = app.get(&path, Some(token)).await;
            reply.assert_error(404, "not_found", "Care plan activity not found");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_its_recall_changed_the_activity_the_recalling_legal_entity_reads_it_its_history_and_its_event_manager_records(
) {
    let app = TestApp::spawn().await;
    // A status change of the activity in the feed, as a command that changes its status would
    // write it.
    let record = Uuid::from_u128(0xfeed);
    let inserted = execute(
        &app.db,
        &format!(
            "INSERT INTO status_change_events (id, event_type, entity_type, entity_id, properties, \
             event_time, changed_by, global_position, sequence) VALUES ('{record}', \
             'StatusChangeEvent', 'CarePlanActivity', '{CPA_QUANTITY}', \
             '{{\"status\":{{\"new_value\":\"in_progress\"}}}}', '2024-06-01T00:00:00.000000Z', \
             '{U_OTHER}', 1000000, 99)"
        ),
    )
    .await;
    assert_eq!(inserted, 1);
    let feed = "/api/events?entity_type=CarePlanActivity";
    let recaller = reader(&app, U_DOCTOR, LE_CARE);
    let owner = reader(&app, U_OTHER, LE_OTHER);
    let stranger = reader(&app, U_DOCTOR, LE_MAIN);

    let listed = |reply: &crate::support::Reply| -> Vec<String> {
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        reply
            .data()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        listed(&app.get(feed, Some(&owner)).await),
        vec![record.to_string()]
    );
    assert!(listed(&app.get(feed, Some(&recaller)).await).is_empty());
    let one = format!("/api/events/{record}");
    app.get(&one, Some(&recaller))
        .await
        .assert_error(404, "not_found", "Event not found");

    recall(&app, SR_ON_ACTIVITY).await;

    // The recalling legal entity now sees the activity, its past, its history and its records.
    quantity_activity(&app, &recaller).await;
    let before = quantity_activity_at(&app, "version=1", &recaller).await;
    assert_eq!(before.status, 200, "{:#}", before.body);
    assert_eq!(before.data()["remaining_quantity"], pieces(json!(0.2)));
    let history = app.history(&activity_path(CPA_QUANTITY), &recaller).await;
    assert_eq!(history.status, 200, "{:#}", history.body);
    assert_eq!(
        listed(&app.get(feed, Some(&recaller)).await),
        vec![record.to_string()]
    );
    let shown = app.get(&one, Some(&recaller)).await;
    assert_eq!(shown.status, 200, "{:#}", shown.body);
    assert_eq!(shown.data()["entity_type"], "CarePlanActivity");
    assert_eq!(shown.data()["entity_id"], CPA_QUANTITY.to_string());

    // The care plan's legal entity still does; a third one still does not.
    assert_eq!(
        listed(&app.get(feed, Some(&owner)).await),
        vec![record.to_string()]
    );
    assert!(listed(&app.get(feed, Some(&stranger)).await).is_empty());
    for path in [
        activity_path(CPA_QUANTITY),
        paths::history(&activity_path(CPA_QUANTITY)),
    ] {
        let reply = app.get(&path, Some(&stranger)).await;
        reply.assert_error(404, "not_found", "Care plan activity not found");
    }
    app.get(&one, Some(&stranger))
        .await
        .assert_error(404, "not_found", "Event not found");
}
