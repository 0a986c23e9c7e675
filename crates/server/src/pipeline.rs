//! The authenticated endpoints and the one pipeline every request to them goes through.
//!
//! The key decision: an endpoint is a variant of the closed [`Endpoint`] enum and *declares*
//! everything in which it differs from the others ([`Declaration`]: its name in logs and metrics,
//! where its requests arrive, the permission a key needs, whether anonymous callers may use it,
//! whether it is counted); the steps they share are written once, here, in this order, and the
//! first that fails answers:
//!
//! 1. a request slot ([`AppState::in_flight`]) for a counted endpoint, else
//!    `ThrottlingException`; the request's count and latency ([`crate::metrics::Metrics::finished`]) and the
//!    in-flight gauge;
//! 2. the body, within `limits.max_body_bytes` (`RequestEntityTooLargeException`);
//! 3. SigV4 (service `rekognition`) or, unsigned, the anonymous tenant when one is configured;
//! 4. the endpoint itself: a control-plane request naming no operation we serve gets
//!    `UnknownOperationException` only now, so that an unauthenticated caller learns nothing;
//! 5. a signed caller, for an endpoint that takes no anonymous one;
//! 6. the key's permission (`AccessDeniedException`; keys without an `actions` list have every
//!    one);
//! 7. the tenant's quota (`ProvisionedThroughputExceededException`);
//! 8. the endpoint's handler, one arm of one exhaustive `match` ([`dispatch`]).
//!
//! Every refusal is rendered in the awsJson1_1 shape ([`control::error_response`]), with the
//! REST status a handler may give instead ([`Refusal::status`]). Adding an endpoint is adding a
//! variant to [`Endpoint`] (and to [`Endpoint::ALL`]), its [`Declaration`], and its arm in
//! [`dispatch`]; its route follows from the declaration.
//!
//! Streaming (`StartFaceLivenessSession`, [`crate::streaming`]) is not an endpoint of this
//! pipeline: it is authenticated by a presigned URL or its own headers and then holds a stream.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, post, MethodFilter};
use axum::Router;
use openliveness_auth::{verify_header_auth, AuthError, HeaderRequest, Principal, TenantId};
use openliveness_protocol::{ApiError, ErrorCode, Operation};

use crate::call::{Call, PathParameters, Refusal};
use crate::{client_credentials, control, report, AppState, RequestId};

/// Every endpoint behind the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    CreateFaceLivenessSession,
    GetFaceLivenessSessionResults,
    /// The operator's report ([`report`]).
    GetFaceLivenessSessionReport,
    /// Session-scoped client credentials for a browser ([`client_credentials`]).
    CreateClientCredentials,
}

/// What an endpoint declares: all the pipeline needs to know about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Declaration {
    /// The operation's name in logs and in the metrics' `operation` label; for the control
    /// plane, also its `X-Amz-Target` operation.
    pub name: &'static str,
    /// Where its requests arrive.
    pub address: Address,
    /// The action a key must be allowed (`actions` in a key's configuration).
    pub permission: &'static str,
    /// Who may call it.
    pub callers: Callers,
    /// Whether it takes a request slot and is counted in the request metrics.
    pub accounting: Accounting,
}

/// Where an endpoint's requests arrive, which is also how a request names its endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Address {
    /// `POST /` with `X-Amz-Target: RekognitionService.{name}`: the awsJson1_1 control plane,
    /// answering `application/x-amz-json-1.1`. `name` must be one of the model's operations.
    Target,
    /// A route of its own: a method and a path pattern (axum's syntax, `{name}` for a
    /// parameter, given to the handler in [`Call::path`]); answering `application/json`.
    Route(MethodFilter, &'static str),
}

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callers {
    /// Signed callers, and unsigned ones as the anonymous tenant when one is configured.
    SignedOrAnonymous,
    /// Signed callers only: an unsigned request gets `MissingAuthenticationTokenException` even
    /// when there is an anonymous tenant.
    Signed,
}

/// Whether an endpoint's requests take a request slot and are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accounting {
    /// Each request takes one of the `limits.max_in_flight` slots (none free:
    /// `ThrottlingException`), shows in `openliveness_requests_in_flight` while served, and is
    /// counted in `openliveness_requests_total{operation,outcome}` and
    /// `openliveness_request_duration_seconds{operation}`.
    Counted,
    /// None of that.
    Uncounted,
}

impl Endpoint {
    /// Every endpoint; routes are made from their declarations.
    pub const ALL: [Endpoint; 4] = [
        Endpoint::CreateFaceLivenessSession,
        Endpoint::GetFaceLivenessSessionResults,
        Endpoint::GetFaceLivenessSessionReport,
        Endpoint::CreateClientCredentials,
    ];

