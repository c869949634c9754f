use std::path::Path;
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{Duration, Utc};
use ehealth_aggregates::drfo::Drfo;
use openssl::pkcs7::{Pkcs7, Pkcs7Flags};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;

use super::*;
use pki::{TestCa, TestSigner};

#[path = "../../tests/support/pki.rs"]
mod pki;

const CONTENT: &[u8] = br#"{"service_request":{"id":"7c2d4a1e","status":"recalled","status_reason":"entered_in_error"}}"#;

/// RSA key generation dominates test time, so tests that only need "some
/// trusted CA and a signer" share one.
fn shared() -> &'static (TestCa, TestSigner) {
    static SHARED: OnceLock<(TestCa, TestSigner)> = OnceLock::new();
    SHARED.get_or_init(|| {
        let ca = TestCa::new("Test Root CA");
        let signer = ca.issue_signer("TINUA-1234567890", "Шевченко Тарас Григорович");
        (ca, signer)
    })
}

fn verifier_for(ca: &TestCa) -> BuiltinVerifier {
    BuiltinVerifier::from_pem(&ca.pem()).unwrap()
}

/// The built-in verifier's answer now, with eHealth's rule applied, as the recall applies it.
fn check(
    verifier: &BuiltinVerifier,
    signed_data: &str,
) -> Result<VerifiedDocument, SignatureError> {
    single_valid_signature(verifier.verify_blocking(signed_data, Utc::now())?)
}

