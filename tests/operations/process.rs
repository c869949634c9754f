//! Running `ehealth-es` subcommands as child processes (the pattern of tests/binary/process.rs):
//! a clean environment, a deadline, and the process killed if the test gives up on it.

use std::process::ExitStatus;
use std::time::Duration;

use crate::support::TestApp;

pub const BIN: &str = env!("CARGO_BIN_EXE_ehealth-es");

/// Every variable the binary reads; none is inherited from the environment of the test run.
const SERVICE_VARS: [&str; 10] = [
    "DATABASE_URL",
    "EHEALTH_LISTEN",
    "EHEALTH_JWT_SECRET",
    "EHEALTH_TRUST_ANCHORS",
    "EHEALTH_MEDIA_DIR",
    "EHEALTH_SMS_GATEWAY",
    "EHEALTH_OTP_SECRET",
    "EHEALTH_WORKERS",
    "EHEALTH_DB_POOL_SIZE",
    "EHEALTH_BODY_LIMIT",
];

#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "{self:#?}");
        self
    }

    /// Exited by itself with a non-zero code (not killed by a signal).
    #[track_caller]
    pub fn assert_failure(&self) -> &Self {
        assert!(!self.status.success(), "{self:#?}");
        assert!(
            self.status.code().is_some(),
            "exited, not killed: {self:#?}"
        );
        self
    }

    #[track_caller]
    pub fn assert_stdout_has(&self, text: &str) -> &Self {
        assert!(self.stdout.contains(text), "{text} in\n{}", self.stdout);
        self
    }

    #[track_caller]
    pub fn assert_stderr_has(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "{text} in\n{}", self.stderr);
        self
    }
}

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
    let mut command = tokio::process::Command::new(BIN);
    command.args(args);
    for var in SERVICE_VARS {
        command.env_remove(var);
    }
    command
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(secs), command.output())
        .await
        .unwrap_or_else(|_| panic!("ehealth-es {args:?} did not finish in {secs} s"))
        .expect("the binary runs");
    Output {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
