//! The JSON payloads of client events and the request parameters of StartFaceLivenessSession
//! must parse to a value or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openliveness_protocol::streaming::{parse_start_parameters, ClientSessionInformationEvent, VideoEvent};

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<VideoEvent>(data);
    if let Ok(event) = serde_json::from_slice::<ClientSessionInformationEvent>(data) {
        let _ = event.challenge.member();
    }
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(4, '\n');
    let _ = parse_start_parameters(parts.next(), parts.next(), parts.next(), parts.next());
});
