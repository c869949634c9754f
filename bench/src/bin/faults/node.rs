//! One service instance under fault: the release binary as a child process on a fixed loopback
//! port, so it can be killed with SIGKILL and restarted where the clients expect it. Its JSON log
//! (stderr) is appended to a file across restarts, for the panic count.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::{Child, Command};

/// Everything a node is started with; the same on every restart.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub binary: PathBuf,
    pub database_url: String,
    pub jwt_secret: String,
    pub trust_anchors: PathBuf,
    pub media_dir: PathBuf,
    pub sms_gateway: String,
    pub pool_size: u32,
}

pub struct Node {
    pub name: String,
    pub base: String,
    port: u16,
    config: NodeConfig,
    log: PathBuf,
    child: Option<Child>,
    pub starts: usize,
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Node {
    /// Starts the node and waits until `/health/live` answers.
    pub async fn start(name: &str, config: NodeConfig, log_dir: &Path) -> anyhow::Result<Node> {
        let port = free_port()?;
        let mut node = Node {
            name: name.to_string(),
            base: format!("http://127.0.0.1:{port}"),
            port,
            log: log_dir.join(format!("{name}.log")),
            config,
            child: None,
            starts: 0,
        };
        node.spawn().await?;
        Ok(node)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let c = &self.config;
        let mut child = Command::new(&c.binary)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &c.database_url)
            .env("EHEALTH_JWT_SECRET", &c.jwt_secret)
            .env("EHEALTH_LISTEN", format!("127.0.0.1:{}", self.port))
            .envs(crate::pki::signature_env(&c.trust_anchors))
            .env("EHEALTH_MEDIA_DIR", &c.media_dir)
            .env("EHEALTH_SMS_GATEWAY", &c.sms_gateway)
            .env("EHEALTH_DB_POOL_SIZE", c.pool_size.to_string())
            // The load resends to one patient's phone many times a second: the per-phone limit
            // would answer most of them 429.
            .env("EHEALTH_OTP_INIT_LIMIT", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()?;
        self.starts += 1;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait()? {
                anyhow::bail!(
                    "{} exited during start ({status}); see {}",
                    self.name,
                    self.log.display()
                );
            }
            let live = client
                .get(format!("{}/health/live", self.base))
                .send()
                .await;
            if live.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "{} did not answer /health/live within 30 s",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: no graceful shutdown, no checkpoint, in-flight transactions abort.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            // tokio's kill() sends SIGKILL on Unix and reaps the child.
            let _ = child.kill().await;
        }
    }

    /// Starts the node again on the same port after a kill.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9().await;
        self.spawn().await
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Panics the process reported on stderr (the default hook's `panicked at`, or the
    /// CatchPanicLayer's `handler panicked`), over every start so far.
    pub fn panics(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .map(|log| {
                log.lines()
                    .filter(|l| l.contains("panicked at") || l.contains("handler panicked"))
                    .count()
            })
            .unwrap_or(0)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }
}
