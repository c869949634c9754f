//! The embedded default: with no `DATABASE_URL` and no `EHEALTH_JWT_SECRET`, `serve` keeps its
//! SQLite database and a generated key in `./data/`, prints a token and curl commands, and the
//! printed curl works. The key and the data survive a restart.

use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::process::{free_port, run, run_in, Server};

/// The demo data's service request, and its patient.
const SR: Uuid = Uuid::from_u128(0x66666666_6666_4666_8666_666666666666);
const PATIENT: Uuid = Uuid::from_u128(0x55555555_5555_4555_8555_555555555555);

/// Waits until the first-start text (the token) is printed.
async fn printed_token(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stdout = server.stdout();
        if let Some(line) = stdout
            .lines()
            .find(|l| l.trim().starts_with("export TOKEN="))
        {
            return line.trim().trim_start_matches("export TOKEN=").to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no token printed\nstdout: {stdout}\nstderr: {}",
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The URL of the printed `curl -s -H "Authorization: Bearer $TOKEN" URL` (the read).
fn printed_read_url(stdout: &str) -> String {
    stdout
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("curl -s -H \"Authorization: Bearer $TOKEN\" http"))
        .and_then(|l| l.rsplit(' ').next())
        .unwrap_or_else(|| panic!("no read curl printed: {stdout}"))
        .to_string()
}

fn embedded_serve(dir: &std::path::Path, extra: &[&str]) -> Server {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut args = vec!["serve"];
    args.extend_from_slice(extra);
    Server::spawn_command(
        &args,
        Some(dir),
        &[("EHEALTH_LISTEN", listen.as_str())],
        listen.clone(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_folder_serves_on_sqlite_with_a_generated_key_and_the_printed_curl_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = embedded_serve(dir.path(), &["--demo"]);
    server.listening().await.expect("serve listens");
    let token = printed_token(&server).await;
    let stdout = server.stdout();
    assert!(stdout.contains("demo data: 5 entities created"), "{stdout}");

    // The printed read, as printed.
    let url = printed_read_url(&stdout);
    let read = server.get(&url, Some(&token)).await;
    assert_eq!(read.ok()["id"], SR.to_string());
    assert_eq!(read.data()["program_processing_status"], "in_queue");

    // Everything lives in ./data: the database and a private key file.
    let key = dir.path().join("data/jwt.key");
    assert!(dir.path().join("data/ehealth.db").exists());
    let secret = std::fs::read_to_string(&key).unwrap();
    assert_eq!(secret.trim().len(), 64, "32 random bytes, hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The printed release works, and its job finishes on this node.
    let reply = server.release(SR, &token).await;
    let job = reply.job_href();
    let done = server.wait_job(&job, &token).await;
    assert_eq!(done.status, 303, "{:#}", done.body);

    // A restart without --demo: same key (the old token still works), the change kept, nothing
    // printed again, the demo data not imported twice.
    server.signal("TERM");
    assert!(server.wait_exit(30).await.is_some_and(|s| s.success()));
    let mut again = embedded_serve(dir.path(), &[]);
    again.listening().await.expect("serve listens again");
    let read = again.service_request(PATIENT, SR, &token).await;
    assert_eq!(read.status, 200, "{:#}", read.body);
    assert_eq!(read.data()["program_processing_status"], "new");
    assert!(
        !again.stdout().contains("export TOKEN="),
        "{}",
        again.stdout()
    );
    assert_eq!(std::fs::read_to_string(&key).unwrap(), secret);

    // `token` signs with the same generated key when run in the same folder.
    let minted = run_in(
        dir.path(),
        &[
            "token",
            "--user",
            "33333333-3333-4333-8333-333333333333",
            "--client",
            "11111111-1111-4111-8111-111111111111",
            "--scope",
            "service_request:read",
        ],
        &[],
    )
    .await;
    minted.assert_success();
    let minted = minted.stdout;
    let read = again.service_request(PATIENT, SR, minted.trim()).await;
    assert_eq!(read.status, 200, "{:#}", read.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_without_a_jwt_secret_refuses_to_start_and_names_the_variable() {
    let out = run(
        &["serve"],
        &[("DATABASE_URL", "postgres://nobody:pw@127.0.0.1:1/none")],
    )
    .await;
    out.assert_failure();
    assert!(
        out.stderr.contains("EHEALTH_JWT_SECRET is not set"),
        "{out:#?}"
    );
    assert!(
        !out.stderr.contains(":pw@"),
        "the password is not printed: {out:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_without_demo_data_prints_a_curl_that_succeeds_on_the_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = embedded_serve(dir.path(), &[]);
    server.listening().await.expect("serve listens");
    let token = printed_token(&server).await;
    let stdout = server.stdout();
    assert!(!stdout.contains("demo data:"), "nothing imported: {stdout}");
    let url = printed_read_url(&stdout);
    assert!(url.ends_with("/api/service_requests"), "{url}");
    let list = server.get(&url, Some(&token)).await;
    assert_eq!(list.ok(), &serde_json::json!([]), "{:#}", list.body);
    assert!(dir.path().join("data/jwt.key").exists());
}
