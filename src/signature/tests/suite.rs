//! One suite, two verifiers: every case runs against the built-in verifier and against the
//! external adapter, whose stand-in service replays the answer the built-in verifier recorded for
//! the same envelope. Both must end in the same document or the same refusal.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::Utc;
use ehealth_aggregates::drfo::Drfo;
use ehealth_test_pki::dstu::Hash;

use super::fake_service::Replay;
use super::pki::{self, sign_with_none, sign_with_two};
use super::{configured, fixture, CONTENT, EDRPOU};
use crate::signature::{
    single_valid_signature, ExternalVerifier, SignatureError, SignatureVerifier, VerifiedDocument,
};

/// The verifier under test, and for the adapter the recorder behind its stand-in service.
pub struct Under {
    verifier: Arc<dyn SignatureVerifier>,
    builtin: Arc<dyn SignatureVerifier>,
    replay: Option<Replay>,
}

impl Under {
    async fn builtin() -> Under {
        let builtin = configured(&fixture().args()).await;
        Under {
            verifier: builtin.clone(),
            builtin,
            replay: None,
        }
    }

    async fn external() -> Under {
        let builtin = configured(&fixture().args()).await;
        let replay = Replay::start().await;
        Under {
            verifier: Arc::new(ExternalVerifier::new(&replay.url).unwrap()),
            builtin,
            replay: Some(replay),
        }
    }

    /// The recall's verdict on `signed`, for a legal entity with EDRPOU [`EDRPOU`].
    async fn check(&self, signed: &str) -> Result<VerifiedDocument, SignatureError> {
        let at = Utc::now();
        if let Some(replay) = &self.replay {
            replay.record(&*self.builtin, signed, at).await;
        }
        self.verifier
            .verify(signed, at)
            .await
            .and_then(|envelope| single_valid_signature(envelope, Some(EDRPOU)))
    }

    async fn refusal(&self, signed: &str) -> String {
        match self.check(signed).await {
            Err(SignatureError::Invalid(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

/// Each case as a function of the verifier under test, and a test of it per verifier.
macro_rules! on_both_verifiers {
    ($(async fn $name:ident($under:ident) $body:block)*) => {
        $(async fn $name($under: Under) $body)*

        mod built_in_verifier {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::Under::builtin().await).await
            })*
        }

        mod external_service_adapter {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$name(super::Under::external().await).await
            })*
        }
    };
}

fn drfo(document: &VerifiedDocument) -> Option<&str> {
    document.signer.drfo.as_ref().map(Drfo::as_str)
}

