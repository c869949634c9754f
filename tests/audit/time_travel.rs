//! Time travel on the entity read endpoints: `?as_of=<RFC 3339 instant>` and `?version=<n>` answer
//! the entity rebuilt from its events up to that point; 404 before it existed.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::support::world::*;
use crate::support::{Reply, TestApp};
use crate::{
    approval, device_dispense, doctor, merge_request, other_doctor, reject, release, resend,
    service_request, stop,
};

/// `recorded_at` of each event of an entity, in sequence order.
async fn recorded(app: &TestApp, id: Uuid) -> Vec<DateTime<Utc>> {
    app.rows(
        "SELECT recorded_at FROM events WHERE aggregate_id = $1::text ORDER BY sequence",
        id,
    )
    .await
    .iter()
    .map(|row| {
        row["recorded_at"]
            .as_str()
            .expect("recorded_at")
            .parse()
            .expect("an RFC 3339 instant")
    })
    .collect()
}

/// An instant as a query value (`+` would read as a space, so only `Z` instants are used here).
fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[track_caller]
fn ok(reply: &Reply) -> &Value {
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["meta"]["type"], "object");
    reply.data()
}

/// What `path` serves now (200, one object).
async fn served(app: &TestApp, path: &str, token: &str) -> Value {
    ok(&app.get(path, Some(token)).await).clone()
}

