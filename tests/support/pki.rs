//! A throw-away PKI for tests: a self-signed root CA, end-entity signers
//! issued by it, and CMS/PKCS#7 SignedData envelopes shaped like the ones
//! clients send with a "recall service request" (content attached, SHA-256).
//!
//! Shared by the unit tests in `src/signature.rs` and by integration tests
//! (`#[path = "support/pki.rs"] mod pki;`), so it depends on nothing but
//! `openssl` and `base64`, which both kinds of test target can see.
//!
//! Signatures carry an RFC 3161 timestamp token by default, as eHealth requires: [`tsa`] is a
//! process-wide TSA (self-signed, so the service must list it in `EHEALTH_TSA_CERTIFICATES`), and
//! [`TestCa::crl`] issues the CRLs the service's revocation check needs. Tokens and CRLs are
//! assembled with `ehealth_test_pki::der_writer` and signed with OpenSSL.
//!
//! Everything here panics on failure: it only ever runs inside tests, where a
//! broken fixture should fail loudly.

// Each including test target uses a different subset of the fixtures.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Builder, X509Name, X509NameBuilder, X509};

use ehealth_test_pki::der_writer::{self as dw, explicit, octets, oid, seq, set};

const DAY_SECS: i64 = 24 * 60 * 60;

/// A self-signed root CA usable as a trust anchor.
pub struct TestCa {
    pub cert: X509,
    pub key: PKey<Private>,
}

/// An end-entity certificate with its private key, able to sign documents.
pub struct TestSigner {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl TestCa {
    /// Self-signed RSA 2048 root, valid from 1000 days ago (before any stamped signature of its
    /// signers, expired ones included) for ten years.
    pub fn new(common_name: &str) -> TestCa {
        TestCa::with_key(common_name, rsa_key(), -1000)
    }

    /// Self-signed ECDSA P-384 root, valid as [`TestCa::new`]'s.
    pub fn new_p384(common_name: &str) -> TestCa {
        TestCa::with_key(common_name, ec_key_on(Nid::SECP384R1), -1000)
    }

    fn with_key(common_name: &str, key: PKey<Private>, not_before_days: i64) -> TestCa {
        let name = name(&[(Nid::COMMONNAME, common_name)]);

        let mut builder = X509Builder::new().unwrap();
        builder.set_version(2).unwrap();
        builder.set_serial_number(&random_serial()).unwrap();
        builder.set_subject_name(&name).unwrap();
        builder.set_issuer_name(&name).unwrap();
        builder.set_pubkey(&key).unwrap();
        builder
            .set_not_before(&days_from_now(not_before_days))
            .unwrap();
        builder.set_not_after(&days_from_now(3650)).unwrap();
        builder
            .append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        builder
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&builder.x509v3_context(None, None))
            .unwrap();
        builder.append_extension(ski).unwrap();
        builder.sign(&key, digest_for(&key)).unwrap();

        TestCa {
            cert: builder.build(),
            key,
        }
    }

