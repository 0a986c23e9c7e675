//! `GET /v1/sessions/{SessionId}/report`: the operator's view of why a session was decided as
//! it was. The engine runs again on the session's stored evidence and the answer is its report,
//! the same JSON as `openliveness analyze DIR --json`: the confidence, the check that bounded
//! it, and every check's score, measurements and reason; `{"status": "FAILED", "reason": ...}`
//! for a session whose video could not be analysed.
//!
//! Authenticated as the control plane is, through the same code ([`control::authenticate`]:
//! SigV4 with service `rekognition`, or the anonymous tenant when enabled), then the key's
//! permission ([`ACTION`]; keys without an `actions` list have it) and the tenant's quota.
//! Errors are awsJson1_1-shaped, with REST statuses for the resource:
//! - a malformed id: 400 `InvalidParameterException` (the model's message, as
//!   `GetFaceLivenessSessionResults` gives it);
//! - another tenant's session, an unknown or expired one, or one whose evidence is gone: 404
//!   `SessionNotFoundException`, the very answer to an id that never existed (the code every
//!   other route answers for a missing session; the invariant that another tenant's session is
//!   indistinguishable from none holds here too);
//! - a session not decided yet (`CREATED`, `IN_PROGRESS`): 409 `InvalidParameterException`;
//! - every report slot busy: `ThrottlingException` at once, never a queue;
//! - no engine, the evidence unreadable or not opening under its KMS key: `InternalServerError`
//!   (the detail goes to the log).
//!
//! The analysis costs a few tenths of a second of CPU per session: it runs on a blocking thread, at most
//! [`AppState::report_slots`] at once (one per core), so that reports cannot starve streaming.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use openliveness_protocol::{
    self as protocol, ApiError, ErrorCode, GetFaceLivenessSessionResultsRequest,
    LivenessSessionStatus,
};
use openliveness_store::Lookup;

use crate::control;
use crate::{AppState, RequestId};

/// The route.
pub const PATH: &str = "/v1/sessions/{session_id}/report";
/// The operation's name in metrics and logs.
pub const OPERATION: &str = "GetFaceLivenessSessionReport";
/// The action a key needs (keys without an `actions` list have it).
pub const ACTION: &str = "openliveness:GetFaceLivenessSessionReport";

/// The path of a session's report.
pub fn path_of(session_id: &str) -> String {
    format!("/v1/sessions/{session_id}/report")
}

/// A refusal: the error, and the HTTP status when the resource's REST status differs from the
/// awsJson1_1 one (404 for a missing session, 409 for one not decided yet).
struct Refusal {
    error: ApiError,
    status: Option<StatusCode>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Refusal {
        Refusal {
            error,
            status: None,
        }
    }
}

/// `GET /v1/sessions/{SessionId}/report`.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    session_id: Result<Path<String>, PathRejection>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    state.metrics.in_flight.inc();
    let result = match state.in_flight.clone().try_acquire_owned() {
        Ok(_permit) => serve(&state, session_id, &method, &uri, &headers, body).await,
        Err(_) => Err(ApiError::of(ErrorCode::ThrottlingException).into()),
    };
    state.metrics.in_flight.dec();
    let outcome = match &result {
        Ok(_) => "ok",
        Err(refusal) => refusal.error.code.name(),
    };
    state.metrics.finished(OPERATION, outcome, started);
    match result {
        Ok(report) => {
            let mut response =
                (StatusCode::OK, crate::analysis::report_text(&report)).into_response();
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(Refusal { error, status }) => {
            tracing::info!(operation = OPERATION, code = error.code.name(), message = %error.message, "request refused");
            let mut response = control::error_response(&error, &request_id);
            if let Some(status) = status {
                *response.status_mut() = status;
            }
            response
        }
    }
}

async fn serve(
    state: &AppState,
    session_id: Result<Path<String>, PathRejection>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<serde_json::Value, Refusal> {
    let body = control::read_body(headers, body, state.config.limits.max_body_bytes).await?;
    let caller = control::authenticate(state, method, uri, headers, &body)?;
    if let Some(principal) = caller.principal.as_ref().filter(|p| !p.allows(ACTION)) {
        return Err(ApiError::new(
            ErrorCode::AccessDeniedException,
            format!(
                "User: {} is not authorized to perform: {ACTION}",
                principal.access_key_id
            ),
        )
        .into());
    }
    let tenant = caller.tenant;
    if !state
        .quotas
        .try_acquire(tenant.as_str(), state.clock.now_millis())
    {
        return Err(ApiError::of(ErrorCode::ProvisionedThroughputExceededException).into());
    }
    // The model's constraints on a session id, with the message GetFaceLivenessSessionResults
    // gives; a segment that is not even UTF-8 fails them too.
    let session_id = session_id.map(|Path(id)| id).unwrap_or_default();
    let id = protocol::validate_get(&GetFaceLivenessSessionResultsRequest {
        session_id: Some(session_id),
    })?;
    let not_found = || Refusal {
        error: ApiError::new(
            ErrorCode::SessionNotFoundException,
            format!("Session {id} not found"),
        ),
        status: Some(StatusCode::NOT_FOUND),
    };
    let record = match state
        .store
        .get(tenant.as_str(), id, state.clock.now_millis())
        .await
        .map_err(internal("session store failed"))?
    {
        Lookup::Found(record) => record,
        Lookup::Expired | Lookup::NotFound => return Err(not_found()),
    };
    if matches!(
        record.status,
        LivenessSessionStatus::Created | LivenessSessionStatus::InProgress
    ) {
        return Err(Refusal {
            error: ApiError::new(
                ErrorCode::InvalidParameterException,
                format!(
                    "Session {id} has not been decided yet (status {}): its report is available once it is SUCCEEDED or FAILED",
                    record.status.as_str()
                ),
            ),
            status: Some(StatusCode::CONFLICT),
        });
    }
    // Held until the analysis ends, even when the caller goes away before.
    let slot = Arc::clone(&state.report_slots)
        .try_acquire_owned()
        .map_err(|_| ApiError::of(ErrorCode::ThrottlingException))?;
    let evidence = match state
        .evidence
        .get(id)
        .await
        .map_err(internal("could not read the session's evidence"))?
    {
        Some(evidence) if evidence.session_id() == id && evidence.tenant() == record.tenant => {
            evidence
        }
        Some(_) => {
            tracing::warn!(session_id = %id, "evidence under this session's id names another session or tenant");
            return Err(not_found());
        }
        None => return Err(not_found()),
    };
    let evidence = state
        .output
        .open_evidence(evidence)
        .await
        .map_err(internal("could not open the session's sealed evidence"))?;
    let analyzer = Arc::clone(&state.analyzer);
    let report = tokio::task::spawn_blocking(move || {
        let report = analyzer.report(&evidence);
        drop(slot);
        report
    })
    .await
    .map_err(internal("the analysis crashed"))?
    .map_err(internal("no report"))?;
    Ok(report)
}

/// A failure of ours: logged with its detail, `InternalServerError` to the caller.
fn internal<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ApiError {
    move |error| {
        tracing::error!(%error, "{what}");
        ApiError::of(ErrorCode::InternalServerError)
    }
}
