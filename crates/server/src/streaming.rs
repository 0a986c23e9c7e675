//! `StartFaceLivenessSession`: the selfie video stream, over three transports that carry the same
//! signed event-stream messages:
//! - `POST /start-face-liveness-session` over HTTP/1.1 (chunked, full duplex) or HTTP/2, signed
//!   in the `Authorization` header (the SDKs' default handlers);
//! - `GET /start-face-liveness-session-websocket` with a presigned URL, one event-stream message
//!   per binary WebSocket message (the Amplify clients).
//!
//! Each transport only turns its bytes into [`Inbound`] items and [`Outbound`] items into its
//! bytes; [`run`] is the one session flow: verify every envelope's chained signature, decode the
//! events, keep the evidence, and at the end hand it to the [`Analyzer`](crate::analysis::Analyzer),
//! store the result, send `DisconnectionEvent` and close.
//! Everything that can be refused before the stream starts (authentication, parameters, the
//! session: exists, this tenant's, `CREATED`, not expired) is an HTTP error; the single-use claim
//! is made before the response starts. After that, errors are exception events.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use openliveness_auth::{
    require_signed_headers_with_prefix, verify_header_auth, verify_presigned, AuthError,
    ChainVerifier, HeaderRequest, PresignedRequest, Principal, SecretKey,
};
use openliveness_evidence::{ClientEvent, Evidence, ReceivedEvent, VideoChunk};
use openliveness_protocol::eventstream::{self, Decoder, HeaderValue as EventHeaderValue, Limits};
use openliveness_protocol::streaming::{
    self, ChallengeEvent, ClientSessionInformationEvent, DisconnectionEvent,
    ServerSessionInformationEvent, SessionInformation, StartParameters, StreamError,
    StreamErrorCode, VideoEvent,
};
use openliveness_protocol::{Challenge, LivenessSessionStatus};
use openliveness_store::{Claim, Finish, Lookup, SessionRecord, SessionResult};
use tokio::sync::mpsc;

use crate::analysis::SessionObserver;
use crate::challenge::{self, IssuedChallenge};
use crate::AppState;

/// The SigV4 service name of the streaming API (not `rekognitionstreaming`).
pub const SERVICE: &str = "rekognition";
/// The IAM-style action a key needs.
pub const ACTION: &str = "rekognition:StartFaceLivenessSession";
/// The most video a session may send (AWS: 10 MB).
pub const MAX_VIDEO_BYTES: usize = 10 * 1024 * 1024;
/// The most `VideoEvent`s a stream may carry (a browser sends a chunk every second or so; each
/// is kept in the evidence, so 10 MB in one-byte chunks would cost hundreds of MB).
pub const MAX_VIDEO_EVENTS: usize = 1024;
/// The most `ClientSessionInformationEvent`s a stream may carry (a client sends one when the
/// face is first seen, one per colour and one at the end).
pub const MAX_INFORMATION_EVENTS: usize = 64;

/// WebSocket close codes.
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    pub const IDLE_TIMEOUT: u16 = 4001;
    pub const SESSION_EXPIRED: u16 = 4003;
}

/// What a transport received.
#[derive(Debug)]
pub enum Inbound {
    Bytes(Bytes),
    /// The client closed (with a WebSocket close code, if it sent one) or the body ended.
    Closed(Option<u16>),
    /// The transport failed (connection reset, malformed framing below event-stream).
    Failed(String),
}

/// What a transport must send.
#[derive(Debug)]
pub enum Outbound {
    /// One encoded event-stream message.
    Message(Vec<u8>),
    /// The end: close (WebSocket code and reason) or end the response body.
    Close(u16, String),
}

/// A session ready to stream: authenticated, claimed, its challenge issued.
pub struct StreamContext {
    pub record: SessionRecord,
    pub challenge: IssuedChallenge,
    pub chain: ChainVerifier,
    /// The stream's place among the open streams, held until it ends.
    pub slot: crate::quota::StreamSlot,
}

