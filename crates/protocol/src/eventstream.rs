//! AWS event-stream framing, sans I/O: bytes in, messages out, with limits checked before
//! anything large is buffered.
//!
//! Parsing and writing of one message are `aws-smithy-eventstream`'s (both CRCs, every header
//! type). This module adds what a server facing the network needs on top: it reads the prelude as
//! soon as 12 bytes are there, checks its CRC and the declared sizes against [`Limits`], and only
//! then waits for the rest, so a client cannot make the server buffer more than one message of at
//! most `max_message_bytes`. Messages split or merged across reads decode the same.

use aws_smithy_eventstream::frame::{read_message_from, write_headers_to, write_message_to};
pub use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::{Buf, Bytes, BytesMut};

/// The fixed part before the headers: total length, headers length, prelude CRC.
pub const PRELUDE_BYTES: usize = 12;
/// The smallest message: prelude and message CRC, no headers, no payload.
pub const MIN_MESSAGE_BYTES: usize = 16;

/// How large messages may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_header_bytes: usize,
}

impl Default for Limits {
    /// 2 MiB a message (a second of 1 Mbit/s video is about 170 KB once base64 and JSON wrap it),
    /// 4 KiB of headers.
    fn default() -> Limits {
        Limits {
            max_message_bytes: 2 * 1024 * 1024,
            max_header_bytes: 4 * 1024,
        }
    }
}

/// Why bytes are not a valid event-stream message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("event-stream message of {0} bytes is larger than the limit of {1} bytes")]
    MessageTooLarge(usize, usize),
    #[error("event-stream headers of {0} bytes are larger than the limit of {1} bytes")]
    HeadersTooLarge(usize, usize),
    #[error("event-stream message length {0} is not possible")]
    BadLength(usize),
    #[error("event-stream prelude checksum does not match")]
    PreludeChecksum,
    #[error("invalid event-stream message: {0}")]
    Invalid(String),
    #[error("the stream ended inside an event-stream message")]
    Truncated,
}

/// An incremental decoder: feed it bytes as they arrive, take complete messages out.
#[derive(Debug, Default)]
pub struct Decoder {
    limits: Limits,
    buffer: BytesMut,
    /// Set once a message failed: the stream is not usable any more.
    failed: bool,
}

impl Decoder {
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            limits,
            buffer: BytesMut::new(),
            failed: false,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        if self.failed {
            return Err(FrameError::Invalid("the stream already failed".to_owned()));
        }
        let result = self.try_next();
        if result.is_err() {
            self.failed = true;
            self.buffer.clear();
        }
        result
    }

    fn try_next(&mut self) -> Result<Option<Message>, FrameError> {
        if self.buffer.len() < PRELUDE_BYTES {
            return Ok(None);
        }
        let total = u32_at(&self.buffer, 0) as usize;
        let headers = u32_at(&self.buffer, 4) as usize;
        if crc32fast::hash(&self.buffer[..8]) != u32_at(&self.buffer, 8) {
            return Err(FrameError::PreludeChecksum);
        }
        if total > self.limits.max_message_bytes {
            return Err(FrameError::MessageTooLarge(
                total,
                self.limits.max_message_bytes,
            ));
        }
        if total < MIN_MESSAGE_BYTES || headers > total - MIN_MESSAGE_BYTES {
            return Err(FrameError::BadLength(total));
        }
        if headers > self.limits.max_header_bytes {
            return Err(FrameError::HeadersTooLarge(
                headers,
                self.limits.max_header_bytes,
            ));
        }
        if self.buffer.len() < total {
            return Ok(None);
        }
        let frame = self.buffer.split_to(total).freeze();
        decode_message(frame).map(Some)
    }

    /// Bytes received but not yet part of a complete message.
    pub fn pending_bytes(&self) -> usize {
        self.buffer.len()
    }

    /// Checks that the stream did not end inside a message.
    pub fn finish(&self) -> Result<(), FrameError> {
        if self.buffer.is_empty() {
            Ok(())
        } else {
            Err(FrameError::Truncated)
        }
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

/// Decodes exactly one message from exactly its bytes (both CRCs checked).
pub fn decode_message(mut frame: Bytes) -> Result<Message, FrameError> {
    let length = frame.len();
    let message =
        read_message_from(&mut frame).map_err(|error| FrameError::Invalid(error.to_string()))?;
    if frame.has_remaining() {
        return Err(FrameError::BadLength(length));
    }
    Ok(message)
}

/// Encodes one message.
pub fn encode_message(message: &Message) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    write_message_to(message, &mut out).map_err(|error| FrameError::Invalid(error.to_string()))?;
    Ok(out)
}

/// Encodes headers alone, as they stand inside a message (what SigV4 event signing hashes).
pub fn encode_headers(headers: &[Header]) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    write_headers_to(headers, &mut out).map_err(|error| FrameError::Invalid(error.to_string()))?;
    Ok(out)
}

/// The value of a string header.
pub fn string_header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .headers()
        .iter()
        .find(|header| header.name().as_str() == name)
        .and_then(|header| header.value().as_string().ok())
        .map(|value| value.as_str())
}

/// The value of a header of any type.
pub fn header<'a>(message: &'a Message, name: &str) -> Option<&'a HeaderValue> {
    message
        .headers()
        .iter()
        .find(|header| header.name().as_str() == name)
        .map(Header::value)
}

/// An `event` message with JSON payload, as the service sends them.
pub fn event_message(event_type: &str, json: Vec<u8>) -> Message {
    json_message("event", event_type, json)
}

