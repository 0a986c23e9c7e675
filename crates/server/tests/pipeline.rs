//! The one pipeline every authenticated endpoint goes through (`openliveness_server::pipeline`),
//! tested once over every endpoint: the app in process on a manual clock, requests built and
//! signed by hand (what no SDK sends: bad signatures, bodies too large, unknown targets).
//!
//! Each case is a way of asking (who signs, what body, what state the server is in) and, for
//! every endpoint, the answer it must get: status, `x-amzn-ErrorType`, message, and how it is
//! counted in the metrics. The endpoints are described here as a client sees them, not read
//! from the server's declarations, so that a declaration that changes is seen to change.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

#[path = "support/sessions.rs"]
mod sessions;
#[path = "support/signed.rs"]
mod signed;
#[path = "support/tenants.rs"]
mod tenants;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use openliveness_auth::{ClientCredentialKey, StaticCredentials, TenantId};
use openliveness_server::clock::ManualClock;
use openliveness_server::config::{Config, FileConfig, Overrides};
use openliveness_server::AppState;
use openliveness_store::{RedbStore, RedbStoreConfig};
use serde_json::Value;
use signed::Key;
use tenants::{credential, KEY, SECRET, TENANT};
use tower::ServiceExt;

/// A key of the same tenant allowed one action no endpoint needs.
const LIMITED_KEY: &str = "AKIDLIMITED";
const LIMITED_SECRET: &str = "limited-secret";
const LIMITED_ACTIONS: &[&str] = &["openliveness:Nothing"];
/// 2026-01-01T00:00:00Z.
const START: u64 = 1_767_225_600;
const AWS_JSON: &str = "application/x-amz-json-1.1";
/// The default `limits.max_body_bytes`.
const MAX_BODY: usize = 64 * 1024;

const SIGNED: Key = Some((KEY, SECRET));
const LIMITED: Key = Some((LIMITED_KEY, LIMITED_SECRET));
const UNSIGNED: Key = None;

