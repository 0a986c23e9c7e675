//! A session's evidence: what the server issued (the challenge), what the client sent (its
//! events, each with the time it arrived, and the video) — everything the analysis needs to
//! decide the session, and nothing else.
//!
//! The key decisions:
//! - Evidence is typed with the protocol's own types ([`IssuedChallenge`],
//!   [`ClientSessionInformationEvent`]), so that the engine reads fields, not JSON by key, and the
//!   server cannot keep an event it did not understand.
//! - This crate depends on the protocol only: the engine (which decides) and the store (which
//!   keeps) both use it without depending on each other.
//! - Its JSON is the format evidence rests in (`evidence.json`, the video apart in `video.bin`),
//!   kept as it was when evidence was untyped JSON, so that stored sessions stay
//!   readable: `{"session_id", "tenant", "challenge", "events": [{"arrived_at", "event_type",
//!   "payload"}]}`.
//! - Evidence sealed under a session's data key ([`SealedEvidence`]) is its own type: what rests
//!   is either ([`StoredEvidence`]), told apart by its JSON alone (a sealed challenge is
//!   `{"Sealed": "<base64>"}`), never by guessing from the video's bytes.

use openliveness_protocol::challenge::IssuedChallenge;
use openliveness_protocol::streaming::ClientSessionInformationEvent;
use openliveness_protocol::{Blob, SessionId};
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type UnixMillis = u64;

/// Everything the analysis gets to decide one session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub session_id: SessionId,
    pub tenant: String,
    /// The challenge the server issued (type, version, video size, oval, colours).
    pub challenge: IssuedChallenge,
    /// The client's events, in arrival order.
    pub events: Vec<ReceivedEvent>,
    /// The video chunks, concatenated in arrival order (kept apart from the JSON).
    #[serde(skip)]
    pub video: Vec<u8>,
}

/// One client event, as received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedEvent {
    /// When the server received it.
    pub arrived_at: UnixMillis,
    /// `event_type` and `payload` in the JSON.
    #[serde(flatten)]
    pub event: ClientEvent,
}

/// A client event: `:event-type` (`event_type`) and what the evidence keeps of it (`payload`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "payload")]
pub enum ClientEvent {
    /// A `VideoEvent`: its chunk is in [`Evidence::video`], at this place.
    VideoEvent(VideoChunk),
    /// A `ClientSessionInformationEvent`, as the protocol defines it.
    ClientSessionInformationEvent(Box<ClientSessionInformationEvent>),
}

/// Where a `VideoEvent`'s chunk is in [`Evidence::video`], and the time the client gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VideoChunk {
    pub offset: usize,
    pub length: usize,
    /// The event's `TimestampMillis`, when the client sent one.
    #[serde(default)]
    pub timestamp_millis: Option<i64>,
}

impl Evidence {
    /// The client's `ClientSessionInformationEvent`s with their arrival times, in order.
    pub fn session_information(
        &self,
    ) -> impl Iterator<Item = (UnixMillis, &ClientSessionInformationEvent)> {
        self.events.iter().filter_map(|event| match &event.event {
            ClientEvent::ClientSessionInformationEvent(info) => Some((event.arrived_at, &**info)),
            ClientEvent::VideoEvent(_) => None,
        })
    }

    /// The video chunks' places with their arrival times, in order.
    pub fn video_chunks(&self) -> impl Iterator<Item = (UnixMillis, &VideoChunk)> {
        self.events.iter().filter_map(|event| match &event.event {
            ClientEvent::VideoEvent(chunk) => Some((event.arrived_at, chunk)),
            ClientEvent::ClientSessionInformationEvent(_) => None,
        })
    }
}

/// Evidence as it rests when its session names a KMS key: the challenge and the events sealed
/// together ([`SealedDetails`] as JSON, in one envelope), the video in another. Only the session
/// and its tenant are in the clear, to find it and check it is the one asked for.
///
/// Its JSON is `{"session_id", "tenant", "challenge": {"Sealed": "<base64 envelope>"},
/// "events": []}`.
#[derive(Debug, Clone, PartialEq)]
pub struct SealedEvidence {
    pub session_id: SessionId,
    pub tenant: String,
    /// The envelope of the [`SealedDetails`]' JSON.
    pub details: Vec<u8>,
    /// The envelope of the video.
    pub video: Vec<u8>,
}

