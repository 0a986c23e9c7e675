//! End to end through the real server: simulated sessions played by the simulator's client over
//! the WebSocket transport (presigned URL, signed envelopes, as the Amplify web component does),
//! decided by the engine while the video streams in, results from GetFaceLivenessSessionResults.
//!
//! Needs the face model and photograph (`scripts/setup-vision.sh`).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use common::{Options, Server, TENANT_A};
use openliveness_sim::client::{play, Played, Target};
use openliveness_sim::Species;

fn target(server: &Server) -> Target {
    Target {
        endpoint: server.plain_url.clone(),
        access_key_id: TENANT_A.access_key_id.to_owned(),
        secret_access_key: TENANT_A.secret.to_owned(),
    }
}

fn play_one(server: &Server, species: Species, seed: u64) -> Played {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime
        .block_on(play(&target(server), species, seed, (640, 480), false))
        .unwrap()
}

fn confidence(played: &Played) -> f64 {
    played.results["Confidence"].as_f64().unwrap()
}

#[test]
fn a_live_session_succeeds_with_high_confidence_and_a_reference_image_of_the_face() {
    let server = Server::start(Options::default());
    let played = play_one(&server, Species::BonaFide, 7);
    // The protocol exchange of PROTOCOL.md 4.5: the challenge first, DisconnectionEvent after
    // the result is stored, then the server closes with 1000.
    assert_eq!(
        played.received,
        [
            "ChallengeEvent",
            "ServerSessionInformationEvent",
            "DisconnectionEvent"
        ]
    );
    assert_eq!(played.close_code, Some(1000));
    let results = &played.results;
    assert_eq!(results["Status"], "SUCCEEDED", "{results}");
    assert!(confidence(&played) >= 90.0, "{results}");
    assert_eq!(
        results["Challenge"]["Type"],
        "FaceMovementAndLightChallenge"
    );
    let reference = &results["ReferenceImage"];
    let jpeg = base64_decode(reference["Bytes"].as_str().unwrap());
    assert_eq!(&jpeg[..3], &[0xFF, 0xD8, 0xFF]);
    assert!(jpeg.len() <= 200 * 1024);
    // The box covers the face: the face fills the oval at the end, about 45% of the width.
    let bounding = &reference["BoundingBox"];
    let width = bounding["Width"].as_f64().unwrap();
    let left = bounding["Left"].as_f64().unwrap();
    assert!((0.3..0.6).contains(&width), "{bounding}");
    assert!(left > 0.1 && left + width < 0.9, "{bounding}");
}

#[test]
fn a_screen_replay_and_a_printed_photo_get_low_confidence() {
    let server = Server::start(Options::default());
    for species in [Species::ScreenReplay, Species::PrintedPhoto] {
        let played = play_one(&server, species, 11);
        assert_eq!(played.results["Status"], "SUCCEEDED", "{species}");
        assert!(
            confidence(&played) < 50.0,
            "{species}: {}",
            played.results["Confidence"]
        );
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}