fn invalid_message(result: Result<VerifiedDocument, SignatureError>) -> String {
    match result {
        Err(SignatureError::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn verifier_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<BuiltinVerifier>();
    assert_send_sync::<Arc<dyn SignatureVerifier>>();
}

#[test]
fn valid_rsa_signer() {
    let (ca, signer) = shared();
    let doc = check(&verifier_for(ca), &signer.sign(CONTENT)).unwrap();
    assert_eq!(doc.content, CONTENT);
    assert_eq!(
        doc.signer.drfo.as_ref().map(Drfo::as_str),
        Some("1234567890")
    );
    assert_eq!(
        doc.signer.common_name.as_deref(),
        Some("Шевченко Тарас Григорович")
    );
}

#[test]
fn valid_ecdsa_p256_signer() {
    let (ca, _) = shared();
    let signer = ca.issue_signer_ec("3333333333", "EC Signer");
    let doc = check(&verifier_for(ca), &signer.sign(CONTENT)).unwrap();
    assert_eq!(doc.content, CONTENT);
    assert_eq!(
        doc.signer.drfo.as_ref().map(Drfo::as_str),
        Some("3333333333")
    );
    assert_eq!(doc.signer.common_name.as_deref(), Some("EC Signer"));
}

#[test]
fn drfo_without_prefix_is_taken_verbatim() {
    let (ca, _) = shared();
    let signer = ca.issue_signer_ec("2222222222", "Plain DRFO");
    let doc = check(&verifier_for(ca), &signer.sign(CONTENT)).unwrap();
    assert_eq!(
        doc.signer.drfo.as_ref().map(Drfo::as_str),
        Some("2222222222")
    );
}

#[test]
fn drfo_prefix_is_case_insensitive_and_spaces_are_dropped() {
    let (ca, _) = shared();
    let signer = ca.issue_signer_ec("tinua- 4444 444444", "Spaced DRFO");
    let doc = check(&verifier_for(ca), &signer.sign(CONTENT)).unwrap();
    assert_eq!(
        doc.signer.drfo.as_ref().map(Drfo::as_str),
        Some("4444444444")
    );
}

#[test]
fn base64_variants_are_accepted() {
    let (ca, signer) = shared();
    let verifier = verifier_for(ca);
    let padded = signer.sign(CONTENT);
    let unpadded = padded.trim_end_matches('=').to_owned();
    let wrapped: String = padded
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\r\n");
    for input in [unpadded, format!("  \n{wrapped}\n  ")] {
        assert_eq!(check(&verifier, &input).unwrap().content, CONTENT);
    }
}

#[test]
fn not_base64() {
    let (ca, _) = shared();
    let verifier = verifier_for(ca);
    for input in ["not base64!", "@@@@", "QUJD-_"] {
        assert!(
            matches!(check(&verifier, input), Err(SignatureError::NotBase64)),
            "{input}"
        );
    }
    assert_eq!(
        check(&verifier, "%%").unwrap_err().to_string(),
        "Not a base64 string"
    );
}

#[test]
fn garbage_der_is_malformed() {
    let (ca, signer) = shared();
    let verifier = verifier_for(ca);
    let valid = STANDARD.decode(signer.sign(CONTENT)).unwrap();

    let mut inputs: Vec<Vec<u8>> = vec![
        b"hello world, this is not DER".to_vec(),
        vec![0x30, 0x03, 0x02, 0x01, 0x01],
        vec![0x30, 0x80],
        (0u8..=255).cycle().take(4096).collect(),
    ];
    // Every truncation of a real envelope.
    inputs.extend((1..valid.len()).step_by(7).map(|n| valid[..n].to_vec()));
    for der in inputs {
        assert!(
            matches!(
                check(&verifier, &STANDARD.encode(&der)),
                Err(SignatureError::Malformed)
            ),
            "{} bytes",
            der.len()
        );
    }
    assert!(matches!(
        check(&verifier, ""),
        Err(SignatureError::Malformed)
    ));
    assert!(matches!(
        check(&verifier, "  \n"),
        Err(SignatureError::Malformed)
    ));
}

#[test]
fn random_bytes_never_panic() {
    let (ca, _) = shared();
    let verifier = verifier_for(ca);
    let mut buf = [0u8; 512];
    for _ in 0..200 {
        openssl::rand::rand_bytes(&mut buf).unwrap();
        let len = usize::from(buf[0]) * 2;
        let _ = check(&verifier, &STANDARD.encode(&buf[..len]));
    }
}

#[test]
fn zero_signers() {
    let (ca, _) = shared();
    let envelope = pki::sign_with_none(ca, CONTENT);

    // OpenSSL must see a SignedData with the content and no signature.
    let p7 = Pkcs7::from_der(&STANDARD.decode(&envelope).unwrap()).unwrap();
    let none: Stack<X509> = Stack::new().unwrap();
    assert_eq!(p7.signed().unwrap().certificates().unwrap().len(), 1);
    assert!(p7.signers(&none, Pkcs7Flags::empty()).is_err());

    let result = check(&verifier_for(ca), &envelope);
    assert!(
        matches!(result, Err(SignatureError::SignerCount(0))),
        "{result:?}"
    );
}

#[test]
fn two_signers() {
    let (ca, a) = shared();
    let b = ca.issue_signer_ec("2222222222", "Second Signer");
    let envelope = pki::sign_with_two(a, &b, CONTENT);

    // The spliced fixture must be something OpenSSL itself accepts as a
    // two-signature envelope, or the test would prove nothing.
    let der = STANDARD.decode(&envelope).unwrap();
    let p7 = Pkcs7::from_der(&der).unwrap();
    let none: Stack<X509> = Stack::new().unwrap();
    assert_eq!(p7.signers(&none, Pkcs7Flags::empty()).unwrap().len(), 2);
    let mut out = Vec::new();
    p7.verify(
        &none,
        &X509StoreBuilder::new().unwrap().build(),
        None,
        Some(&mut out),
        Pkcs7Flags::NOVERIFY,
    )
    .unwrap();
    assert_eq!(out, CONTENT);

    // Each signature is checked and named; eHealth's rule then refuses the envelope.
    let checked = verifier_for(ca)
        .verify_blocking(&envelope, Utc::now())
        .unwrap();
    let signers: Vec<_> = checked
        .signatures
        .iter()
        .map(|s| (s.is_valid, s.signer.drfo.as_ref().map(Drfo::as_str)))
        .collect();
    assert_eq!(
        signers,
        [(true, Some("1234567890")), (true, Some("2222222222"))]
    );
    let err = check(&verifier_for(ca), &envelope).unwrap_err();
    assert!(matches!(err, SignatureError::SignerCount(2)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "document must be signed by 1 signer but contains 2 signatures"
    );
}

#[test]
fn untrusted_ca() {
    let (_, signer) = shared();
    let other = TestCa::new("Some Other CA");
    let message = invalid_message(check(&verifier_for(&other), &signer.sign(CONTENT)));
    assert_eq!(message, "matching ROOT certificate not found");
}

#[test]
fn self_signed_signer_is_not_trusted() {
    let (ca, _) = shared();
    let rogue = TestCa::new("Rogue");
    let signer = TestSigner {
        cert: rogue.cert.clone(),
        key: rogue.key.clone(),
    };
    let message = invalid_message(check(&verifier_for(ca), &signer.sign(CONTENT)));
    assert_eq!(message, "matching ROOT certificate not found");
}

#[test]
fn expired_signer_certificate() {
    let (ca, _) = shared();
    let signer = ca.issue_signer_valid("1234567890", -30, -1);
    let message = invalid_message(check(&verifier_for(ca), &signer.sign(CONTENT)));
    assert_eq!(message, "certificate timestamp expired");
}

#[test]
fn not_yet_valid_signer_certificate() {
    let (ca, _) = shared();
    let signer = ca.issue_signer_valid("1234567890", 1, 30);
    let message = invalid_message(check(&verifier_for(ca), &signer.sign(CONTENT)));
    assert_eq!(message, "certificate is not yet valid");
}

#[test]
fn tampered_content() {
    let (ca, signer) = shared();
    let mut der = STANDARD.decode(signer.sign(CONTENT)).unwrap();
    let at = der
        .windows(CONTENT.len())
        .position(|w| w == CONTENT)
        .expect("content is embedded in the envelope");
    der[at + 10] ^= 0x01;
    let message = invalid_message(check(&verifier_for(ca), &STANDARD.encode(&der)));
    assert!(message.starts_with("signature is invalid"), "{message}");
}

#[test]
fn detached_content_is_rejected() {
    let (ca, signer) = shared();
    let cms = openssl::cms::CmsContentInfo::sign(
        Some(&signer.cert),
        Some(&signer.key),
        None,
        Some(CONTENT),
        openssl::cms::CMSOptions::BINARY | openssl::cms::CMSOptions::DETACHED,
    )
    .unwrap();
    let envelope = STANDARD.encode(cms.to_der().unwrap());
    let message = invalid_message(check(&verifier_for(ca), &envelope));
    assert_eq!(message, "signed content is not attached");
}

#[test]
fn trust_anchor_loading() {
    let (ca, _) = shared();
    assert!(matches!(
        BuiltinVerifier::from_pem(b""),
        Err(SignatureError::TrustAnchors(_))
    ));
    assert!(matches!(
        BuiltinVerifier::from_pem(b"not a pem"),
        Err(SignatureError::TrustAnchors(_))
    ));
    let mut broken = ca.pem();
    let mid = broken.len() / 2;
    broken[mid] = b'!';
    assert!(matches!(
        BuiltinVerifier::from_pem(&broken),
        Err(SignatureError::TrustAnchors(_))
    ));
    assert!(matches!(
        BuiltinVerifier::from_pem_file(Path::new("/nonexistent/anchors.pem")),
        Err(SignatureError::TrustAnchors(_))
    ));

    // Several anchors in one file, the signer's CA not first.
    let other = TestCa::new("Another CA");
    let bundle = [other.pem(), ca.pem()].concat();
    let verifier = BuiltinVerifier::from_pem(&bundle).unwrap();
    let (_, signer) = shared();
    assert!(check(&verifier, &signer.sign(CONTENT)).is_ok());

    let path = std::env::temp_dir().join(format!("anchors-{}.pem", std::process::id()));
    std::fs::write(&path, &bundle).unwrap();
    let from_file = BuiltinVerifier::from_pem_file(&path);
    std::fs::remove_file(&path).unwrap();
    assert!(check(&from_file.unwrap(), &signer.sign(CONTENT)).is_ok());
}

#[test]
fn a_certificate_valid_now_is_expired_or_not_yet_valid_at_other_times() {
    let (ca, signer) = shared();
    let verifier = verifier_for(ca);
    let envelope = signer.sign(CONTENT);
    let at = |days: i64| {
        single_valid_signature(
            verifier
                .verify_blocking(&envelope, Utc::now() + Duration::days(days))
                .unwrap(),
        )
    };
    assert!(at(0).is_ok());
    assert_eq!(invalid_message(at(400)), "certificate timestamp expired");
    assert_eq!(invalid_message(at(-3)), "certificate is not yet valid");
}

#[test]
fn the_signer_is_named_with_its_drfo_edrpou_and_names() {
    let (ca, _) = shared();
    let signer = signer_of_an_organisation(ca);
    let checked = verifier_for(ca)
        .verify_blocking(&signer.sign(CONTENT), Utc::now())
        .unwrap();
    assert_eq!(checked.content, CONTENT);
    assert_eq!(
        checked.signatures,
        [SignatureCheck {
            is_valid: true,
            validation_error_message: None,
            signer: Signer {
                drfo: Drfo::parse("3184710691"),
                edrpou: Some("38782323".into()),
                common_name: Some("Коваленко Олена Петрівна".into()),
                given_name: Some("Олена Петрівна".into()),
                surname: Some("Коваленко".into()),
                organization_name: Some("КНП \"Центр ПМСД\"".into()),
            },
        }]
    );
}

#[test]
fn an_invalid_signature_is_answered_with_its_signer_and_the_reason() {
    let (_, signer) = shared();
    let other = TestCa::new("Some Other CA");
    let checked = verifier_for(&other)
        .verify_blocking(&signer.sign(CONTENT), Utc::now())
        .unwrap();
    let [check] = checked.signatures.as_slice() else {
        panic!("one signature: {checked:?}");
    };
    assert!(!check.is_valid);
    assert_eq!(
        check.validation_error_message.as_deref(),
        Some("matching ROOT certificate not found")
    );
    assert_eq!(
        check.signer.drfo.as_ref().map(Drfo::as_str),
        Some("1234567890")
    );
}

#[test]
fn an_organisation_identifier_is_read_as_an_edrpou() {
    assert_eq!(
        signer::edrpou("NTRUA-38782323").as_deref(),
        Some("38782323")
    );
    assert_eq!(
        signer::edrpou("ntrua- 3878 2323").as_deref(),
        Some("38782323")
    );
    assert_eq!(signer::edrpou("38782323").as_deref(), Some("38782323"));
    assert_eq!(signer::edrpou("NTRUA-"), None);
    assert_eq!(signer::edrpou("ЄДР").as_deref(), Some("ЄДР"));
}

fn signed(signatures: Vec<SignatureCheck>) -> SignedEnvelope {
    SignedEnvelope {
        content: CONTENT.to_vec(),
        signatures,
    }
}

fn signature(valid: bool, message: Option<&str>) -> SignatureCheck {
    SignatureCheck {
        is_valid: valid,
        validation_error_message: message.map(str::to_owned),
        signer: Signer {
            drfo: Drfo::parse("TINUA-1234567890"),
            ..Signer::default()
        },
    }
}

#[test]
fn given_one_valid_signature_when_the_rule_applies_then_the_content_and_signer_are_accepted() {
    let doc = single_valid_signature(signed(vec![signature(true, None)])).unwrap();
    assert_eq!(doc.content, CONTENT);
    assert_eq!(doc.signer.drfo, Drfo::parse("1234567890"));
}

#[test]
fn given_no_or_several_signatures_when_the_rule_applies_then_the_count_is_refused() {
    for n in [0, 2, 3] {
        let err = single_valid_signature(signed(vec![signature(true, None); n])).unwrap_err();
        assert!(
            matches!(err, SignatureError::SignerCount(count) if count == n),
            "{err:?}"
        );
    }
}

#[test]
fn given_one_invalid_signature_when_the_rule_applies_then_its_message_is_the_answer() {
    let err = single_valid_signature(signed(vec![signature(
        false,
        Some("certificate is revoked"),
    )]))
    .unwrap_err();
    assert_eq!(err.to_string(), "certificate is revoked");
    assert!(matches!(err, SignatureError::Invalid(_)));
}

#[tokio::test]
async fn the_built_in_verifier_answers_through_the_trait_off_the_async_threads() {
    let (ca, signer) = shared();
    let verifier: Arc<dyn SignatureVerifier> = Arc::new(verifier_for(ca));
    let envelope = signer.sign(CONTENT);
    let checked = verifier.verify(&envelope, Utc::now()).await.unwrap();
    let doc = single_valid_signature(checked).unwrap();
    assert_eq!(doc.content, CONTENT);
    assert!(matches!(
        verifier.verify("%%", Utc::now()).await,
        Err(SignatureError::NotBase64)
    ));
}

/// A signer whose certificate names a person and the organisation it signs for, as Ukrainian
/// qualified certificates do.
fn signer_of_an_organisation(ca: &TestCa) -> TestSigner {
    use openssl::asn1::{Asn1Integer, Asn1Object, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::{X509Builder, X509NameBuilder};

    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, "Коваленко Олена Петрівна")
        .unwrap();
    name.append_entry_by_nid(Nid::SURNAME, "Коваленко").unwrap();
    name.append_entry_by_nid(Nid::GIVENNAME, "Олена Петрівна")
        .unwrap();
    name.append_entry_by_nid(Nid::SERIALNUMBER, "TINUA-3184710691")
        .unwrap();
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "КНП \"Центр ПМСД\"")
        .unwrap();
    let organization_identifier = Asn1Object::from_str("2.5.4.97").unwrap().nid();
    name.append_entry_by_nid(organization_identifier, "NTRUA-38782323")
        .unwrap();
    let name = name.build();

    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    let serial = Asn1Integer::from_bn(&BigNum::from_u32(7).unwrap()).unwrap();
    builder.set_serial_number(&serial).unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(ca.cert.subject_name()).unwrap();
    builder.set_pubkey(&key).unwrap();
    let now = Utc::now().timestamp();
    builder
        .set_not_before(&Asn1Time::from_unix(now - 86_400).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::from_unix(now + 86_400).unwrap())
        .unwrap();
    builder.sign(&ca.key, MessageDigest::sha256()).unwrap();
    TestSigner {
        cert: builder.build(),
        key,
    }
}

mod der_scan {
    use super::super::der::read;

    #[test]
    fn reads_indefinite_length_and_rejects_truncation() {
        // SEQUENCE (indefinite) { INTEGER 5 } EOC, then trailing 0xFF
        let input = [0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00, 0xFF];
        let (tlv, rest) = read(&input, 0).unwrap();
        assert_eq!(tlv.tag, 0x30);
        assert_eq!(tlv.content, &[0x02, 0x01, 0x05]);
        assert_eq!(rest, &[0xFF]);

        assert!(read(&input[..5], 0).is_none());
        assert!(read(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF], 0).is_none());
        assert!(read(&[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0).is_none());
        assert!(read(&[], 0).is_none());
    }

    #[test]
    fn deep_indefinite_nesting_is_bounded() {
        let input: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 10_000)
            .flatten()
            .collect();
        assert!(read(&input, 0).is_none());
    }
}
