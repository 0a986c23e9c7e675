//! A Face Liveness client, for everything in the project that talks to a server as a customer's
//! code would: the simulator's player (`openliveness simulate --endpoint`, `eval --endpoint`),
//! `analyze --endpoint`, the load generators and the server's own tests.
//!
//! - [`Signer`] signs a request's headers as the AWS SDKs do and presigns the streaming
//!   WebSocket URL as Amplify and the JavaScript SDK do (both with `aws-sigv4`);
//! - [`Chain`] wraps event-stream messages in envelopes with chained signatures (the pure SigV4
//!   functions of `openliveness-auth`, the ones the server verifies with);
//! - [`Client`] makes control-plane calls and opens [`Stream`]s; [`Client::play`] plays a whole
//!   session: create it, start it, read the challenge, send the client's messages on their
//!   schedule, read the server's events back, get the results.
//!
//! The key decision: the player takes plain data (event types, JSON bodies and when to send
//! them), never a simulated recording. What answers a challenge is the caller's business (the
//! simulator renders it, a test makes a few bytes up), so this crate knows nothing of the
//! simulator, the engine or video, and the server's tests can use it without FFmpeg; and the
//! simulator itself does no I/O.
//!
//! Clocks are injected ([`Clock`]): tests sign at a server's manual time.

mod envelope;
mod http;
mod play;
mod sign;
mod stream;

use std::sync::Arc;
use std::time::SystemTime;

pub use envelope::Chain;
pub use http::{connect, exchange, send, Answer, Client, Connection};
pub use play::{Outgoing, Pace, Played};
pub use sign::{Keys, Payload, Presigned, Signer, START_PATH};
pub use stream::{Ended, Event, Stream};

/// The region requests are signed for (the server accepts any).
pub const REGION: &str = "us-east-1";
/// The service requests are signed for.
pub const SERVICE: &str = "rekognition";
/// The challenge versions a web client offers.
pub const CHALLENGE_VERSIONS: &str =
    "FaceMovementAndLightChallenge_2.0.0,FaceMovementChallenge_1.0.0";

/// What went wrong talking to a server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The server answered with an error: its HTTP status, `x-amzn-ErrorType` and body.
    #[error("HTTP {status}{}: {body}", .error_type.as_deref().map(|t| format!(" {t}")).unwrap_or_default())]
    Refused {
        status: u16,
        error_type: Option<String>,
        body: String,
    },
    /// Anything else: a bad endpoint, signing, the connection, an unreadable answer.
    #[error("{0}")]
    Failed(String),
}

impl Error {
    fn failed(context: &str, error: impl std::fmt::Display) -> Error {
        Error::Failed(format!("{context}: {error}"))
    }

    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Refused { status, .. } => Some(*status),
            Error::Failed(_) => None,
        }
    }
}

/// Where a server listens: `HOST:PORT`, plain HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    authority: String,
}

impl Endpoint {
    /// `http://HOST:PORT` (a trailing `/` allowed, no path).
    pub fn parse(url: &str) -> Result<Endpoint, Error> {
        url.strip_prefix("http://")
            .map(|rest| rest.trim_end_matches('/'))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(Endpoint::at)
            .ok_or_else(|| Error::Failed(format!("{url:?}: expected http://HOST:PORT")))
    }

    /// `HOST:PORT`.
    pub fn at(authority: &str) -> Endpoint {
        Endpoint {
            authority: authority.to_owned(),
        }
    }

    /// `HOST:PORT`: the `Host` header and where to connect.
    pub fn authority(&self) -> &str {
        &self.authority
    }
}

/// Where signatures take their time from.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

impl<F: Fn() -> SystemTime + Send + Sync> Clock for F {
    fn now(&self) -> SystemTime {
        self()
    }
}

/// The system's clock.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemTime::now)
}

/// A time in milliseconds since the epoch, as event-stream dates and `TimestampMillis` are.
pub fn unix_millis(at: SystemTime) -> i64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}
