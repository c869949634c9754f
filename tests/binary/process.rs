//! Running the binary: one-shot subcommands, a `serve` child that is always killed when its guard
//! is dropped, HTTP to it, and the database behind it — on the backend under test
//! (`EHEALTH_TEST_BACKEND=sqlite`: a SQLite file of its own per test; else a fresh PostgreSQL
//! database), read through the backend-neutral helpers of `support`.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use uuid::Uuid;

use crate::support::command::{clean_command, finish};
use crate::support::service::{self, Db};
use crate::support::{self, Api, TestDb};

pub use crate::support::command::Output;
pub const SECRET: &str = support::JWT_SECRET;

/// A fresh database with the world imported by the binary's own `import` subcommand.
pub async fn imported_world() -> TestDb {
    let db = TestDb::fresh().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write_json(dir.path(), "world.json", &support::world::import_file());
    let out = run(
        &["import", file.to_str().unwrap()],
        &[("DATABASE_URL", &db)],
    )
    .await;
    out.assert_success();
    db
}

pub fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// `ehealth-es <args>` with a clean environment, info logs without sqlx's and no backtraces
/// (which `env` may override), and `env`.
fn command(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut all = vec![("RUST_LOG", "info,sqlx=warn"), ("RUST_BACKTRACE", "0")];
    all.extend_from_slice(env);
    clean_command(args, &all)
}

/// Runs a subcommand to completion (at most 60 s).
pub async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    finish(command(args, env), args, 60).await
}

/// Runs a subcommand in `dir` (where the embedded default keeps `./data`).
pub async fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = command(args, env);
    command.current_dir(dir);
    finish(command, args, 60).await
}

/// A bearer token minted by the binary's `token` subcommand.
pub async fn cli_token(user: Uuid, client: Uuid, scope: &str) -> String {
    let out = run(
        &[
            "token",
            "--user",
            &user.to_string(),
            "--client",
            &client.to_string(),
            "--scope",
            scope,
            "--ttl",
            "600",
        ],
        &[("EHEALTH_JWT_SECRET", SECRET)],
    )
    .await;
    out.assert_success();
    out.stdout.trim().to_string()
}

/// A small pool on the database behind `url`, on its backend.
pub async fn pool(url: &str) -> Db {
    service::connect(url, 2).await
}

pub async fn scalar(db: &Db, sql: &str) -> i64 {
    support::count(db, sql).await
}

/// Rows as JSON objects, as PostgreSQL's `row_to_json` renders them on either backend.
pub async fn json_rows(db: &Db, sql: &str) -> Vec<Value> {
    support::select(db, sql).await
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running `ehealth-es serve`. Dropping it kills the process and reaps it. It dereferences to
/// its [`Api`], so requests and typed actions are methods of the server.
pub struct Server {
    child: Child,
    pub api: Api,
    pub listen: String,
    logs: tempfile::TempDir,
}

impl std::ops::Deref for Server {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Server {
    /// Starts `serve` on a free port and waits until it announces that it listens.
    pub async fn start(database_url: &str, media_dir: &Path, workers: bool) -> Server {
        let mut server = Server::spawn(database_url, media_dir, workers, &[]);
        if let Err(status) = server.listening().await {
            panic!(
                "serve exited with {status} before listening\nstdout: {}\nstderr: {}",
                server.stdout(),
                server.stderr()
            );
        }
        server
    }

    /// Spawns `serve` with workers, `overrides` last, on a fresh database holding the fixture
    /// world and a media folder of its own; does not wait. The database and the folder are
    /// answered too: they must outlive the server.
    pub async fn spawn_on_world(overrides: &[(&str, &str)]) -> (Server, TestDb, tempfile::TempDir) {
        let db = imported_world().await;
        let media = tempfile::tempdir().unwrap();
        let server = Server::spawn(&db, media.path(), true, overrides);
        (server, db, media)
    }

    /// Spawns `serve` with the test configuration, `overrides` last; does not wait.
    pub fn spawn(
        database_url: &str,
        media_dir: &Path,
        workers: bool,
        overrides: &[(&str, &str)],
    ) -> Server {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let workers = workers.to_string();
        let mut env = vec![
            ("DATABASE_URL", database_url),
            ("EHEALTH_JWT_SECRET", SECRET),
            ("EHEALTH_LISTEN", listen.as_str()),
            ("EHEALTH_MEDIA_DIR", media_dir.to_str().unwrap()),
            ("EHEALTH_OTP_SECRET", "binary-test-otp-secret"),
            ("EHEALTH_SMS_GATEWAY", "log"),
            ("EHEALTH_WORKERS", workers.as_str()),
            // The tests resend to one phone many times in a row (the limit is tested elsewhere).
            ("EHEALTH_OTP_INIT_LIMIT", "0"),
        ];
        env.extend_from_slice(overrides);
        Server::spawn_command(&["serve"], None, &env, listen.clone())
    }

    /// Spawns the binary with exactly `args` and `env` (nothing of the test run's environment),
    /// in `cwd` if given; `listen` is the address it was told to serve on. Does not wait.
    pub fn spawn_command(
        args: &[&str],
        cwd: Option<&Path>,
        env: &[(&str, &str)],
        listen: String,
    ) -> Server {
        let logs = tempfile::tempdir().unwrap();
        let stdout = std::fs::File::create(logs.path().join("stdout")).unwrap();
        let stderr = std::fs::File::create(logs.path().join("stderr")).unwrap();
        let mut command = command(args, env);
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("serve starts");
        Server {
            child,
            api: Api::new(format!("http://{listen}")),
            listen,
            logs,
        }
    }

    /// Waits (at most 60 s) until the process announces its address; `Err` if it exits first.
    pub async fn listening(&mut self) -> Result<(), ExitStatus> {
        let announcement = format!("ehealth-es listening on http://{}", self.listen);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.stdout().contains(&announcement) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(status);
            }
            assert!(
                Instant::now() < deadline,
                "serve did not listen within 60 s\nstdout: {}\nstderr: {}",
                self.stdout(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("stdout")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("stderr")).unwrap_or_default()
    }

    /// SIGKILL (what `Child::kill` sends on unix), then reap: a crash, nothing runs to completion.
    pub fn crash(&mut self) -> ExitStatus {
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().expect("reaped");
        assert!(status.code().is_none(), "killed by a signal: {status}");
        status
    }

    /// Sends a signal by name (`TERM`, `INT`) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(status.success(), "kill -{name} {}", self.pid());
    }

    /// Waits (at most `secs`) for the process to exit on its own.
    pub async fn wait_exit(&mut self, secs: u64) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
