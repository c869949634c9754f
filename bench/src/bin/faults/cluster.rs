//! The PostgreSQL server the faults run on: a database per scenario, and — for the outage
//! scenario — `pg_ctl stop`/`start` of the whole server (only one started for this run by
//! `scripts/pg.sh`, never a shared one: its data directory must be given).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::{Connection, PgConnection};

pub struct Cluster {
    pub admin_url: String,
    /// `EHEALTH_PG_DIR` of `scripts/pg.sh`: `<dir>/data` holds the data, `<dir>/log` the log.
    pub pg_dir: Option<PathBuf>,
}

/// `pg_ctl` on the PATH or in a Debian/Ubuntu PostgreSQL install (as `scripts/pg.sh` finds it).
fn pg_ctl() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("pg_ctl");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| {
            dirs.filter_map(Result::ok)
                .map(|d| d.path().join("bin/pg_ctl"))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
        .pop()
        .ok_or_else(|| anyhow::anyhow!("pg_ctl not found on the PATH or in /usr/lib/postgresql"))
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

impl Cluster {
    /// Creates a database (a copy of `template` when given) and returns its URL.
    pub async fn create_database(
        &self,
        name: &str,
        template: Option<&str>,
    ) -> anyhow::Result<String> {
        let mut admin = PgConnection::connect(&self.admin_url).await?;
        let copy = template.map_or(String::new(), |t| format!(" TEMPLATE {t}"));
        sqlx::query(&format!("CREATE DATABASE {name}{copy}"))
            .execute(&mut admin)
            .await?;
        let (base, _) = self
            .admin_url
            .rsplit_once('/')
            .ok_or_else(|| anyhow::anyhow!("the admin URL names no database"))?;
        Ok(format!("{base}/{name}"))
    }

    fn data_dir(&self) -> anyhow::Result<&Path> {
        self.pg_dir.as_deref().ok_or_else(|| {
            anyhow::anyhow!("--pg-dir (EHEALTH_PG_DIR) is needed to stop and start PostgreSQL")
        })
    }

    async fn pg_ctl(&self, args: &[&str]) -> anyhow::Result<()> {
        let dir = self.data_dir()?;
        let data = dir.join("data");
        let log = dir.join("log");
        let pg_ctl = pg_ctl()?;
        // scripts/pg.sh runs the server as `postgres` when it is started by root.
        let mut command = if is_root() {
            let mut c = tokio::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            tokio::process::Command::new(&pg_ctl)
        };
        command
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(args)
            .stdout(std::process::Stdio::null());
        let status = tokio::time::timeout(Duration::from_secs(60), command.status())
            .await
            .map_err(|_| anyhow::anyhow!("pg_ctl {args:?} did not finish in 60 s"))??;
        anyhow::ensure!(status.success(), "pg_ctl {args:?} failed: {status}");
        Ok(())
    }

    /// `pg_ctl stop -m fast`: every session is terminated, open transactions roll back.
    pub async fn stop(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]).await
    }

    pub async fn start(&self) -> anyhow::Result<()> {
        self.pg_ctl(&["-w", "start"]).await
    }
}
