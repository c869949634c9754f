//! The database's volume fills up (its tables cannot grow): writes answer 503 with `Retry-After`
//! (never 500), readiness says 503 while they fail, nothing acknowledged is lost, and once space
//! is freed the service writes again by itself. PostgreSQL runs on a small tmpfs of its own; where
//! mounting is not permitted the test says so and is skipped.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::queued;
use crate::support::world::*;
use crate::support::{self, service, TestApp};

/// A tmpfs with a PostgreSQL cluster on it; both gone when dropped.
struct SmallVolume {
    mount: PathBuf,
    pg_dir: String,
    admin_url: String,
}

impl SmallVolume {
    /// `None` (and why) where a tmpfs cannot be mounted or the cluster cannot start.
    fn start() -> Result<SmallVolume, String> {
        let mount = std::env::temp_dir().join(format!("ehealth-full-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&mount).map_err(|e| e.to_string())?;
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=160m,mode=0777", "tmpfs"])
            .arg(&mount)
            .output()
            .map_err(|e| e.to_string())?;
        if !mounted.status.success() {
            let _ = std::fs::remove_dir(&mount);
            return Err(String::from_utf8_lossy(&mounted.stderr).trim().to_string());
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh");
        let started = Command::new(script)
            .arg("start")
            .env("EHEALTH_PG_PARENT", &mount)
            .output()
            .map_err(|e| e.to_string())?;
        let out = String::from_utf8_lossy(&started.stdout).to_string();
        let var = |name: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(str::to_string)
        };
        match (
            started.status.success(),
            var("EHEALTH_PG_DIR"),
            var("EHEALTH_TEST_DATABASE_URL"),
        ) {
            (true, Some(pg_dir), Some(admin_url)) => Ok(SmallVolume {
                mount,
                pg_dir,
                admin_url,
            }),
            _ => {
                let _ = Command::new("umount").arg(&mount).status();
                Err(format!(
                    "the cluster did not start: {}",
                    String::from_utf8_lossy(&started.stderr)
                ))
            }
        }
    }

    /// Writes a file until the volume is full; returns it.
    fn fill(&self) -> PathBuf {
        let path = self.mount.join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0u8; 1 << 20];
        while file.write_all(&chunk).is_ok() {}
        // The last partial chunk too: not a byte left.
        while file.write_all(&chunk[..4096]).is_ok() {}
        let _ = file.flush();
        path
    }
}

impl Drop for SmallVolume {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh");
        let _ = Command::new(script).args(["stop", &self.pg_dir]).status();
        let _ = Command::new("umount").arg(&self.mount).status();
        let _ = std::fs::remove_dir_all(&self.mount);
    }
}

/// The service on `admin_url`'s server, in a database of its own, with a short deadline.
async fn app_on(admin_url: &str) -> TestApp {
    let name = "ehealth_full";
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(admin_url)
        .await
        .expect("admin connection");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create database");
    let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
    let media = Arc::new(tempfile::tempdir().expect("media dir"));
    let mut args = support::serve_args(None, media.path().to_path_buf());
    args.request_timeout = Duration::from_secs(2);
    let db = service::connect_with_deadline(&url, 8, args.request_timeout).await;
    service::migrate(&db).await;
    service::import(&db, &support::world::import_file())
        .await
        .expect("fixture imports");
    let running = service::start(db.clone(), &args).await;
    TestApp::serving(db, url, name.into(), None, media, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_the_volume_full_writes_answer_503_readiness_says_so_and_the_service_recovers_by_itself(
) {
    crate::postgres_only!("a PostgreSQL server on a volume of its own");
    let volume = match SmallVolume::start() {
        Ok(volume) => volume,
        Err(why) => {
            eprintln!("skipped: cannot run PostgreSQL on a small tmpfs here: {why}");
            return;
        }
    };
    let app = app_on(&volume.admin_url).await;
    let (file, ids) = queued(3_000);
    app.import(&file).await;
    let token = app.token(U_DOCTOR, LE_MAIN, ALL_SCOPES);
    let mut next = ids.iter();
    let mut acknowledged = Vec::new();
    let send = async |id: uuid::Uuid| {
        let reply = app.release(id, &token).await;
        assert!(
            matches!(reply.status, 202 | 503),
            "only 202 or 503, got {:#}",
            reply.body
        );
        reply
    };
    for _ in 0..5 {
        let id = *next.next().unwrap();
        assert_eq!(send(id).await.status, 202);
        acknowledged.push(id);
    }

    let filler = volume.fill();
    // Writes go on while pages with room last, then fail: 503, with Retry-After, never a 500.
    let mut refused = 0;
    for id in next.by_ref().take(2_000) {
        let reply = send(*id).await;
        if reply.status == 202 {
            acknowledged.push(*id);
            continue;
        }
        assert!(
            reply.headers.contains_key("retry-after"),
            "{:#}",
            reply.body
        );
        assert!(
            reply
                .message()
                .starts_with("Service temporarily unavailable, please retry"),
            "{:#}",
            reply.body
        );
        refused += 1;
        if refused == 5 {
            break;
        }
    }
    assert_eq!(refused, 5, "writes never failed on a full volume");
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, 503, "{:#}", ready.body);
    assert_eq!(ready.data()["writes"], "failing", "{:#}", ready.body);
    let metrics = app.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l == "ehealth_database_writes_failing 1"),
        "{metrics}"
    );

    // Space comes back: the service writes again by itself.
    std::fs::remove_file(filler).unwrap();
    let freed = Instant::now();
    loop {
        let id = *next.next().unwrap();
        let reply = send(id).await;
        if reply.status == 202 {
            acknowledged.push(id);
            break;
        }
        assert!(
            freed.elapsed() < Duration::from_secs(20),
            "{:#}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = app.get("/health/ready", None).await;
    assert_eq!(ready.status, 200, "{:#}", ready.body);

    // Nothing acknowledged is lost.
    for id in &acknowledged {
        let events = app.log(*id).await;
        assert_eq!(events.len(), 2, "release of {id}: {events:#?}");
    }
    app.running.shutdown.cancel();
}