/// An endpoint, as a client reaches it.
struct Endpoint {
    /// The `operation` label of its metrics.
    name: &'static str,
    /// `POST /` with this `X-Amz-Target`, or its own route.
    address: Address,
    /// The body of a request for `session`.
    body: fn(&str) -> String,
    /// The action a key needs.
    permission: &'static str,
    /// What a request for a `CREATED` session of the caller's tenant gets once through the
    /// pipeline: status and error type (`""` for none).
    served: (u16, &'static str),
    /// Whether the anonymous tenant may call it.
    anonymous: bool,
    /// Whether it takes a request slot and shows in the request metrics.
    counted: bool,
}

enum Address {
    Target(&'static str),
    Route(&'static str, fn(&str) -> String),
}

const ENDPOINTS: [Endpoint; 4] = [
    Endpoint {
        name: "CreateFaceLivenessSession",
        address: Address::Target("RekognitionService.CreateFaceLivenessSession"),
        body: |_| "{}".to_owned(),
        permission: "rekognition:CreateFaceLivenessSession",
        served: (200, ""),
        anonymous: true,
        counted: true,
    },
    Endpoint {
        name: "GetFaceLivenessSessionResults",
        address: Address::Target("RekognitionService.GetFaceLivenessSessionResults"),
        body: |session| format!(r#"{{"SessionId": "{session}"}}"#),
        permission: "rekognition:GetFaceLivenessSessionResults",
        served: (200, ""),
        anonymous: true,
        counted: true,
    },
    Endpoint {
        name: "GetFaceLivenessSessionReport",
        address: Address::Route("GET", |session| format!("/v1/sessions/{session}/report")),
        body: |_| String::new(),
        permission: "openliveness:GetFaceLivenessSessionReport",
        // Its handler's answer for a session not decided yet.
        served: (409, "InvalidParameterException"),
        anonymous: true,
        counted: true,
    },
    Endpoint {
        name: "CreateClientCredentials",
        address: Address::Route("POST", |_| "/v1/client-credentials".to_owned()),
        body: |session| format!(r#"{{"SessionId": "{session}"}}"#),
        permission: "openliveness:CreateClientCredentials",
        served: (200, ""),
        anonymous: false,
        counted: false,
    },
];

/// The server's state before the request.
#[derive(Default, Clone, Copy)]
struct Setup {
    /// Unsigned requests are the tenant's.
    anonymous_tenant: bool,
    /// A quota of one request a second, already spent.
    quota_spent: bool,
    /// Every request slot (`limits.max_in_flight`) taken.
    slots_taken: bool,
}

/// How the body of a request is made.
#[derive(Clone, Copy, PartialEq)]
enum BodyKind {
    /// The endpoint's body, with its `Content-Length`.
    Normal,
    /// One byte over the limit, with its `Content-Length`.
    TooLarge,
    /// One byte over the limit, without a `Content-Length`: the limit is found reading it.
    TooLargeUndeclared,
}

/// One way of asking, and the answer every endpoint must give.
struct Case {
    setup: Setup,
    key: Key,
    /// Signed with the right key id but another secret.
    bad_signature: bool,
    body: BodyKind,
    expected: fn(&Endpoint) -> Expected,
}

/// An answer: status, error type (`""` for none) and, for a refusal by the pipeline, its
/// message.
#[derive(Debug, PartialEq)]
struct Expected {
    status: u16,
    error: &'static str,
    message: Option<String>,
}

fn served(endpoint: &Endpoint) -> Expected {
    Expected {
        status: endpoint.served.0,
        error: endpoint.served.1,
        message: None,
    }
}

fn refused(status: u16, error: &'static str, message: &str) -> Expected {
    Expected {
        status,
        error,
        message: Some(message.to_owned()),
    }
}

/// The refusal of an unsigned request where no anonymous tenant takes it.
fn missing_token() -> Expected {
    refused(
        403,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    )
}

/// The refusal of `LIMITED_KEY`, which lacks the endpoint's permission.
fn access_denied(endpoint: &Endpoint) -> Expected {
    refused(
        400,
        "AccessDeniedException",
        &format!(
            "User: {LIMITED_KEY} is not authorized to perform: {}",
            endpoint.permission
        ),
    )
}

/// The refusal of a body over the limit.
fn too_large(_: &Endpoint) -> Expected {
    refused(
        413,
        "RequestEntityTooLargeException",
        &format!("Request body must be at most {MAX_BODY} bytes"),
    )
}

const DEFAULT_CASE: Case = Case {
    setup: Setup {
        anonymous_tenant: false,
        quota_spent: false,
        slots_taken: false,
    },
    key: SIGNED,
    bad_signature: false,
    body: BodyKind::Normal,
    expected: served,
};

struct Server {
    state: Arc<AppState>,
    /// A `CREATED` session of the tenant.
    session: String,
    _dir: tempfile::TempDir,
}

async fn server(setup: Setup) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        data_dir: Some(dir.path().to_owned()),
        ..Overrides::default()
    };
    let mut config = Config::resolve(FileConfig::default(), overrides).unwrap();
    assert_eq!(config.limits.max_body_bytes, MAX_BODY);
    config.credentials = vec![
        credential(KEY, SECRET, TENANT, None),
        credential(LIMITED_KEY, LIMITED_SECRET, TENANT, Some(LIMITED_ACTIONS)),
    ];
    if setup.anonymous_tenant {
        config.anonymous_tenant = Some(TenantId::new(TENANT));
    }
    if setup.quota_spent {
        config.limits.tenant_requests_per_second = 1.0;
        config.limits.tenant_burst = 1.0;
    }
    let store = Arc::new(RedbStore::open(RedbStoreConfig::in_dir(dir.path())).unwrap());
    let clock = Arc::new(ManualClock::starting_at(
        SystemTime::UNIX_EPOCH + Duration::from_secs(START),
    ));
    let credentials = Arc::new(StaticCredentials::new(config.credentials.clone()));
    let state = AppState::new(config, store, credentials, clock)
        .with_client_credential_key(ClientCredentialKey::from_bytes([7; 32]));
    let state = Arc::new(state);
    let session = sessions::create_session(&state, TENANT).await;
    if setup.quota_spent {
        assert!(state.quotas.try_acquire(TENANT, state.clock.now_millis()));
    }
    Server {
        state,
        session: session.to_string(),
        _dir: dir,
    }
}

/// The request `case` makes of `endpoint`.
fn request(server: &Server, endpoint: &Endpoint, case: &Case) -> http::Request<Body> {
    let session = &server.session;
    let (method, path, mut headers) = match &endpoint.address {
        Address::Target(target) => (
            "POST",
            "/".to_owned(),
            vec![("content-type", AWS_JSON), ("x-amz-target", *target)],
        ),
        Address::Route(method, path) => (*method, path(session), vec![]),
    };
    let body = match case.body {
        BodyKind::Normal => (endpoint.body)(session).into_bytes(),
        BodyKind::TooLarge | BodyKind::TooLargeUndeclared => vec![b' '; MAX_BODY + 1],
    };
    let length = body.len().to_string();
    if case.body != BodyKind::TooLargeUndeclared {
        headers.push(("content-length", &length));
    }
    let key = case.key.map(|(key, secret)| {
        let secret = if case.bad_signature {
            "not-the-secret"
        } else {
            secret
        };
        (key, secret)
    });
    let at = server.state.clock.now();
    signed::request(method, "localhost", &path, &headers, body, key, at)
}

/// What came back.
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map_or("", |value| value.to_str().unwrap())
    }
}

async fn send(server: &Server, request: http::Request<Body>) -> Reply {
    let response = openliveness_server::app(Arc::clone(&server.state))
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

/// Checks `reply` against `expected`, and the shape every answer has: a request id, and for an
/// error the awsJson1_1 body with the same id.
fn check(what: &str, content_type: &str, reply: &Reply, expected: &Expected) {
    let error = reply.header("x-amzn-errortype");
    assert_eq!(
        (reply.status, error),
        (expected.status, expected.error),
        "{what}: {}",
        reply.json
    );
    assert!(!reply.header("x-amzn-requestid").is_empty(), "{what}");
    if error.is_empty() {
        assert_eq!(reply.header("content-type"), content_type, "{what}");
        return;
    }
    assert_eq!(reply.header("content-type"), AWS_JSON, "{what}");
    assert_eq!(reply.json["__type"], error, "{what}");
    assert_eq!(
        reply.json["Logref"],
        reply.header("x-amzn-requestid"),
        "{what}"
    );
    if let Some(message) = &expected.message {
        assert_eq!(reply.json["Message"], message.as_str(), "{what}");
    }
}

/// `openliveness_requests_total` for `operation`: each outcome and its count.
fn counted(state: &AppState, operation: &str) -> Vec<(String, u64)> {
    let prefix = format!("openliveness_requests_total{{operation=\"{operation}\",outcome=\"");
    state
        .metrics
        .render()
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|rest| {
            let (outcome, count) = rest.split_once("\"} ").unwrap();
            (outcome.to_owned(), count.parse().unwrap())
        })
        .collect()
}

fn in_flight(state: &AppState) -> String {
    state
        .metrics
        .render()
        .lines()
        .find(|line| line.starts_with("openliveness_requests_in_flight "))
        .unwrap()
        .to_owned()
}

/// Every request slot, held until dropped, when `take`.
async fn take_slots(server: &Server, take: bool) -> Option<tokio::sync::OwnedSemaphorePermit> {
    if !take {
        return None;
    }
    let permits = u32::try_from(server.state.config.limits.max_in_flight).unwrap();
    let slots = Arc::clone(&server.state.in_flight).acquire_many_owned(permits);
    Some(slots.await.unwrap())
}

/// Asks every endpoint as `case` says, each of a server of its own, and checks the answers and
/// the metrics.
async fn run(case: Case) {
    for endpoint in &ENDPOINTS {
        let server = server(case.setup).await;
        let _slots = take_slots(&server, case.setup.slots_taken).await;
        let expected = (case.expected)(endpoint);
        let reply = send(&server, request(&server, endpoint, &case)).await;
        let content_type = match endpoint.address {
            Address::Target(_) => AWS_JSON,
            Address::Route(..) => "application/json",
        };
        check(endpoint.name, content_type, &reply, &expected);
        let outcome = if expected.error.is_empty() {
            "ok"
        } else {
            expected.error
        };
        let counts = if endpoint.counted {
            vec![(outcome.to_owned(), 1)]
        } else {
            vec![]
        };
        assert_eq!(
            counted(&server.state, endpoint.name),
            counts,
            "{}",
            endpoint.name
        );
        assert_eq!(
            in_flight(&server.state),
            "openliveness_requests_in_flight 0",
            "{}",
            endpoint.name
        );
    }
}

#[tokio::test]
async fn a_signed_request_with_the_permission_is_served() {
    run(DEFAULT_CASE).await;
}

#[tokio::test]
async fn an_unsigned_request_without_an_anonymous_tenant_is_refused() {
    run(Case {
        key: UNSIGNED,
        expected: |_| missing_token(),
        ..DEFAULT_CASE
    })
    .await;
}

#[tokio::test]
async fn an_unsigned_request_is_the_anonymous_tenants_where_the_endpoint_takes_it() {
    run(Case {
        setup: Setup {
            anonymous_tenant: true,
            ..Setup::default()
        },
        key: UNSIGNED,
        expected: |endpoint| {
            if endpoint.anonymous {
                served(endpoint)
            } else {
                missing_token()
            }
        },
        ..DEFAULT_CASE
    })
    .await;
}

#[tokio::test]
async fn a_bad_signature_is_refused() {
    run(Case {
        bad_signature: true,
        expected: |_| Expected {
            status: 400,
            error: "InvalidSignatureException",
            message: None,
        },
        ..DEFAULT_CASE
    })
    .await;
}

#[tokio::test]
async fn an_unknown_key_is_refused() {
    run(Case {
        key: Some(("AKIDNOBODY", SECRET)),
        expected: |_| {
            refused(
                400,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        },
        ..DEFAULT_CASE
    })
    .await;
}

#[tokio::test]
async fn a_key_without_the_endpoints_permission_is_denied() {
    run(Case {
        key: LIMITED,
        expected: access_denied,
        ..DEFAULT_CASE
    })
    .await;
}

#[tokio::test]
async fn a_tenant_over_its_quota_is_refused() {
    run(Case {
        setup: Setup {
            quota_spent: true,
            ..Setup::default()
        },
        expected: |_| {
            refused(
                400,
                "ProvisionedThroughputExceededException",
                "Provisioned rate exceeded",
            )
        },
        ..DEFAULT_CASE
    })
    .await;
}

#[tokio::test]
async fn the_permission_is_checked_before_the_quota() {
    run(Case {
        setup: Setup {
            quota_spent: true,
            ..Setup::default()
        },
        key: LIMITED,
        expected: access_denied,
        ..DEFAULT_CASE
    })
    .await;
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_whether_declared_or_not() {
    for body in [BodyKind::TooLarge, BodyKind::TooLargeUndeclared] {
        run(Case {
            body,
            expected: too_large,
            ..DEFAULT_CASE
        })
        .await;
    }
}

#[tokio::test]
async fn the_body_limit_is_checked_before_the_signature() {
    run(Case {
        bad_signature: true,
        body: BodyKind::TooLarge,
        expected: too_large,
        ..DEFAULT_CASE
    })
    .await;
    run(Case {
        key: UNSIGNED,
        body: BodyKind::TooLargeUndeclared,
        expected: too_large,
        ..DEFAULT_CASE
    })
    .await;
}

fn throttled_if_counted(endpoint: &Endpoint, otherwise: Expected) -> Expected {
    if endpoint.counted {
        refused(500, "ThrottlingException", "Rate exceeded")
    } else {
        otherwise
    }
}

#[tokio::test]
async fn with_no_request_slot_free_a_counted_endpoint_throttles_before_anything_else() {
    let slots_taken = Setup {
        slots_taken: true,
        ..Setup::default()
    };
    run(Case {
        setup: slots_taken,
        expected: |endpoint| throttled_if_counted(endpoint, served(endpoint)),
        ..DEFAULT_CASE
    })
    .await;
    run(Case {
        setup: slots_taken,
        bad_signature: true,
        expected: |endpoint| {
            let bad_signature = Expected {
                status: 400,
                error: "InvalidSignatureException",
                message: None,
            };
            throttled_if_counted(endpoint, bad_signature)
        },
        ..DEFAULT_CASE
    })
    .await;
}

/// A control-plane request that names no operation we serve: refused once authenticated, and
/// counted as `unknown`.
#[tokio::test]
async fn a_control_plane_request_naming_no_operation_is_unknown_once_authenticated() {
    let unknown = |message: &str| refused(400, "UnknownOperationException", message);
    for (target, key, slots_taken, expected) in [
        (
            Some("RekognitionService.DeleteCollection"),
            SIGNED,
            false,
            unknown("Unknown operation"),
        ),
        (
            Some("OtherService.CreateFaceLivenessSession"),
            SIGNED,
            false,
            unknown("Unknown operation"),
        ),
        (None, SIGNED, false, unknown("Missing X-Amz-Target header")),
        (
            Some("RekognitionService.DeleteCollection"),
            UNSIGNED,
            false,
            missing_token(),
        ),
        (
            Some("RekognitionService.DeleteCollection"),
            SIGNED,
            true,
            refused(500, "ThrottlingException", "Rate exceeded"),
        ),
    ] {
        let server = server(Setup {
            slots_taken,
            ..Setup::default()
        })
        .await;
        let _slots = take_slots(&server, slots_taken).await;
        let mut headers = vec![("content-type", AWS_JSON), ("content-length", "2")];
        headers.extend(target.map(|target| ("x-amz-target", target)));
        let at = server.state.clock.now();
        let request = signed::request("POST", "localhost", "/", &headers, b"{}".to_vec(), key, at);
        let reply = send(&server, request).await;
        let what = format!("{target:?}");
        check(&what, AWS_JSON, &reply, &expected);
        assert_eq!(
            counted(&server.state, "unknown"),
            vec![(expected.error.to_owned(), 1)],
            "{what}"
        );
    }
}
