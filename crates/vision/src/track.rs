//! One face followed over a video: the one tracker, used by the engine (`openliveness_engine`'s
//! `observe`) and by `openliveness inspect`.
//!
//! The detector runs on some frames only; the caller decides which (the engine when 150 ms have
//! passed, `inspect` on a stride of frames). [`Follower`] places the face on every frame:
//! - on a frame the detector ran on, the largest face it found: the person answering is the
//!   nearest;
//! - on the frames between two detections that found it, the face moved from the one to the other
//!   in proportion to time; that needs the second, so those frames are held (with whatever the
//!   caller keeps of them) until it comes, at most [`Follower::new`]'s `max_held` of them;
//! - after the last detection, after one that found no face, and on the frames held beyond
//!   `max_held`, the face predicted from the last two detections along its motion (for at most
//!   one more interval).
//!
//! [`Tracker`] follows a video's frames by number on top of it and reports for a person to judge
//! the gaps (frames whose latest detection found no face), the extra faces and the jumps (the
//! face found where it could not have moved to). Pure: detections and timestamps in, faces out.

use std::collections::VecDeque;
use std::num::NonZeroU32;

use serde::Serialize;

use crate::detect::{BoundingBox, Detection, Point};

/// Where the face on a frame comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceSource {
    /// The detector found it on this frame.
    Detected,
    /// Moved from the detection before this frame to the one after, in proportion to time.
    Interpolated,
    /// Moved on from the last detection along the face's motion between the last two.
    Predicted,
}

/// A frame with the face placed on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Followed<T> {
    /// What the caller pushed with the frame.
    pub item: T,
    pub t_ms: f64,
    /// The faces the detector found when it ran on this frame, largest first; `None` when it did
    /// not run.
    pub faces: Option<Vec<Detection>>,
    /// The face on this frame; `None` before any was found.
    pub face: Option<Detection>,
    pub source: FaceSource,
    /// Whether `face` sits on the face's features: detected, interpolated, or predicted while
    /// the face held still (a prediction of a moving face drifts off them).
    pub on_features: bool,
    /// Whether the detector's latest run, on this frame or before, found no face.
    pub lost: bool,
}

impl<T> Followed<T> {
    /// Whether `face` was placed rather than detected on this frame.
    pub fn placed(&self) -> bool {
        self.source != FaceSource::Detected && self.face.is_some()
    }
}

/// Places the face on every frame pushed; the frames come out of [`Follower::pop`] in order,
/// each once its face is known.
#[derive(Debug, Clone)]
pub struct Follower<T> {
    max_held: usize,
    /// The last two faces detected, and when.
    last_face: Option<(f64, Detection)>,
    previous_face: Option<(f64, Detection)>,
    /// The frames since the last detection, when it found a face, until the next tells where
    /// the face went on them.
    held: VecDeque<(f64, T)>,
    /// When the detector last ran.
    last_detection_ms: f64,
    ready: VecDeque<Followed<T>>,
}

impl<T> Follower<T> {
    /// Holds at most `max_held` frames between two detections; past it, the oldest is given the
    /// predicted face.
    pub fn new(max_held: usize) -> Self {
        Follower {
            max_held,
            last_face: None,
            previous_face: None,
            held: VecDeque::new(),
            last_detection_ms: f64::NEG_INFINITY,
            ready: VecDeque::new(),
        }
    }

    /// When the detector last ran (ms; minus infinity before it ran).
    pub fn last_detection_ms(&self) -> f64 {
        self.last_detection_ms
    }

    /// Adds a frame at `t_ms`: with the detector's findings when it ran on it (`Some`, possibly
    /// empty), or `None` when it did not.
    pub fn push(&mut self, t_ms: f64, item: T, detections: Option<Vec<Detection>>) {
        let Some(mut faces) = detections else {
            if self.last_found() {
                if self.held.len() >= self.max_held {
                    self.release_oldest();
                }
                self.held.push_back((t_ms, item));
            } else {
                self.predict(t_ms, item, None, true);
            }
            return;
        };
        self.last_detection_ms = t_ms;
        // The person answering is the nearest face: the largest first.
        faces.sort_by(|a, b| b.bounding_box.width.total_cmp(&a.bounding_box.width));
        let Some(found) = faces.first().cloned() else {
            self.finish();
            self.predict(t_ms, item, Some(faces), true);
            return;
        };
        // The frames held since the last detection: the face moved from there to here.
        while let Some((earlier_ms, earlier)) = self.held.pop_front() {
            let face = match &self.last_face {
                Some((t0, last)) if t_ms > *t0 => {
                    last.lerp(&found, ((earlier_ms - t0) / (t_ms - t0)) as f32)
                }
                _ => found.clone(),
            };
            self.ready.push_back(Followed {
                item: earlier,
                t_ms: earlier_ms,
                faces: None,
                face: Some(face),
                source: FaceSource::Interpolated,
                on_features: true,
                lost: false,
            });
        }
        self.previous_face = self.last_face.replace((t_ms, found.clone()));
        self.ready.push_back(Followed {
            item,
            t_ms,
            faces: Some(faces),
            face: Some(found),
            source: FaceSource::Detected,
            on_features: true,
            lost: false,
        });
    }