    pub fn declaration(self) -> Declaration {
        match self {
            Endpoint::CreateFaceLivenessSession => Declaration {
                name: "CreateFaceLivenessSession",
                address: Address::Target,
                permission: "rekognition:CreateFaceLivenessSession",
                callers: Callers::SignedOrAnonymous,
                accounting: Accounting::Counted,
            },
            Endpoint::GetFaceLivenessSessionResults => Declaration {
                name: "GetFaceLivenessSessionResults",
                address: Address::Target,
                permission: "rekognition:GetFaceLivenessSessionResults",
                callers: Callers::SignedOrAnonymous,
                accounting: Accounting::Counted,
            },
            Endpoint::GetFaceLivenessSessionReport => Declaration {
                name: "GetFaceLivenessSessionReport",
                address: Address::Route(MethodFilter::GET, report::PATH),
                permission: "openliveness:GetFaceLivenessSessionReport",
                callers: Callers::SignedOrAnonymous,
                accounting: Accounting::Counted,
            },
            Endpoint::CreateClientCredentials => Declaration {
                name: "CreateClientCredentials",
                address: Address::Route(MethodFilter::POST, client_credentials::PATH),
                permission: "openliveness:CreateClientCredentials",
                // The credentials are minted for the signing key's tenant, and handed to a
                // browser: an anonymous caller has no business with them.
                callers: Callers::Signed,
                // As the endpoint has always been served: no slot, not in the request metrics.
                accounting: Accounting::Uncounted,
            },
        }
    }

    /// The control-plane endpoint an `X-Amz-Target` header names, checked against the model's
    /// operations.
    fn of_target(headers: &HeaderMap) -> Result<Endpoint, ApiError> {
        let target = headers.get("x-amz-target").ok_or_else(|| {
            ApiError::new(
                ErrorCode::UnknownOperationException,
                "Missing X-Amz-Target header",
            )
        })?;
        target
            .to_str()
            .ok()
            .and_then(Operation::from_target)
            .and_then(|operation| {
                Endpoint::ALL.into_iter().find(|endpoint| {
                    let declaration = endpoint.declaration();
                    declaration.address == Address::Target && declaration.name == operation.name()
                })
            })
            .ok_or_else(|| ApiError::of(ErrorCode::UnknownOperationException))
    }
}

impl Address {
    /// The content type of a successful answer.
    fn content_type(self) -> &'static str {
        match self {
            Address::Target => control::AWS_JSON,
            Address::Route(..) => "application/json",
        }
    }
}

/// The endpoint's handler: the one place requests are dispatched.
async fn dispatch(endpoint: Endpoint, call: Call<'_>) -> Result<Vec<u8>, Refusal> {
    match endpoint {
        Endpoint::CreateFaceLivenessSession => {
            Ok(control::create(call.state, &call.tenant, &call.body).await?)
        }
        Endpoint::GetFaceLivenessSessionResults => {
            Ok(control::get(call.state, &call.tenant, &call.body).await?)
        }
        Endpoint::GetFaceLivenessSessionReport => report::report(call).await,
        Endpoint::CreateClientCredentials => Ok(client_credentials::create(call).await?),
    }
}

/// The routes of every endpoint: `POST /` for the control plane, and each of the others' own.
pub fn routes() -> Router<Arc<AppState>> {
    let control_plane =
        |state: State<Arc<AppState>>, request: Request| serve(state, Door::ControlPlane, request);
    let mut router = Router::new().route("/", post(control_plane));
    for endpoint in Endpoint::ALL {
        if let Address::Route(method, pattern) = endpoint.declaration().address {
            let own_route = move |state: State<Arc<AppState>>, request: Request| {
                serve(state, Door::Route(endpoint), request)
            };
            router = router.route(pattern, on(method, own_route));
        }
    }
    router
}

/// Which way a request came in.
#[derive(Debug, Clone, Copy)]
enum Door {
    /// `POST /`, naming its endpoint in `X-Amz-Target`.
    ControlPlane,
    /// The endpoint's own route.
    Route(Endpoint),
}

