//! The verifier the configuration asks for, and the background refresh of its revocation data:
//! the external signature service (`EHEALTH_SIGNATURE_SERVICE_URL`), or the built-in verifier over
//! `EHEALTH_TRUST_ANCHORS`, `EHEALTH_TSA_CERTIFICATES`, `EHEALTH_CRL_DIR`, `EHEALTH_CRL_URLS` and
//! `EHEALTH_OCSP_URL`, or none (recall answers 503).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use ehealth_signature::{
    certificates_from_dir, certificates_from_file, Certificate, OcspSettings, OcspTransport,
    RefreshReport, RevocationStore, Settings, TrustStore, Verifier,
};
use tokio_util::sync::CancellationToken;

use super::{identity, BuiltinVerifier, ExternalVerifier, SignatureVerifier};
use crate::config::SignatureArgs;

/// How long a fetch of a CRL or an OCSP answer may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// How old an OCSP answer without nextUpdate may be.
const OCSP_MAX_AGE: Duration = Duration::from_secs(3600);

/// The configured verifier, and what keeps its revocation data fresh.
pub struct Signatures {
    pub verifier: Option<Arc<dyn SignatureVerifier>>,
    refresh: Option<CrlRefresh>,
}

impl Signatures {
    /// Builds the verifier `args` describe and logs what it loaded; CRL addresses are fetched
    /// once before it answers. Unreadable trust or CRL files are an error: the service does not
    /// start with less trust data than it was given.
    pub async fn from_config(args: &SignatureArgs) -> anyhow::Result<Signatures> {
        if let Some(url) = &args.service_url {
            let local = args.trust_anchors.is_some()
                || args.tsa_certificates.is_some()
                || args.crl_dir.is_some()
                || !args.crl_urls.is_empty()
                || args.ocsp_url.is_some();
            if local {
                anyhow::bail!(
                    "EHEALTH_SIGNATURE_SERVICE_URL excludes the built-in verifier's settings \
                     (EHEALTH_TRUST_ANCHORS, EHEALTH_TSA_CERTIFICATES, EHEALTH_CRL_DIR, \
                     EHEALTH_CRL_URLS, EHEALTH_OCSP_URL): set one or the other"
                );
            }
            let external = ExternalVerifier::new(url).context("EHEALTH_SIGNATURE_SERVICE_URL")?;
            tracing::info!(service = %url, "signatures are verified by an external signature service");
            return Ok(Signatures {
                verifier: Some(Arc::new(external)),
                refresh: None,
            });
        }
        let Some(anchors) = &args.trust_anchors else {
            tracing::warn!("EHEALTH_TRUST_ANCHORS is not set: recall answers 503 until it is");
            return Ok(Signatures {
                verifier: None,
                refresh: None,
            });
        };
        let mut trust = TrustStore::new();
        let loaded = certificates(anchors).context("EHEALTH_TRUST_ANCHORS")?;
        if loaded.is_empty() {
            anyhow::bail!(
                "EHEALTH_TRUST_ANCHORS: no certificate in {}",
                anchors.display()
            );
        }
        trust.add_anchors(loaded);
        if let Some(tsa) = &args.tsa_certificates {
            trust.add_tsa_certificates(certificates(tsa).context("EHEALTH_TSA_CERTIFICATES")?);
        }

        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .context("HTTP client")?;
        let mut revocation = RevocationStore::new().with_urls(args.crl_urls.clone());
        if let Some(folder) = &args.crl_dir {
            revocation = revocation
                .with_folder(folder)
                .map_err(anyhow::Error::msg)
                .context("EHEALTH_CRL_DIR")?;
        }
        if let Some(url) = &args.ocsp_url {
            revocation = revocation.with_ocsp(OcspSettings {
                transport: Arc::new(HttpOcsp {
                    client: client.clone(),
                    runtime: tokio::runtime::Handle::current(),
                }),
                responder_url: (!url.eq_ignore_ascii_case("aia")).then(|| url.clone()),
                trusted_responders: Vec::new(),
                max_age: OCSP_MAX_AGE,
            });
        }
        let refresh = CrlRefresh {
            store: Arc::new(revocation),
            urls: args.crl_urls.clone(),
            folder: args.crl_dir.is_some(),
            client,
            every: args.crl_refresh,
        };
        let fetched = refresh.fetch_urls().await;
        let (crls, fresh) = refresh.store.summary(SystemTime::now());
        tracing::info!(
            trust = %trust.summary(),
            crls,
            fresh_crls = fresh,
            crl_urls = args.crl_urls.len(),
            crl_fetch = %fetched,
            ocsp = args.ocsp_url.as_deref().unwrap_or("off"),
            timestamp_required = args.timestamp_required,
            "signatures are verified by the built-in verifier"
        );
        if !args.timestamp_required {
            tracing::warn!(
                "EHEALTH_SIGNATURE_TIMESTAMP_REQUIRED=false: a signature without a timestamp is \
                 taken as made at the request's time"
            );
        }
        let settings = Settings {
            require_timestamp: args.timestamp_required,
            same_drfo: identity::same_drfo,
            ..Settings::default()
        };
        let verifier = Verifier::new(Arc::new(trust), refresh.store.clone(), settings);
        Ok(Signatures {
            verifier: Some(Arc::new(BuiltinVerifier::new(verifier))),
            refresh: Some(refresh),
        })
    }