    /// Gives the frames still held the predicted face: no detection follows.
    pub fn finish(&mut self) {
        while !self.held.is_empty() {
            self.release_oldest();
        }
    }

    /// The next frame whose face is known, in the order pushed.
    pub fn pop(&mut self) -> Option<Followed<T>> {
        self.ready.pop_front()
    }

    /// Gives the oldest frame held the predicted face: it came while the face was found.
    fn release_oldest(&mut self) {
        if let Some((t_ms, item)) = self.held.pop_front() {
            self.predict(t_ms, item, None, false);
        }
    }

    /// Whether the detector found a face when it last ran.
    fn last_found(&self) -> bool {
        self.last_face
            .as_ref()
            .is_some_and(|(t, _)| *t == self.last_detection_ms)
    }

    /// Whether the face moved less than 2% of its width between the last two detections.
    fn still(&self) -> bool {
        match (&self.previous_face, &self.last_face) {
            (Some((_, a)), Some((_, b))) => {
                let (ca, cb) = (a.bounding_box.center(), b.bounding_box.center());
                let width = b.bounding_box.width.max(1.0);
                (ca.x - cb.x).hypot(ca.y - cb.y) < 0.02 * width
                    && (a.bounding_box.width / width - 1.0).abs() < 0.02
            }
            _ => false,
        }
    }

    /// The face at `t_ms` after the last detection: the last one found, moved on along its
    /// motion since the one before (for at most one more interval).
    fn predicted(&self, t_ms: f64) -> Option<Detection> {
        let (t1, last) = self.last_face.as_ref()?;
        match &self.previous_face {
            Some((t0, previous)) if t1 > t0 => {
                let s = ((t_ms - t0) / (t1 - t0)).clamp(1.0, 2.0) as f32;
                Some(previous.lerp(last, s))
            }
            _ => Some(last.clone()),
        }
    }

