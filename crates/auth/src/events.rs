//! Chained event signatures: every client message of an event stream is an envelope with a
//! `:date` and a `:chunk-signature` that signs the envelope's payload and the previous signature,
//! starting from the request's own signature (the seed).
//!
//! The JavaScript SDK writes `:date` with millisecond precision and signs those exact header
//! bytes, while the date in the string to sign has second precision; `aws_sigv4::event_stream`
//! would re-encode `:date` in seconds, so the string to sign is built here.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sigv4;
use crate::{AuthError, SecretKey, MAX_CLOCK_SKEW};

/// The algorithm line of an event's string to sign.
pub const EVENT_ALGORITHM: &str = "AWS4-HMAC-SHA256-PAYLOAD";

/// The encoded `:date` header alone (name length, name, type 8, milliseconds), as it is hashed.
pub fn date_header_bytes(date_millis: i64) -> [u8; 15] {
    let mut bytes = [0u8; 15];
    bytes[0] = 5;
    bytes[1..6].copy_from_slice(b":date");
    bytes[6] = 8;
    bytes[7..].copy_from_slice(&date_millis.to_be_bytes());
    bytes
}

/// The string to sign of one event.
pub fn event_string_to_sign(
    date_millis: i64,
    scope_region: &str,
    service: &str,
    previous_signature: &str,
    payload: &[u8],
) -> Option<String> {
    let at = millis_to_time(date_millis)?;
    let amz_date = sigv4::format_amz_date(at);
    let scope = format!("{}/{scope_region}/{service}/aws4_request", &amz_date[..8]);
    Some(format!(
        "{EVENT_ALGORITHM}\n{amz_date}\n{scope}\n{previous_signature}\n{}\n{}",
        sigv4::sha256_hex(&date_header_bytes(date_millis)),
        sigv4::sha256_hex(payload)
    ))
}

/// The last instant SigV4's four-digit years can write, 9999-12-31T23:59:59.999Z, in
/// milliseconds since the epoch.
const LAST_SIGNABLE_MILLIS: u64 = 253_402_300_799_999;

