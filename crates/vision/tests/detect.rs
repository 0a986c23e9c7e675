//! Face detection on real photographs and on videos made from one with FFmpeg.
#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use std::num::NonZeroU32;
use std::ops::ControlFlow;

use common::{Encoding, ASTRONAUT_FACE, MIN_IOU};
use openliveness_vision::decode::{self, DecodeOptions, DetectorView};
use openliveness_vision::detect::{Detection, Keypoint};
use openliveness_vision::track::{DeferredTracker, FaceSource, Tracker, TrackerConfig};
use openliveness_vision::{scale, BlazeFace, RgbImage};

fn detect_photo(photo: &RgbImage) -> Vec<Detection> {
    let view = scale::fit_within(photo, BlazeFace::INPUT_SIDE, BlazeFace::INPUT_SIDE).unwrap();
    common::detector()
        .detect(&view, photo.width(), photo.height())
        .unwrap()
}

/// The keypoints sit where a face has them: eyes above the nose above the mouth, the person's
/// right eye on the image's left, everything inside the box (ears at its edges).
fn check_face_layout(face: &Detection) {
    let b = face.bounding_box;
    let p = |k: Keypoint| face.keypoint(k);
    let slack = 0.1 * b.width;
    for k in Keypoint::ALL {
        let point = p(k);
        assert!(
            point.x >= b.left - slack
                && point.x <= b.right() + slack
                && point.y >= b.top - slack
                && point.y <= b.bottom() + slack,
            "{k:?} at {point:?} is outside {b:?}"
        );
    }
    assert!(p(Keypoint::RightEye).x < p(Keypoint::LeftEye).x);
    assert!(p(Keypoint::RightEarTragion).x < p(Keypoint::RightEye).x);
    assert!(p(Keypoint::LeftEarTragion).x > p(Keypoint::LeftEye).x);
    let eyes_y = (p(Keypoint::RightEye).y + p(Keypoint::LeftEye).y) / 2.0;
    assert!(eyes_y < p(Keypoint::NoseTip).y && p(Keypoint::NoseTip).y < p(Keypoint::Mouth).y);
    let nose_x = p(Keypoint::NoseTip).x;
    assert!(p(Keypoint::RightEye).x < nose_x && nose_x < p(Keypoint::LeftEye).x);
}

#[test]
fn finds_the_astronauts_face_in_the_photograph() {
    let photo = common::photo("astronaut.png");
    let faces = detect_photo(&photo);
    assert_eq!(faces.len(), 1, "{faces:#?}");
    let face = &faces[0];
    assert!(face.score > 0.8, "score {}", face.score);
    let iou = face.bounding_box.iou(&ASTRONAUT_FACE);
    assert!(
        iou >= MIN_IOU,
        "IoU {iou} of {:?} with {ASTRONAUT_FACE:?}",
        face.bounding_box
    );
    check_face_layout(face);
}

#[test]
fn finds_no_face_where_there_is_none() {
    assert_eq!(detect_photo(&common::photo("coffee.png")), vec![]);
    assert_eq!(
        detect_photo(&RgbImage::filled(640, 480, [128, 128, 128]).unwrap()),
        vec![]
    );
    assert_eq!(
        detect_photo(&RgbImage::filled(64, 48, [0, 0, 0]).unwrap()),
        vec![]
    );
    let mut random = common::Xorshift(7);
    let noise: Vec<u8> = (0..320 * 240 * 3).map(|_| random.next() as u8).collect();
    assert_eq!(
        detect_photo(&RgbImage::new(320, 240, noise).unwrap()),
        vec![]
    );
    // The astronaut's face cut out of the photograph: the rest of it has no face.
    let photo = common::photo("astronaut.png");
    let lower = RgbImage::new(512, 300, photo.data()[212 * 512 * 3..].to_vec()).unwrap();
    assert_eq!(detect_photo(&lower), vec![]);
}

