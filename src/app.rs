//! Wiring: the application state shared by handlers and workers, and `serve`.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::auth::TokenKeys;
use crate::commands::CommandBus;
use crate::config::ServeArgs;
use crate::db::Db;
use crate::media::MediaStorage;
use crate::otp_limit::OtpInitLimit;
use crate::reference::Reference;
use crate::signature::setup::Signatures;
use crate::signature::SignatureVerifier;
use crate::sms::dispatcher::Dispatcher;
use crate::sms::Gateway;
use crate::store::{Probe, Store};
use crate::workers::effects::EffectsWorker;

pub struct AppState {
    /// The database the list endpoints query (`api::lists` builds their SQL per backend).
    pub db: Db,
    /// Every other read and write of the handlers.
    pub store: Store,
    pub bus: Arc<CommandBus>,
    pub reference: Reference,
    pub keys: TokenKeys,
    pub verifier: Option<Arc<dyn SignatureVerifier>>,
    pub media: MediaStorage,
    pub ready_max_lag: i64,
    /// What `/health/ready` probes, on connections apart from the pool requests use.
    pub probe: Arc<dyn Probe>,
    /// The OTP service's per-phone limit on new codes, shared by every instance.
    pub otp_limit: OtpInitLimit,
}

/// The OTP key: configured, or derived from the JWT secret so that a default setup works.
pub fn otp_key(args: &ServeArgs, jwt_secret: &str) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    match &args.otp_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(jwt_secret.as_bytes())
                .expect("HMAC takes any key length");
            mac.update(b"ehealth-es otp key");
            mac.finalize().into_bytes().to_vec()
        }
    }
}

/// A running service: its address and the handle that stops it.
pub struct Running {
    pub addr: std::net::SocketAddr,
    pub shutdown: CancellationToken,
    pub handle: tokio::task::JoinHandle<()>,
}

/// Starts the HTTP server and the workers on an already migrated database.
pub async fn start(db: impl Into<Db>, args: &ServeArgs) -> anyhow::Result<Running> {
    let db: Db = db.into();
    let jwt_secret = args
        .jwt_secret
        .clone()
        .ok_or_else(|| anyhow::anyhow!("EHEALTH_JWT_SECRET is not set"))?;
    let mut signatures = Signatures::from_config(&args.signature).await?;
    let gateway = Gateway::from_setting(&args.sms_gateway).map_err(anyhow::Error::msg)?;
    let committed = Arc::new(Notify::new());
    let sms_wake = Arc::new(Notify::new());
    let bus = Arc::new(CommandBus::with_deadline(
        db.clone(),
        committed.clone(),
        args.request_timeout,
    ));
    let store = Store::new(&db);
    let probe = Store::new(&db.for_health(std::time::Duration::from_secs(1))).probe;
    let reference = Reference::new(store.reference.clone());
    let state = Arc::new(AppState {
        db: db.clone(),
        store: store.clone(),
        bus: bus.clone(),
        reference: reference.clone(),
        keys: TokenKeys::new(jwt_secret.as_bytes()),
        verifier: signatures.verifier.clone(),
        media: MediaStorage::new(&args.media_dir),
        ready_max_lag: args.ready_max_lag,
        probe: probe.clone(),
        otp_limit: OtpInitLimit::new(
            store.otp_claims.clone(),
            std::time::Duration::from_secs(args.otp_init_limit),
        ),
    });
    let shutdown = CancellationToken::new();
    signatures.spawn_refresh(shutdown.clone());
    tokio::spawn(crate::api::refresh_gauges(
        probe,
        bus.metrics(),
        shutdown.clone(),
    ));
    tokio::spawn({
        let (reference, shutdown) = (reference.clone(), shutdown.clone());
        async move { reference.watch(shutdown).await }
    });

    let workers_store = Store::new(&db.for_workers());
    let effects = EffectsWorker {
        feed: workers_store.feed.clone(),
        bus,
        reference,
        wake: committed,
        sms_wake: sms_wake.clone(),
    };
    let workers = args.workers;
    let effects_task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            if workers {
                effects.run(shutdown).await
            }
        }
    });
    let dispatcher = Dispatcher {
        outbox: workers_store.sms_outbox,
        gateway,
        otp_key: otp_key(args, &jwt_secret),
        otp_send_timeout: std::time::Duration::from_secs(args.otp_send_timeout),
        wake: sms_wake,
    };
    let sms_task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            if workers {
                dispatcher.run(shutdown).await
            }
        }
    });

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let router = crate::api::router(state, args.body_limit, args.request_timeout);
    let stop = shutdown.clone();
    let handle = tokio::spawn(async move {
        let server = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stop.cancelled().await });
        if let Err(err) = server.await {
            tracing::error!(error = %err, "http server failed");
        }
        // In-flight requests have finished; let the workers end at a checkpoint.
        let _ = effects_task.await;
        let _ = sms_task.await;
    });
    tracing::info!(%addr, "ehealth-es listening");
    Ok(Running {
        addr,
        shutdown,
        handle,
    })
}
