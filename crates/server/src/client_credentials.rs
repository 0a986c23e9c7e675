//! `POST /v1/client-credentials`: an app backend, signed with its own key (SigV4, like the control
//! plane), asks for session-scoped client credentials for one of its sessions, to hand to the
//! browser. They allow only `StartFaceLivenessSession` for that session and expire no later than
//! the session (see [`openliveness_auth::client`]).
//!
//! Request: `{"SessionId": "...", "DurationSeconds": 120}` (duration optional; at most the
//! session's remaining life). Response, shaped as STS's temporary credentials:
//! `{"SessionId": "...", "Credentials": {"AccessKeyId", "SecretAccessKey", "SessionToken",
//! "Expiration"}}` with `Expiration` in RFC 3339.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use openliveness_auth::client::{self, ClientGrant};
use openliveness_auth::{ClientCredential, ClientCredentialKey, TenantId};
use openliveness_protocol::{ApiError, ErrorCode, LivenessSessionStatus, SessionId};
use openliveness_store::Lookup;
use serde::{Deserialize, Serialize};

use crate::control;
use crate::{AppState, RequestId};

/// The path of the API.
pub const PATH: &str = "/v1/client-credentials";
/// The action a backend key needs (keys without an `actions` list have it).
pub const ACTION: &str = "openliveness:CreateClientCredentials";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct MintRequest {
    session_id: String,
    duration_seconds: Option<u64>,
}

/// The credentials as the browser receives them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CredentialsBody {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// RFC 3339.
    pub expiration: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct MintResponse {
    session_id: String,
    credentials: CredentialsBody,
}

/// `POST /v1/client-credentials`.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let body = control::read_body(&headers, body, state.config.limits.max_body_bytes).await?;
        let caller = control::authenticate(&state, &method, &uri, &headers, &body)?;
        let principal = caller
            .principal
            .ok_or_else(|| ApiError::of(ErrorCode::MissingAuthenticationTokenException))?;
        if !principal.allows(ACTION) {
            return Err(ApiError::new(
                ErrorCode::AccessDeniedException,
                format!(
                    "User: {} is not authorized to perform: {ACTION}",
                    principal.access_key_id
                ),
            ));
        }
        if !state
            .quotas
            .try_acquire(principal.tenant.as_str(), state.clock.now_millis())
        {
            return Err(ApiError::of(
                ErrorCode::ProvisionedThroughputExceededException,
            ));
        }
        let request: MintRequest = serde_json::from_slice(&body).map_err(|_| {
            ApiError::new(
                ErrorCode::SerializationException,
                "Expected {\"SessionId\": string, \"DurationSeconds\": number (optional)}",
            )
        })?;
        let credential = mint_for_session(
            &state,
            &principal.tenant,
            &request.session_id,
            request.duration_seconds.map(Duration::from_secs),
        )
        .await?;
        Ok(MintResponse {
            session_id: request.session_id,
            credentials: body_of(&credential),
        })
    }
    .await;
    match result {
        Ok(response) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            serde_json::to_vec(&response).unwrap_or_default(),
        )
            .into_response(),
        Err(error) => {
            tracing::info!(code = error.code.name(), message = %error.message, "client credentials refused");
            control::error_response(&error, &request_id)
        }
    }
}

/// Mints client credentials for a `CREATED`, unexpired session of `tenant`, expiring after
/// `duration` or with the session, whichever is first.
pub async fn mint_for_session(
    state: &AppState,
    tenant: &TenantId,
    session_id: &str,
    duration: Option<Duration>,
) -> Result<ClientCredential, ApiError> {
    let key = state.client_credential_key.as_ref().ok_or_else(|| {
        tracing::error!("client credentials asked for, but no key is configured");
        ApiError::of(ErrorCode::InternalServerError)
    })?;
    let not_found = || {
        ApiError::new(
            ErrorCode::SessionNotFoundException,
            format!("Session {session_id} not found"),
        )
    };
    let id = SessionId::parse(session_id).ok_or_else(not_found)?;
    let now = state.clock.now_millis();
    let record = match state.store.get(tenant.as_str(), id, now).await {
        Ok(Lookup::Found(record)) => record,
        Ok(Lookup::Expired | Lookup::NotFound) => return Err(not_found()),
        Err(error) => {
            tracing::error!(%error, "session store failed");
            return Err(ApiError::of(ErrorCode::InternalServerError));
        }
    };
    if record.status != LivenessSessionStatus::Created {
        return Err(ApiError::new(
            ErrorCode::InvalidParameterException,
            format!(
                "Session {session_id} was already used (status {})",
                record.status.as_str()
            ),
        ));
    }
    let mut expires_at = record.expires_at;
    if let Some(duration) = duration {
        let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        expires_at = expires_at.min(now.saturating_add(millis.max(1000)));
    }
    mint(key, tenant, &record.id.to_string(), expires_at)
}

fn mint(
    key: &ClientCredentialKey,
    tenant: &TenantId,
    session_id: &str,
    expires_at_millis: u64,
) -> Result<ClientCredential, ApiError> {
    let mut nonce = [0u8; 10];
    let internal = |what: &str| {
        tracing::error!("{what}");
        ApiError::of(ErrorCode::InternalServerError)
    };
    getrandom::fill(&mut nonce).map_err(|_| internal("no randomness for client credentials"))?;
    let grant = ClientGrant {
        tenant: tenant.clone(),
        session_id: session_id.to_owned(),
        expires_at: UNIX_EPOCH + Duration::from_millis(expires_at_millis),
    };
    client::mint(key, &grant, nonce).map_err(|_| internal("tenant cannot be put in a token"))
}

/// The JSON the browser gets.
pub fn body_of(credential: &ClientCredential) -> CredentialsBody {
    CredentialsBody {
        access_key_id: credential.access_key_id.clone(),
        secret_access_key: credential.secret_access_key.expose().to_owned(),
        session_token: credential.session_token.expose().to_owned(),
        expiration: rfc3339(credential.expires_at),
    }
}

fn rfc3339(at: SystemTime) -> String {
    time::OffsetDateTime::from(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
