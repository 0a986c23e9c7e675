//! AWS Signature Version 4 verification and the credentials it is checked against.
//!
//! The key decision: verification rebuilds the canonical request from exactly the headers the
//! client says it signed (`SignedHeaders`), with the client's own `X-Amz-Date` and credential
//! scope, derives the signing key with `aws-sigv4`'s functions and compares the two signatures in
//! constant time.
//! The canonical request and string to sign are pure functions here (see [`sigv4`]) so that the
//! streaming transports (presigned URLs, chained event signatures) can reuse them, and so that they
//! can be tested against AWS's published examples.
//!
//! Nothing here reads a clock: the caller passes `now`.
//! Nothing here logs a secret: [`SecretKey`] has a redacted `Debug` and is zeroed on drop.

pub mod client;
mod credentials;
pub mod events;
mod header;
mod presigned;
pub mod sigv4;

pub use client::{ClientCredential, ClientCredentialKey, ClientGrant, WithClientCredentials};
pub use credentials::{Credential, CredentialStore, SecretKey, StaticCredentials, TenantId};
pub use events::ChainVerifier;
pub use header::{
    require_signed_headers_with_prefix, verify_header_auth, HeaderRequest, Principal,
};
pub use presigned::{is_presigned, verify_presigned, PresignedRequest, MAX_EXPIRES_SECS};

/// Why a request was not authenticated, in the terms of AWS's front door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header (and no presigned query).
    Missing,
    /// An `Authorization` header without all its parts, or without a date.
    Incomplete(String),
    /// The access key id (or its session token) is not known.
    UnrecognizedClient,
    /// The signature does not match, or was made too long ago or too far in the future.
    InvalidSignature(String),
    /// Temporary credentials whose time is over.
    ExpiredToken,
}

/// How far a request's date may be from the server's clock, either way (AWS: 5 minutes).
pub const MAX_CLOCK_SKEW: std::time::Duration = std::time::Duration::from_secs(5 * 60);
