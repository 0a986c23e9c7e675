//! Test support: a StartFaceLivenessSession client over WebSocket that presigns its URL and signs
//! every message as Amplify does, for tests that stream whole sessions.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_types::DateTime;
use futures_util::{SinkExt, StreamExt};
use openliveness_auth::{ChainVerifier, SecretKey};
use openliveness_protocol::eventstream::{self, Header, HeaderValue, Message};
use openliveness_protocol::SessionId;
use openliveness_server::clock::Clock;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const VERSIONS: &str = "FaceMovementAndLightChallenge_2.0.0,FaceMovementChallenge_1.0.0";

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Client {
    socket: Socket,
    chain: ChainVerifier,
    clock: Arc<dyn Clock>,
}

/// A presigned WebSocket URL as the Amplify client builds it, and its signature (the chain's
/// seed).
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
        .expect("signing params")
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
    .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("sign").into_parts();
    let mut request = http::Request::builder()
        .uri(&url)
        .body(())
        .expect("request");
    instructions.apply_to_request_http1x(&mut request);
    let query = request.uri().query().expect("query").to_owned();
    let signature = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Amz-Signature="))
        .expect("signature")
        .to_owned();
    (
        format!("ws://{address}/start-face-liveness-session-websocket?{query}"),
        signature,
    )
}

impl Client {
    pub async fn connect(
        address: &str,
        clock: Arc<dyn Clock>,
        session: SessionId,
        key: &str,
        secret: &str,
    ) -> Client {
        let (url, seed) = presign(address, session, key, secret, clock.now());
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        Client {
            socket,
            chain: ChainVerifier::new(SecretKey::new(secret), "us-east-1", "rekognition", &seed),
            clock,
        }
    }

    async fn send_event(&mut self, event_type: &str, json: serde_json::Value) {
        let inner =
            eventstream::event_message(event_type, serde_json::to_vec(&json).expect("json"));
        let payload = eventstream::encode_message(&inner).expect("encode");
        let date = i64::try_from(self.clock.now_millis()).expect("date");
        let signature = self.chain.sign_next(date, &payload).expect("sign");
        let envelope = Message::new(payload)
            .add_header(Header::new(
                ":date",
                HeaderValue::Timestamp(DateTime::from_millis(date)),
            ))
            .add_header(Header::new(
                ":chunk-signature",
                HeaderValue::ByteArray(signature.into()),
            ));
        let bytes = eventstream::encode_message(&envelope).expect("encode");
        self.socket
            .send(WsMessage::Binary(bytes.into()))
            .await
            .expect("send");
    }

    pub async fn send_video(&mut self, chunk: &[u8]) {
        use base64::Engine as _;
        let encoded = base64::engine::general_purpose::STANDARD.encode(chunk);
        let now = self.clock.now_millis();
        self.send_event(
            "VideoEvent",
            serde_json::json!({"VideoChunk": encoded, "TimestampMillis": now}),
        )
        .await;
    }

    /// Streams a whole session: reads the challenge, sends `video` and the end of the input, and
    /// returns the kinds of the server's messages after the challenge and its close code.
    pub async fn stream(&mut self, video: &[u8]) -> (Vec<String>, Option<u16>) {
        let mut kinds = Vec::new();
        for chunk in video.chunks(64 * 1024) {
            self.send_video(chunk).await;
        }
        self.send_video(&[]).await;
        loop {
            match self.socket.next().await {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    let message = eventstream::decode_message(bytes).expect("decode");
                    let kind = eventstream::string_header(&message, ":event-type")
                        .or_else(|| eventstream::string_header(&message, ":exception-type"))
                        .expect("kind")
                        .to_owned();
                    kinds.push(kind);
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    return (kinds, frame.map(|f| u16::from(f.code)))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return (kinds, None),
            }
        }
    }
}
