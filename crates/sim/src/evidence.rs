//! The evidence a server would have kept for a simulated session: the one builder the evaluation,
//! the simulator's command and the engine's tests and benchmark share.

use openliveness_evidence::{ClientEvent, Evidence, ReceivedEvent, VideoChunk};
use openliveness_protocol::challenge::{issue, IssuedChallenge, SeededRandom};
use openliveness_protocol::{ChallengeKind, ChallengeVersion, SessionId};

use crate::{client_messages, ClientMessage, Encoded, Recording};

/// When the simulated client starts its video (2026-01-01, ms since the Unix epoch).
pub const EPOCH_MS: u64 = 1_767_225_600_000;

/// The challenge a simulated session of `seed` gets: the server's own drawing, seeded.
pub fn issued_challenge(seed: u64, width: u32, height: u32) -> IssuedChallenge {
    let mut random = SeededRandom::new(seed ^ 0xC4A1_1E46E);
    issue(
        ChallengeKind::FaceMovementAndLightChallenge,
        ChallengeVersion(2, 0, 0),
        width,
        height,
        &mut random,
    )
}

/// The evidence a server would have kept for this simulated session: the client's events as they
/// arrived (each when the client sends it, from [`EPOCH_MS`]), the video as its chunks.
pub fn evidence_of(
    issued: &IssuedChallenge,
    recording: &Recording,
    encoded: &Encoded,
) -> Result<Evidence, String> {
    let messages = client_messages(
        recording,
        encoded,
        EPOCH_MS,
        "00000000-0000-4000-8000-000000000000",
    );
    let mut events = Vec::new();
    let mut video = Vec::new();
    for message in messages {
        let arrived_at = EPOCH_MS + message.at_ms().max(0.0) as u64;
        let event = match message {
            ClientMessage::Info { body, .. } => ClientEvent::ClientSessionInformationEvent(
                serde_json::from_value(body)
                    .map_err(|error| format!("a simulated client event: {error}"))?,
            ),
            ClientMessage::Video { chunk, .. } => {
                let bytes = &encoded.chunks[chunk].1;
                let place = VideoChunk {
                    offset: video.len(),
                    length: bytes.len(),
                    timestamp_millis: None,
                };
                video.extend_from_slice(bytes);
                ClientEvent::VideoEvent(place)
            }
            ClientMessage::End { .. } => continue,
        };
        events.push(ReceivedEvent { arrived_at, event });
    }
    Ok(Evidence {
        session_id: SessionId::random(),
        tenant: "eval".to_owned(),
        challenge: issued.clone(),
        events,
        video,
    })
}
