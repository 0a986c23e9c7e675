//! StartFaceLivenessSession over WebSocket, in process, with a client that presigns its URL and
//! signs its envelopes the way the Amplify client does, and then misbehaves in every way a
//! network client can: the negative cases no SDK can be made to send.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

#[path = "support/loopback.rs"]
mod loopback;
#[path = "support/sessions.rs"]
mod sessions;
#[path = "support/tenants.rs"]
mod tenants;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openliveness_auth::StaticCredentials;
use openliveness_client::{
    system_clock, Endpoint, Keys, Payload, Signer, Stream, CHALLENGE_VERSIONS,
};
use openliveness_evidence::{ClientEvent, StoredEvidence};
use openliveness_protocol::eventstream::{self, Header, HeaderValue, Message};
use openliveness_protocol::{LivenessSessionStatus, SessionId};
use openliveness_server::clock::{Clock, ManualClock, SystemClock};
use openliveness_server::config::{Config, FileConfig, Overrides};
use openliveness_server::AppState;
use openliveness_store::{Lookup, RedbStore, RedbStoreConfig};
use sessions::create_session;
use tenants::{KEY, OTHER_KEY, OTHER_SECRET, OTHER_TENANT, SECRET, TENANT};

struct Harness {
    state: Arc<AppState>,
    address: String,
    _dir: tempfile::TempDir,
}

async fn start(clock: Arc<dyn Clock>, idle_ms: Option<u64>) -> Harness {
    start_with(clock, idle_ms, |_| {}).await
}

/// [`start`] with the configuration adjusted first.
async fn start_with(
    clock: Arc<dyn Clock>,
    idle_ms: Option<u64>,
    adjust: impl FnOnce(&mut Config),
) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let file = FileConfig {
        stream_idle_timeout_ms: idle_ms,
        ..FileConfig::default()
    };
    let overrides = Overrides {
        data_dir: Some(dir.path().to_owned()),
        ..Overrides::default()
    };
    let mut config = Config::resolve(file, overrides).unwrap();
    config.credentials.extend(tenants::credentials());
    adjust(&mut config);
    let store = Arc::new(RedbStore::open(RedbStoreConfig::in_dir(dir.path())).unwrap());
    let credentials = Arc::new(StaticCredentials::new(config.credentials.clone()));
    let state = Arc::new(AppState::new(config, store, credentials, clock));
    let address = loopback::serve(&state).await.to_string();
    Harness {
        state,
        address,
        _dir: dir,
    }
}

fn client(harness: &Harness, key: &str, secret: &str) -> openliveness_client::Client {
    let clock = Arc::clone(&harness.state.clock);
    openliveness_client::Client::new(Endpoint::at(&harness.address), Keys::new(key, secret))
        .with_clock(Arc::new(move || clock.now()))
}

async fn connect(harness: &Harness, session: SessionId) -> Stream {
    try_connect(harness, session, KEY, SECRET).await.unwrap()
}

/// A stream of `session` started with a presigned URL as the Amplify client builds it
/// (X-Amz-Expires=299, host only), or the HTTP status of the refusal.
async fn try_connect(
    harness: &Harness,
    session: SessionId,
    key: &str,
    secret: &str,
) -> Result<Stream, u16> {
    client(harness, key, secret)
        .start(&session.to_string(), (640, 480))
        .await
        .map_err(|error| error.status().unwrap_or_else(|| panic!("{error}")))
}

/// Reads the challenge the server sends first.
async fn challenge(client: &mut Stream) -> serde_json::Value {
    let (kinds, information) = client.session_information().await.unwrap();
    assert_eq!(kinds, ["ChallengeEvent", "ServerSessionInformationEvent"]);
    information
}

/// A server, a session of it, and a stream of that session past the challenge.
async fn started(clock: Arc<dyn Clock>, idle_ms: Option<u64>) -> (Harness, SessionId, Stream) {
    let harness = start(clock, idle_ms).await;
    let session = create_session(&harness.state, TENANT).await;
    let mut client = connect(&harness, session).await;
    challenge(&mut client).await;
    (harness, session, client)
}

