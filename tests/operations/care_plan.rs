//! Care plan activities in the operations commands: after a recall gave a service request's
//! quantity back, `projections rebuild` reproduces their rows (exact quantities, the legal entities
//! that changed them) and `projections verify` finds them identical, or names a changed quantity;
//! `audit verify` checks their chains.

use serde_json::{json, Value};

use crate::process::{audit_verify, projections_verify, run};
use crate::state::*;
use crate::support::world::*;
use crate::support::{pki, sqlite_backend, TestApp};

/// Recalls SR_ON_ACTIVITY as its requester in LE_CARE (the rendering signed with the doctor's certificate)
/// and waits for the job, after which the quantity is given back.
async fn recall_on_activity(app: &TestApp) {
    let token = app.token(U_DOCTOR, LE_CARE, ALL_SCOPES);
    let show = format!("/api/patients/{P_OTP}/service_requests/{SR_ON_ACTIVITY}");
    let mut content = app.get(&show, Some(&token)).await.data().clone();
    content["status_reason"] = json!({ "coding": [ { "system": "eHealth/service_request_recall_reasons", "code": "1" } ] });
    let signed = pki().doctor.sign(&serde_json::to_vec(&content).unwrap());
    let reply = app
        .patch(
            &format!("{show}/actions/recall"),
            Some(&token),
            Some(&json!({ "signed_data": signed })),
        )
        .await;
    let job = app.wait_job(&reply.job_href(), &token).await;
    assert_eq!(job.status, 303, "{:#}", job.body);
}

/// The typed columns of the activity that got quantity back, as text on both backends.
async fn activity_row(app: &TestApp) -> Value {
    let changed_by = if sqlite_backend() {
        "changed_by_legal_entity_ids"
    } else {
        "array_to_json(changed_by_legal_entity_ids)::text"
    };
    app.select(&format!(
        "SELECT remaining_quantity_value::text AS remaining, {changed_by} AS changed_by, version \
         FROM care_plan_activities WHERE id = '{CPA_QUANTITY}'"
    ))
    .await
    .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_and_verify_reproduce_the_care_plan_activities_after_a_give_back() {
    let app = TestApp::spawn().await;
    recall_on_activity(&app).await;
    populate(&app, 200).await;
    let expected = json!({
        "remaining": "0.3",
        "changed_by": format!("[\"{LE_CARE}\"]"),
        "version": 2
    });
    assert_eq!(activity_row(&app).await, expected);
    let before = snapshot(&app.db).await;
    let activities = scalar(&app.db, "SELECT count(*) FROM care_plan_activities").await;
    assert_eq!(activities, 2);

    let out = projections_verify(&app).await;
    out.assert_success();
    out.assert_stdout_has("care_plan_activities: 2 live rows, 2 rebuilt rows");
    out.assert_stdout_has(": 0 difference(s)");

    let out = run(&["projections", "rebuild"], &app.database_url, 120).await;
    out.assert_success();
    assert_same(&before, &snapshot(&app.db).await);
    assert_eq!(activity_row(&app).await, expected);

    audit_verify(&app).await.assert_success();
    // The service reads the rebuilt row.
    let token = app.token(U_DOCTOR, LE_CARE, CARE_PLAN_READ);
    let reply = app
        .care_plan_activity(P_OTP, CP_OTHER_LE, CPA_QUANTITY, &token)
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.data()["remaining_quantity"]["value"], json!(0.3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_a_remaining_quantity_the_event_log_does_not_explain() {
    let app = TestApp::spawn().await;
    recall_on_activity(&app).await;
    let value = if sqlite_backend() { "'0.5'" } else { "0.5" };
    change(
        &app.db,
        &format!(
            "UPDATE care_plan_activities SET remaining_quantity_value = {value} \
             WHERE id = '{CPA_QUANTITY}'"
        ),
        1,
    )
    .await;

    let out = projections_verify(&app).await;

    out.assert_failure();
    let prefix = format!("care_plan_activities id={CPA_QUANTITY}: remaining_quantity_value: live ");
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("{prefix} in\n{}", out.stdout));
    // A numeric on PostgreSQL, the decimal's text on SQLite.
    assert_eq!(line.replace('"', ""), format!("{prefix}0.5 | rebuilt 0.3"));
    out.assert_stdout_has(": 1 difference(s)");
}
