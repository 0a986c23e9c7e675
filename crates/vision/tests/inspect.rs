//! What `openliveness inspect` prints and draws.
#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use std::num::NonZeroU32;

use common::Encoding;
use openliveness_vision::inspect::{inspect, ContactSheetOptions, InspectOptions};
use openliveness_vision::RgbImage;

#[test]
fn prints_a_json_line_per_frame_and_draws_the_contact_sheet() {
    let directory = tempfile::tempdir().unwrap();
    let sheet_path = directory.path().join("sheet.png");
    let options = InspectOptions {
        detect_every: NonZeroU32::new(3).unwrap(),
        contact_sheet: Some(ContactSheetOptions {
            max_frames: 6,
            columns: 3,
            thumbnail_width: 160,
            ..ContactSheetOptions::new(sheet_path.clone())
        }),
        ..InspectOptions::default()
    };
    let mut out = Vec::new();
    let summary = inspect(
        common::zoom_pan_video(Encoding::WebmVp9),
        common::detector(),
        &options,
        &mut out,
    )
    .unwrap();
    assert_eq!(summary.decode.frames, common::FRAMES);
    assert_eq!(summary.coverage, 1.0);

    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), common::FRAMES as usize + 1);
    for (n, line) in lines[..lines.len() - 1].iter().enumerate() {
        assert_eq!(line["frame"], n);
        assert_eq!(
            (line["width"].as_u64(), line["height"].as_u64()),
            (Some(640), Some(480))
        );
        let detected = n % 3 == 0;
        assert_eq!(line["detected"], detected);
        let faces = line["faces"].as_array().unwrap();
        assert_eq!(faces.len(), usize::from(detected), "frame {n}");
        if detected {
            let face = &faces[0];
            assert!(face["score"].as_f64().unwrap() > 0.5);
            assert_eq!(face["keypoints"].as_array().unwrap().len(), 6);
            assert!(face["bounding_box"]["width"].as_f64().unwrap() > 100.0);
        }
    }
    let last = &lines[lines.len() - 1]["summary"];
    assert_eq!(last["decode"]["codec"], "vp9");
    assert_eq!(last["gaps"].as_array().unwrap().len(), 0);

    // 6 frames in 3 columns of 160x120 thumbnails, 4-pixel margins, each with a green box.
    let sheet = RgbImage::open_png(&sheet_path).unwrap();
    assert_eq!((sheet.width(), sheet.height()), (3 * 164 + 4, 2 * 124 + 4));
    let green = sheet
        .data()
        .chunks_exact(3)
        .filter(|p| p == &[0, 255, 0])
        .count();
    assert!(green > 100, "{green} green pixels");
}

#[test]
fn a_broken_video_is_an_error_not_a_panic() {
    let mut out = Vec::new();
    let error = inspect(
        b"not a video",
        common::detector(),
        &InspectOptions::default(),
        &mut out,
    )
    .unwrap_err();
    assert!(error.to_string().contains("not a WebM or MP4"), "{error}");
}
