//! The service's binary as a child process: a command with a clean environment (none of the
//! variables the binary reads is inherited from the test run), and a one-shot subcommand run to
//! completion under a deadline, killed if the test gives up on it, with its [`Output`].

use std::process::ExitStatus;
use std::time::Duration;

/// The binary built for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_ehealth-es");

/// Every variable the binary reads; none is inherited from the environment of the test run.
const SERVICE_VARS: [&str; 19] = [
    "DATABASE_URL",
    "EHEALTH_LISTEN",
    "EHEALTH_JWT_SECRET",
    "EHEALTH_TRUST_ANCHORS",
    "EHEALTH_TSA_CERTIFICATES",
    "EHEALTH_CRL_DIR",
    "EHEALTH_CRL_URLS",
    "EHEALTH_CRL_REFRESH",
    "EHEALTH_OCSP_URL",
    "EHEALTH_SIGNATURE_TIMESTAMP_REQUIRED",
    "EHEALTH_SIGNATURE_SERVICE_URL",
    "EHEALTH_MEDIA_DIR",
    "EHEALTH_SMS_GATEWAY",
    "EHEALTH_OTP_SECRET",
    "EHEALTH_WORKERS",
    "EHEALTH_DB_POOL_SIZE",
    "EHEALTH_BODY_LIMIT",
    "EHEALTH_OTP_SEND_TIMEOUT",
    "EHEALTH_OTP_INIT_LIMIT",
];

/// `ehealth-es <args>` with only `env` set (after info logs without sqlx's, and no backtraces,
/// which `env` may override).
pub fn command(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(BIN);
    command.args(args);
    for var in SERVICE_VARS {
        command.env_remove(var);
    }
    command.env("RUST_LOG", "info,sqlx=warn");
    command.env("RUST_BACKTRACE", "0");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// What a finished subcommand left behind.
#[derive(Debug)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    #[track_caller]
    pub fn assert_success(&self) {
        assert!(self.status.success(), "{self:#?}");
    }

    /// Exited by itself with a non-zero code (not killed by a signal).
    #[track_caller]
    pub fn assert_failure(&self) {
        assert!(!self.status.success(), "{self:#?}");
        assert!(
            self.status.code().is_some(),
            "exited, not killed: {self:#?}"
        );
    }
}

/// Runs `command` (the subcommand `args`) to completion, at most `secs` seconds.
pub async fn run_to_completion(command: std::process::Command, args: &[&str], secs: u64) -> Output {
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
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
