//! The service under test: the release binary as a child process on a loopback port, so its
//! memory is its own and the load generator talks to it over real HTTP.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct Service {
    child: Child,
    pub base: String,
}

impl Service {
    pub async fn start(
        binary: &Path,
        database_url: &str,
        jwt_secret: &str,
        trust_anchors: &Path,
        media_dir: &Path,
        pool_size: u32,
    ) -> anyhow::Result<Service> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let mut child = Command::new(binary)
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("EHEALTH_JWT_SECRET", jwt_secret)
            .env("EHEALTH_LISTEN", format!("127.0.0.1:{port}"))
            .envs(crate::pki::signature_env(trust_anchors))
            .env("EHEALTH_MEDIA_DIR", media_dir)
            .env("EHEALTH_DB_POOL_SIZE", pool_size.to_string())
            // The load resends to one patient's phone thousands of times a second: the OTP
            // service's per-phone limit would turn them into cheap 429s.
            .env("EHEALTH_OTP_INIT_LIMIT", "0")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await? {
                if line.contains("listening") {
                    return anyhow::Ok(());
                }
            }
            anyhow::bail!("the service exited before listening")
        })
        .await;
        ready.map_err(|_| anyhow::anyhow!("the service did not start within 30 s"))??;
        Ok(Service {
            child,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Peak resident memory of the service so far, in MiB (`VmHWM`).
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The release binary next to this benchmark's own executable.
pub fn sibling_binary(name: &str) -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.parent()
        .map(|d| d.join(name))
        .unwrap_or_else(|| PathBuf::from(name))
}
