//! Revocation status: CRLs from a folder or fetched from configured addresses, and OCSP when a
//! certificate's CRL is missing or stale. Refreshable while verifications run.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::certificate::{same_name, Certificate};
use crate::crl::{crls_from_bytes, Crl};
use crate::error::LoadError;
use crate::ocsp::{self, OcspSettings, OcspStatus};
use crate::trust::files_with_extensions;

/// Fetches a CRL by address (the service plugs its HTTP client in).
pub trait CrlFetcher {
    /// The CRL's bytes (DER or PEM), or why there are none.
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String>;
}

impl<F> CrlFetcher for F
where
    F: Fn(&str) -> Result<Vec<u8>, String>,
{
    fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        self(url)
    }
}

/// A certificate's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// A fresh CRL of its issuer (or an OCSP answer) does not list it.
    Good,
    /// A fresh CRL or an OCSP answer lists it.
    Revoked,
    /// No fresh CRL verified by the issuer and no OCSP answer.
    Unknown,
}

/// What a load or refresh did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// CRLs taken (new, or newer than the one held).
    pub loaded: usize,
    /// Sources that failed, with why.
    pub failures: Vec<String>,
}

impl fmt::Display for RefreshReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} CRLs loaded", self.loaded)?;
        if !self.failures.is_empty() {
            write!(f, "; failed: {}", self.failures.join("; "))?;
        }
        Ok(())
    }
}

/// CRLs held and where they come from, plus OCSP settings.
#[derive(Debug, Default)]
pub struct RevocationStore {
    crls: RwLock<Vec<Arc<Crl>>>,
    folder: Option<PathBuf>,
    urls: Vec<String>,
    ocsp: Option<OcspSettings>,
}

impl RevocationStore {
    /// No CRLs, no addresses, no OCSP: every status is unknown.
    pub fn new() -> RevocationStore {
        RevocationStore::default()
    }

    /// Reads the CRLs of `folder` (`.crl`, `.pem`, `.der` files, DER or PEM) and remembers the
    /// folder for [`RevocationStore::reload_folder`]. A file that is not a CRL is an error.
    pub fn with_folder(mut self, folder: &Path) -> Result<RevocationStore, LoadError> {
        self.folder = Some(folder.to_path_buf());
        let report = self.reload_folder()?;
        if let Some(failure) = report.failures.first() {
            return Err(LoadError(failure.clone()));
        }
        Ok(self)
    }

    /// Addresses [`RevocationStore::refresh`] fetches.
    pub fn with_urls(mut self, urls: Vec<String>) -> RevocationStore {
        self.urls = urls;
        self
    }

    /// OCSP for certificates without a fresh CRL.
    pub fn with_ocsp(mut self, settings: OcspSettings) -> RevocationStore {
        self.ocsp = Some(settings);
        self
    }

    /// Adds the CRLs in `bytes` (DER, or PEM blocks); a newer CRL of the same issuer replaces
    /// the older. Returns how many were taken.
    pub fn add(&self, bytes: &[u8]) -> Result<usize, LoadError> {
        let incoming = crls_from_bytes(bytes)?;
        let Ok(mut held) = self.crls.write() else {
            return Err(LoadError("CRL store poisoned".into()));
        };
        let mut taken = 0;
        for crl in incoming {
            if held.iter().any(|h| h.supersedes(&crl)) {
                continue;
            }
            held.retain(|h| !crl.supersedes(h));
            held.push(Arc::new(crl));
            taken += 1;
        }
        Ok(taken)
    }

    /// Reads the folder again (a CRL file that does not parse is reported, the rest taken).
    pub fn reload_folder(&self) -> Result<RefreshReport, LoadError> {
        let mut report = RefreshReport::default();
        let Some(folder) = &self.folder else {
            return Ok(report);
        };
        let mut paths = files_with_extensions(folder, &["crl", "pem", "der"])?;
        paths.sort();
        for path in paths {
            let outcome = std::fs::read(&path)
                .map_err(|e| LoadError(e.to_string()))
                .and_then(|bytes| self.add(&bytes));
            match outcome {
                Ok(n) => report.loaded += n,
                Err(e) => report.failures.push(format!("{}: {e}", path.display())),
            }
        }
        Ok(report)
    }

    /// Fetches every configured address and takes what parses; for a background task.
    pub fn refresh(&self, fetcher: &dyn CrlFetcher) -> RefreshReport {
        let mut report = RefreshReport::default();
        for url in &self.urls {
            match fetcher
                .fetch(url)
                .map_err(LoadError)
                .and_then(|b| self.add(&b))
            {
                Ok(n) => report.loaded += n,
                Err(e) => report.failures.push(format!("{url}: {e}")),
            }
        }
        report
    }

    /// CRLs held, and how many are fresh at `now`.
    pub fn summary(&self, now: std::time::SystemTime) -> (usize, usize) {
        let now = crate::time::to_secs(now);
        self.crls.read().map_or((0, 0), |held| {
            (
                held.len(),
                held.iter().filter(|c| c.fresh_at(now, 0)).count(),
            )
        })
    }

    /// The status of `certificate`, issued by `issuer`, at `now` (seconds).
    pub(crate) fn status(
        &self,
        certificate: &Certificate,
        issuer: &Certificate,
        now: u64,
        skew: u64,
    ) -> Status {
        let candidates: Vec<Arc<Crl>> = self.crls.read().map_or_else(
            |_| Vec::new(),
            |held| {
                held.iter()
                    .filter(|c| same_name(&c.issuer, certificate.issuer()))
                    .cloned()
                    .collect()
            },
        );
        let mut fresh_full = false;
        for crl in candidates {
            if !crl.fresh_at(now, skew) || !crl.signed_by(issuer) {
                continue;
            }
            if crl.lists(certificate.serial()) {
                return Status::Revoked;
            }
            fresh_full |= !crl.delta;
        }
        if fresh_full {
            return Status::Good;
        }
        match &self.ocsp {
            Some(settings) => match ocsp::status(settings, certificate, issuer, now, skew) {
                OcspStatus::Good => Status::Good,
                OcspStatus::Revoked => Status::Revoked,
                OcspStatus::Unknown => Status::Unknown,
            },
            None => Status::Unknown,
        }
    }
}
