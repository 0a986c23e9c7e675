//! The engine on simulated sessions: the decision does not depend on how the video was cut into
//! chunks, and the operator's report explains it.
//!
//! Needs the face model and photograph (`scripts/setup-vision.sh`).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

#[path = "support/checks.rs"]
mod checks;

use std::sync::OnceLock;

use checks::CHECK_NAMES;
use openliveness_engine::{decide, observe_bytes, observe_stream, Claims, Engine, Issued};
use openliveness_evidence::Evidence;
use openliveness_protocol::challenge::{issue, IssuedChallenge, SeededRandom};
use openliveness_protocol::{ChallengeKind, ChallengeVersion};
use openliveness_sim::{ChallengeSpec, Recording, SessionSpec, Species, VideoCodec};
use proptest::prelude::*;

struct Fixture {
    engine: Engine,
    evidence: Evidence,
}

/// The live session of seed 4: the challenge the server issued and what the camera recorded.
fn live_session() -> (IssuedChallenge, Recording) {
    let issued: IssuedChallenge = issue(
        ChallengeKind::FaceMovementAndLightChallenge,
        ChallengeVersion(2, 0, 0),
        640,
        480,
        &mut SeededRandom::new(4),
    );
    let spec = SessionSpec {
        species: Species::BonaFide,
        seed: 4,
        challenge: ChallengeSpec::from_server(&issued.server_challenge, 640, 480).unwrap(),
        world: Default::default(),
    };
    let recording = openliveness_sim::simulate(&spec).unwrap();
    (issued, recording)
}

/// One simulated live session, as the server would have kept it.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let (issued, recording) = live_session();
        let encoded = openliveness_sim::encode(&recording).unwrap();
        let evidence = openliveness_sim::evidence_of(&issued, &recording, &encoded).unwrap();
        assert_eq!(evidence.video, encoded.video);
        Fixture {
            engine: Engine::load_default().unwrap(),
            evidence,
        }
    })
}

#[test]
fn a_live_session_is_accepted_with_every_check_explained() {
    let fixture = fixture();
    let outcome = fixture.engine.analyze(&fixture.evidence, 2).unwrap();
    let report = &outcome.report;
    assert!(report.confidence >= 90.0, "{report:#?}");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, CHECK_NAMES);
    assert!(report.checks.iter().all(|c| !c.reason.is_empty()));
    assert!(outcome.reference_image.is_some());
    assert_eq!(outcome.audit_images.len(), 2);
}

/// The same session as Safari or a phone records it, H.264 in a fragmented MP4, is decided from
/// its bytes with every check explained (what it decides is the evaluation's business).
#[test]
fn a_live_session_recorded_as_h264_in_mp4_is_decided() {
    let (issued, recording) = live_session();
    let encoded = openliveness_sim::encode_as(&recording, VideoCodec::H264, 1_500_000).unwrap();
    let evidence = openliveness_sim::evidence_of(&issued, &recording, &encoded).unwrap();
    assert_eq!(evidence.video, encoded.video);
    let engine = Engine::load_default().unwrap();
    let report = engine.analyze(&evidence, 0).unwrap().report;
    assert!((0.0..=100.0).contains(&report.confidence), "{report:#?}");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(names, CHECK_NAMES);
    println!(
        "H.264 session: confidence {:.1}, deciding check {}",
        report.confidence, report.deciding_check
    );
}

#[test]
fn the_face_between_two_detections_is_placed_between_them() {
    let fixture = fixture();
    let engine = &fixture.engine;
    let observed =
        observe_bytes(&fixture.evidence.video, engine.detector(), &engine.options).unwrap();
    let frames = &observed.frames;
    // The detector ran on every fifth frame.
    let ran = frames.iter().filter(|f| f.faces.is_some()).count();
    assert!(
        ran * 5 >= frames.len() && ran * 5 < frames.len() + 5,
        "{ran}"
    );
    let found: Vec<usize> = (0..frames.len())
        .filter(|&i| {
            frames[i]
                .faces
                .as_ref()
                .is_some_and(|faces| !faces.is_empty())
        })
        .collect();
    let mut between = 0;
    for pair in found.windows(2) {
        let (a, b) = (&frames[pair[0]], &frames[pair[1]]);
        let (from, to) = (a.face.as_ref().unwrap(), b.face.as_ref().unwrap());
        assert_eq!(Some(from), a.faces.as_ref().unwrap().first());
        for frame in &frames[pair[0] + 1..pair[1]] {
            assert!(frame.faces.is_none() && frame.predicted);
            let w = ((frame.t_ms - a.t_ms) / (b.t_ms - a.t_ms)) as f32;
            let expected = from.lerp(to, w);
            let face = frame.face.as_ref().unwrap();
            for (got, want) in face.keypoints.iter().zip(&expected.keypoints) {
                assert!((got.x - want.x).abs() < 1e-3 && (got.y - want.y).abs() < 1e-3);
            }
            assert!((face.bounding_box.width - expected.bounding_box.width).abs() < 1e-3);
            assert!(frame.appearance.is_some() && frame.regions.is_some());
            between += 1;
        }
    }
    assert!(between * 2 > frames.len(), "{between} of {}", frames.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]

    #[test]
    fn the_decision_does_not_depend_on_how_the_video_was_chunked(
        cuts in proptest::collection::vec(1usize..2_000_000, 1..12)
    ) {
        let fixture = fixture();
        let video = &fixture.evidence.video;
        let options = fixture.engine.options.clone();
        let detector = openliveness_vision::BlazeFace::load_default(Default::default()).unwrap();
        let whole = observe_bytes(video, &detector, &options).unwrap();
        let mut offsets: Vec<usize> = cuts.iter().map(|c| c % video.len()).collect();
        offsets.sort_unstable();
        offsets.dedup();
        let (sender, receiver) = std::sync::mpsc::channel();
        let mut from = 0;
        for offset in offsets.into_iter().chain([video.len()]) {
            if offset > from {
                sender.send(video[from..offset].to_vec()).unwrap();
                from = offset;
            }
        }
        drop(sender);
        let chunked = observe_stream(receiver, &detector, &options).unwrap();
        let issued = Issued::from_issued(&fixture.evidence.challenge).unwrap();
        let claims = Claims::from_events(&fixture.evidence.events);
        let calibration = &fixture.engine.calibration;
        prop_assert_eq!(
            decide(&issued, &claims, &whole, calibration),
            decide(&issued, &claims, &chunked, calibration)
        );
    }
}
