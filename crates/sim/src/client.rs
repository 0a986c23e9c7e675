//! Plays a simulated session against a running server as the Amplify web component does:
//! CreateFaceLivenessSession (SigV4-signed awsJson1_1), then StartFaceLivenessSession over the
//! WebSocket transport with a presigned URL, the challenge read from the server's
//! ServerSessionInformationEvent, the response to that challenge rendered, streamed in signed
//! envelopes (in real time or as fast as possible), the empty VideoEvent, DisconnectionEvent,
//! and GetFaceLivenessSessionResults.

use std::time::{Duration, Instant, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_types::DateTime;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use openliveness_auth::{ChainVerifier, SecretKey};
use openliveness_protocol::eventstream::{self, Header, HeaderValue, Message};
use openliveness_protocol::streaming::ServerChallenge;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::scenario::{simulate_with, ChallengeSpec, SessionSpec, Species};
use crate::session::{client_messages, encode, ClientMessage};

const REGION: &str = "us-east-1";

/// Where and as whom to play.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://HOST:PORT`.
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// What happened.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Played {
    pub session_id: String,
    /// The server's events, in order (`:event-type` or `:exception-type`).
    pub received: Vec<String>,
    /// The close code the server sent.
    pub close_code: Option<u16>,
    /// From the last byte sent to DisconnectionEvent.
    pub disconnect_ms: Option<f64>,
    /// GetFaceLivenessSessionResults' answer.
    pub results: Value,
}

fn authority(endpoint: &str) -> Result<&str, String> {
    endpoint
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .ok_or_else(|| format!("{endpoint:?}: only http:// endpoints are supported"))
}

fn identity(target: &Target) -> aws_smithy_runtime_api::client::identity::Identity {
    Credentials::new(
        &target.access_key_id,
        &target.secret_access_key,
        None,
        None,
        "sim",
    )
    .into()
}

fn signing_params<'a>(
    identity: &'a aws_smithy_runtime_api::client::identity::Identity,
    service: &'a str,
    settings: SigningSettings,
) -> Result<aws_sigv4::http_request::SigningParams<'a>, String> {
    Ok(SigningParams::builder()
        .identity(identity)
        .region(REGION)
        .name(service)
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into())
}

