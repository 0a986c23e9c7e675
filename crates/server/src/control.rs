//! The control plane: `POST /` with `X-Amz-Target`, awsJson1_1.
//!
//! Each request goes through the same steps, in this order, and the first that fails answers:
//! body size limit, authentication (SigV4 or the anonymous tenant), quotas, operation
//! (`X-Amz-Target`), JSON shape, model constraints, then the operation itself.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use openliveness_auth::{verify_header_auth, AuthError, HeaderRequest, Principal, TenantId};
use openliveness_protocol::{
    self as protocol, ApiError, CreateFaceLivenessSessionRequest,
    CreateFaceLivenessSessionResponse, ErrorCode, GetFaceLivenessSessionResultsRequest,
    GetFaceLivenessSessionResultsResponse, LivenessSessionStatus, Operation,
};
use openliveness_store::{Lookup, NewSession, SessionRecord, StoreError};

use crate::{AppState, RequestId};

/// The content type of every awsJson1_1 response.
pub const AWS_JSON: &str = "application/x-amz-json-1.1";

/// The SigV4 service name of the control plane.
pub const SERVICE: &str = "rekognition";

/// `POST /`.
pub async fn handle(
    State(state): State<Arc<AppState>>,
    Extension(request_id): Extension<RequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    state.metrics.in_flight.inc();
    let permit = state.in_flight.clone().try_acquire_owned();
    let (operation, result) = match permit {
        Ok(_permit) => serve(&state, &method, &uri, &headers, body).await,
        Err(_) => (
            operation_of(&headers),
            Err(ApiError::of(ErrorCode::ThrottlingException)),
        ),
    };
    state.metrics.in_flight.dec();
    let operation_name = operation.map_or("unknown", Operation::name);
    let outcome = match &result {
        Ok(_) => "ok",
        Err(error) => error.code.name(),
    };
    state.metrics.finished(operation_name, outcome, started);
    match result {
        Ok(body) => {
            tracing::debug!(operation = operation_name, "ok");
            json_response(StatusCode::OK, body)
        }
        Err(error) => {
            tracing::info!(operation = operation_name, code = error.code.name(), message = %error.message, "request refused");
            error_response(&error, &request_id)
        }
    }
}

fn operation_of(headers: &HeaderMap) -> Option<Operation> {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(Operation::from_target)
}

async fn serve(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> (Option<Operation>, Result<Vec<u8>, ApiError>) {
    let operation = operation_of(headers);
    let result = async {
        let body = read_body(headers, body, state.config.limits.max_body_bytes).await?;
        let caller = authenticate(state, method, uri, headers, &body)?;
        let operation = operation.ok_or_else(|| unknown_operation(headers))?;
        let action = format!("{SERVICE}:{}", operation.name());
        if let Some(principal) = caller.principal.as_ref().filter(|p| !p.allows(&action)) {
            return Err(ApiError::new(
                ErrorCode::AccessDeniedException,
                format!(
                    "User: {} is not authorized to perform: {action}",
                    principal.access_key_id
                ),
            ));
        }
        let tenant = caller.tenant;
        if !state
            .quotas
            .try_acquire(tenant.as_str(), state.clock.now_millis())
        {
            return Err(ApiError::of(
                ErrorCode::ProvisionedThroughputExceededException,
            ));
        }
        match operation {
            Operation::CreateFaceLivenessSession => create(state, &tenant, &body).await,
            Operation::GetFaceLivenessSessionResults => get(state, &tenant, &body).await,
        }
    }
    .await;
    (operation, result)
}

pub(crate) async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::RequestEntityTooLargeException,
            format!("Request body must be at most {limit} bytes"),
        )
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(error) => {
            let is_limit = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if is_limit {
                Err(too_large())
            } else {
                Err(ApiError::new(
                    ErrorCode::SerializationException,
                    "Request body could not be read",
                ))
            }
        }
    }
}

/// Who is calling: a verified key, or the anonymous tenant.
pub(crate) struct Caller {
    pub(crate) tenant: TenantId,
    /// `None` for an anonymous caller.
    pub(crate) principal: Option<Principal>,
}

pub(crate) fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Caller, ApiError> {
    let payload_hash = openliveness_auth::sigv4::sha256_hex(body);
    let request = HeaderRequest {
        method: method.as_str(),
        raw_path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers,
        authority: uri.authority().map(|authority| authority.as_str()),
        payload_hash: &payload_hash,
    };
    match verify_header_auth(
        &request,
        state.credentials.as_ref(),
        SERVICE,
        state.clock.now(),
    ) {
        Ok(principal) => {
            tracing::Span::current().record("tenant", principal.tenant.as_str());
            Ok(Caller {
                tenant: principal.tenant.clone(),
                principal: Some(principal),
            })
        }
        Err(AuthError::Missing) => match &state.config.anonymous_tenant {
            Some(tenant) => Ok(Caller {
                tenant: tenant.clone(),
                principal: None,
            }),
            None => Err(ApiError::of(ErrorCode::MissingAuthenticationTokenException)),
        },
        Err(error) => Err(auth_error(error)),
    }
}

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

fn unknown_operation(headers: &HeaderMap) -> ApiError {
    match headers.get("x-amz-target") {
        None => ApiError::new(
            ErrorCode::UnknownOperationException,
            "Missing X-Amz-Target header",
        ),
        Some(_) => ApiError::of(ErrorCode::UnknownOperationException),
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
