//! DSTU 4145 test PKI built here and signed by the independent `ua-cryptography-dstu4145`
//! (its own field arithmetic and GOST 34.311): a CA, signers with the DRFO attribute, a TSA,
//! CRLs, CMS envelopes and RFC 3161 tokens, in the Ukrainian PKI's little-endian encodings.

use kupyna::Digest as _;
use num_bigint::BigUint;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use ua_cryptography_dstu4145::{get_polynomial_curve, DomainParameters, Signer};

use crate::der_writer::*;

pub use crate::authority::{Authority, DstuSigner};

pub const DSTU_LE: &str = "1.2.804.2.1.1.1.1.3.1.1";
pub const DSTU_KUPYNA: &str = "1.2.804.2.1.1.1.1.3.6.1.1";
pub const GOST34311: &str = "1.2.804.2.1.1.1.1.2.1";
pub const KUPYNA256: &str = "1.2.804.2.1.1.1.1.2.2.1";
/// Named curve 6: m = 257.
const CURVE_257: &str = "1.2.804.2.1.1.1.1.3.1.1.2.6";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Gost,
    Kupyna,
}

impl Hash {
    /// The digest as the hash outputs it (the PKI's order).
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            // ua-cryptography returns the standard's order (reversed): undo it.
            Hash::Gost => ua_cryptography_dstu4145::hash_message(data)
                .into_iter()
                .rev()
                .collect(),
            Hash::Kupyna => kupyna::Kupyna256::digest(data).to_vec(),
        }
    }
    pub fn digest_oid(self) -> &'static str {
        match self {
            Hash::Gost => GOST34311,
            Hash::Kupyna => KUPYNA256,
        }
    }
    pub fn signature_oid(self) -> &'static str {
        match self {
            Hash::Gost => DSTU_LE,
            Hash::Kupyna => DSTU_KUPYNA,
        }
    }
}

pub struct Key {
    params: DomainParameters,
    signer: Signer<ChaCha20Rng>,
    private: BigUint,
    pub spki: Vec<u8>,
}

impl Key {
    pub fn new(seed: u64) -> Key {
        Key::with_dke(seed, None)
    }

    /// A key whose parameters name `dke` as GOST 34.311's S-box (64 bytes); it still signs with
    /// DKE №1, so only a verifier that ignored the parameters could accept its signatures.
    pub fn with_dke(seed: u64, dke: Option<&[u8; 64]>) -> Key {
        let params = get_polynomial_curve(257).unwrap();
        let mut signer = Signer::with_rng(&params, ChaCha20Rng::seed_from_u64(seed));
        let pair = signer.generate_key_pair();
        let mut compressed = params.curve().compress_to_bytes(&pair.public_key).unwrap();
        compressed.reverse();
        let mut key_params = vec![oid(CURVE_257)];
        key_params.extend(dke.map(|dke| octets(dke)));
        let spki = seq(&[
            seq(&[oid(DSTU_LE), seq(&key_params)]),
            bits(&octets(&compressed)),
        ]);
        Key {
            params,
            signer,
            private: pair.private_key,
            spki,
        }
    }

    /// The PKI's little-endian signature value (r‖s, each reversed) over `message`.
    pub fn sign(&mut self, message: &[u8], hash: Hash) -> Vec<u8> {
        let mut digest = hash.digest(message);
        digest.reverse();
        let _ = &self.params;
        let mut d = self.signer.sign_hash(&self.private, &digest).unwrap();
        d.reverse();
        d
    }
}

/// A Name with a CN and the given extra RDNs (already encoded).
pub fn name(cn: &str, extra: &[Vec<u8>]) -> Vec<u8> {
    let mut rdns = vec![set(&[seq(&[oid("2.5.4.3"), utf8(cn)])])];
    rdns.extend(extra.iter().cloned());
    seq(&rdns)
}

pub fn rdn(attribute: &str, value: Vec<u8>) -> Vec<u8> {
    set(&[seq(&[oid(attribute), value])])
}

pub fn extension(id: &str, critical: bool, value: &[u8]) -> Vec<u8> {
    let mut parts = vec![oid(id)];
    if critical {
        parts.push(vec![0x01, 0x01, 0xFF]);
    }
    parts.push(octets(value));
    seq(&parts)
}

pub fn ca_extensions() -> Vec<Vec<u8>> {
    vec![
        extension("2.5.29.19", true, &seq(&[vec![0x01, 0x01, 0xFF]])),
        extension("2.5.29.15", true, &[0x03, 0x02, 0x01, 0x06]),
    ]
}

pub fn signer_extensions(drfo: &str) -> Vec<Vec<u8>> {
    vec![
        extension("2.5.29.15", true, &[0x03, 0x02, 0x06, 0xC0]),
        extension(
            "2.5.29.9",
            false,
            &seq(&[seq(&[
                oid("1.2.804.2.1.1.1.11.1.4.1.1"),
                set(&[printable(drfo)]),
            ])]),
        ),
    ]
}

pub fn tsa_extensions() -> Vec<Vec<u8>> {
    vec![
        extension("2.5.29.15", true, &[0x03, 0x02, 0x06, 0xC0]),
        extension("2.5.29.37", true, &seq(&[oid("1.3.6.1.5.5.7.3.8")])),
    ]
}

/// YYMMDDHHMMSSZ of a Unix time (2000–2049).
pub fn utc(secs: u64) -> Vec<u8> {
    utc_time(&format!("{}Z", &civil(secs)[2..]))
}

