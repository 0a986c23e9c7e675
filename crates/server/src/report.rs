//! `GET /v1/sessions/{SessionId}/report`: the operator's view of why a session was decided as
//! it was. The engine runs again on the session's stored evidence and the answer is its report,
//! the same JSON as `openliveness analyze DIR --json`: the confidence, the check that bounded
//! it, and every check's score, measurements and reason; `{"status": "FAILED", "reason": ...}`
//! for a session whose video could not be analysed.
//!
//! Served through the [`crate::pipeline`] as
//! [`Endpoint::GetFaceLivenessSessionReport`](crate::pipeline::Endpoint): authenticated as the
//! control plane is (SigV4 with service `rekognition`, or the anonymous tenant when enabled), then
//! the key's permission (`openliveness:GetFaceLivenessSessionReport`; keys without an `actions`
//! list have it) and the tenant's quota.
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

use axum::http::StatusCode;
use openliveness_protocol::{
    self as protocol, ApiError, ErrorCode, GetFaceLivenessSessionResultsRequest,
    LivenessSessionStatus,
};
use openliveness_store::Lookup;

use crate::call::{Call, Refusal};

/// The route.
pub const PATH: &str = "/v1/sessions/{session_id}/report";

/// The path of a session's report.
pub fn path_of(session_id: &str) -> String {
    format!("/v1/sessions/{session_id}/report")
}

/// The report on the session `call.path` names, as its own tenant's.
pub(crate) async fn report(call: Call<'_>) -> Result<Vec<u8>, Refusal> {
    let Call {
        state,
        tenant,
        path,
        ..
    } = call;
    // The model's constraints on a session id, with the message GetFaceLivenessSessionResults
    // gives; a segment that is not even UTF-8 fails them too.
    let session_id = path.get("session_id").unwrap_or_default().to_owned();
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
    Ok(crate::analysis::report_text(&report).into_bytes())
}

/// A failure of ours: logged with its detail, `InternalServerError` to the caller.
fn internal<E: std::fmt::Display>(what: &'static str) -> impl Fn(E) -> ApiError {
    move |error| {
        tracing::error!(%error, "{what}");
        ApiError::of(ErrorCode::InternalServerError)
    }
}
