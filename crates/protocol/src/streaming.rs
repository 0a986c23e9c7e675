//! `StartFaceLivenessSession` (service `rekognitionstreaming`, restJson1 with event streams):
//! the request parameters, the events both ways (each event's JSON payload is the whole event
//! structure) and the errors.

use serde::{Deserialize, Serialize};

use crate::{Blob, SessionId};

/// The path of the HTTP/1.1 and HTTP/2 binding.
pub const START_PATH: &str = "/start-face-liveness-session";
/// The path the WebSocket variant appends `-websocket` to.
pub const START_WEBSOCKET_PATH: &str = "/start-face-liveness-session-websocket";
/// The prefix of the parameter headers (and, without it, of the WebSocket query keys).
pub const PARAMETER_HEADER_PREFIX: &str = "x-amz-rekognition-streaming-liveness-";
/// The literal payload hash of a header-signed event-stream request.
pub const STREAMING_PAYLOAD: &str = "STREAMING-AWS4-HMAC-SHA256-EVENTS";
/// `application/vnd.amazon.eventstream`.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The request parameters, checked against the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartParameters {
    pub session_id: SessionId,
    pub video_width: u32,
    pub video_height: u32,
    /// The challenges the client can run, in its order.
    pub challenge_versions: Vec<(String, crate::ChallengeVersion)>,
}

/// Checks the parameters of `StartFaceLivenessSession` (`ValidationException` when wrong).
pub fn parse_start_parameters(
    session_id: Option<&str>,
    video_width: Option<&str>,
    video_height: Option<&str>,
    challenge_versions: Option<&str>,
) -> Result<StartParameters, StreamError> {
    let missing =
        |name: &str| StreamError::validation(format!("Missing required parameter {name}"));
    let session_id = session_id.ok_or_else(|| missing("SessionId"))?;
    let session_id = SessionId::parse(session_id)
        .ok_or_else(|| StreamError::validation("SessionId must be a lower-case UUID"))?;
    let dimension = |value: Option<&str>, name: &str| -> Result<u32, StreamError> {
        let value = value.ok_or_else(|| missing(name))?;
        let well_formed =
            (3..=4).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit());
        value
            .parse::<u32>()
            .ok()
            .filter(|&pixels| well_formed && pixels > 0)
            .ok_or_else(|| StreamError::validation(format!("{name} must be 3 or 4 digits")))
    };
    let video_width = dimension(video_width, "VideoWidth")?;
    let video_height = dimension(video_height, "VideoHeight")?;
    let versions = challenge_versions.ok_or_else(|| missing("ChallengeVersions"))?;
    if !(15..=150).contains(&versions.len()) {
        return Err(StreamError::validation(
            "ChallengeVersions must be 15 to 150 characters",
        ));
    }
    let challenge_versions = versions
        .split(',')
        .map(|item| {
            let (name, version) = item.split_once('_')?;
            let name_ok = name.len() >= 10 && name.bytes().all(|b| b.is_ascii_alphabetic());
            let version = crate::ChallengeVersion::parse(version)?;
            name_ok.then(|| (name.to_owned(), version))
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            StreamError::validation(
                "ChallengeVersions must look like FaceMovementChallenge_1.0.0,...",
            )
        })?;
    Ok(StartParameters {
        session_id,
        video_width,
        video_height,
        challenge_versions,
    })
}

/// `VideoEvent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VideoEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_chunk: Option<Blob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_millis: Option<i64>,
}

/// `ClientSessionInformationEvent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientSessionInformationEvent {
    pub challenge: ClientChallenge,
}

/// `ClientChallenge`: a union; exactly one member is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientChallenge {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_movement_and_light_challenge: Option<ClientChallengeDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_movement_challenge: Option<ClientChallengeDetails>,
}

impl ClientChallenge {
    /// The one member of the union, with its type.
    pub fn member(&self) -> Option<(crate::ChallengeKind, &ClientChallengeDetails)> {
        use crate::ChallengeKind::*;
        match (
            &self.face_movement_and_light_challenge,
            &self.face_movement_challenge,
        ) {
            (Some(details), None) => Some((FaceMovementAndLightChallenge, details)),
            (None, Some(details)) => Some((FaceMovementChallenge, details)),
            _ => None,
        }
    }
}

