//! The server in process, with an injected clock: expiry without waiting, and the faults a real
//! part cannot be made to show on demand (a failing store, every request slot taken).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

#[path = "support/loopback.rs"]
mod loopback;
#[path = "support/sdk_calls.rs"]
mod sdk_calls;
#[path = "support/sdk_client.rs"]
mod sdk_client;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_rekognition::types::LivenessSessionStatus;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use openliveness_auth::{Credential, StaticCredentials};
use openliveness_protocol::SessionId;
use openliveness_server::clock::{Clock, ManualClock};
use openliveness_server::config::{Config, FileConfig, Overrides};
use openliveness_server::AppState;
use openliveness_store::{
    Claim, Created, Finish, Finished, Lookup, NewSession, RedbStore, RedbStoreConfig, SessionStore,
    StoreError, Swept, UnixMillis,
};
use sdk_calls::{
    create_session, create_session_error, create_session_with_token, results, results_error,
};
use tower::ServiceExt;

const KEY: &str = "AKIDINPROCESS";
const SECRET: &str = "in-process-secret";

fn config(data_dir: &std::path::Path) -> Config {
    let overrides = Overrides {
        data_dir: Some(data_dir.to_owned()),
        ..Overrides::default()
    };
    let mut config = Config::resolve(FileConfig::default(), overrides).unwrap();
    config
        .credentials
        .push(Credential::new(KEY, SECRET, "111111111111"));
    config
}

struct Harness {
    state: Arc<AppState>,
    clock: Arc<ManualClock>,
    url: String,
    _dir: tempfile::TempDir,
}

/// 2026-01-01T00:00:00Z: the server and the SDK both read their time from one manual clock.
const START: u64 = 1_767_225_600;

async fn start(store: Option<Arc<dyn SessionStore>>) -> Harness {
    start_configured(store, |_| {}).await
}

