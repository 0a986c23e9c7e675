//! The streaming half of the engine: decode the video as its chunks arrive, find the face, and
//! reduce every frame to the few numbers the checks need (faces, the mean linear colour of face
//! regions and of the background, a fingerprint to spot repeated frames), keeping a handful of
//! frames as JPEG candidates for the reference and audit images. Everything after this works on
//! these observations, not on pixels.

use std::num::NonZeroU32;
use std::ops::ControlFlow;
use std::sync::mpsc::Receiver;

use openliveness_vision::decode::{
    decode_stream, DecodeError, DecodeLimits, DecodeOptions, DetectorView, Frame, ImageOutput,
};
use openliveness_vision::track::{FaceSource, Followed, Follower};
use openliveness_vision::yuv::{Planes, YuvImage};
use openliveness_vision::{BlazeFace, Detection, Keypoint};
use serde::Serialize;

use crate::linear::{orthonormal, remove_span};

/// Face regions in a frame aligned to the eyes: (across, down) in eye distances from the eyes'
/// midpoint. Rows: forehead, cheeks and nose, jaw and chin; columns: the image's left, middle,
/// right.
pub const REGION_GRID: [[f64; 2]; 9] = [
    [-0.8, -0.45],
    [0.0, -0.45],
    [0.8, -0.45],
    [-0.8, 0.6],
    [0.0, 0.6],
    [0.8, 0.6],
    [-0.7, 1.35],
    [0.0, 1.35],
    [0.7, 1.35],
];
/// Half the side of a region, in eye distances.
const REGION_HALF: f64 = 0.2;
/// The regions whose colour stands for "the skin" in the light check: forehead middle, cheeks,
/// nose.
pub const SKIN_REGIONS: [usize; 4] = [1, 3, 4, 5];

/// One frame, reduced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameObservation {
    /// Presentation time, ms from the first frame.
    pub t_ms: f64,
    /// Faces found, largest first; `None` on frames the detector did not run on.
    pub faces: Option<Vec<Detection>>,
    /// The face followed on this frame: the one detected, or on the frames between detections
    /// the last one found moved on along its motion since the one before. `None` before any
    /// face was found.
    pub face: Option<Detection>,
    /// Whether `face` was predicted rather than detected on this frame.
    pub predicted: bool,
    /// Mean linear RGB of each region of [`REGION_GRID`] around `face`.
    pub regions: Option<[[f32; 3]; 9]>,
    /// Mean linear RGB of the background: the frame's sides, away from the face.
    pub background: [f32; 3],
    /// A fingerprint of the pixels, to spot repeated frames.
    pub fingerprint: u64,
    /// The face's appearance (see `appearance`), where `face` is.
    #[serde(skip)]
    pub appearance: Option<Vec<f32>>,
}

/// A frame kept as a candidate for the reference or audit images; only the few chosen are
/// encoded (`images::select`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub frame: usize,
    pub t_ms: f64,
    /// The face in it (left, top, width, height as ratios of the frame).
    pub face: [f32; 4],
    /// Variance of the Laplacian over the face (higher: sharper).
    pub sharpness: f32,
    /// The frame as decoded; converted to RGB only if chosen.
    #[serde(skip)]
    pub image: std::sync::Arc<YuvImage>,
}

/// Everything the checks get from the video.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Observations {
    pub width: u32,
    pub height: u32,
    pub frames: Vec<FrameObservation>,
    pub candidates: Vec<Candidate>,
    /// Packets FFmpeg refused.
    pub skipped_packets: u32,
}

/// How to observe.
#[derive(Debug, Clone)]
pub struct ObserveOptions {
    pub limits: DecodeLimits,
    /// Prepare the detector's view on every n-th frame.
    pub detect_every: NonZeroU32,
    /// Run the detector on a frame with a view when this long has passed since it last ran
    /// (less a tenth, so that it keeps its cadence on views a frame late). The frames between
    /// two detections that found a face are measured with the face moved from the one to the
    /// other; after the last, with it predicted from the last two.
    pub detect_interval_ms: f64,
    /// Keep a candidate image at most this often.
    pub candidate_every_ms: f64,
}

