//! The model's constraints, checked on the server, with AWS's validation message format:
//! `N validation error(s) detected: Value 'x' at 'member.path' failed to satisfy constraint: ...`.

use serde::{Deserialize, Serialize};

use crate::{
    ApiError, CreateFaceLivenessSessionRequest, GetFaceLivenessSessionResultsRequest, SessionId,
};

/// `AuditImagesLimit` above this is clamped to it (API reference).
pub const MAX_AUDIT_IMAGES_LIMIT: u8 = 4;

/// The model sets no length on `ChallengePreferences`; there are two challenge types, so a
/// longer list can only repeat them. This bound keeps a session record small.
pub const MAX_CHALLENGE_PREFERENCES: usize = 10;

/// How much of an offending value an error message echoes.
const MAX_ECHO_CHARS: usize = 128;

/// A session's settings, as checked from `CreateFaceLivenessSession`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSettings {
    pub kms_key_id: Option<String>,
    pub output: Option<OutputLocation>,
    /// Clamped to 0..=4; 0 when absent.
    pub audit_images_limit: u8,
    /// In the caller's order of preference; empty when absent.
    pub challenge_preferences: Vec<ValidChallengePreference>,
}

/// `Settings.OutputConfig`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputLocation {
    pub bucket: String,
    /// Empty when absent.
    pub key_prefix: String,
}

/// One `ChallengePreference`, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidChallengePreference {
    pub kind: ChallengeKind,
    pub minimum: Option<ChallengeVersion>,
    pub maximum: Option<ChallengeVersion>,
}

/// `ChallengeType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChallengeKind {
    FaceMovementAndLightChallenge,
    FaceMovementChallenge,
}

impl ChallengeKind {
    pub const ALL: [ChallengeKind; 2] = [
        ChallengeKind::FaceMovementAndLightChallenge,
        ChallengeKind::FaceMovementChallenge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChallengeKind::FaceMovementAndLightChallenge => "FaceMovementAndLightChallenge",
            ChallengeKind::FaceMovementChallenge => "FaceMovementChallenge",
        }
    }

    pub fn parse(text: &str) -> Option<ChallengeKind> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// A `Version`: `major.minor.patch`, each 0 to 999 without leading zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ChallengeVersion(pub u16, pub u16, pub u16);

impl ChallengeVersion {
    /// Parses the model's pattern `^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$`.
    pub fn parse(text: &str) -> Option<ChallengeVersion> {
        let mut parts = text.split('.');
        let mut next = || -> Option<u16> {
            let part = parts.next()?;
            let well_formed = !part.is_empty()
                && part.len() <= 3
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'));
            if well_formed {
                part.parse().ok()
            } else {
                None
            }
        };
        let version = ChallengeVersion(next()?, next()?, next()?);
        parts.next().is_none().then_some(version)
    }
}

impl std::fmt::Display for ChallengeVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// Collects constraint violations, then renders them the way AWS does.
#[derive(Default)]
struct Violations(Vec<String>);

impl Violations {
    fn add(&mut self, value: Option<&str>, path: &str, constraint: &str) {
        let shown = match value {
            Some(value) => {
                let mut echo: String = value.chars().take(MAX_ECHO_CHARS).collect();
                if value.chars().count() > MAX_ECHO_CHARS {
                    echo.push_str("...");
                }
                format!("Value '{echo}'")
            }
            None => "Value null".to_owned(),
        };
        self.0.push(format!(
            "{shown} at '{path}' failed to satisfy constraint: {constraint}"
        ));
    }

    /// Checks a string against length bounds (in characters) and a pattern.
    fn check_string(
        &mut self,
        value: &str,
        path: &str,
        (min, max): (usize, usize),
        pattern: (&str, fn(&str) -> bool),
    ) {
        let length = value.chars().count();
        if length < min {
            self.add(
                Some(value),
                path,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if length > max {
            self.add(
                Some(value),
                path,
                &format!("Member must have length less than or equal to {max}"),
            );
        } else if !(pattern.1)(value) {
            self.add(
                Some(value),
                path,
                &format!(
                    "Member must satisfy regular expression pattern: {}",
                    pattern.0
                ),
            );
        }
    }

    fn into_result(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            1 => Err(ApiError::invalid_parameter(format!(
                "1 validation error detected: {}",
                self.0[0]
            ))),
            n => Err(ApiError::invalid_parameter(format!(
                "{n} validation errors detected: {}",
                self.0.join("; ")
            ))),
        }
    }
}

const KMS_KEY_ID: (&str, fn(&str) -> bool) = ("^[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,2048}$", |v| {
    let mut chars = v.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || ":_/+=,@.-".contains(c))
});
const CLIENT_REQUEST_TOKEN: (&str, fn(&str) -> bool) = ("^[a-zA-Z0-9-_]+$", |v| {
    !v.is_empty()
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
});
const S3_BUCKET: (&str, fn(&str) -> bool) = ("^[0-9A-Za-z\\.\\-_]*$", |v| {
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
});
/// Java's `\S`: anything but space, tab, newline, vertical tab, form feed and carriage return.
const S3_KEY_PREFIX: (&str, fn(&str) -> bool) = ("^\\S*$", |v| {
    !v.chars()
        .any(|c| matches!(c, ' ' | '\t' | '\n' | '\x0B' | '\x0C' | '\r'))
});
const VERSION: (&str, fn(&str) -> bool) = (
    "^(0|[1-9]\\d{0,2})\\.(0|[1-9]\\d{0,2})\\.(0|[1-9]\\d{0,2})$",
    |v| ChallengeVersion::parse(v).is_some(),
);
const SESSION_ID: (&str, fn(&str) -> bool) = (
    "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
    |v| SessionId::parse(v).is_some(),
);