/// `POST /start-face-liveness-session` (HTTP/1.1 or HTTP/2).
pub async fn start_http(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let payload_hash = headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if payload_hash != streaming::STREAMING_PAYLOAD {
        return error_response(&StreamError::validation(format!(
            "x-amz-content-sha256 must be {}",
            streaming::STREAMING_PAYLOAD
        )));
    }
    let request = HeaderRequest {
        method: method.as_str(),
        raw_path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers: &headers,
        authority: uri.authority().map(|authority| authority.as_str()),
        payload_hash,
    };
    let principal = verify_header_auth(
        &request,
        state.credentials.as_ref(),
        SERVICE,
        state.clock.now(),
    )
    .and_then(|principal| {
        // The session and the video's size travel in these headers: the signature must cover
        // them, or a captured one would start any other session of its tenant.
        require_signed_headers_with_prefix(&headers, streaming::PARAMETER_HEADER_PREFIX)?;
        Ok(principal)
    });
    let header = |name: &str| {
        headers
            .get(format!("{}{name}", streaming::PARAMETER_HEADER_PREFIX))
            .and_then(|v| v.to_str().ok())
    };
    let parameters = streaming::parse_start_parameters(
        header("session-id"),
        header("video-width"),
        header("video-height"),
        header("challenge-versions"),
    );
    let context = match prepare(&state, principal, parameters).await {
        Ok(context) => context,
        Err(error) => return error_response(&error),
    };
    let session_id = context.record.id;
    let (inbound_tx, inbound_rx) = mpsc::channel(16);
    let (outbound_tx, outbound_rx) = mpsc::channel::<Outbound>(16);
    tokio::spawn(read_body(body, inbound_tx));
    tokio::spawn(run(Arc::clone(&state), context, inbound_rx, outbound_tx));
    let stream = futures_util::stream::unfold(outbound_rx, |mut rx| async move {
        match rx.recv().await {
            Some(Outbound::Message(bytes)) => {
                Some((Ok::<_, std::convert::Infallible>(Bytes::from(bytes)), rx))
            }
            Some(Outbound::Close(..)) | None => None,
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    let response_headers = response.headers_mut();
    response_headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static(streaming::EVENT_STREAM_CONTENT_TYPE),
    );
    if let Ok(value) = HeaderValue::from_str(&session_id.to_string()) {
        response_headers.insert("x-amz-rekognition-streaming-liveness-session-id", value);
    }
    response
}

async fn read_body(body: Body, inbound: mpsc::Sender<Inbound>) {
    let mut stream = body.into_data_stream();
    while let Some(item) = stream.next().await {
        let item = match item {
            Ok(bytes) => Inbound::Bytes(bytes),
            Err(error) => Inbound::Failed(error.to_string()),
        };
        let failed = matches!(item, Inbound::Failed(_));
        if inbound.send(item).await.is_err() || failed {
            return;
        }
    }
    let _ = inbound.send(Inbound::Closed(None)).await;
}

/// `GET /start-face-liveness-session-websocket` with a presigned URL.
pub async fn start_websocket(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let raw_query = uri.query().unwrap_or("");
    // A WebSocket over HTTP/2 is an extended CONNECT; the client presigned it as a GET.
    let signed_method = if method == Method::CONNECT {
        "GET"
    } else {
        method.as_str()
    };
    let request = PresignedRequest {
        method: signed_method,
        raw_path: uri.path(),
        raw_query,
        headers: &headers,
        authority: uri.authority().map(|authority| authority.as_str()),
    };
    let principal = verify_presigned(
        &request,
        state.credentials.as_ref(),
        SERVICE,
        state.clock.now(),
    );
    let query = openliveness_auth::sigv4::query_pairs(raw_query);
    let param = |name: &str| {
        query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    let parameters = streaming::parse_start_parameters(
        param("session-id"),
        param("video-width"),
        param("video-height"),
        param("challenge-versions"),
    );
    // Refuse a request that is not a WebSocket upgrade before touching the session.
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return error_response(&StreamError::validation(rejection.body_text())),
    };
    let context = match prepare(&state, principal, parameters).await {
        Ok(context) => context,
        Err(error) => return error_response(&error),
    };
    // No frame may be larger than the largest message: a frame is buffered whole before its
    // message's size is checked.
    let max_message_bytes = Limits::default().max_message_bytes;
    upgrade
        .max_message_size(max_message_bytes)
        .max_frame_size(max_message_bytes)
        .on_upgrade(move |socket| serve_websocket(state, context, socket))
}

async fn serve_websocket(state: Arc<AppState>, context: StreamContext, socket: WebSocket) {
    let (mut sink, mut source) = socket.split();
    let (inbound_tx, inbound_rx) = mpsc::channel(16);
    let (outbound_tx, mut outbound_rx) = mpsc::channel::<Outbound>(16);
    let mut reader = tokio::spawn(async move {
        while let Some(message) = source.next().await {
            let item = match message {
                Ok(WsMessage::Binary(bytes)) => Inbound::Bytes(bytes),
                Ok(WsMessage::Close(frame)) => Inbound::Closed(frame.map(|frame| frame.code)),
                Ok(WsMessage::Text(_)) => Inbound::Failed(
                    "text WebSocket messages are not part of the protocol".to_owned(),
                ),
                Ok(WsMessage::Ping(_) | WsMessage::Pong(_)) => continue,
                Err(error) => Inbound::Failed(error.to_string()),
            };
            let closed = matches!(item, Inbound::Closed(_));
            // Once the session has ended nobody listens: keep reading anyway until the client's
            // close, so that the closing handshake completes and the client reads everything
            // the server sent (closing with unread data would reset the connection).
            let _ = inbound_tx.send(item).await;
            if closed {
                return;
            }
        }
        let _ = inbound_tx.send(Inbound::Closed(None)).await;
    });
    let session = tokio::spawn(run(state, context, inbound_rx, outbound_tx));
    while let Some(item) = outbound_rx.recv().await {
        match item {
            Outbound::Message(bytes) => {
                if sink.send(WsMessage::Binary(bytes.into())).await.is_err() {
                    break;
                }
            }
            Outbound::Close(code, reason) => {
                let frame = CloseFrame {
                    code,
                    reason: reason.into(),
                };
                let _ = sink.send(WsMessage::Close(Some(frame))).await;
                break;
            }
        }
    }
    let _ = session.await;
    // Wait (bounded) for the client to answer the close before the socket is dropped.
    if tokio::time::timeout(CLOSE_HANDSHAKE_TIMEOUT, &mut reader)
        .await
        .is_err()
    {
        reader.abort();
    }
}

/// How long the server waits for a client's close frame after its own.
const CLOSE_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Everything checked before the stream starts; claims the session (single use).
async fn prepare(
    state: &AppState,
    principal: Result<Principal, AuthError>,
    parameters: Result<StartParameters, StreamError>,
) -> Result<StreamContext, StreamError> {
    let principal = principal.map_err(stream_auth_error)?;
    if !principal.allows(ACTION) {
        return Err(StreamError::new(
            StreamErrorCode::AccessDeniedException,
            format!(
                "User: {} is not authorized to perform: {ACTION}",
                principal.access_key_id
            ),
        ));
    }
    let parameters = parameters?;
    let tenant = principal.tenant.as_str();
    let id = parameters.session_id;
    // Admitted before the session is claimed: a refused start leaves it to be started again.
    let slot = state
        .stream_slots
        .admit(tenant)
        .map_err(|refused| match refused {
            crate::quota::Refused::Tenant(most) => StreamError::new(
                StreamErrorCode::ServiceQuotaExceededException,
                format!(
                    "The account has {most} face liveness sessions streaming, the most allowed"
                ),
            ),
            crate::quota::Refused::Server(_) => StreamError::new(
                StreamErrorCode::ThrottlingException,
                "Too many face liveness sessions are streaming; retry later",
            ),
        })?;
    // Session-scoped client credentials stream their one session only.
    if let Some(allowed) = principal.session_id.as_deref() {
        if allowed != id.to_string() {
            return Err(StreamError::new(
                StreamErrorCode::AccessDeniedException,
                format!(
                    "User: {} is not authorized to perform: {ACTION} on session {id}",
                    principal.access_key_id
                ),
            ));
        }
    }
    let not_found = || {
        StreamError::new(
            StreamErrorCode::SessionNotFoundException,
            format!("Session {id} not found"),
        )
    };
    let expired = || StreamError::validation(format!("Session {id} has expired"));
    let used = |status: LivenessSessionStatus| {
        StreamError::validation(format!(
            "Session {id} was already used (status {})",
            status.as_str()
        ))
    };
    let record = match state
        .store
        .get(tenant, id, state.clock.now_millis())
        .await
        .map_err(internal)?
    {
        Lookup::Found(record) => record,
        Lookup::Expired => return Err(expired()),
        Lookup::NotFound => return Err(not_found()),
    };
    if record.status != LivenessSessionStatus::Created {
        return Err(used(record.status));
    }
    let (kind, version) = challenge::select(
        &record.settings.challenge_preferences,
        &parameters.challenge_versions,
    )
    .ok_or_else(|| {
        StreamError::validation(
            "None of the client's ChallengeVersions is allowed for this session",
        )
    })?;
    let record = match state
        .store
        .claim(tenant, id, state.clock.now_millis())
        .await
        .map_err(internal)?
    {
        Claim::Claimed(record) => *record,
        Claim::AlreadyStarted(status) => return Err(used(status)),
        Claim::Expired => return Err(expired()),
        Claim::NotFound => return Err(not_found()),
    };
    let issued = {
        let mut random = state
            .challenge_random
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        challenge::issue(
            kind,
            version,
            parameters.video_width,
            parameters.video_height,
            &mut *random,
        )
    };
    let secret = state
        .credentials
        .lookup_with_token(
            &principal.access_key_id,
            principal.session_token.as_ref().map(SecretKey::expose),
        )
        .map(|credential| credential.secret_access_key)
        .ok_or_else(|| stream_auth_error(AuthError::UnrecognizedClient))?;
    let chain = ChainVerifier::new(secret, &principal.region, SERVICE, &principal.signature);
    state.metrics.streams_started.inc();
    tracing::info!(session_id = %id, challenge = kind.as_str(), "stream started");
    Ok(StreamContext {
        record,
        challenge: issued,
        chain,
        slot,
    })
}

fn stream_auth_error(error: AuthError) -> StreamError {
    let control = crate::control::auth_error(error);
    let code = match control.code {
        openliveness_protocol::ErrorCode::MissingAuthenticationTokenException => {
            StreamErrorCode::MissingAuthenticationTokenException
        }
        openliveness_protocol::ErrorCode::IncompleteSignatureException => {
            StreamErrorCode::IncompleteSignatureException
        }
        openliveness_protocol::ErrorCode::UnrecognizedClientException => {
            StreamErrorCode::UnrecognizedClientException
        }
        openliveness_protocol::ErrorCode::ExpiredTokenException => {
            StreamErrorCode::ExpiredTokenException
        }
        _ => StreamErrorCode::InvalidSignatureException,
    };
    StreamError::new(code, control.message)
}

fn internal(error: openliveness_store::StoreError) -> StreamError {
    tracing::error!(%error, "session store failed");
    StreamError::new(
        StreamErrorCode::InternalServerException,
        "Internal server error",
    )
}

/// Renders an error before the stream: restJson1 status, `x-amzn-ErrorType`, JSON body.
pub fn error_response(error: &StreamError) -> Response {
    tracing::info!(code = error.code.name(), message = %error.message, "stream refused");
    let status = StatusCode::from_u16(error.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, error.to_json_body()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        "x-amzn-errortype",
        HeaderValue::from_static(error.code.name()),
    );
    response
}

/// How a stream ended, for metrics and the session's failure reason.
#[derive(Debug)]
enum Ending {
    /// The client finished: analyse.
    Complete,
    /// Refused mid-stream: an exception event, then close with the code.
    Refused(StreamError, u16),
    /// The client went away (with its close code, if any).
    ClientGone(Option<u16>),
}

/// The session flow, the same for every transport.
pub async fn run(
    state: Arc<AppState>,
    context: StreamContext,
    mut inbound: mpsc::Receiver<Inbound>,
    outbound: mpsc::Sender<Outbound>,
) {
    state.metrics.streams_active.inc();
    let StreamContext {
        record,
        challenge,
        mut chain,
        slot,
    } = context;
    let mut evidence = Evidence {
        session_id: record.id,
        tenant: record.tenant.clone(),
        challenge: challenge.clone(),
        events: Vec::new(),
        video: Vec::new(),
    };
    let first = [
        eventstream::event_message(
            "ChallengeEvent",
            openliveness_protocol::encode(&ChallengeEvent {
                version: challenge.version.to_string(),
                r#type: challenge.kind.as_str().to_owned(),
            }),
        ),
        eventstream::event_message(
            "ServerSessionInformationEvent",
            openliveness_protocol::encode(&ServerSessionInformationEvent {
                session_information: SessionInformation {
                    challenge: challenge.server_challenge.clone(),
                },
            }),
        ),
    ];
    // The analysis sees the video while it streams in.
    let mut observer = state.analyzer.begin();
    let mut ending = None;
    for message in first {
        if send(&outbound, &message).await.is_err() {
            ending = Some(Ending::ClientGone(None));
        }
    }
    if ending.is_none() {
        ending = Some(
            receive(
                &state,
                &record,
                &challenge,
                &mut chain,
                &mut evidence,
                observer.as_mut(),
                &mut inbound,
            )
            .await,
        );
    }
    let ended = Ended {
        ending: ending.unwrap_or(Ending::ClientGone(None)),
        slot,
    };
    let outcome = finish(
        &state, &record, &challenge, evidence, observer, ended, &outbound,
    )
    .await;
    state.metrics.streams_active.dec();
    state
        .metrics
        .stream_outcomes
        .get_or_create(&crate::metrics::OutcomeLabels { outcome })
        .inc();
    tracing::info!(session_id = %record.id, outcome, "stream ended");
}

async fn send(outbound: &mpsc::Sender<Outbound>, message: &eventstream::Message) -> Result<(), ()> {
    let bytes = eventstream::encode_message(message).map_err(|_| ())?;
    outbound
        .send(Outbound::Message(bytes))
        .await
        .map_err(|_| ())
}

/// Reads the client's envelopes until the end of the video, a refusal, or the client leaving.
async fn receive(
    state: &AppState,
    record: &SessionRecord,
    challenge: &IssuedChallenge,
    chain: &mut ChainVerifier,
    evidence: &mut Evidence,
    observer: &mut dyn SessionObserver,
    inbound: &mut mpsc::Receiver<Inbound>,
) -> Ending {
    let idle = state.config.stream_idle_timeout;
    let remaining = record.expires_at.saturating_sub(state.clock.now_millis());
    let deadline = tokio::time::Instant::now() + Duration::from_millis(remaining);
    let mut decoder = Decoder::new(Limits::default());
    loop {
        let item = tokio::select! {
            item = inbound.recv() => item,
            () = tokio::time::sleep(idle) => {
                return Ending::Refused(StreamError::validation("Stream idle timeout: no data from the client"), close_code::IDLE_TIMEOUT);
            }
            () = tokio::time::sleep_until(deadline) => {
                return Ending::Refused(StreamError::validation("Session expired during the stream"), close_code::SESSION_EXPIRED);
            }
        };
        let bytes = match item {
            Some(Inbound::Bytes(bytes)) => bytes,
            Some(Inbound::Closed(code)) => {
                return match decoder.finish() {
                    Err(error) => Ending::Refused(
                        StreamError::validation(error.to_string()),
                        close_code::NORMAL,
                    ),
                    Ok(()) => Ending::ClientGone(code),
                };
            }
            Some(Inbound::Failed(reason)) => {
                return Ending::Refused(StreamError::validation(reason), close_code::NORMAL);
            }
            None => return Ending::ClientGone(None),
        };
        state
            .metrics
            .stream_bytes_received
            .inc_by(bytes.len() as u64);
        decoder.push(&bytes);
        loop {
            let envelope = match decoder.next_message() {
                Ok(Some(envelope)) => envelope,
                Ok(None) => break,
                Err(error) => {
                    return Ending::Refused(
                        StreamError::validation(error.to_string()),
                        close_code::NORMAL,
                    )
                }
            };
            match accept_envelope(state, challenge, chain, evidence, observer, &envelope) {
                Ok(true) => return Ending::Complete,
                Ok(false) => {}
                Err(error) => return Ending::Refused(error, close_code::NORMAL),
            }
        }
    }
}

/// Verifies and takes in one envelope; `Ok(true)` at the end of the client's input.
fn accept_envelope(
    state: &AppState,
    challenge: &IssuedChallenge,
    chain: &mut ChainVerifier,
    evidence: &mut Evidence,
    observer: &mut dyn SessionObserver,
    envelope: &eventstream::Message,
) -> Result<bool, StreamError> {
    let date = match eventstream::header(envelope, ":date") {
        Some(EventHeaderValue::Timestamp(date)) => date
            .to_millis()
            .map_err(|_| StreamError::validation("Invalid :date"))?,
        _ => {
            return Err(StreamError::validation(
                "Every client message must be a signed envelope with :date",
            ))
        }
    };
    let signature = match eventstream::header(envelope, ":chunk-signature") {
        Some(EventHeaderValue::ByteArray(bytes)) => bytes.clone(),
        _ => {
            return Err(StreamError::validation(
                "Every client message must carry a :chunk-signature",
            ))
        }
    };
    chain
        .verify(date, &signature, envelope.payload(), state.clock.now())
        .map_err(|error| {
            StreamError::validation(format!(
                "Invalid event signature: {}",
                stream_auth_error(error).message
            ))
        })?;
    if envelope.payload().is_empty() {
        return Ok(true);
    }
    let inner = eventstream::decode_message(envelope.payload().clone())
        .map_err(|error| StreamError::validation(error.to_string()))?;
    if eventstream::string_header(&inner, ":message-type") != Some("event") {
        return Err(StreamError::validation(
            "Client messages must have :message-type event",
        ));
    }
    let arrived_at = state.clock.now_millis();
    match eventstream::string_header(&inner, ":event-type") {
        Some("VideoEvent") => {
            let event: VideoEvent = serde_json::from_slice(inner.payload())
                .map_err(|error| StreamError::validation(format!("Invalid VideoEvent: {error}")))?;
            let chunk = event.video_chunk.map(|blob| blob.0).unwrap_or_default();
            if chunk.is_empty() {
                return Ok(true);
            }
            if evidence.video.len() + chunk.len() > MAX_VIDEO_BYTES {
                return Err(StreamError::validation("The video is larger than 10 MB"));
            }
            if video_events(evidence) >= MAX_VIDEO_EVENTS {
                return Err(StreamError::validation(format!(
                    "The video came in more than {MAX_VIDEO_EVENTS} VideoEvents"
                )));
            }
            evidence.events.push(ReceivedEvent {
                arrived_at,
                event: ClientEvent::VideoEvent(VideoChunk {
                    offset: evidence.video.len(),
                    length: chunk.len(),
                    timestamp_millis: event.timestamp_millis,
                }),
            });
            observer.video(&chunk);
            evidence.video.extend_from_slice(&chunk);
            Ok(false)
        }
        Some("ClientSessionInformationEvent") => {
            let event: ClientSessionInformationEvent = serde_json::from_slice(inner.payload())
                .map_err(|error| {
                    StreamError::validation(format!(
                        "Invalid ClientSessionInformationEvent: {error}"
                    ))
                })?;
            match event.challenge.member() {
                Some((kind, _)) if kind == challenge.kind => {}
                Some((kind, _)) => {
                    return Err(StreamError::validation(format!(
                        "The client answered {} but the session's challenge is {}",
                        kind.as_str(),
                        challenge.kind.as_str()
                    )))
                }
                None => {
                    return Err(StreamError::validation(
                        "Challenge must have exactly one member",
                    ))
                }
            }
            if evidence.events.len() - video_events(evidence) >= MAX_INFORMATION_EVENTS {
                return Err(StreamError::validation(format!(
                    "More than {MAX_INFORMATION_EVENTS} ClientSessionInformationEvents"
                )));
            }
            evidence.events.push(ReceivedEvent {
                arrived_at,
                event: ClientEvent::ClientSessionInformationEvent(Box::new(event)),
            });
            Ok(false)
        }
        other => Err(StreamError::validation(format!(
            "Unknown event type {}",
            other.unwrap_or("(none)")
        ))),
    }
}

/// How many of the evidence's events are `VideoEvent`s.
fn video_events(evidence: &Evidence) -> usize {
    evidence
        .events
        .iter()
        .filter(|received| matches!(received.event, ClientEvent::VideoEvent(_)))
        .count()
}

/// How a stream ended, and its place among the open streams, given up once its outcome is stored.
struct Ended {
    ending: Ending,
    slot: crate::quota::StreamSlot,
}

/// Ends the session: analyse (when complete), store the outcome, tell the client, close.
async fn finish(
    state: &AppState,
    record: &SessionRecord,
    challenge: &IssuedChallenge,
    evidence: Evidence,
    observer: Box<dyn SessionObserver>,
    Ended { ending, slot }: Ended,
    outbound: &mpsc::Sender<Outbound>,
) -> &'static str {
    let (finish, outcome, close) = match ending {
        Ending::Complete => match analyse(state, record, evidence, observer).await {
            Ok(mut result) => {
                result.challenge = Some(Challenge {
                    r#type: challenge.kind.as_str().to_owned(),
                    version: challenge.version.to_string(),
                });
                (
                    Finish {
                        status: LivenessSessionStatus::Succeeded,
                        result,
                    },
                    "succeeded",
                    (close_code::NORMAL, String::new()),
                )
            }
            Err(reason) => {
                tracing::warn!(session_id = %record.id, %reason, "session could not be analysed");
                (
                    failed(reason),
                    "analysis_failed",
                    (close_code::NORMAL, String::new()),
                )
            }
        },
        Ending::Refused(error, code) => {
            let _ = send(
                outbound,
                &eventstream::exception_message(error.code.name(), &error.message),
            )
            .await;
            tracing::info!(session_id = %record.id, code = error.code.name(), message = %error.message, "stream refused");
            let outcome = match code {
                close_code::IDLE_TIMEOUT => "idle_timeout",
                close_code::SESSION_EXPIRED => "session_expired",
                _ => "refused",
            };
            (
                failed(format!("{}: {}", error.code.name(), error.message)),
                outcome,
                (code, error.message),
            )
        }
        Ending::ClientGone(code) => {
            let reason = match code {
                Some(code) => {
                    format!("client closed the stream with code {code} before the end of the video")
                }
                None => "client disconnected before the end of the video".to_owned(),
            };
            (
                failed(reason),
                "client_gone",
                (close_code::NORMAL, String::new()),
            )
        }
    };
    let stored = state
        .store
        .finish(&record.tenant, record.id, finish, state.clock.now_millis())
        .await;
    // The work is done: the stream's place is free before the client hears the end.
    drop(slot);
    if let Err(error) = &stored {
        tracing::error!(session_id = %record.id, %error, "could not store the session's outcome");
        let _ = send(
            outbound,
            &eventstream::exception_message("InternalServerException", "Internal server error"),
        )
        .await;
    } else if outcome == "succeeded" || outcome == "analysis_failed" {
        let now = i64::try_from(state.clock.now_millis()).unwrap_or(i64::MAX);
        let event = DisconnectionEvent {
            timestamp_millis: now,
        };
        let _ = send(
            outbound,
            &eventstream::event_message(
                "DisconnectionEvent",
                openliveness_protocol::encode(&event),
            ),
        )
        .await;
    }
    let _ = outbound.send(Outbound::Close(close.0, close.1)).await;
    outcome
}

fn failed(reason: String) -> Finish {
    Finish {
        status: LivenessSessionStatus::Failed,
        result: SessionResult {
            confidence: None,
            challenge: None,
            reference_image: None,
            audit_images: Vec::new(),
            failure_reason: Some(reason),
        },
    }
}

/// Stores the evidence durably (sealed under a fresh data key when the session names a KMS key),
/// runs the analysis off the async workers, then delivers the images (`OutputConfig`).
async fn analyse(
    state: &AppState,
    record: &SessionRecord,
    evidence: Evidence,
    observer: Box<dyn SessionObserver>,
) -> Result<SessionResult, String> {
    let key = state.output.session_key(record).await?;
    match &key {
        Some(key) => {
            let sealed = openliveness_output::Output::seal_evidence(key, &evidence)?;
            state.evidence.put_sealed(&sealed).await
        }
        None => state.evidence.put(&evidence).await,
    }
    .map_err(|error| format!("could not store evidence: {error}"))?;
    let audit_images_limit = usize::from(record.settings.audit_images_limit);
    let result =
        tokio::task::spawn_blocking(move || observer.conclude(&evidence, audit_images_limit))
            .await
            .map_err(|error| format!("analysis crashed: {error}"))??;
    state.output.deliver(record, key.as_ref(), result).await
}
