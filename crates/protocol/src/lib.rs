//! Wire types, validation and errors of the Amazon Rekognition Face Liveness control plane
//! (`CreateFaceLivenessSession`, `GetFaceLivenessSessionResults`) as spoken over awsJson1_1.
//!
//! The key decision: the wire types are written by hand, member for member, from the pinned
//! Smithy/botocore model, and a test (`tests/model.rs`) checks every member name, required flag and
//! constraint against the service model that the AWS CLI ships.
//! Everything here is pure: bytes and values in, typed values or an [`ApiError`] out.
//! There is no I/O, no clock and no HTTP framework; the server maps [`ApiError`] to a response.
//!
//! Parsing happens in two steps, as AWS does it:
//! 1. [`decode`]: the body must be a JSON object of the right shape, or the caller gets
//!    `SerializationException` (unknown members are ignored, as AWS ignores them);
//! 2. `validate`: the model's length, pattern and range constraints, or `InvalidParameterException`.

pub mod challenge;
mod error;
pub mod eventstream;
pub mod streaming;
mod types;
mod validate;

pub use error::{ApiError, ErrorCode};
pub use types::*;
pub use validate::{
    validate_create, validate_get, ChallengeKind, ChallengeVersion, OutputLocation,
    SessionSettings, ValidChallengePreference, MAX_AUDIT_IMAGES_LIMIT, MAX_CHALLENGE_PREFERENCES,
};

/// The awsJson1_1 operations this service answers, keyed by `X-Amz-Target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    CreateFaceLivenessSession,
    GetFaceLivenessSessionResults,
}

impl Operation {
    /// The prefix of every `X-Amz-Target` value of the Rekognition service.
    pub const TARGET_PREFIX: &'static str = "RekognitionService";

    pub const ALL: [Operation; 2] = [
        Operation::CreateFaceLivenessSession,
        Operation::GetFaceLivenessSessionResults,
    ];

    /// Parses an `X-Amz-Target` header value.
    pub fn from_target(target: &str) -> Option<Operation> {
        let name = target
            .strip_prefix(Self::TARGET_PREFIX)?
            .strip_prefix('.')?;
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    /// The operation's name in the model, also used as a metrics and log label.
    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateFaceLivenessSession => "CreateFaceLivenessSession",
            Operation::GetFaceLivenessSessionResults => "GetFaceLivenessSessionResults",
        }
    }
}

/// Decodes a request body into the operation's input structure.
///
/// An empty body is read as `{}`, as AWS services do for awsJson.
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    // serde's derive would read a structure from a JSON array too, its members by position.
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::new(
            ErrorCode::SerializationException,
            "Invalid request: the body must be a JSON object, not an array",
        ));
    }
    serde_json::from_slice(body).map_err(|error| {
        let message = match error.classify() {
            serde_json::error::Category::Data => format!("Invalid request: {error}"),
            _ => "Request body is not valid JSON".to_owned(),
        };
        ApiError::new(ErrorCode::SerializationException, message)
    })
}

/// Encodes a response structure as the JSON body of a 200 response.
pub fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serialising these plain structures cannot fail: no maps with non-string keys, no I/O.
    serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec())
}
