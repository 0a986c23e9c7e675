//! Known answers: requests and envelopes captured from the real JavaScript SDK
//! (`tests/node/capture-envelopes.mjs`, AWS's example credentials, a fixed clock) must verify,
//! request signature and every chained envelope signature, end frame included; and must stop
//! verifying when one byte changes.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use openliveness_auth::{
    verify_header_auth, verify_presigned, ChainVerifier, Credential, HeaderRequest,
    PresignedRequest, SecretKey, StaticCredentials,
};
use openliveness_protocol::eventstream::{self, Decoder, HeaderValue as EventHeader, Limits};
use openliveness_protocol::streaming::STREAMING_PAYLOAD;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn capture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/node/capture")
}

fn manifest() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(capture_dir().join("manifest.json")).unwrap()).unwrap()
}

fn captured_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(manifest()["clock"]["ms"].as_u64().unwrap())
}

fn credentials() -> StaticCredentials {
    StaticCredentials::new([Credential::new("AKIDEXAMPLE", SECRET, "111111111111")])
}

/// Verifies every envelope of a captured stream; returns the inner event types, `END` for the
/// empty end frame.
fn verify_chain(seed: &str, frames: &[Bytes]) -> Result<Vec<String>, String> {
    let mut chain = ChainVerifier::new(SecretKey::new(SECRET), "us-east-1", "rekognition", seed);
    let mut decoder = Decoder::new(Limits::default());
    let mut kinds = Vec::new();
    for frame in frames {
        decoder.push(frame);
        while let Some(envelope) = decoder.next_message().map_err(|e| e.to_string())? {
            let Some(EventHeader::Timestamp(date)) = eventstream::header(&envelope, ":date") else {
                panic!("no :date")
            };
            let Some(EventHeader::ByteArray(signature)) =
                eventstream::header(&envelope, ":chunk-signature")
            else {
                panic!("no :chunk-signature")
            };
            chain
                .verify(
                    date.to_millis().unwrap(),
                    signature,
                    envelope.payload(),
                    captured_at(),
                )
                .map_err(|e| format!("{e:?}"))?;
            if envelope.payload().is_empty() {
                kinds.push("END".to_owned());
            } else {
                let inner = eventstream::decode_message(envelope.payload().clone()).unwrap();
                kinds.push(
                    eventstream::string_header(&inner, ":event-type")
                        .unwrap()
                        .to_owned(),
                );
            }
        }
    }
    Ok(kinds)
}

/// Verifies a captured header-signed request (HTTP/1.1 or HTTP/2) and its envelopes.
fn verify_header_capture(name: &str) -> Vec<String> {
    let request: serde_json::Value = serde_json::from_slice(
        &std::fs::read(capture_dir().join(format!("{name}-request.json"))).unwrap(),
    )
    .unwrap();
    let mut headers = HeaderMap::new();
    let mut authority = None;
    for pair in request["rawHeaders"].as_array().unwrap() {
        let (key, value) = (pair[0].as_str().unwrap(), pair[1].as_str().unwrap());
        if key == ":authority" {
            authority = Some(value.to_owned());
        } else if !key.starts_with(':') {
            headers.append(
                HeaderName::from_bytes(key.to_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
    }
    let body = std::fs::read(capture_dir().join(format!("{name}-body.bin"))).unwrap();
    let signed = HeaderRequest {
        method: "POST",
        raw_path: request["path"].as_str().unwrap(),
        raw_query: "",
        headers: &headers,
        authority: authority.as_deref(),
        payload_hash: STREAMING_PAYLOAD,
    };
    let principal =
        verify_header_auth(&signed, &credentials(), "rekognition", captured_at()).unwrap();
    assert_eq!(
        principal.signature,
        manifest()[name]["seedSignature"].as_str().unwrap()
    );
    // The body arrives in pieces of any size; split it in two odd places.
    let frames = [
        Bytes::copy_from_slice(&body[..7]),
        Bytes::copy_from_slice(&body[7..500]),
        Bytes::copy_from_slice(&body[500..]),
    ];
    let kinds = verify_chain(&principal.signature, &frames).unwrap();
    let mut tampered = body.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 1;
    assert!(verify_chain(&principal.signature, &[Bytes::from(tampered)]).is_err());
    kinds
}

#[test]
fn the_js_sdk_http1_request_and_envelopes_verify() {
    let kinds = verify_header_capture("http1");
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("ClientSessionInformationEvent")
    );
    assert!(kinds.iter().any(|kind| kind == "VideoEvent"));
    assert_eq!(kinds.last().map(String::as_str), Some("END"));
}

#[test]
fn the_js_sdk_http2_request_signed_with_authority_verifies() {
    let kinds = verify_header_capture("http2");
    assert_eq!(kinds.last().map(String::as_str), Some("END"));
}

#[test]
fn the_js_sdk_presigned_websocket_url_and_frames_verify() {
    let url = std::fs::read_to_string(capture_dir().join("websocket-url.txt")).unwrap();
    let query = url.trim().split_once('?').unwrap().1.to_owned();
    let mut headers = HeaderMap::new();
    // The browser sends the port; the JS signer signed the host without it.
    headers.insert("host", HeaderValue::from_static("127.0.0.1:8443"));
    let request = PresignedRequest {
        method: "GET",
        raw_path: "/start-face-liveness-session-websocket",
        raw_query: &query,
        headers: &headers,
        authority: None,
    };
    let principal =
        verify_presigned(&request, &credentials(), "rekognition", captured_at()).unwrap();
    assert!(query.contains(&format!("X-Amz-Signature={}", principal.signature)));
    let changed = query.replace("video-width=640", "video-width=641");
    let request = PresignedRequest {
        raw_query: &changed,
        ..request
    };
    assert!(verify_presigned(&request, &credentials(), "rekognition", captured_at()).is_err());

    let bytes = std::fs::read(capture_dir().join("websocket-frames.bin")).unwrap();
    let mut frames = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let length = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        frames.push(Bytes::copy_from_slice(&rest[4..4 + length]));
        rest = &rest[4 + length..];
    }
    let kinds = verify_chain(&principal.signature, &frames).unwrap();
    assert!(kinds.iter().any(|kind| kind == "VideoEvent"), "{kinds:?}");
    // Replaying a frame breaks the chain.
    let mut replayed = frames.clone();
    replayed.insert(1, frames[0].clone());
    assert!(verify_chain(&principal.signature, &replayed).is_err());
}