/// `FaceMovementAndLightClientChallenge` and `FaceMovementClientChallenge` (which has no
/// `ColorDisplayed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientChallengeDetails {
    pub challenge_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_start_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_end_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_face: Option<InitialFace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_face: Option<TargetFace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color_displayed: Option<ColorDisplayed>,
}

/// `InitialFace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InitialFace {
    pub bounding_box: ClientBoundingBox,
    pub initial_face_detected_timestamp: i64,
}

/// `TargetFace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetFace {
    pub bounding_box: ClientBoundingBox,
    pub face_detected_in_target_position_start_timestamp: i64,
    pub face_detected_in_target_position_end_timestamp: i64,
}

/// `ColorDisplayed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ColorDisplayed {
    pub current_color: Rgb,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_color: Option<Rgb>,
    pub sequence_number: u8,
    pub current_color_start_timestamp: i64,
}

/// The streaming model's `BoundingBox`: ratios of the video frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientBoundingBox {
    pub width: f64,
    pub height: f64,
    pub left: f64,
    pub top: f64,
}

/// `FreshnessColor` / `CurrentColor`: `{"RGB": [r, g, b]}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Rgb {
    #[serde(rename = "RGB")]
    pub rgb: [u8; 3],
}

/// `ServerSessionInformationEvent`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServerSessionInformationEvent {
    pub session_information: SessionInformation,
}

/// `SessionInformation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionInformation {
    pub challenge: ServerChallenge,
}

/// `ServerChallenge`: a union; exactly one member is set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ServerChallenge {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_movement_and_light_challenge: Option<FaceMovementAndLightServerChallenge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_movement_challenge: Option<FaceMovementServerChallenge>,
}

/// `FaceMovementAndLightServerChallenge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FaceMovementAndLightServerChallenge {
    pub oval_parameters: OvalParameters,
    /// Always `SEQUENTIAL`.
    pub light_challenge_type: String,
    pub challenge_config: ChallengeConfig,
    pub color_sequences: Vec<ColorSequence>,
}

/// `FaceMovementServerChallenge`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FaceMovementServerChallenge {
    pub oval_parameters: OvalParameters,
    pub challenge_config: ChallengeConfig,
}

/// `OvalParameters`, in video pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OvalParameters {
    pub width: f64,
    pub height: f64,
    pub center_x: f64,
    pub center_y: f64,
}

/// `ChallengeConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChallengeConfig {
    pub blaze_face_detection_threshold: f64,
    pub face_distance_threshold_min: f64,
    pub face_distance_threshold: f64,
    pub face_distance_threshold_max: f64,
    pub oval_iou_threshold: f64,
    pub oval_height_width_ratio: f64,
    pub oval_iou_width_threshold: f64,
    pub oval_iou_height_threshold: f64,
    pub face_iou_width_threshold: f64,
    pub face_iou_height_threshold: f64,
    pub oval_fit_timeout: u32,
}

/// `ColorSequence`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ColorSequence {
    pub freshness_color: Rgb,
    pub downscroll_duration: f64,
    pub flat_display_duration: f64,
}

/// `ChallengeEvent`: which challenge the server picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChallengeEvent {
    pub version: String,
    pub r#type: String,
}

/// `DisconnectionEvent`: the server is done; the results can be fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisconnectionEvent {
    pub timestamp_millis: i64,
}

/// The errors of the streaming operation (restJson1 `httpError` statuses from the model), plus
/// the front door's authentication errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamErrorCode {
    AccessDeniedException,
    InternalServerException,
    ServiceQuotaExceededException,
    ServiceUnavailableException,
    SessionNotFoundException,
    ThrottlingException,
    ValidationException,
    MissingAuthenticationTokenException,
    IncompleteSignatureException,
    UnrecognizedClientException,
    InvalidSignatureException,
    ExpiredTokenException,
}

