//! One face followed over a video: detections linked over time, with the gaps (frames without
//! the face), the extra faces and the jumps (the face reappearing somewhere it could not have
//! moved to) reported for the analysis to judge.
//!
//! The detector may run on every frame or on a stride ([`TrackerConfig::detect_every`]); the
//! frames in between carry the face's box: while the video streams, the last detected box; once
//! the track is finished, the box interpolated between the detections on either side.
//! Pure: detections and timestamps in, a [`Track`] out.

use std::num::NonZeroU32;

use serde::Serialize;

use crate::detect::{BoundingBox, Detection, Point};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Run the detector on frames 0, n, 2n, … (1: every frame).
    pub detect_every: NonZeroU32,
    /// A detection continues the track when its box overlaps the track's last box by at least
    /// this IoU, …
    pub min_link_iou: f32,
    /// … or when its centre moved by at most this many widths of the last box.
    pub max_link_shift: f32,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            detect_every: NonZeroU32::MIN,
            min_link_iou: 0.2,
            max_link_shift: 0.5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceSource {
    /// The detector found it in this frame.
    Detected,
    /// Carried from the detections around it (the detector did not run on this frame).
    Carried,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackedFace {
    pub bounding_box: BoundingBox,
    pub keypoints: [Point; 6],
    /// The detector's score; for a carried face, that of the detection it was carried from.
    pub score: f32,
    pub source: FaceSource,
}

impl TrackedFace {
    fn detected(detection: &Detection) -> Self {
        Self {
            bounding_box: detection.bounding_box,
            keypoints: detection.keypoints,
            score: detection.score,
            source: FaceSource::Detected,
        }
    }

    fn detection(&self) -> Detection {
        Detection {
            score: self.score,
            bounding_box: self.bounding_box,
            keypoints: self.keypoints,
        }
    }

    fn carried(&self) -> Self {
        Self {
            source: FaceSource::Carried,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackFrame {
    pub frame: u32,
    pub timestamp_us: Option<i64>,
    /// Whether the detector ran on this frame.
    pub detected: bool,
    pub face: Option<TrackedFace>,
}

/// A run of frames without the face.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gap {
    pub first_frame: u32,
    pub last_frame: u32,
    pub start_us: Option<i64>,
    pub end_us: Option<i64>,
}

/// A frame where the detector found more than one face: the ones that are not the tracked face.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtraFaces {
    pub frame: u32,
    pub faces: Vec<Detection>,
}

/// The tracked face found where it could not have moved to since it was last seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Jump {
    /// The frame it was last seen in, and where.
    pub from_frame: u32,
    pub from: BoundingBox,
    pub to_frame: u32,
    pub to: BoundingBox,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Track {
    /// One entry per frame pushed, in order.
    pub frames: Vec<TrackFrame>,
    pub gaps: Vec<Gap>,
    pub extra_faces: Vec<ExtraFaces>,
    pub jumps: Vec<Jump>,
}

impl Track {
    /// Frames with the face, detected or carried, over all frames.
    pub fn coverage(&self) -> f32 {
        if self.frames.is_empty() {
            return 0.0;
        }
        let with_face = self.frames.iter().filter(|f| f.face.is_some()).count();
        with_face as f32 / self.frames.len() as f32
    }
}

/// Builds a [`Track`] frame by frame.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    frames: Vec<TrackFrame>,
    extra_faces: Vec<ExtraFaces>,
    jumps: Vec<Jump>,
    /// The last frame the detector found the face in, and the face.
    last_seen: Option<(u32, TrackedFace)>,
    /// Whether the last detection run found the face (faces are carried only then).
    last_run_found: bool,
    /// Frames (indices into `frames`) carried since the last detection, to interpolate.
    carried_since_detection: Vec<usize>,
    /// Carried runs closed by a linked detection: (first detected index, carried indices, next).
    to_interpolate: Vec<(usize, Vec<usize>, usize)>,
    last_detected_index: Option<usize>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            frames: Vec::new(),
            extra_faces: Vec::new(),
            jumps: Vec::new(),
            last_seen: None,
            last_run_found: false,
            carried_since_detection: Vec::new(),
            to_interpolate: Vec::new(),
            last_detected_index: None,
        }
    }

    /// Whether the detector should run on this frame (the stride, counted from frame 0).
    pub fn should_detect(&self, frame: u32) -> bool {
        frame.is_multiple_of(self.config.detect_every.get())
    }

    /// The face as known now (the last detected box while between detections).
    pub fn current(&self) -> Option<&TrackedFace> {
        self.frames.last().and_then(|f| f.face.as_ref())
    }

    /// Adds a frame: with the detector's findings when it ran on it (`Some`, possibly empty),
    /// or `None` when it did not (the face is carried).
    pub fn push(
        &mut self,
        frame: u32,
        timestamp_us: Option<i64>,
        detections: Option<Vec<Detection>>,
    ) {
        let index = self.frames.len();
        let Some(mut detections) = detections else {
            let face = if self.last_run_found {
                self.last_seen.as_ref().map(|(_, face)| face.carried())
            } else {
                None
            };
            if face.is_some() {
                self.carried_since_detection.push(index);
            }
            self.frames.push(TrackFrame {
                frame,
                timestamp_us,
                detected: false,
                face,
            });
            return;
        };
        detections.sort_by(|a, b| b.score.total_cmp(&a.score));
        let chosen = match &self.last_seen {
            Some((_, last)) => self.linked(&last.bounding_box, &detections),
            None => None,
        };
        let (primary, linked) = match chosen {
            Some(i) => (Some(i), true),
            None if detections.is_empty() => (None, false),
            None => (Some(0), false),
        };
        let face = primary.map(|i| TrackedFace::detected(&detections[i]));
        if let (Some(face), false, Some((from_frame, last))) = (&face, linked, &self.last_seen) {
            self.jumps.push(Jump {
                from_frame: *from_frame,
                from: last.bounding_box,
                to_frame: frame,
                to: face.bounding_box,
            });
        }
        if detections.len() > 1 {
            let faces = detections
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != primary)
                .map(|(_, d)| d.clone())
                .collect();
            self.extra_faces.push(ExtraFaces { frame, faces });
        }
        let carried = std::mem::take(&mut self.carried_since_detection);
        if let (true, Some(previous), false) =
            (linked, self.last_detected_index, carried.is_empty())
        {
            self.to_interpolate.push((previous, carried, index));
        }
        self.last_run_found = face.is_some();
        if let Some(face) = &face {
            self.last_seen = Some((frame, face.clone()));
            self.last_detected_index = Some(index);
        } else {
            self.last_detected_index = None;
        }
        self.frames.push(TrackFrame {
            frame,
            timestamp_us,
            detected: true,
            face,
        });
    }

    /// The detection that continues the track from `last`, if one does.
    fn linked(&self, last: &BoundingBox, detections: &[Detection]) -> Option<usize> {
        let center = last.center();
        let max_shift = self.config.max_link_shift * last.width.max(1.0);
        detections
            .iter()
            .enumerate()
            .map(|(i, d)| (i, d.bounding_box.iou(last), d.bounding_box.center()))
            .filter(|(_, iou, c)| {
                *iou >= self.config.min_link_iou
                    || (c.x - center.x).hypot(c.y - center.y) <= max_shift
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _, _)| i)
    }

    /// Interpolates the carried faces between linked detections and reports the gaps.
    pub fn finish(mut self) -> Track {
        for (start, carried, end) in std::mem::take(&mut self.to_interpolate) {
            let (Some(a), Some(b)) = (
                self.frames[start].face.clone(),
                self.frames[end].face.clone(),
            ) else {
                continue;
            };
            let (fa, fb) = (
                self.frames[start].frame as f32,
                self.frames[end].frame as f32,
            );
            for index in carried {
                let t = if fb > fa {
                    (self.frames[index].frame as f32 - fa) / (fb - fa)
                } else {
                    0.0
                };
                if let Some(face) = self.frames[index].face.as_mut() {
                    let between = a.detection().lerp(&b.detection(), t);
                    face.bounding_box = between.bounding_box;
                    face.keypoints = between.keypoints;
                }
            }
        }
        let mut gaps: Vec<Gap> = Vec::new();
        let mut open: Option<Gap> = None;
        for frame in &self.frames {
            match (&frame.face, open.as_mut()) {
                (None, Some(gap)) => {
                    gap.last_frame = frame.frame;
                    gap.end_us = frame.timestamp_us;
                }
                (None, None) => {
                    open = Some(Gap {
                        first_frame: frame.frame,
                        last_frame: frame.frame,
                        start_us: frame.timestamp_us,
                        end_us: frame.timestamp_us,
                    });
                }
                (Some(_), _) => gaps.extend(open.take()),
            }
        }
        gaps.extend(open);
        Track {
            frames: self.frames,
            gaps,
            extra_faces: self.extra_faces,
            jumps: self.jumps,
        }
    }
}

