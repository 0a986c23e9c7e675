//! `POST /v1/client-credentials`: an app backend, signed with its own key (SigV4, like the control
//! plane), asks for session-scoped client credentials for one of its sessions, to hand to the
//! browser. They allow only `StartFaceLivenessSession` for that session and expire no later than
//! the session (see [`openliveness_auth::client`]).
//!
//! Served through the [`crate::pipeline`] as
//! [`Endpoint::CreateClientCredentials`](crate::pipeline::Endpoint): signed callers only (never
//! the anonymous tenant), with the permission `openliveness:CreateClientCredentials` (keys
//! without an `actions` list have it), within the tenant's quota; it takes no request slot and
//! is not counted in the request metrics.
//!
//! Request: `{"SessionId": "...", "DurationSeconds": 120}` (duration optional; at most the
//! session's remaining life). Response, shaped as STS's temporary credentials:
//! `{"SessionId": "...", "Credentials": {"AccessKeyId", "SecretAccessKey", "SessionToken",
//! "Expiration"}}` with `Expiration` in RFC 3339.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openliveness_auth::client::{self, ClientGrant};
use openliveness_auth::{ClientCredential, ClientCredentialKey, TenantId};
use openliveness_protocol::{ApiError, ErrorCode, LivenessSessionStatus, SessionId};
use openliveness_store::Lookup;
use serde::{Deserialize, Serialize};

use crate::call::Call;
use crate::AppState;

/// The path of the API.
pub const PATH: &str = "/v1/client-credentials";

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

/// Mints client credentials for the session the body names, of the caller's tenant.
pub(crate) async fn create(call: Call<'_>) -> Result<Vec<u8>, ApiError> {
    let request: MintRequest = serde_json::from_slice(&call.body).map_err(|_| {
        ApiError::new(
            ErrorCode::SerializationException,
            "Expected {\"SessionId\": string, \"DurationSeconds\": number (optional)}",
        )
    })?;
    let credential = mint_for_session(
        call.state,
        &call.tenant,
        &request.session_id,
        request.duration_seconds.map(Duration::from_secs),
    )
    .await?;
    let response = MintResponse {
        session_id: request.session_id,
        credentials: body_of(&credential),
    };
    Ok(serde_json::to_vec(&response).unwrap_or_default())
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
