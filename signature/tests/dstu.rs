//! DSTU 4145 (257-bit curve) envelopes, certificates, tokens and CRLs made by the independent
//! `ua-cryptography-dstu4145`, with GOST 34.311 and with Kupyna-256; and real certificates of the
//! Ukrainian PKI.

mod common;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use common::der_writer::*;
use common::dstu::Hash;
use common::dstu_pki::{pki, CONTENT, DAY};
use common::*;
use ehealth_signature::{
    certificates_from_dir, signer_of, Certificate, KeyKind, Refusal, RevocationStore, Settings,
    TimeSource, TrustStore, Verifier,
};

#[test]
fn dstu_envelopes_with_gost_34311_and_with_kupyna_verify_with_a_dstu_timestamp() {
    for hash in [Hash::Gost, Hash::Kupyna] {
        let mut pki = pki(hash);
        let envelope = pki.stamped(hash);
        let verified = pki.verifier(&[]).verify_der(&envelope, now()).unwrap();
        let signature = &verified.signatures[0];
        assert!(
            signature.is_valid,
            "{hash:?}: {}",
            signature.validation_error_message
        );
        assert_eq!(verified.content, CONTENT);
        assert_eq!(signature.time_source, Some(TimeSource::SignatureTimestamp));
        assert_eq!(
            signature.signing_time,
            Some(now() - Duration::from_secs(60))
        );
        assert_eq!(signature.signer.drfo.as_deref(), Some("1234567890"));
        assert_eq!(signature.signer.surname.as_deref(), Some("Петренко"));
        assert_eq!(
            signature.signer.issuer_common_name.as_deref(),
            Some("Тестовий ЦСК ДСТУ")
        );
    }
}

#[test]
fn flipped_bytes_in_dstu_content_attributes_signature_and_certificate_are_refused() {
    for hash in [Hash::Gost, Hash::Kupyna] {
        let mut pki = pki(hash);
        let envelope = pki.stamped(hash);
        let content = flipped(&envelope, find(&envelope, b"active"));
        assert_eq!(
            pki.refusal(&content),
            Some(Refusal::SignatureInvalid),
            "{hash:?}"
        );
        let attributes = edit(&envelope, &[1, 0, -1, 0, 3], &mut |c| {
            flipped(c, c.len() - 1)
        });
        assert_eq!(
            pki.refusal(&attributes),
            Some(Refusal::SignatureInvalid),
            "{hash:?}"
        );
        let signature = edit(&envelope, &[1, 0, -1, 0, 5], &mut |c| flipped(c, 3));
        assert_eq!(
            pki.refusal(&signature),
            Some(Refusal::SignatureInvalid),
            "{hash:?}"
        );
        let certificate = flipped(&envelope, find(&envelope, b"TINUA-1234567890") + 15);
        assert_eq!(
            pki.refusal(&certificate),
            Some(Refusal::IssuerSignatureInvalid),
            "{hash:?}"
        );
    }
}

#[test]
fn a_dstu_content_timestamp_in_the_signed_attributes_dates_the_signature() {
    let mut pki = pki(Hash::Gost);
    let token = pki.token(CONTENT);
    let attribute = seq(&[oid("1.2.840.113549.1.9.16.2.20"), set(&[token])]);
    let envelope = pki.envelope(Hash::Gost, CONTENT, vec![attribute]);
    let verified = pki.verifier(&[]).verify_der(&envelope, now()).unwrap();
    let signature = &verified.signatures[0];
    assert!(signature.is_valid, "{}", signature.validation_error_message);
    assert_eq!(signature.time_source, Some(TimeSource::ContentTimestamp));
}

#[test]
fn a_dstu_signer_revoked_by_the_dstu_crl_is_refused() {
    let mut pki = pki(Hash::Gost);
    let envelope = pki.stamped(Hash::Gost);
    let serial = pki.signer.serial.clone();
    let verified = pki
        .verifier(&[&serial])
        .verify_der(&envelope, now())
        .unwrap();
    assert_eq!(verified.signatures[0].refusal, Some(Refusal::Revoked));
    let other = pki
        .verifier(&[&[0x77]])
        .verify_der(&envelope, now())
        .unwrap();
    assert!(other.all_valid());
}

#[test]
fn an_unsupported_curve_in_the_signer_key_is_refused_with_its_name() {
    let mut pki = pki(Hash::Gost);
    let envelope = pki.stamped(Hash::Gost);
    // Named curve 6 (257 bits) turned into a number outside the ten.
    let curve = oid("1.2.804.2.1.1.1.1.3.1.1.2.6");
    let at = find(&envelope[find(&envelope, b"TINUA-")..], &curve) + find(&envelope, b"TINUA-");
    let mut changed = envelope.clone();
    changed[at + curve.len() - 1] = 0x0C;
    let verified = pki.verifier(&[]).verify_der(&changed, now()).unwrap();
    assert_eq!(
        verified.signatures[0].refusal,
        Some(Refusal::UnsupportedCurve(
            "1.2.804.2.1.1.1.1.3.1.1.2.12".into()
        ))
    );
    assert_eq!(
        verified.signatures[0].validation_error_message,
        "unsupported elliptic curve 1.2.804.2.1.1.1.1.3.1.1.2.12"
    );
}

