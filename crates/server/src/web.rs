//! The browser client: its static files (`GET /` and below, from `[web] root`, by default the
//! built `web/dist`), and the demo routes that exist only with `--demo`.
//!
//! The demo routes are unauthenticated on purpose (anyone who can open the page can try it), so
//! they are off by default: `POST /demo/session` creates a session for the first configured
//! tenant and returns it with session-scoped client credentials; `GET /demo/session/{id}/results`
//! returns that tenant's `GetFaceLivenessSessionResults` for it, but only for a session the demo
//! created (the tenant's other sessions are not the demo's to show). The demo creates at most
//! [`DEMO_SESSIONS_PER_SECOND`] sessions a second (a burst of [`DEMO_BURST`]) across all its
//! visitors. A real app does both from its backend with its own key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use openliveness_protocol::{ApiError, ErrorCode};
use serde::Serialize;

use crate::client_credentials::{self, CredentialsBody};
use crate::{control, AppState, RequestId};

/// The region the page signs for (any region is accepted).
pub const DEMO_REGION: &str = "us-east-1";
/// How many sessions the demo creates a second, and at once, across all its visitors.
pub const DEMO_SESSIONS_PER_SECOND: f64 = 2.0;
pub const DEMO_BURST: f64 = 10.0;
/// How many of its sessions the demo remembers (the oldest are forgotten first; at the rate
/// above they have long expired by then).
const DEMO_REMEMBERED: usize = 4096;

/// What the demo routes keep: their throttle and the sessions they created.
pub struct Demo {
    throttle: crate::quota::Quotas,
    created: std::sync::Mutex<(
        std::collections::VecDeque<String>,
        std::collections::HashSet<String>,
    )>,
}

impl Default for Demo {
    fn default() -> Demo {
        Demo {
            throttle: crate::quota::Quotas::new(DEMO_SESSIONS_PER_SECOND, DEMO_BURST),
            created: std::sync::Mutex::default(),
        }
    }
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo").finish_non_exhaustive()
    }
}

impl Demo {
    fn remember(&self, session_id: &str) {
        let mut created = self
            .created
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (order, set) = &mut *created;
        if set.insert(session_id.to_owned()) {
            order.push_back(session_id.to_owned());
        }
        while order.len() > DEMO_REMEMBERED {
            if let Some(oldest) = order.pop_front() {
                set.remove(&oldest);
            }
        }
    }

    fn created(&self, session_id: &str) -> bool {
        self.created
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .1
            .contains(session_id)
    }
}

/// The demo routes, when `enabled`.
pub fn demo_routes(enabled: bool) -> Router<Arc<AppState>> {
    if !enabled {
        return Router::new();
    }
    Router::new()
        .route("/demo/session", post(demo_session))
        .route("/demo/session/{id}/results", get(demo_results))
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DemoSession {
    session_id: String,
    region: &'static str,
    credentials: CredentialsBody,
}

async fn demo_session(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
) -> Response {
    let result = async {
        let tenant = demo_tenant(&state)?;
        if !state
            .demo
            .throttle
            .try_acquire("demo", state.clock.now_millis())
        {
            return Err(ApiError::of(ErrorCode::ThrottlingException));
        }
        let created = control::create(&state, &tenant, b"{}").await?;
        let session_id = serde_json::from_slice::<serde_json::Value>(&created)
            .ok()
            .and_then(|value| value.get("SessionId")?.as_str().map(str::to_owned))
            .ok_or_else(|| ApiError::of(ErrorCode::InternalServerError))?;
        state.demo.remember(&session_id);
        let credential =
            client_credentials::mint_for_session(&state, &tenant, &session_id, None).await?;
        Ok(DemoSession {
            session_id,
            region: DEMO_REGION,
            credentials: client_credentials::body_of(&credential),
        })
    }
    .await;
    match result {
        Ok(body) => json(&body),
        Err(error) => control::error_response(&error, &request_id),
    }
}

async fn demo_results(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    UrlPath(id): UrlPath<String>,
) -> Response {
    let result = async {
        let tenant = demo_tenant(&state)?;
        if !state.demo.created(&id) {
            // The tenant's other sessions look as if they did not exist.
            return Err(ApiError::new(
                ErrorCode::SessionNotFoundException,
                format!("Session {id} not found"),
            ));
        }
        let body = serde_json::json!({ "SessionId": id }).to_string();
        control::get(&state, &tenant, body.as_bytes()).await
    }
    .await;
    match result {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(error) => control::error_response(&error, &request_id),
    }
}

fn demo_tenant(state: &AppState) -> Result<openliveness_auth::TenantId, ApiError> {
    state
        .config
        .credentials
        .first()
        .map(|credential| credential.tenant.clone())
        .ok_or_else(|| ApiError::new(ErrorCode::AccessDeniedException, "No tenant configured"))
}

fn json(body: &impl Serialize) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

/// The file under the web root a `GET` or `HEAD` asks for, if it can name one.
pub fn static_path(request: &Request) -> Option<PathBuf> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return None;
    }
    safe_relative_path(request.uri().path())
}

