//! The simulator: deterministic, seen by the face detector where the face was rendered, and with
//! the perspective signature of a 3D head (and not of a print) in its rendered geometry.
//!
//! Needs the face photograph and model (`scripts/setup-vision.sh`).

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

use openliveness_sim::rng::Rng;
use openliveness_sim::{
    client_messages, encode, encode_as, simulate, ChallengeSpec, Ranges, Recording, SessionSpec,
    Species, VideoCodec, World,
};
use openliveness_vision::decode::{self, decode_all, DecodeOptions};
use openliveness_vision::BlazeFace;
use openliveness_vision::Container;

fn spec(species: Species, seed: u64, width: u32, height: u32) -> SessionSpec {
    SessionSpec {
        species,
        seed,
        challenge: ChallengeSpec::draw(width, height, true, &mut Rng::new(seed)),
        world: World::Studio,
    }
}

#[test]
fn the_same_seed_gives_the_same_video_and_events_byte_for_byte() {
    let spec = spec(Species::BonaFide, 42, 320, 240);
    let first = simulate(&spec).unwrap();
    let second = simulate(&spec).unwrap();
    let (a, b) = (encode(&first).unwrap(), encode(&second).unwrap());
    assert_eq!(a.video, b.video);
    assert_eq!(a.chunks, b.chunks);
    let id = "00000000-0000-4000-8000-000000000000";
    assert_eq!(
        serde_json::to_string(&client_messages(&first, &a, 1, id)).unwrap(),
        serde_json::to_string(&client_messages(&second, &b, 1, id)).unwrap()
    );
    // Another seed gives another session.
    let other = encode(&simulate(&self::spec(Species::BonaFide, 43, 320, 240)).unwrap()).unwrap();
    assert_ne!(a.video, other.video);
}

#[test]
fn a_session_encoded_as_h264_decodes_to_every_frame_in_a_chunk_a_second() {
    let recording = simulate(&spec(Species::BonaFide, 5, 320, 240)).unwrap();
    let encoded = encode_as(&recording, VideoCodec::H264, 1_500_000).unwrap();
    assert_eq!(&encoded.video[4..8], b"ftyp");
    let (frames, summary) = decode_all(&encoded.video, &DecodeOptions::default()).unwrap();
    assert_eq!(
        (summary.container, summary.codec),
        (Container::Mp4, decode::VideoCodec::H264)
    );
    assert_eq!(frames.len(), recording.frames.len());
    for (frame, &ms) in frames.iter().zip(&recording.frame_ms) {
        assert_eq!(frame.timestamp_us, Some(ms as i64 * 1000));
        assert_eq!((frame.decoded_width, frame.decoded_height), (320, 240));
    }
    // A fragment, and so a chunk, for every second of video; each chunk handed out a second
    // after the one before, the last just after the video ends.
    let (first, last) = (recording.frame_ms[0], *recording.frame_ms.last().unwrap());
    let chunks = &encoded.chunks;
    assert_eq!(chunks.len() as u64, (last - first) / 1000 + 1);
    let pieces: Vec<u8> = chunks.iter().flat_map(|(_, bytes)| bytes.clone()).collect();
    assert_eq!(pieces, encoded.video);
    let end = recording.timeline.video_end_ms;
    for (index, (at_ms, bytes)) in chunks.iter().enumerate() {
        let expected = if index + 1 == chunks.len() {
            end + 5.0
        } else {
            (1000.0 * (index + 1) as f64).min(end)
        };
        assert_eq!(*at_ms, expected);
        if index > 0 {
            assert_eq!(&bytes[4..8], b"moof");
        }
    }
    // VP8 at 1 Mbit/s is what `encode` gives.
    assert_eq!(
        encode_as(&recording, VideoCodec::Vp8, 1_000_000).unwrap(),
        encode(&recording).unwrap()
    );
}

#[test]
fn video_codecs_are_named_as_the_room_axis_and_serialised() {
    for codec in VideoCodec::ALL {
        assert_eq!(VideoCodec::parse(codec.name()), Some(codec));
        assert_eq!(
            serde_json::to_value(codec).unwrap(),
            serde_json::Value::from(codec.name())
        );
    }
    assert_eq!(VideoCodec::parse("h265"), None);
}

