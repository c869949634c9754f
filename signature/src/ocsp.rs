//! OCSP (RFC 6960) for a certificate whose CRL is missing or stale: the request is built here,
//! sent by a transport the service provides, and the answer verified here.
//!
//! The answer must be a successful basic response signed by the issuer itself, by a delegated
//! responder the issuer certified for OCSPSigning (valid now), or by a configured responder
//! certificate; its entry must match the certificate's CertID (SHA-1, SHA-256 or GOST 34.311),
//! thisUpdate must not be in the future and nextUpdate (or thisUpdate + the maximum age) not past.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use der::asn1::{ObjectIdentifier as Oid, OctetString};
use der::{Decode, Encode};
use ehealth_dstu4145::Dke;
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    ResponderId, TbsRequest, Version,
};

use crate::algorithm::{self, Digest, Framing, KeyKind};
use crate::certificate::{ext, same_name, trimmed, Certificate};
use crate::chain::{self, Purpose};
use crate::tlv;

const ID_PKIX_OCSP_BASIC: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.1");

/// Sends a DER OCSPRequest by HTTP POST (`application/ocsp-request`) and returns the body.
/// Called synchronously from inside a verification: run verifications on a blocking thread.
pub trait OcspTransport: Send + Sync {
    /// The DER OCSPResponse, or why there is none.
    fn post(&self, url: &str, request: &[u8]) -> Result<Vec<u8>, String>;
}

impl<F> OcspTransport for F
where
    F: Fn(&str, &[u8]) -> Result<Vec<u8>, String> + Send + Sync,
{
    fn post(&self, url: &str, request: &[u8]) -> Result<Vec<u8>, String> {
        self(url, request)
    }
}

/// Where and how to ask.
#[derive(Clone)]
pub struct OcspSettings {
    /// The HTTP client.
    pub transport: Arc<dyn OcspTransport>,
    /// A responder for every certificate; `None` uses the certificate's AIA OCSP address.
    pub responder_url: Option<String>,
    /// Responder certificates trusted as configured (besides issuers and their delegates).
    pub trusted_responders: Vec<Arc<Certificate>>,
    /// How old an answer without nextUpdate may be.
    pub max_age: Duration,
}

impl fmt::Debug for OcspSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OcspSettings")
            .field("responder_url", &self.responder_url)
            .field("trusted_responders", &self.trusted_responders.len())
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

/// What OCSP says of a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OcspStatus {
    Good,
    Revoked,
    /// No usable answer: none configured, no address, transport error, or an answer that does
    /// not verify or does not cover the certificate.
    Unknown,
}

/// Asks about `certificate`, issued by `issuer`.
pub(crate) fn status(
    settings: &OcspSettings,
    certificate: &Certificate,
    issuer: &Certificate,
    now: u64,
    skew: u64,
) -> OcspStatus {
    let Some(url) = settings
        .responder_url
        .clone()
        .or_else(|| responder_address(certificate))
    else {
        return OcspStatus::Unknown;
    };
    let Some(request) = request_der(certificate, issuer) else {
        return OcspStatus::Unknown;
    };
    match settings.transport.post(&url, &request) {
        Ok(answer) => judge(settings, &answer, certificate, issuer, now, skew),
        Err(_) => OcspStatus::Unknown,
    }
}

fn responder_address(certificate: &Certificate) -> Option<String> {
    let aia: AuthorityInfoAccessSyntax = certificate
        .extension(ext::AUTHORITY_INFO_ACCESS)
        .and_then(|e| AuthorityInfoAccessSyntax::from_der(e.extn_value.as_bytes()).ok())?;
    aia.0.iter().find_map(|d| match &d.access_location {
        GeneralName::UniformResourceIdentifier(uri) if d.access_method == ext::AD_OCSP => {
            Some(uri.to_string())
        }
        _ => None,
    })
}

/// The CertID digest for an issuer: GOST 34.311 for DSTU 4145 issuers, SHA-1 otherwise
/// (RFC 5019's, which every responder answers).
fn request_digest(issuer: &Certificate) -> Digest {
    if issuer.key_kind() == KeyKind::Dstu4145 {
        Digest::Gost34311
    } else {
        Digest::Sha1
    }
}

fn cert_id(certificate: &Certificate, issuer: &Certificate, digest: Digest) -> Option<CertId> {
    let dke = Dke::DEFAULT;
    let name = certificate.issuer().to_der().ok()?;
    Some(CertId {
        hash_algorithm: AlgorithmIdentifierOwned {
            oid: digest.oid(),
            parameters: None,
        },
        issuer_name_hash: OctetString::new(digest.hash(&name, &dke).ok()?).ok()?,
        issuer_key_hash: OctetString::new(digest.hash(issuer.public_key_bits(), &dke).ok()?)
            .ok()?,
        serial_number: certificate.cert.tbs_certificate.serial_number.clone(),
    })
}

