//! `openliveness inspect VIDEO`: what the detector saw, for a person to check.
//!
//! Prints one JSON object per frame (JSON lines):
//! `{"frame":0,"timestamp_us":0,"width":640,"height":480,"detected":true,"faces":[…]}`,
//! where `detected` says whether the detector ran on the frame and each face is
//! `{"score":…,"bounding_box":{"left":…,"top":…,"width":…,"height":…},"keypoints":[{"x":…,"y":…},…]}`
//! in frame pixels, keypoints in BlazeFace's order (right eye, left eye, nose tip, mouth, right
//! ear tragion, left ear tragion); then one `{"summary":…}` line with the decoding summary and
//! the track's gaps, extra faces and jumps.
//! Optionally draws a contact sheet (PNG): frames spread over the video in reading order, each
//! with its face box (green: detected, yellow: placed between detections or predicted after
//! them, as the engine places it: [`crate::track`]) and keypoints, and a red border where no face
//! was found.

use std::io::Write;
use std::num::NonZeroU32;
use std::ops::ControlFlow;
use std::path::PathBuf;

use serde::Serialize;

use crate::decode::{self, DecodeError, DecodeOptions, DecodeSummary, DetectorView, ImageOutput};
use crate::detect::{BlazeFace, DetectError, Detection, ModelError};
use crate::image::{ImageError, RgbImage};
use crate::track::{FaceSource, Track, Tracker, TrackerConfig};

#[derive(Debug, Clone)]
pub struct InspectOptions {
    pub decode: DecodeOptions,
    /// Run the detector on every n-th frame (the tracker places the face in between).
    pub detect_every: NonZeroU32,
    pub contact_sheet: Option<ContactSheetOptions>,
}

