//! The built-in verifier's configuration: where trust and revocation data come from, and
//! whether a timestamp is required.

use axum::routing::get;
use axum::Router;
use chrono::Utc;

use super::{configured, fixture, CONTENT};
use crate::config::SignatureArgs;
use crate::signature::setup::Signatures;
use crate::signature::{single_valid_signature, SignatureError, SignatureVerifier};

async fn verdict(verifier: &dyn SignatureVerifier, signed: &str) -> Result<(), SignatureError> {
    let envelope = verifier.verify(signed, Utc::now()).await?;
    single_valid_signature(envelope, None).map(|_| ())
}

async fn load_error(args: SignatureArgs) -> String {
    match Signatures::from_config(&args).await {
        Ok(_) => panic!("{args:?} loaded"),
        Err(error) => format!("{error:#}"),
    }
}

#[tokio::test]
async fn without_a_required_timestamp_an_unstamped_signature_is_taken_at_the_request_time() {
    let args = SignatureArgs {
        timestamp_required: false,
        ..fixture().args()
    };
    let verifier = configured(&args).await;
    let signed = fixture().doctor.sign_unstamped(CONTENT);
    assert_eq!(verdict(&*verifier, &signed).await, Ok(()));
    // A stamped one is still judged at its timestamp.
    let expired = fixture().expired.sign(CONTENT);
    assert_eq!(
        verdict(&*verifier, &expired).await,
        Err(SignatureError::Invalid(
            "certificate timestamp expired".into()
        ))
    );
}

#[tokio::test]
async fn anchors_load_from_a_pem_file_or_a_cms_bundle_and_only_those_are_trusted() {
    let pem = SignatureArgs {
        trust_anchors: Some(fixture().anchors.join("root.pem")),
        ..fixture().args()
    };
    let verifier = configured(&pem).await;
    assert_eq!(
        verdict(&*verifier, &fixture().doctor.sign(CONTENT)).await,
        Ok(())
    );
    let dstu = fixture().dstu_sign(CONTENT, ehealth_test_pki::dstu::Hash::Gost);
    assert_eq!(
        verdict(&*verifier, &dstu).await,
        Err(SignatureError::Invalid(
            "matching ROOT certificate not found".into()
        ))
    );

    let bundle = SignatureArgs {
        trust_anchors: Some(fixture().anchors.join("dstu.p7b")),
        ..fixture().args()
    };
    let verifier = configured(&bundle).await;
    assert_eq!(verdict(&*verifier, &dstu).await, Ok(()));
}

#[tokio::test]
async fn unusable_configurations_stop_the_start_with_the_variable_named() {
    let both = SignatureArgs {
        service_url: Some("http://127.0.0.1:9/digital_signatures".into()),
        ..fixture().args()
    };
    assert!(load_error(both)
        .await
        .contains("EHEALTH_SIGNATURE_SERVICE_URL excludes"));
    let not_http = SignatureArgs {
        service_url: Some("ftp://example.org/".into()),
        ..SignatureArgs::default()
    };
    assert!(load_error(not_http)
        .await
        .contains("EHEALTH_SIGNATURE_SERVICE_URL"));

    let empty = tempfile::tempdir().unwrap();
    let no_anchor = SignatureArgs {
        trust_anchors: Some(empty.path().to_path_buf()),
        ..SignatureArgs::default()
    };
    assert!(load_error(no_anchor)
        .await
        .contains("EHEALTH_TRUST_ANCHORS: no certificate"));
    let missing = SignatureArgs {
        trust_anchors: Some(empty.path().join("nothing.pem")),
        ..SignatureArgs::default()
    };
    assert!(load_error(missing)
        .await
        .starts_with("EHEALTH_TRUST_ANCHORS"));

    std::fs::write(empty.path().join("broken.crl"), b"not a CRL").unwrap();
    let broken_crl = SignatureArgs {
        crl_dir: Some(empty.path().to_path_buf()),
        ..fixture().args()
    };
    assert!(load_error(broken_crl).await.starts_with("EHEALTH_CRL_DIR"));

    let nothing = Signatures::from_config(&SignatureArgs::default())
        .await
        .unwrap();
    assert!(nothing.verifier.is_none(), "no anchors: recall answers 503");
}

#[tokio::test]
async fn crls_fetched_from_configured_addresses_give_the_status_and_a_failed_fetch_leaves_it_unknown(
) {
    let crl = std::fs::read(fixture().crl.join("root.crl")).unwrap();
    let app = Router::new().route("/root.crl", get(move || async move { crl }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Only the configured address gives a CRL: no local CRL directory.
    let fetching_from = |url: String| SignatureArgs {
        crl_dir: None,
        crl_urls: vec![url],
        ..fixture().args()
    };
    let verifier = configured(&fetching_from(format!("http://{addr}/root.crl"))).await;
    assert_eq!(
        verdict(&*verifier, &fixture().doctor.sign(CONTENT)).await,
        Ok(())
    );
    assert_eq!(
        verdict(&*verifier, &fixture().revoked.sign(CONTENT)).await,
        Err(SignatureError::Invalid("certificate is revoked".into()))
    );

    let verifier = configured(&fetching_from(format!("http://{addr}/missing.crl"))).await;
    assert_eq!(
        verdict(&*verifier, &fixture().doctor.sign(CONTENT)).await,
        Err(SignatureError::Invalid(
            "certificate revocation status is unknown: no fresh CRL and no OCSP answer".into()
        ))
    );
}
