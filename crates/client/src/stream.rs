//! One `StartFaceLivenessSession` over the WebSocket transport: the client's messages go out in
//! signed envelopes, the server's events come back as event-stream messages.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use openliveness_protocol::eventstream::{self, Message};
use serde_json::Value;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::{unix_millis, Chain, Clock, Error, Outgoing, Presigned, Signer};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A message from the server.
#[derive(Debug, Clone)]
pub struct Event {
    /// `:event-type`, or `:exception-type` for an exception.
    pub kind: String,
    pub payload: Bytes,
}

impl Event {
    /// The payload as JSON (`null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or(Value::Null)
    }
}

/// Why no more messages come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The server closed, with this close code.
    Closed(Option<u16>),
    /// The connection failed, or the server sent what is not an event-stream message.
    Failed(String),
}

impl Ended {
    /// The close code, if the server sent one.
    pub fn code(&self) -> Option<u16> {
        match self {
            Ended::Closed(code) => *code,
            Ended::Failed(_) => None,
        }
    }
}

/// An open stream.
pub struct Stream {
    socket: Socket,
    chain: Chain,
    clock: Arc<dyn Clock>,
}

impl Stream {
    /// Opens the presigned `ws://` URL; the envelopes chain from its signature and are dated by
    /// `clock`. A refusal before the upgrade is [`Error::Refused`].
    pub async fn connect(
        presigned: &Presigned,
        signer: &Signer,
        clock: Arc<dyn Clock>,
    ) -> Result<Stream, Error> {
        match tokio_tungstenite::connect_async(presigned.url.as_str()).await {
            Ok((socket, _)) => Ok(Stream {
                socket,
                chain: signer.chain(&presigned.signature),
                clock,
            }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(Error::Refused {
                status: response.status().as_u16(),
                error_type: response
                    .headers()
                    .get("x-amzn-errortype")
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned),
                body: response
                    .body()
                    .as_ref()
                    .map(|body| String::from_utf8_lossy(body).into_owned())
                    .unwrap_or_default(),
            }),
            Err(error) => Err(Error::failed("WebSocket", error)),
        }
    }

    fn now_millis(&self) -> i64 {
        unix_millis(self.clock.now())
    }

    /// The next envelope around `inner` (nothing: the SDK's end frame), dated now, not sent.
    pub fn envelope(&mut self, inner: Option<&Message>) -> Result<Vec<u8>, Error> {
        let date = self.now_millis();
        match inner {
            Some(message) => self.chain.message(message, date),
            None => self.chain.envelope(Vec::new(), date),
        }
    }

    /// Sends bytes as they are, in one binary frame.
    pub async fn send_bytes(&mut self, bytes: Vec<u8>) -> Result<(), Error> {
        self.socket
            .send(WsMessage::Binary(bytes.into()))
            .await
            .map_err(|error| Error::failed("send", error))
    }

    /// Sends an event of `event_type` with a JSON body, in a signed envelope dated now.
    pub async fn send_event(&mut self, event_type: &str, body: &Value) -> Result<(), Error> {
        let date = self.now_millis();
        let bytes = self.chain.event(event_type, body, date)?;
        self.send_bytes(bytes).await
    }

    /// Sends a `VideoEvent` with `chunk` (empty: the end of the input), timestamped now.
    pub async fn send_video(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let video = Outgoing::video(0.0, chunk, self.now_millis());
        self.send_event(&video.event_type, &video.body).await
    }

    /// Closes the WebSocket from the client's side, with a close code and reason or none.
    pub async fn close(&mut self, frame: Option<(u16, &str)>) -> Result<(), Error> {
        let frame = frame.map(|(code, reason)| CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        });
        self.socket
            .send(WsMessage::Close(frame))
            .await
            .map_err(|error| Error::failed("close", error))
    }

    /// The next message from the server.
    pub async fn next(&mut self) -> Result<Event, Ended> {
        loop {
            match self.socket.next().await {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    let message = eventstream::decode_message(bytes)
                        .map_err(|error| Ended::Failed(error.to_string()))?;
                    let kind = eventstream::string_header(&message, ":event-type")
                        .or_else(|| eventstream::string_header(&message, ":exception-type"))
                        .unwrap_or("?")
                        .to_owned();
                    return Ok(Event {
                        kind,
                        payload: message.payload().clone(),
                    });
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    return Err(Ended::Closed(frame.map(|f| u16::from(f.code))))
                }
                Some(Ok(_)) => continue,
                Some(Err(error)) => return Err(Ended::Failed(error.to_string())),
                None => return Err(Ended::Failed("the connection ended".to_owned())),
            }
        }
    }

    /// Reads up to the server's session information, which carries the challenge: the kinds of
    /// the messages read, and the information's JSON.
    pub async fn session_information(&mut self) -> Result<(Vec<String>, Value), Error> {
        let mut kinds = Vec::new();
        loop {
            let event = self.next().await.map_err(|ended| {
                Error::Failed(format!("the stream ended before the challenge: {ended:?}"))
            })?;
            kinds.push(event.kind.clone());
            if event.kind == "ServerSessionInformationEvent" {
                return Ok((kinds, event.json()));
            }
        }
    }

    /// Everything until the server closes: the kinds of its messages, and its close code.
    pub async fn rest(&mut self) -> (Vec<String>, Option<u16>) {
        let mut kinds = Vec::new();
        loop {
            match self.next().await {
                Ok(event) => kinds.push(event.kind),
                Err(ended) => return (kinds, ended.code()),
            }
        }
    }

    /// Streams `video` as a whole session after the challenge (chunks of 64 KiB, then the end of
    /// the input) and reads everything until the server closes: the kinds of its messages and
    /// its close code.
    pub async fn stream_video(
        &mut self,
        video: &[u8],
    ) -> Result<(Vec<String>, Option<u16>), Error> {
        for chunk in video.chunks(64 * 1024) {
            self.send_video(chunk).await?;
        }
        self.send_video(&[]).await?;
        Ok(self.rest().await)
    }
}