#[test]
fn the_optimal_normal_basis_is_an_unsupported_algorithm() {
    let mut pki = pki(Hash::Gost);
    let envelope = pki.stamped(Hash::Gost);
    // The SignerInfo's signature algorithm …3.1.1 → …3.1.2 (normal basis).
    let changed = edit(&envelope, &[1, 0, -1, 0, 4], &mut |_| {
        oid("1.2.804.2.1.1.1.1.3.1.2")
    });
    let verified = pki.verifier(&[]).verify_der(&changed, now()).unwrap();
    assert_eq!(
        verified.signatures[0].validation_error_message,
        "unsupported signature algorithm 1.2.804.2.1.1.1.1.3.1.2"
    );
}

fn real(name: &str) -> Certificate {
    let path = format!(
        "{}/../dstu4145/tests/data/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    Certificate::from_der(&std::fs::read(path).unwrap()).unwrap()
}

fn at_year(year: u64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs((year - 1970) * 365 * DAY + 200 * DAY)
}

#[test]
fn real_ukrainian_ca_certificates_verify_up_to_their_roots() {
    let root = real("czo-root-2012.cer");
    let justice = real("ca-justice-2015.cer");
    assert_eq!(root.is_signed_by(&root), Ok(()));
    let mut trust = TrustStore::new();
    trust.add_anchors(vec![real("czo-root-2012.cer")]);
    assert_eq!(
        trust.verify_certificate(&justice, &[], at_year(2017)),
        Ok(2)
    );
    assert_eq!(
        trust.verify_certificate(&justice, &[], at_year(2021)),
        Err(Refusal::Expired)
    );
    for (name, year) in [
        ("nbu-root-gost-2025.cer", 2027),
        ("nbu-root-kupyna-2026.cer", 2027),
    ] {
        let nbu = real(name);
        assert_eq!(nbu.is_signed_by(&nbu), Ok(()), "{name}");
        let mut own = TrustStore::new();
        own.add_anchors(vec![real(name)]);
        assert_eq!(own.verify_certificate(&nbu, &[], at_year(year)), Ok(1));
        assert_eq!(
            trust.verify_certificate(&nbu, &[], at_year(year)),
            Err(Refusal::NoTrustedRoot)
        );
    }
    // The NBU's root did not sign the Justice CA.
    assert_eq!(
        justice.is_signed_by(&real("nbu-root-gost-2025.cer")),
        Err(Refusal::IssuerSignatureInvalid)
    );
}

#[test]
fn the_real_tax_service_stamp_names_its_edrpou_and_no_drfo() {
    let stamp = real("sfs-stamp-2016.cer");
    let (signer, refusal) = signer_of(&stamp, ehealth_signature::exact_drfo_match);
    assert_eq!(refusal, None);
    assert_eq!(signer.edrpou.as_deref(), Some("39292197"));
    // Its serialNumber 2122385 is the CA's record number, not a DRFO.
    assert_eq!(signer.subject_serial_number.as_deref(), Some("2122385"));
    assert_eq!(signer.drfo, None);
    assert_eq!(signer.country_name.as_deref(), Some("UA"));
    assert_eq!(signer.locality_name.as_deref(), Some("Київ"));
}

#[test]
fn a_folder_of_real_certificates_loads_and_counts_dstu_keys() {
    let dir = format!("{}/../dstu4145/tests/data", env!("CARGO_MANIFEST_DIR"));
    let certificates = certificates_from_dir(dir.as_ref()).unwrap();
    assert_eq!(certificates.len(), 6);
    assert!(certificates
        .iter()
        .all(|c| c.key_kind() == KeyKind::Dstu4145));
    let mut trust = TrustStore::new();
    trust.add_anchors(certificates);
    assert_eq!(
        trust.summary().to_string(),
        "trust anchors: 6 (DSTU 4145 6); TSA certificates: 0"
    );
}

#[test]
fn jkurwas_real_dstu_message_verifies_against_its_self_signed_certificate() {
    let p7 = std::fs::read(format!(
        "{}/../dstu4145/tests/data/jkurwa-message.p7",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut trust = TrustStore::new();
    trust.add_anchors(vec![real("jkurwa-self-signed.cer")]);
    let settings = Settings {
        require_timestamp: false,
        check_revocation: false,
        ..Settings::default()
    };
    let verifier = Verifier::new(Arc::new(trust), Arc::new(RevocationStore::new()), settings);
    let verified = verifier.verify_der(&p7, at_year(2019)).unwrap();
    assert_eq!(verified.content, b"123");
    let signature = &verified.signatures[0];
    assert!(signature.is_valid, "{}", signature.validation_error_message);
    assert_eq!(
        signature.signer.organization_name.as_deref(),
        Some("Very Much CA")
    );
}