impl Default for ObserveOptions {
    /// BlazeFace on every fifth frame (6 times a second at 30 frames/s): after decoding,
    /// detection is the engine's largest cost (BENCHMARKS.md). Identity compares the face's
    /// appearance on every frame, placed between the detections on either side, with what a
    /// small misplacement makes of it taken out ([`crate::identity`]). On the calibration's 360
    /// live and 160 swapped sessions, at the threshold that accepts no swap, it rejects 12 live
    /// sessions detecting on every fifth frame and 9 on every fourth; comparing appearances only
    /// where the face was detected, the best threshold erred on 4 sessions detecting on every
    /// second frame and on 7 on every fourth (docs/evaluation.md).
    fn default() -> Self {
        ObserveOptions {
            limits: DecodeLimits::default(),
            detect_every: NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN),
            detect_interval_ms: 150.0,
            candidate_every_ms: 800.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ObserveError {
    #[error("the video cannot be decoded: {0}")]
    Decode(#[from] DecodeError),
    #[error("face detection failed: {0}")]
    Detect(String),
}

/// Decodes the chunks arriving on `chunks` (until the senders are dropped) and observes every
/// frame. Blocks: run it on its own thread while the stream comes in.
pub fn observe_stream(
    chunks: Receiver<Vec<u8>>,
    detector: &BlazeFace,
    options: &ObserveOptions,
) -> Result<Observations, ObserveError> {
    let decode = DecodeOptions {
        limits: options.limits.clone(),
        image: ImageOutput::Yuv,
        detector_view: Some(DetectorView::every(options.detect_every)),
        threads: 1,
    };
    let mut observer = Observer::new(detector, options);
    let mut failure = None;
    let summary = decode_stream(chunks, &decode, &mut |frame| match observer.push(frame) {
        Ok(()) => ControlFlow::Continue(()),
        Err(error) => {
            failure = Some(error);
            ControlFlow::Break(())
        }
    })?;
    if let Some(error) = failure {
        return Err(error);
    }
    observer.finish();
    let mut observations = observer.observations;
    observations.skipped_packets = summary.skipped_packets;
    Ok(observations)
}

/// Decodes and observes a whole video.
pub fn observe_bytes(
    video: &[u8],
    detector: &BlazeFace,
    options: &ObserveOptions,
) -> Result<Observations, ObserveError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    if !video.is_empty() {
        let _ = sender.send(video.to_vec());
    }
    drop(sender);
    observe_stream(receiver, detector, options)
}

struct Observer<'a> {
    detector: &'a BlazeFace,
    options: &'a ObserveOptions,
    /// sRGB byte to linear light.
    lut: [f32; 256],
    /// Byte to the log brightness the appearance is made of.
    log: [f64; 256],
    basis: Vec<Vec<f64>>,
    observations: Observations,
    /// The face followed from detection to detection: the frames between two detections wait
    /// in it (by reference to the decoder's picture) until the second tells where the face went
    /// on them.
    follower: Follower<Held>,
    first_pts_us: Option<i64>,
    last_candidate_ms: f64,
}

/// A decoded frame and what it shows apart from the face, measured as it arrives (while its
/// pixels are still in the processor's cache: a frame held for the next detection is read again
/// only around the face).
struct Held {
    t_ms: f64,
    image: YuvImage,
    /// Mean linear RGB of the frame's left and right sixths.
    sides: [[f32; 3]; 2],
    fingerprint: u64,
}

/// The most frames held between two detections (at 30 frames/s with a detection every 150 ms,
/// 4); past it, the oldest is measured with the face predicted instead.
const MAX_PENDING: usize = 8;

impl<'a> Observer<'a> {
    fn new(detector: &'a BlazeFace, options: &'a ObserveOptions) -> Self {
        Observer {
            detector,
            options,
            lut: std::array::from_fn(|byte| srgb_to_linear(byte as u8)),
            log: std::array::from_fn(|byte| (byte as f64 + 4.0).ln()),
            basis: smooth_basis(),
            observations: Observations::default(),
            follower: Follower::new(MAX_PENDING),
            first_pts_us: None,
            last_candidate_ms: f64::NEG_INFINITY,
        }
    }