/// For every ninth frame of the recording, encoded and decoded again: the detector's first face
/// against the rendered one, as its centre's distance and its width over the rendered box's side
/// (`None`: no face found).
fn found_against_rendered(
    detector: &BlazeFace,
    recording: &Recording,
) -> Vec<(usize, Option<(f64, f64)>)> {
    let (width, height) = (recording.challenge.width, recording.challenge.height);
    let encoded = encode(recording).unwrap();
    let (frames, _) = decode_all(&encoded.video, &DecodeOptions::default()).unwrap();
    assert_eq!(frames.len(), recording.frames.len());
    frames
        .iter()
        .enumerate()
        .step_by(9)
        .map(|(index, frame)| {
            let faces = detector
                .detect(frame.detector_view.as_ref().unwrap(), width, height)
                .unwrap();
            let [left, top, side, _] = recording.truth[index].last().unwrap().bounding_box;
            let found = faces.first().map(|face| {
                let b = &face.bounding_box;
                let (cx, cy) = (
                    f64::from(b.left + b.width / 2.0),
                    f64::from(b.top + b.height / 2.0),
                );
                let offset =
                    ((cx - (left + side / 2.0)).powi(2) + (cy - (top + side / 2.0)).powi(2)).sqrt();
                (offset / side, f64::from(b.width) / side)
            });
            (index, found)
        })
        .collect()
}

#[test]
fn the_detector_finds_the_rendered_face_where_it_was_rendered() {
    let detector = BlazeFace::load_default(Default::default()).unwrap();
    for (seed, (width, height)) in [
        (1, (640, 480)),
        (2, (640, 480)),
        (3, (480, 360)),
        (4, (1280, 720)),
    ] {
        let recording = simulate(&spec(Species::BonaFide, seed, width, height)).unwrap();
        let found = found_against_rendered(&detector, &recording);
        for (index, face) in &found {
            let (offset, ratio) =
                face.unwrap_or_else(|| panic!("seed {seed}: no face on frame {index}"));
            assert!(
                offset < 0.2,
                "seed {seed} frame {index}: centre off by {offset:.2} of the side"
            );
            assert!(
                (0.75..1.3).contains(&ratio),
                "seed {seed} frame {index}: width ratio {ratio:.2}"
            );
        }
        assert!(found.len() >= 15);
    }
}

/// The ear-to-ear distance over the eye distance at the start and the end of the approach, from
/// the rendered keypoints.
fn contour_ratio_change(species: Species, seed: u64) -> (f64, f64) {
    let recording = simulate(&spec(species, seed, 640, 480)).unwrap();
    let ratio = |frame: usize| {
        let k = recording.truth[frame].last().unwrap().keypoints;
        let d = |a: [f64; 2], b: [f64; 2]| ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        (d(k[4], k[5]) / d(k[0], k[1]), d(k[0], k[2]) / d(k[0], k[1]))
    };
    let last = recording.frames.len() - 1;
    let (far, near) = (ratio(0), ratio(last));
    (near.0 / far.0, near.1 / far.1)
}

#[test]
fn a_rendered_head_shows_perspective_and_a_printed_photo_does_not() {
    for seed in [5, 6, 7] {
        // A head: the ears (behind) grow slower than the eye distance as it comes closer.
        let (contour, _) = contour_ratio_change(Species::BonaFide, seed);
        assert!(
            contour < 0.96,
            "seed {seed}: head contour ratio {contour:.3}"
        );
        // A print: a plane keeps its proportions.
        let (contour, nose) = contour_ratio_change(Species::PrintedPhoto, seed);
        assert!(
            (contour - 1.0).abs() < 0.005,
            "seed {seed}: print contour ratio {contour:.4}"
        );
        assert!(
            (nose - 1.0).abs() < 0.01,
            "seed {seed}: print nose ratio {nose:.4}"
        );
    }
}

fn room_spec(species: Species, seed: u64, world: &World) -> SessionSpec {
    let room = world.room_conditions(seed).unwrap();
    SessionSpec {
        species,
        seed,
        challenge: ChallengeSpec::draw(room.width, room.height, true, &mut Rng::new(seed)),
        world: world.clone(),
    }
}