/// What [`SealedEvidence::details`] seals: `{"challenge", "events"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SealedDetails {
    pub challenge: IssuedChallenge,
    pub events: Vec<ReceivedEvent>,
}

impl SealedDetails {
    /// The details of `evidence`, to be sealed.
    pub fn of(evidence: &Evidence) -> SealedDetails {
        SealedDetails {
            challenge: evidence.challenge.clone(),
            events: evidence.events.clone(),
        }
    }

    /// The evidence they were, with its (opened) video.
    pub fn into_evidence(self, session_id: SessionId, tenant: String, video: Vec<u8>) -> Evidence {
        Evidence {
            session_id,
            tenant,
            challenge: self.challenge,
            events: self.events,
            video,
        }
    }
}

/// The sealed evidence's JSON, borrowed.
#[derive(Serialize)]
struct SealedJson<'a> {
    session_id: SessionId,
    tenant: &'a str,
    challenge: SealedMark,
    events: [ReceivedEvent; 0],
}

#[derive(Serialize, Deserialize)]
struct SealedMark {
    #[serde(rename = "Sealed")]
    sealed: Blob,
}

impl Serialize for SealedEvidence {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SealedJson {
            session_id: self.session_id,
            tenant: &self.tenant,
            challenge: SealedMark {
                sealed: Blob(self.details.clone()),
            },
            events: [],
        }
        .serialize(serializer)
    }
}

/// Evidence as it rests: in the clear, or sealed.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredEvidence {
    Plain(Box<Evidence>),
    Sealed(SealedEvidence),
}

impl StoredEvidence {
    pub fn session_id(&self) -> SessionId {
        match self {
            StoredEvidence::Plain(evidence) => evidence.session_id,
            StoredEvidence::Sealed(sealed) => sealed.session_id,
        }
    }

    pub fn tenant(&self) -> &str {
        match self {
            StoredEvidence::Plain(evidence) => &evidence.tenant,
            StoredEvidence::Sealed(sealed) => &sealed.tenant,
        }
    }

    /// The video as it rests (an envelope when sealed).
    pub fn video(&self) -> &[u8] {
        match self {
            StoredEvidence::Plain(evidence) => &evidence.video,
            StoredEvidence::Sealed(sealed) => &sealed.video,
        }
    }

    /// Sets the video read from where it rests apart from the JSON.
    pub fn set_video(&mut self, video: Vec<u8>) {
        match self {
            StoredEvidence::Plain(evidence) => evidence.video = video,
            StoredEvidence::Sealed(sealed) => sealed.video = video,
        }
    }
}

impl Serialize for StoredEvidence {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StoredEvidence::Plain(evidence) => evidence.serialize(serializer),
            StoredEvidence::Sealed(sealed) => sealed.serialize(serializer),
        }
    }
}