    /// The CA certificate in PEM, as it would appear in the trust-anchor file.
    pub fn pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap()
    }

    /// RSA 2048 signer valid from yesterday for a year. `drfo` goes verbatim
    /// into the subject `serialNumber` (e.g. "TINUA-1234567890").
    pub fn issue_signer(&self, drfo: &str, common_name: &str) -> TestSigner {
        self.issue(rsa_key(), drfo, common_name, -1, 365)
    }

    /// Same as [`TestCa::issue_signer`] with an ECDSA P-256 key.
    pub fn issue_signer_ec(&self, drfo: &str, common_name: &str) -> TestSigner {
        self.issue(ec_key(), drfo, common_name, -1, 365)
    }

    /// RSA signer with an arbitrary validity window, for expired
    /// (`-30, -1`) or not-yet-valid (`1, 30`) certificates.
    pub fn issue_signer_valid(
        &self,
        drfo: &str,
        not_before_days_from_now: i64,
        not_after_days_from_now: i64,
    ) -> TestSigner {
        self.issue(
            rsa_key(),
            drfo,
            "Test Signer",
            not_before_days_from_now,
            not_after_days_from_now,
        )
    }

    /// An ECDSA signer on `curve` (e.g. `Nid::SECP384R1`).
    pub fn issue_signer_on(&self, curve: Nid, drfo: &str, common_name: &str) -> TestSigner {
        self.issue(ec_key_on(curve), drfo, common_name, -1, 365)
    }

    /// A signer with the subject `entries` and extra extensions (e.g. subjectDirectoryAttributes),
    /// on an ECDSA P-256 key.
    pub fn issue_with(
        &self,
        entries: &[(Nid, &str)],
        extra_extensions: &[openssl::x509::X509Extension],
    ) -> TestSigner {
        self.issue_named(ec_key(), &name(entries), -1, 365, extra_extensions)
    }

    /// A TSA: keyUsage digitalSignature, extended key usage timeStamping (critical).
    pub fn issue_tsa(&self, common_name: &str) -> TestTsa {
        use openssl::x509::extension::ExtendedKeyUsage;
        let eku = ExtendedKeyUsage::new()
            .critical()
            .time_stamping()
            .build()
            .unwrap();
        let signer = self.issue_named(
            rsa_key(),
            &name(&[(Nid::COMMONNAME, common_name)]),
            -1000,
            3650,
            &[eku],
        );
        TestTsa {
            cert: signer.cert,
            key: signer.key,
        }
    }

    /// A fresh v2 CRL of this CA (this update an hour ago, next update in a week) listing
    /// `revoked`, in DER.
    pub fn crl(&self, revoked: &[&X509]) -> Vec<u8> {
        let now = unix_now();
        let (digest, algorithm) = signature_algorithm(&self.key);
        let mut fields = vec![
            dw::uint(&[1]),
            algorithm.clone(),
            self.cert.subject_name().to_der().unwrap(),
            ehealth_test_pki::dstu::utc(now - 3600),
            ehealth_test_pki::dstu::utc(now + 7 * 86_400),
        ];
        if !revoked.is_empty() {
            let entries: Vec<Vec<u8>> = revoked
                .iter()
                .map(|cert| {
                    seq(&[
                        dw::uint(&cert.serial_number().to_bn().unwrap().to_vec()),
                        ehealth_test_pki::dstu::utc(now - 3600),
                    ])
                })
                .collect();
            fields.push(seq(&entries));
        }
        let tbs = seq(&fields);
        let signature = sign_bytes(&self.key, digest, &tbs);
        seq(&[tbs, algorithm, dw::bits(&signature)])
    }

    /// The CA certificate in DER.
    pub fn der(&self) -> Vec<u8> {
        self.cert.to_der().unwrap()
    }

    fn issue(
        &self,
        key: PKey<Private>,
        drfo: &str,
        common_name: &str,
        not_before_days: i64,
        not_after_days: i64,
    ) -> TestSigner {
        let subject = name(&[(Nid::COMMONNAME, common_name), (Nid::SERIALNUMBER, drfo)]);
        self.issue_named(key, &subject, not_before_days, not_after_days, &[])
    }

    fn issue_named(
        &self,
        key: PKey<Private>,
        subject: &X509Name,
        not_before_days: i64,
        not_after_days: i64,
        extra_extensions: &[openssl::x509::X509Extension],
    ) -> TestSigner {
        let mut builder = X509Builder::new().unwrap();
        builder.set_version(2).unwrap();
        builder.set_serial_number(&random_serial()).unwrap();
        builder.set_subject_name(subject).unwrap();
        builder.set_issuer_name(self.cert.subject_name()).unwrap();
        builder.set_pubkey(&key).unwrap();
        builder
            .set_not_before(&days_from_now(not_before_days))
            .unwrap();
        builder
            .set_not_after(&days_from_now(not_after_days))
            .unwrap();
        builder
            .append_extension(BasicConstraints::new().critical().build().unwrap())
            .unwrap();
        builder
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .non_repudiation()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        let ski = SubjectKeyIdentifier::new()
            .build(&builder.x509v3_context(Some(&self.cert), None))
            .unwrap();
        builder.append_extension(ski).unwrap();
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&builder.x509v3_context(Some(&self.cert), None))
            .unwrap();
        builder.append_extension(aki).unwrap();
        for extension in extra_extensions {
            builder.append_extension2(extension).unwrap();
        }
        builder.sign(&self.key, digest_for(&self.key)).unwrap();

        TestSigner {
            cert: builder.build(),
            key,
        }
    }
}

