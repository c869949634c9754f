//! The service under test, in process: a database of its own (see database.rs) with the fixture
//! world imported (world.rs), the real router and workers on a loopback port. A [`TestApp`]
//! dereferences to its [`Api`], so every request and typed action of client.rs and endpoints.rs
//! is a method of the app; the stored state is read with the methods of state.rs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use super::client::Api;
use super::database::{fresh_database, fresh_sqlite, sqlite_url, url_for};
use super::service::{self, Db, Running, ServeArgs};
use super::{pki, proxy, sqlite_backend, world, JWT_SECRET};

/// What a test app starts with.
pub struct Options {
    /// The test PKI's root is trusted for signatures (else recall answers 503).
    pub trust_anchors: bool,
    /// The fixture world is imported before the service starts.
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
    /// Where this instance listens, and its HTTP client.
    pub api: Api,
    /// The service's database, on either backend.
    pub db: Db,
    /// The PostgreSQL pool (on the SQLite backend a pool that never connects).
    pub pool: PgPool,
    /// The SQLite database's folder, removed with the last app that uses it.
    pub data_dir: Option<Arc<tempfile::TempDir>>,
    pub db_name: String,
    pub database_url: String,
    /// Where signed content is stored (shared by the instances of one database).
    pub media_dir: Arc<tempfile::TempDir>,
    pub running: Running,
}

impl std::ops::Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    /// A fresh app (as [`TestApp::spawn`]) and a token of `user` at `legal_entity` with every
    /// scope: what most tests start from.
    pub async fn spawn_for(user: Uuid, legal_entity: Uuid) -> (TestApp, String) {
        let app = Self::spawn().await;
        let token = app.token(user, legal_entity, world::ALL_SCOPES);
        (app, token)
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        Self::spawn_configured(options, |_| {}).await
    }

    /// An API-only node (`EHEALTH_WORKERS=false`): its jobs stay pending and nothing is sent.
    pub async fn spawn_without_workers() -> TestApp {
        Self::spawn_configured(Options::default(), |args| args.workers = false).await
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
        let admin = super::database::admin_url();
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
        let (db, db_name, database_url, data_dir) = if sqlite_backend() {
            let (db, dir) = fresh_sqlite().await;
            (
                db,
                "sqlite".to_string(),
                sqlite_url(&dir),
                Some(Arc::new(dir)),
            )
        } else {
            let db_name = fresh_database().await;
            let database_url = url_for(&db_name);
            let db = service::connect_postgres(&database_url, 16).await.into();
            (db, db_name, database_url, None)
        };
        if options.import_world {
            service::import(&db, &world::import_file())
                .await
                .expect("the fixture world imports");
        }
        let media_dir = Arc::new(tempfile::tempdir().expect("media dir"));
        let mut args = serve_args(
            options.trust_anchors.then(|| pki().anchors.clone()),
            media_dir.path().to_path_buf(),
        );
        configure(&mut args);
        let serving = match proxy {
            Some(proxy) => {
                service::connect_with_deadline(
                    &proxy.url_for(&database_url),
                    16,
                    args.request_timeout,
                )
                .await
            }
            None => db.clone(),
        };
        let running = service::start(serving, &args).await;
        TestApp::serving(db, database_url, db_name, data_dir, media_dir, running)
    }

    /// The app of a service already started by the test on `db` (at `database_url`).
    pub fn serving(
        db: Db,
        database_url: String,
        db_name: String,
        data_dir: Option<Arc<tempfile::TempDir>>,
        media_dir: Arc<tempfile::TempDir>,
        running: Running,
    ) -> TestApp {
        TestApp {
            api: Api::new(format!("http://{}", running.addr)),
            pool: service::postgres_pool(&db)
                .cloned()
                .unwrap_or_else(never_connecting_pool),
            db,
            data_dir,
            db_name,
            database_url,
            media_dir,
            running,
        }
    }

    /// Another instance of the service on this app's database and media storage, as a second
    /// process would run beside it: its own router, command bus, state cache, entity locks and
    /// (unless configured off) workers. On PostgreSQL it has a pool of its own; on SQLite it
    /// shares this app's handle, whose write gate keeps the file to one writer at a time.
    pub async fn another_instance(&self, configure: impl FnOnce(&mut ServeArgs)) -> TestApp {
        let db = if sqlite_backend() {
            self.db.clone()
        } else {
            service::connect_postgres(&self.database_url, 16)
                .await
                .into()
        };
        let mut args = serve_args(
            Some(pki().anchors.clone()),
            self.media_dir.path().to_path_buf(),
        );
        configure(&mut args);
        let running = service::start(db.clone(), &args).await;
        TestApp::serving(
            db,
            self.database_url.clone(),
            self.db_name.clone(),
            self.data_dir.clone(),
            self.media_dir.clone(),
            running,
        )
    }

    /// Stops this instance (its router and workers) and waits until it has.
    pub async fn stop(self) {
        self.running.shutdown.cancel();
        self.running.handle.await.expect("the instance stops");
    }

    /// Imports `file` (the import format) into the database, through the same import the binary
    /// runs: for entities a test needs beyond the fixture world.
    pub async fn import(&self, file: &serde_json::Value) {
        service::import(&self.db, file)
            .await
            .expect("the extra entities import");
    }

    /// A bearer token of `user` at legal entity `client` with `scopes` (space-separated).
    pub fn token(&self, user: Uuid, client: Uuid, scopes: &str) -> String {
        service::mint(JWT_SECRET.as_bytes(), user, client, scopes, 3600)
    }

    /// Like [`TestApp::token`], valid for `seconds` from now (negative: expired that long ago).
    pub fn token_valid_for(&self, user: Uuid, client: Uuid, scopes: &str, seconds: i64) -> String {
        service::mint(JWT_SECRET.as_bytes(), user, client, scopes, seconds)
    }

    /// A token of the fixture's doctor (U_DOCTOR at LE_MAIN) with every scope.
    pub fn doctor_token(&self) -> String {
        self.token(world::U_DOCTOR, world::LE_MAIN, world::ALL_SCOPES)
    }

    /// A token of the fixture's specialist (U_SPECIALIST at LE_MAIN), who rejects merge requests.
    pub fn specialist_token(&self) -> String {
        self.token(world::U_SPECIALIST, world::LE_MAIN, world::ALL_SCOPES)
    }
}

fn never_connecting_pool() -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(100))
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .expect("lazy pool")
}

/// The service's configuration in tests.
pub fn serve_args(trust_anchors: Option<PathBuf>, media_dir: PathBuf) -> ServeArgs {
    ServeArgs {
        listen: "127.0.0.1:0".parse().expect("addr"),
        jwt_secret: Some(JWT_SECRET.into()),
        demo: false,
        signature: super::qualified_pki::signature_args(trust_anchors),
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