/// Either evidence's JSON: the challenge tells which.
#[derive(Deserialize)]
struct StoredJson {
    session_id: SessionId,
    tenant: String,
    challenge: StoredChallenge,
    #[serde(default)]
    events: Vec<ReceivedEvent>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StoredChallenge {
    Sealed(SealedMark),
    Plain(Box<IssuedChallenge>),
}

impl<'de> Deserialize<'de> for StoredEvidence {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = StoredJson::deserialize(deserializer)?;
        Ok(match json.challenge {
            StoredChallenge::Sealed(mark) => StoredEvidence::Sealed(SealedEvidence {
                session_id: json.session_id,
                tenant: json.tenant,
                details: mark.sealed.0,
                video: Vec::new(),
            }),
            StoredChallenge::Plain(challenge) => StoredEvidence::Plain(Box::new(Evidence {
                session_id: json.session_id,
                tenant: json.tenant,
                challenge: *challenge,
                events: json.events,
                video: Vec::new(),
            })),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

    use super::*;
    use openliveness_protocol::challenge::{issue, SeededRandom};
    use openliveness_protocol::{ChallengeKind, ChallengeVersion};

    fn issued() -> IssuedChallenge {
        issue(
            ChallengeKind::FaceMovementAndLightChallenge,
            ChallengeVersion(2, 0, 0),
            640,
            480,
            &mut SeededRandom::new(3),
        )
    }

    /// `evidence.json` as the server wrote it when the challenge and payloads were JSON values.
    fn stored_json(id: SessionId) -> String {
        let challenge = serde_json::to_string(&issued()).unwrap();
        format!(
            r#"{{"session_id":"{id}","tenant":"A","challenge":{challenge},"events":[
            {{"arrived_at":5,"event_type":"ClientSessionInformationEvent","payload":{{"Challenge":
              {{"FaceMovementAndLightChallenge":{{"ChallengeId":"c","VideoStartTimestamp":1000,
              "InitialFace":{{"BoundingBox":{{"Height":0.5,"Left":0.25,"Top":0.25,"Width":0.3}},
              "InitialFaceDetectedTimestamp":990}}}}}}}}}},
            {{"arrived_at":6,"event_type":"VideoEvent","payload":{{"Length":3,"Offset":0,"TimestampMillis":1100}}}},
            {{"arrived_at":7,"event_type":"VideoEvent","payload":{{"Length":2,"Offset":3,"TimestampMillis":null}}}},
            {{"arrived_at":8,"event_type":"VideoEvent","payload":{{"Offset":5,"Length":1}}}}]}}"#
        )
    }

    #[test]
    fn evidence_stored_as_json_values_reads_as_typed_evidence() {
        let id = SessionId::random();
        let evidence: Evidence = serde_json::from_str(&stored_json(id)).unwrap();
        assert_eq!(evidence.session_id, id);
        assert_eq!(evidence.challenge, issued());
        let chunks: Vec<_> = evidence.video_chunks().collect();
        assert_eq!(
            chunks,
            [
                (
                    6,
                    &VideoChunk {
                        offset: 0,
                        length: 3,
                        timestamp_millis: Some(1100)
                    }
                ),
                (
                    7,
                    &VideoChunk {
                        offset: 3,
                        length: 2,
                        timestamp_millis: None
                    }
                ),
                (
                    8,
                    &VideoChunk {
                        offset: 5,
                        length: 1,
                        timestamp_millis: None
                    }
                ),
            ]
        );
        let (arrived_at, info) = evidence.session_information().next().unwrap();
        assert_eq!(arrived_at, 5);
        let (kind, details) = info.challenge.member().unwrap();
        assert_eq!(kind, ChallengeKind::FaceMovementAndLightChallenge);
        assert_eq!(details.video_start_timestamp, Some(1000));
        // Written again, it reads back the same; as what rests, it is plain.
        let again: Evidence =
            serde_json::from_slice(&serde_json::to_vec(&evidence).unwrap()).unwrap();
        assert_eq!(again, evidence);
        let stored: StoredEvidence = serde_json::from_str(&stored_json(id)).unwrap();
        assert_eq!(stored, StoredEvidence::Plain(Box::new(evidence)));
    }

    #[test]
    fn sealed_evidence_keeps_its_json_and_is_told_apart_by_it() {
        let sealed = SealedEvidence {
            session_id: SessionId::random(),
            tenant: "A".to_owned(),
            details: vec![1, 2, 3],
            video: Vec::new(),
        };
        let json = serde_json::to_string(&sealed).unwrap();
        assert_eq!(
            json,
            format!(
                r#"{{"session_id":"{}","tenant":"A","challenge":{{"Sealed":"AQID"}},"events":[]}}"#,
                sealed.session_id
            )
        );
        let stored: StoredEvidence = serde_json::from_str(&json).unwrap();
        assert_eq!(stored, StoredEvidence::Sealed(sealed));
    }
}
