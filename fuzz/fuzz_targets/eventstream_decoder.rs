//! Any byte stream, split anywhere, must decode to messages or an error, never a panic, never
//! more buffered than the limit allows; and a decoded message must encode back to its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openliveness_protocol::eventstream::{encode_message, Decoder, Limits};

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    let limits = Limits { max_message_bytes: 4096, max_header_bytes: 512 };
    let mut decoder = Decoder::new(limits);
    let step = usize::from(split).max(1);
    for piece in bytes.chunks(step) {
        decoder.push(piece);
        loop {
            match decoder.next_message() {
                Ok(Some(message)) => {
                    let encoded = encode_message(&message).expect("a decoded message encodes");
                    assert!(encoded.len() <= limits.max_message_bytes);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(decoder.pending_bytes() <= bytes.len());
    }
});
