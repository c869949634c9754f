//! Trust configuration: the anchors certificate paths end at, and the TSA certificates trusted
//! as configured. Loaded from PEM or DER files, folders of them, or a CMS bundle of CA
//! certificates (a SignedData with certificates only, as the Ukrainian central certification
//! authority publishes `CACertificates.p7b`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use crate::algorithm::KeyKind;
use crate::certificate::Certificate;
use crate::chain::{self, Purpose};
use crate::envelope;
use crate::error::{LoadError, Refusal};

/// Trust anchors and configured TSA certificates. Immutable once built; share it in an `Arc`.
#[derive(Debug, Default)]
pub struct TrustStore {
    pub(crate) anchors: Vec<Arc<Certificate>>,
    pub(crate) tsa: Vec<Arc<Certificate>>,
}

/// Certificates per key kind, for the service's log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KindCounts(pub BTreeMap<KeyKind, usize>);

impl KindCounts {
    fn of(certificates: &[Arc<Certificate>]) -> KindCounts {
        let mut counts = BTreeMap::new();
        for certificate in certificates {
            *counts.entry(certificate.key_kind()).or_insert(0) += 1;
        }
        KindCounts(counts)
    }

    /// All certificates counted.
    pub fn total(&self) -> usize {
        self.0.values().sum()
    }
}

impl fmt::Display for KindCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.total())?;
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(kind, n)| {
                let name = match kind {
                    KeyKind::Rsa => "RSA",
                    KeyKind::EcdsaP256 => "ECDSA P-256",
                    KeyKind::EcdsaP384 => "ECDSA P-384",
                    KeyKind::Dstu4145 => "DSTU 4145",
                    KeyKind::Unsupported => "unsupported",
                };
                format!("{name} {n}")
            })
            .collect();
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        Ok(())
    }
}

/// What a trust store holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustSummary {
    /// Trust anchors.
    pub anchors: KindCounts,
    /// TSA certificates trusted as configured.
    pub tsa: KindCounts,
}

impl fmt::Display for TrustSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "trust anchors: {}; TSA certificates: {}",
            self.anchors, self.tsa
        )
    }
}

impl TrustStore {
    /// An empty store (nothing verifies against it).
    pub fn new() -> TrustStore {
        TrustStore::default()
    }

    /// Adds anchors; a certificate already present is not added twice.
    pub fn add_anchors(&mut self, certificates: Vec<Certificate>) -> usize {
        add(&mut self.anchors, certificates)
    }

    /// Adds TSA certificates trusted as configured.
    pub fn add_tsa_certificates(&mut self, certificates: Vec<Certificate>) -> usize {
        add(&mut self.tsa, certificates)
    }

    /// What the store holds.
    pub fn summary(&self) -> TrustSummary {
        TrustSummary {
            anchors: KindCounts::of(&self.anchors),
            tsa: KindCounts::of(&self.tsa),
        }
    }

    /// The anchors.
    pub fn anchors(&self) -> &[Arc<Certificate>] {
        &self.anchors
    }

    /// Checks a certificate (a CA's, say) on its own: a path through `intermediates` to an
    /// anchor, its signatures and constraints, every certificate valid at `at`. Returns the
    /// path's length, anchor included.
    pub fn verify_certificate(
        &self,
        certificate: &Certificate,
        intermediates: &[&Certificate],
        at: SystemTime,
    ) -> Result<usize, Refusal> {
        let path = chain::build(certificate, intermediates, &self.anchors)?;
        chain::check_structure(&path, Purpose::Any)?;
        let at = crate::time::to_secs(at);
        chain::check_validity(&path, at, Refusal::NotYetValid, Refusal::Expired)?;
        Ok(path.len())
    }
}

fn add(into: &mut Vec<Arc<Certificate>>, certificates: Vec<Certificate>) -> usize {
    let mut added = 0;
    for certificate in certificates {
        if !into.iter().any(|c| c.same_as(&certificate)) {
            into.push(Arc::new(certificate));
            added += 1;
        }
    }
    added
}

