//! The HTTP SMS gateway against a real provider on loopback: delivery with the message id as
//! Idempotency-Key, and a failing provider retried with backoff (nothing lost, nothing marked sent).

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use ehealth_es::sms::dispatcher::Dispatcher;
use ehealth_es::sms::Gateway;
use serde_json::{json, Value};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::support::service::{self, Pool};

/// A migrated database and no service: the test's dispatcher is the only one.
struct Db {
    db: service::Db,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    async fn fresh() -> Db {
        if crate::support::sqlite_backend() {
            let (db, dir) = crate::support::fresh_sqlite().await;
            return Db {
                db,
                _dir: Some(dir),
            };
        }
        let name = crate::support::fresh_database().await;
        let admin = crate::support::admin_url();
        let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
        Db {
            db: service::connect(&url, 4).await,
            _dir: None,
        }
    }

    /// Asserts the outbox row of message `id` is in `status` after `attempts`; answers the row.
    async fn assert_sms(&self, id: Uuid, status: &str, attempts: i64) -> Value {
        let row = self.sms(id).await;
        assert_eq!(row["status"], status, "{row:#}");
        assert_eq!(row["attempts"], attempts, "{row:#}");
        row
    }

    /// The outbox row of one message.
    async fn sms(&self, id: Uuid) -> Value {
        match service::pool(&self.db) {
            Pool::Postgres(pool) => {
                sqlx::query_scalar("SELECT row_to_json(s) FROM sms_outbox s WHERE id = $1")
                    .bind(id)
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
            Pool::Sqlite(pool) => crate::support::sqlite_row_json(
                &sqlx::query("SELECT * FROM sms_outbox WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_one(pool)
                    .await
                    .unwrap(),
            ),
        }
    }
}

/// What the provider received: the Idempotency-Key header, the JSON body and the status it
/// answered, for each POST.
type Received = Vec<(Option<String>, Value, u16)>;

/// An SMS provider on loopback whose answer the test may change while it runs.
#[derive(Clone)]
pub struct Provider {
    received: Arc<Mutex<Received>>,
    answer: Arc<AtomicU16>,
}

impl Provider {
    /// Every POST so far.
    pub fn received(&self) -> Received {
        self.received.lock().unwrap().clone()
    }

    /// The ids of the messages the provider accepted (answered 2xx).
    pub fn accepted(&self) -> Vec<String> {
        self.received()
            .into_iter()
            .filter(|(_, _, status)| (200..300).contains(status))
            .filter_map(|(_, body, _)| body["id"].as_str().map(str::to_string))
            .collect()
    }

    /// Answers every later POST with `status`.
    pub fn answer(&self, status: StatusCode) {
        self.answer.store(status.as_u16(), Ordering::SeqCst);
    }
}

/// Starts a provider answering `answer`; returns its URL (the gateway setting) and its handle.
pub async fn provider(answer: StatusCode) -> (String, Provider) {
    let state = Provider {
        received: Arc::default(),
        answer: Arc::new(AtomicU16::new(answer.as_u16())),
    };
    let seen = state.clone();
    let app = Router::new().route(
        "/sms",
        post(move |headers: HeaderMap, Json(body): Json<Value>| {
            let seen = seen.clone();
            async move {
                let key = headers
                    .get("idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let status = seen.answer.load(Ordering::SeqCst);
                seen.received.lock().unwrap().push((key, body, status));
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/sms"), state)
}

/// A fresh outbox holding one message of `kind` (the dispatcher treats `otp` messages apart),
/// and a provider answering `answer`: the outbox, the provider's URL and handle, and the id.
async fn one_queued(
    answer: StatusCode,
    kind: &str,
    template: &str,
    params: Value,
) -> (Db, String, Provider, Uuid) {
    let app = Db::fresh().await;
    let (url, provider) = provider(answer).await;
    let id = queue_kind(&app, kind, template, params).await;
    (app, url, provider, id)
}

async fn queue_kind(app: &Db, kind: &str, template: &str, params: Value) -> Uuid {
    let id = Uuid::new_v4();
    const SQL: &str = "INSERT INTO sms_outbox (id, kind, phone_number, template, params, source_position) \
         VALUES ($1, $4, '+380501112233', $2, $3, (SELECT coalesce(max(source_position), 0) + 1 FROM sms_outbox))";
    match service::pool(&app.db) {
        Pool::Postgres(pool) => sqlx::query(SQL)
            .bind(id)
            .bind(template)
            .bind(params)
            .bind(kind)
            .execute(pool)
            .await
            .map(drop)
            .unwrap(),
        // As the effects worker queues it: the times in the service's own fixed-width format (the
        // schema's millisecond defaults would compare as later than a "now" of the same millisecond).
        Pool::Sqlite(pool) => sqlx::query(
            "INSERT INTO sms_outbox (id, kind, phone_number, template, params, source_position, \
             created_at, next_attempt_at) VALUES ($1, $5, '+380501112233', $2, $3, \
             (SELECT coalesce(max(source_position), 0) + 1 FROM sms_outbox), $4, $4)",
        )
        .bind(id.to_string())
        .bind(template)
        .bind(params.to_string())
        .bind(service::sqlite_instant(chrono::Utc::now()))
        .bind(kind)
        .execute(pool)
        .await
        .map(drop)
        .unwrap(),
    };
    id
}

fn dispatcher(app: &Db, url: &str) -> Dispatcher {
    dispatcher_with_timeout(app, url, 60)
}

fn dispatcher_with_timeout(app: &Db, url: &str, otp_send_timeout: u64) -> Dispatcher {
    Dispatcher {
        outbox: ehealth_es::store::Store::new(&app.db).sms_outbox,
        gateway: Gateway::from_setting(url).unwrap(),
        otp_key: b"k".to_vec(),
        otp_send_timeout: std::time::Duration::from_secs(otp_send_timeout),
        wake: Arc::new(Notify::new()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_gateway_posts_each_message_once_with_its_id_as_idempotency_key() {
    let (app, url, provider, id) = one_queued(
        StatusCode::OK,
        "test",
        "service_request_recalled",
        json!({ "requisition": "AB-12" }),
    )
    .await;

    let handled = dispatcher(&app, &url).run_once().await.unwrap();
    let again = dispatcher(&app, &url).run_once().await.unwrap();

    assert_eq!((handled, again), (1, 0));
    let received = provider.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].0.as_deref(), Some(id.to_string().as_str()));
    assert_eq!(received[0].1["phone_number"], "+380501112233");
    assert_eq!(
        received[0].1["text"],
        "Ваше направлення під номером AB-12 було відкликано"
    );
    let row = app.assert_sms(id, "sent", 1).await;
    // Only the fake `log` phone records texts; a real provider's messages are not kept.
    assert_eq!(row["delivered_text"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_leaves_the_message_pending_for_a_later_retry() {
    let (app, url, provider, id) = one_queued(
        StatusCode::SERVICE_UNAVAILABLE,
        "test",
        "otp",
        json!({ "approval_id": Uuid::new_v4(), "salt": "00ff" }),
    )
    .await;

    dispatcher(&app, &url).run_once().await.unwrap();
    // Backed off: not due again immediately.
    let immediately = dispatcher(&app, &url).run_once().await.unwrap();

    assert_eq!(immediately, 0);
    let received = provider.received();
    assert_eq!(received.len(), 1);
    let text = received[0].1["text"].as_str().unwrap();
    let code = text.rsplit(' ').next().unwrap();
    assert!(service::luhn_valid(code), "{text}");
    let row = app.assert_sms(id, "pending", 1).await;
    assert_eq!(
        row["last_error"],
        "sms gateway failed: gateway answered 503 Service Unavailable"
    );
}

/// The recall SMS has no job and no deadline: whatever `EHEALTH_OTP_SEND_TIMEOUT` says, it is
/// attempted and kept for a retry while the provider fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recall_sms_is_retried_whatever_the_otp_send_timeout() {
    let (app, url, provider, id) = one_queued(
        StatusCode::SERVICE_UNAVAILABLE,
        "service_request_recalled",
        "service_request_recalled",
        json!({ "requisition": "AB-12" }),
    )
    .await;

    let handled = dispatcher_with_timeout(&app, &url, 0)
        .run_once()
        .await
        .unwrap();

    assert_eq!(handled, 1);
    assert_eq!(provider.received().len(), 1);
    app.assert_sms(id, "pending", 1).await;
}

/// An OTP message is sent only while its code is the approval's current challenge: one whose
/// approval holds no such challenge is superseded without reaching the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_otp_message_whose_code_is_not_the_current_challenge_never_reaches_the_provider() {
    let (app, url, provider, id) = one_queued(
        StatusCode::OK,
        "otp",
        "otp",
        json!({ "approval_id": Uuid::new_v4(), "salt": "00ff" }),
    )
    .await;

    let handled = dispatcher(&app, &url).run_once().await.unwrap();
    let again = dispatcher(&app, &url).run_once().await.unwrap();

    assert_eq!((handled, again), (1, 0));
    assert!(provider.received().is_empty());
    app.assert_sms(id, "superseded", 0).await;
}
