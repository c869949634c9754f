//! One CRL: decoded once, its revoked serials in a set, its signature verified (and the result
//! remembered) against the issuer a path brings.

use std::collections::HashSet;
use std::sync::Mutex;

use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use spki::AlgorithmIdentifierOwned;
use x509_cert::crl::CertificateList;
use x509_cert::name::Name;

use crate::algorithm::{self, Framing};
use crate::certificate::{trimmed, Certificate};
use crate::error::LoadError;
use crate::tlv;

const DELTA_CRL_INDICATOR: Oid = Oid::new_unwrap("2.5.29.27");

/// A decoded CRL.
#[derive(Debug)]
pub(crate) struct Crl {
    tbs: Vec<u8>,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: Vec<u8>,
    pub issuer: Name,
    pub this_update: u64,
    pub next_update: Option<u64>,
    pub delta: bool,
    revoked: HashSet<Vec<u8>>,
    /// Issuer keys (SubjectPublicKeyInfo DER) already tried, with the outcome.
    checked: Mutex<Vec<(Vec<u8>, bool)>>,
}

impl Crl {
    pub(crate) fn from_der(der: &[u8]) -> Result<Crl, LoadError> {
        let bad = |e: &dyn std::fmt::Display| LoadError(format!("not a CRL: {e}"));
        let list = CertificateList::from_der(der).map_err(|e| bad(&e))?;
        let tbs = tlv::first_child_of_sequence(der).ok_or_else(|| bad(&"no TBSCertList"))?;
        let tbs_list = &list.tbs_cert_list;
        if tbs_list.signature != list.signature_algorithm {
            return Err(bad(&"the inner and outer signature algorithms differ"));
        }
        let revoked = tbs_list
            .revoked_certificates
            .iter()
            .flatten()
            .map(|entry| trimmed(entry.serial_number.as_bytes()).to_vec())
            .collect();
        let delta = tbs_list
            .crl_extensions
            .iter()
            .flatten()
            .any(|e| e.extn_id == DELTA_CRL_INDICATOR);
        Ok(Crl {
            tbs: tbs.to_vec(),
            signature: list
                .signature
                .as_bytes()
                .ok_or_else(|| bad(&"signature with unused bits"))?
                .to_vec(),
            signature_algorithm: list.signature_algorithm.clone(),
            issuer: tbs_list.issuer.clone(),
            this_update: tbs_list.this_update.to_unix_duration().as_secs(),
            next_update: tbs_list.next_update.map(|t| t.to_unix_duration().as_secs()),
            delta,
            revoked,
            checked: Mutex::new(Vec::new()),
        })
    }

    pub(crate) fn lists(&self, serial: &[u8]) -> bool {
        self.revoked.contains(trimmed(serial))
    }

    /// Fresh at `now`: issued (within `skew`) and its nextUpdate not passed. A CRL without
    /// nextUpdate is never fresh.
    pub(crate) fn fresh_at(&self, now: u64, skew: u64) -> bool {
        self.this_update <= now.saturating_add(skew) && self.next_update.is_some_and(|n| now < n)
    }

    /// Signed by `issuer` (whose keyUsage, when present, must allow cRLSign).
    pub(crate) fn signed_by(&self, issuer: &Certificate) -> bool {
        let Ok(key_id) = issuer.cert.tbs_certificate.subject_public_key_info.to_der() else {
            return false;
        };
        if let Ok(checked) = self.checked.lock() {
            if let Some((_, ok)) = checked.iter().find(|(k, _)| *k == key_id) {
                return *ok;
            }
        }
        let allowed = !matches!(issuer.key_usage(), Ok(Some(u)) if !u.crl_sign())
            && issuer.key_usage().is_ok();
        let ok = allowed
            && algorithm::x509_scheme(&self.signature_algorithm)
                .ok()
                .zip(issuer.public_key().ok())
                .is_some_and(|(scheme, key)| {
                    algorithm::verify(key, scheme, Framing::X509, &self.tbs, &self.signature)
                        .is_ok()
                });
        if let Ok(mut checked) = self.checked.lock() {
            checked.push((key_id, ok));
        }
        ok
    }

    /// Same issuer and kind, and issued no earlier (a later nextUpdate breaking a tie).
    pub(crate) fn supersedes(&self, other: &Crl) -> bool {
        crate::certificate::same_name(&self.issuer, &other.issuer)
            && self.delta == other.delta
            && (self.this_update, self.next_update) >= (other.this_update, other.next_update)
    }
}

/// The CRLs in `bytes`: DER, or PEM with any number of `X509 CRL` blocks.
pub(crate) fn crls_from_bytes(bytes: &[u8]) -> Result<Vec<Crl>, LoadError> {
    match crate::trust::pem_blocks(bytes)? {
        Some(blocks) => {
            let crls: Vec<Crl> = blocks
                .iter()
                .filter(|(label, _)| label == "X509 CRL" || label == "CRL")
                .map(|(_, der)| Crl::from_der(der))
                .collect::<Result<_, _>>()?;
            if crls.is_empty() {
                return Err(LoadError("no CRL in the PEM".into()));
            }
            Ok(crls)
        }
        None => Ok(vec![Crl::from_der(bytes)?]),
    }
}