    /// A frame given the face predicted from the last two detections; `lost` when the
    /// detector's latest run by its time found no face.
    fn predict(&mut self, t_ms: f64, item: T, faces: Option<Vec<Detection>>, lost: bool) {
        let face = self.predicted(t_ms);
        let on_features = self.still();
        self.ready.push_back(Followed {
            item,
            t_ms,
            faces,
            face,
            source: FaceSource::Predicted,
            on_features,
            lost,
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackerConfig {
    /// Run the detector on frames 0, n, 2n, … (1: every frame).
    pub detect_every: NonZeroU32,
    /// A detection continues the track (no jump) when its box overlaps the last detected box by
    /// at least this IoU, …
    pub min_link_iou: f32,
    /// … or when its centre moved by at most this many widths of the last box.
    pub max_link_shift: f32,
    /// The most frames held between two detections ([`Follower::new`]).
    pub max_held: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            detect_every: NonZeroU32::MIN,
            min_link_iou: 0.2,
            max_link_shift: 0.5,
            max_held: 64,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackedFace {
    pub bounding_box: BoundingBox,
    pub keypoints: [Point; 6],
    /// The detector's score; for a face placed between detections, that of the detection it
    /// was moved from.
    pub score: f32,
    pub source: FaceSource,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackFrame {
    pub frame: u32,
    pub timestamp_us: Option<i64>,
    /// Whether the detector ran on this frame.
    pub detected: bool,
    /// `None` before the face was first found and while the detector's latest run found none.
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

/// A frame where the detector found more than one face: the ones that are not the followed face.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExtraFaces {
    pub frame: u32,
    pub faces: Vec<Detection>,
}

/// The followed face found where it could not have moved to since it was last detected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Jump {
    /// The frame it was last detected in, and where.
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
    /// Frames with the face over all frames.
    pub fn coverage(&self) -> f32 {
        if self.frames.is_empty() {
            return 0.0;
        }
        let with_face = self.frames.iter().filter(|f| f.face.is_some()).count();
        with_face as f32 / self.frames.len() as f32
    }
}

/// Builds a [`Track`] of a video's frames, by number, with a [`Follower`].
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    follower: Follower<(u32, Option<i64>)>,
    frames: Vec<TrackFrame>,
    extra_faces: Vec<ExtraFaces>,
    jumps: Vec<Jump>,
    /// The last frame a face was detected in, and its box.
    last_detected: Option<(u32, BoundingBox)>,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            follower: Follower::new(config.max_held),
            frames: Vec::new(),
            extra_faces: Vec::new(),
            jumps: Vec::new(),
            last_detected: None,
        }
    }

    /// Whether the detector should run on this frame (the stride, counted from frame 0).
    pub fn should_detect(&self, frame: u32) -> bool {
        frame.is_multiple_of(self.config.detect_every.get())
    }

    /// Adds a frame: with the detector's findings when it ran on it (`Some`, possibly empty),
    /// or `None` when it did not. A frame without a timestamp is placed in time by its number.
    pub fn push(
        &mut self,
        frame: u32,
        timestamp_us: Option<i64>,
        detections: Option<Vec<Detection>>,
    ) {
        let t_ms = timestamp_us.map_or(f64::from(frame), |us| us as f64 / 1000.0);
        self.follower.push(t_ms, (frame, timestamp_us), detections);
        self.take_ready();
    }

    fn take_ready(&mut self) {
        while let Some(followed) = self.follower.pop() {
            let (frame, timestamp_us) = followed.item;
            if let Some(faces) = &followed.faces {
                if let Some(face) = faces.first() {
                    if let Some((from_frame, from)) = self.last_detected {
                        if !self.linked(&from, &face.bounding_box) {
                            self.jumps.push(Jump {
                                from_frame,
                                from,
                                to_frame: frame,
                                to: face.bounding_box,
                            });
                        }
                    }
                    self.last_detected = Some((frame, face.bounding_box));
                }
                if faces.len() > 1 {
                    self.extra_faces.push(ExtraFaces {
                        frame,
                        faces: faces[1..].to_vec(),
                    });
                }
            }
            let face = followed
                .face
                .filter(|_| !followed.lost)
                .map(|face| TrackedFace {
                    bounding_box: face.bounding_box,
                    keypoints: face.keypoints,
                    score: face.score,
                    source: followed.source,
                });
            self.frames.push(TrackFrame {
                frame,
                timestamp_us,
                detected: followed.faces.is_some(),
                face,
            });
        }
    }

    /// Whether a face at `to` continues the track from `from`.
    fn linked(&self, from: &BoundingBox, to: &BoundingBox) -> bool {
        let (a, b) = (from.center(), to.center());
        to.iou(from) >= self.config.min_link_iou
            || (a.x - b.x).hypot(a.y - b.y) <= self.config.max_link_shift * from.width.max(1.0)
    }

    /// Places the face on the frames still held and reports the gaps.
    pub fn finish(mut self) -> Track {
        self.follower.finish();
        self.take_ready();
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
    fn on_a_stride_faces_are_interpolated_then_predicted() {
        let mut tracker = Tracker::new(config(3));
        for i in 0..9u32 {
            let detections = tracker
                .should_detect(i)
                .then(|| vec![face(100.0 + 10.0 * i as f32, 50.0, 60.0, 0.8)]);
            tracker.push(i, None, detections);
        }
        let track = tracker.finish();
        let lefts: Vec<f32> = track
            .frames
            .iter()
            .map(|f| f.face.as_ref().unwrap().bounding_box.left)
            .collect();
        // Between detections (0, 3, 6) the face moves from one to the next; after the last, on
        // along its motion.
        assert_eq!(
            lefts,
            vec![100.0, 110.0, 120.0, 130.0, 140.0, 150.0, 160.0, 170.0, 180.0]
        );
        let sources: Vec<FaceSource> = track
            .frames
            .iter()
            .map(|f| f.face.as_ref().unwrap().source)
            .collect();
        assert_eq!(sources[0], FaceSource::Detected);
        assert_eq!(sources[1], FaceSource::Interpolated);
        assert_eq!(sources[3], FaceSource::Detected);
        assert_eq!(sources[8], FaceSource::Predicted);
        assert!(track.frames[3].detected && !track.frames[4].detected);
    }

    #[test]
    fn a_prediction_goes_at_most_one_interval_on() {
        let mut follower = Follower::new(8);
        follower.push(0.0, 0, Some(vec![face(100.0, 50.0, 60.0, 0.9)]));
        follower.push(100.0, 1, Some(vec![face(110.0, 50.0, 60.0, 0.9)]));
        follower.push(150.0, 2, None);
        follower.push(400.0, 3, None);
        follower.finish();
        let placed: Vec<(f32, FaceSource)> = std::iter::from_fn(|| follower.pop())
            .map(|f| (f.face.unwrap().bounding_box.left, f.source))
            .collect();
        assert_eq!(
            placed,
            vec![
                (100.0, FaceSource::Detected),
                (110.0, FaceSource::Detected),
                (115.0, FaceSource::Predicted),
                (120.0, FaceSource::Predicted)
            ]
        );
    }

    #[test]
    fn missing_faces_are_gaps() {
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
        // A second, smaller face appears: the followed face stays the largest.
        tracker.push(
            1,
            None,
            Some(vec![
                face(400.0, 100.0, 60.0, 0.99),
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
