//! A certificate as received: decoded once, its TBS bytes kept exactly as they came, its key
//! decoded (and for DSTU 4145 decompressed and subgroup-checked) on first use.

use std::ops::Range;
use std::sync::OnceLock;

use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::Name;

use crate::algorithm::{self, Failure, Framing, KeyKind, PublicKey};
use crate::error::Refusal;
use crate::tlv;

pub(crate) mod ext {
    use der::asn1::ObjectIdentifier as Oid;
    pub const SUBJECT_DIRECTORY_ATTRIBUTES: Oid = Oid::new_unwrap("2.5.29.9");
    pub const SUBJECT_KEY_ID: Oid = Oid::new_unwrap("2.5.29.14");
    pub const KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
    pub const PRIVATE_KEY_USAGE_PERIOD: Oid = Oid::new_unwrap("2.5.29.16");
    pub const SUBJECT_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.17");
    pub const ISSUER_ALT_NAME: Oid = Oid::new_unwrap("2.5.29.18");
    pub const BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
    pub const CRL_DISTRIBUTION_POINTS: Oid = Oid::new_unwrap("2.5.29.31");
    pub const CERTIFICATE_POLICIES: Oid = Oid::new_unwrap("2.5.29.32");
    pub const AUTHORITY_KEY_ID: Oid = Oid::new_unwrap("2.5.29.35");
    pub const EXTENDED_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.37");
    pub const FRESHEST_CRL: Oid = Oid::new_unwrap("2.5.29.46");
    pub const AUTHORITY_INFO_ACCESS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.1");
    pub const QC_STATEMENTS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.3");
    pub const SUBJECT_INFO_ACCESS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.11");
    pub const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
    pub const KP_OCSP_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.9");
    pub const AD_OCSP: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1");

    /// Critical extensions a certificate may carry here. Policies and qualified-certificate
    /// statements are accepted without being interpreted (every Ukrainian qualified certificate
    /// marks them critical); everything that constrains the path is processed.
    pub const UNDERSTOOD: [Oid; 14] = [
        SUBJECT_DIRECTORY_ATTRIBUTES,
        SUBJECT_KEY_ID,
        KEY_USAGE,
        PRIVATE_KEY_USAGE_PERIOD,
        SUBJECT_ALT_NAME,
        ISSUER_ALT_NAME,
        BASIC_CONSTRAINTS,
        CRL_DISTRIBUTION_POINTS,
        CERTIFICATE_POLICIES,
        AUTHORITY_KEY_ID,
        EXTENDED_KEY_USAGE,
        QC_STATEMENTS,
        FRESHEST_CRL,
        SUBJECT_INFO_ACCESS,
    ];
}

/// A parsed X.509 certificate.
#[derive(Debug)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: Range<usize>,
    pub(crate) cert: x509_cert::Certificate,
    key: OnceLock<Result<PublicKey, Refusal>>,
}

impl Certificate {
    /// Decodes one DER certificate (nothing may follow it).
    pub fn from_der(der: &[u8]) -> Result<Certificate, der::Error> {
        let cert = x509_cert::Certificate::from_der(der)?;
        let tbs = tlv::first_child_of_sequence(der).ok_or(der::ErrorKind::Failed)?;
        // `tbs` is a subslice of `der`: its offset is the header length of the outer SEQUENCE.
        let start = tbs.as_ptr() as usize - der.as_ptr() as usize;
        Ok(Certificate {
            der: der.to_vec(),
            tbs: start..start + tbs.len(),
            cert,
            key: OnceLock::new(),
        })
    }

    /// The certificate's DER, as received.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub(crate) fn tbs_raw(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// The subject name.
    pub fn subject(&self) -> &Name {
        &self.cert.tbs_certificate.subject
    }

    /// The issuer name.
    pub fn issuer(&self) -> &Name {
        &self.cert.tbs_certificate.issuer
    }

    /// The serial number's bytes (big-endian, as encoded).
    pub fn serial(&self) -> &[u8] {
        self.cert.tbs_certificate.serial_number.as_bytes()
    }

    /// The kind of the subject key.
    pub fn key_kind(&self) -> KeyKind {
        KeyKind::of(&self.cert.tbs_certificate.subject_public_key_info)
    }

    /// notBefore and notAfter, seconds since the Unix epoch.
    pub(crate) fn validity(&self) -> (u64, u64) {
        let v = &self.cert.tbs_certificate.validity;
        (
            v.not_before.to_unix_duration().as_secs(),
            v.not_after.to_unix_duration().as_secs(),
        )
    }

