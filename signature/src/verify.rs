//! The verifier: layer by layer, one signer each, every check of a signature in turn.
//!
//! Per signature, in this order (the first failure is the answer): the signer's certificate in
//! the envelope; the signature (messageDigest, contentType, signature value); the path to a
//! trust anchor and its constraints; the time (timestamp token, or the caller's time when the
//! settings allow); every certificate of the path valid at that time, and (as eHealth) not
//! expired at the verification time; revocation of every certificate below the anchor; the
//! signer's DRFO / EDRPOU sources agreeing.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::certificate::Certificate;
use crate::chain::{self, Purpose};
use crate::envelope::{self, SignedData, ID_CONTENT_TIMESTAMP, ID_SIGNATURE_TIMESTAMP};
use crate::error::{EnvelopeError, Refusal};
use crate::identity::{self, exact_drfo_match, DrfoMatcher};
use crate::report::{SignatureReport, TimeSource, Verified};
use crate::revocation::{RevocationStore, Status};
use crate::signer_info;
use crate::time::{from_secs, to_secs};
use crate::timestamp;
use crate::trust::TrustStore;

/// How strict a verification is.
#[derive(Clone, Debug)]
pub struct Settings {
    /// A timestamp token is required (eHealth: yes). Without one, the caller's time is used.
    pub require_timestamp: bool,
    /// Certificates must have a known, unrevoked status (CRL or OCSP). Off only for development.
    pub check_revocation: bool,
    /// Every certificate of the path must also be unexpired at the verification time, as
    /// eHealth checks ("certificate timestamp expired").
    pub require_valid_now: bool,
    /// Clock difference tolerated between the TSA, the CRL issuers and this service.
    pub clock_skew: Duration,
    /// Nested envelopes unwrapped at most.
    pub max_layers: usize,
    /// How two DRFO of one certificate are compared.
    pub same_drfo: DrfoMatcher,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            require_timestamp: true,
            check_revocation: true,
            require_valid_now: true,
            clock_skew: Duration::from_secs(300),
            max_layers: 4,
            same_drfo: exact_drfo_match,
        }
    }
}

/// Verifies envelopes against a trust store and revocation data. `Send + Sync`; share it.
#[derive(Debug)]
pub struct Verifier {
    trust: Arc<TrustStore>,
    revocation: Arc<RevocationStore>,
    settings: Settings,
}