/// Writes what a service needs to accept `ca`'s signers: `anchors` (its PEM), and beside it
/// `tsa.pem` (the harness TSA) and `crl/` (its fresh, empty CRL); see [`signature_env`].
pub fn write_signature_trust(ca: &TestCa, anchors: &std::path::Path) {
    let crl = anchors.with_file_name("crl");
    std::fs::create_dir_all(&crl).unwrap();
    std::fs::write(anchors, ca.pem()).unwrap();
    std::fs::write(anchors.with_file_name("tsa.pem"), tsa().pem()).unwrap();
    std::fs::write(crl.join("ca.crl"), ca.crl(&[])).unwrap();
}

/// The service's environment for the files [`write_signature_trust`] wrote.
pub fn signature_env(anchors: &std::path::Path) -> [(&'static str, std::path::PathBuf); 3] {
    [
        ("EHEALTH_TRUST_ANCHORS", anchors.to_path_buf()),
        (
            "EHEALTH_TSA_CERTIFICATES",
            anchors.with_file_name("tsa.pem"),
        ),
        ("EHEALTH_CRL_DIR", anchors.with_file_name("crl")),
    ]
}

/// A time-stamping authority: signs RFC 3161 tokens.
pub struct TestTsa {
    pub cert: X509,
    pub key: PKey<Private>,
}

/// The TSA that stamps [`TestSigner::sign`]'s envelopes: self-signed, trusted as configured.
pub fn tsa() -> &'static TestTsa {
    static TSA: OnceLock<TestTsa> = OnceLock::new();
    TSA.get_or_init(|| {
        let root = TestCa::new("ehealth-es test TSA");
        TestTsa {
            cert: root.cert,
            key: root.key,
        }
    })
}

impl TestTsa {
    /// The TSA certificate in PEM (for `EHEALTH_TSA_CERTIFICATES`).
    pub fn pem(&self) -> Vec<u8> {
        self.cert.to_pem().unwrap()
    }

    /// A DER RFC 3161 token (a SignedData over a TSTInfo) whose SHA-256 imprint is over
    /// `imprinted`, with genTime `gen_time` (Unix seconds).
    pub fn token(&self, imprinted: &[u8], gen_time: u64) -> Vec<u8> {
        let imprint = openssl::hash::hash(MessageDigest::sha256(), imprinted).unwrap();
        let tst_info = seq(&[
            dw::uint(&[1]),
            oid("1.3.6.1.4.1.99999.1"),
            seq(&[seq(&[oid(SHA256)]), octets(&imprint)]),
            dw::uint(&gen_time.to_be_bytes()),
            ehealth_test_pki::dstu::generalized(gen_time),
        ]);
        let (digest, algorithm) = signature_algorithm(&self.key);
        let content_digest = openssl::hash::hash(digest, &tst_info).unwrap();
        let attributes = set(&[
            seq(&[oid("1.2.840.113549.1.9.3"), set(&[oid(ID_CT_TST_INFO)])]),
            seq(&[oid("1.2.840.113549.1.9.4"), set(&[octets(&content_digest)])]),
        ]);
        let signature = sign_bytes(&self.key, digest, &attributes);
        let mut implicit = attributes.clone();
        implicit[0] = 0xA0;
        let signer_info = seq(&[
            dw::uint(&[1]),
            seq(&[
                self.cert.issuer_name().to_der().unwrap(),
                dw::uint(&self.cert.serial_number().to_bn().unwrap().to_vec()),
            ]),
            seq(&[oid(SHA256)]),
            implicit,
            algorithm,
            octets(&signature),
        ]);
        let signed_data = seq(&[
            dw::uint(&[3]),
            set(&[seq(&[oid(SHA256)])]),
            seq(&[oid(ID_CT_TST_INFO), explicit(0, &octets(&tst_info))]),
            explicit(0, &self.cert.to_der().unwrap()),
            set(&[signer_info]),
        ]);
        seq(&[oid("1.2.840.113549.1.7.2"), explicit(0, &signed_data)])
    }
}

