//! The black-box test harness: a real PostgreSQL database per test (copied from a migrated
//! template), the real router and workers on a loopback port, real HTTP, and helpers to read the
//! stored state afterwards. Needs `EHEALTH_TEST_DATABASE_URL` (an admin URL); `scripts/test.sh`
//! starts a throwaway server and sets it.
//!
//! `EHEALTH_TEST_BACKEND=sqlite` runs the same tests on the embedded SQLite backend instead: each
//! test gets a fresh database file in a temporary folder, and the state helpers below ([`TestApp::
//! rows`], [`TestApp::events`], [`TestApp::count`] …) read it with SQLite's SQL.

#![allow(dead_code)]

pub mod pki;
pub mod proxy;
pub mod qualified_pki;
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
use sqlx::{Column, Connection, PgConnection, PgPool, Row, TypeInfo, ValueRef};
use tokio::sync::OnceCell;
use uuid::Uuid;

pub const JWT_SECRET: &str = "test-jwt-secret";

/// Whether this run tests the SQLite backend (`EHEALTH_TEST_BACKEND=sqlite`).
pub fn sqlite_backend() -> bool {
    std::env::var("EHEALTH_TEST_BACKEND").is_ok_and(|b| b.eq_ignore_ascii_case("sqlite"))
}

/// Skips the rest of a test on the SQLite backend, saying why: for tests of PostgreSQL's own
/// machinery (server restarts, lock waits, snapshots), which that backend does not have.
#[macro_export]
macro_rules! postgres_only {
    ($why:literal) => {
        if $crate::support::sqlite_backend() {
            eprintln!("skipped on the SQLite backend: {}", $why);
            return;
        }
    };
}

/// Runs the rest of a test on the SQLite backend only, saying why: for what only that backend
/// does (a write transaction of another process holding the file, say).
#[macro_export]
macro_rules! sqlite_only {
    ($why:literal) => {
        if !$crate::support::sqlite_backend() {
            eprintln!("skipped on the PostgreSQL backend: {}", $why);
            return;
        }
    };
}

/// A database of its own for a test that runs the binary, on the backend under test: its URL
/// (`postgres://…/<fresh database>` or `sqlite://<temporary folder>/ehealth.db`) and, on SQLite,
/// the folder that holds the file (removed when this is dropped). Dereferences to the URL.
pub struct TestDb {
    pub url: String,
    pub dir: Option<tempfile::TempDir>,
}

impl std::ops::Deref for TestDb {
    type Target = str;

    fn deref(&self) -> &str {
        &self.url
    }
}

impl TestDb {
    /// A fresh, migrated, empty database.
    pub async fn fresh() -> TestDb {
        if sqlite_backend() {
            let (db, dir) = fresh_sqlite().await;
            db.close().await;
            TestDb {
                url: format!("sqlite://{}", dir.path().join("ehealth.db").display()),
                dir: Some(dir),
            }
        } else {
            TestDb {
                url: url_for(&fresh_database().await),
                dir: None,
            }
        }
    }

    /// A database that holds nothing, not even the schema: on PostgreSQL an empty database, on
    /// SQLite a path in an empty folder (the file does not exist yet).
    pub async fn unmigrated() -> TestDb {
        if sqlite_backend() {
            let dir = tempfile::tempdir().expect("sqlite folder");
            TestDb {
                url: format!("sqlite://{}", dir.path().join("ehealth.db").display()),
                dir: Some(dir),
            }
        } else {
            let name = format!("ehealth_bin_{}", Uuid::new_v4().simple());
            let mut admin = PgConnection::connect(&admin_url())
                .await
                .expect("admin connection");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .expect("create database");
            TestDb {
                url: url_for(&name),
                dir: None,
            }
        }
    }

    /// A small pool on the database, to read (or damage) its state.
    pub async fn connect(&self) -> ehealth_es::db::Db {
        ehealth_es::db::Db::connect(&self.url, 2)
            .await
            .expect("database connection")
    }
}

