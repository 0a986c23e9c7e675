//! Event-stream envelopes as the JavaScript SDK frames a client's messages: the inner message
//! as the payload, a `:date` in milliseconds and a `:chunk-signature` that chains from the
//! previous envelope's signature (the first from the request's own).

use aws_smithy_types::DateTime;
use openliveness_auth::{ChainVerifier, SecretKey};
use openliveness_protocol::eventstream::{self, Header, HeaderValue, Message};

use crate::{Error, REGION, SERVICE};

/// The signatures of one stream's envelopes, in order.
#[derive(Debug)]
pub struct Chain {
    signatures: ChainVerifier,
}

impl Chain {
    /// A chain seeded with the signature of the request that started the stream.
    pub fn new(secret: SecretKey, seed: &str) -> Chain {
        Chain {
            // Signing the next envelope is what verifying it computes: the same functions.
            signatures: ChainVerifier::new(secret, REGION, SERVICE, seed),
        }
    }

    /// The next envelope around `payload` (an encoded message, or nothing for the SDK's end
    /// frame), dated `date_millis`.
    pub fn envelope(&mut self, payload: Vec<u8>, date_millis: i64) -> Result<Vec<u8>, Error> {
        let signature = self
            .signatures
            .sign_next(date_millis, &payload)
            .ok_or_else(|| Error::Failed(format!("cannot sign an envelope dated {date_millis}")))?;
        let envelope = Message::new(payload)
            .add_header(Header::new(
                ":date",
                HeaderValue::Timestamp(DateTime::from_millis(date_millis)),
            ))
            .add_header(Header::new(
                ":chunk-signature",
                HeaderValue::ByteArray(signature.into()),
            ));
        eventstream::encode_message(&envelope).map_err(|error| Error::failed("envelope", error))
    }

    /// The next envelope around `message`.
    pub fn message(&mut self, message: &Message, date_millis: i64) -> Result<Vec<u8>, Error> {
        let payload =
            eventstream::encode_message(message).map_err(|error| Error::failed("event", error))?;
        self.envelope(payload, date_millis)
    }

    /// The next envelope around an event of `event_type` with a JSON body.
    pub fn event(
        &mut self,
        event_type: &str,
        body: &serde_json::Value,
        date_millis: i64,
    ) -> Result<Vec<u8>, Error> {
        let json = serde_json::to_vec(body).map_err(|error| Error::failed("event", error))?;
        self.message(&eventstream::event_message(event_type, json), date_millis)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::{Duration, UNIX_EPOCH};

    use openliveness_protocol::eventstream::{Decoder, Limits};

    use super::*;

    const T: i64 = 1_780_000_000_123;

    /// What the server does with each envelope: decode it, verify its date and signature
    /// against the chain; the inner event types (`END` for the end frame).
    fn verify(seed: &str, bytes: &[u8]) -> Result<Vec<String>, String> {
        let mut chain = ChainVerifier::new(SecretKey::new("secret"), REGION, SERVICE, seed);
        let mut decoder = Decoder::new(Limits::default());
        decoder.push(bytes);
        let mut kinds = Vec::new();
        while let Some(envelope) = decoder.next_message().map_err(|e| e.to_string())? {
            let Some(HeaderValue::Timestamp(date)) = eventstream::header(&envelope, ":date") else {
                return Err("no :date".to_owned());
            };
            let Some(HeaderValue::ByteArray(signature)) =
                eventstream::header(&envelope, ":chunk-signature")
            else {
                return Err("no :chunk-signature".to_owned());
            };
            let now = UNIX_EPOCH + Duration::from_millis(T as u64);
            chain
                .verify(
                    date.to_millis().unwrap(),
                    signature,
                    envelope.payload(),
                    now,
                )
                .map_err(|e| format!("{e:?}"))?;
            kinds.push(if envelope.payload().is_empty() {
                "END".to_owned()
            } else {
                let inner = eventstream::decode_message(envelope.payload().clone()).unwrap();
                eventstream::string_header(&inner, ":event-type")
                    .unwrap()
                    .to_owned()
            });
        }
        Ok(kinds)
    }

    #[test]
    fn the_servers_verifier_accepts_the_chain_in_order_only() {
        let seed = "ab".repeat(32);
        let mut chain = Chain::new(SecretKey::new("secret"), &seed);
        let info = serde_json::json!({"Challenge": {}});
        let envelopes = [
            chain
                .event("ClientSessionInformationEvent", &info, T)
                .unwrap(),
            chain
                .event(
                    "VideoEvent",
                    &serde_json::json!({"VideoChunk": "AAAA"}),
                    T + 40,
                )
                .unwrap(),
            chain.envelope(Vec::new(), T + 80).unwrap(),
        ];
        assert_eq!(
            verify(&seed, &envelopes.concat()).unwrap(),
            ["ClientSessionInformationEvent", "VideoEvent", "END"]
        );
        let reordered = [&envelopes[1][..], &envelopes[0], &envelopes[2]].concat();
        assert!(verify(&seed, &reordered).is_err());
        assert!(verify(&"cd".repeat(32), &envelopes.concat()).is_err());
        let mut changed = envelopes.concat();
        let middle = changed.len() / 2;
        changed[middle] ^= 1;
        assert!(verify(&seed, &changed).is_err());
    }
}
