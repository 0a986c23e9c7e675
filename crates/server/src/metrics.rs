//! Prometheus metrics, served at `/metrics`.

use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The operation, or `unknown` when the request named none we serve.
    pub operation: &'static str,
    /// `ok`, or the error code the caller got.
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// How a stream ended: `succeeded`, `analysis_failed`, `refused`, `idle_timeout`,
    /// `session_expired`, `client_gone`.
    pub outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    pub operation: &'static str,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<OperationLabels, Histogram>,
    pub sessions_created: Counter,
    pub sessions_expired: Counter,
    pub in_flight: Gauge,
    pub streams_started: Counter,
    pub streams_active: Gauge,
    pub stream_bytes_received: Counter,
    pub stream_outcomes: Family<OutcomeLabels, Counter>,
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("openliveness");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Control-plane requests by operation and outcome",
            requests.clone(),
        );
        let latency = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            // 50 µs to about 1.6 s.
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        });
        registry.register(
            "request_duration_seconds",
            "Control-plane request latency by operation, from first byte to response",
            latency.clone(),
        );
        let sessions_created = Counter::default();
        registry.register(
            "sessions_created",
            "Sessions created",
            sessions_created.clone(),
        );
        let sessions_expired = Counter::default();
        registry.register(
            "sessions_expired",
            "Sessions whose data was deleted at expiry",
            sessions_expired.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "requests_in_flight",
            "Control-plane requests being served",
            in_flight.clone(),
        );
        let streams_started = Counter::default();
        registry.register(
            "streams_started",
            "Liveness streams accepted",
            streams_started.clone(),
        );
        let streams_active = Gauge::default();
        registry.register(
            "streams_active",
            "Liveness streams open now",
            streams_active.clone(),
        );
        let stream_bytes_received = Counter::default();
        registry.register(
            "stream_received_bytes",
            "Bytes received on liveness streams",
            stream_bytes_received.clone(),
        );
        let stream_outcomes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "stream_outcomes",
            "Liveness streams ended, by outcome",
            stream_outcomes.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            sessions_created,
            sessions_expired,
            in_flight,
            streams_started,
            streams_active,
            stream_bytes_received,
            stream_outcomes,
        }
    }

    /// Counts one control-plane request of `operation` that ended with `outcome` (`ok` or the
    /// error code), and its latency since `started`.
    pub fn finished(&self, operation: &'static str, outcome: &'static str, started: Instant) {
        self.requests
            .get_or_create(&RequestLabels { operation, outcome })
            .inc();
        self.latency
            .get_or_create(&OperationLabels { operation })
            .observe(started.elapsed().as_secs_f64());
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}