/// The pipeline.
async fn serve(State(state): State<Arc<AppState>>, door: Door, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .cloned()
        .unwrap_or(RequestId(String::new()));
    let endpoint = match door {
        Door::ControlPlane => Endpoint::of_target(&parts.headers),
        Door::Route(endpoint) => Ok(endpoint),
    };
    let path = match Path::<HashMap<String, String>>::from_request_parts(&mut parts, &state).await {
        Ok(Path(parameters)) => PathParameters::new(parameters),
        Err(_) => PathParameters::default(),
    };
    let state = state.as_ref();
    // A request naming no endpoint came to the control plane, whose requests are counted.
    let (name, accounting) =
        endpoint
            .as_ref()
            .map_or(("unknown", Accounting::Counted), |endpoint| {
                let declaration = endpoint.declaration();
                (declaration.name, declaration.accounting)
            });
    let result = match accounting {
        Accounting::Counted => {
            let started = Instant::now();
            state.metrics.in_flight.inc();
            let result = match state.in_flight.clone().try_acquire_owned() {
                Ok(_permit) => admitted(state, endpoint, parts, path, body).await,
                Err(_) => Err(ApiError::of(ErrorCode::ThrottlingException).into()),
            };
            state.metrics.in_flight.dec();
            state.metrics.finished(name, outcome(&result), started);
            result
        }
        Accounting::Uncounted => admitted(state, endpoint, parts, path, body).await,
    };
    respond(result, name, &request_id)
}

/// A successful answer: 200 with this body.
struct Reply {
    content_type: &'static str,
    body: Vec<u8>,
}

/// The answer: 200 with the reply, or the refusal in the awsJson1_1 shape.
fn respond(result: Result<Reply, Refusal>, name: &str, request_id: &RequestId) -> Response {
    match result {
        Ok(Reply { content_type, body }) => {
            tracing::debug!(operation = name, "ok");
            let mut response = (StatusCode::OK, body).into_response();
            response.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static(content_type),
            );
            response
        }
        Err(Refusal { error, status }) => {
            tracing::info!(operation = name, code = error.code.name(), message = %error.message, "request refused");
            let mut response = control::error_response(&error, request_id);
            if let Some(status) = status {
                *response.status_mut() = status;
            }
            response
        }
    }
}

/// `ok`, or the error code: the `outcome` label of [`crate::metrics::Metrics::finished`].
fn outcome(result: &Result<Reply, Refusal>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(refusal) => refusal.error.code.name(),
    }
}

/// Steps 2 to 8, for a request that holds its slot (or needs none).
async fn admitted(
    state: &AppState,
    endpoint: Result<Endpoint, ApiError>,
    request: Parts,
    path: PathParameters,
    body: Body,
) -> Result<Reply, Refusal> {
    let body = read_body(&request.headers, body, state.config.limits.max_body_bytes).await?;
    let caller = authenticate(state, &request, &body)?;
    let endpoint = endpoint?;
    let declaration = endpoint.declaration();
    if declaration.callers == Callers::Signed && caller.principal.is_none() {
        return Err(ApiError::of(ErrorCode::MissingAuthenticationTokenException).into());
    }
    if let Some(principal) = caller
        .principal
        .as_ref()
        .filter(|principal| !principal.allows(declaration.permission))
    {
        return Err(ApiError::new(
            ErrorCode::AccessDeniedException,
            format!(
                "User: {} is not authorized to perform: {}",
                principal.access_key_id, declaration.permission
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
    let call = Call {
        state,
        tenant,
        body,
        path,
    };
    Ok(Reply {
        content_type: declaration.address.content_type(),
        body: dispatch(endpoint, call).await?,
    })
}

async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
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
struct Caller {
    tenant: TenantId,
    /// `None` for an anonymous caller.
    principal: Option<Principal>,
}

fn authenticate(state: &AppState, request: &Parts, body: &[u8]) -> Result<Caller, ApiError> {
    let payload_hash = openliveness_auth::sigv4::sha256_hex(body);
    let uri = &request.uri;
    let header_request = HeaderRequest {
        method: request.method.as_str(),
        raw_path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers: &request.headers,
        authority: uri.authority().map(|authority| authority.as_str()),
        payload_hash: &payload_hash,
    };
    match verify_header_auth(
        &header_request,
        state.credentials.as_ref(),
        control::SERVICE,
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
        Err(error) => Err(control::auth_error(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_plane_endpoint_is_an_operation_of_the_model_and_every_operation_is_served() {
        let targets: Vec<&str> = Endpoint::ALL
            .into_iter()
            .map(Endpoint::declaration)
            .filter(|declaration| declaration.address == Address::Target)
            .map(|declaration| declaration.name)
            .collect();
        let operations: Vec<&str> = Operation::ALL.into_iter().map(Operation::name).collect();
        assert_eq!(targets, operations);
    }

    #[test]
    fn endpoints_have_distinct_names_and_addresses() {
        let declarations: Vec<Declaration> = Endpoint::ALL
            .into_iter()
            .map(Endpoint::declaration)
            .collect();
        for (i, a) in declarations.iter().enumerate() {
            for b in &declarations[i + 1..] {
                assert_ne!(a.name, b.name);
                if let (Address::Route(..), Address::Route(..)) = (a.address, b.address) {
                    assert_ne!(a.address, b.address, "{} and {}", a.name, b.name);
                }
            }
        }
    }
}
