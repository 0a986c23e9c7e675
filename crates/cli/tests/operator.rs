//! The operator's report, `GET /v1/sessions/{SessionId}/report`, through a real in-process
//! server: a live session played by the simulator's client and decided by the real engine
//! (challenges seeded, so every run plays the same session), the report the engine gives again
//! from the stored evidence, to its owner only; authentication exactly as the control plane's;
//! unknown, malformed, undecided, expired and evidence-less sessions; evidence sealed under a
//! KMS key; a video the engine cannot analyse; no engine; every report slot busy.
//!
//! Needs the face model and photograph (`scripts/setup-vision.sh`).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

#[path = "../../engine/tests/support/checks.rs"]
mod checks;
#[path = "support/engine_server.rs"]
mod engine_server;
#[path = "../../server/tests/support/signed.rs"]
mod signed;
#[path = "support/simulated.rs"]
mod simulated;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use checks::CHECK_NAMES;
use engine_server::tenants::{
    self, KEY, OTHER_KEY, OTHER_SECRET, READER_KEY, READER_SECRET, SECRET, TENANT,
};
use engine_server::{Options, Server};
use http_body_util::BodyExt;
use openliveness_client::{Client, Endpoint, Keys};
use openliveness_protocol::SessionId;
use openliveness_server::clock::{Clock, ManualClock};
use openliveness_sim::Species;
use openliveness_vision::encode::{encode_webm_vp8, EncodeOptions};
use openliveness_vision::RgbImage;
use serde_json::{json, Value};
use signed::Key;
use simulated::{decided_confidence, play_fast};

const OWNER: Key = Some((KEY, SECRET));
const OTHER: Key = Some((OTHER_KEY, OTHER_SECRET));
const READER: Key = Some((READER_KEY, READER_SECRET));
const UNSIGNED: Key = None;

fn options(engine: bool, clock: Arc<dyn Clock>, toml: &str) -> Options {
    Options {
        seed: 7,
        engine,
        clock,
        toml: toml.to_owned(),
        credentials: tenants::credentials(),
    }
}

/// A server whose clock the test moves.
async fn start_manual(engine: bool, toml: &str) -> (Server, Arc<ManualClock>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let clock = Arc::new(ManualClock::starting_at(
        UNIX_EPOCH + Duration::from_secs(now.as_secs()),
    ));
    let server =
        engine_server::start(options(engine, Arc::clone(&clock) as Arc<dyn Clock>, toml)).await;
    (server, clock)
}

/// An HTTP answer.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
    /// The body as JSON (`null` when it is not).
    json: Value,
}

impl Reply {
    fn error_type(&self) -> &str {
        self.headers
            .get("x-amzn-errortype")
            .map_or("", |value| value.to_str().unwrap())
    }

    fn request_id(&self) -> &str {
        self.headers
            .get("x-amzn-requestid")
            .map_or("", |value| value.to_str().unwrap())
    }

    /// What tells one refusal from another: status, error type, message.
    fn refusal(&self) -> (u16, String, String) {
        (
            self.status,
            self.error_type().to_owned(),
            self.json["Message"].as_str().unwrap_or("").to_owned(),
        )
    }
}

/// One HTTP/1.1 request, signed with `key` (SigV4, service `rekognition`, at the server's time)
/// or not at all.
async fn send(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    key: Key,
) -> Reply {
    let at = server.state.clock.now();
    let request = signed::request(
        method,
        &server.address,
        path,
        headers,
        body.to_vec(),
        key,
        at,
    );
    let mut connection = openliveness_client::connect(&server.address).await.unwrap();
    let response = connection.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
    }
}

async fn report(server: &Server, session: &str, key: Key) -> Reply {
    let path = openliveness_server::report::path_of(session);
    send(server, "GET", &path, &[], b"", key).await
}

/// A control-plane call.
async fn control(server: &Server, operation: &str, body: &Value, key: Key) -> Reply {
    let target = format!("RekognitionService.{operation}");
    send(
        server,
        "POST",
        "/",
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", &target),
        ],
        body.to_string().as_bytes(),
        key,
    )
    .await
}

async fn create(server: &Server, body: Value, key: Key) -> String {
    let reply = control(server, "CreateFaceLivenessSession", &body, key).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json["SessionId"].as_str().unwrap().to_owned()
}