impl Default for InspectOptions {
    fn default() -> Self {
        Self {
            decode: DecodeOptions::default(),
            detect_every: NonZeroU32::MIN,
            contact_sheet: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ContactSheetOptions {
    pub path: PathBuf,
    /// At most this many frames, spread evenly over the video.
    pub max_frames: u32,
    pub columns: u32,
    /// Width of each thumbnail in pixels.
    pub thumbnail_width: u32,
}

impl ContactSheetOptions {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            max_frames: 24,
            columns: 6,
            thumbnail_width: 240,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("cannot decode the video: {0}")]
    Decode(#[from] DecodeError),
    #[error("detection failed: {0}")]
    Detect(#[from] DetectError),
    #[error("cannot write the contact sheet: {0}")]
    ContactSheet(#[from] ImageError),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

#[derive(Serialize)]
struct FrameLine<'a> {
    frame: u32,
    timestamp_us: Option<i64>,
    width: u32,
    height: u32,
    detected: bool,
    faces: &'a [Detection],
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectSummary {
    pub decode: DecodeSummary,
    /// Frames with the face (detected, or placed while the detector's latest run found it) over
    /// all frames.
    pub coverage: f32,
    pub gaps: Vec<crate::track::Gap>,
    pub extra_face_frames: Vec<u32>,
    pub jumps: Vec<crate::track::Jump>,
}

/// Decodes `video`, detects and tracks the face, writes the JSON lines to `out` and the contact
/// sheet if asked for; returns the summary (also written as the last line).
pub fn inspect(
    video: &[u8],
    detector: &BlazeFace,
    options: &InspectOptions,
    out: &mut dyn Write,
) -> Result<InspectSummary, InspectError> {
    let mut tracker = Tracker::new(TrackerConfig {
        detect_every: options.detect_every,
        ..TrackerConfig::default()
    });
    let mut sheet = options
        .contact_sheet
        .as_ref()
        .map(|o| Thumbnails::new(o.max_frames));
    let mut decode_options = options.decode.clone();
    decode_options.detector_view = Some(DetectorView::every(options.detect_every));
    if sheet.is_none() {
        decode_options.image = ImageOutput::Omitted;
    }
    let mut failure: Option<InspectError> = None;
    let result = decode::decode_bytes(video, &decode_options, &mut |frame| {
        let mut step = || -> Result<(), InspectError> {
            let detections = match (&frame.detector_view, tracker.should_detect(frame.index)) {
                (Some(view), true) => {
                    Some(detector.detect(view, frame.decoded_width, frame.decoded_height)?)
                }
                _ => None,
            };
            serde_json::to_writer(
                &mut *out,
                &FrameLine {
                    frame: frame.index,
                    timestamp_us: frame.timestamp_us,
                    width: frame.decoded_width,
                    height: frame.decoded_height,
                    detected: detections.is_some(),
                    faces: detections.as_deref().unwrap_or(&[]),
                },
            )
            .map_err(std::io::Error::from)?;
            out.write_all(b"\n")?;
            tracker.push(frame.index, frame.timestamp_us, detections);
            if let (Some(sheet), Some(image)) = (sheet.as_mut(), &frame.image) {
                sheet.offer(frame.index, image);
            }
            Ok(())
        };
        match step() {
            Ok(()) => ControlFlow::Continue(()),
            Err(error) => {
                failure = Some(error);
                ControlFlow::Break(())
            }
        }
    });
    if let Some(error) = failure {
        return Err(error);
    }
    let summary = result?;
    let track = tracker.finish();
    if let (Some(sheet), Some(sheet_options)) = (sheet, &options.contact_sheet) {
        let image = sheet.draw(&track, sheet_options)?;
        let file = std::fs::File::create(&sheet_options.path)?;
        image.write_png(std::io::BufWriter::new(file))?;
    }
    let summary = InspectSummary {
        decode: summary,
        coverage: track.coverage(),
        gaps: track.gaps.clone(),
        extra_face_frames: track.extra_faces.iter().map(|e| e.frame).collect(),
        jumps: track.jumps.clone(),
    };
    #[derive(Serialize)]
    struct SummaryLine<'a> {
        summary: &'a InspectSummary,
    }
    serde_json::to_writer(&mut *out, &SummaryLine { summary: &summary })
        .map_err(std::io::Error::from)?;
    out.write_all(b"\n")?;
    Ok(summary)
}

/// Frames kept for the contact sheet: every `stride`-th, the stride doubling whenever more than
/// twice the wanted number are kept, so memory stays bounded however long the video is.
struct Thumbnails {
    wanted: u32,
    stride: u32,
    kept: Vec<(u32, RgbImage)>,
}

impl Thumbnails {
    fn new(wanted: u32) -> Self {
        Self {
            wanted: wanted.max(1),
            stride: 1,
            kept: Vec::new(),
        }
    }

    fn offer(&mut self, frame: u32, image: &RgbImage) {
        if !frame.is_multiple_of(self.stride) {
            return;
        }
        self.kept.push((frame, image.clone()));
        if self.kept.len() as u32 > 2 * self.wanted {
            self.stride *= 2;
            let stride = self.stride;
            self.kept.retain(|(f, _)| f.is_multiple_of(stride));
        }
    }

    fn draw(self, track: &Track, options: &ContactSheetOptions) -> Result<RgbImage, InspectError> {
        let count = self.kept.len() as u32;
        let step = count.div_ceil(self.wanted).max(1);
        let chosen: Vec<&(u32, RgbImage)> = self.kept.iter().step_by(step as usize).collect();
        let Some((_, first)) = chosen.first() else {
            return Ok(RgbImage::filled(1, 1, [0, 0, 0])?);
        };
        let width = options.thumbnail_width.max(16);
        let height =
            (u64::from(width) * u64::from(first.height()) / u64::from(first.width())).max(1) as u32;
        let columns = options.columns.max(1).min(chosen.len() as u32);
        let rows = (chosen.len() as u32).div_ceil(columns);
        let margin = 4;
        let mut sheet = RgbImage::filled(
            columns * (width + margin) + margin,
            rows * (height + margin) + margin,
            [32, 32, 32],
        )?;
        for (i, (frame, image)) in chosen.iter().enumerate() {
            let mut thumbnail = crate::scale::resize(image, width, height)?;
            let (sx, sy) = (
                width as f32 / image.width() as f32,
                height as f32 / image.height() as f32,
            );
            let face = track
                .frames
                .iter()
                .find(|f| f.frame == *frame)
                .and_then(|f| f.face.as_ref());
            match face {
                Some(face) => {
                    let colour = match face.source {
                        FaceSource::Detected => [0, 255, 0],
                        FaceSource::Interpolated | FaceSource::Predicted => [255, 220, 0],
                    };
                    let b = face.bounding_box.transformed(sx, sy, 0.0, 0.0);
                    thumbnail.draw_rectangle((b.left, b.top, b.right(), b.bottom()), 2, colour);
                    let keypoint_colours = [
                        [255, 0, 0],
                        [0, 128, 255],
                        [255, 0, 255],
                        [0, 255, 255],
                        [255, 128, 0],
                        [128, 0, 255],
                    ];
                    for (point, colour) in face.keypoints.iter().zip(keypoint_colours) {
                        thumbnail.draw_disc((point.x * sx, point.y * sy), 2.0, colour);
                    }
                }
                None => thumbnail.draw_rectangle(
                    (0.0, 0.0, (width - 1) as f32, (height - 1) as f32),
                    3,
                    [255, 0, 0],
                ),
            }
            let (column, row) = (i as u32 % columns, i as u32 / columns);
            sheet.paste(
                &thumbnail,
                margin + column * (width + margin),
                margin + row * (height + margin),
            );
        }
        Ok(sheet)
    }
}
