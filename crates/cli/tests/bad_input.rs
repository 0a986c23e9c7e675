//! The bad-input table against the real `openliveness` binary: every row is one request sent
//! by hand over a raw TCP connection, with the HTTP status and `__type` it must get back.
//!
//! For every row, the response must carry `x-amzn-RequestId`; an error must carry
//! `x-amzn-ErrorType` equal to its `__type` and a JSON body with `__type`, `Message` and
//! `message`; and afterwards the same server must still create a session (it keeps serving).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use std::time::{Duration, SystemTime};

use common::raw::{self, Response, CREATE, GET};
use common::{is_uuid_v4, Key, Options, Server, READ_ONLY_A, TENANT_A, TENANT_B};
use serde_json::{json, Value};

/// A key the server does not know.
const UNKNOWN_KEY: Key = Key {
    access_key_id: "AKIDNOSUCHKEY",
    secret: "secret-a",
    tenant: "",
};
/// Tenant A's key id with another secret.
const WRONG_SECRET: Key = Key {
    secret: "not-the-secret",
    ..TENANT_A
};

/// The body limit of the default configuration.
const MAX_BODY: usize = 64 * 1024;

/// What a row sends.
#[derive(Debug, Clone)]
struct Request {
    /// `None`: no `Authorization` at all.
    key: Option<Key>,
    /// `None`: no `X-Amz-Target` header.
    target: Option<&'static str>,
    body: Body,
    /// How far from now the request is signed, in seconds.
    signed_offset_secs: i64,
    /// Cut `, Signature=…` out of the `Authorization` header.
    drop_signature: bool,
    /// Send this body instead of the signed one.
    sent_body: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
enum Body {
    Bytes(Vec<u8>),
    /// `{"SessionId": …}` of a session that this key creates just before the row's request.
    SessionOf(Key),
}

/// A `CreateFaceLivenessSession` request signed by tenant A.
fn create(body: impl Into<Vec<u8>>) -> Request {
    Request {
        key: Some(TENANT_A),
        target: Some(CREATE),
        body: Body::Bytes(body.into()),
        signed_offset_secs: 0,
        drop_signature: false,
        sent_body: None,
    }
}

fn create_json(value: Value) -> Request {
    create(value.to_string())
}

/// A `GetFaceLivenessSessionResults` request signed by tenant A.
fn get(body: impl Into<Vec<u8>>) -> Request {
    Request {
        target: Some(GET),
        ..create(body)
    }
}

fn get_json(value: Value) -> Request {
    get(value.to_string())
}

/// Gets the results of a session created by `owner`.
fn get_session_of(owner: Key) -> Request {
    Request {
        body: Body::SessionOf(owner),
        ..get("")
    }
}

impl Request {
    fn by(self, key: Key) -> Request {
        Request {
            key: Some(key),
            ..self
        }
    }

    fn unsigned(self) -> Request {
        Request { key: None, ..self }
    }

    fn target(self, target: Option<&'static str>) -> Request {
        Request { target, ..self }
    }

    fn signed_offset(self, secs: i64) -> Request {
        Request {
            signed_offset_secs: secs,
            ..self
        }
    }

    fn without_signature(self) -> Request {
        Request {
            drop_signature: true,
            ..self
        }
    }

    fn then_send_body(self, body: impl Into<Vec<u8>>) -> Request {
        Request {
            sent_body: Some(body.into()),
            ..self
        }
    }

