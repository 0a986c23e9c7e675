//! StartFaceLivenessSession over WebSocket, in process, with a client that presigns its URL and
//! signs its envelopes the way the Amplify client does, and then misbehaves in every way a
//! network client can: the negative cases no SDK can be made to send.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_types::DateTime;
use futures_util::{SinkExt, StreamExt};
use openliveness_auth::{ChainVerifier, Credential, SecretKey, StaticCredentials, TenantId};
use openliveness_evidence::{ClientEvent, StoredEvidence};
use openliveness_protocol::eventstream::{self, Header, HeaderValue, Message};
use openliveness_protocol::{LivenessSessionStatus, SessionId, SessionSettings};
use openliveness_server::clock::{Clock, ManualClock, SystemClock};
use openliveness_server::config::{Config, FileConfig, Overrides};
use openliveness_server::AppState;
use openliveness_store::{Lookup, NewSession, RedbStore, RedbStoreConfig};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const KEY: &str = "AKIDSTREAMA";
const SECRET: &str = "stream-secret-a";
const TENANT: &str = "111111111111";
const OTHER_KEY: &str = "AKIDSTREAMB";
const OTHER_SECRET: &str = "stream-secret-b";
const VERSIONS: &str = "FaceMovementAndLightChallenge_2.0.0,FaceMovementChallenge_1.0.0";

struct Harness {
    state: Arc<AppState>,
    address: String,
    _dir: tempfile::TempDir,
}