/// [`start`] with the configuration adjusted first; the state mints client credentials.
async fn start_configured(
    store: Option<Arc<dyn SessionStore>>,
    adjust: impl FnOnce(&mut Config),
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    adjust(&mut config);
    let store = store.unwrap_or_else(|| {
        Arc::new(RedbStore::open(RedbStoreConfig::in_dir(dir.path())).unwrap())
            as Arc<dyn SessionStore>
    });
    let clock = Arc::new(ManualClock::starting_at(
        SystemTime::UNIX_EPOCH + Duration::from_secs(START),
    ));
    let credentials = Arc::new(StaticCredentials::new(config.credentials.clone()));
    let state = Arc::new(
        AppState::new(
            config,
            store,
            credentials,
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
        .with_client_credential_key(openliveness_auth::ClientCredentialKey::from_bytes([9; 32])),
    );
    let url = openliveness_server::local_url(loopback::serve(&state).await);
    Harness {
        state,
        clock,
        url,
        _dir: dir,
    }
}

impl Harness {
    fn client(&self) -> aws_sdk_rekognition::Client {
        sdk_client::client(&self.url, KEY, SECRET, &self.clock)
    }
}

#[tokio::test]
async fn sessions_expire_after_three_minutes_and_are_then_forgotten() {
    let harness = start(None).await;
    let client = harness.client();
    let id = create_session_with_token(&client, "t").await;

    harness.clock.advance(Duration::from_millis(179_999));
    assert_eq!(
        results(&client, &id).await.status,
        LivenessSessionStatus::Created
    );

    harness.clock.advance(Duration::from_millis(1));
    assert_eq!(
        results(&client, &id).await.status,
        LivenessSessionStatus::Expired
    );
    // The token is free again: the same token now makes a new session.
    let again = create_session_with_token(&client, "t").await;
    assert_ne!(again, id);

    // The sweep deletes the session's data; the caller still sees EXPIRED for an hour.
    openliveness_server::sweep_once(&harness.state)
        .await
        .unwrap();
    let session = SessionId::parse(&id).unwrap();
    let now = harness.clock.now_millis();
    assert_eq!(
        harness
            .state
            .store
            .get("111111111111", session, now)
            .await
            .unwrap(),
        Lookup::Expired
    );
    assert_eq!(
        results(&client, &id).await.status,
        LivenessSessionStatus::Expired
    );
    assert!(harness
        .state
        .metrics
        .render()
        .contains("openliveness_sessions_expired_total 1"));

    // After the retention the session is forgotten altogether.
    harness.clock.advance(Duration::from_secs(3600));
    let error = results_error(&client, &id).await;
    assert!(error.is_session_not_found_exception(), "{error:?}");
    let swept = harness
        .state
        .store
        .sweep(harness.clock.now_millis(), 100)
        .await
        .unwrap();
    assert_eq!(swept.purged, 1);
    assert_eq!(
        harness
            .state
            .store
            .get("111111111111", session, harness.clock.now_millis())
            .await
            .unwrap(),
        Lookup::NotFound
    );
}

#[tokio::test]
async fn every_request_slot_taken_gives_throttling_exception() {
    let harness = start(None).await;
    let permits = harness.state.config.limits.max_in_flight as u32;
    let _held = Arc::clone(&harness.state.in_flight)
        .acquire_many_owned(permits)
        .await
        .unwrap();
    let error = create_session_error(&harness.client()).await;
    assert!(error.is_throttling_exception(), "{error:?}");
}

/// A store that has lost its backend: the one fault a real embedded store cannot be made to show.
struct BrokenStore;

#[async_trait]
impl SessionStore for BrokenStore {
    async fn create(&self, _: NewSession) -> Result<Created, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn get(&self, _: &str, _: SessionId, _: UnixMillis) -> Result<Lookup, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn claim(&self, _: &str, _: SessionId, _: UnixMillis) -> Result<Claim, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn finish(
        &self,
        _: &str,
        _: SessionId,
        _: Finish,
        _: UnixMillis,
    ) -> Result<Finished, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn sweep(&self, _: UnixMillis, _: usize) -> Result<Swept, StoreError> {
        Err(StoreError::Unavailable("disk gone".into()))
    }
    async fn ready(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn a_failing_store_gives_internal_server_error_and_not_ready() {
    let harness = start(Some(Arc::new(BrokenStore))).await;
    let client = harness.client();
    let error = create_session_error(&client).await;
    assert!(error.is_internal_server_error(), "{error:?}");
    let error = results_error(&client, &SessionId::random().to_string()).await;
    assert!(error.is_internal_server_error(), "{error:?}");
    // Internal details stay in the log.
    assert!(!format!("{error:?}").contains("disk gone"));

    let response = openliveness_server::app(Arc::clone(&harness.state))
        .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let harness = start(None).await;
    create_session(&harness.client()).await;
    let app = openliveness_server::app(Arc::clone(&harness.state));
    for (path, status) in [
        ("/healthz", StatusCode::OK),
        ("/readyz", StatusCode::OK),
        ("/nowhere", StatusCode::NOT_FOUND),
    ] {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert!(
            response.headers().contains_key("x-amzn-requestid"),
            "{path}"
        );
    }
    let response = app
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        text.contains(
            r#"openliveness_requests_total{operation="CreateFaceLivenessSession",outcome="ok"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("openliveness_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("openliveness_sessions_created_total 1"),
        "{text}"
    );
}

/// Finding 3 of issue 22: a static file was read whole for every request, so each slow reader of
/// the 14 MB wasm held a copy of its own. Now each file is read once and every response shares
/// it: a change on disk is not seen until a restart, and a file over the limit is not served.
#[tokio::test]
async fn a_static_file_is_read_once_and_shared_by_every_response() {
    let harness = start_configured(None, |config| {
        config.web.root = config.data_dir.join("web");
    })
    .await;
    let state = Arc::clone(&harness.state);
    let web_root = state.config.web.root.clone();
    std::fs::create_dir_all(&web_root).unwrap();
    std::fs::write(web_root.join("app.js"), "first").unwrap();
    let large = std::fs::File::create(web_root.join("large.wasm")).unwrap();
    large
        .set_len(openliveness_server::web::MAX_STATIC_FILE_BYTES + 1)
        .unwrap();
    let get = |path: &'static str| {
        let app = openliveness_server::app(Arc::clone(&state));
        async move {
            let response = app
                .oneshot(Request::get(path).body(Body::empty()).unwrap())
                .await
                .unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, body)
        }
    };
    assert_eq!(get("/app.js").await, (StatusCode::OK, "first".into()));
    std::fs::write(web_root.join("app.js"), "second").unwrap();
    assert_eq!(get("/app.js").await, (StatusCode::OK, "first".into()));
    assert_eq!(get("/large.wasm").await.0, StatusCode::NOT_FOUND);
    // A file that appears later is served.
    std::fs::write(web_root.join("late.js"), "late").unwrap();
    assert_eq!(get("/late.js").await, (StatusCode::OK, "late".into()));
}

/// Finding 8 of issue 22: the `--demo` results route served any session of the first tenant,
/// and `POST /demo/session` was unthrottled (432 sessions in 2 s). Now the results route shows
/// only the demo's own sessions, and the demo creates at most a burst of ten sessions, then two
/// a second, for all its visitors together.
#[tokio::test]
async fn the_demo_shows_only_its_own_sessions_and_is_throttled() {
    let harness = start_configured(None, |config| config.web.demo = true).await;
    let state = Arc::clone(&harness.state);
    let call = |method: &'static str, path: String| {
        let app = openliveness_server::app(Arc::clone(&state));
        async move {
            let request = Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            (
                status,
                serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
            )
        }
    };
    let (status, demo) = call("POST", "/demo/session".to_owned()).await;
    assert_eq!(status, StatusCode::OK, "{demo}");
    let demo_id = demo["SessionId"].as_str().unwrap().to_owned();
    let (status, results) = call("GET", format!("/demo/session/{demo_id}/results")).await;
    assert_eq!(status, StatusCode::OK, "{results}");
    assert_eq!(results["Status"], "CREATED");

    // The same tenant's session, made by its app through the control plane.
    let other = create_session(&harness.client()).await;
    let (status, error) = call("GET", format!("/demo/session/{other}/results")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["__type"], "SessionNotFoundException", "{error}");

    // Nine more fit in the burst; the next is refused until time passes.
    for _ in 0..9 {
        assert_eq!(
            call("POST", "/demo/session".to_owned()).await.0,
            StatusCode::OK
        );
    }
    let (status, error) = call("POST", "/demo/session".to_owned()).await;
    // Rekognition's model gives ThrottlingException HTTP 500.
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{error}");
    assert_eq!(error["__type"], "ThrottlingException", "{error}");
    harness.clock.advance(Duration::from_secs(1));
    assert_eq!(
        call("POST", "/demo/session".to_owned()).await.0,
        StatusCode::OK
    );
}