    /// A short description for failure messages (bodies cut to 200 characters).
    fn describe(&self) -> String {
        let text = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes)
                .chars()
                .take(200)
                .collect::<String>()
        };
        format!(
            "key {:?}, target {:?}, body {:?}, signed {:+}s, drop signature {}, sent body {:?}",
            self.key.map(|key| key.access_key_id),
            self.target,
            match &self.body {
                Body::Bytes(bytes) => text(bytes),
                Body::SessionOf(owner) => format!("<a session of {}>", owner.access_key_id),
            },
            self.signed_offset_secs,
            self.drop_signature,
            self.sent_body.as_deref().map(text),
        )
    }

    fn send(&self, server: &Server) -> Response {
        let authority = server.authority();
        let body = match &self.body {
            Body::Bytes(bytes) => bytes.clone(),
            Body::SessionOf(owner) => json!({ "SessionId": create_session(server, *owner) })
                .to_string()
                .into_bytes(),
        };
        let headers = match self.key {
            None => raw::unsigned_headers(authority, self.target),
            Some(key) => {
                let offset = Duration::from_secs(self.signed_offset_secs.unsigned_abs());
                let at = if self.signed_offset_secs < 0 {
                    SystemTime::now() - offset
                } else {
                    SystemTime::now() + offset
                };
                let mut headers = raw::signed_headers(
                    key.access_key_id,
                    key.secret,
                    authority,
                    self.target,
                    &body,
                    at,
                );
                if self.drop_signature {
                    for (name, value) in &mut headers {
                        if name.eq_ignore_ascii_case("authorization") {
                            let cut = value.find(", Signature=").expect("a Signature= part");
                            value.truncate(cut);
                        }
                    }
                }
                headers
            }
        };
        raw::post(
            authority,
            &headers,
            self.sent_body.as_deref().unwrap_or(&body),
        )
    }
}

/// Creates a session as `key` over the raw client and returns its id.
fn create_session(server: &Server, key: Key) -> String {
    let response = raw::call(server.authority(), key, Some(CREATE), b"{}");
    assert_eq!(
        response.status,
        200,
        "create as {}: {}",
        key.access_key_id,
        response.body_text()
    );
    let id = response.json()["SessionId"]
        .as_str()
        .expect("SessionId")
        .to_owned();
    assert!(is_uuid_v4(&id), "{id}");
    id
}

/// Sends `request` and checks the answer against `(status, __type)`, `OK` for a success; then
/// checks that the server still serves a valid signed `CreateFaceLivenessSession`.
fn check(server: &Server, request: Request, (status, code): (u16, &str)) {
    let response = request.send(server);
    let shown = format!(
        "{}\n=> {} {:?}\n{}",
        request.describe(),
        response.status,
        response.headers,
        response.body_text()
    );
    let request_id = response.header("x-amzn-RequestId");
    assert!(
        request_id.is_some_and(|id| !id.is_empty()),
        "no x-amzn-RequestId: {shown}"
    );
    assert_eq!(response.status, status, "status: {shown}");
    assert_eq!(
        response.header("content-type"),
        Some(raw::AWS_JSON),
        "content-type: {shown}"
    );
    let body = response.json();
    if code == "OK" {
        assert_eq!(response.header("x-amzn-ErrorType"), None, "{shown}");
        let id = body["SessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no SessionId: {shown}"));
        assert!(is_uuid_v4(id), "{shown}");
    } else {
        assert_eq!(
            response.header("x-amzn-ErrorType"),
            Some(code),
            "x-amzn-ErrorType: {shown}"
        );
        assert_eq!(body["__type"], code, "__type: {shown}");
        let message = body["Message"]
            .as_str()
            .unwrap_or_else(|| panic!("no Message: {shown}"));
        assert!(!message.is_empty(), "empty Message: {shown}");
        assert_eq!(body["message"], body["Message"], "message: {shown}");
    }
    // The server keeps serving.
    create_session(server, TENANT_A);
}

