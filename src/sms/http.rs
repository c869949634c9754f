//! The HTTP gateway: `POST <url>` with `{id, phone_number, text}` and an `Idempotency-Key` of the
//! message id; any 2xx is delivered. A crash between the provider's answer and our commit resends
//! the same id, which the provider can deduplicate.

use std::time::Duration;

use super::{Delivery, SmsError, SmsGateway, SmsMessage};

#[derive(Debug, Clone)]
pub struct HttpGateway {
    url: String,
    client: reqwest::Client,
}

impl HttpGateway {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("static reqwest configuration is valid"),
        }
    }
}

impl SmsGateway for HttpGateway {
    async fn send(&self, message: &SmsMessage) -> Result<Delivery, SmsError> {
        let response = self
            .client
            .post(&self.url)
            .header("Idempotency-Key", message.id.to_string())
            .json(&serde_json::json!({
                "id": message.id,
                "phone_number": message.phone_number,
                "text": message.text,
            }))
            .send()
            .await
            .map_err(|e| SmsError::Failed(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(Delivery::default())
        } else {
            Err(SmsError::Failed(format!(
                "gateway answered {}",
                response.status()
            )))
        }
    }
}