async fn start(clock: Arc<dyn Clock>, idle_ms: Option<u64>) -> Harness {
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
    for (key, secret, tenant) in [
        (KEY, SECRET, TENANT),
        (OTHER_KEY, OTHER_SECRET, "222222222222"),
    ] {
        config.credentials.push(Credential {
            access_key_id: key.to_owned(),
            secret_access_key: SecretKey::new(secret),
            tenant: TenantId::new(tenant),
            session_token: None,
            expires_at: None,
            allowed_actions: None,
            session_id: None,
        });
    }
    let store = Arc::new(RedbStore::open(RedbStoreConfig::in_dir(dir.path())).unwrap());
    let credentials = Arc::new(StaticCredentials::new(config.credentials.clone()));
    let state = Arc::new(AppState::new(config, store, credentials, clock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let served = Arc::clone(&state);
    tokio::spawn(async move {
        openliveness_server::serve(listener, served, None, std::future::pending())
            .await
            .unwrap();
    });
    Harness {
        state,
        address,
        _dir: dir,
    }
}

async fn create_session(state: &AppState) -> SessionId {
    let now = state.clock.now_millis();
    let session = NewSession {
        id: SessionId::random(),
        tenant: TENANT.to_owned(),
        client_request_token: None,
        settings: SessionSettings::default(),
        created_at: now,
        expires_at: now + 180_000,
        purge_at: now + 3_780_000,
    };
    state.store.create(session).await.unwrap().id
}

/// A presigned WebSocket URL as the Amplify client builds it (X-Amz-Expires=299, host only).
fn presign(
    address: &str,
    session: SessionId,
    key: &str,
    secret: &str,
    at: SystemTime,
) -> (String, String) {
    let identity = Credentials::new(key, secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(299));
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("rekognition")
        .time(at)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!(
        "http://{address}/start-face-liveness-session-websocket?session-id={session}&video-width=640&video-height=480\
         &challenge-versions={}&attempt-count=1&precheck-view-enabled=1&x-amz-user-agent=test",
        VERSIONS.replace(',', "%2C")
    );
    let signable = SignableRequest::new(
        "GET",
        &url,
        [("host", address)].into_iter(),
        SignableBody::Bytes(b""),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder().uri(&url).body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let query = request.uri().query().unwrap().to_owned();
    let signature = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Amz-Signature="))
        .unwrap()
        .to_owned();
    (
        format!("ws://{address}/start-face-liveness-session-websocket?{query}"),
        signature,
    )
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Client {
    socket: Socket,
    chain: ChainVerifier,
    clock: Arc<dyn Clock>,
}

impl Client {
    async fn connect(harness: &Harness, session: SessionId) -> Client {
        Client::try_connect(harness, session, KEY, SECRET)
            .await
            .unwrap()
    }

    async fn try_connect(
        harness: &Harness,
        session: SessionId,
        key: &str,
        secret: &str,
    ) -> Result<Client, u16> {
        let clock = Arc::clone(&harness.state.clock);
        let (url, seed) = presign(&harness.address, session, key, secret, clock.now());
        match tokio_tungstenite::connect_async(url).await {
            Ok((socket, _)) => Ok(Client {
                socket,
                chain: ChainVerifier::new(
                    SecretKey::new(secret),
                    "us-east-1",
                    "rekognition",
                    &seed,
                ),
                clock,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(error) => panic!("{error}"),
        }
    }

    /// Wraps an inner message (or nothing, for the end frame) in a signed envelope.
    fn envelope(&mut self, inner: Option<&Message>) -> Vec<u8> {
        let payload = inner
            .map(|m| eventstream::encode_message(m).unwrap())
            .unwrap_or_default();
        let date = i64::try_from(self.clock.now_millis()).unwrap();
        let signature = self.chain.sign_next(date, &payload).unwrap();
        let envelope = Message::new(payload)
            .add_header(Header::new(
                ":date",
                HeaderValue::Timestamp(DateTime::from_millis(date)),
            ))
            .add_header(Header::new(
                ":chunk-signature",
                HeaderValue::ByteArray(signature.into()),
            ));
        eventstream::encode_message(&envelope).unwrap()
    }

    async fn send_bytes(&mut self, bytes: Vec<u8>) {
        self.socket
            .send(WsMessage::Binary(bytes.into()))
            .await
            .unwrap();
    }

    async fn send_event(&mut self, event_type: &str, json: serde_json::Value) {
        let inner = eventstream::event_message(event_type, serde_json::to_vec(&json).unwrap());
        let bytes = self.envelope(Some(&inner));
        self.send_bytes(bytes).await;
    }

    async fn send_video(&mut self, chunk: &[u8]) {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(chunk);
        let now = self.clock.now_millis();
        self.send_event(
            "VideoEvent",
            serde_json::json!({"VideoChunk": encoded, "TimestampMillis": now}),
        )
        .await;
    }

    /// The next server message: (`:event-type` or `:exception-type`, JSON), or the close code.
    async fn next(&mut self) -> Result<(String, serde_json::Value), Option<u16>> {
        loop {
            match self.socket.next().await {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    let message = eventstream::decode_message(bytes).unwrap();
                    let kind = eventstream::string_header(&message, ":event-type")
                        .or_else(|| eventstream::string_header(&message, ":exception-type"))
                        .unwrap()
                        .to_owned();
                    return Ok((kind, serde_json::from_slice(message.payload()).unwrap()));
                }
                Some(Ok(WsMessage::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// Reads the challenge the server sends first.
    async fn challenge(&mut self) -> serde_json::Value {
        assert_eq!(self.next().await.unwrap().0, "ChallengeEvent");
        let (kind, body) = self.next().await.unwrap();
        assert_eq!(kind, "ServerSessionInformationEvent");
        body
    }

    /// Everything until the server closes: the message kinds and the close code.
    async fn rest(&mut self) -> (Vec<String>, Option<u16>) {
        let mut kinds = Vec::new();
        loop {
            match self.next().await {
                Ok((kind, _)) => kinds.push(kind),
                Err(code) => return (kinds, code),
            }
        }
    }
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
    let session = create_session(&harness.state).await;
    let mut client = Client::connect(&harness, session).await;
    let info = client.challenge().await;
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
            client_info("FaceMovementAndLightChallenge"),
        )
        .await;
    let video: Vec<u8> = (0..250_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for chunk in video.chunks(100_000) {
        client.send_video(chunk).await;
    }
    client.send_video(&[]).await;
    let (kinds, code) = client.rest().await;
    assert_eq!(kinds, ["DisconnectionEvent"]);
    assert_eq!(code, Some(1000));

    // Without an engine (`AppState::new`'s default analyzer) the session ends FAILED, with the
    // reason kept for operators.
    let (status, reason) = status(&harness, session).await;
    assert_eq!(status, LivenessSessionStatus::Failed);
    assert_eq!(reason.as_deref(), Some("analysis engine unavailable"));
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
    let harness = start(Arc::new(SystemClock), None).await;
    let session = create_session(&harness.state).await;
    let mut client = Client::connect(&harness, session).await;
    client.challenge().await;
    client.send_video(b"webm bytes").await;
    let end = client.envelope(None);
    client.send_bytes(end).await;
    assert_eq!(
        client.rest().await,
        (vec!["DisconnectionEvent".to_owned()], Some(1000))
    );
}

/// Sends `mischief` after a valid start; expects a ValidationException event, then a close.
async fn refused_mid_stream(
    mischief: impl AsyncFnOnce(&mut Client),
    expected_code: u16,
) -> (Harness, SessionId, String) {
    // A short idle timeout only where idleness is the point; elsewhere long enough that a slow
    // machine never mistakes a busy client for an idle one.
    let idle_ms = if expected_code == 4001 { 300 } else { 30_000 };
    let harness = start(Arc::new(SystemClock), Some(idle_ms)).await;
    let session = create_session(&harness.state).await;
    let mut client = Client::connect(&harness, session).await;
    client.challenge().await;
    client.send_video(b"first chunk").await;
    mischief(&mut client).await;
    let (kind, body) = client.next().await.unwrap();
    assert_eq!(kind, "ValidationException", "{body}");
    let message = body["Message"].as_str().unwrap().to_owned();
    assert_eq!(client.rest().await, (vec![], Some(expected_code)));
    let (status, reason) = status(&harness, session).await;
    assert_eq!(status, LivenessSessionStatus::Failed);
    assert!(reason.unwrap().contains("ValidationException"));
    (harness, session, message)
}

#[tokio::test]
async fn a_bad_chunk_signature_mid_stream_is_refused() {
    let (_, _, message) = refused_mid_stream(
        async |client| {
            let mut bytes = client.envelope(Some(&eventstream::event_message(
                "VideoEvent",
                br#"{"VideoChunk":"AAAA"}"#.to_vec(),
            )));
            // The signature is the last header value: flip a bit in it, then fix both CRCs so
            // that only the signature is wrong.
            let message = eventstream::decode_message(bytes.clone().into()).unwrap();
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
            bytes = eventstream::encode_message(&forged).unwrap();
            client.send_bytes(bytes).await;
        },
        1000,
    )
    .await;
    assert!(message.contains("signature"), "{message}");
}

#[tokio::test]
async fn a_replayed_envelope_is_refused() {
    refused_mid_stream(
        async |client| {
            let bytes = client.envelope(Some(&eventstream::event_message(
                "VideoEvent",
                br#"{"VideoChunk":"AAAA"}"#.to_vec(),
            )));
            client.send_bytes(bytes.clone()).await;
            client.send_bytes(bytes).await;
        },
        1000,
    )
    .await;
}

#[tokio::test]
async fn a_reordered_envelope_is_refused() {
    refused_mid_stream(
        async |client| {
            let first = client.envelope(Some(&eventstream::event_message(
                "VideoEvent",
                br#"{"VideoChunk":"AAAA"}"#.to_vec(),
            )));
            let second = client.envelope(Some(&eventstream::event_message(
                "VideoEvent",
                br#"{"VideoChunk":"BBBB"}"#.to_vec(),
            )));
            client.send_bytes(second).await;
            client.send_bytes(first).await;
        },
        1000,
    )
    .await;
}

#[tokio::test]
async fn an_unsigned_message_is_refused() {
    refused_mid_stream(
        async |client| {
            let inner =
                eventstream::event_message("VideoEvent", br#"{"VideoChunk":"AAAA"}"#.to_vec());
            client
                .send_bytes(eventstream::encode_message(&inner).unwrap())
                .await;
        },
        1000,
    )
    .await;
}

#[tokio::test]
async fn a_bad_crc_is_refused() {
    refused_mid_stream(
        async |client| {
            let mut bytes = client.envelope(Some(&eventstream::event_message(
                "VideoEvent",
                br#"{"VideoChunk":"AAAA"}"#.to_vec(),
            )));
            let last = bytes.len() - 1;
            bytes[last] ^= 0xff;
            client.send_bytes(bytes).await;
        },
        1000,
    )
    .await;
}

#[tokio::test]
async fn an_oversized_message_is_refused_from_its_prelude() {
    refused_mid_stream(
        async |client| {
            // A prelude announcing 64 MiB: refused before anything else is read.
            let mut prelude = Vec::new();
            prelude.extend_from_slice(&(64u32 << 20).to_be_bytes());
            prelude.extend_from_slice(&0u32.to_be_bytes());
            prelude.extend_from_slice(&crc32fast::hash(&prelude).to_be_bytes());
            client.send_bytes(prelude).await;
        },
        1000,
    )
    .await;
}

#[tokio::test]
async fn more_than_ten_megabytes_of_video_is_refused() {
    let (_, _, message) = refused_mid_stream(
        async |client| {
            let chunk = vec![7u8; 1024 * 1024];
            for _ in 0..11 {
                client.send_video(&chunk).await;
            }
        },
        1000,
    )
    .await;
    assert!(message.contains("10 MB"), "{message}");
}

#[tokio::test]
async fn a_truncated_frame_fails_the_session_when_the_client_closes() {
    let harness = start(Arc::new(SystemClock), None).await;
    let session = create_session(&harness.state).await;
    let mut client = Client::connect(&harness, session).await;
    client.challenge().await;
    let bytes = client.envelope(Some(&eventstream::event_message(
        "VideoEvent",
        br#"{"VideoChunk":"AAAA"}"#.to_vec(),
    )));
    client.send_bytes(bytes[..bytes.len() - 3].to_vec()).await;
    client.socket.send(WsMessage::Close(None)).await.unwrap();
    // After the client's close nothing more can be sent to it; the session records why it failed.
    let _ = client.rest().await;
    let (status, reason) = status(&harness, session).await;
    assert_eq!(status, LivenessSessionStatus::Failed);
    assert!(reason
        .unwrap()
        .contains("ended inside an event-stream message"));
}

#[tokio::test]
async fn an_idle_client_is_closed_with_4001() {
    let (_, _, message) = refused_mid_stream(async |_| {}, 4001).await;
    assert!(message.contains("idle"), "{message}");
}

#[tokio::test]
async fn a_client_close_with_a_4xxx_code_fails_the_session() {
    let harness = start(Arc::new(SystemClock), None).await;
    let session = create_session(&harness.state).await;
    let mut client = Client::connect(&harness, session).await;
    client.challenge().await;
    client.send_video(b"chunk").await;
    let frame = tokio_tungstenite::tungstenite::protocol::CloseFrame {
        code: CloseCode::from(4003),
        reason: "user cancel".into(),
    };
    client
        .socket
        .send(WsMessage::Close(Some(frame)))
        .await
        .unwrap();
    // The server answers the close; the session is failed by then.
    let _ = client.rest().await;
    let (status, reason) = status(&harness, session).await;
    assert_eq!(status, LivenessSessionStatus::Failed);
    assert!(reason.unwrap().contains("4003"));
}

#[tokio::test]
async fn refusals_before_the_upgrade_and_other_sessions_untouched() {
    let harness = start(Arc::new(SystemClock), None).await;
    let bystander = create_session(&harness.state).await;
    let session = create_session(&harness.state).await;

    // Unknown session, another tenant's session, a wrong secret: HTTP errors, no upgrade.
    assert_eq!(
        Client::try_connect(&harness, SessionId::random(), KEY, SECRET)
            .await
            .err(),
        Some(400)
    );
    assert_eq!(
        Client::try_connect(&harness, session, OTHER_KEY, OTHER_SECRET)
            .await
            .err(),
        Some(400)
    );
    assert_eq!(
        Client::try_connect(&harness, session, KEY, "wrong")
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        Client::try_connect(&harness, session, "AKIDNOBODY", SECRET)
            .await
            .err(),
        Some(403)
    );
    assert_eq!(
        status(&harness, session).await.0,
        LivenessSessionStatus::Created
    );

    // An expired presigned URL.
    let (url, _) = presign(
        &harness.address,
        session,
        KEY,
        SECRET,
        SystemTime::now() - Duration::from_secs(300),
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("{other:?}"),
    }

    // The first start wins; a second start of the same session is refused.
    let mut client = Client::connect(&harness, session).await;
    client.challenge().await;
    assert_eq!(
        Client::try_connect(&harness, session, KEY, SECRET)
            .await
            .err(),
        Some(400)
    );
    client.send_video(&[]).await;
    assert_eq!(client.rest().await.1, Some(1000));
    assert_eq!(
        Client::try_connect(&harness, session, KEY, SECRET)
            .await
            .err(),
        Some(400)
    );

    // None of this touched the other session.
    assert_eq!(
        status(&harness, bystander).await.0,
        LivenessSessionStatus::Created
    );
}

#[tokio::test]
async fn an_expired_session_is_refused_before_the_upgrade() {
    let clock = Arc::new(ManualClock::starting_at(SystemTime::now()));
    let harness = start(Arc::clone(&clock) as Arc<dyn Clock>, None).await;
    let session = create_session(&harness.state).await;
    clock.advance(Duration::from_secs(180));
    assert_eq!(
        Client::try_connect(&harness, session, KEY, SECRET)
            .await
            .err(),
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
    let harness = start(Arc::clone(&clock) as Arc<dyn Clock>, None).await;
    let session = create_session(&harness.state).await;
    let mut client = Client::connect(&harness, session).await;
    client.challenge().await;
    client.send_video(b"some video").await;
    client.send_video(&[]).await;
    assert_eq!(client.rest().await.1, Some(1000));
    assert!(harness.state.evidence.get(session).await.unwrap().is_some());
    clock.advance(Duration::from_secs(180));
    openliveness_server::sweep_once(&harness.state)
        .await
        .unwrap();
    assert_eq!(harness.state.evidence.get(session).await.unwrap(), None);
}

/// Sends a header-signed `POST /start-face-liveness-session` (HTTP/1.1) and returns the status
/// and `x-amzn-ErrorType` of the answer, which comes before any event is read.
async fn post_start(
    harness: &Harness,
    session: SessionId,
    key: &str,
    secret: &str,
    streaming: bool,
) -> (u16, String) {
    let identity = Credentials::new(key, secret, None, None, "test").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("rekognition")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let url = format!("http://{}/start-face-liveness-session", harness.address);
    let payload = if streaming {
        "STREAMING-AWS4-HMAC-SHA256-EVENTS"
    } else {
        "UNSIGNED-PAYLOAD"
    };
    let session = session.to_string();
    let headers = [
        ("host", harness.address.as_str()),
        ("content-type", "application/vnd.amazon.eventstream"),
        ("x-amz-content-sha256", payload),
        (
            "x-amz-rekognition-streaming-liveness-session-id",
            session.as_str(),
        ),
        ("x-amz-rekognition-streaming-liveness-video-width", "640"),
        ("x-amz-rekognition-streaming-liveness-video-height", "480"),
        (
            "x-amz-rekognition-streaming-liveness-challenge-versions",
            VERSIONS,
        ),
    ];
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.into_iter(),
        SignableBody::Precomputed(payload.to_owned()),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut builder = http::Request::builder()
        .method("POST")
        .uri("/start-face-liveness-session");
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let mut request = builder
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    let stream = tokio::net::TcpStream::connect(&harness.address)
        .await
        .unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let code = response
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), code)
}

#[tokio::test]
async fn http_starts_are_refused_with_aws_errors_before_the_response() {
    let harness = start(Arc::new(SystemClock), None).await;
    let session = create_session(&harness.state).await;
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