    pub(crate) fn public_key(&self) -> Result<&PublicKey, Refusal> {
        self.key
            .get_or_init(|| {
                PublicKey::from_spki(&self.cert.tbs_certificate.subject_public_key_info)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The subjectPublicKey BIT STRING's bytes (what OCSP's issuerKeyHash hashes).
    pub(crate) fn public_key_bits(&self) -> &[u8] {
        self.cert
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
    }

    pub(crate) fn extensions(&self) -> &[Extension] {
        self.cert
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or_default()
    }

    pub(crate) fn extension(&self, oid: Oid) -> Option<&Extension> {
        self.extensions().iter().find(|e| e.extn_id == oid)
    }

    fn decoded<'a, T: Decode<'a>>(&'a self, oid: Oid) -> Option<Result<T, der::Error>> {
        self.extension(oid)
            .map(|e| T::from_der(e.extn_value.as_bytes()))
    }

    /// basicConstraints, `Err` when present but unreadable.
    pub(crate) fn basic_constraints(&self) -> Result<Option<BasicConstraints>, der::Error> {
        self.decoded(ext::BASIC_CONSTRAINTS).transpose()
    }

    pub(crate) fn key_usage(&self) -> Result<Option<KeyUsage>, der::Error> {
        self.decoded(ext::KEY_USAGE).transpose()
    }

    pub(crate) fn extended_key_usage(&self) -> Result<Option<ExtendedKeyUsage>, der::Error> {
        self.decoded(ext::EXTENDED_KEY_USAGE).transpose()
    }

    pub(crate) fn subject_key_id(&self) -> Option<Vec<u8>> {
        let ski: SubjectKeyIdentifier = self.decoded(ext::SUBJECT_KEY_ID)?.ok()?;
        Some(ski.0.as_bytes().to_vec())
    }

    pub(crate) fn authority_key_id(&self) -> Option<Vec<u8>> {
        let aki: AuthorityKeyIdentifier = self.decoded(ext::AUTHORITY_KEY_ID)?.ok()?;
        Some(aki.key_identifier?.as_bytes().to_vec())
    }

    /// The first critical extension not in [`ext::UNDERSTOOD`].
    pub(crate) fn unsupported_critical_extension(&self) -> Option<Oid> {
        self.extensions()
            .iter()
            .find(|e| e.critical && !ext::UNDERSTOOD.contains(&e.extn_id))
            .map(|e| e.extn_id)
    }

    /// Whether `issuer` may be this certificate's issuer by name and key identifier.
    pub(crate) fn names_as_issuer(&self, issuer: &Certificate) -> bool {
        if !same_name(self.issuer(), issuer.subject()) {
            return false;
        }
        match (self.authority_key_id(), issuer.subject_key_id()) {
            (Some(aki), Some(ski)) => aki == ski,
            _ => true,
        }
    }

    /// Whether `issuer`'s key signed this certificate (over its TBS bytes as received).
    pub fn is_signed_by(&self, issuer: &Certificate) -> Result<(), Refusal> {
        self.verify_signed_by(issuer)
            .map_err(|f| f.into_refusal(Refusal::IssuerSignatureInvalid))
    }

    /// Verifies this certificate's signature with `issuer`'s key, over the TBS bytes as received.
    pub(crate) fn verify_signed_by(&self, issuer: &Certificate) -> Result<(), Failure> {
        let tbs = &self.cert.tbs_certificate;
        if tbs.signature != self.cert.signature_algorithm {
            return Err(Failure::Mismatch);
        }
        let scheme = algorithm::x509_scheme(&self.cert.signature_algorithm)?;
        let key = issuer.public_key()?;
        let signature = self.cert.signature.as_bytes().ok_or(Failure::Mismatch)?;
        algorithm::verify(key, scheme, Framing::X509, self.tbs_raw(), signature)
    }

    /// Same DER: the same certificate.
    pub(crate) fn same_as(&self, other: &Certificate) -> bool {
        self.der == other.der
    }
}

/// Names compare by their DER; both sides went through the same decoder.
pub(crate) fn same_name(a: &Name, b: &Name) -> bool {
    a == b || matches!((a.to_der(), b.to_der()), (Ok(x), Ok(y)) if x == y)
}

/// Big-endian integer bytes without leading zeros, so serials compare by value.
pub(crate) fn trimmed(serial: &[u8]) -> &[u8] {
    let start = serial.iter().position(|b| *b != 0).unwrap_or(serial.len());
    &serial[start..]
}