fn fixed(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(axis, value)| ((*axis).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn the_room_gives_the_same_video_and_events_per_seed_for_a_sample_of_axes() {
    let id = "00000000-0000-4000-8000-000000000000";
    let samples = [
        (
            Species::BonaFide,
            Ranges::Normal,
            fixed(&[
                ("resolution", "320x240"),
                ("glasses", "glasses"),
                ("beard", "full"),
                ("backdrop", "window"),
            ]),
        ),
        (
            Species::BonaFide,
            Ranges::Normal,
            fixed(&[
                ("resolution", "240x320"),
                ("room_lux", "20"),
                ("controls", "locked"),
                ("backdrop", "person"),
                ("start", "too-close"),
                ("codec", "h264"),
            ]),
        ),
        (
            Species::BonaFide,
            Ranges::Stress,
            fixed(&[
                ("resolution", "320x240"),
                ("fps", "12"),
                ("device", "monitor"),
                ("backdrop", "poster"),
                ("hand_shake_deg", "0.5"),
            ]),
        ),
        (
            Species::CutOutMask,
            Ranges::Normal,
            fixed(&[("resolution", "320x240"), ("backdrop", "furniture")]),
        ),
    ];
    for (species, ranges, fixes) in samples {
        let world = World::room(ranges, fixes.clone()).unwrap();
        let spec = room_spec(species, 11, &world);
        let (first, second) = (simulate(&spec).unwrap(), simulate(&spec).unwrap());
        let room = first.room.clone().unwrap();
        assert_eq!(first.room, second.room);
        for (axis, value) in &fixes {
            let recorded = room.axes(30.0, 0.4);
            let found = recorded.iter().find(|a| a.axis == axis).unwrap();
            assert!(found.value.starts_with(value.as_str()), "{axis}: {found:?}");
        }
        let (a, b) = (encode(&first).unwrap(), encode(&second).unwrap());
        assert_eq!(a.video, b.video, "{fixes:?}");
        assert_eq!(
            serde_json::to_string(&client_messages(&first, &a, 1, id)).unwrap(),
            serde_json::to_string(&client_messages(&second, &b, 1, id)).unwrap()
        );
    }
}

#[test]
fn the_detector_finds_the_whole_person_s_face_where_it_was_rendered() {
    let detector = BlazeFace::load_default(Default::default()).unwrap();
    let world = |resolution: &str| {
        World::room(Ranges::Normal, fixed(&[("resolution", resolution)])).unwrap()
    };
    for (seed, world) in [
        (21, world("640x480")),
        (22, world("480x640")),
        (23, world("640x480")),
    ] {
        let recording = simulate(&room_spec(Species::BonaFide, seed, &world)).unwrap();
        let faces = found_against_rendered(&detector, &recording);
        let checked = faces.len();
        let found = faces
            .iter()
            .filter(|(_, face)| face.is_some_and(|(offset, _)| offset < 0.25))
            .count();
        assert!(
            found * 10 >= checked * 9,
            "seed {seed}: the face found where rendered on {found} of {checked} frames"
        );
    }
}

/// Mean absolute difference of two frames over a block of columns and rows.
fn block_difference(
    a: &openliveness_vision::RgbImage,
    b: &openliveness_vision::RgbImage,
    columns: std::ops::Range<u32>,
    rows: std::ops::Range<u32>,
) -> f64 {
    let (mut sum, mut count) = (0.0, 0.0);
    for y in rows {
        for x in columns.clone() {
            let (p, q) = (a.pixel(x, y), b.pixel(x, y));
            sum += (0..3).map(|k| f64::from(p[k].abs_diff(q[k]))).sum::<f64>();
            count += 3.0;
        }
    }
    sum / count
}

#[test]
fn a_replay_in_the_room_is_read_out_row_by_row_by_the_same_camera() {
    // The same replay with its rows read out at once and over 30 ms, in a dim room before a
    // near wall that the screen lights, the camera's controls locked (they settle before the
    // colours, so the frames differ only where the light does).
    let render = |readout: &str| {
        let world = World::room(
            Ranges::Normal,
            fixed(&[
                ("resolution", "320x240"),
                ("readout_ms", readout),
                ("controls", "locked"),
                ("room_lux", "30"),
                ("device", "monitor"),
                ("wall_behind_m", "0.4"),
                ("backdrop", "plain"),
            ]),
        )
        .unwrap();
        simulate(&room_spec(Species::ScreenReplay, 6, &world)).unwrap()
    };
    let (at_once, rolled) = (render("0"), render("30"));
    assert_eq!(at_once.frames.len(), rolled.frames.len());
    // The wall beside the replaying screen (its leftmost columns): the rows read first are
    // the same in both, the rows read last show the screen's next colour when it changed
    // during the readout. (Read out at once, the whole wall changes with the frame.)
    let (mut top, mut bottom) = (0.0f64, 0.0f64);
    for (a, b) in at_once.frames.iter().zip(&rolled.frames) {
        top = top.max(block_difference(a, b, 0..12, 0..20));
        bottom = bottom.max(block_difference(a, b, 0..12, 200..240));
    }
    assert!(top < 0.2, "the first rows differ by {top}");
    assert!(bottom > 3.0, "the last rows differ by only {bottom}");
}
