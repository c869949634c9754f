//! ehealth-es: an event-sourced command service for five actions of Ukraine's eHealth system
//! (ЕСОЗ), on PostgreSQL or embedded SQLite. See README.md and docs/architecture.md.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod db_health;
pub mod embedded;
pub mod import;
pub mod jobs;
pub mod media;
pub mod metrics;
pub mod otp;
pub mod otp_limit;
pub mod reference;
pub mod signature;
pub mod sms;
pub mod store;
pub mod workers;

/// JSON logs with the request id, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