/// The time of an event's `:date`, or `None` when no signature can carry it: before the epoch,
/// or past year 9999 (which the date formatting cannot write, and must never be asked to).
fn millis_to_time(millis: i64) -> Option<SystemTime> {
    let millis = u64::try_from(millis)
        .ok()
        .filter(|&millis| millis <= LAST_SIGNABLE_MILLIS)?;
    UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

/// Verifies the envelopes of one stream, in order.
pub struct ChainVerifier {
    secret: SecretKey,
    region: String,
    service: String,
    previous: String,
    /// Signing keys by day (`YYYYMMDD`): a stream may cross midnight.
    keys: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for ChainVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainVerifier")
            .field("region", &self.region)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

impl ChainVerifier {
    /// Starts a chain at the request's signature (`seed`).
    pub fn new(secret: SecretKey, region: &str, service: &str, seed: &str) -> ChainVerifier {
        ChainVerifier {
            secret,
            region: region.to_owned(),
            service: service.to_owned(),
            previous: seed.to_owned(),
            keys: HashMap::new(),
        }
    }

    /// Checks one envelope: its date against the clock, its signature against the chain.
    /// On success the chain moves on to this envelope's signature.
    pub fn verify(
        &mut self,
        date_millis: i64,
        signature: &[u8],
        payload: &[u8],
        now: SystemTime,
    ) -> Result<(), AuthError> {
        let at = millis_to_time(date_millis).ok_or_else(|| {
            AuthError::InvalidSignature("Event :date is not a valid time.".to_owned())
        })?;
        let skew = if at > now {
            at.duration_since(now)
        } else {
            now.duration_since(at)
        }
        .unwrap_or_default();
        if skew > MAX_CLOCK_SKEW {
            return Err(AuthError::InvalidSignature(format!(
                "Event :date {} is more than 5 minutes from the server's time {}.",
                sigv4::format_amz_date(at),
                sigv4::format_amz_date(now)
            )));
        }
        let expected = self.next_signature(date_millis, payload).ok_or_else(|| {
            AuthError::InvalidSignature("Event :date is not a valid time.".to_owned())
        })?;
        if !sigv4::signatures_match(&expected, &hex::encode(signature)) {
            return Err(AuthError::InvalidSignature(
                "The event signature does not match: the envelope was changed, replayed or reordered.".to_owned(),
            ));
        }
        self.previous = expected;
        Ok(())
    }

    /// Signs a payload as the next envelope of the chain would be signed (what a client does);
    /// used by tests and load generators.
    pub fn sign_next(&mut self, date_millis: i64, payload: &[u8]) -> Option<Vec<u8>> {
        let signature = self.next_signature(date_millis, payload)?;
        let bytes = hex::decode(&signature).ok()?;
        self.previous = signature;
        Some(bytes)
    }

    /// The hex signature the next envelope of the chain must carry, with the signing key of its
    /// day (cached: a stream may cross midnight).
    fn next_signature(&mut self, date_millis: i64, payload: &[u8]) -> Option<String> {
        let at = millis_to_time(date_millis)?;
        let string_to_sign = event_string_to_sign(
            date_millis,
            &self.region,
            &self.service,
            &self.previous,
            payload,
        )?;
        let day = sigv4::format_amz_date(at)[..8].to_owned();
        let key = self.keys.entry(day).or_insert_with(|| {
            sigv4::signing_key(self.secret.expose(), at, &self.region, &self.service)
        });
        Some(sigv4::signature(key, &string_to_sign))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_780_000_000_123;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_780_000_000_500)
    }

    fn chain() -> ChainVerifier {
        ChainVerifier::new(
            SecretKey::new("secret"),
            "us-east-1",
            "rekognition",
            &"ab".repeat(32),
        )
    }

    #[test]
    fn a_signed_chain_verifies_in_order_only() {
        let mut client = chain();
        let signatures: Vec<Vec<u8>> = (0..3)
            .map(|i| {
                client
                    .sign_next(T + i, format!("event {i}").as_bytes())
                    .unwrap()
            })
            .collect();
        let mut server = chain();
        for (i, signature) in signatures.iter().enumerate() {
            server
                .verify(
                    T + i as i64,
                    signature,
                    format!("event {i}").as_bytes(),
                    now(),
                )
                .unwrap();
        }
        // Replaying the last envelope, or taking them out of order, breaks the chain.
        assert!(server
            .verify(T + 2, &signatures[2], b"event 2", now())
            .is_err());
        let mut reordered = chain();
        assert!(reordered
            .verify(T + 1, &signatures[1], b"event 1", now())
            .is_err());
    }

    #[test]
    fn changed_payloads_dates_and_stale_dates_are_refused() {
        let mut client = chain();
        let signature = client.sign_next(T, b"payload").unwrap();
        assert!(chain().verify(T, &signature, b"payloaD", now()).is_err());
        assert!(chain()
            .verify(T + 1, &signature, b"payload", now())
            .is_err());
        let late = now() + Duration::from_secs(301);
        assert!(
            matches!(chain().verify(T, &signature, b"payload", late), Err(AuthError::InvalidSignature(m)) if m.contains("5 minutes"))
        );
        assert!(chain().verify(-1, &signature, b"payload", now()).is_err());
    }

    #[test]
    fn the_date_header_is_encoded_in_milliseconds() {
        let bytes = date_header_bytes(T);
        assert_eq!(&bytes[..7], b"\x05:date\x08");
        assert_eq!(i64::from_be_bytes(bytes[7..].try_into().unwrap()), T);
        let to_sign = event_string_to_sign(T, "us-east-1", "rekognition", "seed", b"").unwrap();
        assert!(to_sign.starts_with("AWS4-HMAC-SHA256-PAYLOAD\n20260528T202640Z\n20260528/us-east-1/rekognition/aws4_request\nseed\n"), "{to_sign}");
        assert!(
            to_sign.ends_with("\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }
}
