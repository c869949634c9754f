//! The qualified-signature side of the harness: the service's signature configuration (trust
//! anchors, TSA certificates, CRLs) and the signers the qualified-signature tests use besides the
//! world's doctors — an ECDSA P-384 CA, a DSTU 4145 CA (keys on the 257-bit curve, signed by the
//! independent `ua-cryptography-dstu4145`), organisation seals, a revoked certificate, a CA with
//! no CRL, an untrusted TSA, a P-521 key, conflicting DRFO sources.
//!
//! Everything is made once per test process in a folder of its own:
//! `anchors/` (the harness root as given, the P-384 and no-CRL roots, the DSTU root inside a CMS
//! bundle), `tsa/` (the harness TSA, trusted as configured) and `crl/` (fresh CRLs of every CA
//! but the no-CRL one).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ehealth_test_pki::cms::certificate_bundle;
use ehealth_test_pki::der_writer::{oid, printable, seq, set};
use ehealth_test_pki::dstu::{Authority, DstuSigner, Hash};
use openssl::asn1::{Asn1Object, Asn1OctetString};
use openssl::nid::Nid;
use openssl::x509::X509Extension;

use super::pki::{self, TestCa, TestSigner, TestTsa};
use super::service::SignatureArgs;
use super::world::DOCTOR_TAX_ID;

/// The EDRPOU the seal tests give the world's main legal entity.
pub const SEAL_EDRPOU: &str = "38782323";
/// Another organisation's EDRPOU.
pub const OTHER_EDRPOU: &str = "11111111";

pub struct Qualified {
    folder: PathBuf,
    /// The doctor (tax id [`DOCTOR_TAX_ID`]) on ECDSA P-384, under a P-384 root.
    pub p384_doctor: TestSigner,
    /// The doctor named only by the DRFO attribute of `subjectDirectoryAttributes`.
    pub attribute_doctor: TestSigner,
    /// The seal of the organisation with [`SEAL_EDRPOU`] (`organizationIdentifier`, no DRFO).
    pub seal: TestSigner,
    /// The seal of another organisation ([`OTHER_EDRPOU`]).
    pub other_seal: TestSigner,
    /// The doctor's certificate, revoked by the harness root's CRL.
    pub revoked: TestSigner,
    /// The doctor, certified by a trusted CA that publishes no CRL.
    pub unknown_status: TestSigner,
    /// The doctor on a P-521 key, which the verifier does not implement.
    pub p521: TestSigner,
    /// A certificate whose DRFO attribute (the doctor's) and `serialNumber` disagree.
    pub drfo_conflict: TestSigner,
    /// A TSA nobody configured or certified.
    pub rogue_tsa: TestTsa,
    /// The DSTU 4145 authority, and a doctor of it whose key names a DKE other than №1.
    dstu: Mutex<(Authority, DstuSigner)>,
}

/// A GOST 28147 S-box other than DKE №1 (GOST 34.311 is supported with DKE №1 only).
const OTHER_DKE: [u8; 64] = [0x5a; 64];

/// The qualified-signature PKI, made once per test process.
pub fn qualified() -> &'static Qualified {
    static QUALIFIED: OnceLock<Qualified> = OnceLock::new();
    QUALIFIED.get_or_init(build)
}

/// The service's signature configuration in tests: `trust_anchors` (the harness root's PEM) with
/// the qualified PKI's roots, the harness TSA, and every CA's CRL; nothing when `None`.
pub fn signature_args(trust_anchors: Option<PathBuf>) -> SignatureArgs {
    let Some(given) = trust_anchors else {
        return SignatureArgs::default();
    };
    let q = qualified();
    let anchors = q.folder.join("anchors");
    let name = format!(
        "given-{:016x}.pem",
        fxhash(given.to_string_lossy().as_bytes())
    );
    if !anchors.join(&name).exists() {
        let bytes = std::fs::read(&given).expect("the given trust anchors are readable");
        write_atomically(&anchors.join(name), &bytes);
    }
    SignatureArgs {
        trust_anchors: Some(anchors),
        tsa_certificates: Some(q.folder.join("tsa")),
        crl_dir: Some(q.folder.join("crl")),
        ..SignatureArgs::default()
    }
}

impl Qualified {
    /// `content` signed by the DSTU 4145 doctor with `hash` (GOST 34.311 or Kupyna-256), stamped
    /// by the DSTU TSA now, base64.
    pub fn dstu_sign(&self, content: &[u8], hash: Hash) -> String {
        let mut dstu = self.dstu.lock().expect("DSTU PKI");
        STANDARD.encode(dstu.0.sign(content, hash, unix_now()))
    }

    /// `content` signed with GOST 34.311 by the DSTU 4145 doctor whose key parameters name
    /// another DKE, stamped now, base64.
    pub fn dstu_sign_other_dke(&self, content: &[u8]) -> String {
        let mut dstu = self.dstu.lock().expect("DSTU PKI");
        let (authority, signer) = &mut *dstu;
        STANDARD.encode(authority.sign_as(signer, content, Hash::Gost, unix_now()))
    }