/// The face track of a video in two phases: while the video decodes, only the detector's small
/// views of the frames it will run on are kept (37 KB each at 640x480); once decoding is done,
/// the detector runs on all of them in a row and the tracker links the results.
///
/// Interleaving decoding and detection frame by frame makes each evict the other's working set
/// from the caches: measured with tract, detection on every third frame costs about 35% over
/// decoding and inference measured alone when interleaved, about 5% when deferred
/// (BENCHMARKS.md, "Vision"). The analysis runs once the stream has ended, so deferring costs
/// it nothing.
#[cfg(feature = "ffmpeg")]
#[derive(Debug)]
pub struct DeferredTracker {
    config: TrackerConfig,
    frames: Vec<PendingFrame>,
}

#[cfg(feature = "ffmpeg")]
#[derive(Debug)]
struct PendingFrame {
    index: u32,
    timestamp_us: Option<i64>,
    width: u32,
    height: u32,
    view: Option<crate::image::RgbImage>,
}

#[cfg(feature = "ffmpeg")]
impl DeferredTracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            frames: Vec::new(),
        }
    }

    /// `base` with the detector's view asked for on the frames the detector will run on.
    pub fn decode_options(
        &self,
        base: crate::decode::DecodeOptions,
    ) -> crate::decode::DecodeOptions {
        crate::decode::DecodeOptions {
            detector_view: Some(crate::decode::DetectorView::every(self.config.detect_every)),
            ..base
        }
    }

    /// Keeps what the tracker needs of a decoded frame, taking its detector view.
    pub fn push(&mut self, frame: &mut crate::decode::Frame) {
        let wanted = frame.index.is_multiple_of(self.config.detect_every.get());
        let view = frame.detector_view.take().filter(|_| wanted);
        self.frames.push(PendingFrame {
            index: frame.index,
            timestamp_us: frame.timestamp_us,
            width: frame.decoded_width,
            height: frame.decoded_height,
            view,
        });
    }

    /// Detects on the kept views, in order, and links the detections into a track. A frame the
    /// detector should have run on but that has no view counts as one without a face.
    pub fn finish(
        self,
        detector: &crate::detect::BlazeFace,
    ) -> Result<Track, crate::detect::DetectError> {
        let mut tracker = Tracker::new(self.config);
        for frame in self.frames {
            let detections = if tracker.should_detect(frame.index) {
                Some(match &frame.view {
                    Some(view) => detector.detect(view, frame.width, frame.height)?,
                    None => Vec::new(),
                })
            } else {
                None
            };
            tracker.push(frame.index, frame.timestamp_us, detections);
        }
        Ok(tracker.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(left: f32, top: f32, size: f32, score: f32) -> Detection {
        let center = Point {
            x: left + size / 2.0,
            y: top + size / 2.0,
        };
        Detection {
            score,
            bounding_box: BoundingBox {
                left,
                top,
                width: size,
                height: size,
            },
            keypoints: [center; 6],
        }
    }

    fn config(every: u32) -> TrackerConfig {
        TrackerConfig {
            detect_every: NonZeroU32::new(every).unwrap(),
            ..TrackerConfig::default()
        }
    }

    #[test]
    fn a_face_moving_steadily_is_one_track_without_gaps() {
        let mut tracker = Tracker::new(config(1));
        for i in 0..10 {
            let x = 100.0 + 5.0 * i as f32;
            tracker.push(
                i,
                Some(i64::from(i) * 66_667),
                Some(vec![face(x, 100.0, 80.0, 0.9)]),
            );
        }
        let track = tracker.finish();
        assert_eq!(track.frames.len(), 10);
        assert!(track.gaps.is_empty() && track.jumps.is_empty() && track.extra_faces.is_empty());
        assert_eq!(track.coverage(), 1.0);
    }

    #[test]
    fn on_a_stride_boxes_are_carried_then_interpolated() {
        let mut tracker = Tracker::new(config(3));
        for i in 0..7u32 {
            let detections = tracker
                .should_detect(i)
                .then(|| vec![face(100.0 + 10.0 * i as f32, 50.0, 60.0, 0.8)]);
            tracker.push(i, None, detections);
            if i == 1 {
                // While streaming, the last detected box is carried as it is.
                assert_eq!(tracker.current().unwrap().bounding_box.left, 100.0);
            }
        }
        let track = tracker.finish();
        let lefts: Vec<f32> = track
            .frames
            .iter()
            .map(|f| f.face.as_ref().unwrap().bounding_box.left)
            .collect();
        assert_eq!(lefts, vec![100.0, 110.0, 120.0, 130.0, 140.0, 150.0, 160.0]);
        let sources: Vec<FaceSource> = track
            .frames
            .iter()
            .map(|f| f.face.as_ref().unwrap().source)
            .collect();
        assert_eq!(sources[0], FaceSource::Detected);
        assert_eq!(sources[1], FaceSource::Carried);
        assert_eq!(sources[3], FaceSource::Detected);
        assert!(track.frames[3].detected && !track.frames[4].detected);
    }

    #[test]
    fn missing_faces_are_gaps_and_carry_nothing() {
        let mut tracker = Tracker::new(config(2));
        let found = [true, false, false, true];
        for i in 0..8u32 {
            let detections = tracker.should_detect(i).then(|| {
                if found[(i / 2) as usize] {
                    vec![face(10.0, 10.0, 50.0, 0.9)]
                } else {
                    vec![]
                }
            });
            tracker.push(i, Some(i64::from(i) * 1000), detections);
        }
        let track = tracker.finish();
        assert_eq!(
            track.gaps,
            vec![Gap {
                first_frame: 2,
                last_frame: 5,
                start_us: Some(2000),
                end_us: Some(5000)
            }]
        );
        assert!(track.jumps.is_empty(), "the face came back where it was");
    }

    #[test]
    fn extra_faces_and_jumps_are_reported() {
        let mut tracker = Tracker::new(config(1));
        tracker.push(0, None, Some(vec![face(100.0, 100.0, 80.0, 0.9)]));
        // A second, better-scoring face appears: the tracked face stays the one that links.
        tracker.push(
            1,
            None,
            Some(vec![
                face(400.0, 100.0, 80.0, 0.99),
                face(102.0, 100.0, 80.0, 0.8),
            ]),
        );
        // The face is suddenly elsewhere.
        tracker.push(2, None, Some(vec![face(400.0, 300.0, 80.0, 0.9)]));
        let track = tracker.finish();
        assert_eq!(
            track.frames[1].face.as_ref().unwrap().bounding_box.left,
            102.0
        );
        assert_eq!(track.extra_faces.len(), 1);
        assert_eq!(track.extra_faces[0].faces[0].bounding_box.left, 400.0);
        assert_eq!(track.jumps.len(), 1);
        assert_eq!((track.jumps[0].from_frame, track.jumps[0].to_frame), (1, 2));
    }

    #[test]
    fn no_frames_no_track() {
        let track = Tracker::new(TrackerConfig::default()).finish();
        assert!(track.frames.is_empty() && track.gaps.is_empty());
        assert_eq!(track.coverage(), 0.0);
    }
}