/// A VideoEvent carrying `chunk` (base64), not in an envelope.
fn video_event(chunk: &str) -> Message {
    let body = format!(r#"{{"VideoChunk":"{chunk}"}}"#);
    eventstream::event_message("VideoEvent", body.into_bytes())
}

/// The next signed envelope of `client` around a VideoEvent carrying `chunk`, not sent.
fn video_envelope(client: &mut Stream, chunk: &str) -> Vec<u8> {
    client.envelope(Some(&video_event(chunk))).unwrap()
}

async fn status(harness: &Harness, session: SessionId) -> (LivenessSessionStatus, Option<String>) {
    match harness
        .state
        .store
        .get(TENANT, session, harness.state.clock.now_millis())
        .await
        .unwrap()
    {
        Lookup::Found(record) => (record.status, record.result.and_then(|r| r.failure_reason)),
        other => panic!("{other:?}"),
    }
}

/// Why `session` failed; it must have.
async fn failure_reason(harness: &Harness, session: SessionId) -> String {
    let (status, reason) = status(harness, session).await;
    assert_eq!(status, LivenessSessionStatus::Failed);
    reason.unwrap()
}

fn client_info(kind: &str) -> serde_json::Value {
    serde_json::json!({"Challenge": {kind: {
        "ChallengeId": "7c5ad40f-5c4e-4b7a-9d0c-3b4f0d6a2e11",
        "VideoStartTimestamp": 1_780_000_000_000i64,
        "InitialFace": {"InitialFaceDetectedTimestamp": 1_780_000_000_000i64,
            "BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": 0.4, "Top": 0.3}}}}})
}