    fn push(&mut self, frame: Frame) -> Result<(), ObserveError> {
        let Some(image) = frame.yuv else {
            return Ok(());
        };
        if self.first_pts_us.is_none() {
            self.observations.width = image.width();
            self.observations.height = image.height();
        }
        let pts = frame.timestamp_us.unwrap_or(0);
        let first = *self.first_pts_us.get_or_insert(pts);
        let t_ms = (pts - first) as f64 / 1000.0;
        let planes = image.planes();
        let sides = sides(&planes, &self.lut);
        let fingerprint = fingerprint(&planes);
        let held = Held {
            t_ms,
            image,
            sides,
            fingerprint,
        };
        let due = t_ms - self.follower.last_detection_ms() >= 0.9 * self.options.detect_interval_ms;
        let detections = match frame.detector_view.as_ref().filter(|_| due) {
            Some(view) => Some(
                self.detector
                    .detect(view, held.image.width(), held.image.height())
                    .map_err(|error| ObserveError::Detect(error.to_string()))?,
            ),
            None => None,
        };
        self.follower.push(t_ms, held, detections);
        self.record_ready();
        Ok(())
    }

    /// Measures the frames still held with the face predicted on them: no detection follows.
    fn finish(&mut self) {
        self.follower.finish();
        self.record_ready();
    }

    /// Measures the frames whose face is known, in order, keeping a candidate image now and
    /// then among those where the face was detected.
    fn record_ready(&mut self) {
        while let Some(followed) = self.follower.pop() {
            let detected = followed
                .face
                .clone()
                .filter(|_| followed.source == FaceSource::Detected);
            let (index, held) = self.record(followed);
            let Some(found) = detected else { continue };
            if held.t_ms - self.last_candidate_ms >= self.options.candidate_every_ms {
                self.last_candidate_ms = held.t_ms;
                let candidate = candidate(index, held.t_ms, held.image, &found);
                self.observations.candidates.push(candidate);
            }
        }
    }

