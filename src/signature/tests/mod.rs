//! The verifiers' tests. `suite` runs the same cases against the built-in verifier and against
//! the external adapter (talking to a loopback stand-in that replays the built-in verifier's
//! answers, `fake_service`); `builtin` covers its configuration, `ds_api` the wire format, `rule`
//! eHealth's rule on an answer.

mod builtin;
mod ds_api;
mod fake_service;
mod rule;
mod suite;

use std::path::PathBuf;
use std::sync::OnceLock;

use base64::Engine as _;
use ehealth_test_pki::cms::certificate_bundle;
use ehealth_test_pki::der_writer::{oid, seq, set, utf8};
use ehealth_test_pki::dstu::{Authority, Hash};
use openssl::asn1::{Asn1Object, Asn1OctetString};
use openssl::nid::Nid;
use openssl::x509::X509Extension;
use pki::{TestCa, TestSigner, TestTsa};

use super::setup::Signatures;
use super::SignatureVerifier;
use crate::config::SignatureArgs;

#[path = "../../../tests/support/pki.rs"]
mod pki;

const CONTENT: &[u8] = br#"{"service_request":{"id":"7c2d4a1e","status":"recalled","status_reason":"entered_in_error"}}"#;
const EDRPOU: &str = "38782323";

/// A trusted RSA root with a fresh CRL, the signers the cases use, and the configuration files.
struct Fixture {
    ca: TestCa,
    /// RSA, `TINUA-1234567890`.
    doctor: TestSigner,
    /// ECDSA P-256, `TINUA-2222222222`.
    p256: TestSigner,
    /// ECDSA P-384, `TINUA-3333333333`.
    p384: TestSigner,
    /// An organisation's seal (`NTRUA-38782323`, no DRFO).
    seal: TestSigner,
    /// Listed by the root's CRL.
    revoked: TestSigner,
    /// Expired yesterday (its envelopes are stamped while it was valid).
    expired: TestSigner,
    /// P-521: a curve the verifier does not implement.
    p521: TestSigner,
    /// DRFO attribute 1234567890, `serialNumber` TINUA-9999999999.
    drfo_conflict: TestSigner,
    /// DRFO attribute `КА123456` (Cyrillic), `serialNumber` `PASUA-KA123456` (Latin).
    passport: TestSigner,
    /// Under a trusted root that publishes no CRL.
    unknown_status: TestSigner,
    /// The doctor's name under a root nobody trusts.
    untrusted: TestSigner,
    rogue_tsa: TestTsa,
    /// A DSTU 4145 root (in the anchors as a CMS bundle), its TSA and a signer `1234567890`.
    dstu: std::sync::Mutex<Authority>,
    _dir: tempfile::TempDir,
    anchors: PathBuf,
    tsa: PathBuf,
    crl: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let ca = TestCa::new("unit test root");
        let no_crl = TestCa::new("unit test root without CRL");
        let rogue = TestCa::new("rogue root");
        let organisation = Asn1Object::from_str("2.5.4.97").unwrap().nid();
        let revoked = ca.issue_signer_ec("TINUA-1234567890", "Revoked");
        let dir = tempfile::tempdir().unwrap();
        let anchors = dir.path().join("anchors");
        let crl = dir.path().join("crl");
        std::fs::create_dir_all(&anchors).unwrap();
        std::fs::create_dir_all(&crl).unwrap();
        std::fs::write(anchors.join("root.pem"), ca.pem()).unwrap();
        std::fs::write(anchors.join("no-crl.cer"), no_crl.der()).unwrap();
        std::fs::write(crl.join("root.crl"), ca.crl(&[&revoked.cert])).unwrap();
        let now = chrono::Utc::now().timestamp() as u64;
        let mut dstu = Authority::new(7, "1234567890", now);
        std::fs::write(
            anchors.join("dstu.p7b"),
            certificate_bundle(&[&dstu.root.der]),
        )
        .unwrap();
        std::fs::write(crl.join("dstu.crl"), dstu.crl(now)).unwrap();
        let tsa = dir.path().join("tsa.pem");
        std::fs::write(&tsa, pki::tsa().pem()).unwrap();
        Fixture {
            doctor: ca.issue_signer("TINUA-1234567890", "Шевченко Тарас Григорович"),
            p256: ca.issue_signer_ec("TINUA-2222222222", "P-256 Signer"),
            p384: ca.issue_signer_on(Nid::SECP384R1, "TINUA-3333333333", "P-384 Signer"),
            seal: ca.issue_with(
                &[
                    (Nid::COMMONNAME, "КНП Центр ПМСД"),
                    (Nid::ORGANIZATIONNAME, "КНП Центр ПМСД"),
                    (organisation, &format!("NTRUA-{EDRPOU}")),
                ],
                &[],
            ),
            revoked,
            expired: ca.issue_signer_valid("TINUA-1234567890", -30, -1),
            p521: ca.issue_signer_on(Nid::SECP521R1, "TINUA-1234567890", "P-521 Signer"),
            drfo_conflict: ca.issue_with(
                &[
                    (Nid::COMMONNAME, "Two DRFO"),
                    (Nid::SERIALNUMBER, "TINUA-9999999999"),
                ],
                &[drfo_attribute("1234567890")],
            ),
            passport: ca.issue_with(
                &[
                    (Nid::COMMONNAME, "Passport"),
                    (Nid::SERIALNUMBER, "PASUA-KA123456"),
                ],
                &[drfo_attribute("КА123456")],
            ),
            unknown_status: no_crl.issue_signer_ec("TINUA-1234567890", "No CRL"),
            untrusted: rogue.issue_signer("TINUA-1234567890", "Шевченко Тарас Григорович"),
            rogue_tsa: rogue.issue_tsa("rogue TSA"),
            dstu: std::sync::Mutex::new(dstu),
            ca,
            _dir: dir,
            anchors,
            tsa,
            crl,
        }
    })
}

impl Fixture {
    /// The content signed by the DSTU 4145 signer with `hash`, stamped now, base64.
    fn dstu_sign(&self, content: &[u8], hash: Hash) -> String {
        let now = chrono::Utc::now().timestamp() as u64;
        let der = self.dstu.lock().unwrap().sign(content, hash, now);
        base64::engine::general_purpose::STANDARD.encode(der)
    }

    /// The configuration of the built-in verifier over this fixture.
    fn args(&self) -> SignatureArgs {
        SignatureArgs {
            trust_anchors: Some(self.anchors.clone()),
            tsa_certificates: Some(self.tsa.clone()),
            crl_dir: Some(self.crl.clone()),
            ..SignatureArgs::default()
        }
    }
}

/// The verifier `args` configure.
async fn configured(args: &SignatureArgs) -> std::sync::Arc<dyn SignatureVerifier> {
    Signatures::from_config(args)
        .await
        .expect("the configuration loads")
        .verifier
        .expect("a verifier is configured")
}

/// subjectDirectoryAttributes holding the DRFO attribute.
fn drfo_attribute(drfo: &str) -> X509Extension {
    let value = seq(&[seq(&[
        oid("1.2.804.2.1.1.1.11.1.4.1.1"),
        set(&[utf8(drfo)]),
    ])]);
    X509Extension::new_from_der(
        &Asn1Object::from_str("2.5.29.9").unwrap(),
        false,
        &Asn1OctetString::new_from_bytes(&value).unwrap(),
    )
    .unwrap()
}
