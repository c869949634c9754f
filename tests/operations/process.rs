//! Running `ehealth-es` subcommands against a test's database, as child processes with the
//! harness's clean environment (`support::command`).

pub use crate::support::command::Output;
use crate::support::command::{clean_command, finish};
use crate::support::TestApp;

/// `ehealth-es projections verify` on the service's database.
pub async fn projections_verify(app: &TestApp) -> Output {
    run(&["projections", "verify"], &app.database_url, 120).await
}

/// `ehealth-es audit verify` on the service's database.
pub async fn audit_verify(app: &TestApp) -> Output {
    run(&["audit", "verify"], &app.database_url, 120).await
}

/// Runs `ehealth-es <args>` against `database_url` to completion (at most `secs`).
pub async fn run(args: &[&str], database_url: &str, secs: u64) -> Output {
    let env = [
        ("DATABASE_URL", database_url),
        ("RUST_LOG", "warn"),
        ("RUST_BACKTRACE", "0"),
    ];
    finish(clean_command(args, &env), args, secs).await
}
