//! Prometheus metrics (`GET /metrics`): requests by route and status with latency histograms,
//! command outcomes, conflicts and retries, and — read at scrape time — the feed lag and the
//! number of pending jobs.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CommandLabels {
    pub aggregate: String,
    /// `committed`, `rejected`, `conflict` (retries ran out), `duplicate`, `unavailable`, `error`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AggregateLabels {
    pub aggregate: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms … ~4 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

pub struct Metrics {
    registry: Mutex<Registry>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    pub commands: Family<CommandLabels, Counter>,
    pub command_seconds: Family<AggregateLabels, Histogram, fn() -> Histogram>,
    pub conflict_retries: Family<AggregateLabels, Counter>,
    pub feed_lag: Gauge,
    /// Whether `feed_lag` holds a reading yet.
    feed_lag_read: std::sync::atomic::AtomicBool,
    pub jobs_pending: Gauge,
    /// 1 while database writes fail (see `db_health`), else 0.
    pub database_writes_failing: Gauge,
    /// Passes of the effects worker that processed events, and the events they processed (their
    /// ratio is the worker's batch size).
    pub effects_passes: Counter,
    pub effects_events: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ehealth");
        let requests = Family::<RequestLabels, Counter>::default();
        let request_seconds =
            Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
        let commands = Family::<CommandLabels, Counter>::default();
        let command_seconds =
            Family::<AggregateLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
        let conflict_retries = Family::<AggregateLabels, Counter>::default();
        let feed_lag = Gauge::default();
        let jobs_pending = Gauge::default();
        let database_writes_failing = Gauge::default();
        let effects_passes = Counter::default();
        let effects_events = Counter::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            request_seconds.clone(),
        );
        registry.register(
            "commands",
            "Commands by aggregate and outcome",
            commands.clone(),
        );
        registry.register(
            "command_duration_seconds",
            "Command latency, retries included",
            command_seconds.clone(),
        );
        registry.register(
            "command_conflict_retries",
            "Optimistic-lock conflicts retried",
            conflict_retries.clone(),
        );
        registry.register(
            "feed_lag_events",
            "Events the effects worker has not processed yet",
            feed_lag.clone(),
        );
        registry.register(
            "jobs_pending",
            "Jobs waiting for their processing",
            jobs_pending.clone(),
        );
        registry.register(
            "database_writes_failing",
            "1 while writes to the database fail (full, read-only, unreachable, out of time)",
            database_writes_failing.clone(),
        );
        registry.register(
            "effects_passes",
            "Passes of the effects worker that processed events",
            effects_passes.clone(),
        );
        registry.register(
            "effects_events",
            "Events processed by the effects worker",
            effects_events.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            request_seconds,
            commands,
            command_seconds,
            conflict_retries,
            feed_lag,
            feed_lag_read: Default::default(),
            jobs_pending,
            database_writes_failing,
            effects_passes,
            effects_events,
        }
    }
}

impl Metrics {
    /// Records a reading of the effects worker's lag.
    pub fn set_feed_lag(&self, lag: i64) {
        self.feed_lag.set(lag);
        self.feed_lag_read
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The last reading of the effects worker's lag, once there is one.
    pub fn feed_lag_known(&self) -> Option<i64> {
        self.feed_lag_read
            .load(std::sync::atomic::Ordering::Relaxed)
            .then(|| self.feed_lag.get())
    }

    pub fn command(&self, aggregate: &str, outcome: &str, seconds: f64) {
        self.commands
            .get_or_create(&CommandLabels {
                aggregate: aggregate.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.command_seconds
            .get_or_create(&AggregateLabels {
                aggregate: aggregate.to_string(),
            })
            .observe(seconds);
    }

    pub fn conflict_retry(&self, aggregate: &str) {
        self.conflict_retries
            .get_or_create(&AggregateLabels {
                aggregate: aggregate.to_string(),
            })
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }
}
