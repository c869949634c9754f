//! SMS delivery. Messages are queued in the `sms_outbox` table by the effects worker and handed to
//! an [`SmsGateway`] by the [`dispatcher`]. The `log` gateway is the fake edge used in development
//! and tests; the HTTP gateway posts to a provider.

pub mod dispatcher;
mod http;
mod log;
pub mod otp_rules;

pub use http::HttpGateway;
pub use log::LogGateway;

/// One message to send. `id` is stable across retries, so a provider can deduplicate.
#[derive(Debug, Clone)]
pub struct SmsMessage {
    pub id: uuid::Uuid,
    pub phone_number: String,
    pub text: String,
}

/// What a gateway reports for a delivered message.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// The text as delivered, when the gateway is the fake phone and keeps it.
    pub recorded_text: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("sms gateway failed: {0}")]
    Failed(String),
}

pub trait SmsGateway: Send + Sync {
    fn send(
        &self,
        message: &SmsMessage,
    ) -> impl std::future::Future<Output = Result<Delivery, SmsError>> + Send;
}

/// The configured gateway (`EHEALTH_SMS_GATEWAY`): `log` or an HTTP URL.
#[derive(Clone)]
pub enum Gateway {
    Log(LogGateway),
    Http(HttpGateway),
}

impl Gateway {
    pub fn from_setting(setting: &str) -> Result<Self, String> {
        if setting == "log" {
            Ok(Gateway::Log(LogGateway))
        } else if setting.starts_with("http://") || setting.starts_with("https://") {
            Ok(Gateway::Http(HttpGateway::new(setting)))
        } else {
            Err(format!(
                "EHEALTH_SMS_GATEWAY must be `log` or an http(s) URL, got `{setting}`"
            ))
        }
    }
}

impl SmsGateway for Gateway {
    async fn send(&self, message: &SmsMessage) -> Result<Delivery, SmsError> {
        match self {
            Gateway::Log(g) => g.send(message).await,
            Gateway::Http(g) => g.send(message).await,
        }
    }
}