#[tokio::test]
async fn a_whole_session_keeps_the_evidence_byte_for_byte_and_ends_with_disconnection() {
    let harness = start(Arc::new(SystemClock), None).await;
    let session = create_session(&harness.state, TENANT).await;
    let mut client = connect(&harness, session).await;
    let info = challenge(&mut client).await;
    let light = &info["SessionInformation"]["Challenge"]["FaceMovementAndLightChallenge"];
    assert!(light["OvalParameters"]["Width"].as_f64().unwrap() > 0.0);
    assert_eq!(light["ColorSequences"].as_array().unwrap().len(), 8);
    assert_eq!(
        status(&harness, session).await.0,
        LivenessSessionStatus::InProgress
    );

    client
        .send_event(
            "ClientSessionInformationEvent",
            &client_info("FaceMovementAndLightChallenge"),
        )
        .await
        .unwrap();
    let video: Vec<u8> = (0..250_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for chunk in video.chunks(100_000) {
        client.send_video(chunk).await.unwrap();
    }
    client.send_video(&[]).await.unwrap();
    let (kinds, code) = client.rest().await;
    assert_eq!(kinds, ["DisconnectionEvent"]);
    assert_eq!(code, Some(1000));

    // Without an engine (`AppState::new`'s default analyzer) the session ends FAILED, with the
    // reason kept for operators.
    assert_eq!(
        failure_reason(&harness, session).await,
        "analysis engine unavailable"
    );
    let evidence = match harness.state.evidence.get(session).await.unwrap().unwrap() {
        StoredEvidence::Plain(evidence) => *evidence,
        StoredEvidence::Sealed(_) => panic!("the session names no KMS key"),
    };
    assert_eq!(evidence.video, video);
    assert_eq!(evidence.events.len(), 4);
    assert!(matches!(
        evidence.events[0].event,
        ClientEvent::ClientSessionInformationEvent(_)
    ));
    assert_eq!(
        evidence.challenge.kind,
        openliveness_protocol::ChallengeKind::FaceMovementAndLightChallenge
    );
}

#[tokio::test]
async fn the_sdk_end_frame_also_ends_the_input() {
    let (_harness, _, mut client) = started(Arc::new(SystemClock), None).await;
    client.send_video(b"webm bytes").await.unwrap();
    let end = client.envelope(None).unwrap();
    client.send_bytes(end).await.unwrap();
    assert_eq!(
        client.rest().await,
        (vec!["DisconnectionEvent".to_owned()], Some(1000))
    );
}

/// Sends `mischief` after a valid start; expects a ValidationException event, then a close with
/// 1000: the exception's message.
async fn refused_mid_stream(mischief: impl AsyncFnOnce(&mut Stream)) -> String {
    // An idle timeout long enough that a slow machine never mistakes a busy client for an idle
    // one.
    refused_and_closed(mischief, 30_000, 1000).await
}

/// Sends `mischief` after a valid start on a server whose streams idle out after `idle_ms`;
/// expects a ValidationException event, then a close with `expected_code`: the exception's
/// message.
async fn refused_and_closed(
    mischief: impl AsyncFnOnce(&mut Stream),
    idle_ms: u64,
    expected_code: u16,
) -> String {
    let (harness, session, mut client) = started(Arc::new(SystemClock), Some(idle_ms)).await;
    client.send_video(b"first chunk").await.unwrap();
    mischief(&mut client).await;
    let event = client.next().await.unwrap();
    let (kind, body) = (event.kind.clone(), event.json());
    assert_eq!(kind, "ValidationException", "{body}");
    let message = body["Message"].as_str().unwrap().to_owned();
    assert_eq!(client.rest().await, (vec![], Some(expected_code)));
    assert!(failure_reason(&harness, session)
        .await
        .contains("ValidationException"));
    message
}

#[tokio::test]
async fn a_bad_chunk_signature_mid_stream_is_refused() {
    let message = refused_mid_stream(async |client| {
        let bytes = video_envelope(client, "AAAA");
        // The signature is the last header value: flip a bit in it, then fix both CRCs so
        // that only the signature is wrong.
        let message = eventstream::decode_message(bytes.into()).unwrap();
        let mut signature = match eventstream::header(&message, ":chunk-signature") {
            Some(HeaderValue::ByteArray(bytes)) => bytes.to_vec(),
            _ => unreachable!(),
        };
        signature[0] ^= 1;
        let forged = Message::new(message.payload().clone())
            .add_header(message.headers()[0].clone())
            .add_header(Header::new(
                ":chunk-signature",
                HeaderValue::ByteArray(signature.into()),
            ));
        let forged = eventstream::encode_message(&forged).unwrap();
        client.send_bytes(forged).await.unwrap();
    })
    .await;
    assert!(message.contains("signature"), "{message}");
}

#[tokio::test]
async fn a_replayed_envelope_is_refused() {
    refused_mid_stream(async |client| {
        let bytes = video_envelope(client, "AAAA");
        client.send_bytes(bytes.clone()).await.unwrap();
        client.send_bytes(bytes).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_reordered_envelope_is_refused() {
    refused_mid_stream(async |client| {
        let first = video_envelope(client, "AAAA");
        let second = video_envelope(client, "BBBB");
        client.send_bytes(second).await.unwrap();
        client.send_bytes(first).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_unsigned_message_is_refused() {
    refused_mid_stream(async |client| {
        let unsigned = eventstream::encode_message(&video_event("AAAA")).unwrap();
        client.send_bytes(unsigned).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_bad_crc_is_refused() {
    refused_mid_stream(async |client| {
        let mut bytes = video_envelope(client, "AAAA");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        client.send_bytes(bytes).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_oversized_message_is_refused_from_its_prelude() {
    refused_mid_stream(async |client| {
        // A prelude announcing 64 MiB: refused before anything else is read.
        let mut prelude = Vec::new();
        prelude.extend_from_slice(&(64u32 << 20).to_be_bytes());
        prelude.extend_from_slice(&0u32.to_be_bytes());
        prelude.extend_from_slice(&crc32fast::hash(&prelude).to_be_bytes());
        client.send_bytes(prelude).await.unwrap();
    })
    .await;
}

/// Issue 22: a WebSocket frame was buffered up to 16 MiB although no message may exceed 2 MiB.
/// A frame announcing 8 MiB is now refused from its header: after its header and 1 MiB of it,
/// the server closes the stream (before, it waited for the other 7 MiB).
#[tokio::test]
async fn a_websocket_frame_larger_than_a_message_is_refused_from_its_header() {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
    // No idle limit in sight: only the frame's size can end this stream.
    let harness = start(Arc::new(SystemClock), Some(600_000)).await;
    let session = create_session(&harness.state, TENANT).await;
    let presigned = Signer::new(Keys::new(KEY, SECRET))
        .presign_start(
            &harness.address,
            &session.to_string(),
            (640, 480),
            harness.state.clock.now(),
        )
        .unwrap();
    let path = &presigned.url[presigned.url.find("/start").unwrap()..];
    let socket = tokio::net::TcpStream::connect(&harness.address)
        .await
        .unwrap();
    let mut socket = tokio::io::BufReader::new(socket);
    let handshake = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        harness.address
    );
    socket.write_all(handshake.as_bytes()).await.unwrap();
    let mut status = String::new();
    socket.read_line(&mut status).await.unwrap();
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    // A masked binary frame (FIN, opcode 2) with a 64-bit length of 8 MiB, then 1 MiB of it.
    let mut frame = vec![0x82, 0x80 | 127];
    frame.extend_from_slice(&(8u64 << 20).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.resize(frame.len() + (1 << 20), 0);
    // The server may close while the frame is still being written.
    let _ = socket.write_all(&frame).await;
    // Whatever the server sent (the challenge, an exception, its close), up to the end of the
    // connection: it ends without the rest of the frame.
    let mut received = Vec::new();
    let ended =
        tokio::time::timeout(Duration::from_secs(60), socket.read_to_end(&mut received)).await;
    assert!(ended.is_ok(), "the server kept reading the 8 MiB frame");
    let reason = failure_reason(&harness, session).await;
    assert!(reason.contains("too long"), "{reason}");
}

#[tokio::test]
async fn more_than_ten_megabytes_of_video_is_refused() {
    let message = refused_mid_stream(async |client| {
        let chunk = vec![7u8; 1024 * 1024];
        for _ in 0..11 {
            client.send_video(&chunk).await.unwrap();
        }
    })
    .await;
    assert!(message.contains("10 MB"), "{message}");
}

/// Finding 1 of issue 22: a stream's events were not counted, only the video's bytes. Each event
/// is kept in the evidence, so their number is capped too.
#[tokio::test]
async fn more_than_1024_video_events_are_refused() {
    let message = refused_mid_stream(async |client| {
        // One chunk went before; 1023 more fit.
        for _ in 0..1024 {
            client.send_video(b"x").await.unwrap();
        }
    })
    .await;
    assert!(message.contains("more than 1024 VideoEvents"), "{message}");
}

#[tokio::test]
async fn more_than_64_client_session_information_events_are_refused() {
    let message = refused_mid_stream(async |client| {
        let body = serde_json::json!({
            "Challenge": {"FaceMovementAndLightChallenge": {"ChallengeId": "c"}}
        });
        for _ in 0..65 {
            client
                .send_event("ClientSessionInformationEvent", &body)
                .await
                .unwrap();
        }
    })
    .await;
    assert!(
        message.contains("More than 64 ClientSessionInformationEvents"),
        "{message}"
    );
}

#[tokio::test]
async fn a_truncated_frame_fails_the_session_when_the_client_closes() {
    let (harness, session, mut client) = started(Arc::new(SystemClock), None).await;
    let bytes = video_envelope(&mut client, "AAAA");
    client
        .send_bytes(bytes[..bytes.len() - 3].to_vec())
        .await
        .unwrap();
    client.close(None).await.unwrap();
    // After the client's close nothing more can be sent to it; the session records why it failed.
    let _ = client.rest().await;
    assert!(failure_reason(&harness, session)
        .await
        .contains("ended inside an event-stream message"));
}

#[tokio::test]
async fn an_idle_client_is_closed_with_4001() {
    // A short idle timeout: idleness is the point.
    let message = refused_and_closed(async |_| {}, 300, 4001).await;
    assert!(message.contains("idle"), "{message}");
}

#[tokio::test]
async fn a_client_close_with_a_4xxx_code_fails_the_session() {
    let (harness, session, mut client) = started(Arc::new(SystemClock), None).await;
    client.send_video(b"chunk").await.unwrap();
    client.close(Some((4003, "user cancel"))).await.unwrap();
    // The server answers the close; the session is failed by then.
    let _ = client.rest().await;
    assert!(failure_reason(&harness, session).await.contains("4003"));
}

#[tokio::test]
async fn refusals_before_the_upgrade_and_other_sessions_untouched() {
    let harness = start(Arc::new(SystemClock), None).await;
    let bystander = create_session(&harness.state, TENANT).await;
    let session = create_session(&harness.state, TENANT).await;

    // Unknown session, another tenant's session, a wrong secret: HTTP errors, no upgrade.
    assert_eq!(
        try_connect(&harness, SessionId::random(), KEY, SECRET)
            .await
            .err(),
        Some(400)
    );
    assert_eq!(
        try_connect(&harness, session, OTHER_KEY, OTHER_SECRET)
            .await
            .err(),
        Some(400)
    );
    assert_eq!(
        try_connect(&harness, session, KEY, "wrong").await.err(),
        Some(403)
    );
    assert_eq!(
        try_connect(&harness, session, "AKIDNOBODY", SECRET)
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        status(&harness, session).await.0,
        LivenessSessionStatus::Created
    );

    // An expired presigned URL.
    let signer = Signer::new(Keys::new(KEY, SECRET));
    let at = SystemTime::now() - Duration::from_secs(300);
    let expired = signer
        .presign_start(&harness.address, &session.to_string(), (640, 480), at)
        .unwrap();
    let refused = Stream::connect(&expired, &signer, system_clock()).await;
    assert_eq!(refused.err().and_then(|error| error.status()), Some(403));

    // The first start wins; a second start of the same session is refused.
    let mut client = connect(&harness, session).await;
    challenge(&mut client).await;
    assert_eq!(
        try_connect(&harness, session, KEY, SECRET).await.err(),
        Some(400)
    );
    client.send_video(&[]).await.unwrap();
    assert_eq!(client.rest().await.1, Some(1000));
    assert_eq!(
        try_connect(&harness, session, KEY, SECRET).await.err(),
        Some(400)
    );

    // None of this touched the other session.
    assert_eq!(
        status(&harness, bystander).await.0,
        LivenessSessionStatus::Created
    );
}

/// Admission control (issue 22): a stream beyond its tenant's limit is refused at its start with
/// `ServiceQuotaExceededException`, beyond the server's with `ThrottlingException` (both 429);
/// the refused session stays `CREATED` and starts once a place is free.
#[tokio::test]
async fn streams_beyond_the_tenant_s_or_the_server_s_limit_are_refused_at_their_start() {
    let harness = start_with(Arc::new(SystemClock), None, |config| {
        config.limits.max_streams_per_tenant = 1;
        config.limits.max_streams = 2;
    })
    .await;
    let first = create_session(&harness.state, TENANT).await;
    let second = create_session(&harness.state, TENANT).await;
    let mut streaming = connect(&harness, first).await;
    challenge(&mut streaming).await;
    assert_eq!(
        try_connect(&harness, second, KEY, SECRET).await.err(),
        Some(429)
    );
    assert_eq!(
        status(&harness, second).await.0,
        LivenessSessionStatus::Created
    );
    // The other tenant takes the server's second place; then the server is full.
    let others = create_session(&harness.state, OTHER_TENANT).await;
    let mut other = try_connect(&harness, others, OTHER_KEY, OTHER_SECRET)
        .await
        .unwrap();
    challenge(&mut other).await;
    let third = create_session(&harness.state, OTHER_TENANT).await;
    assert_eq!(
        try_connect(&harness, third, OTHER_KEY, OTHER_SECRET)
            .await
            .err(),
        Some(429)
    );
    // The first stream ends: its tenant's next session starts.
    streaming.send_video(&[]).await.unwrap();
    streaming.rest().await;
    let mut next = connect(&harness, second).await;
    challenge(&mut next).await;
    assert_eq!(harness.state.stream_slots.open(), 2);
}

#[tokio::test]
async fn an_expired_session_is_refused_before_the_upgrade() {
    let clock = Arc::new(ManualClock::starting_at(SystemTime::now()));
    let harness = start(Arc::clone(&clock) as Arc<dyn Clock>, None).await;
    let session = create_session(&harness.state, TENANT).await;
    clock.advance(Duration::from_secs(180));
    assert_eq!(
        try_connect(&harness, session, KEY, SECRET).await.err(),
        Some(400)
    );
}

#[tokio::test]
async fn expiry_deletes_the_evidence() {
    let clock = Arc::new(ManualClock::starting_at(
        UNIX_EPOCH
            + Duration::from_secs(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
            ),
    ));
    let (harness, session, mut client) = started(Arc::clone(&clock) as Arc<dyn Clock>, None).await;
    client.send_video(b"some video").await.unwrap();
    client.send_video(&[]).await.unwrap();
    assert_eq!(client.rest().await.1, Some(1000));
    assert!(harness.state.evidence.get(session).await.unwrap().is_some());
    clock.advance(Duration::from_secs(180));
    openliveness_server::sweep_once(&harness.state)
        .await
        .unwrap();
    assert_eq!(harness.state.evidence.get(session).await.unwrap(), None);
}

/// Sends a header-signed `POST /start-face-liveness-session` (HTTP/1.1) and returns the status
/// and `x-amzn-ErrorType` of the answer.
async fn post_start(
    harness: &Harness,
    session: SessionId,
    key: &str,
    secret: &str,
    streaming: bool,
) -> (u16, String) {
    let payload = if streaming {
        "STREAMING-AWS4-HMAC-SHA256-EVENTS"
    } else {
        "UNSIGNED-PAYLOAD"
    };
    let mut request = start_request(harness, session, payload);
    sign_start(&mut request, key, secret, payload);
    send_start(harness, request).await
}

/// Signs a start request as the SDKs do, every header it carries, at the system's time.
fn sign_start<B>(request: &mut http::Request<B>, key: &str, secret: &str, payload: &str) {
    Signer::new(Keys::new(key, secret))
        .sign(request, Payload::Precomputed(payload), SystemTime::now())
        .unwrap();
}

/// A StartFaceLivenessSession request over HTTP for `session`, its payload's hash `payload`,
/// not signed yet.
fn start_request(
    harness: &Harness,
    session: SessionId,
    payload: &str,
) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    http::Request::builder()
        .method("POST")
        .uri("/start-face-liveness-session")
        .header("host", &harness.address)
        .header("content-type", "application/vnd.amazon.eventstream")
        .header("x-amz-content-sha256", payload)
        .header(
            "x-amz-rekognition-streaming-liveness-session-id",
            session.to_string(),
        )
        .header("x-amz-rekognition-streaming-liveness-video-width", "640")
        .header("x-amz-rekognition-streaming-liveness-video-height", "480")
        .header(
            "x-amz-rekognition-streaming-liveness-challenge-versions",
            CHALLENGE_VERSIONS,
        )
        .body(http_body_util::Full::default())
        .unwrap()
}

async fn send_start(
    harness: &Harness,
    request: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> (u16, String) {
    let answer = openliveness_client::send(&harness.address, request)
        .await
        .unwrap();
    (answer.status, answer.error_type.unwrap_or_default())
}

/// Issue 22: the signature of a start over HTTP had to cover only `host`, so a captured one
/// started another session of its tenant with that session's id in an unsigned header.
#[tokio::test]
async fn a_start_whose_parameter_headers_are_not_all_signed_is_refused() {
    let harness = start(Arc::new(SystemClock), None).await;
    let (signed_for, other) = (
        create_session(&harness.state, TENANT).await,
        create_session(&harness.state, TENANT).await,
    );
    let payload = "STREAMING-AWS4-HMAC-SHA256-EVENTS";
    let mut request = start_request(&harness, signed_for, payload);
    sign_start(&mut request, KEY, SECRET, payload);
    // The signature as captured, then the session's id changed in its header.
    let authorization = request.headers()["authorization"].to_str().unwrap();
    assert!(authorization.contains("x-amz-rekognition-streaming-liveness-session-id"));
    let signed_headers = request.headers().clone();
    let mut replayed = start_request(&harness, other, payload);
    for name in ["authorization", "x-amz-date"] {
        replayed
            .headers_mut()
            .insert(name, signed_headers[name].clone());
    }
    assert_eq!(
        send_start(&harness, replayed).await,
        (403, "InvalidSignatureException".to_owned())
    );
    // Signed with only host, x-amz-date and the payload's hash, any session id would be taken:
    // each parameter header outside the signature is refused.
    let mut host_only = http::Request::builder()
        .method("POST")
        .uri("/start-face-liveness-session")
        .header("host", &harness.address)
        .header("x-amz-content-sha256", payload)
        .body(http_body_util::Full::<bytes::Bytes>::default())
        .unwrap();
    sign_start(&mut host_only, KEY, SECRET, payload);
    let mut unsigned = start_request(&harness, other, payload);
    for (name, value) in host_only.headers() {
        unsigned.headers_mut().insert(name, value.clone());
    }
    assert_eq!(
        send_start(&harness, unsigned).await,
        (403, "IncompleteSignatureException".to_owned())
    );
    for session in [signed_for, other] {
        assert_eq!(
            status(&harness, session).await.0,
            LivenessSessionStatus::Created
        );
    }
}

#[tokio::test]
async fn http_starts_are_refused_with_aws_errors_before_the_response() {
    let harness = start(Arc::new(SystemClock), None).await;
    let session = create_session(&harness.state, TENANT).await;
    assert_eq!(
        post_start(&harness, session, KEY, "wrong", true).await,
        (403, "InvalidSignatureException".to_owned())
    );
    assert_eq!(
        post_start(&harness, session, "AKIDNOBODY", SECRET, true).await,
        (403, "UnrecognizedClientException".to_owned())
    );
    assert_eq!(
        post_start(&harness, session, KEY, SECRET, false).await,
        (400, "ValidationException".to_owned())
    );
    assert_eq!(
        post_start(&harness, SessionId::random(), KEY, SECRET, true).await,
        (400, "SessionNotFoundException".to_owned())
    );
    assert_eq!(
        post_start(&harness, session, OTHER_KEY, OTHER_SECRET, true).await,
        (400, "SessionNotFoundException".to_owned())
    );
    assert_eq!(
        status(&harness, session).await.0,
        LivenessSessionStatus::Created
    );
    // The first valid start claims the session; a second is refused.
    assert_eq!(
        post_start(&harness, session, KEY, SECRET, true).await.0,
        200
    );
    assert_eq!(
        post_start(&harness, session, KEY, SECRET, true).await,
        (400, "ValidationException".to_owned())
    );
}
