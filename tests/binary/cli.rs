//! The command line itself: `--help` and the `token` subcommand.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ehealth_es::auth::TokenKeys;
use serde_json::Value;

use crate::process::*;
use crate::support::world::*;

/// The words of `token --user USER --client CLIENT --scope SCOPE`, then `extra`.
fn token_args(user: &str, client: &str, scope: &str, extra: &[&str]) -> Vec<String> {
    let mut args = [
        "token", "--user", user, "--client", client, "--scope", scope,
    ]
    .to_vec();
    args.extend(extra);
    args.into_iter().map(str::to_string).collect()
}

/// Runs the binary with `args` (as [`token_args`] builds them) and `env`.
async fn run_token(args: &[String], env: &[(&str, &str)]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args, env).await
}

fn claims_of(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("JSON claims")
}

#[tokio::test]
async fn help_lists_the_serve_migrate_import_and_token_subcommands() {
    let out = run(&["--help"], &[]).await;
    out.assert_success();
    for command in ["serve", "migrate", "import", "token"] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(command)),
            "{command} in\n{}",
            out.stdout
        );
        run(&[command, "--help"], &[]).await.assert_success();
    }
    let serve = run(&["serve", "--help"], &[]).await;
    for var in [
        "DATABASE_URL",
        "EHEALTH_LISTEN",
        "EHEALTH_JWT_SECRET",
        "EHEALTH_MEDIA_DIR",
        "EHEALTH_SMS_GATEWAY",
        "EHEALTH_TRUST_ANCHORS",
        "EHEALTH_TSA_CERTIFICATES",
        "EHEALTH_CRL_DIR",
        "EHEALTH_CRL_URLS",
        "EHEALTH_OCSP_URL",
        "EHEALTH_SIGNATURE_TIMESTAMP_REQUIRED",
        "EHEALTH_SIGNATURE_SERVICE_URL",
        "EHEALTH_WORKERS",
        "EHEALTH_OTP_SEND_TIMEOUT",
        "EHEALTH_OTP_INIT_LIMIT",
    ] {
        assert!(serve.stdout.contains(var), "{var} in\n{}", serve.stdout);
    }
}

#[tokio::test]
async fn help_never_shows_the_value_of_a_secret() {
    let out = run(
        &["serve", "--help"],
        &[
            ("EHEALTH_JWT_SECRET", "jwt-secret-value-1234"),
            ("EHEALTH_OTP_SECRET", "otp-secret-value-5678"),
        ],
    )
    .await;
    out.assert_success();
    assert!(
        !out.stdout.contains("jwt-secret-value-1234"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("otp-secret-value-5678"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn without_a_subcommand_the_binary_prints_usage_and_fails() {
    let out = run(&[], &[]).await;
    out.assert_failure();
    assert!(out.stderr.contains("Usage"), "{out:#?}");
}

#[tokio::test]
async fn token_prints_a_jwt_the_service_accepts_with_the_given_claims() {
    let args = token_args(
        &U_DOCTOR.to_string(),
        &LE_MAIN.to_string(),
        "a b",
        &["--ttl", "60"],
    );
    let out = run_token(&args, &[("EHEALTH_JWT_SECRET", "cli-secret")]).await;
    out.assert_success();
    let token = out.stdout.trim();
    assert_eq!(out.stdout.lines().count(), 1, "one line: {out:#?}");
    assert_eq!(token.split('.').count(), 3);

    let identity = TokenKeys::new(b"cli-secret")
        .verify(token)
        .expect("the service's key accepts it");
    assert_eq!(identity.user_id, U_DOCTOR);
    assert_eq!(identity.client_id, LE_MAIN);
    assert_eq!(identity.scopes, vec!["a", "b"]);
    assert!(TokenKeys::new(b"another-secret").verify(token).is_none());

    let claims = claims_of(token);
    assert_eq!(claims["sub"], U_DOCTOR.to_string());
    assert_eq!(claims["client_id"], LE_MAIN.to_string());
    assert_eq!(claims["scope"], "a b");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 60);
    assert!((iat - chrono::Utc::now().timestamp()).abs() < 60);
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "HS256");
}

#[tokio::test]
async fn token_takes_the_secret_from_a_flag_too_and_defaults_to_an_hour() {
    let extra = ["--jwt-secret", "flag-secret"];
    let args = token_args(
        &U_OTHER.to_string(),
        &LE_OTHER.to_string(),
        "job:read",
        &extra,
    );
    let out = run_token(&args, &[]).await;
    out.assert_success();
    let token = out.stdout.trim();
    let identity = TokenKeys::new(b"flag-secret").verify(token).unwrap();
    assert_eq!(identity.user_id, U_OTHER);
    let claims = claims_of(token);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
}

#[tokio::test]
async fn token_without_a_jwt_secret_fails_with_a_clear_error() {
    // In an empty folder: no generated key of the embedded default to fall back on.
    let dir = tempfile::tempdir().unwrap();
    let args = token_args(&U_DOCTOR.to_string(), &LE_MAIN.to_string(), "a b", &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = crate::process::run_in(dir.path(), &args, &[]).await;
    out.assert_failure();
    assert!(out.stdout.trim().is_empty(), "no token printed: {out:#?}");
    assert!(
        out.stderr.to_lowercase().contains("jwt-secret")
            || out.stderr.contains("EHEALTH_JWT_SECRET"),
        "{out:#?}"
    );
}

#[tokio::test]
async fn token_with_an_id_that_is_not_a_uuid_fails_naming_the_flag() {
    for (flag, user, client) in [
        ("--user", "doctor", "00000000-0000-4000-8000-000000001001"),
        ("--client", "00000000-0000-4000-8000-000000002001", "clinic"),
    ] {
        let args = token_args(user, client, "a", &[]);
        let out = run_token(&args, &[("EHEALTH_JWT_SECRET", "s")]).await;
        out.assert_failure();
        assert!(out.stdout.trim().is_empty(), "{out:#?}");
        assert!(out.stderr.contains(flag), "{flag}: {out:#?}");
    }
}

/// An empty key signs tokens anyone can forge; the service must not mint (or accept) them.
#[tokio::test]
async fn token_with_an_empty_jwt_secret_fails() {
    let user = "00000000-0000-4000-8000-000000002001";
    let args = token_args(user, "00000000-0000-4000-8000-000000001001", "a", &[]);
    let out = run_token(&args, &[("EHEALTH_JWT_SECRET", "")]).await;
    out.assert_failure();
    assert!(out.stdout.trim().is_empty(), "{out:#?}");
}

/// The service refuses a token without scopes (401), so minting one only hides the mistake.
#[tokio::test]
async fn token_with_an_empty_scope_fails() {
    let args = token_args(&U_DOCTOR.to_string(), &LE_MAIN.to_string(), " ", &[]);
    let out = run_token(&args, &[("EHEALTH_JWT_SECRET", "s")]).await;
    out.assert_failure();
}