/// Rows of a query without binds as JSON objects, on either backend (PostgreSQL's `row_to_json`;
/// on SQLite [`sqlite_row_json`], with `::text` casts and `e.tx_id, ` in an ORDER BY dropped).
pub async fn select(db: &ehealth_es::db::Db, sql: &str) -> Vec<Value> {
    match db {
        ehealth_es::db::Db::Postgres(pool) => {
            sqlx::query_scalar(&format!("SELECT row_to_json(t) FROM ({sql}) t"))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        }
        ehealth_es::db::Db::Sqlite(lite) => {
            let sql = sql.replace("::text", "").replace("e.tx_id, ", "");
            sqlx::query(&sql)
                .fetch_all(&lite.pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .iter()
                .map(sqlite_row_json)
                .collect()
        }
    }
}

/// The single integer a query answers (`count(*)` and the like), on either backend.
pub async fn count(db: &ehealth_es::db::Db, sql: &str) -> i64 {
    match db {
        ehealth_es::db::Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        ehealth_es::db::Db::Sqlite(lite) => sqlx::query_scalar(sql).fetch_one(&lite.pool).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The text values of a one-column query, on either backend.
pub async fn strings(db: &ehealth_es::db::Db, sql: &str) -> Vec<String> {
    match db {
        ehealth_es::db::Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        ehealth_es::db::Db::Sqlite(lite) => sqlx::query_scalar(sql).fetch_all(&lite.pool).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Runs a statement without binds on either backend; returns the rows it changed.
pub async fn execute(db: &ehealth_es::db::Db, sql: &str) -> u64 {
    match db {
        ehealth_es::db::Db::Postgres(pool) => sqlx::query(sql)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()),
        ehealth_es::db::Db::Sqlite(lite) => sqlx::query(sql)
            .execute(&lite.pool)
            .await
            .map(|r| r.rows_affected()),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A fresh, migrated SQLite database in a folder of its own (removed when the folder is dropped).
pub async fn fresh_sqlite() -> (ehealth_es::db::Db, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("sqlite folder");
    let url = format!("sqlite://{}", dir.path().join("ehealth.db").display());
    let db = ehealth_es::db::Db::connect(&url, 8).await.expect("sqlite");
    db.migrate().await.expect("migrations apply");
    (db, dir)
}

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
    /// The dismissed doctor (requester of the care-plan service requests).
    pub dismissed: pki::TestSigner,
    /// The doctor whose party's verification is pending.
    pub pending: pki::TestSigner,
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
            passport_latin: ca.issue_signer_ec("PASUA-KA123456", "Лікар Паспорт"),
            stranger: ca.issue_signer("9999999999", "Сторонній"),
            dismissed: ca.issue_signer(
                &format!("TINUA-{}", world::DISMISSED_TAX_ID),
                "Звільнений Лікар",
            ),
            pending: ca.issue_signer("TINUA-9090909090", "Очікує Перевірки"),
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
    /// The service's database, on either backend.
    pub db: ehealth_es::db::Db,
    /// The PostgreSQL pool (on the SQLite backend a pool that never connects).
    pub pool: PgPool,
    /// The SQLite database's folder, removed with the test.
    pub data_dir: Option<tempfile::TempDir>,
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
        Self::spawn_configured(options, |_| {}).await
    }

    /// Like [`TestApp::spawn_with`], with the service's configuration adjusted by `configure`.
    pub async fn spawn_configured(
        options: Options,
        configure: impl FnOnce(&mut ServeArgs),
    ) -> TestApp {
        Self::spawn_serving(options, configure, None).await
    }

    /// The service on PostgreSQL, talking to its database through a [`proxy::Proxy`] the test
    /// controls (freeze, delay, cut); the test's own state reads go straight to the database.
    pub async fn spawn_behind_proxy(
        configure: impl FnOnce(&mut ServeArgs),
    ) -> (TestApp, proxy::Proxy) {
        assert!(
            !sqlite_backend(),
            "a proxy stands between the service and a database server"
        );
        let admin = admin_url();
        let authority = admin
            .split_once("://")
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|a| a.rsplit('@').next())
            .expect("admin URL authority");
        let upstream: std::net::SocketAddr = authority.parse().expect("admin URL host:port");
        let proxy = proxy::Proxy::start(upstream).await;
        let app = Self::spawn_serving(Options::default(), configure, Some(&proxy)).await;
        (app, proxy)
    }

    async fn spawn_serving(
        options: Options,
        configure: impl FnOnce(&mut ServeArgs),
        proxy: Option<&proxy::Proxy>,
    ) -> TestApp {
        let (db, pool, db_name, database_url, data_dir) = if sqlite_backend() {
            let (db, dir) = fresh_sqlite().await;
            let url = format!("sqlite://{}", dir.path().join("ehealth.db").display());
            let never = sqlx::postgres::PgPoolOptions::new()
                .acquire_timeout(Duration::from_millis(100))
                .connect_lazy("postgres://nobody@127.0.0.1:1/none")
                .expect("lazy pool");
            (db, never, "sqlite".to_string(), url, Some(dir))
        } else {
            let db_name = fresh_database().await;
            let database_url = url_for(&db_name);
            let pool = ehealth_es::db::connect(&database_url, 16)
                .await
                .expect("pool");
            (pool.clone().into(), pool, db_name, database_url, None)
        };
        let media_dir = tempfile::tempdir().expect("media dir");
        if options.import_world {
            let bus = std::sync::Arc::new(ehealth_es::commands::CommandBus::new(
                db.clone(),
                std::sync::Arc::new(tokio::sync::Notify::new()),
            ));
            ehealth_es::import::import(&db, &bus, &world::import_file())
                .await
                .expect("fixture imports");
        }
        let mut args = serve_args(
            options.trust_anchors.then(|| pki().anchors.clone()),
            media_dir.path().to_path_buf(),
        );
        configure(&mut args);
        let serving = match proxy {
            Some(proxy) => ehealth_es::db::Db::connect_with_deadline(
                &proxy.url_for(&database_url),
                16,
                args.request_timeout,
            )
            .await
            .expect("pool through the proxy"),
            None => db.clone(),
        };
        let running = ehealth_es::app::start(serving, &args)
            .await
            .expect("service starts");
        TestApp {
            base: format!("http://{}", running.addr),
            db,
            pool,
            data_dir,
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

    /// Imports `file` (the import format) into the running service's database, through the same
    /// import the binary runs: for entities a few tests need beyond the fixture world.
    pub async fn import(&self, file: &Value) {
        let bus = std::sync::Arc::new(ehealth_es::commands::CommandBus::new(
            self.db.clone(),
            std::sync::Arc::new(tokio::sync::Notify::new()),
        ));
        ehealth_es::import::import(&self.db, &bus, file)
            .await
            .expect("the extra entities import");
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
    /// On SQLite the columns are turned into JSON as PostgreSQL's `row_to_json` would render them
    /// (JSON columns as JSON, instants as `…+00:00`, blobs as `\\x…`).
    pub async fn rows(&self, sql: &str, id: Uuid) -> Vec<Value> {
        match &self.db {
            ehealth_es::db::Db::Postgres(pool) => {
                sqlx::query_scalar(&format!("SELECT row_to_json(t) FROM ({sql}) t"))
                    .bind(id)
                    .fetch_all(pool)
                    .await
                    .expect("state query")
            }
            ehealth_es::db::Db::Sqlite(lite) => sqlx::query(&sql.replace("$1::text", "$1"))
                .bind(id.to_string())
                .fetch_all(&lite.pool)
                .await
                .expect("state query")
                .iter()
                .map(sqlite_row_json)
                .collect(),
        }
    }

    /// Rows of a query without binds as JSON objects, on either backend. On SQLite, `::text` casts
    /// are dropped (its uuids are text already) and `e.tx_id, ` in an ORDER BY is dropped (its
    /// positions are commit order).
    pub async fn select(&self, sql: &str) -> Vec<Value> {
        select(&self.db, sql).await
    }

    /// The single integer a query answers (`count(*)` and the like), on either backend.
    pub async fn count(&self, sql: &str) -> i64 {
        count(&self.db, sql).await
    }

    /// The text values of a one-column query, on either backend.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        strings(&self.db, sql).await
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// How many events the effects worker has not processed yet.
    pub async fn effects_lag(&self) -> i64 {
        match &self.db {
            ehealth_es::db::Db::Postgres(pool) => {
                let mut conn = pool.acquire().await.expect("connection");
                ehealth_es::store::feed::lag(&mut conn, "effects").await
            }
            ehealth_es::db::Db::Sqlite(lite) => {
                let mut conn = lite.pool.acquire().await.expect("connection");
                ehealth_es::store::feed::sqlite::lag(&mut conn, "effects").await
            }
        }
        .expect("effects lag")
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
        self.count("SELECT count(*) FROM events").await
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
        match &self.db {
            ehealth_es::db::Db::Postgres(pool) => {
                sqlx::query_scalar("SELECT row_to_json(j) FROM jobs j WHERE id = $1")
                    .bind(id)
                    .fetch_one(pool)
                    .await
                    .expect("job row")
            }
            ehealth_es::db::Db::Sqlite(lite) => sqlite_row_json(
                &sqlx::query("SELECT * FROM jobs WHERE id = $1")
                    .bind(id)
                    .fetch_one(&lite.pool)
                    .await
                    .expect("job row"),
            ),
        }
    }

    /// Every SMS in the outbox, oldest first.
    pub async fn sms(&self) -> Vec<Value> {
        match &self.db {
            ehealth_es::db::Db::Postgres(pool) => sqlx::query_scalar(
                "SELECT row_to_json(s) FROM sms_outbox s ORDER BY created_at, source_position",
            )
            .fetch_all(pool)
            .await
            .expect("sms rows"),
            ehealth_es::db::Db::Sqlite(lite) => {
                sqlx::query("SELECT * FROM sms_outbox ORDER BY created_at, source_position")
                    .fetch_all(&lite.pool)
                    .await
                    .expect("sms rows")
                    .iter()
                    .map(sqlite_row_json)
                    .collect()
            }
        }
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
        signature: qualified_pki::signature_args(trust_anchors),
        media_dir,
        sms_gateway: "log".into(),
        otp_secret: Some("test-otp-secret".into()),
        body_limit: 64 * 1024,
        workers: true,
        ready_max_lag: 10_000,
        otp_send_timeout: 60,
        // The suites resend to the world's few phones many times in a row; the limit's own tests
        // (and the binary's default) turn it on.
        otp_init_limit: 0,
        // Debug builds on a busy two-core machine: twice the binary's default, so only the fault
        // tests (which set their own) see it.
        request_timeout: Duration::from_secs(10),
    }
}

/// Columns that hold JSON text on SQLite (jsonb on PostgreSQL).
const JSON_COLUMNS: &[&str] = &[
    "released_by_legal_entity_ids",
    "payload",
    "metadata",
    "document",
    "status_reason",
    "properties",
    "links",
    "response_data",
    "error",
    "params",
    "response",
    "authentication_methods",
    "values",
    "value",
];

/// One SQLite row as PostgreSQL's `row_to_json` renders the same row.
pub fn sqlite_row_json(row: &sqlx::sqlite::SqliteRow) -> Value {
    let mut object = serde_json::Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let name = column.name();
        let raw = row.try_get_raw(i).expect("column");
        let value = if raw.is_null() {
            Value::Null
        } else {
            match raw.type_info().name() {
                "INTEGER" => Value::from(row.get::<i64, _>(i)),
                "REAL" => Value::from(row.get::<f64, _>(i)),
                "BLOB" => Value::from(format!("\\x{}", hex::encode(row.get::<Vec<u8>, _>(i)))),
                _ => {
                    let text: String = row.get(i);
                    if JSON_COLUMNS.contains(&name) {
                        serde_json::from_str(&text).unwrap_or(Value::String(text))
                    } else {
                        Value::String(pg_instant(&text).unwrap_or(text))
                    }
                }
            }
        };
        object.insert(name.to_string(), value);
    }
    Value::Object(object)
}

/// `2026-01-02T03:04:05.120000Z` (this backend's instants) as PostgreSQL's JSON renders a
/// timestamptz: `2026-01-02T03:04:05.12+00:00`.
fn pg_instant(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let shaped = text.len() == 27
        && text.ends_with('Z')
        && bytes[10] == b'T'
        && bytes[19] == b'.'
        && text[..4].bytes().all(|b| b.is_ascii_digit());
    if !shaped {
        return None;
    }
    let fraction = text[20..26].trim_end_matches('0');
    let fraction = if fraction.is_empty() {
        String::new()
    } else {
        format!(".{fraction}")
    };
    Some(format!("{}{fraction}+00:00", &text[..19]))
}