const SHA256: &str = "2.16.840.1.101.3.4.2.1";
const ID_CT_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";

pub use ehealth_test_pki::cms::{signature_value, with_signature_timestamp};

impl TestSigner {
    /// Base64 (standard, padded) of a DER SignedData with `content` attached, one SignerInfo
    /// (SHA-256, signed attributes), the signer cert included, and a signature timestamp by
    /// [`tsa`]: made now, or — for a certificate already expired — the day before it expired
    /// (a signature made while it was valid, checked after).
    pub fn sign(&self, content: &[u8]) -> String {
        STANDARD.encode(self.sign_stamped_der(content))
    }

    /// [`TestSigner::sign`] in DER.
    pub fn sign_stamped_der(&self, content: &[u8]) -> Vec<u8> {
        let not_after = asn1_unix(self.cert.not_after());
        let gen_time = unix_now().min(not_after - 86_400);
        self.sign_stamped_by(content, tsa(), gen_time)
    }

    /// An envelope stamped by `tsa` at `gen_time`, in DER.
    pub fn sign_stamped_by(&self, content: &[u8], tsa: &TestTsa, gen_time: u64) -> Vec<u8> {
        let envelope = self.sign_der(content);
        let token = tsa.token(&signature_value(&envelope), gen_time);
        with_signature_timestamp(&envelope, &token)
    }

    /// An envelope without a timestamp, base64.
    pub fn sign_unstamped(&self, content: &[u8]) -> String {
        STANDARD.encode(self.sign_der(content))
    }

    fn sign_der(&self, content: &[u8]) -> Vec<u8> {
        // BINARY: without it OpenSSL canonicalises line endings to CRLF before
        // signing, so the signed bytes would differ from `content`.
        let cms = CmsContentInfo::sign(
            Some(&self.cert),
            Some(&self.key),
            None,
            Some(content),
            CMSOptions::BINARY,
        )
        .unwrap();
        cms.to_der().unwrap()
    }
}

/// Two SignerInfos over the same attached content in one envelope.
///
/// The safe `openssl` API cannot add a second signer to a SignedData, so this
/// signs twice and splices the two DER envelopes into one: the second
/// envelope's certificates and SignerInfo are appended to the first. Signed
/// attributes bind each signature to the content digest only, not to the
/// envelope, so both signatures stay valid.
pub fn sign_with_two(a: &TestSigner, b: &TestSigner, content: &[u8]) -> String {
    let first = signed_data_parts(&a.sign_stamped_der(content));
    let second = signed_data_parts(&b.sign_stamped_der(content));

    let mut digest_algorithms = first.digest_algorithms;
    for alg in second.digest_algorithms {
        if !digest_algorithms.contains(&alg) {
            digest_algorithms.push(alg);
        }
    }
    let mut certificates = first.certificates;
    for cert in second.certificates {
        if !certificates.contains(&cert) {
            certificates.push(cert);
        }
    }
    let signer_infos: Vec<Vec<u8>> = first
        .signer_infos
        .into_iter()
        .chain(second.signer_infos)
        .collect();

    assemble(SignedDataParts {
        digest_algorithms,
        certificates,
        signer_infos,
        ..first
    })
}

/// A SignedData with `content` attached, the CA certificate included, and no
/// SignerInfo at all.
///
/// OpenSSL 3.0 refuses to finalise attached content without a signer
/// (`CMS_final` fails), so this signs with the CA key and then removes the
/// SignerInfo and its digest algorithm.
pub fn sign_with_none(ca: &TestCa, content: &[u8]) -> String {
    let as_signer = TestSigner {
        cert: ca.cert.clone(),
        key: ca.key.clone(),
    };
    let parts = signed_data_parts(&as_signer.sign_der(content));
    assemble(SignedDataParts {
        digest_algorithms: Vec::new(),
        signer_infos: Vec::new(),
        ..parts
    })
}

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

fn ec_key() -> PKey<Private> {
    ec_key_on(Nid::X9_62_PRIME256V1)
}