/// The largest file the web root serves (the page's largest, onnxruntime's wasm, is 14 MB).
pub const MAX_STATIC_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The web root's files: each is read from disk the first time it is asked for and then kept,
/// every response sharing the one copy (read per request, a large file cost a copy per slow
/// reader). A file changed on disk is served as first read until the server restarts; a missing
/// file is looked for again each time.
#[derive(Debug)]
pub struct StaticFiles {
    root: PathBuf,
    loaded: tokio::sync::Mutex<std::collections::HashMap<PathBuf, axum::body::Bytes>>,
}

impl StaticFiles {
    pub fn new(root: PathBuf) -> StaticFiles {
        StaticFiles {
            root,
            loaded: tokio::sync::Mutex::default(),
        }
    }

    /// The file at `relative` under the root, if it is a file of at most
    /// [`MAX_STATIC_FILE_BYTES`]. The first readers of a file wait for one read of it.
    pub async fn get(&self, relative: &Path) -> Option<axum::body::Bytes> {
        let mut loaded = self.loaded.lock().await;
        if let Some(bytes) = loaded.get(relative) {
            return Some(bytes.clone());
        }
        let path = self.root.join(relative);
        let metadata = tokio::fs::metadata(&path).await.ok()?;
        if !metadata.is_file() || metadata.len() > MAX_STATIC_FILE_BYTES {
            return None;
        }
        let bytes = axum::body::Bytes::from(tokio::fs::read(&path).await.ok()?);
        loaded.insert(relative.to_owned(), bytes.clone());
        Some(bytes)
    }
}

/// The static file at `relative` under the web root, if there is one.
pub async fn static_file(state: &AppState, relative: PathBuf) -> Option<Response> {
    let bytes = state.static_files.get(&relative).await?;
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type(&relative));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    Some(response)
}

/// `/` is `index.html`; anything with an empty, dot-leading or encoded segment is refused.
fn safe_relative_path(url_path: &str) -> Option<PathBuf> {
    let trimmed = url_path.strip_prefix('/')?;
    if trimmed.is_empty() {
        return Some(PathBuf::from("index.html"));
    }
    let mut path = PathBuf::new();
    for segment in trimmed.split('/') {
        let ok = !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok {
            return None;
        }
        path.push(segment);
    }
    Some(path)
}

fn content_type(path: &Path) -> HeaderValue {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    HeaderValue::from_static(match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_served() {
        let check = |url: &str, expected: Option<&str>| {
            assert_eq!(
                safe_relative_path(url),
                expected.map(PathBuf::from),
                "{url}"
            );
        };
        check("/", Some("index.html"));
        check("/app.js", Some("app.js"));
        check("/models/face.onnx", Some("models/face.onnx"));
        check("/../etc/passwd", None);
        check("/a/../../b", None);
        check("/.git/config", None);
        check("//etc/passwd", None);
        check("/a%2f..", None);
        check("/a\\b", None);
        check("relative", None);
    }
}