    /// `inner` (base64 of a signed envelope) wrapped in `seal`'s stamped signature, base64.
    pub fn sealed(&self, seal: &TestSigner, inner: &str) -> String {
        let inner = STANDARD
            .decode(inner)
            .expect("the inner envelope is base64");
        seal.sign(&inner)
    }
}

fn build() -> Qualified {
    let harness = super::pki();
    let folder = std::env::temp_dir().join(format!("ehealth-qualified-{}", std::process::id()));
    for sub in ["anchors", "tsa", "crl"] {
        std::fs::create_dir_all(folder.join(sub)).expect("qualified PKI folder");
    }

    let p384_root = TestCa::new_p384("ehealth-es test P-384 root");
    let no_crl_root = TestCa::new("ehealth-es test root without CRL");
    let revoked = harness
        .ca
        .issue_signer(&format!("TINUA-{DOCTOR_TAX_ID}"), "Лікар Відкликаний");
    let organisation = Asn1Object::from_str("2.5.4.97").unwrap().nid();
    let seal_of = |edrpou: &str, name: &str| {
        harness.ca.issue_with(
            &[
                (Nid::COMMONNAME, name),
                (Nid::ORGANIZATIONNAME, name),
                (organisation, &format!("NTRUA-{edrpou}")),
            ],
            &[],
        )
    };
    let mut dstu = Authority::new(41, DOCTOR_TAX_ID, unix_now());

    write_atomically(&folder.join("anchors/p384.pem"), &p384_root.pem());
    write_atomically(&folder.join("anchors/no-crl.pem"), &no_crl_root.pem());
    write_atomically(
        &folder.join("anchors/dstu.p7b"),
        &certificate_bundle(&[&dstu.root.der]),
    );
    write_atomically(&folder.join("tsa/harness.pem"), &pki::tsa().pem());
    write_atomically(
        &folder.join("crl/harness.crl"),
        &harness.ca.crl(&[&revoked.cert]),
    );
    write_atomically(&folder.join("crl/p384.crl"), &p384_root.crl(&[]));
    let other_dke = dstu.issue_signer(44, 4, DOCTOR_TAX_ID, &OTHER_DKE);
    let dstu_crl = dstu.crl(unix_now());
    write_atomically(&folder.join("crl/dstu.crl"), &dstu_crl);

    Qualified {
        p384_doctor: p384_root.issue_signer_on(
            Nid::SECP384R1,
            &format!("TINUA-{DOCTOR_TAX_ID}"),
            "Лікар P-384",
        ),
        attribute_doctor: harness.ca.issue_with(
            &[(Nid::COMMONNAME, "Лікар Атрибут")],
            &[drfo_attribute(DOCTOR_TAX_ID)],
        ),
        seal: seal_of(SEAL_EDRPOU, "КНП Центр ПМСД"),
        other_seal: seal_of(OTHER_EDRPOU, "ТОВ Інша Клініка"),
        revoked,
        unknown_status: no_crl_root
            .issue_signer(&format!("TINUA-{DOCTOR_TAX_ID}"), "Лікар Без CRL"),
        p521: harness.ca.issue_signer_on(
            Nid::SECP521R1,
            &format!("TINUA-{DOCTOR_TAX_ID}"),
            "Лікар P-521",
        ),
        drfo_conflict: harness.ca.issue_with(
            &[
                (Nid::COMMONNAME, "Лікар Два DRFO"),
                (Nid::SERIALNUMBER, "TINUA-9999999999"),
            ],
            &[drfo_attribute(DOCTOR_TAX_ID)],
        ),
        rogue_tsa: TestCa::new("rogue TSA root").issue_tsa("rogue TSA"),
        dstu: Mutex::new((dstu, other_dke)),
        folder,
    }
}

/// subjectDirectoryAttributes with the DRFO attribute (1.2.804.2.1.1.1.11.1.4.1.1).
fn drfo_attribute(drfo: &str) -> X509Extension {
    let value = seq(&[seq(&[
        oid("1.2.804.2.1.1.1.11.1.4.1.1"),
        set(&[printable(drfo)]),
    ])]);
    X509Extension::new_from_der(
        &Asn1Object::from_str("2.5.29.9").unwrap(),
        false,
        &Asn1OctetString::new_from_bytes(&value).unwrap(),
    )
    .unwrap()
}

/// Writes through a temporary file and a rename, so a service starting in another test never
/// reads half a file.
fn write_atomically(path: &Path, bytes: &[u8]) {
    let partial = path.with_extension(format!("partial-{:?}", std::thread::current().id()));
    std::fs::write(&partial, bytes).expect("write fixture");
    std::fs::rename(&partial, path).expect("rename fixture");
}

fn fxhash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