async fn results(server: &Server, session: &str) -> Value {
    let reply = control(
        server,
        "GetFaceLivenessSessionResults",
        &json!({"SessionId": session}),
        OWNER,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json
}

/// Streams `video` as the whole session, as a web client would.
async fn stream(server: &Server, session: &str, video: &[u8]) {
    let clock = Arc::clone(&server.state.clock);
    let client = Client::new(Endpoint::at(&server.address), Keys::new(KEY, SECRET))
        .with_clock(Arc::new(move || clock.now()));
    let (kinds, _) = client
        .start(session, (640, 480))
        .await
        .unwrap()
        .stream_video(video)
        .await
        .unwrap();
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("DisconnectionEvent"),
        "{kinds:?}"
    );
}

/// A real VP8 WebM of `frames` plain frames: decodes, shows no face, costs the engine little.
fn small_video(frames: u8) -> Vec<u8> {
    let images: Vec<RgbImage> = (0..frames)
        .map(|i| RgbImage::filled(640, 480, [60 + 8 * i, 90, 120]).unwrap())
        .collect();
    let timestamps: Vec<u64> = (0..u64::from(frames)).map(|i| i * 100).collect();
    encode_webm_vp8(&images, &timestamps, &EncodeOptions::default()).unwrap()
}

/// The refusal of a request for `session`, with the session's id (which the message names)
/// taken out: what must not differ between two sessions that the caller cannot see.
fn without_id(reply: &Reply, session: &str) -> (u16, String, String) {
    let (status, code, message) = reply.refusal();
    (status, code, message.replace(session, "<id>"))
}