/// Releases SR_QUEUED as the doctor; answers its read path and what that path served before.
async fn release_queued(app: &TestApp, token: &str) -> (String, Value) {
    let path = service_request(P_OTP, SR_QUEUED);
    let imported = served(app, &path, token).await;
    release(app, token, SR_QUEUED).await;
    (path, imported)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_answers_the_service_request_as_it_was_before_and_after_a_release() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    let (path, imported) = release_queued(&app, &token).await;
    let times = recorded(&app, SR_QUEUED).await;
    assert_eq!(times.len(), 2);
    let at = |t: DateTime<Utc>| format!("{path}?as_of={}", instant(t));

    // Before the import: it did not exist.
    let reply = app
        .get(&at(times[0] - Duration::microseconds(1)), Some(&token))
        .await;
    reply.assert_error(404, "not_found", "Service request not found");
    let reply = app
        .get(&format!("{path}?as_of=2000-01-01T00:00:00Z"), Some(&token))
        .await;
    reply.assert_error(404, "not_found", "Service request not found");

    // From the import up to just before the release: the imported state, exactly as it was served.
    for t in [times[0], times[1] - Duration::microseconds(1)] {
        let reply = app.get(&at(t), Some(&token)).await;
        let past = ok(&reply);
        assert_eq!(past, &imported, "as_of {}", instant(t));
        assert_eq!(past["program_processing_status"], "in_queue");
        assert_eq!(
            past["used_by_legal_entity"]["identifier"]["value"],
            LE_MAIN.to_string()
        );
    }

    // From the release on: the current state.
    let current = served(&app, &path, &token).await;
    assert_eq!(current["program_processing_status"], "new");
    for t in [times[1], Utc::now() + Duration::days(365)] {
        let reply = app.get(&at(t), Some(&token)).await;
        assert_eq!(ok(&reply), &current, "as_of {}", instant(t));
        assert_eq!(ok(&reply)["used_by_legal_entity"], Value::Null);
    }

    // An offset names the same instant.
    let kyiv = times[1]
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
        .to_rfc3339_opts(SecondsFormat::Micros, false)
        .replace('+', "%2B");
    let reply = app.get(&format!("{path}?as_of={kyiv}"), Some(&token)).await;
    assert_eq!(ok(&reply)["program_processing_status"], "new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_answers_the_state_after_that_many_events() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    let (path, imported) = release_queued(&app, &token).await;
    let current = served(&app, &path, &token).await;

    let v1 = app.get(&format!("{path}?version=1"), Some(&token)).await;
    assert_eq!(ok(&v1), &imported);
    assert_eq!(ok(&v1)["program_processing_status"], "in_queue");
    let v2 = app.get(&format!("{path}?version=2"), Some(&token)).await;
    assert_eq!(ok(&v2), &current);
    assert_eq!(ok(&v2)["program_processing_status"], "new");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_zero_and_versions_beyond_the_last_event_answer_404() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    release(&app, &token, SR_QUEUED).await;
    for version in ["0", "3", "99", "9223372036854775807"] {
        let reply = app
            .get(
                &format!("{}?version={version}", service_request(P_OTP, SR_QUEUED)),
                Some(&token),
            )
            .await;
        reply.assert_error(404, "not_found", "Service request not found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_works_on_merge_requests_device_dispenses_and_approvals() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    reject(&app, &app.token(U_SPECIALIST, LE_MAIN, ALL_SCOPES), MR_NEW).await;
    stop(&app, &token, P_OTP, DD_IN_PROGRESS).await;
    resend(&app, &token, P_OTP, AP_OTP).await;

    let mr = merge_request(MR_NEW);
    let dd = device_dispense(P_OTP, DD_IN_PROGRESS);
    for (path, statuses) in [
        (&mr, ["NEW", "REJECTED"]),
        (&dd, ["in_progress", "stopped"]),
    ] {
        for (version, status) in (1..).zip(statuses) {
            let past = served(&app, &format!("{path}?version={version}"), &token).await;
            assert_eq!(past["status"], status, "{path} version {version}");
        }
    }
    let times = recorded(&app, MR_NEW).await;
    let reply = app
        .get(&format!("{mr}?as_of={}", instant(times[0])), Some(&token))
        .await;
    assert_eq!(ok(&reply)["status"], "NEW");
    assert_eq!(ok(&reply)["updated_by"], U_SPECIALIST.to_string());

    let ap = approval(P_OTP, AP_OTP);
    let before = app.get(&format!("{ap}?version=1"), Some(&token)).await;
    assert!(
        ok(&before).get("authentication_method_current").is_none(),
        "{:#}",
        before.body
    );
    let after = app.get(&format!("{ap}?version=2"), Some(&token)).await;
    assert_eq!(
        ok(&after)["authentication_method_current"],
        json!({ "type": "OTP", "number": "+38093*****85" })
    );
    assert_eq!(ok(&after), ok(&app.get(&ap, Some(&token)).await));

    for (path, not_found) in [
        (mr, "Merge request not found"),
        (dd, "Device dispense not found"),
        (ap, "Approval with such id is not found"),
    ] {
        for query in ["version=0", "version=3", "as_of=2000-01-01T00:00:00Z"] {
            let reply = app.get(&format!("{path}?{query}"), Some(&token)).await;
            reply.assert_error(404, "not_found", not_found);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_as_of_or_version_answers_422_naming_the_parameter() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    for path in [
        service_request(P_OTP, SR_QUEUED),
        merge_request(MR_NEW),
        device_dispense(P_OTP, DD_IN_PROGRESS),
        approval(P_OTP, AP_OTP),
    ] {
        for bad in [
            "yesterday",
            "2026-01-02",
            "2026-01-02T03:04:05",
            "1700000000",
        ] {
            let reply = app.get(&format!("{path}?as_of={bad}"), Some(&token)).await;
            reply.assert_error(
                422,
                "validation_failed",
                "expected an RFC 3339 date-time, e.g. 2026-01-02T03:04:05Z",
            );
            assert_eq!(
                reply.body["error"]["invalid"],
                json!([{ "entry_type": "query_parameter", "entry": "as_of", "rules": [ {
                    "rule": "cast",
                    "description": "expected an RFC 3339 date-time, e.g. 2026-01-02T03:04:05Z",
                    "params": ["datetime"] } ] }])
            );
        }
        for bad in ["-1", "one", "1.0", "99999999999999999999"] {
            let reply = app
                .get(&format!("{path}?version={bad}"), Some(&token))
                .await;
            reply.assert_error(422, "validation_failed", "expected a non-negative integer");
            assert_eq!(
                reply.body["error"]["invalid"][0]["entry_type"],
                "query_parameter"
            );
            assert_eq!(reply.body["error"]["invalid"][0]["entry"], "version");
            assert_eq!(
                reply.body["error"]["invalid"][0]["rules"][0]["rule"],
                "number"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_of_and_version_together_answer_422_only_one_of_the_parameters() {
    let app = TestApp::spawn().await;
    let reply = app
        .get(
            &format!(
                "{}?as_of=2030-01-01T00:00:00Z&version=1",
                service_request(P_OTP, SR_QUEUED)
            ),
            Some(&doctor(&app)),
        )
        .await;
    reply.assert_error(
        422,
        "validation_failed",
        "Only one of the parameters must be present",
    );
    assert_eq!(reply.invalid_entries(), vec!["as_of", "version"]);
    assert_eq!(
        reply.body["error"]["invalid"][0]["rules"][0]["rule"],
        "oneOf"
    );
    assert_eq!(
        reply.body["error"]["invalid"][0]["entry_type"],
        "query_parameter"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_travel_keeps_the_read_endpoints_scope_and_visibility() {
    let app = TestApp::spawn().await;
    let path = format!("{}?version=1", service_request(P_OTP, SR_QUEUED));

    // Another legal entity, another patient, a missing scope: as without time travel.
    let reply = app.get(&path, Some(&other_doctor(&app))).await;
    reply.assert_error(404, "not_found", "Service request not found");
    let reply = app
        .get(
            &format!("{}?version=1", service_request(P_OFFLINE, SR_QUEUED)),
            Some(&doctor(&app)),
        )
        .await;
    reply.assert_error(404, "not_found", "Service request not found");
    let reply = app
        .get(&path, Some(&app.token(U_DOCTOR, LE_MAIN, "event:read")))
        .await;
    reply.assert_error(
        403,
        "forbidden",
        "Your scope does not allow to access this resource. Missing allowances: service_request:read",
    );

    // Visibility is the current one: after LE_OTHER released SR_USED_BY_OTHER (requested by
    // LE_MAIN), LE_OTHER still reads it and its past versions (it changed it), LE_MAIN too, and a
    // legal entity that never touched it reads none of them.
    let other = other_doctor(&app);
    let used = format!("{}?version=1", service_request(P_OTP, SR_USED_BY_OTHER));
    assert_eq!(app.get(&used, Some(&other)).await.status, 200);
    release(&app, &other, SR_USED_BY_OTHER).await;
    assert_eq!(app.get(&used, Some(&other)).await.status, 200);
    let primary = app.token(U_DOCTOR, LE_PRIMARY, ALL_SCOPES);
    let reply = app.get(&used, Some(&primary)).await;
    reply.assert_error(404, "not_found", "Service request not found");
    let reply = app.get(&used, Some(&doctor(&app))).await;
    assert_eq!(
        ok(&reply)["used_by_legal_entity"]["identifier"]["value"],
        LE_OTHER.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_entity_is_404_and_parameters_are_checked_first_and_strictly() {
    let app = TestApp::spawn().await;
    let token = doctor(&app);
    let unknown = service_request(P_OTP, Uuid::new_v4());
    let reply = app.get(&format!("{unknown}?version=1"), Some(&token)).await;
    reply.assert_error(404, "not_found", "Service request not found");
    let reply = app.get(&format!("{unknown}?version=x"), Some(&token)).await;
    assert_eq!(reply.status, 422, "{:#}", reply.body);
    // Empty parameters are the current state; any other parameter is refused, so that a misspelt
    // `verison=1` never answers the current state as if it were the past one.
    let path = service_request(P_OTP, SR_QUEUED);
    let reply = app
        .get(&format!("{path}?as_of=&version="), Some(&token))
        .await;
    assert_eq!(ok(&reply)["program_processing_status"], "in_queue");
    let reply = app.get(&format!("{path}?verison=1"), Some(&token)).await;
    reply.assert_error(422, "validation_failed", "query parameter is not allowed");
    assert_eq!(
        reply.body["error"]["invalid"],
        json!([{ "entry_type": "query_parameter", "entry": "verison", "rules": [ {
            "rule": "schema", "description": "query parameter is not allowed",
            "params": ["as_of", "version"] } ] }])
    );
    let reply = app
        .get(&format!("{path}?version=1&version=2"), Some(&token))
        .await;
    reply.assert_error(
        422,
        "validation_failed",
        "query parameter must be given at most once",
    );
}