/// Checks `CreateFaceLivenessSession`'s input: the settings and the `ClientRequestToken`.
pub fn validate_create(
    request: &CreateFaceLivenessSessionRequest,
) -> Result<(SessionSettings, Option<String>), ApiError> {
    let mut violations = Violations::default();
    if let Some(key) = &request.kms_key_id {
        violations.check_string(key, "kmsKeyId", (1, 2048), KMS_KEY_ID);
    }
    if let Some(token) = &request.client_request_token {
        violations.check_string(token, "clientRequestToken", (1, 64), CLIENT_REQUEST_TOKEN);
    }
    let settings = request.settings.clone().unwrap_or_default();
    let output = settings.output_config.as_ref().map(|config| {
        match &config.s3_bucket {
            Some(bucket) => violations.check_string(
                bucket,
                "settings.outputConfig.s3Bucket",
                (3, 255),
                S3_BUCKET,
            ),
            None => violations.add(
                None,
                "settings.outputConfig.s3Bucket",
                "Member must not be null",
            ),
        }
        let prefix = config.s3_key_prefix.clone().unwrap_or_default();
        violations.check_string(
            &prefix,
            "settings.outputConfig.s3KeyPrefix",
            (0, 950),
            S3_KEY_PREFIX,
        );
        OutputLocation {
            bucket: config.s3_bucket.clone().unwrap_or_default(),
            key_prefix: prefix,
        }
    });
    let preferences = settings.challenge_preferences.unwrap_or_default();
    if preferences.len() > MAX_CHALLENGE_PREFERENCES {
        violations.add(
            None,
            "settings.challengePreferences",
            &format!("Member must have length less than or equal to {MAX_CHALLENGE_PREFERENCES}"),
        );
    }
    let mut challenge_preferences = Vec::with_capacity(preferences.len());
    for (index, preference) in preferences
        .iter()
        .enumerate()
        .take(MAX_CHALLENGE_PREFERENCES)
    {
        let path = format!("settings.challengePreferences.{}.member", index + 1);
        let kind = match &preference.r#type {
            None => {
                violations.add(None, &format!("{path}.type"), "Member must not be null");
                None
            }
            Some(text) => {
                let kind = ChallengeKind::parse(text);
                if kind.is_none() {
                    violations.add(
                        Some(text),
                        &format!("{path}.type"),
                        "Member must satisfy enum value set: \
                         [FaceMovementAndLightChallenge, FaceMovementChallenge]",
                    );
                }
                kind
            }
        };
        let versions = preference.versions.clone().unwrap_or_default();
        let mut version = |value: &Option<String>, name: &str| {
            let value = value.as_deref()?;
            violations.check_string(value, &format!("{path}.versions.{name}"), (5, 11), VERSION);
            ChallengeVersion::parse(value)
        };
        let minimum = version(&versions.minimum, "minimum");
        let maximum = version(&versions.maximum, "maximum");
        if let (Some(low), Some(high)) = (minimum, maximum) {
            if low > high {
                violations.add(
                    versions.maximum.as_deref(),
                    &format!("{path}.versions.maximum"),
                    &format!("Member must not be lower than minimum version {low}"),
                );
            }
        }
        if let Some(kind) = kind {
            challenge_preferences.push(ValidChallengePreference {
                kind,
                minimum,
                maximum,
            });
        }
    }
    violations.into_result()?;
    let audit_images_limit = settings
        .audit_images_limit
        .unwrap_or(0)
        .clamp(0, i64::from(MAX_AUDIT_IMAGES_LIMIT));
    let settings = SessionSettings {
        kms_key_id: request.kms_key_id.clone(),
        output,
        // Clamped to 0..=4 just above, so the conversion cannot fail.
        audit_images_limit: u8::try_from(audit_images_limit).unwrap_or(MAX_AUDIT_IMAGES_LIMIT),
        challenge_preferences,
    };
    Ok((settings, request.client_request_token.clone()))
}

/// Checks `GetFaceLivenessSessionResults`'s input.
pub fn validate_get(request: &GetFaceLivenessSessionResultsRequest) -> Result<SessionId, ApiError> {
    let mut violations = Violations::default();
    match &request.session_id {
        None => violations.add(None, "sessionId", "Member must not be null"),
        Some(id) => violations.check_string(id, "sessionId", (36, 36), SESSION_ID),
    }
    violations.into_result()?;
    request
        .session_id
        .as_deref()
        .and_then(SessionId::parse)
        .ok_or_else(|| ApiError::invalid_parameter("Invalid SessionId"))
}
