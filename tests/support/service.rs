//! Every call the harness makes into the service's library, in one place: when an internal name
//! changes, this is the module to follow it. The suites talk to the service over HTTP; only the
//! few tests of an internal mechanism itself (the feed reader, the hash chain, the SMS dispatcher,
//! the rebuild engine, the event repository) import that mechanism directly.

use std::time::Duration;

use serde_json::Value;
use sqlx::{PgPool, SqlitePool};
use uuid::Uuid;

pub use ehealth_es::app::Running;
pub use ehealth_es::config::{ServeArgs, SignatureArgs};
pub use ehealth_es::db::Db;
pub use ehealth_es::signature::ds_api;
pub use ehealth_es::signature::setup::Signatures;

/// The pool under a service database handle, for the harness's own SQL.
pub enum Pool<'a> {
    Postgres(&'a PgPool),
    Sqlite(&'a SqlitePool),
}

pub fn pool(db: &Db) -> Pool<'_> {
    match db {
        Db::Postgres(pool) => Pool::Postgres(pool),
        Db::Sqlite(lite) => Pool::Sqlite(&lite.pool),
    }
}

/// The PostgreSQL pool of `db`, if it is that backend.
pub fn postgres_pool(db: &Db) -> Option<&PgPool> {
    match pool(db) {
        Pool::Postgres(pool) => Some(pool),
        Pool::Sqlite(_) => None,
    }
}

/// The SQLite pool of `db`, if it is that backend.
pub fn sqlite_pool(db: &Db) -> Option<&SqlitePool> {
    match pool(db) {
        Pool::Sqlite(pool) => Some(pool),
        Pool::Postgres(_) => None,
    }
}

/// Opens the backend `url` names (`postgres://…` or `sqlite://…`), as the service does.
pub async fn connect(url: &str, max_connections: u32) -> Db {
    Db::connect(url, max_connections)
        .await
        .unwrap_or_else(|e| panic!("database connection to {url}: {e}"))
}

/// Opens the backend `url` names, with the service's per-statement deadline on PostgreSQL.
pub async fn connect_with_deadline(url: &str, max_connections: u32, deadline: Duration) -> Db {
    Db::connect_with_deadline(url, max_connections, deadline)
        .await
        .unwrap_or_else(|e| panic!("database connection to {url}: {e}"))
}

/// A PostgreSQL pool configured as the service configures its own.
pub async fn connect_postgres(url: &str, max_connections: u32) -> PgPool {
    ehealth_es::db::connect(url, max_connections)
        .await
        .unwrap_or_else(|e| panic!("database connection to {url}: {e}"))
}

/// Applies the backend's migrations.
pub async fn migrate(db: &Db) {
    db.migrate().await.expect("migrations apply");
}

/// Imports `file` (the import format) through the same import the binary runs.
pub async fn import(db: &Db, file: &Value) -> anyhow::Result<()> {
    let bus = std::sync::Arc::new(ehealth_es::commands::CommandBus::new(
        db.clone(),
        std::sync::Arc::new(tokio::sync::Notify::new()),
    ));
    ehealth_es::import::import(db, &bus, file).await.map(|_| ())
}

/// Starts the router and (unless `args.workers` is off) the workers on a migrated database.
pub async fn start(db: Db, args: &ServeArgs) -> Running {
    ehealth_es::app::start(db, args)
        .await
        .expect("the service starts")
}

/// A bearer token signed with `secret`, as the service's `token` command mints one.
pub fn mint(secret: &[u8], user: Uuid, client: Uuid, scopes: &str, ttl_seconds: i64) -> String {
    ehealth_es::auth::TokenKeys::new(secret).mint(user, client, scopes, ttl_seconds)
}

/// How many events the subscriber `name` (the effects worker is `effects`) has not processed.
pub async fn subscriber_lag(db: &Db, name: &str) -> i64 {
    ehealth_es::store::Store::new(db)
        .feed
        .lag(name)
        .await
        .expect("subscriber lag")
}

/// An instant as the SQLite backend stores it (fixed-width UTC text).
pub fn sqlite_instant(at: chrono::DateTime<chrono::Utc>) -> String {
    ehealth_es::db::sqlite::ts(at)
}

/// Whether an OTP code passes eHealth's Luhn check.
pub fn luhn_valid(code: &str) -> bool {
    ehealth_es::otp::luhn_valid(code)
}

/// The least time between two passes of the effects worker.
pub fn effects_pace() -> Duration {
    ehealth_es::workers::effects::PACE
}

/// Every environment variable the binary reads: those its command line declares (`env = …` on an
/// argument of any subcommand), read from the command line itself so the list cannot drift.
pub fn environment_variables() -> Vec<String> {
    fn walk(command: &clap::Command, vars: &mut Vec<String>) {
        for arg in command.get_arguments() {
            if let Some(var) = arg.get_env() {
                vars.push(var.to_string_lossy().into_owned());
            }
        }
        for sub in command.get_subcommands() {
            walk(sub, vars);
        }
    }
    let mut vars = Vec::new();
    walk(
        &<ehealth_es::cli::Cli as clap::CommandFactory>::command(),
        &mut vars,
    );
    vars.sort();
    vars.dedup();
    vars
}
