//! Certificate paths: from a certificate through the intermediates at hand to a trust anchor,
//! every signature verified, then the constraints a path must meet.
//!
//! Checked: each certificate's signature by the next over its TBS bytes as received (and the
//! inner and outer signature algorithms equal); every issuer a CA (basicConstraints cA, except a
//! trust anchor without the extension) whose keyUsage, when present, has keyCertSign; each
//! issuer's pathLenConstraint; no critical extension outside the understood set; the end
//! certificate's purpose (keyUsage digitalSignature or nonRepudiation for a signer, extended key
//! usage timeStamping for a TSA, OCSPSigning for a delegated OCSP responder). Not checked: name
//! constraints and policy constraints (refused when critical), certificate policies.

use std::sync::Arc;

use crate::algorithm::Failure;
use crate::certificate::{ext, Certificate};
use crate::error::Refusal;

/// Longest path tried, anchor included.
const MAX_DEPTH: usize = 8;

/// What the end certificate is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Signing,
    TimeStamping,
    OcspSigning,
    /// A CA certificate checked on its own (the trust-list tests).
    Any,
}

/// The path from `leaf` (first) to a trust anchor (last); the anchor is `leaf` itself when the
/// leaf is one.
pub(crate) fn build<'a>(
    leaf: &'a Certificate,
    intermediates: &[&'a Certificate],
    anchors: &'a [Arc<Certificate>],
) -> Result<Vec<&'a Certificate>, Refusal> {
    let mut path = vec![leaf];
    let mut failure = None;
    if extend(&mut path, intermediates, anchors, &mut failure) {
        Ok(path)
    } else {
        Err(failure.unwrap_or(Refusal::NoTrustedRoot))
    }
}

fn extend<'a>(
    path: &mut Vec<&'a Certificate>,
    pool: &[&'a Certificate],
    anchors: &'a [Arc<Certificate>],
    failure: &mut Option<Refusal>,
) -> bool {
    let Some(&current) = path.last() else {
        return false;
    };
    if anchors.iter().any(|a| a.same_as(current)) {
        return true;
    }
    if path.len() >= MAX_DEPTH {
        return false;
    }
    for anchor in anchors.iter().filter(|a| current.names_as_issuer(a)) {
        match current.verify_signed_by(anchor) {
            Ok(()) => {
                path.push(anchor);
                return true;
            }
            Err(error) => note(failure, error),
        }
    }
    for &candidate in pool {
        if !current.names_as_issuer(candidate) || path.iter().any(|p| p.same_as(candidate)) {
            continue;
        }
        match current.verify_signed_by(candidate) {
            Ok(()) => {
                path.push(candidate);
                if extend(path, pool, anchors, failure) {
                    return true;
                }
                path.pop();
            }
            Err(error) => note(failure, error),
        }
    }
    false
}

fn note(failure: &mut Option<Refusal>, error: Failure) {
    failure.get_or_insert(error.into_refusal(Refusal::IssuerSignatureInvalid));
}

/// The constraints of a built path (see the module documentation).
pub(crate) fn check_structure(path: &[&Certificate], purpose: Purpose) -> Result<(), Refusal> {
    for certificate in path {
        if let Some(oid) = certificate.unsupported_critical_extension() {
            return Err(Refusal::UnsupportedCriticalExtension(oid.to_string()));
        }
    }
    let top = path.len() - 1;
    for (i, issuer) in path.iter().enumerate().skip(1) {
        let constraints = issuer
            .basic_constraints()
            .map_err(|_| Refusal::IssuerNotCa)?;
        match constraints {
            Some(bc) if !bc.ca => return Err(Refusal::IssuerNotCa),
            Some(bc) => {
                // Intermediates between this issuer and the leaf, self-issued ones not counted.
                let below = path[1..i]
                    .iter()
                    .filter(|c| !crate::certificate::same_name(c.subject(), c.issuer()))
                    .count();
                if bc
                    .path_len_constraint
                    .is_some_and(|n| below > usize::from(n))
                {
                    return Err(Refusal::PathLengthExceeded);
                }
            }
            None if i == top => {}
            None => return Err(Refusal::IssuerNotCa),
        }
        match issuer.key_usage() {
            Ok(Some(usage)) if !usage.key_cert_sign() => return Err(Refusal::IssuerNotCa),
            Err(_) => return Err(Refusal::IssuerNotCa),
            _ => {}
        }
    }
    check_purpose(path[0], purpose)
}

fn check_purpose(leaf: &Certificate, purpose: Purpose) -> Result<(), Refusal> {
    let (wanted, refusal) = match purpose {
        Purpose::Any => return Ok(()),
        Purpose::Signing => {
            return match leaf.key_usage() {
                Ok(None) => Ok(()),
                Ok(Some(u)) if u.digital_signature() || u.non_repudiation() => Ok(()),
                _ => Err(Refusal::SignerKeyUsage),
            }
        }
        Purpose::TimeStamping => (ext::KP_TIME_STAMPING, Refusal::TsaNotTrusted),
        Purpose::OcspSigning => (ext::KP_OCSP_SIGNING, Refusal::RevocationUnknown),
    };
    match leaf.extended_key_usage() {
        Ok(Some(usages)) if usages.0.contains(&wanted) => Ok(()),
        _ => Err(refusal),
    }
}

/// Every certificate of the path is within its validity at `at` (seconds since the epoch);
/// otherwise `before` or `after` as the first one outside says.
pub(crate) fn check_validity(
    path: &[&Certificate],
    at: u64,
    before: Refusal,
    after: Refusal,
) -> Result<(), Refusal> {
    for certificate in path {
        let (not_before, not_after) = certificate.validity();
        if at < not_before {
            return Err(before);
        }
        if at > not_after {
            return Err(after);
        }
    }
    Ok(())
}