fn request_der(certificate: &Certificate, issuer: &Certificate) -> Option<Vec<u8>> {
    let request = OcspRequest {
        tbs_request: TbsRequest {
            version: Version::V1,
            requestor_name: None,
            request_list: vec![Request {
                req_cert: cert_id(certificate, issuer, request_digest(issuer))?,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    request.to_der().ok()
}

/// Verifies an OCSPResponse and reads the certificate's status from it.
pub(crate) fn judge(
    settings: &OcspSettings,
    answer: &[u8],
    certificate: &Certificate,
    issuer: &Certificate,
    now: u64,
    skew: u64,
) -> OcspStatus {
    judge_inner(settings, answer, certificate, issuer, now, skew).unwrap_or(OcspStatus::Unknown)
}

fn judge_inner(
    settings: &OcspSettings,
    answer: &[u8],
    certificate: &Certificate,
    issuer: &Certificate,
    now: u64,
    skew: u64,
) -> Option<OcspStatus> {
    let response = OcspResponse::from_der(answer).ok()?;
    if response.response_status != OcspResponseStatus::Successful {
        return None;
    }
    let bytes = response.response_bytes?;
    if bytes.response_type != ID_PKIX_OCSP_BASIC {
        return None;
    }
    let raw = bytes.response.as_bytes();
    let basic = BasicOcspResponse::from_der(raw).ok()?;
    let tbs = tlv::first_child_of_sequence(raw)?;
    let included: Vec<Certificate> = basic
        .certs
        .iter()
        .flatten()
        .filter_map(|c| Certificate::from_der(&c.to_der().ok()?).ok())
        .collect();
    let signer = responder(settings, &basic, &included, issuer, now)?;
    let scheme = algorithm::x509_scheme(&basic.signature_algorithm).ok()?;
    let signature = basic.signature.as_bytes()?;
    algorithm::verify(
        signer.public_key().ok()?,
        scheme,
        Framing::X509,
        tbs,
        signature,
    )
    .ok()?;

    let single = basic.tbs_response_data.responses.iter().find(|single| {
        Digest::from_oid_for_cert_id(&single.cert_id.hash_algorithm.oid)
            .ok()
            .and_then(|digest| cert_id(certificate, issuer, digest))
            .is_some_and(|expected| {
                expected.issuer_name_hash == single.cert_id.issuer_name_hash
                    && expected.issuer_key_hash == single.cert_id.issuer_key_hash
                    && trimmed(single.cert_id.serial_number.as_bytes())
                        == trimmed(certificate.serial())
            })
    })?;
    let this_update = single.this_update.0.to_unix_duration().as_secs();
    let fresh_until = match single.next_update {
        Some(next) => next.0.to_unix_duration().as_secs(),
        None => this_update.saturating_add(settings.max_age.as_secs()),
    };
    if this_update > now.saturating_add(skew) || now > fresh_until {
        return None;
    }
    match single.cert_status {
        CertStatus::Good(_) => Some(OcspStatus::Good),
        CertStatus::Revoked(_) => Some(OcspStatus::Revoked),
        CertStatus::Unknown(_) => None,
    }
}

/// The certificate whose key signed the response, if it may answer for `issuer`.
fn responder<'a>(
    settings: &'a OcspSettings,
    basic: &BasicOcspResponse,
    included: &'a [Certificate],
    issuer: &'a Certificate,
    now: u64,
) -> Option<&'a Certificate> {
    let named = |c: &Certificate| match &basic.tbs_response_data.responder_id {
        ResponderId::ByName(name) => same_name(name, c.subject()),
        ResponderId::ByKey(hash) => Digest::Sha1
            .hash(c.public_key_bits(), &Dke::DEFAULT)
            .is_ok_and(|h| h == hash.as_bytes()),
    };
    if named(issuer) {
        return Some(issuer);
    }
    if let Some(trusted) = settings.trusted_responders.iter().find(|c| named(c)) {
        return Some(trusted);
    }
    included.iter().find(|delegate| {
        named(delegate)
            && delegate.names_as_issuer(issuer)
            && delegate.verify_signed_by(issuer).is_ok()
            && chain::check_structure(&[delegate, issuer], Purpose::OcspSigning).is_ok()
            && chain::check_validity(
                &[delegate],
                now,
                crate::Refusal::Expired,
                crate::Refusal::Expired,
            )
            .is_ok()
    })
}