on_both_verifiers! {
    async fn an_rsa_signature_with_a_timestamp_gives_the_content_and_the_signer(under) {
        let document = under.check(&fixture().doctor.sign(CONTENT)).await.unwrap();
        assert_eq!(document.content, CONTENT);
        assert_eq!(drfo(&document), Some("1234567890"));
        assert_eq!(document.signer.common_name.as_deref(), Some("Шевченко Тарас Григорович"));
        assert!(document.seals.is_empty());
    }

    async fn ecdsa_p256_and_p384_signatures_are_accepted(under) {
        for (signer, tax_id) in [(&fixture().p256, "2222222222"), (&fixture().p384, "3333333333")] {
            let document = under.check(&signer.sign(CONTENT)).await.unwrap();
            assert_eq!((document.content.as_slice(), drfo(&document)), (CONTENT, Some(tax_id)));
        }
    }

    async fn a_personal_signature_under_the_legal_entitys_seal_gives_the_person(under) {
        let inner = fixture().doctor.sign_stamped_der(CONTENT);
        let document = under.check(&fixture().seal.sign(&inner)).await.unwrap();
        assert_eq!(document.content, CONTENT);
        assert_eq!(drfo(&document), Some("1234567890"));
        assert_eq!(document.seals.len(), 1);
        assert_eq!(document.seals[0].edrpou.as_deref(), Some(EDRPOU));
    }

    async fn a_seal_around_two_personal_layers_counts_two_signatures(under) {
        let inner = fixture().doctor.sign_stamped_der(CONTENT);
        let middle = fixture().p256.sign_stamped_der(&inner);
        let error = under.check(&fixture().seal.sign(&middle)).await.unwrap_err();
        assert_eq!(error, SignatureError::SignerCount(2));
    }

    async fn a_signature_without_a_timestamp_is_refused(under) {
        let message = under.refusal(&fixture().doctor.sign_unstamped(CONTENT)).await;
        assert_eq!(message, "retrieving a timestamp of data from an envelope with signed data failed");
    }

    async fn a_timestamp_by_a_tsa_nobody_trusts_is_refused(under) {
        let envelope = fixture().doctor.sign_stamped_by(
            CONTENT,
            &fixture().rogue_tsa,
            Utc::now().timestamp() as u64,
        );
        let message = under.refusal(&STANDARD.encode(envelope)).await;
        assert_eq!(message, "matching TSP certificate not found");
    }

    async fn a_revoked_certificate_or_one_without_a_known_status_is_refused(under) {
        for (signer, message) in [
            (&fixture().revoked, "certificate is revoked"),
            (&fixture().unknown_status, "certificate revocation status is unknown: no fresh CRL and no OCSP answer"),
        ] {
            assert_eq!(under.refusal(&signer.sign(CONTENT)).await, message);
        }
    }

    async fn a_certificate_expired_since_its_timestamp_is_refused_as_ehealth_does(under) {
        let message = under.refusal(&fixture().expired.sign(CONTENT)).await;
        assert_eq!(message, "certificate timestamp expired");
    }

    async fn an_untrusted_root_a_changed_content_and_an_unsupported_curve_are_refused(under) {
        let untrusted = under.refusal(&fixture().untrusted.sign(CONTENT)).await;
        assert_eq!(untrusted, "matching ROOT certificate not found");

        let mut der = fixture().doctor.sign_stamped_der(CONTENT);
        let at = der.windows(CONTENT.len()).position(|w| w == CONTENT).unwrap();
        der[at + 5] ^= 0x01;
        let changed = under.refusal(&STANDARD.encode(der)).await;
        assert_eq!(changed, "verification of data siganture for a given subscriber failed");

        let curve = under.refusal(&fixture().p521.sign(CONTENT)).await;
        assert_eq!(curve, "unsupported elliptic curve 1.3.132.0.35");
    }

    async fn two_different_drfo_in_one_certificate_are_refused_and_look_alikes_agree(under) {
        let conflict = under.refusal(&fixture().drfo_conflict.sign(CONTENT)).await;
        assert_eq!(conflict, "signer certificate carries two different DRFO values");

        let document = under.check(&fixture().passport.sign(CONTENT)).await.unwrap();
        assert_eq!(drfo(&document), Some("КА123456"), "the attribute comes first");
    }

    async fn dstu_4145_signatures_with_gost_34311_and_with_kupyna_are_accepted(under) {
        for hash in [Hash::Gost, Hash::Kupyna] {
            let document = under.check(&fixture().dstu_sign(CONTENT, hash)).await.unwrap();
            assert_eq!(document.content, CONTENT, "{hash:?}");
            assert_eq!(drfo(&document), Some("1234567890"), "{hash:?}");
            assert_eq!(document.signer.surname.as_deref(), Some("Лікар"), "{hash:?}");
        }
    }

    async fn envelopes_that_are_not_one_signature_are_refused_with_ehealths_texts(under) {
        assert_eq!(under.check("%%").await.unwrap_err(), SignatureError::NotBase64);
        assert_eq!(
            under.check(&STANDARD.encode(b"not CMS")).await.unwrap_err(),
            SignatureError::Malformed
        );
        let none = sign_with_none(&fixture().ca, CONTENT);
        assert_eq!(under.check(&none).await.unwrap_err(), SignatureError::SignerCount(0));
        let two = sign_with_two(&fixture().doctor, &fixture().p256, CONTENT);
        let error = under.check(&two).await.unwrap_err();
        assert_eq!(error.to_string(), "document must be signed by 1 signer but contains 2 signatures");
    }
}

#[tokio::test]
async fn the_stand_in_service_answers_an_unrecorded_envelope_with_an_error_the_adapter_reports() {
    let replay = Replay::start().await;
    let adapter = ExternalVerifier::new(&replay.url).unwrap();
    let error = adapter
        .verify(&pki::tsa().pem().len().to_string(), Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(error, SignatureError::Unavailable(_)), "{error:?}");
}
