//! What the client said, and what the server issued, read from a session's evidence. Client
//! claims are hints to be checked against the video, never facts.

use openliveness_evidence::{ClientEvent, ReceivedEvent};
use openliveness_protocol::challenge::IssuedChallenge;
use serde::Serialize;

/// The issued challenge, as the engine needs it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issued {
    pub kind: String,
    pub version: String,
    pub video_width: u32,
    pub video_height: u32,
    /// Centre x, centre y, width, height (video pixels).
    pub oval: [f64; 4],
    /// Colour, downscroll ms, flat ms. Empty for FaceMovementChallenge.
    pub colours: Vec<([u8; 3], f64, f64)>,
}

impl Issued {
    pub fn from_issued(issued: &IssuedChallenge) -> Result<Issued, String> {
        let server = &issued.server_challenge;
        let (oval, colours) = if let Some(light) = &server.face_movement_and_light_challenge {
            (
                &light.oval_parameters,
                light
                    .color_sequences
                    .iter()
                    .map(|c| {
                        (
                            c.freshness_color.rgb,
                            c.downscroll_duration,
                            c.flat_display_duration,
                        )
                    })
                    .collect(),
            )
        } else if let Some(movement) = &server.face_movement_challenge {
            (&movement.oval_parameters, Vec::new())
        } else {
            return Err("the evidence's challenge has no member".to_owned());
        };
        Ok(Issued {
            kind: issued.kind.as_str().to_owned(),
            version: issued.version.to_string(),
            video_width: issued.video_width,
            video_height: issued.video_height,
            oval: [oval.center_x, oval.center_y, oval.width, oval.height],
            colours,
        })
    }

    pub fn has_light(&self) -> bool {
        !self.colours.is_empty()
    }
}

/// One ColorDisplayed event.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ColourClaim {
    pub sequence_number: usize,
    pub current: [u8; 3],
    pub start_epoch_ms: f64,
}

/// What the client reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Claims {
    pub video_start_epoch_ms: Option<f64>,
    pub video_end_epoch_ms: Option<f64>,
    pub colours: Vec<ColourClaim>,
    pub target_start_epoch_ms: Option<f64>,
    pub target_end_epoch_ms: Option<f64>,
    /// When the server received each video chunk (epoch ms), in order.
    pub chunk_arrivals: Vec<u64>,
}

impl Claims {
    /// From the evidence's events (`ClientSessionInformationEvent`s, `VideoEvent` arrival
    /// times).
    pub fn from_events(events: &[ReceivedEvent]) -> Claims {
        let mut claims = Claims::default();
        for event in events {
            let info = match &event.event {
                ClientEvent::VideoEvent(_) => {
                    claims.chunk_arrivals.push(event.arrived_at);
                    continue;
                }
                ClientEvent::ClientSessionInformationEvent(info) => info,
            };
            let challenge = &info.challenge;
            let Some(member) = challenge
                .face_movement_and_light_challenge
                .as_ref()
                .or(challenge.face_movement_challenge.as_ref())
            else {
                continue;
            };
            let number = |value: i64| value as f64;
            if let Some(start) = member.video_start_timestamp {
                claims.video_start_epoch_ms = Some(number(start));
            }
            if let Some(end) = member.video_end_timestamp {
                claims.video_end_epoch_ms = Some(number(end));
            }
            if let Some(target) = &member.target_face {
                claims.target_start_epoch_ms = Some(number(
                    target.face_detected_in_target_position_start_timestamp,
                ));
                claims.target_end_epoch_ms = Some(number(
                    target.face_detected_in_target_position_end_timestamp,
                ));
            }
            if let Some(colour) = &member.color_displayed {
                claims.colours.push(ColourClaim {
                    sequence_number: usize::from(colour.sequence_number),
                    current: colour.current_color.rgb,
                    start_epoch_ms: number(colour.current_color_start_timestamp),
                });
            }
        }
        claims
    }
}