/// An `exception` message with the `{"Message": ...}` payload of a modeled exception.
pub fn exception_message(exception_type: &str, message: &str) -> Message {
    let payload = crate::encode(&serde_json::json!({ "Message": message, "Code": exception_type }));
    json_message("exception", exception_type, payload)
}

/// A message of `message_type` (`event` or `exception`) named `name` in its `:event-type` or
/// `:exception-type` header, with JSON payload; the headers in the service's order.
fn json_message(message_type: &'static str, name: &str, json: Vec<u8>) -> Message {
    Message::new(json)
        .add_header(Header::new(
            format!(":{message_type}-type"),
            HeaderValue::String(name.to_owned().into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
}

#[cfg(test)]
mod tests {
    use aws_smithy_types::DateTime;
    use proptest::prelude::*;

    use super::*;

    fn sample(i: u8) -> Message {
        Message::new(vec![i; usize::from(i) * 7])
            .add_header(Header::new("bool-true", HeaderValue::Bool(true)))
            .add_header(Header::new("bool-false", HeaderValue::Bool(false)))
            .add_header(Header::new("byte", HeaderValue::Byte(-3)))
            .add_header(Header::new("short", HeaderValue::Int16(-300)))
            .add_header(Header::new("int", HeaderValue::Int32(70_000)))
            .add_header(Header::new("long", HeaderValue::Int64(-5_000_000_000)))
            .add_header(Header::new(
                "bytes",
                HeaderValue::ByteArray(Bytes::from(vec![1, 2, i])),
            ))
            .add_header(Header::new(
                "string",
                HeaderValue::String(format!("s{i}").into()),
            ))
            .add_header(Header::new(
                "time",
                HeaderValue::Timestamp(DateTime::from_millis(1_780_000_000_123)),
            ))
            .add_header(Header::new(
                "uuid",
                HeaderValue::Uuid(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            ))
    }

    fn stream(count: u8) -> (Vec<Message>, Vec<u8>) {
        let messages: Vec<Message> = (0..count).map(sample).collect();
        let bytes = messages
            .iter()
            .flat_map(|m| encode_message(m).unwrap())
            .collect();
        (messages, bytes)
    }

    fn decode_all(decoder: &mut Decoder) -> Vec<Message> {
        std::iter::from_fn(|| decoder.next_message().unwrap()).collect()
    }

    proptest! {
        #[test]
        fn any_split_of_a_stream_decodes_to_the_same_messages(
            count in 1u8..6,
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
        ) {
            let (messages, bytes) = stream(count);
            let mut points: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
            points.push(0);
            points.push(bytes.len());
            points.sort_unstable();
            let mut decoder = Decoder::new(Limits::default());
            let mut decoded = Vec::new();
            for window in points.windows(2) {
                decoder.push(&bytes[window[0]..window[1]]);
                decoded.extend(decode_all(&mut decoder));
            }
            prop_assert_eq!(decoded, messages);
            prop_assert!(decoder.finish().is_ok());
        }

        #[test]
        fn messages_round_trip(i in any::<u8>()) {
            let message = sample(i);
            prop_assert_eq!(decode_message(Bytes::from(encode_message(&message).unwrap())).unwrap(), message);
        }
    }

    #[test]
    fn too_large_messages_are_refused_from_the_prelude() {
        let message = Message::new(vec![0u8; 2000]);
        let bytes = encode_message(&message).unwrap();
        let mut decoder = Decoder::new(Limits {
            max_message_bytes: 1000,
            max_header_bytes: 100,
        });
        decoder.push(&bytes[..PRELUDE_BYTES]);
        assert_eq!(
            decoder.next_message(),
            Err(FrameError::MessageTooLarge(bytes.len(), 1000))
        );
    }

    #[test]
    fn too_large_headers_are_refused() {
        let message = Message::new(Vec::new()).add_header(Header::new(
            "h",
            HeaderValue::String("x".repeat(200).into()),
        ));
        let mut decoder = Decoder::new(Limits {
            max_message_bytes: 1000,
            max_header_bytes: 100,
        });
        decoder.push(&encode_message(&message).unwrap());
        assert!(matches!(
            decoder.next_message(),
            Err(FrameError::HeadersTooLarge(_, 100))
        ));
    }

    #[test]
    fn corrupt_crcs_and_lengths_are_refused() {
        let bytes = encode_message(&sample(3)).unwrap();
        let mut prelude = bytes.clone();
        prelude[9] ^= 1;
        let mut body = bytes.clone();
        let last = body.len() - 5;
        body[last] ^= 1;
        let mut short = bytes.clone();
        short[3] = 4; // total length 4: less than a message can be (prelude CRC fixed below)
        let crc = crc32fast::hash(&short[..8]).to_be_bytes();
        short[8..12].copy_from_slice(&crc);
        for (name, bytes, expected) in [
            ("prelude crc", prelude, Some(FrameError::PreludeChecksum)),
            ("message crc", body, None),
            ("length", short, Some(FrameError::BadLength(4))),
        ] {
            let mut decoder = Decoder::new(Limits::default());
            decoder.push(&bytes);
            let result = decoder.next_message();
            assert!(result.is_err(), "{name}");
            if let Some(expected) = expected {
                assert_eq!(result, Err(expected), "{name}");
            }
            // A failed stream stays failed.
            assert!(decoder.next_message().is_err(), "{name}");
        }
    }

    #[test]
    fn a_stream_ending_inside_a_message_is_truncated() {
        let bytes = encode_message(&sample(2)).unwrap();
        let mut decoder = Decoder::new(Limits::default());
        decoder.push(&bytes[..bytes.len() - 1]);
        assert_eq!(decoder.next_message(), Ok(None));
        assert_eq!(decoder.finish(), Err(FrameError::Truncated));
    }
}
