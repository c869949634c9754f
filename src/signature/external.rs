//! An external signature service behind the same trait: eHealth's DS API over HTTP
//! (`EHEALTH_SIGNATURE_SERVICE_URL`, the full address of its `digital_signatures` endpoint).
//! The service checks at its own time, with its own trust, timestamps and revocation data.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;

use super::ds_api::{read_answer, Request};
use super::{SignatureError, SignatureVerifier, SignedEnvelope};

/// How long the service may take; the request's own deadline (`EHEALTH_REQUEST_TIMEOUT`) is
/// usually shorter and ends the wait first.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct ExternalVerifier {
    client: reqwest::Client,
    url: String,
}

impl ExternalVerifier {
    /// A verifier asking the service at `url` (`http://` or `https://`).
    pub fn new(url: &str) -> anyhow::Result<ExternalVerifier> {
        let parsed =
            reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("`{url}` is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            anyhow::bail!("`{url}` is not an http(s) URL");
        }
        let client = reqwest::Client::builder().timeout(TIMEOUT).build()?;
        Ok(ExternalVerifier {
            client,
            url: url.to_owned(),
        })
    }
}

impl SignatureVerifier for ExternalVerifier {
    fn verify<'a>(
        &'a self,
        signed_data: &'a str,
        _at: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<SignedEnvelope, SignatureError>> {
        Box::pin(async move {
            let response = self
                .client
                .post(&self.url)
                .json(&Request::base64(signed_data))
                .send()
                .await
                .map_err(|e| SignatureError::Unavailable(e.to_string()))?;
            let status = response.status().as_u16();
            let body = response
                .bytes()
                .await
                .map_err(|e| SignatureError::Unavailable(e.to_string()))?;
            read_answer(status, &body)
        })
    }
}
