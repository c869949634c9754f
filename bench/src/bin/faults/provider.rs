//! A loopback SMS provider for the service's HTTP gateway (`EHEALTH_SMS_GATEWAY=http://…`). It
//! records every delivery with its `Idempotency-Key`, so the faults can tell a harmless redelivery
//! of the same message (a crash between the provider's answer and the outbox commit) from a real
//! duplicate (a second message for the same event).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

#[derive(Default)]
struct Inbox {
    /// Deliveries per Idempotency-Key (the outbox row id).
    by_key: HashMap<String, usize>,
    total: usize,
}

#[derive(Clone)]
pub struct Provider {
    pub url: String,
    inbox: Arc<Mutex<Inbox>>,
}

/// What the provider received so far.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub total: usize,
    pub by_key: HashMap<String, usize>,
}

async fn deliver(State(inbox): State<Arc<Mutex<Inbox>>>, headers: HeaderMap) -> StatusCode {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut inbox = inbox.lock().unwrap_or_else(|e| e.into_inner());
    inbox.total += 1;
    *inbox.by_key.entry(key).or_default() += 1;
    StatusCode::OK
}

impl Provider {
    pub async fn start() -> anyhow::Result<Provider> {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/sms", listener.local_addr()?);
        let app = Router::new()
            .route("/sms", post(deliver))
            .with_state(inbox.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Provider { url, inbox })
    }

    pub fn received(&self) -> Received {
        let inbox = self.inbox.lock().unwrap_or_else(|e| e.into_inner());
        Received {
            total: inbox.total,
            by_key: inbox.by_key.clone(),
        }
    }
}
