//! Running `ehealth-es` subcommands as child processes: a clean environment (no variable the
//! binary reads is inherited from the test run), a deadline after which the child is killed, and
//! what a finished subcommand left behind.

use std::process::ExitStatus;
use std::time::Duration;

use super::service;

pub const BIN: &str = env!("CARGO_BIN_EXE_ehealth-es");

/// `ehealth-es <args>` with none of the variables the binary reads inherited, and `env` set.
pub fn clean_command(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(BIN);
    command.args(args);
    for var in service::environment_variables() {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// Runs `command` (`ehealth-es <args>`) to completion; the child is killed if it takes longer
/// than `secs`.
pub async fn finish(command: std::process::Command, args: &[&str], secs: u64) -> Output {
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

/// What a finished subcommand left behind.
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