#[test]
fn the_face_is_found_at_any_size_and_in_any_frame_shape() {
    let photo = common::photo("astronaut.png");
    for side in [200, 256, 1024] {
        let image = scale::resize(&photo, side, side).unwrap();
        let faces = detect_photo(&image);
        assert_eq!(faces.len(), 1, "{side}x{side}: {faces:#?}");
        let s = side as f32 / 512.0;
        let iou = faces[0]
            .bounding_box
            .iou(&ASTRONAUT_FACE.transformed(s, s, 0.0, 0.0));
        assert!(iou >= MIN_IOU, "{side}x{side}: IoU {iou}");
    }
    // Landscape and portrait frames (letterboxed by the detector) with the head in them.
    let head = head_and_shoulders(&photo);
    for (width, height, x, y) in [(400, 260, 170, 30), (260, 400, 20, 180)] {
        let mut frame = RgbImage::filled(width, height, [90, 90, 90]).unwrap();
        frame.paste(&head, x, y);
        let faces = detect_photo(&frame);
        assert_eq!(faces.len(), 1, "{width}x{height}: {faces:#?}");
        let (dx, dy) = (x as f32 - HEAD_LEFT as f32, y as f32 - HEAD_TOP as f32);
        let iou = faces[0]
            .bounding_box
            .iou(&ASTRONAUT_FACE.transformed(1.0, 1.0, dx, dy));
        assert!(iou >= MIN_IOU, "{width}x{height}: IoU {iou}");
    }
}

const HEAD_LEFT: u32 = 126;
const HEAD_TOP: u32 = 30;

/// The 200x200 square of the photograph around the astronaut's head.
fn head_and_shoulders(photo: &RgbImage) -> RgbImage {
    let (left, top) = (HEAD_LEFT as usize, HEAD_TOP as usize);
    let data = (top..top + 200)
        .flat_map(|y| photo.row(y as u32)[left * 3..(left + 200) * 3].to_vec())
        .collect();
    RgbImage::new(200, 200, data).unwrap()
}

