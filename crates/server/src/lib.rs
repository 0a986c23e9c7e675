//! The openliveness server: the HTTP surface of the Face Liveness API, its authentication,
//! health, metrics and the background sweep of expired sessions.
//!
//! The key decision: this crate is the only one that knows HTTP. It parses each request into an
//! endpoint, authenticates it, and calls the store, through one [`pipeline`] for every
//! authenticated endpoint; the wire types and their validation live in `openliveness-protocol`,
//! SigV4 in `openliveness-auth`, sessions in `openliveness-store`.
//! Everything a handler needs comes in one [`AppState`], built once, with the clock injected, so
//! that [`app`] can be served in process by tests with a [`clock::ManualClock`].

pub mod analysis;
pub mod bootstrap;
pub use openliveness_protocol::challenge;
pub mod call;
pub mod client_credentials;
pub mod clock;
pub mod config;
pub mod control;
pub mod listener;
pub mod metrics;
pub mod pipeline;
pub mod quota;
pub mod report;
pub mod streaming;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, post, MethodFilter};
use axum::Router;
use openliveness_auth::{ClientCredentialKey, CredentialStore, WithClientCredentials};
use openliveness_protocol::streaming as streaming_protocol;
use openliveness_protocol::{ApiError, ErrorCode};
use openliveness_store::{EvidenceStore, LocalEvidenceStore, SessionStore, StoreError};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::analysis::{Analyzer, EngineUnavailable};
use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::quota::Quotas;

/// Everything the handlers share.
pub struct AppState {
    pub config: Config,
    pub store: Arc<dyn SessionStore>,
    pub credentials: Arc<dyn CredentialStore>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    pub quotas: Quotas,
    pub in_flight: Arc<Semaphore>,
    /// Where stream evidence is kept until the session expires.
    pub evidence: Arc<dyn EvidenceStore>,
    /// What decides a session once its stream ended.
    pub analyzer: Arc<dyn Analyzer>,
    /// Where challenges get their randomness: the operating system's CSPRNG; tests inject a
    /// seeded generator (`with_challenge_random`).
    pub challenge_random: Arc<std::sync::Mutex<Box<dyn challenge::RandomSource + Send>>>,
    /// Signs session-scoped client credentials (`POST /v1/client-credentials`).
    pub client_credential_key: Option<ClientCredentialKey>,
    /// Output buckets and KMS keys (`Settings.OutputConfig`, `KmsKeyId`).
    pub output: Arc<openliveness_output::Output>,
    /// How many operator reports (`GET /v1/sessions/{id}/report`) may run the engine at once:
    /// one per core, so that they cannot starve streaming; past that, `ThrottlingException`.
    pub report_slots: Arc<Semaphore>,
    /// The web root's files, each read once and shared by every response.
    pub static_files: Arc<web::StaticFiles>,
    /// The `--demo` routes' throttle and the sessions they created.
    pub demo: Arc<web::Demo>,
    /// The streams open now, against `[limits] max_streams_per_tenant` and `max_streams`.
    pub stream_slots: Arc<quota::StreamSlots>,
}

impl AppState {
    pub fn new(
        config: Config,
        store: Arc<dyn SessionStore>,
        credentials: Arc<dyn CredentialStore>,
        clock: Arc<dyn Clock>,
    ) -> AppState {
        let quotas = Quotas::new(
            config.limits.tenant_requests_per_second,
            config.limits.tenant_burst,
        );
        let in_flight = Arc::new(Semaphore::new(config.limits.max_in_flight.max(1)));
        let evidence = Arc::new(LocalEvidenceStore::new(config.data_dir.join("evidence")));
        // `bootstrap::prepare` refuses a configuration that does not open; here it falls back to
        // the local default (a folder per bucket, no keys).
        let output = openliveness_output::Output::configured(
            &config.output,
            &config.kms,
            &config.data_dir,
        )
        .unwrap_or_else(|error| {
            tracing::error!(%error, "[output]/[kms] configuration unusable; using the defaults");
            openliveness_output::Output::local_default(&config.data_dir)
        });
        let static_files = Arc::new(web::StaticFiles::new(config.web.root.clone()));
        let stream_slots = Arc::new(quota::StreamSlots::new(
            config.limits.max_streams_per_tenant,
            config.limits.max_streams,
        ));
        AppState {
            config,
            store,
            credentials,
            clock,
            metrics: Metrics::new(),
            quotas,
            in_flight,
            evidence,
            analyzer: Arc::new(EngineUnavailable),
            challenge_random: Arc::new(std::sync::Mutex::new(Box::new(challenge::OsRandom))),
            client_credential_key: None,
            output: Arc::new(output),
            report_slots: Arc::new(Semaphore::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            )),
            static_files,
            demo: Arc::default(),
            stream_slots,
        }
    }

    /// The same state that mints client credentials with `key` and accepts them.
    pub fn with_client_credential_key(mut self, key: ClientCredentialKey) -> AppState {
        self.credentials = Arc::new(WithClientCredentials::new(self.credentials, key.clone()));
        self.client_credential_key = Some(key);
        self
    }

    /// The same state with another analyzer.
    pub fn with_challenge_random(
        mut self,
        random: impl challenge::RandomSource + Send + 'static,
    ) -> AppState {
        self.challenge_random = Arc::new(std::sync::Mutex::new(Box::new(random)));
        self
    }

    pub fn with_analyzer(mut self, analyzer: Arc<dyn Analyzer>) -> AppState {
        self.analyzer = analyzer;
        self
    }

    /// The same state with another image output and key provider.
    pub fn with_output(mut self, output: Arc<openliveness_output::Output>) -> AppState {
        self.output = output;
        self
    }
}

