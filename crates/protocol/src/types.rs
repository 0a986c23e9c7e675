//! The operations' input and output structures, member for member as in the service model
//! (`rekognition` 2016-06-27). Members are optional unless the model marks them required.
//! Strings that the model constrains stay strings here; `validate` turns them into checked values.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `CreateFaceLivenessSessionRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFaceLivenessSessionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    #[serde(
        default,
        deserialize_with = "structure",
        skip_serializing_if = "Option::is_none"
    )]
    pub settings: Option<CreateFaceLivenessSessionRequestSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_token: Option<String>,
}

/// `CreateFaceLivenessSessionRequestSettings`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFaceLivenessSessionRequestSettings {
    #[serde(
        default,
        deserialize_with = "structure",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_config: Option<LivenessOutputConfig>,
    /// The model says 0 to 4; the API reference says values outside are clamped, so any integer
    /// is accepted on the wire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_images_limit: Option<i64>,
    #[serde(
        default,
        deserialize_with = "structures",
        skip_serializing_if = "Option::is_none"
    )]
    pub challenge_preferences: Option<Vec<ChallengePreference>>,
}

/// `LivenessOutputConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LivenessOutputConfig {
    /// Required by the model; `validate` reports it missing as `InvalidParameterException`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_key_prefix: Option<String>,
}

/// `ChallengePreference`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChallengePreference {
    /// Required by the model. A string here so that an unknown value is a validation error
    /// (`InvalidParameterException`), not a serialization error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(
        default,
        deserialize_with = "structure",
        skip_serializing_if = "Option::is_none"
    )]
    pub versions: Option<Versions>,
}

/// `Versions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Versions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<String>,
}

/// A structure member of a request. serde's derive would also read a structure from a JSON array
/// (its members by position); awsJson structures are JSON objects only, so anything else is refused
/// (`SerializationException`). `decode` does the same for the body itself.
fn structure<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Option::<serde_json::Value>::deserialize(deserializer)?
        .map(object_to)
        .transpose()
}

/// A list of structures in a request: every item a JSON object, as for [`structure`].
fn structures<'de, D, T>(deserializer: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Option::<Vec<serde_json::Value>>::deserialize(deserializer)?
        .map(|items| items.into_iter().map(object_to).collect())
        .transpose()
}

fn object_to<T: serde::de::DeserializeOwned, E: serde::de::Error>(
    value: serde_json::Value,
) -> Result<T, E> {
    use serde::de::Unexpected;
    let unexpected = match &value {
        serde_json::Value::Object(_) => return T::deserialize(value).map_err(E::custom),
        serde_json::Value::Null => Unexpected::Unit,
        serde_json::Value::Bool(b) => Unexpected::Bool(*b),
        serde_json::Value::Number(_) => Unexpected::Other("number"),
        serde_json::Value::String(text) => Unexpected::Str(text),
        serde_json::Value::Array(_) => Unexpected::Seq,
    };
    Err(E::invalid_type(unexpected, &"a structure (a JSON object)"))
}

/// `CreateFaceLivenessSessionResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateFaceLivenessSessionResponse {
    pub session_id: String,
}

/// `GetFaceLivenessSessionResultsRequest`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFaceLivenessSessionResultsRequest {
    /// Required by the model; `validate` reports it missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
}

/// `GetFaceLivenessSessionResultsResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetFaceLivenessSessionResultsResponse {
    pub session_id: String,
    pub status: LivenessSessionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_image: Option<AuditImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_images: Option<Vec<AuditImage>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<Challenge>,
}

/// `LivenessSessionStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LivenessSessionStatus {
    Created,
    InProgress,
    Succeeded,
    Failed,
    Expired,
}

impl LivenessSessionStatus {
    pub const ALL: [LivenessSessionStatus; 5] = [
        LivenessSessionStatus::Created,
        LivenessSessionStatus::InProgress,
        LivenessSessionStatus::Succeeded,
        LivenessSessionStatus::Failed,
        LivenessSessionStatus::Expired,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            LivenessSessionStatus::Created => "CREATED",
            LivenessSessionStatus::InProgress => "IN_PROGRESS",
            LivenessSessionStatus::Succeeded => "SUCCEEDED",
            LivenessSessionStatus::Failed => "FAILED",
            LivenessSessionStatus::Expired => "EXPIRED",
        }
    }
}

/// `AuditImage`: `Bytes` when the session has no output bucket, `S3Object` when it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<Blob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_object: Option<S3Object>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounding_box: Option<BoundingBox>,
}

/// `S3Object`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Object {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `BoundingBox`: ratios of the frame's size (may be negative or above 1 at the edges).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BoundingBox {
    pub width: f32,
    pub height: f32,
    pub left: f32,
    pub top: f32,
}

/// `Challenge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Challenge {
    pub r#type: String,
    pub version: String,
}

/// A blob member: raw bytes in memory, base64 in JSON.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob(pub Vec<u8>);

impl std::fmt::Debug for Blob {
    // Image blobs are `@sensitive` in the model: never print their content.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Blob, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Blob)
            .map_err(serde::de::Error::custom)
    }
}

/// A `LivenessSessionId`: a UUID, written in lower-case hex with hyphens (36 characters).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct SessionId(uuid::Uuid);

impl SessionId {
    /// A new random (version 4) session id.
    pub fn random() -> SessionId {
        SessionId(uuid::Uuid::new_v4())
    }

    /// Parses the model's pattern exactly: lower-case only, hyphens in place.
    pub fn parse(text: &str) -> Option<SessionId> {
        let lower_hex_with_hyphens = text.len() == 36
            && text.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
            });
        lower_hex_with_hyphens
            .then(|| uuid::Uuid::parse_str(text).ok().map(SessionId))
            .flatten()
    }

    pub fn from_bytes(bytes: [u8; 16]) -> SessionId {
        SessionId(uuid::Uuid::from_bytes(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }
}

impl std::fmt::Display for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionId({self})")
    }
}

impl From<SessionId> for String {
    fn from(id: SessionId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for SessionId {
    type Error = String;
    fn try_from(text: String) -> Result<SessionId, String> {
        SessionId::parse(&text).ok_or_else(|| format!("not a session id: {text}"))
    }
}