impl Verifier {
    /// A verifier over `trust` and `revocation` (refreshable while in use).
    pub fn new(
        trust: Arc<TrustStore>,
        revocation: Arc<RevocationStore>,
        settings: Settings,
    ) -> Verifier {
        Verifier {
            trust,
            revocation,
            settings,
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// `signed_data` as clients send it: base64 of a DER CMS SignedData with attached content.
    pub fn verify_base64(
        &self,
        signed_data: &str,
        now: SystemTime,
    ) -> Result<Verified, EnvelopeError> {
        self.verify_der(&envelope::decode_base64(signed_data)?, now)
    }

    /// A DER CMS SignedData; nested SignedData contents are unwrapped and verified in turn.
    pub fn verify_der(&self, der: &[u8], now: SystemTime) -> Result<Verified, EnvelopeError> {
        let now = to_secs(now);
        let mut signatures = Vec::new();
        let mut layer = der.to_vec();
        loop {
            let signed = envelope::parse(&layer)?;
            let [signer] = signed.signer_infos.as_slice() else {
                return Err(EnvelopeError::SignerCount(signed.signer_infos.len()));
            };
            let content = signed
                .content
                .clone()
                .ok_or(EnvelopeError::ContentNotAttached)?;
            signatures.push(self.verify_signer(&signed, signer.as_ref(), &content, now));
            if !envelope::is_signed_data(&content) {
                return Ok(Verified {
                    content,
                    signatures,
                });
            }
            if signatures.len() >= self.settings.max_layers {
                return Err(EnvelopeError::TooDeep(self.settings.max_layers));
            }
            layer = content;
        }
    }

    fn verify_signer(
        &self,
        signed: &SignedData,
        signer: Option<&envelope::RawSignerInfo>,
        content: &[u8],
        now: u64,
    ) -> SignatureReport {
        let mut report = SignatureReport::new();
        let outcome = self.check(signed, signer, content, now, &mut report);
        report.finish(outcome)
    }

    fn check(
        &self,
        signed: &SignedData,
        signer: Option<&envelope::RawSignerInfo>,
        content: &[u8],
        now: u64,
        report: &mut SignatureReport,
    ) -> Result<(), Refusal> {
        let signer = signer.ok_or(Refusal::SignerCertificateUnreadable)?;
        let certificate = signed
            .certificates
            .iter()
            .find(|c| envelope::identifies(&signer.info.sid, c))
            .ok_or(if signed.unreadable_certificates {
                Refusal::SignerCertificateUnreadable
            } else {
                Refusal::SignerCertificateMissing
            })?;
        let (who, identity_refusal) = identity::signer_of(certificate, self.settings.same_drfo);
        report.signer = who;
        report.certificate = Some(certificate.der().to_vec());

        signer_info::verify(signer, certificate, content, signed.content_type)
            .map_err(|f| f.into_refusal(Refusal::SignatureInvalid))?;

        let others: Vec<&Certificate> = signed
            .certificates
            .iter()
            .filter(|c| !c.same_as(certificate))
            .collect();
        let path = chain::build(certificate, &others, &self.trust.anchors)?;
        chain::check_structure(&path, Purpose::Signing)?;

        let (at, source) = self.signing_time(signed, signer, content, &others, now)?;
        report.signing_time = Some(from_secs(at));
        report.time_source = Some(source);
        match source {
            TimeSource::Caller => {
                chain::check_validity(&path, at, Refusal::NotYetValid, Refusal::Expired)?
            }
            _ => chain::check_validity(
                &path,
                at,
                Refusal::NotValidAtTimestamp,
                Refusal::NotValidAtTimestamp,
            )?,
        }
        if self.settings.require_valid_now {
            chain::check_validity(&path, now, Refusal::NotYetValid, Refusal::Expired).or_else(
                |refusal| match refusal {
                    // Signed (and timestamped) before a certificate's notBefore is caught above;
                    // a verification clock behind the TSA's is not the signer's fault.
                    Refusal::NotYetValid if source != TimeSource::Caller => Ok(()),
                    other => Err(other),
                },
            )?;
        }
        if self.settings.check_revocation {
            let skew = self.settings.clock_skew.as_secs();
            for pair in path.windows(2) {
                match self.revocation.status(pair[0], pair[1], now, skew) {
                    Status::Good => {}
                    Status::Revoked => return Err(Refusal::Revoked),
                    Status::Unknown => return Err(Refusal::RevocationUnknown),
                }
            }
        }
        identity_refusal.map_or(Ok(()), Err)
    }

    /// The signature timestamp, else the content timestamp, else (when allowed) `now`.
    fn signing_time(
        &self,
        signed: &SignedData,
        signer: &envelope::RawSignerInfo,
        content: &[u8],
        others: &[&Certificate],
        now: u64,
    ) -> Result<(u64, TimeSource), Refusal> {
        let info = &signer.info;
        let skew = self.settings.clock_skew.as_secs();
        let mut extra: Vec<&Certificate> = signed.certificates.iter().collect();
        extra.extend_from_slice(others);
        let token = |attributes, oid| -> Result<Option<Vec<u8>>, Refusal> {
            let any = match envelope::single_attribute(attributes, oid) {
                Some(any) => any,
                None if attributes.is_some_and(|a| a.iter().any(|x| x.oid == oid)) => {
                    return Err(Refusal::TimestampUnreadable)
                }
                None => return Ok(None),
            };
            Ok(Some(
                der::Encode::to_der(any).map_err(|_| Refusal::TimestampUnreadable)?,
            ))
        };
        if let Some(der) = token(info.unsigned_attrs.as_ref(), ID_SIGNATURE_TIMESTAMP)? {
            let signature = info.signature.as_bytes();
            let at = timestamp::verify_token(&der, signature, &self.trust, &extra, now, skew)?;
            return Ok((at, TimeSource::SignatureTimestamp));
        }
        if let Some(der) = token(info.signed_attrs.as_ref(), ID_CONTENT_TIMESTAMP)? {
            let at = timestamp::verify_token(&der, content, &self.trust, &extra, now, skew)?;
            return Ok((at, TimeSource::ContentTimestamp));
        }
        if self.settings.require_timestamp {
            return Err(Refusal::NoTimestamp);
        }
        Ok((now, TimeSource::Caller))
    }
}