pub fn generalized(secs: u64) -> Vec<u8> {
    generalized_time(&format!("{}Z", civil(secs)))
}

fn civil(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

pub struct Issued {
    pub der: Vec<u8>,
    pub subject: Vec<u8>,
    pub serial: Vec<u8>,
}

/// A v3 certificate of `subject_key` signed by `issuer_key` with `hash`.
#[allow(clippy::too_many_arguments)]
pub fn certificate(
    issuer_key: &mut Key,
    issuer: &[u8],
    subject: &[u8],
    subject_key_spki: &[u8],
    serial: &[u8],
    validity: (u64, u64),
    extensions: &[Vec<u8>],
    hash: Hash,
) -> Issued {
    let algorithm = seq(&[oid(hash.signature_oid())]);
    let tbs = seq(&[
        explicit(0, &uint(&[2])),
        uint(serial),
        algorithm.clone(),
        issuer.to_vec(),
        seq(&[utc(validity.0), utc(validity.1)]),
        subject.to_vec(),
        subject_key_spki.to_vec(),
        explicit(3, &seq(extensions)),
    ]);
    let signature = issuer_key.sign(&tbs, hash);
    Issued {
        der: seq(&[tbs, algorithm, bits(&octets(&signature))]),
        subject: subject.to_vec(),
        serial: serial.to_vec(),
    }
}

/// A v2 CRL of `issuer` listing `revoked` serials.
pub fn crl(
    issuer_key: &mut Key,
    issuer: &[u8],
    this_update: u64,
    next_update: u64,
    revoked: &[&[u8]],
) -> Vec<u8> {
    let algorithm = seq(&[oid(DSTU_LE)]);
    let mut fields = vec![
        uint(&[1]),
        algorithm.clone(),
        issuer.to_vec(),
        utc(this_update),
        utc(next_update),
    ];
    if !revoked.is_empty() {
        let entries: Vec<Vec<u8>> = revoked
            .iter()
            .map(|s| seq(&[uint(s), utc(this_update)]))
            .collect();
        fields.push(seq(&entries));
    }
    let tbs = seq(&fields);
    let signature = issuer_key.sign(&tbs, Hash::Gost);
    seq(&[tbs, algorithm, bits(&octets(&signature))])
}

pub struct SignerInfoParts<'a> {
    pub key: &'a mut Key,
    pub certificate: &'a Issued,
    pub issuer: &'a [u8],
    pub hash: Hash,
    pub content: &'a [u8],
    pub content_type: &'a str,
    /// Signed attributes besides contentType and messageDigest.
    pub extra_signed: Vec<Vec<u8>>,
}

/// A SignerInfo; its signed attributes deliberately not in DER order (messageDigest first),
/// as some Ukrainian signers write them, so only the received bytes verify.
pub fn signer_info(parts: SignerInfoParts<'_>) -> Vec<u8> {
    let digest = parts.hash.digest(parts.content);
    let mut attributes = vec![
        seq(&[oid("1.2.840.113549.1.9.4"), set(&[octets(&digest)])]),
        seq(&[oid("1.2.840.113549.1.9.3"), set(&[oid(parts.content_type)])]),
    ];
    attributes.extend(parts.extra_signed);
    let signed = set(&attributes);
    let signature = parts.key.sign(&signed, parts.hash);
    let mut implicit = signed.clone();
    implicit[0] = 0xA0;
    seq(&[
        uint(&[1]),
        seq(&[parts.issuer.to_vec(), uint(&parts.certificate.serial)]),
        seq(&[oid(parts.hash.digest_oid())]),
        implicit,
        seq(&[oid(parts.hash.signature_oid())]),
        octets(&signature),
    ])
}

/// A ContentInfo SignedData around one SignerInfo.
pub fn signed_data(
    hash: Hash,
    content_type: &str,
    content: &[u8],
    certificates: &[&[u8]],
    signer_info: Vec<u8>,
) -> Vec<u8> {
    let certs: Vec<u8> = certificates.concat();
    let body = seq(&[
        uint(&[1]),
        set(&[seq(&[oid(hash.digest_oid())])]),
        seq(&[oid(content_type), explicit(0, &octets(content))]),
        explicit(0, &certs),
        set(&[signer_info]),
    ]);
    seq(&[oid("1.2.840.113549.1.7.2"), explicit(0, &body)])
}

/// An RFC 3161 token over `imprinted` (GOST 34.311 imprint), by the TSA `key`/`certificate`.
pub fn token(
    key: &mut Key,
    certificate: &Issued,
    issuer: &[u8],
    imprinted: &[u8],
    gen_time: u64,
) -> Vec<u8> {
    let tst_info = seq(&[
        uint(&[1]),
        oid("1.2.804.2.1.1.1.2.3.1"),
        seq(&[
            seq(&[oid(GOST34311)]),
            octets(&Hash::Gost.digest(imprinted)),
        ]),
        uint(&[0x2A]),
        generalized(gen_time),
    ]);
    let info = signer_info(SignerInfoParts {
        key,
        certificate,
        issuer,
        hash: Hash::Gost,
        content: &tst_info,
        content_type: "1.2.840.113549.1.9.16.1.4",
        extra_signed: Vec::new(),
    });
    signed_data(
        Hash::Gost,
        "1.2.840.113549.1.9.16.1.4",
        &tst_info,
        &[&certificate.der],
        info,
    )
}