    /// Measures one frame around its face and adds it to the observations; its index, and the
    /// frame back.
    fn record(&mut self, followed: Followed<Held>) -> (usize, Held) {
        let predicted = followed.placed();
        let Followed {
            item: held,
            faces,
            face,
            on_features,
            ..
        } = followed;
        let planes = held.image.planes();
        let regions = face
            .as_ref()
            .map(|face| region_means(&planes, face, &self.lut));
        // A prediction of a moving face drifts off its features: its appearance only while
        // the face holds still.
        let appearance = face
            .as_ref()
            .filter(|_| on_features)
            .map(|face| appearance(&planes, face, &self.log, &self.basis));
        let index = self.observations.frames.len();
        self.observations.frames.push(FrameObservation {
            t_ms: held.t_ms,
            faces,
            background: background(&held.sides, held.image.width(), face.as_ref()),
            fingerprint: held.fingerprint,
            face,
            predicted,
            regions,
            appearance,
        });
        (index, held)
    }
}

fn srgb_to_linear(value: u8) -> f32 {
    let c = f32::from(value) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// The eyes' midpoint, the unit vector along the eyes and the eye distance.
pub fn eye_frame(face: &Detection) -> ([f64; 2], [f64; 2], f64) {
    let right = face.keypoint(Keypoint::RightEye);
    let left = face.keypoint(Keypoint::LeftEye);
    let mid = [
        f64::from(right.x + left.x) / 2.0,
        f64::from(right.y + left.y) / 2.0,
    ];
    let along = [f64::from(left.x - right.x), f64::from(left.y - right.y)];
    let distance = (along[0] * along[0] + along[1] * along[1]).sqrt().max(1.0);
    (mid, [along[0] / distance, along[1] / distance], distance)
}

fn region_means(image: &Planes<'_>, face: &Detection, lut: &[f32; 256]) -> [[f32; 3]; 9] {
    let (mid, along, distance) = eye_frame(face);
    let down = [-along[1], along[0]];
    let mut out = [[0.0f32; 3]; 9];
    for (slot, [a, b]) in out.iter_mut().zip(REGION_GRID) {
        let centre = [
            mid[0] + (along[0] * a + down[0] * b) * distance,
            mid[1] + (along[1] * a + down[1] * b) * distance,
        ];
        let half = REGION_HALF * distance;
        *slot = mean_box(
            image,
            [
                centre[0] - half,
                centre[1] - half,
                centre[0] + half,
                centre[1] + half,
            ],
            2,
            lut,
        );
    }
    out
}

/// Mean linear RGB over a box (x0, y0, x1, y1), sampling every `step`-th pixel across and down.
fn mean_box(image: &Planes<'_>, area: [f64; 4], step: u32, lut: &[f32; 256]) -> [f32; 3] {
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let x0 = area[0].clamp(0.0, w - 1.0) as u32;
    let x1 = area[2].clamp(0.0, w - 1.0) as u32;
    let y0 = area[1].clamp(0.0, h - 1.0) as u32;
    let y1 = area[3].clamp(0.0, h - 1.0) as u32;
    let step = step.max(1) as usize;
    let mut sum = [0.0f32; 3];
    let mut count = 0u32;
    for y in (y0..=y1).step_by(step) {
        for x in (x0..=x1).step_by(step) {
            let pixel = image.rgb(x, y);
            sum[0] += lut[usize::from(pixel[0])];
            sum[1] += lut[usize::from(pixel[1])];
            sum[2] += lut[usize::from(pixel[2])];
            count += 1;
        }
    }
    let count = count.max(1) as f32;
    sum.map(|s| s / count)
}

/// Mean linear RGB of the frame's left and right sixths.
fn sides(image: &Planes<'_>, lut: &[f32; 256]) -> [[f32; 3]; 2] {
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let strip = w / 6.0;
    [
        mean_box(image, [0.0, 0.0, strip, h], 8, lut),
        mean_box(image, [w - strip, 0.0, w, h], 8, lut),
    ]
}

/// The background: the frame's sides (`sides`, of a frame `width` wide), away from the face
/// when it is on the other side.
fn background(sides: &[[f32; 3]; 2], width: u32, face: Option<&Detection>) -> [f32; 3] {
    let w = f64::from(width);
    let strip = w / 6.0;
    let (left_free, right_free) = match face {
        Some(face) => (
            f64::from(face.bounding_box.left) > strip * 1.2,
            f64::from(face.bounding_box.right()) < w - strip * 1.2,
        ),
        None => (true, true),
    };
    let [left, right] = *sides;
    match (left_free, right_free) {
        (true, true) | (false, false) => [0, 1, 2].map(|k| (left[k] + right[k]) / 2.0),
        (true, false) => left,
        (false, true) => right,
    }
}

/// The side of the appearance patch.
pub const PATCH: usize = 12;

/// An orthonormal basis, over the patch's grid, of the polynomials of degree at most 2 in the
/// grid's coordinates: the slow variation over the face that the appearance leaves out.
fn smooth_basis() -> Vec<Vec<f64>> {
    let polynomials = [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 2)].map(|(px, py)| {
        (0..PATCH * PATCH)
            .map(|i| {
                let x = (i % PATCH) as f64 / (PATCH - 1) as f64 - 0.5;
                let y = (i / PATCH) as f64 / (PATCH - 1) as f64 - 0.5;
                x.powi(px) * y.powi(py)
            })
            .collect()
    });
    orthonormal(polynomials.to_vec())
}

/// The face's appearance, made to ignore the light: a patch aligned to the eyes, per colour
/// channel the log brightness less its smooth part (a quadratic surface over the patch). The
/// screen's colours and the ambient light multiply each channel by a field that varies slowly
/// over the face (its shading), which this removes; the face's own features remain. Each
/// channel is normalised to zero mean and unit variance, so appearances compare by correlation.
fn appearance(
    image: &Planes<'_>,
    face: &Detection,
    log: &[f64; 256],
    basis: &[Vec<f64>],
) -> Vec<f32> {
    let (mid, along, distance) = eye_frame(face);
    let down = [-along[1], along[0]];
    let (w, h) = (image.width() as f64 - 1.0, image.height() as f64 - 1.0);
    let mut channels: [Vec<f64>; 3] = std::array::from_fn(|_| Vec::with_capacity(PATCH * PATCH));
    for row in 0..PATCH {
        let b = -0.7 + 2.3 * row as f64 / (PATCH - 1) as f64;
        for column in 0..PATCH {
            let a = -1.0 + 2.0 * column as f64 / (PATCH - 1) as f64;
            let x = (mid[0] + (along[0] * a + down[0] * b) * distance).clamp(0.0, w);
            let y = (mid[1] + (along[1] * a + down[1] * b) * distance).clamp(0.0, h);
            let p = image.rgb(x as u32, y as u32);
            for (channel, value) in channels.iter_mut().zip(p) {
                channel.push(log[usize::from(value)]);
            }
        }
    }
    let mut out = Vec::with_capacity(3 * PATCH * PATCH);
    for mut channel in channels {
        remove_span(&mut channel, basis);
        let n = channel.len() as f64;
        let spread = (channel.iter().map(|g| g * g).sum::<f64>() / n)
            .sqrt()
            .max(1e-3);
        out.extend(channel.iter().map(|g| (g / spread) as f32));
    }
    out
}

/// FNV-1a over a sparse grid of the picture's brightness (about 4,000 samples).
fn fingerprint(image: &Planes<'_>) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let (w, h) = (image.width() as usize, image.height() as usize);
    let step = (w * h / 4099).max(1);
    for i in (0..w * h).step_by(step) {
        hash ^= u64::from(image.luma_row((i / w) as u32)[i % w]);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn candidate(index: usize, t_ms: f64, image: YuvImage, face: &Detection) -> Candidate {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let b = &face.bounding_box;
    Candidate {
        frame: index,
        t_ms,
        face: [b.left / w, b.top / h, b.width / w, b.height / h],
        sharpness: sharpness(&image.planes(), face),
        image: std::sync::Arc::new(image),
    }
}

/// Variance of a 4-neighbour Laplacian of the green channel over the face box, on every second
/// pixel across and down.
fn sharpness(image: &Planes<'_>, face: &Detection) -> f32 {
    let b = &face.bounding_box;
    let (w, h) = (i64::from(image.width()), i64::from(image.height()));
    if w < 3 || h < 3 {
        return 0.0;
    }
    let x0 = (b.left as i64).clamp(1, w - 2);
    let x1 = (b.right() as i64).clamp(1, w - 2);
    let y0 = (b.top as i64).clamp(1, h - 2);
    let y1 = (b.bottom() as i64).clamp(1, h - 2);
    let g = |x: i64, y: i64| f32::from(image.rgb(x as u32, y as u32)[1]);
    let mut laplacian = Moments::default();
    for y in (y0..=y1).step_by(2) {
        for x in (x0..=x1).step_by(2) {
            laplacian.add(4.0 * g(x, y) - g(x - 1, y) - g(x + 1, y) - g(x, y - 1) - g(x, y + 1));
        }
    }
    laplacian.variance()
}

/// Sums for a variance, in the order the values come.
#[derive(Default)]
struct Moments {
    sum: f32,
    sum_sq: f32,
    count: f32,
}

impl Moments {
    fn add(&mut self, value: f32) {
        self.sum += value;
        self.sum_sq += value * value;
        self.count += 1.0;
    }

    /// The variance, 0 with fewer than two values.
    fn variance(&self) -> f32 {
        if self.count < 2.0 {
            return 0.0;
        }
        let mean = self.sum / self.count;
        self.sum_sq / self.count - mean * mean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openliveness_vision::yuv::yuv_to_rgb;
    use openliveness_vision::{BoundingBox, Point};

    /// A 64x48 picture: luma rising left to right, chroma in 2x2 blocks of two tints.
    fn picture() -> YuvImage {
        let (w, h) = (64usize, 48usize);
        let y: Vec<u8> = (0..w * h).map(|i| 16 + (i % w * 3) as u8).collect();
        let u: Vec<u8> = (0..w * h / 4)
            .map(|i| if i % 2 == 0 { 110 } else { 140 })
            .collect();
        let v: Vec<u8> = (0..w * h / 4)
            .map(|i| if i % 3 == 0 { 150 } else { 120 })
            .collect();
        YuvImage::from_planes(w as u32, h as u32, &y, &u, &v).unwrap()
    }

    fn face(left: f32, top: f32, width: f32, height: f32) -> Detection {
        Detection {
            score: 0.9,
            bounding_box: BoundingBox {
                left,
                top,
                width,
                height,
            },
            keypoints: [Point { x: 30.0, y: 20.0 }; 6],
        }
    }

    #[test]
    fn mean_box_averages_the_linear_light_of_the_pixels_it_samples() {
        let image = picture();
        let planes = image.planes();
        let lut: [f32; 256] = std::array::from_fn(|byte| srgb_to_linear(byte as u8));
        let rgb = image.to_rgb();
        // Every second pixel of columns 3..=9, rows 5..=8, by hand.
        let mut sum = [0.0f64; 3];
        let mut count = 0.0;
        for y in [5, 7] {
            for x in [3, 5, 7, 9] {
                for (total, byte) in sum.iter_mut().zip(rgb.pixel(x, y)) {
                    *total += f64::from(lut[usize::from(byte)]);
                }
                count += 1.0;
            }
        }
        let mean = mean_box(&planes, [3.2, 5.9, 9.7, 8.1], 2, &lut);
        for k in 0..3 {
            assert!(
                (f64::from(mean[k]) - sum[k] / count).abs() < 1e-6,
                "{mean:?}"
            );
        }
        // Boxes outside the picture, or not boxes at all, are clamped into it.
        for area in [
            [-10.0, -4.0, 5.0, 100.0],
            [50.5, 40.5, 80.0, 60.0],
            [30.0, 30.0, 10.0, 10.0],
            [f64::NAN, 2.0, 9.0, f64::NAN],
        ] {
            assert!(mean_box(&planes, area, 3, &lut)
                .iter()
                .all(|v| v.is_finite()));
        }
        assert_eq!(
            mean_box(&planes, [0.0, 0.0, 0.0, 0.0], 1, &lut),
            yuv_to_rgb(16, 110, 150).map(|b| lut[usize::from(b)])
        );
    }

    #[test]
    fn sharpness_is_zero_on_a_flat_face_and_grows_with_detail() {
        let flat = YuvImage::from_planes(8, 8, &[100; 64], &[128; 16], &[128; 16]).unwrap();
        assert_eq!(sharpness(&flat.planes(), &face(0.0, 0.0, 8.0, 8.0)), 0.0);
        // A picture too small for the Laplacian's neighbours.
        let tiny = YuvImage::from_planes(2, 2, &[16, 235, 235, 16], &[128], &[128]).unwrap();
        assert_eq!(sharpness(&tiny.planes(), &face(0.0, 0.0, 2.0, 2.0)), 0.0);
        let image = picture();
        for face in [
            face(10.0, 8.0, 30.0, 25.0),
            face(-5.0, -5.0, 20.0, 70.0),
            face(61.0, 46.0, 9.0, 9.0),
            face(20.0, 20.0, 1.0, 1.0),
        ] {
            let value = sharpness(&image.planes(), &face);
            assert!(value.is_finite() && value >= 0.0, "{value}");
        }
        assert!(sharpness(&image.planes(), &face(10.0, 8.0, 30.0, 25.0)) > 0.0);
    }

    #[test]
    fn the_background_is_the_side_away_from_the_face() {
        let image = picture();
        let lut: [f32; 256] = std::array::from_fn(|byte| srgb_to_linear(byte as u8));
        let [left, right] = sides(&image.planes(), &lut);
        // The luma rises to the right: the right sixth is brighter.
        assert!(right[1] > left[1], "{left:?} {right:?}");
        let both = [0, 1, 2].map(|k| (left[k] + right[k]) / 2.0);
        assert_eq!(background(&[left, right], 64, None), both);
        // A face over the left side leaves the right and the other way round; a face in the
        // middle, or over both, leaves both.
        for (at, expected) in [
            (face(2.0, 5.0, 20.0, 20.0), right),
            (face(44.0, 5.0, 18.0, 20.0), left),
            (face(24.0, 5.0, 16.0, 20.0), both),
            (face(0.0, 0.0, 64.0, 48.0), both),
        ] {
            assert_eq!(
                background(&[left, right], 64, Some(&at)),
                expected,
                "{at:?}"
            );
        }
    }

    #[test]
    fn the_fingerprint_changes_with_the_picture() {
        let image = picture();
        assert_eq!(
            fingerprint(&image.planes()),
            fingerprint(&image.clone().planes())
        );
        let (w, h) = (64usize, 48usize);
        let mut y: Vec<u8> = (0..w * h).map(|i| 16 + (i % w * 3) as u8).collect();
        y[0] += 1;
        let u = vec![128; w * h / 4];
        let other = YuvImage::from_planes(w as u32, h as u32, &y, &u, &u).unwrap();
        assert_ne!(fingerprint(&image.planes()), fingerprint(&other.planes()));
    }
}
