//! What a web client sends answering the challenge a server issued, as plain data: each message
//! with when it goes out and its event type and JSON body. `openliveness-client` plays it; the
//! simulator itself talks to no server.

use base64::Engine as _;
use openliveness_protocol::streaming::ServerChallenge;
use serde_json::{json, Value};

use crate::scenario::{simulate, ChallengeSpec, Recording, SessionSpec, Species, World};
use crate::session::{client_messages, encode, ClientMessage, Encoded};

/// One message of the client's script.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripted {
    /// Milliseconds from the start of the video.
    pub at_ms: f64,
    /// `ClientSessionInformationEvent` or `VideoEvent`.
    pub event_type: &'static str,
    pub body: Value,
}

/// A simulated answer to a server's challenge, rendered and encoded.
#[derive(Debug)]
pub struct Answer {
    pub recording: Recording,
    pub encoded: Encoded,
    seed: u64,
}

impl Answer {
    /// Renders `species` (with `seed`) answering `challenge` in a video of `size`, in `world`.
    /// Slow: seconds of CPU.
    pub fn render(
        species: Species,
        seed: u64,
        challenge: &ServerChallenge,
        (width, height): (u32, u32),
        world: &World,
    ) -> Result<Answer, String> {
        let challenge = ChallengeSpec::from_server(challenge, width, height)
            .ok_or("the challenge has no member")?;
        let spec = SessionSpec {
            species,
            seed,
            challenge,
            world: world.clone(),
        };
        let recording = simulate(&spec).map_err(|error| error.to_string())?;
        let encoded = encode(&recording).map_err(|error| error.to_string())?;
        Ok(Answer {
            recording,
            encoded,
            seed,
        })
    }

    /// The client's messages in the order it sends them, the video starting at `epoch_ms`.
    pub fn script(&self, epoch_ms: u64) -> Vec<Scripted> {
        let messages = client_messages(
            &self.recording,
            &self.encoded,
            epoch_ms,
            &uuid_like(self.seed),
        );
        messages
            .into_iter()
            .map(|message| {
                let at_ms = message.at_ms();
                let timestamp = epoch_ms as i64 + at_ms as i64;
                let video = |bytes: &[u8]| {
                    json!({
                        "VideoChunk": base64::engine::general_purpose::STANDARD.encode(bytes),
                        "TimestampMillis": timestamp,
                    })
                };
                let (event_type, body) = match message {
                    ClientMessage::Info { body, .. } => ("ClientSessionInformationEvent", body),
                    ClientMessage::Video { chunk, .. } => {
                        ("VideoEvent", video(&self.encoded.chunks[chunk].1))
                    }
                    ClientMessage::End { .. } => ("VideoEvent", video(&[])),
                };
                Scripted {
                    at_ms,
                    event_type,
                    body,
                }
            })
            .collect()
    }
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