/// A valid JSON object of exactly `len` bytes: one unknown member padded with `x`.
fn padded(len: usize) -> Vec<u8> {
    const OVERHEAD: usize = r#"{"Pad":""}"#.len();
    let body = format!(r#"{{"Pad":"{}"}}"#, "x".repeat(len - OVERHEAD)).into_bytes();
    assert_eq!(body.len(), len);
    body
}

fn settings(settings: Value) -> Request {
    create_json(json!({ "Settings": settings }))
}

fn output_config(config: Value) -> Request {
    settings(json!({ "OutputConfig": config }))
}

fn challenge(preference: Value) -> Request {
    settings(json!({ "ChallengePreferences": [preference] }))
}

fn versions(versions: Value) -> Request {
    challenge(json!({ "Type": "FaceMovementChallenge", "Versions": versions }))
}

fn session_id(id: &str) -> Request {
    get_json(json!({ "SessionId": id }))
}

/// A well-formed id that no session has.
const UNKNOWN_ID: &str = "0b9c1f2e-3a4d-4b5c-8d6e-7f8091a2b3c4";

macro_rules! rows {
    ($($name:ident: $request:expr => $status:literal $code:ident;)*) => {
        $(
            #[test]
            fn $name() {
                let server = Server::start(Options::default());
                check(&server, $request, ($status, stringify!($code)));
            }
        )*
    };
}

rows! {
    // The body is not the operation's JSON shape.
    malformed_json: create(r#"{"Settings":"#) => 400 SerializationException;
    json_array_body: create(r#"[{"ClientRequestToken":"t1"}]"#) => 400 SerializationException;
    // serde's derive would read a structure from an array, its members by position.
    empty_json_array_body: create("[]") => 400 SerializationException;
    positional_json_array_body: create(r#"["kms-key"]"#) => 400 SerializationException;
    positional_get_body: get(r#"["0b9c1f2e-3a4d-4b5c-8d6e-7f8091a2b3c4"]"#) => 400 SerializationException;
    output_config_as_list: settings(json!({"OutputConfig": ["bucket"]})) => 400 SerializationException;
    challenge_preference_as_list: settings(json!({"ChallengePreferences": [["FaceMovementChallenge"]]})) => 400 SerializationException;
    versions_as_list: challenge(json!({"Type": "FaceMovementChallenge", "Versions": ["1.0.0"]})) => 400 SerializationException;
    audit_images_limit_as_string: settings(json!({"AuditImagesLimit": "2"})) => 400 SerializationException;
    settings_as_list: create_json(json!({"Settings": []})) => 400 SerializationException;
    session_id_as_number: get_json(json!({"SessionId": 123})) => 400 SerializationException;
    client_request_token_as_number: create_json(json!({"ClientRequestToken": 123})) => 400 SerializationException;

    // ClientRequestToken: 1 to 64 of [a-zA-Z0-9-_].
    client_request_token_64_is_accepted: create_json(json!({"ClientRequestToken": "a".repeat(64)})) => 200 OK;
    client_request_token_65_is_refused: create_json(json!({"ClientRequestToken": "a".repeat(65)})) => 400 InvalidParameterException;
    client_request_token_empty_is_refused: create_json(json!({"ClientRequestToken": ""})) => 400 InvalidParameterException;
    client_request_token_with_space_is_refused: create_json(json!({"ClientRequestToken": "a b"})) => 400 InvalidParameterException;

    // KmsKeyId: 1 to 2048, starting with a letter or digit.
    // Within the constraints, then refused as a key the tenant may not use (no such key).
    kms_key_id_2048_passes_the_constraints: create_json(json!({"KmsKeyId": "k".repeat(2048)})) => 400 AccessDeniedException;
    kms_key_id_2049_is_refused: create_json(json!({"KmsKeyId": "k".repeat(2049)})) => 400 InvalidParameterException;
    kms_key_id_leading_hyphen_is_refused: create_json(json!({"KmsKeyId": "-key"})) => 400 InvalidParameterException;

    // OutputConfig.S3Bucket: required, 3 to 255 of [0-9A-Za-z.-_].
    s3_bucket_3_is_accepted: output_config(json!({"S3Bucket": "b".repeat(3)})) => 200 OK;
    s3_bucket_2_is_refused: output_config(json!({"S3Bucket": "b".repeat(2)})) => 400 InvalidParameterException;
    s3_bucket_255_is_accepted: output_config(json!({"S3Bucket": "b".repeat(255)})) => 200 OK;
    s3_bucket_256_is_refused: output_config(json!({"S3Bucket": "b".repeat(256)})) => 400 InvalidParameterException;
    s3_bucket_with_star_is_refused: output_config(json!({"S3Bucket": "a*b"})) => 400 InvalidParameterException;
    s3_bucket_missing_is_refused: output_config(json!({"S3KeyPrefix": "prefix/"})) => 400 InvalidParameterException;

    // OutputConfig.S3KeyPrefix: up to 950, no whitespace.
    s3_key_prefix_950_is_accepted: output_config(json!({"S3Bucket": "bucket", "S3KeyPrefix": "p".repeat(950)})) => 200 OK;
    s3_key_prefix_951_is_refused: output_config(json!({"S3Bucket": "bucket", "S3KeyPrefix": "p".repeat(951)})) => 400 InvalidParameterException;
    s3_key_prefix_with_space_is_refused: output_config(json!({"S3Bucket": "bucket", "S3KeyPrefix": "a b"})) => 400 InvalidParameterException;

    // ChallengePreferences: Type required, one of the enum.
    challenge_type_unknown_is_refused: challenge(json!({"Type": "FaceBlinkChallenge"})) => 400 InvalidParameterException;
    challenge_type_missing_is_refused: challenge(json!({"Versions": {"Minimum": "1.0.0"}})) => 400 InvalidParameterException;

    // Versions: major.minor.patch, each 0 to 999 without leading zeros; Minimum <= Maximum.
    version_1_0_0_is_accepted: versions(json!({"Minimum": "1.0.0"})) => 200 OK;
    version_999_999_999_is_accepted: versions(json!({"Minimum": "999.999.999"})) => 200 OK;
    version_1000_0_0_is_refused: versions(json!({"Minimum": "1000.0.0"})) => 400 InvalidParameterException;
    version_leading_zero_is_refused: versions(json!({"Minimum": "01.0.0"})) => 400 InvalidParameterException;
    version_two_parts_is_refused: versions(json!({"Minimum": "1.0"})) => 400 InvalidParameterException;
    version_minimum_above_maximum_is_refused: versions(json!({"Minimum": "2.0.0", "Maximum": "1.0.0"})) => 400 InvalidParameterException;

    // AuditImagesLimit: values outside 0..=4 are clamped, not refused.
    audit_images_limit_minus_1_is_clamped: settings(json!({"AuditImagesLimit": -1})) => 200 OK;
    audit_images_limit_5_is_clamped: settings(json!({"AuditImagesLimit": 5})) => 200 OK;

    // SessionId: required, a lower-case UUID.
    session_id_upper_case_is_refused: session_id(&UNKNOWN_ID.to_uppercase()) => 400 InvalidParameterException;
    session_id_35_chars_is_refused: session_id(&UNKNOWN_ID[..35]) => 400 InvalidParameterException;
    session_id_missing_is_refused: get_json(json!({})) => 400 InvalidParameterException;

    // X-Amz-Target.
    unknown_target: create("{}").target(Some("RekognitionService.DetectFaces")) => 400 UnknownOperationException;
    missing_target: create("{}").target(None) => 400 UnknownOperationException;

    // Body size.
    body_over_64_kib_is_refused: create(padded(MAX_BODY + 1)) => 413 RequestEntityTooLargeException;
    body_of_exactly_64_kib_is_served: create(padded(MAX_BODY)) => 200 OK;

    // Authentication.
    no_authorization: create("{}").unsigned() => 403 MissingAuthenticationTokenException;
    authorization_without_signature: create("{}").without_signature() => 400 IncompleteSignatureException;
    unknown_access_key: create("{}").by(UNKNOWN_KEY) => 400 UnrecognizedClientException;
    wrong_secret: create("{}").by(WRONG_SECRET) => 400 InvalidSignatureException;
    signed_6_minutes_ago: create("{}").signed_offset(-360) => 400 InvalidSignatureException;
    signed_6_minutes_ahead: create("{}").signed_offset(360) => 400 InvalidSignatureException;
    body_changed_after_signing: create(r#"{"ClientRequestToken":"t1"}"#).then_send_body(r#"{"ClientRequestToken":"t2"}"#) => 400 InvalidSignatureException;

    // Tenancy and permissions.
    other_tenants_session_is_not_found: get_session_of(TENANT_A).by(TENANT_B) => 400 SessionNotFoundException;
    unknown_session_is_not_found: session_id(UNKNOWN_ID) => 400 SessionNotFoundException;
    read_only_key_cannot_create: create("{}").by(READ_ONLY_A) => 400 AccessDeniedException;
    read_only_key_can_get_its_tenants_session: get_session_of(TENANT_A).by(READ_ONLY_A) => 200 OK;
}
