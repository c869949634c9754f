//! The black-box test harness: a real PostgreSQL database per test (copied from a migrated
//! template), the real router and workers on a loopback port, real HTTP, and helpers to read the
//! stored state afterwards. Needs `EHEALTH_TEST_DATABASE_URL` (an admin URL); `scripts/test.sh`
//! starts a throwaway server and sets it.

#![allow(dead_code)]

pub mod pki;
pub mod world;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ehealth_es::app::Running;
use ehealth_es::auth::TokenKeys;
use ehealth_es::config::ServeArgs;
use reqwest::header::HeaderMap;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub const JWT_SECRET: &str = "test-jwt-secret";

pub fn admin_url() -> String {
    std::env::var("EHEALTH_TEST_DATABASE_URL").expect(
        "EHEALTH_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts a throwaway PostgreSQL",
    )
}

fn url_for(db: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin.rsplit_once('/').expect("admin URL names a database");
    format!("{base}/{db}")
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A database migrated once per test process; every test copies it.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let name = format!(
                "ehealth_tpl_{}_{}",
                std::process::id(),
                Uuid::new_v4().simple()
            );
            let mut admin = PgConnection::connect(&admin_url())
                .await
                .expect("admin connection");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .expect("create template");
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url_for(&name))
                .await
                .expect("template connection");
            ehealth_es::db::migrate(&pool)
                .await
                .expect("migrations apply");
            pool.close().await;
            name
        })
        .await
}

/// A fresh, migrated, empty database; returns its name.
pub async fn fresh_database() -> String {
    let template = template().await;
    let name = format!("ehealth_t_{}", Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("admin connection");
    // Copying a template is refused while another session touches it; retry briefly.
    for attempt in 0.. {
        match sqlx::query(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut admin)
            .await
        {
            Ok(_) => break,
            Err(e) if attempt < 50 => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("create test database: {e}"),
        }
    }
    name
}

pub struct Pki {
    pub ca: pki::TestCa,
    /// Signs as the requester doctor (tax id 1234567890), with the `TINUA-` prefix.
    pub doctor: pki::TestSigner,
    /// Signs as the doctor whose passport number is written in Latin letters.
    pub passport_latin: pki::TestSigner,
    /// A valid signer who is nobody in the fixture.
    pub stranger: pki::TestSigner,
    /// The doctor's certificate, expired.
    pub expired: pki::TestSigner,
    /// The doctor, certified by a CA nobody trusts.
    pub untrusted: pki::TestSigner,
    pub anchors: PathBuf,
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let ca = pki::TestCa::new("ehealth-es test root");
        let rogue = pki::TestCa::new("rogue root");
        let anchors =
            std::env::temp_dir().join(format!("ehealth-anchors-{}.pem", std::process::id()));
        std::fs::write(&anchors, ca.pem()).expect("write trust anchors");
        Pki {
            doctor: ca.issue_signer(&format!("TINUA-{}", world::DOCTOR_TAX_ID), "Лікар Тест"),
            passport_latin: ca.issue_signer_ec("KA123456", "Лікар Паспорт"),
            stranger: ca.issue_signer("9999999999", "Сторонній"),
            expired: ca.issue_signer_valid(world::DOCTOR_TAX_ID, -400, -1),
            untrusted: rogue.issue_signer(world::DOCTOR_TAX_ID, "Лікар Тест"),
            ca,
            anchors,
        }
    })
}

pub struct Options {
    pub trust_anchors: bool,
    pub import_world: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            trust_anchors: true,
            import_world: true,
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub pool: PgPool,
    pub db_name: String,
    pub database_url: String,
    pub client: reqwest::Client,
    pub media_dir: tempfile::TempDir,
    pub keys: TokenKeys,
    pub running: Running,
}