/// The id of one request: in `x-amzn-RequestId`, in error bodies (`Logref`) and in the logs.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The HTTP application.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .merge(pipeline::routes())
        .route("/", get(not_found))
        .merge(web::demo_routes(state.config.web.demo))
        .route(streaming_protocol::START_PATH, post(streaming::start_http))
        .route(
            streaming_protocol::START_WEBSOCKET_PATH,
            // GET for HTTP/1.1; CONNECT for WebSockets over HTTP/2 (RFC 8441), which Chromium
            // uses over TLS when the server offers it.
            on(
                MethodFilter::GET.or(MethodFilter::CONNECT),
                streaming::start_websocket,
            ),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(axum::middleware::from_fn(request_id))
        .with_state(state)
}

/// Gives every request an id, a tracing span and the `x-amzn-RequestId` header.
async fn request_id(mut request: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        tenant = tracing::field::Empty,
    );
    let mut response = tracing::Instrument::instrument(next.run(request), span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.store.ready().await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "session store unavailable\n",
        )
            .into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut response = state.metrics.render().into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

async fn not_found(State(state): State<Arc<AppState>>, request: Request) -> Response {
    if let Some(path) = web::static_path(&request) {
        if let Some(response) = web::static_file(&state, path).await {
            return response;
        }
    }
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .cloned()
        .unwrap_or(RequestId(String::new()));
    let error = ApiError::new(ErrorCode::UnknownOperationException, "No such resource");
    let mut response = control::error_response(&error, &request_id);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// Deletes the data of expired sessions and forgets old ones, until nothing is due now; then
/// the evidence written more than a session lifetime ago, which only expired sessions have (the
/// one way to find it when the store expires sessions by itself and names none, as Redis does).
pub async fn sweep_once(state: &AppState) -> Result<(), StoreError> {
    const BATCH: usize = 1000;
    let now = state.clock.now_millis();
    loop {
        let swept = state.store.sweep(now, BATCH).await?;
        state.metrics.sessions_expired.inc_by(swept.expired as u64);
        for id in &swept.expired_ids {
            state.evidence.delete(*id).await?;
        }
        if swept.expired + swept.purged > 0 {
            tracing::debug!(
                expired = swept.expired,
                purged = swept.purged,
                "swept sessions"
            );
        }
        if !swept.more {
            break;
        }
    }
    let lifetime = u64::try_from(state.config.session_ttl.as_millis()).unwrap_or(u64::MAX);
    let deleted = state
        .evidence
        .delete_written_before(now.saturating_sub(lifetime))
        .await?;
    if deleted > 0 {
        tracing::debug!(deleted, "deleted the evidence of expired sessions");
    }
    Ok(())
}

/// Runs [`sweep_once`] every `sweep_interval`, for ever.
pub async fn run_sweeper(state: Arc<AppState>) {
    let mut interval = tokio::time::interval(state.config.sweep_interval);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if let Err(error) = sweep_once(&state).await {
            tracing::warn!(%error, "sweeping expired sessions failed");
        }
    }
}

/// Serves `state` on `listener` until `shutdown` completes, with the sweeper running: plain
/// HTTP/1.1 and h2c (unless the configuration's `require_tls`), and TLS on the same port when
/// `tls` is given (see [`listener`]).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let sweeper = tokio::spawn(run_sweeper(Arc::clone(&state)));
    let plain = if state.config.require_tls && tls.is_some() {
        listener::PlainHttp::Refused
    } else {
        listener::PlainHttp::Served
    };
    let result = listener::serve_connections(listener, app(state), tls, plain, shutdown).await;
    sweeper.abort();
    result
}

/// The address a listener is bound to, as clients should use it.
pub fn local_url(address: SocketAddr) -> String {
    format!("http://{address}")
}