/// What a session that never existed gets.
async fn unknown_session_refusal(server: &Server, key: Key) -> (u16, String, String) {
    let never = SessionId::random().to_string();
    without_id(&report(server, &never, key).await, &never)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_gets_the_engines_report_of_a_live_session_and_nobody_else_does() {
    let server = engine_server::start(options(
        true,
        Arc::new(openliveness_server::clock::SystemClock),
        "",
    ))
    .await;
    let target = Client::new(
        Endpoint::parse(&server.url).unwrap(),
        Keys::new(KEY, SECRET),
    );
    let played = play_fast(&target, Species::BonaFide, 7).await;
    let session = played.session_id.as_str();
    let played_confidence = decided_confidence(&played);

    let reply = report(&server, session, OWNER).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(!reply.request_id().is_empty());
    let decided = &reply.json;
    // The engine decides again from the stored evidence, as it did while the video streamed in.
    let confidence = decided["confidence"].as_f64().unwrap();
    assert_eq!(confidence as f32, played_confidence as f32, "{decided}");
    assert!(confidence >= 90.0, "{decided}");
    let checks = decided["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, CHECK_NAMES);
    for check in checks {
        let score = check["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score), "{check}");
        assert!(!check["reason"].as_str().unwrap().is_empty(), "{check}");
        assert!(check["measurements"].is_object(), "{check}");
    }
    // The confidence is bounded by the weakest strong check.
    let deciding = decided["deciding_check"].as_str().unwrap();
    let weakest = checks
        .iter()
        .filter(|c| c["strong"] == true)
        .min_by(|a, b| {
            a["score"]
                .as_f64()
                .unwrap()
                .total_cmp(&b["score"].as_f64().unwrap())
        })
        .unwrap();
    assert_eq!(weakest["name"], deciding);
    assert!(decided["frames"].as_u64().unwrap() > 0);

    // Another tenant's key learns nothing: the answer to a session that never existed.
    let expected = unknown_session_refusal(&server, OTHER).await;
    assert_eq!(expected.0, 404);
    assert_eq!(expected.1, "SessionNotFoundException");
    let other = report(&server, session, OTHER).await;
    assert_eq!(without_id(&other, session), expected);
    assert_eq!(other.json["__type"], "SessionNotFoundException");
    assert_eq!(other.json["Logref"], other.request_id());
    // A key of the owner's tenant without the permission is refused by name.
    let reader = report(&server, session, READER).await;
    assert_eq!(reader.error_type(), "AccessDeniedException");
    assert!(
        reader.json["Message"]
            .as_str()
            .unwrap()
            .ends_with("openliveness:GetFaceLivenessSessionReport"),
        "{}",
        reader.json
    );

    // The requests are counted as the control plane's are.
    let metrics = String::from_utf8(
        send(&server, "GET", "/metrics", &[], b"", UNSIGNED)
            .await
            .body,
    )
    .unwrap();
    for line in [
        r#"openliveness_requests_total{operation="GetFaceLivenessSessionReport",outcome="ok"} 1"#,
        r#"openliveness_requests_total{operation="GetFaceLivenessSessionReport",outcome="SessionNotFoundException"} 2"#,
        r#"openliveness_requests_total{operation="GetFaceLivenessSessionReport",outcome="AccessDeniedException"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }

    // Once its evidence is gone the session has no report: as if it never existed.
    server
        .state
        .evidence
        .delete(SessionId::parse(session).unwrap())
        .await
        .unwrap();
    let gone = report(&server, session, OWNER).await;
    assert_eq!(
        without_id(&gone, session),
        unknown_session_refusal(&server, OWNER).await
    );
}

/// The key the sealed-evidence test names, in the local keyring.
fn kms_toml() -> String {
    format!(
        r#"
        [[kms.keys]]
        id = "liveness-key"
        account = "{TENANT}"
        aliases = ["alias/liveness"]
        "#
    )
}

/// A WebM header, then bytes no decoder reads.
fn unreadable_video() -> Vec<u8> {
    let mut video = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01];
    video.extend((0..3000u32).map(|i| (i % 200) as u8));
    video
}

#[tokio::test]
async fn a_request_that_fails_authentication_gets_the_control_planes_answer() {
    let (server, _clock) = start_manual(false, "").await;
    let session = SessionId::random().to_string();
    let get = json!({"SessionId": session});
    for (key, expected) in [
        (UNSIGNED, (403, "MissingAuthenticationTokenException")),
        (
            Some((KEY, "not-the-secret")),
            (400, "InvalidSignatureException"),
        ),
        (
            Some(("AKIDNOBODY", SECRET)),
            (400, "UnrecognizedClientException"),
        ),
    ] {
        let reply = report(&server, &session, key).await;
        assert_eq!(
            (reply.status, reply.error_type()),
            expected,
            "{}",
            reply.json
        );
        assert_eq!(reply.json["__type"], expected.1);
        assert_eq!(reply.json["Logref"], reply.request_id());
        let control = control(&server, "GetFaceLivenessSessionResults", &get, key).await;
        assert_eq!(
            (control.status, control.error_type()),
            expected,
            "{}",
            control.json
        );
    }
}

#[tokio::test]
async fn an_unknown_id_is_not_found_and_a_malformed_one_is_an_invalid_parameter() {
    let (server, _clock) = start_manual(false, "").await;
    let never = SessionId::random().to_string();
    let reply = report(&server, &never, OWNER).await;
    assert_eq!(
        reply.refusal(),
        (
            404,
            "SessionNotFoundException".to_owned(),
            format!("Session {never} not found")
        )
    );
    assert_eq!(reply.headers["content-type"], "application/x-amz-json-1.1");
    assert!(!reply.request_id().is_empty());
    for malformed in [
        "not-a-session-id",
        &never.to_uppercase(),
        &format!("{never}0"),
    ] {
        let reply = report(&server, malformed, OWNER).await;
        assert_eq!(
            (reply.status, reply.error_type()),
            (400, "InvalidParameterException"),
            "{malformed}: {}",
            reply.json
        );
        assert!(
            reply.json["Message"]
                .as_str()
                .unwrap()
                .contains("at 'sessionId' failed to satisfy constraint"),
            "{}",
            reply.json
        );
    }
    // Authentication comes first: an unsigned caller learns nothing about the id.
    let unsigned = report(&server, "not-a-session-id", UNSIGNED).await;
    assert_eq!(unsigned.error_type(), "MissingAuthenticationTokenException");
}

#[tokio::test]
async fn an_undecided_session_is_a_conflict_and_an_expired_one_is_not_found() {
    let (server, clock) = start_manual(false, "").await;
    let session = create(&server, json!({}), OWNER).await;
    let created = report(&server, &session, OWNER).await;
    assert_eq!(
        (created.status, created.error_type()),
        (409, "InvalidParameterException"),
        "{}",
        created.json
    );
    assert!(created.json["Message"]
        .as_str()
        .unwrap()
        .contains("not been decided yet (status CREATED)"));
    // Claimed by a stream that has not ended.
    let id = SessionId::parse(&session).unwrap();
    server
        .state
        .store
        .claim(TENANT, id, clock.now_millis())
        .await
        .unwrap();
    let streaming = report(&server, &session, OWNER).await;
    assert_eq!(streaming.status, 409);
    assert!(streaming.json["Message"]
        .as_str()
        .unwrap()
        .contains("(status IN_PROGRESS)"));
    // Another tenant does not learn that the session exists.
    assert_eq!(
        without_id(&report(&server, &session, OTHER).await, &session),
        unknown_session_refusal(&server, OTHER).await
    );
    // Expired: not found, as if it never existed.
    clock.advance(Duration::from_secs(181));
    assert_eq!(
        without_id(&report(&server, &session, OWNER).await, &session),
        unknown_session_refusal(&server, OWNER).await
    );
}

#[tokio::test]
async fn with_the_anonymous_tenant_unsigned_requests_are_that_tenants() {
    let (server, _clock) =
        start_manual(false, &format!("[anonymous]\ntenant = \"{TENANT}\"\n")).await;
    let session = create(&server, json!({}), OWNER).await;
    // Unsigned: the anonymous tenant's own session, found (and not decided yet).
    let unsigned = report(&server, &session, UNSIGNED).await;
    assert_eq!(unsigned.status, 409, "{}", unsigned.json);
    // A signature that does not verify is still refused, as the control plane refuses it.
    let bad = report(&server, &session, Some((KEY, "not-the-secret"))).await;
    assert_eq!(bad.error_type(), "InvalidSignatureException");
    assert_eq!(
        without_id(&report(&server, &session, OTHER).await, &session),
        unknown_session_refusal(&server, OTHER).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_evidence_is_opened_for_the_report_and_an_unreadable_video_reports_failed() {
    let (server, _clock) = start_manual(true, &kms_toml()).await;

    // Under a KMS key the evidence rests sealed; the report is the engine's on the real video.
    let sealed = create(&server, json!({"KmsKeyId": "alias/liveness"}), OWNER).await;
    stream(&server, &sealed, &small_video(12)).await;
    let evidence_dir = server.dir.path().join("evidence").join(&sealed);
    assert!(std::fs::read(evidence_dir.join("video.bin"))
        .unwrap()
        .starts_with(openliveness_output::envelope::MAGIC));
    let decided = results(&server, &sealed).await;
    assert_eq!(decided["Status"], "SUCCEEDED", "{decided}");
    let reply = report(&server, &sealed, OWNER).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert!(
        reply.json["frames"].as_u64().unwrap() >= 6,
        "{}",
        reply.json
    );
    assert_eq!(
        reply.json["confidence"].as_f64().unwrap() as f32,
        decided["Confidence"].as_f64().unwrap() as f32
    );
    assert_eq!(reply.json["checks"][0]["name"], "one_face");

    // A video the engine cannot read: the session FAILED, and its report says why.
    let unreadable = create(&server, json!({}), OWNER).await;
    stream(&server, &unreadable, &unreadable_video()).await;
    assert_eq!(results(&server, &unreadable).await["Status"], "FAILED");
    let reply = report(&server, &unreadable, OWNER).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["status"], "FAILED");
    assert!(!reply.json["reason"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn without_the_engine_a_report_is_a_server_error_and_busy_slots_throttle() {
    let (server, _clock) = start_manual(false, "").await;
    let session = create(&server, json!({}), OWNER).await;
    // The session fails (no engine), but its evidence is kept.
    stream(&server, &session, &unreadable_video()).await;

    // Every report slot busy: refused at once, not queued.
    let slots = u32::try_from(server.state.report_slots.available_permits()).unwrap();
    assert!(slots >= 1);
    let held = Arc::clone(&server.state.report_slots)
        .acquire_many_owned(slots)
        .await
        .unwrap();
    let busy = report(&server, &session, OWNER).await;
    assert_eq!(busy.error_type(), "ThrottlingException", "{}", busy.json);
    drop(held);

    let reply = report(&server, &session, OWNER).await;
    assert_eq!(
        reply.refusal(),
        (
            500,
            "InternalServerError".to_owned(),
            "Internal server error".to_owned()
        )
    );
    // The slot is given back after the refusal.
    assert_eq!(
        u32::try_from(server.state.report_slots.available_permits()).unwrap(),
        slots
    );
}