/// One HTTP answer: status, headers and the JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn error_type(&self) -> &str {
        self.body["error"]["type"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }

    /// Asserts an error answer: status, `error.type`, `error.message` and the envelope's meta.
    #[track_caller]
    pub fn assert_error(&self, status: u16, kind: &str, message: &str) {
        assert_eq!(self.status, status, "status of {:#}", self.body);
        assert_eq!(self.error_type(), kind, "error.type of {:#}", self.body);
        assert_eq!(self.message(), message, "error.message of {:#}", self.body);
        assert_eq!(
            self.body["meta"]["code"], status,
            "meta.code of {:#}",
            self.body
        );
        assert!(
            self.body["meta"]["request_id"].is_string(),
            "meta.request_id of {:#}",
            self.body
        );
    }

    /// The entry names of `error.invalid[]`.
    pub fn invalid_entries(&self) -> Vec<String> {
        self.body["error"]["invalid"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["entry"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The job link of a 202 answer.
    pub fn job_href(&self) -> String {
        assert_eq!(self.status, 202, "expected 202, got {:#}", self.body);
        assert_eq!(self.data()["status"], "pending");
        assert_eq!(self.data()["links"][0]["entity"], "job");
        self.data()["links"][0]["href"]
            .as_str()
            .expect("job href")
            .to_string()
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        let db_name = fresh_database().await;
        let database_url = url_for(&db_name);
        let pool = ehealth_es::db::connect(&database_url, 16)
            .await
            .expect("pool");
        let media_dir = tempfile::tempdir().expect("media dir");
        if options.import_world {
            let bus = std::sync::Arc::new(ehealth_es::commands::CommandBus::new(
                pool.clone(),
                std::sync::Arc::new(tokio::sync::Notify::new()),
            ));
            ehealth_es::import::import(&pool.clone().into(), &bus, &world::import_file())
                .await
                .expect("fixture imports");
        }
        let args = serve_args(
            options.trust_anchors.then(|| pki().anchors.clone()),
            media_dir.path().to_path_buf(),
        );
        let running = ehealth_es::app::start(pool.clone(), &args)
            .await
            .expect("service starts");
        TestApp {
            base: format!("http://{}", running.addr),
            pool,
            db_name,
            database_url,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            media_dir,
            keys: TokenKeys::new(JWT_SECRET.as_bytes()),
            running,
        }
    }

    pub fn token(&self, user: Uuid, client: Uuid, scopes: &str) -> String {
        self.keys.mint(user, client, scopes, 3600)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request is answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = self.client.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    /// PATCH with an optional JSON body.
    pub async fn patch(&self, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let mut req = self.client.patch(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await
    }

    /// PATCH with extra headers (e.g. Idempotency-Key, x-request-id).
    pub async fn patch_with(
        &self,
        path: &str,
        token: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .client
            .patch(format!("{}{path}", self.base))
            .bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await
    }

    /// PATCH with a raw body and content type.
    pub async fn patch_raw(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let req = self
            .client
            .patch(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body);
        self.send(req).await
    }

    /// Polls a job until it is no longer pending (at most 10 s).
    pub async fn wait_job(&self, href: &str, token: &str) -> Reply {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let reply = self.get(href, Some(token)).await;
            if reply.data()["status"] != "pending" || Instant::now() > deadline {
                return reply;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Rows of a query as JSON objects (`SELECT row_to_json(t) FROM (<sql>) t`), one uuid bind.
    pub async fn rows(&self, sql: &str, id: Uuid) -> Vec<Value> {
        sqlx::query_scalar(&format!("SELECT row_to_json(t) FROM ({sql}) t"))
            .bind(id)
            .fetch_all(&self.pool)
            .await
            .expect("state query")
    }

    /// The events of one aggregate, in order.
    pub async fn events(&self, aggregate_id: Uuid) -> Vec<Value> {
        self.rows(
            "SELECT sequence, event_type, payload, metadata, global_position FROM events \
             WHERE aggregate_id = $1::text ORDER BY sequence",
            aggregate_id,
        )
        .await
    }

    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM events")
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }

    /// The current-state row of an entity in `table`.
    pub async fn current(&self, table: &str, id: Uuid) -> Option<Value> {
        self.rows(&format!("SELECT * FROM {table} WHERE id = $1"), id)
            .await
            .into_iter()
            .next()
    }

    pub async fn status_history(&self, entity_id: Uuid) -> Vec<Value> {
        self.rows(
            "SELECT sequence, attribute, old_value, new_value, changed_by FROM status_history \
             WHERE entity_id = $1 ORDER BY sequence, attribute",
            entity_id,
        )
        .await
    }

    pub async fn feed(&self, entity_id: Uuid) -> Vec<Value> {
        self.rows(
            "SELECT event_type, entity_type, entity_id, properties, changed_by FROM status_change_events \
             WHERE entity_id = $1 ORDER BY global_position",
            entity_id,
        )
        .await
    }

    pub async fn job(&self, href: &str) -> Value {
        let id = href.rsplit('/').next().unwrap_or_default();
        sqlx::query_scalar("SELECT row_to_json(j) FROM jobs j WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .expect("job row")
    }

    /// Every SMS in the outbox, oldest first.
    pub async fn sms(&self) -> Vec<Value> {
        sqlx::query_scalar(
            "SELECT row_to_json(s) FROM sms_outbox s ORDER BY created_at, source_position",
        )
        .fetch_all(&self.pool)
        .await
        .expect("sms rows")
    }

    /// Waits until `n` SMS have been delivered (at most 10 s) and returns all of them.
    pub async fn wait_sms_sent(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let sms = self.sms().await;
            if sms.iter().filter(|s| s["status"] == "sent").count() >= n
                || Instant::now() > deadline
            {
                return sms;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub fn serve_args(trust_anchors: Option<PathBuf>, media_dir: PathBuf) -> ServeArgs {
    ServeArgs {
        listen: "127.0.0.1:0".parse().expect("addr"),
        jwt_secret: Some(JWT_SECRET.into()),
        demo: false,
        trust_anchors,
        media_dir,
        sms_gateway: "log".into(),
        otp_secret: Some("test-otp-secret".into()),
        body_limit: 64 * 1024,
        workers: true,
        ready_max_lag: 10_000,
    }
}