impl StreamErrorCode {
    pub fn name(self) -> &'static str {
        use StreamErrorCode::*;
        match self {
            AccessDeniedException => "AccessDeniedException",
            InternalServerException => "InternalServerException",
            ServiceQuotaExceededException => "ServiceQuotaExceededException",
            ServiceUnavailableException => "ServiceUnavailableException",
            SessionNotFoundException => "SessionNotFoundException",
            ThrottlingException => "ThrottlingException",
            ValidationException => "ValidationException",
            MissingAuthenticationTokenException => "MissingAuthenticationTokenException",
            IncompleteSignatureException => "IncompleteSignatureException",
            UnrecognizedClientException => "UnrecognizedClientException",
            InvalidSignatureException => "InvalidSignatureException",
            ExpiredTokenException => "ExpiredTokenException",
        }
    }

    pub fn http_status(self) -> u16 {
        use StreamErrorCode::*;
        match self {
            AccessDeniedException => 403,
            InternalServerException => 500,
            ServiceQuotaExceededException | ThrottlingException => 429,
            ServiceUnavailableException => 503,
            SessionNotFoundException | ValidationException => 400,
            MissingAuthenticationTokenException
            | IncompleteSignatureException
            | UnrecognizedClientException
            | InvalidSignatureException
            | ExpiredTokenException => 403,
        }
    }
}

/// A streaming error: an HTTP error before the stream starts, an exception event after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    pub code: StreamErrorCode,
    pub message: String,
}

impl StreamError {
    pub fn new(code: StreamErrorCode, message: impl Into<String>) -> StreamError {
        StreamError {
            code,
            message: message.into(),
        }
    }

    pub fn validation(message: impl Into<String>) -> StreamError {
        StreamError::new(StreamErrorCode::ValidationException, message)
    }

    /// The restJson1 error body.
    pub fn to_json_body(&self) -> Vec<u8> {
        crate::encode(&serde_json::json!({
            "Message": self.message,
            "message": self.message,
            "Code": self.code.name(),
        }))
    }
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for StreamError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_parameters_follow_the_model() {
        let id = "0f7c5ad4-5c4e-4b7a-9d0c-3b4f0d6a2e11";
        let versions = "FaceMovementAndLightChallenge_2.0.0,FaceMovementChallenge_1.0.0";
        let parsed =
            parse_start_parameters(Some(id), Some("640"), Some("480"), Some(versions)).unwrap();
        assert_eq!((parsed.video_width, parsed.video_height), (640, 480));
        assert_eq!(parsed.challenge_versions.len(), 2);
        assert_eq!(parsed.challenge_versions[1].0, "FaceMovementChallenge");
        for (id, width, versions) in [
            (id.to_uppercase(), "640", versions),
            (id.to_owned(), "64", versions),
            (id.to_owned(), "64000", versions),
            (id.to_owned(), "6a0", versions),
            (id.to_owned(), "640", "FaceMovement_1.0"),
            (
                id.to_owned(),
                "640",
                "Face_1.0.0,FaceMovementChallenge_1.0.0",
            ),
            (id.to_owned(), "640", "FaceMovementChallenge1.0.0"),
        ] {
            let result =
                parse_start_parameters(Some(&id), Some(width), Some("480"), Some(versions));
            assert_eq!(
                result.unwrap_err().code,
                StreamErrorCode::ValidationException,
                "{id} {width} {versions}"
            );
        }
        assert!(parse_start_parameters(None, Some("640"), Some("480"), Some(versions)).is_err());
    }

    #[test]
    fn client_events_parse_as_the_web_client_sends_them() {
        let event: ClientSessionInformationEvent = serde_json::from_str(
            r#"{"Challenge":{"FaceMovementAndLightChallenge":{"ChallengeId":"c1",
              "ColorDisplayed":{"CurrentColor":{"RGB":[0,255,0]},"PreviousColor":{"RGB":[0,0,0]},
              "SequenceNumber":1,"CurrentColorStartTimestamp":1780000000000}}}}"#,
        )
        .unwrap();
        let (kind, details) = event.challenge.member().unwrap();
        assert_eq!(kind, crate::ChallengeKind::FaceMovementAndLightChallenge);
        assert_eq!(
            details.color_displayed.as_ref().unwrap().current_color.rgb,
            [0, 255, 0]
        );
        let video: VideoEvent =
            serde_json::from_str(r#"{"VideoChunk":"","TimestampMillis":1}"#).unwrap();
        assert_eq!(video.video_chunk, Some(Blob(Vec::new())));
        assert!(serde_json::from_str::<Rgb>(r#"{"RGB":[0,256,0]}"#).is_err());
        assert!(serde_json::from_str::<Rgb>(r#"{"RGB":[0,0]}"#).is_err());
    }
}