/// One signed control-plane call.
pub async fn control(target: &Target, operation: &str, body: &Value) -> Result<Value, String> {
    let authority = authority(&target.endpoint)?;
    let body = serde_json::to_vec(body).map_err(|e| e.to_string())?;
    let identity = identity(target);
    let params = signing_params(&identity, "rekognition", SigningSettings::default())?;
    let url = format!("http://{authority}/");
    let amz_target = format!("RekognitionService.{operation}");
    let headers = [
        ("host", authority),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", amz_target.as_str()),
    ];
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(&body),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let mut request = http::Request::builder().method("POST").uri(&url);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let mut request = request
        .body(Full::new(bytes::Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    instructions.apply_to_request_http1x(&mut request);
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("connect {authority}: {e}"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(format!("{operation}: HTTP {status}: {value}"));
    }
    Ok(value)
}

/// The presigned WebSocket URL and its signature (the seed of the event chain).
pub fn presign(
    target: &Target,
    session_id: &str,
    width: u32,
    height: u32,
) -> Result<(String, String), String> {
    let authority = authority(&target.endpoint)?;
    let identity = identity(target);
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(299));
    let params = signing_params(&identity, "rekognition", settings)?;
    let url = format!(
        "http://{authority}/start-face-liveness-session-websocket?session-id={session_id}\
         &video-width={width}&video-height={height}\
         &challenge-versions=FaceMovementAndLightChallenge_2.0.0%2CFaceMovementChallenge_1.0.0"
    );
    let signable = SignableRequest::new(
        "GET",
        &url,
        [("host", authority)].into_iter(),
        SignableBody::Bytes(b""),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    let mut request = http::Request::builder()
        .uri(&url)
        .body(())
        .map_err(|e| e.to_string())?;
    instructions.apply_to_request_http1x(&mut request);
    let query = request.uri().query().unwrap_or_default().to_owned();
    let signature = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Amz-Signature="))
        .ok_or("the presigned URL has no signature")?
        .to_owned();
    Ok((
        format!("ws://{authority}/start-face-liveness-session-websocket?{query}"),
        signature,
    ))
}

fn now_millis() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

/// One event in a signed envelope, as the JS SDK frames it.
pub fn envelope(
    chain: &mut ChainVerifier,
    event_type: &str,
    json: &Value,
) -> Result<Vec<u8>, String> {
    let inner = eventstream::event_message(
        event_type,
        serde_json::to_vec(json).map_err(|e| e.to_string())?,
    );
    let payload = eventstream::encode_message(&inner).map_err(|e| e.to_string())?;
    let now = now_millis();
    let signature = chain.sign_next(now, &payload).ok_or("signing failed")?;
    let message = Message::new(payload)
        .add_header(Header::new(
            ":date",
            HeaderValue::Timestamp(DateTime::from_millis(now)),
        ))
        .add_header(Header::new(
            ":chunk-signature",
            HeaderValue::ByteArray(signature.into()),
        ));
    eventstream::encode_message(&message).map_err(|e| e.to_string())
}

/// Plays one simulated session: `species` answering the challenge the server issues.
pub async fn play(
    target: &Target,
    species: Species,
    seed: u64,
    size: (u32, u32),
    real_time: bool,
) -> Result<Played, String> {
    let texture = crate::face::Texture::shared().map_err(|e| e.to_string())?;
    let created = control(target, "CreateFaceLivenessSession", &json!({})).await?;
    let session_id = created["SessionId"]
        .as_str()
        .ok_or("CreateFaceLivenessSession returned no SessionId")?
        .to_owned();
    let (url, seed_signature) = presign(target, &session_id, size.0, size.1)?;
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("WebSocket: {e}"))?;
    let mut chain = ChainVerifier::new(
        SecretKey::new(target.secret_access_key.clone()),
        REGION,
        "rekognition",
        &seed_signature,
    );
    let mut received = Vec::new();
    // The web client sends nothing until it has the challenge.
    let challenge: ServerChallenge = loop {
        match socket.next().await {
            Some(Ok(WsMessage::Binary(bytes))) => {
                let message = eventstream::decode_message(bytes).map_err(|e| e.to_string())?;
                let name = eventstream::string_header(&message, ":event-type")
                    .or_else(|| eventstream::string_header(&message, ":exception-type"))
                    .unwrap_or("?")
                    .to_owned();
                received.push(name.clone());
                if name == "ServerSessionInformationEvent" {
                    let body: Value =
                        serde_json::from_slice(message.payload()).map_err(|e| e.to_string())?;
                    break serde_json::from_value(body["SessionInformation"]["Challenge"].clone())
                        .map_err(|e| format!("unreadable challenge: {e}"))?;
                }
            }
            Some(Ok(_)) => {}
            other => return Err(format!("the stream ended before the challenge: {other:?}")),
        }
    };
    let spec = SessionSpec {
        species,
        seed,
        challenge: ChallengeSpec::from_server(&challenge, size.0, size.1)
            .ok_or("the challenge has no member")?,
    };
    // Rendering takes a while: off the async workers.
    let (recording, encoded) = tokio::task::spawn_blocking(move || {
        let recording = simulate_with(&spec, &texture);
        let encoded = encode(&recording);
        (recording, encoded)
    })
    .await
    .map_err(|e| e.to_string())?;
    let encoded = encoded.map_err(|e| e.to_string())?;
    let epoch = u64::try_from(now_millis()).unwrap_or(0);
    let messages = client_messages(&recording, &encoded, epoch, &uuid_like(seed));
    let start = Instant::now();
    let mut last_sent = Instant::now();
    for message in &messages {
        if real_time {
            let due = start + Duration::from_secs_f64(message.at_ms().max(0.0) / 1000.0);
            tokio::time::sleep_until(due.into()).await;
        }
        let at = epoch as i64 + message.at_ms() as i64;
        let bytes = match message {
            ClientMessage::Info { body, .. } => {
                envelope(&mut chain, "ClientSessionInformationEvent", body)?
            }
            ClientMessage::Video { chunk, .. } => {
                let video =
                    base64::engine::general_purpose::STANDARD.encode(&encoded.chunks[*chunk].1);
                envelope(
                    &mut chain,
                    "VideoEvent",
                    &json!({"VideoChunk": video, "TimestampMillis": at}),
                )?
            }
            ClientMessage::End { .. } => envelope(
                &mut chain,
                "VideoEvent",
                &json!({"VideoChunk": "", "TimestampMillis": at}),
            )?,
        };
        socket
            .send(WsMessage::Binary(bytes.into()))
            .await
            .map_err(|e| e.to_string())?;
        last_sent = Instant::now();
    }
    let mut disconnect_ms = None;
    let mut close_code = None;
    loop {
        match socket.next().await {
            Some(Ok(WsMessage::Binary(bytes))) => {
                let message = eventstream::decode_message(bytes).map_err(|e| e.to_string())?;
                let name = eventstream::string_header(&message, ":event-type")
                    .or_else(|| eventstream::string_header(&message, ":exception-type"))
                    .unwrap_or("?")
                    .to_owned();
                if name == "DisconnectionEvent" {
                    disconnect_ms = Some(last_sent.elapsed().as_secs_f64() * 1000.0);
                }
                received.push(name);
            }
            Some(Ok(WsMessage::Close(frame))) => {
                close_code = frame.map(|f| u16::from(f.code));
                break;
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => break,
        }
    }
    let results = control(
        target,
        "GetFaceLivenessSessionResults",
        &json!({"SessionId": session_id}),
    )
    .await?;
    Ok(Played {
        session_id,
        received,
        close_code,
        disconnect_ms,
        results,
    })
}

/// A UUID-shaped challenge id derived from the seed (the web client makes a random one).
fn uuid_like(seed: u64) -> String {
    let hex = format!("{seed:016x}");
    format!(
        "{}-{}-4{}-8{}-{}0000",
        &hex[0..8],
        &hex[8..12],
        &hex[12..15],
        &hex[13..16],
        &hex[0..8]
    )
}
