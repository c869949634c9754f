//! The black-box test harness, included by every suite (`#[path = "../support/mod.rs"] mod
//! support;`): a database of its own per test, the real router and workers on a loopback port,
//! real HTTP through a typed client, and helpers to read the stored state afterwards.
//!
//! | module | holds |
//! |---|---|
//! | `app` | [`TestApp`]: start the service (options, configuration, a second instance, behind a proxy) |
//! | `client` | [`Api`], [`Call`], [`Reply`]: any request, and the assertions on an answer |
//! | `command` | the `ehealth-es` binary as a child process: a clean environment, a deadline, its [`command::Output`] |
//! | `endpoints` | a method per action and read (`app.release(id, &token)`), and [`paths`] |
//! | `changes` | what an action stored: `app.assert_one_event_appended(…)`, `app.assert_status_changed(…)`, `app.current_value(…)` |
//! | `state` | what the service stored: `app.log(id)`, `app.current(table, id)`, jobs, SMS, media |
//! | `waits` | `app.workers_idle()`, `app.wait_sms_sent(n)`, [`eventually`]: waits, never sleeps |
//! | `concurrent` | `app.concurrently(n, …)` and `app.race(n, …)`: requests in parallel |
//! | `database` | fresh databases on either backend, backend-neutral SQL ([`select`], [`count`]) |
//! | `service` | every call into the service's library, in one place |
//! | `world`, `signers`, `pki` | the fixture world, its signers, the test CA |
//! | `qualified_pki` | the qualified-signature PKI (DSTU 4145, P-384, seals) and the service's signature configuration |
//! | `proxy` | a TCP proxy between the service and PostgreSQL, for the fault tests |
//!
//! Needs `EHEALTH_TEST_DATABASE_URL` (an admin URL of a PostgreSQL server); `scripts/test.sh`
//! starts a throwaway server and sets it. `EHEALTH_TEST_BACKEND=sqlite` runs the same tests on
//! the embedded SQLite backend instead: each test gets a fresh database file in a temporary
//! folder, and the state helpers read it with SQLite's SQL.

// Each suite uses a part of the harness.
#![allow(dead_code, unused_imports)]

pub mod app;
pub mod changes;
pub mod client;
pub mod command;
pub mod concurrent;
pub mod database;
pub mod endpoints;
pub mod pki;
pub mod proxy;
pub mod qualified_pki;
pub mod service;
pub mod signers;
pub mod state;
pub mod waits;
pub mod world;

pub use app::{serve_args, Options, TestApp};
pub use client::{Api, Call, Reply};
pub use database::{
    admin_url, count, execute, fresh_database, fresh_sqlite, select, sqlite_row_json, strings,
    url_for, TestDb,
};
pub use endpoints::paths;
pub use signers::{pki, Pki};
pub use waits::{eventually, workers_idle, PATIENCE};

/// The HS256 key of the test services' bearer tokens.
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
