//! Playing a whole session as the Amplify web component does: CreateFaceLivenessSession,
//! StartFaceLivenessSession over the WebSocket transport, the challenge read from the server's
//! ServerSessionInformationEvent, the caller's response to it sent on its schedule, the
//! server's events read to the close, GetFaceLivenessSessionResults.

use std::time::{Duration, Instant};

use base64::Engine as _;
use openliveness_protocol::streaming::ServerChallenge;
use serde_json::Value;

use crate::{Client, Error};

/// One client message and when to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Milliseconds after the first message.
    pub at_ms: f64,
    /// `ClientSessionInformationEvent`, `VideoEvent`.
    pub event_type: String,
    pub body: Value,
}

impl Outgoing {
    /// An event with a JSON body.
    pub fn event(at_ms: f64, event_type: &str, body: Value) -> Outgoing {
        Outgoing {
            at_ms,
            event_type: event_type.to_owned(),
            body,
        }
    }

    /// A `VideoEvent` with `chunk` (empty: the end of the input) and its `TimestampMillis`.
    pub fn video(at_ms: f64, chunk: &[u8], timestamp_millis: i64) -> Outgoing {
        let video = base64::engine::general_purpose::STANDARD.encode(chunk);
        Outgoing::event(
            at_ms,
            "VideoEvent",
            serde_json::json!({"VideoChunk": video, "TimestampMillis": timestamp_millis}),
        )
    }
}

/// How the messages go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// Each at its time, as a camera records.
    RealTime,
    /// One after the other, as fast as the connection takes them.
    AsFastAsPossible,
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

impl Client {
    /// Plays one session with a video of `size`: `respond` makes the client's messages from the
    /// challenge the server issues (the web client sends nothing before it has it), off the
    /// async workers (rendering a response takes a while).
    pub async fn play<F>(&self, size: (u32, u32), respond: F, pace: Pace) -> Result<Played, Error>
    where
        F: FnOnce(ServerChallenge) -> Result<Vec<Outgoing>, String> + Send + 'static,
    {
        let session_id = self.create_session().await?;
        let mut stream = self.start(&session_id, size).await?;
        let (mut received, information) = stream.session_information().await?;
        let challenge: ServerChallenge =
            serde_json::from_value(information["SessionInformation"]["Challenge"].clone())
                .map_err(|error| Error::failed("unreadable challenge", error))?;
        let messages = tokio::task::spawn_blocking(move || respond(challenge))
            .await
            .map_err(|error| Error::failed("responding to the challenge", error))?
            .map_err(Error::Failed)?;
        let start = Instant::now();
        let mut last_sent = Instant::now();
        for message in &messages {
            if pace == Pace::RealTime {
                let due = start + Duration::from_secs_f64(message.at_ms.max(0.0) / 1000.0);
                tokio::time::sleep_until(due.into()).await;
            }
            stream
                .send_event(&message.event_type, &message.body)
                .await?;
            last_sent = Instant::now();
        }
        let mut disconnect_ms = None;
        let close_code = loop {
            match stream.next().await {
                Ok(event) => {
                    if event.kind == "DisconnectionEvent" {
                        disconnect_ms = Some(last_sent.elapsed().as_secs_f64() * 1000.0);
                    }
                    received.push(event.kind);
                }
                Err(ended) => break ended.code(),
            }
        };
        let results = self
            .call(
                "GetFaceLivenessSessionResults",
                &serde_json::json!({"SessionId": session_id}),
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
}