    /// Refreshes the CRLs (folder and addresses) every `EHEALTH_CRL_REFRESH` until `shutdown`.
    pub fn spawn_refresh(&mut self, shutdown: CancellationToken) {
        let Some(refresh) = self.refresh.take() else {
            return;
        };
        if refresh.urls.is_empty() && !refresh.folder {
            return;
        }
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(refresh.every) => refresh.once().await,
                }
            }
        });
    }
}

/// The certificates of a file (PEM, DER or CMS bundle) or of every such file in a folder.
fn certificates(path: &Path) -> anyhow::Result<Vec<Certificate>> {
    let loaded = if path.is_dir() {
        certificates_from_dir(path)
    } else {
        certificates_from_file(path)
    };
    loaded.map_err(anyhow::Error::msg)
}

/// What refreshes the revocation store in place while verifications use it.
struct CrlRefresh {
    store: Arc<RevocationStore>,
    urls: Vec<String>,
    folder: bool,
    client: reqwest::Client,
    every: Duration,
}

impl CrlRefresh {
    async fn once(&self) {
        if self.folder {
            let store = self.store.clone();
            match tokio::task::spawn_blocking(move || store.reload_folder()).await {
                Ok(Ok(report)) => log_refresh("EHEALTH_CRL_DIR", &report),
                Ok(Err(error)) => tracing::warn!(%error, "EHEALTH_CRL_DIR cannot be read"),
                Err(error) => tracing::warn!(%error, "CRL folder reload failed"),
            }
        }
        if !self.urls.is_empty() {
            let report = self.fetch_urls().await;
            log_refresh("EHEALTH_CRL_URLS", &report);
        }
    }

    /// Fetches every address and keeps what parses (a newer CRL of an issuer replaces the older).
    async fn fetch_urls(&self) -> RefreshReport {
        let mut report = RefreshReport::default();
        for url in &self.urls {
            let taken = match fetch(&self.client, url).await {
                Ok(bytes) => self.store.add(&bytes).map_err(|e| e.to_string()),
                Err(error) => Err(error),
            };
            match taken {
                Ok(n) => report.loaded += n,
                Err(error) => report.failures.push(format!("{url}: {error}")),
            }
        }
        report
    }
}

fn log_refresh(source: &str, report: &RefreshReport) {
    if report.failures.is_empty() {
        tracing::info!(source, %report, "CRLs refreshed");
    } else {
        tracing::warn!(source, %report, "CRLs refreshed with failures");
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    Ok(response.bytes().await.map_err(|e| e.to_string())?.to_vec())
}

/// OCSP over HTTP POST. The verifier asks synchronously from the blocking pool, so the request
/// runs on the service's runtime and the blocking thread waits for it.
struct HttpOcsp {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl OcspTransport for HttpOcsp {
    fn post(&self, url: &str, request: &[u8]) -> Result<Vec<u8>, String> {
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/ocsp-request")
            .body(request.to_vec())
            .send();
        self.runtime.block_on(async {
            let response = sent.await.map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("HTTP {}", response.status()));
            }
            Ok(response.bytes().await.map_err(|e| e.to_string())?.to_vec())
        })
    }
}
