//! The control plane: `POST /` with `X-Amz-Target`, awsJson1_1.
//!
//! Each request first goes through the [`crate::pipeline`] (request slot, body size limit,
//! authentication, operation, permission, quota); then its operation here checks the JSON shape,
//! the model's constraints, and does its work. The awsJson1_1 rendering of every error is here
//! too ([`error_response`]).

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use openliveness_auth::{AuthError, TenantId};
use openliveness_protocol::{
    self as protocol, ApiError, CreateFaceLivenessSessionRequest,
    CreateFaceLivenessSessionResponse, ErrorCode, GetFaceLivenessSessionResultsRequest,
    GetFaceLivenessSessionResultsResponse, LivenessSessionStatus,
};
use openliveness_store::{Lookup, NewSession, SessionRecord, StoreError};

use crate::{AppState, RequestId};

/// The content type of every awsJson1_1 response.
pub const AWS_JSON: &str = "application/x-amz-json-1.1";

/// The SigV4 service name of the control plane.
pub const SERVICE: &str = "rekognition";

/// The front door's answer to a request that failed authentication.
pub fn auth_error(error: AuthError) -> ApiError {
    match error {
        AuthError::Missing => ApiError::of(ErrorCode::MissingAuthenticationTokenException),
        AuthError::Incomplete(message) => {
            ApiError::new(ErrorCode::IncompleteSignatureException, message)
        }
        AuthError::UnrecognizedClient => ApiError::of(ErrorCode::UnrecognizedClientException),
        AuthError::InvalidSignature(message) => {
            ApiError::new(ErrorCode::InvalidSignatureException, message)
        }
        AuthError::ExpiredToken => ApiError::of(ErrorCode::ExpiredTokenException),
    }
}

fn internal(error: StoreError) -> ApiError {
    tracing::error!(%error, "session store failed");
    ApiError::of(ErrorCode::InternalServerError)
}

pub(crate) async fn create(
    state: &AppState,
    tenant: &TenantId,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let request: CreateFaceLivenessSessionRequest = protocol::decode(body)?;
    let (settings, client_request_token) = protocol::validate_create(&request)?;
    state
        .output
        .check_create(tenant.as_str(), &settings)
        .await?;
    let now = state.clock.now_millis();
    let expires_at = now.saturating_add(millis(state.config.session_ttl));
    let session = NewSession {
        id: protocol::SessionId::random(),
        tenant: tenant.as_str().to_owned(),
        client_request_token,
        settings,
        created_at: now,
        expires_at,
        purge_at: expires_at.saturating_add(millis(state.config.expired_retention)),
    };
    let created = state.store.create(session).await.map_err(internal)?;
    if created.is_new {
        state.metrics.sessions_created.inc();
        // One line per Create is the hot path's largest cost in the log at `info`.
        tracing::debug!(session_id = %created.id, "session created");
    }
    Ok(protocol::encode(&CreateFaceLivenessSessionResponse {
        session_id: created.id.to_string(),
    }))
}

pub(crate) async fn get(
    state: &AppState,
    tenant: &TenantId,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let request: GetFaceLivenessSessionResultsRequest = protocol::decode(body)?;
    let id = protocol::validate_get(&request)?;
    let lookup = state
        .store
        .get(tenant.as_str(), id, state.clock.now_millis())
        .await
        .map_err(internal)?;
    let response = match lookup {
        Lookup::Found(record) => {
            let mut response = results_of(*record);
            open_sealed_images(state, &mut response).await?;
            response
        }
        Lookup::Expired => GetFaceLivenessSessionResultsResponse {
            session_id: id.to_string(),
            status: LivenessSessionStatus::Expired,
            confidence: None,
            reference_image: None,
            audit_images: None,
            challenge: None,
        },
        Lookup::NotFound => {
            return Err(ApiError::new(
                ErrorCode::SessionNotFoundException,
                format!("Session {id} not found"),
            ))
        }
    };
    Ok(protocol::encode(&response))
}

/// Images kept sealed under the session's KMS key (`KmsKeyId` without an output bucket) are
/// opened for the caller.
async fn open_sealed_images(
    state: &AppState,
    response: &mut GetFaceLivenessSessionResultsResponse,
) -> Result<(), ApiError> {
    let images = response
        .reference_image
        .iter_mut()
        .chain(response.audit_images.iter_mut().flatten())
        .collect();
    state.output.open_images(images).await.map_err(|error| {
        tracing::error!(%error, "could not open the session's sealed images");
        ApiError::of(ErrorCode::InternalServerError)
    })
}

/// What `GetFaceLivenessSessionResults` shows of a live session.
fn results_of(record: SessionRecord) -> GetFaceLivenessSessionResultsResponse {
    let result = record
        .result
        .filter(|_| record.status == LivenessSessionStatus::Succeeded);
    GetFaceLivenessSessionResultsResponse {
        session_id: record.id.to_string(),
        status: record.status,
        confidence: result.as_ref().and_then(|result| result.confidence),
        challenge: result.as_ref().and_then(|result| result.challenge.clone()),
        reference_image: result
            .as_ref()
            .and_then(|result| result.reference_image.clone()),
        audit_images: result.map(|result| result.audit_images),
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(AWS_JSON),
    );
    response
}

/// Renders an error in the awsJson1_1 shape: status, `x-amzn-ErrorType`, JSON body.
pub fn error_response(error: &ApiError, request_id: &RequestId) -> Response {
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json_response(status, error.to_json_body(&request_id.0));
    response.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static(error.code.name()),
    );
    response
}