/// Decodes a zoom/pan video and checks the detected box of every frame against where the face
/// was put.
fn check_video(encoding: Encoding) {
    let video = common::zoom_pan_video(encoding);
    let detector = common::detector();
    let mut checked = 0;
    let mut worst = 1.0f32;
    decode::decode_bytes(video, &DecodeOptions::default(), &mut |frame| {
        let view = frame.detector_view.as_ref().unwrap();
        let faces = detector
            .detect(view, frame.decoded_width, frame.decoded_height)
            .unwrap();
        assert_eq!(
            faces.len(),
            1,
            "{encoding:?} frame {}: {faces:#?}",
            frame.index
        );
        let expected = common::photo_box_in_frame(&ASTRONAUT_FACE, frame.index);
        let iou = faces[0].bounding_box.iou(&expected);
        assert!(
            iou >= MIN_IOU,
            "{encoding:?} frame {}: IoU {iou} of {:?} with {expected:?}",
            frame.index,
            faces[0].bounding_box
        );
        check_face_layout(&faces[0]);
        worst = worst.min(iou);
        checked += 1;
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(checked, common::FRAMES, "{encoding:?}");
    println!("{encoding:?}: worst IoU {worst:.3} over {checked} frames");
}

#[test]
fn the_face_is_found_in_every_frame_of_a_vp8_webm() {
    check_video(Encoding::WebmVp8);
}

#[test]
fn the_face_is_found_in_every_frame_of_a_vp9_webm() {
    check_video(Encoding::WebmVp9);
}

#[test]
fn the_face_is_found_in_every_frame_of_a_fragmented_mp4() {
    check_video(Encoding::FragmentedMp4);
}

#[test]
fn the_face_is_found_in_every_frame_of_a_whole_mp4() {
    check_video(Encoding::PlainMp4);
}

#[test]
fn a_track_on_every_third_frame_follows_the_face() {
    let video = common::zoom_pan_video(Encoding::WebmVp8);
    let detector = common::detector();
    let every = NonZeroU32::new(3).unwrap();
    let mut tracker = Tracker::new(TrackerConfig {
        detect_every: every,
        ..TrackerConfig::default()
    });
    let options = DecodeOptions {
        detector_view: Some(DetectorView::every(every)),
        ..DecodeOptions::default()
    };
    decode::decode_bytes(video, &options, &mut |frame| {
        assert_eq!(
            frame.detector_view.is_some(),
            tracker.should_detect(frame.index)
        );
        let detections = tracker.should_detect(frame.index).then(|| {
            detector
                .detect(
                    frame.detector_view.as_ref().unwrap(),
                    frame.decoded_width,
                    frame.decoded_height,
                )
                .unwrap()
        });
        tracker.push(frame.index, frame.timestamp_us, detections);
        ControlFlow::Continue(())
    })
    .unwrap();
    let track = tracker.finish();
    assert_eq!(track.frames.len(), common::FRAMES as usize);
    assert!(
        track.gaps.is_empty() && track.jumps.is_empty() && track.extra_faces.is_empty(),
        "{track:#?}"
    );
    for frame in &track.frames {
        let face = frame.face.as_ref().unwrap();
        assert_eq!(face.source == FaceSource::Detected, frame.frame % 3 == 0);
        // Placed boxes are interpolated between detections: they follow the face too (the last
        // two frames come after the last detection and are predicted along its motion).
        let expected = common::photo_box_in_frame(&ASTRONAUT_FACE, frame.frame);
        let iou = face.bounding_box.iou(&expected);
        assert!(
            iou >= 0.6,
            "frame {} ({:?}): IoU {iou}",
            frame.frame,
            face.source
        );
    }
}

#[test]
fn two_faces_side_by_side_are_two_detections() {
    let photo = common::photo("astronaut.png");
    let mut pair = RgbImage::filled(400, 200, [200, 200, 200]).unwrap();
    let head = head_and_shoulders(&photo);
    pair.paste(&head, 0, 0);
    pair.paste(&head, 200, 0);
    let faces = detect_photo(&pair);
    assert_eq!(faces.len(), 2, "{faces:#?}");
    let mut lefts: Vec<f32> = faces.iter().map(|f| f.bounding_box.left).collect();
    lefts.sort_by(f32::total_cmp);
    assert!((lefts[1] - lefts[0] - 200.0).abs() < 8.0, "{lefts:?}");
}

#[test]
fn a_wrong_model_file_is_refused_with_the_setup_hint() {
    let directory = tempfile::tempdir().unwrap();
    let fake = directory.path().join("model.onnx");
    std::fs::write(&fake, b"not a model").unwrap();
    let error = BlazeFace::load(&fake, Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("sha256") && error.contains("scripts/setup-vision.sh"),
        "{error}"
    );
    let error = BlazeFace::load(&directory.path().join("missing.onnx"), Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("missing") && error.contains("scripts/setup-vision.sh"),
        "{error}"
    );
}

/// The ONNX Runtime backend finds the same faces as tract (run with
/// `--features onnxruntime` after `scripts/setup-vision.sh --onnxruntime`).
#[cfg(feature = "onnxruntime")]
#[test]
fn onnxruntime_and_tract_agree() {
    use openliveness_vision::detect::{Backend, DetectorConfig};
    let library = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models/libonnxruntime.so.1.31.1");
    assert!(
        library.is_file(),
        "{} is missing: run scripts/setup-vision.sh --onnxruntime",
        library.display()
    );
    let onnxruntime = BlazeFace::load_default(DetectorConfig {
        backend: Backend::OnnxRuntime { library },
        ..DetectorConfig::default()
    })
    .unwrap();
    let photo = common::photo("astronaut.png");
    let view = scale::fit_within(&photo, 128, 128).unwrap();
    let by_tract = common::detector().detect(&view, 512, 512).unwrap();
    let by_onnxruntime = onnxruntime.detect(&view, 512, 512).unwrap();
    assert_eq!(by_tract.len(), 1);
    assert_eq!(by_onnxruntime.len(), 1);
    assert!((by_tract[0].score - by_onnxruntime[0].score).abs() < 1e-3);
    assert!(
        by_tract[0]
            .bounding_box
            .iou(&by_onnxruntime[0].bounding_box)
            > 0.99
    );
    let coffee = common::photo("coffee.png");
    let view = scale::fit_within(&coffee, 128, 128).unwrap();
    assert!(onnxruntime
        .detect(&view, coffee.width(), coffee.height())
        .unwrap()
        .is_empty());
}

/// Deferred tracking (views kept while decoding, detection at the end) gives the same track as
/// detecting in the decoder's callback.
#[test]
fn deferred_tracking_gives_the_same_track() {
    let video = common::zoom_pan_video(Encoding::FragmentedMp4);
    let detector = common::detector();
    let config = TrackerConfig {
        detect_every: NonZeroU32::new(3).unwrap(),
        ..TrackerConfig::default()
    };
    let mut deferred = DeferredTracker::new(config);
    let options = deferred.decode_options(DecodeOptions::default());
    let mut interleaved = Tracker::new(config);
    decode::decode_bytes(video, &options, &mut |mut frame| {
        let detections = frame.detector_view.as_ref().map(|view| {
            detector
                .detect(view, frame.decoded_width, frame.decoded_height)
                .unwrap()
        });
        interleaved.push(frame.index, frame.timestamp_us, detections);
        deferred.push(&mut frame);
        ControlFlow::Continue(())
    })
    .unwrap();
    let deferred = deferred.finish(detector).unwrap();
    assert_eq!(deferred, interleaved.finish());
    assert_eq!(deferred.frames.len(), common::FRAMES as usize);
    assert_eq!(deferred.coverage(), 1.0);
}
