//! CSV (`Accept: text/csv`): a header of the table's typed columns, RFC 4180 quoting, the next page
//! in a `Link` header, and refusals still in the JSON envelope.

use serde_json::{json, Value};

use crate::support::world::*;
use crate::*;

const SERVICE_REQUEST_HEADER: &str = "id,patient_id,status,program_processing_status,\
requester_employee_id,requester_legal_entity_id,used_by_employee_id,used_by_legal_entity_id,\
status_reason,inserted_at,updated_at,updated_by,version\r\n";

/// A recalled service request whose reason holds commas and quotes.
const SR_WITH_REASON: uuid::Uuid = uuid::Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_00aa_5001);

fn reason() -> Value {
    json!({
        "coding": [ { "system": "eHealth/service_request_recall_reasons", "code": "1" } ],
        "text": "Відкликано, бо \"дубль\", див. лист"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_of_service_requests_is_a_header_of_the_typed_columns_and_one_row_per_entity() {
    let (app, token) = doctor_app().await;
    app.import(
        &json!({ "service_requests": [ service_request(SR_WITH_REASON, json!({
            "status": "recalled", "status_reason": reason(), "updated_by": U_DOCTOR,
            "inserted_at": "2024-08-01T00:00:00Z", "updated_at": "2024-08-01T00:00:00.5Z"
        })) ] }),
    )
    .await;

    let reply = get_csv(&app, SERVICE_REQUESTS, &token).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("content-type"),
        Some("text/csv; charset=utf-8")
    );
    assert_eq!(reply.header("vary"), Some("accept"));
    assert!(reply.header("x-request-id").is_some());
    assert_eq!(reply.header("link"), None);
    assert!(
        reply.text.starts_with(SERVICE_REQUEST_HEADER),
        "{}",
        reply.text
    );
    let records = parse_csv(&reply.text);
    let json_list = app.get(SERVICE_REQUESTS, Some(&token)).await;
    let items = json_list.data().as_array().unwrap();
    assert_eq!(records.len(), 1 + items.len());
    assert_eq!(items.len(), 11);
    for (row, item) in records[1..].iter().zip(items) {
        assert_eq!(row.len(), 13, "{row:?}");
        assert_eq!(row[0], item["id"].as_str().unwrap());
        assert_eq!(row[2], item["status"].as_str().unwrap());
        // Timestamps are written exactly as the JSON rendering writes them.
        assert_eq!(row[9], item["inserted_at"].as_str().unwrap());
        assert_eq!(row[10], item["updated_at"].as_str().unwrap());
    }
    assert_eq!(
        records[1],
        [
            SR_QUEUED.to_string(),
            P_OTP.to_string(),
            "active".into(),
            "in_queue".into(),
            E_DOCTOR.to_string(),
            LE_MAIN.to_string(),
            E_DOCTOR.to_string(),
            LE_MAIN.to_string(),
            String::new(),
            "2024-05-01T10:00:00Z".into(),
            "2024-05-01T10:00:00Z".into(),
            String::new(),
            "1".into(),
        ]
    );
    // The JSON reason holds commas and quotes: the field is quoted with its quotes doubled, and
    // reads back as the same JSON.
    let recalled = records.last().unwrap();
    assert_eq!(recalled[0], SR_WITH_REASON.to_string());
    assert_eq!(recalled[2], "recalled");
    assert_eq!(recalled[3], "", "no program processing status");
    assert_eq!(
        serde_json::from_str::<Value>(&recalled[8]).unwrap(),
        reason()
    );
    assert_eq!(recalled[11], U_DOCTOR.to_string());
    assert!(reply.text.contains(r#","{"""#), "{}", reply.text);
    assert!(
        reply.text.contains(
            r#"""coding"":[{""code"":""1"",""system"":""eHealth/service_request_recall_reasons""}]"#
        ),
        "{}",
        reply.text
    );
    assert!(reply.text.contains(r#"\""дубль\"""#), "{}", reply.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_pages_follow_the_link_header_which_keeps_the_filters() {
    let (app, token) = doctor_app().await;
    let mut url = format!("{SERVICE_REQUESTS}?status=active&limit=3");
    let mut rows = Vec::new();
    let mut pages = 0;
    loop {
        let reply = get_csv(&app, &url, &token).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let records = parse_csv(&reply.text);
        assert_eq!(records[0].len(), 13, "every page has the header");
        assert_eq!(records[0][0], "id");
        rows.extend(records[1..].iter().cloned());
        pages += 1;
        let Some(link) = reply.header("link") else {
            break;
        };
        let next = link
            .strip_prefix('<')
            .and_then(|l| l.strip_suffix(">; rel=\"next\""))
            .unwrap_or_else(|| panic!("Link is not rel=next: {link}"));
        assert!(
            next.starts_with(&format!(
                "{}{SERVICE_REQUESTS}?status=active&limit=3&cursor=",
                app.base
            )),
            "{next}"
        );
        url = next.to_string();
        assert!(pages < 10);
    }
    assert_eq!(pages, 3);
    assert!(rows.iter().all(|r| r[2] == "active"));
    let listed: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    let expected: Vec<String> = list_ids(&app, SERVICE_REQUESTS, "status=active", &token)
        .await
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(listed, expected);
    assert_eq!(listed.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_of_merge_requests_and_dispenses_has_their_own_typed_columns() {
    let (app, token) = doctor_app().await;

    let merge = get_csv(&app, &format!("{MERGE_REQUESTS}?status=APPROVED"), &token).await;
    assert_eq!(merge.status, 200, "{}", merge.text);
    assert_eq!(
        parse_csv(&merge.text),
        [
            [
                "id",
                "master_person_id",
                "merge_person_id",
                "status",
                "legal_entity_id",
                "inserted_by",
                "inserted_at",
                "updated_by",
                "updated_at",
                "version"
            ]
            .map(String::from)
            .to_vec(),
            [
                MR_APPROVED.to_string(),
                P_OTP.to_string(),
                P_UNKNOWN.to_string(),
                "APPROVED".into(),
                LE_MAIN.to_string(),
                U_SPECIALIST.to_string(),
                "2024-04-20T19:14:13Z".into(),
                U_SPECIALIST.to_string(),
                "2024-04-20T19:14:13Z".into(),
                "1".into()
            ]
            .to_vec()
        ]
    );

    let dispenses = get_csv(
        &app,
        &format!("{DEVICE_DISPENSES}?status=completed"),
        &token,
    )
    .await;
    assert_eq!(dispenses.status, 200, "{}", dispenses.text);
    let records = parse_csv(&dispenses.text);
    assert_eq!(
        records[0],
        [
            "id",
            "patient_id",
            "status",
            "performer_legal_entity_id",
            "inserted_at",
            "updated_at",
            "updated_by",
            "version"
        ]
    );
    assert_eq!(records.len(), 2);
    assert_eq!(
        records[1][..4],
        [
            DD_COMPLETED.to_string(),
            P_OTP.to_string(),
            "completed".into(),
            LE_MAIN.to_string()
        ]
    );
    assert_eq!(records[1][6..], ["".to_string(), "1".to_string()]);

    // An empty page is the header alone.
    let empty = get_csv(&app, &format!("{DEVICE_DISPENSES}?status=stopped"), &token).await;
    assert_eq!(
        empty.text,
        "id,patient_id,status,performer_legal_entity_id,inserted_at,updated_at,updated_by,version\r\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_request_is_refused_in_the_json_envelope() {
    let (app, token) = doctor_app().await;

    let invalid = get_csv(&app, &format!("{SERVICE_REQUESTS}?status=open"), &token).await;
    assert_eq!(invalid.status, 422);
    assert_eq!(
        invalid.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let body = invalid.json();
    assert_eq!(body["error"]["type"], "validation_failed");
    assert_eq!(body["error"]["message"], "value is not allowed in enum");
    assert_eq!(body["meta"]["code"], 422);

    let forbidden = get_csv(
        &app,
        SERVICE_REQUESTS,
        &app.token(U_DOCTOR, LE_MAIN, "merge_request:read"),
    )
    .await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.json()["error"]["type"], "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_stays_the_answer_unless_csv_is_preferred() {
    let (app, token) = doctor_app().await;
    for (accept, csv) in [
        ("*/*", false),
        ("application/json", false),
        ("application/json, text/csv", false),
        ("text/csv;q=0.9, application/json;q=0.5", true),
        ("text/csv, */*;q=0.1", true),
    ] {
        let response = app
            .client
            .get(format!("{}{SERVICE_REQUESTS}", app.base))
            .bearer_auth(&token)
            .header("accept", accept)
            .send()
            .await
            .unwrap();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_string();
        assert_eq!(
            content_type.starts_with("text/csv"),
            csv,
            "{accept}: {content_type}"
        );
    }
}