/// The certificates in `bytes`: PEM (any number of `CERTIFICATE` or `PKCS7` blocks), one DER
/// certificate, or a DER CMS bundle.
pub fn certificates_from_bytes(bytes: &[u8]) -> Result<Vec<Certificate>, LoadError> {
    if let Some(blocks) = pem_blocks(bytes)? {
        let mut out = Vec::new();
        for (label, der) in blocks {
            match label.as_str() {
                "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                    out.push(certificate(&der)?)
                }
                "PKCS7" | "CMS" => out.extend(bundle(&der)?),
                _ => {}
            }
        }
        if out.is_empty() {
            return Err(LoadError("no certificate in the PEM".into()));
        }
        return Ok(out);
    }
    if envelope::is_signed_data(bytes) {
        return bundle(bytes);
    }
    Ok(vec![certificate(bytes)?])
}

fn certificate(der: &[u8]) -> Result<Certificate, LoadError> {
    Certificate::from_der(der).map_err(|e| LoadError(format!("not an X.509 certificate: {e}")))
}

/// The certificates of a SignedData (CA bundles carry no SignerInfo).
fn bundle(der: &[u8]) -> Result<Vec<Certificate>, LoadError> {
    let signed = envelope::parse(der)
        .map_err(|_| LoadError("not a CMS SignedData certificate bundle".into()))?;
    if signed.unreadable_certificates {
        return Err(LoadError(
            "a certificate in the CMS bundle cannot be read".into(),
        ));
    }
    Ok(signed.certificates)
}

/// A PEM block's label and DER.
pub(crate) type PemBlock = (String, Vec<u8>);

/// PEM blocks with their labels; `None` when `bytes` are not PEM.
pub(crate) fn pem_blocks(bytes: &[u8]) -> Result<Option<Vec<PemBlock>>, LoadError> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Ok(None);
    };
    if !text.contains("-----BEGIN ") {
        return Ok(None);
    }
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let end_marker = block
            .find("-----END ")
            .ok_or_else(|| LoadError("unterminated PEM block".into()))?;
        let close = block[end_marker + 9..]
            .find("-----")
            .ok_or_else(|| LoadError("unterminated PEM block".into()))?;
        let end = end_marker + 9 + close + 5;
        let (label, der) = der::pem::decode_vec(&block.as_bytes()[..end])
            .map_err(|e| LoadError(format!("invalid PEM: {e}")))?;
        blocks.push((label.to_owned(), der));
        rest = &block[end..];
    }
    Ok(Some(blocks))
}

/// The certificates of a file (see [`certificates_from_bytes`]).
pub fn certificates_from_file(path: &Path) -> Result<Vec<Certificate>, LoadError> {
    let bytes = std::fs::read(path)
        .map_err(|e| LoadError(format!("cannot read {}: {e}", path.display())))?;
    certificates_from_bytes(&bytes).map_err(|e| LoadError(format!("{}: {e}", path.display())))
}

/// The certificates of every `.cer`, `.crt`, `.pem`, `.der`, `.p7b` and `.p7c` file of a folder
/// (not recursive); other files are ignored, an unreadable certificate file is an error.
pub fn certificates_from_dir(dir: &Path) -> Result<Vec<Certificate>, LoadError> {
    let mut paths = files_with_extensions(dir, &["cer", "crt", "pem", "der", "p7b", "p7c"])?;
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        out.extend(certificates_from_file(&path)?);
    }
    Ok(out)
}

pub(crate) fn files_with_extensions(
    dir: &Path,
    extensions: &[&str],
) -> Result<Vec<std::path::PathBuf>, LoadError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| LoadError(format!("cannot read folder {}: {e}", dir.display())))?;
    let mut out = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| LoadError(format!("cannot read folder {}: {e}", dir.display())))?
            .path();
        let matches = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)));
        if matches && path.is_file() {
            out.push(path);
        }
    }
    Ok(out)
}
