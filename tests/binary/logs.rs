//! The service's logs: JSON lines on stderr that carry the request id, and never a bearer token,
//! an OTP code or signed data.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::process::{cli_token, imported_world, pool, Server};
use crate::support::eventually;
use crate::support::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_json_lines_with_the_request_id_and_never_a_token_or_an_otp_code() {
    let url = imported_world().await;
    let media = tempfile::tempdir().unwrap();
    let mut server = Server::spawn(
        &url,
        media.path(),
        true,
        &[("RUST_LOG", "debug,sqlx=warn,hyper=warn")],
    );
    server.listening().await.expect("serve listens");
    let token = cli_token(U_DOCTOR, LE_MAIN, ALL_SCOPES).await;
    let request_id = "log-trace-7f3a9c";

    let reply = server
        .resend_otp(P_OTP, AP_OTP, &token)
        .request_id(request_id)
        .await;
    reply.job_href();
    let db = pool(&url).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let delivered: String = loop {
        let text = crate::support::strings(
            &db,
            "SELECT delivered_text FROM sms_outbox WHERE status = 'sent' AND delivered_text IS NOT NULL",
        )
        .await;
        if let Some(text) = text.into_iter().next() {
            break text;
        }
        assert!(Instant::now() < deadline, "the OTP SMS was not sent");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // The log writer may flush the delivery line after the outbox shows it sent: wait for that
    // (masked) line.
    let masked = "Код авторизації дій в системі eHealth: ****";
    assert!(
        eventually(Duration::from_secs(20), || async {
            server.stderr().contains(masked)
        })
        .await,
        "the delivery was not logged:\n{}",
        server.stderr()
    );
    let logs = server.stderr();

    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
        })
        .collect();
    assert!(!lines.is_empty());
    let traced: Vec<&Value> = lines
        .iter()
        .filter(|l| l.to_string().contains(request_id))
        .collect();
    assert!(
        traced.iter().any(|l| l["span"]["request_id"] == request_id),
        "no log line carries the request id in its span:\n{logs}"
    );
    // The OTP SMS is announced with its digits masked; the text with the code never appears.
    assert!(logs.contains(masked), "{logs}");
    assert!(
        !logs.contains(&delivered),
        "the OTP text reached the logs:\n{logs}"
    );
    assert!(!logs.contains(&token), "a bearer token reached the logs");
    assert!(
        !logs.contains("+380931234585"),
        "an unmasked phone reached the logs"
    );
}
