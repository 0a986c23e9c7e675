//! What the client said, and what the server issued, read from a session's evidence. Client
//! claims are hints to be checked against the video, never facts.

use openliveness_protocol::challenge::IssuedChallenge;
use serde::Serialize;
use serde_json::Value;

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
    /// From the challenge JSON the server keeps as evidence (`IssuedChallenge`).
    pub fn from_evidence(challenge: &Value) -> Result<Issued, String> {
        let issued: IssuedChallenge = serde_json::from_value(challenge.clone())
            .map_err(|error| format!("the evidence's challenge is unreadable: {error}"))?;
        Issued::from_issued(&issued)
    }

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
    /// From the evidence's events (`ClientSessionInformationEvent` payloads, `VideoEvent`
    /// arrival times).
    pub fn from_events(events: &[openliveness_store::ReceivedEvent]) -> Claims {
        let mut claims = Claims::default();
        for event in events {
            if event.event_type == "VideoEvent" {
                claims.chunk_arrivals.push(event.arrived_at);
                continue;
            }
            let Some(member) = event
                .payload
                .get("Challenge")
                .and_then(Value::as_object)
                .and_then(|members| members.values().next())
            else {
                continue;
            };
            let number = |value: Option<&Value>| value.and_then(Value::as_f64);
            if let Some(start) = number(member.get("VideoStartTimestamp")) {
                claims.video_start_epoch_ms = Some(start);
            }
            if let Some(end) = number(member.get("VideoEndTimestamp")) {
                claims.video_end_epoch_ms = Some(end);
            }
            if let Some(target) = member.get("TargetFace") {
                claims.target_start_epoch_ms =
                    number(target.get("FaceDetectedInTargetPositionStartTimestamp"));
                claims.target_end_epoch_ms =
                    number(target.get("FaceDetectedInTargetPositionEndTimestamp"));
            }
            if let Some(colour) = member.get("ColorDisplayed") {
                let rgb = colour
                    .get("CurrentColor")
                    .and_then(|c| c.get("RGB"))
                    .and_then(Value::as_array)
                    .map(|values| {
                        let mut rgb = [0u8; 3];
                        for (slot, value) in rgb.iter_mut().zip(values) {
                            *slot = value.as_u64().unwrap_or(0).min(255) as u8;
                        }
                        rgb
                    });
                if let (Some(sequence), Some(start), Some(rgb)) = (
                    colour.get("SequenceNumber").and_then(Value::as_u64),
                    number(colour.get("CurrentColorStartTimestamp")),
                    rgb,
                ) {
                    claims.colours.push(ColourClaim {
                        sequence_number: sequence as usize,
                        current: rgb,
                        start_epoch_ms: start,
                    });
                }
            }
        }
        claims
    }
}