fn ec_key_on(curve: Nid) -> PKey<Private> {
    let group = EcGroup::from_curve_name(curve).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// The digest a key signs certificates with: SHA-384 for P-384, SHA-256 otherwise.
fn digest_for(key: &PKey<Private>) -> MessageDigest {
    signature_algorithm(key).0
}

/// The digest and the DER AlgorithmIdentifier of a key's signatures.
fn signature_algorithm(key: &PKey<Private>) -> (MessageDigest, Vec<u8>) {
    match key.ec_key() {
        Ok(ec) if ec.group().curve_name() == Some(Nid::SECP384R1) => {
            (MessageDigest::sha384(), seq(&[oid("1.2.840.10045.4.3.3")]))
        }
        Ok(_) => (MessageDigest::sha256(), seq(&[oid("1.2.840.10045.4.3.2")])),
        Err(_) => (
            MessageDigest::sha256(),
            seq(&[oid("1.2.840.113549.1.1.11"), vec![0x05, 0x00]]),
        ),
    }
}

fn sign_bytes(key: &PKey<Private>, digest: MessageDigest, data: &[u8]) -> Vec<u8> {
    let mut signer = openssl::sign::Signer::new(digest, key).unwrap();
    signer.update(data).unwrap();
    signer.sign_to_vec().unwrap()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn asn1_unix(time: &openssl::asn1::Asn1TimeRef) -> u64 {
    let epoch = Asn1Time::from_unix(0).unwrap();
    let diff = epoch.diff(time).unwrap();
    (i64::from(diff.days) * DAY_SECS + i64::from(diff.secs)) as u64
}

fn name(entries: &[(Nid, &str)]) -> X509Name {
    let mut builder = X509NameBuilder::new().unwrap();
    for (nid, value) in entries {
        builder.append_entry_by_nid(*nid, value).unwrap();
    }
    builder.build()
}

fn random_serial() -> Asn1Integer {
    let mut serial = BigNum::new().unwrap();
    serial.rand(127, MsbOption::MAYBE_ZERO, false).unwrap();
    serial.to_asn1_integer().unwrap()
}

fn days_from_now(days: i64) -> Asn1Time {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Asn1Time::from_unix((now + days * DAY_SECS) as _).unwrap()
}

/// The pieces of a single-signer DER SignedData needed to splice envelopes.
struct SignedDataParts {
    content_type: Vec<u8>,
    version: Vec<u8>,
    digest_algorithms: Vec<Vec<u8>>,
    encap_content_info: Vec<u8>,
    certificates: Vec<Vec<u8>>,
    signer_infos: Vec<Vec<u8>>,
}

/// Re-encodes a ContentInfo/SignedData from its parts, base64 encoded.
fn assemble(parts: SignedDataParts) -> String {
    let signed_data = seq(&[
        parts.version,
        set(&parts.digest_algorithms),
        parts.encap_content_info,
        explicit(0, &parts.certificates.concat()),
        set(&parts.signer_infos),
    ]);
    let content_info = seq(&[parts.content_type, explicit(0, &signed_data)]);
    STANDARD.encode(content_info)
}

/// The content of one whole DER value (OpenSSL's `i2d` output: definite lengths only).
fn content(value: &[u8]) -> &[u8] {
    dw::split(value).1
}

/// The whole values in the content of `value`, copied.
fn owned_children(value: &[u8]) -> Vec<Vec<u8>> {
    dw::children(content(value))
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect()
}

fn signed_data_parts(content_info: &[u8]) -> SignedDataParts {
    let (tag, outer, _) = dw::split(content_info);
    assert_eq!(tag, 0x30, "ContentInfo must be a SEQUENCE");
    let ci = dw::children(outer);
    assert_eq!(ci.len(), 2, "ContentInfo must hold a type and content");
    let sd_wrapper = dw::children(content(ci[1]));
    let sd = dw::children(content(sd_wrapper[0]));

    let mut parts = SignedDataParts {
        content_type: ci[0].to_vec(),
        version: sd[0].to_vec(),
        digest_algorithms: owned_children(sd[1]),
        encap_content_info: sd[2].to_vec(),
        certificates: Vec::new(),
        signer_infos: Vec::new(),
    };
    for item in &sd[3..] {
        match item[0] {
            0xA0 => parts.certificates = owned_children(item),
            0x31 => parts.signer_infos = owned_children(item),
            _ => {} // CRLs: none in these fixtures
        }
    }
    parts
}
