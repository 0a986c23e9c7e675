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
use openliveness_vision::{BlazeFace, Detection, Keypoint, RgbImage};
use serde::Serialize;

use crate::identity::{orthonormal, remove_span};

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
    #[serde(skip)]
    pub image: std::sync::Arc<RgbImage>,
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
    /// are measured with the face predicted from the last two detections.
    pub detect_interval_ms: f64,
    /// Keep a candidate image at most this often.
    pub candidate_every_ms: f64,
}

impl Default for ObserveOptions {
    /// BlazeFace on every second frame (15 times a second at 30 frames/s). Fewer detections
    /// cost less but give identity fewer appearances to compare: on the calibration's 160 live
    /// and 160 swapped sessions, the best identity threshold errs on 4 sessions detecting 15
    /// times a second and on 11 at 4 (EVALUATION.md); the cost of each is in BENCHMARKS.md.
    fn default() -> Self {
        ObserveOptions {
            limits: DecodeLimits::default(),
            detect_every: NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN),
            detect_interval_ms: 60.0,
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
        image: ImageOutput::Decoded,
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
    basis: Vec<Vec<f64>>,
    observations: Observations,
    /// The last two faces detected, and when: the face on the frames between detections is
    /// predicted from them.
    last_face: Option<(f64, Detection)>,
    previous_face: Option<(f64, Detection)>,
    /// When the detector last ran.
    last_detection_ms: f64,
    first_pts_us: Option<i64>,
    last_candidate_ms: f64,
}

impl<'a> Observer<'a> {
    fn new(detector: &'a BlazeFace, options: &'a ObserveOptions) -> Self {
        Observer {
            detector,
            options,
            lut: std::array::from_fn(|byte| srgb_to_linear(byte as u8)),
            basis: smooth_basis(),
            observations: Observations::default(),
            last_face: None,
            previous_face: None,
            last_detection_ms: f64::NEG_INFINITY,
            first_pts_us: None,
            last_candidate_ms: f64::NEG_INFINITY,
        }
    }

    /// The face at `t_ms` on a frame the detector did not look at: the last one found, moved on
    /// along its motion since the one before (for at most one more interval).
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

    fn push(&mut self, frame: Frame) -> Result<(), ObserveError> {
        let Some(image) = frame.image else {
            return Ok(());
        };
        if self.observations.frames.is_empty() {
            self.observations.width = image.width();
            self.observations.height = image.height();
        }
        let pts = frame.timestamp_us.unwrap_or(0);
        let first = *self.first_pts_us.get_or_insert(pts);
        let t_ms = (pts - first) as f64 / 1000.0;
        let due = t_ms - self.last_detection_ms >= 0.9 * self.options.detect_interval_ms;
        let faces = match frame.detector_view.as_ref().filter(|_| due) {
            Some(view) => {
                self.last_detection_ms = t_ms;
                let mut faces = self
                    .detector
                    .detect(view, image.width(), image.height())
                    .map_err(|error| ObserveError::Detect(error.to_string()))?;
                // The person answering is the nearest face: the largest first.
                faces.sort_by(|a, b| b.bounding_box.width.total_cmp(&a.bounding_box.width));
                Some(faces)
            }
            None => None,
        };
        let found = faces.as_ref().and_then(|faces| faces.first()).cloned();
        let (face, predicted) = match &found {
            Some(face) => {
                self.previous_face = self.last_face.replace((t_ms, face.clone()));
                (Some(face.clone()), false)
            }
            None => (self.predicted(t_ms), true),
        };
        let regions = face
            .as_ref()
            .map(|face| region_means(&image, face, &self.lut));
        // The appearance where the face is where the detector saw it: detected, or predicted
        // while it holds still (a prediction of a moving face drifts off its features).
        let appearance = match (&found, &face) {
            (Some(found), _) => Some(appearance(&image, found, &self.basis)),
            (None, Some(face)) if self.still() => Some(appearance(&image, face, &self.basis)),
            _ => None,
        };
        let index = self.observations.frames.len();
        self.observations.frames.push(FrameObservation {
            t_ms,
            faces,
            background: background_mean(&image, face.as_ref(), &self.lut),
            fingerprint: fingerprint(&image),
            face,
            predicted: predicted && self.last_face.is_some(),
            regions,
            appearance,
        });
        if let Some(face) = &found {
            if t_ms - self.last_candidate_ms >= self.options.candidate_every_ms {
                self.last_candidate_ms = t_ms;
                let candidate = candidate(index, t_ms, image, face);
                self.observations.candidates.push(candidate);
            }
        }
        Ok(())
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

fn region_means(image: &RgbImage, face: &Detection, lut: &[f32; 256]) -> [[f32; 3]; 9] {
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

/// Mean linear RGB over a box (x0, y0, x1, y1), sampling every `step`-th pixel across and down
/// (row by row, left to right: the sums' order, and so their rounding, is part of the result).
fn mean_box(image: &RgbImage, area: [f64; 4], step: u32, lut: &[f32; 256]) -> [f32; 3] {
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let x0 = area[0].clamp(0.0, w - 1.0) as u32;
    let x1 = area[2].clamp(0.0, w - 1.0) as u32;
    let y0 = area[1].clamp(0.0, h - 1.0) as u32;
    let y1 = area[3].clamp(0.0, h - 1.0) as u32;
    let step = step.max(1) as usize;
    let mut sum = [0.0f32; 3];
    let mut count = 0u32;
    if x0 <= x1 {
        let columns = x0 as usize * 3..(x1 as usize + 1) * 3;
        for y in (y0..=y1).step_by(step) {
            for pixel in image.row(y)[columns.clone()].chunks_exact(3).step_by(step) {
                sum[0] += lut[usize::from(pixel[0])];
                sum[1] += lut[usize::from(pixel[1])];
                sum[2] += lut[usize::from(pixel[2])];
                count += 1;
            }
        }
    }
    let count = count.max(1) as f32;
    sum.map(|s| s / count)
}

/// The frame's left and right sixths, away from the face when it is on the other side.
fn background_mean(image: &RgbImage, face: Option<&Detection>, lut: &[f32; 256]) -> [f32; 3] {
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let strip = w / 6.0;
    let (left_free, right_free) = match face {
        Some(face) => (
            f64::from(face.bounding_box.left) > strip * 1.2,
            f64::from(face.bounding_box.right()) < w - strip * 1.2,
        ),
        None => (true, true),
    };
    let left = mean_box(image, [0.0, 0.0, strip, h], 4, lut);
    let right = mean_box(image, [w - strip, 0.0, w, h], 4, lut);
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
fn appearance(image: &RgbImage, face: &Detection, basis: &[Vec<f64>]) -> Vec<f32> {
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
            let p = image.pixel(x as u32, y as u32);
            for (channel, value) in channels.iter_mut().zip(p) {
                channel.push((f64::from(value) + 4.0).ln());
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

/// FNV-1a over a sparse grid of pixels.
fn fingerprint(image: &RgbImage) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let data = image.data();
    let step = (data.len() / 4099).max(1);
    for byte in data.iter().step_by(step) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn candidate(index: usize, t_ms: f64, image: RgbImage, face: &Detection) -> Candidate {
    let (w, h) = (image.width() as f32, image.height() as f32);
    let b = &face.bounding_box;
    Candidate {
        frame: index,
        t_ms,
        face: [b.left / w, b.top / h, b.width / w, b.height / h],
        sharpness: sharpness(&image, face),
        image: std::sync::Arc::new(image),
    }
}

/// Variance of a 4-neighbour Laplacian of the green channel over the face box.
fn sharpness(image: &RgbImage, face: &Detection) -> f32 {
    let b = &face.bounding_box;
    let (w, h) = (i64::from(image.width()), i64::from(image.height()));
    let x0 = (b.left as i64).clamp(1, w - 2);
    let x1 = (b.right() as i64).clamp(1, w - 2);
    let y0 = (b.top as i64).clamp(1, h - 2);
    let y1 = (b.bottom() as i64).clamp(1, h - 2);
    if x0 > x1 || y0 > y1 {
        return 0.0;
    }
    // The green bytes of a row, from column x0 - 1 to x1 + 1.
    let green = |y: i64| {
        let row = &image.row(y as u32)[(x0 as usize - 1) * 3..(x1 as usize + 2) * 3];
        row.chunks_exact(3).map(|pixel| f32::from(pixel[1]))
    };
    let mut laplacian = Moments::default();
    let mut y = y0;
    while y <= y1 {
        // Columns x - 1, x, x + 1 of this row, and x of the rows above and below, for
        // x = x0, x0 + 2, ... up to x1.
        let middle: Vec<f32> = green(y).collect();
        let above = green(y - 1).skip(1).step_by(2);
        let below = green(y + 1).skip(1).step_by(2);
        let across = middle.windows(3).step_by(2);
        for ((window, up), down) in across.zip(above).zip(below) {
            laplacian.add(4.0 * window[1] - window[0] - window[2] - up - down);
        }
        y += 2;
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
    use openliveness_vision::{BoundingBox, Point};

    /// A deterministic 64x48 image of pseudo-random bytes.
    fn noise() -> RgbImage {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let data = (0..64 * 48 * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 56) as u8
            })
            .collect();
        RgbImage::new(64, 48, data).unwrap()
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

    /// The measures as they were first written, pixel by pixel: the faster forms must give the
    /// same bits, or the engine's decisions would move.
    fn mean_box_by_pixel(image: &RgbImage, area: [f64; 4], step: u32, lut: &[f32]) -> [f32; 3] {
        let (w, h) = (f64::from(image.width()), f64::from(image.height()));
        let x0 = area[0].clamp(0.0, w - 1.0) as u32;
        let x1 = area[2].clamp(0.0, w - 1.0) as u32;
        let y0 = area[1].clamp(0.0, h - 1.0) as u32;
        let y1 = area[3].clamp(0.0, h - 1.0) as u32;
        let mut sum = [0.0f32; 3];
        let mut count = 0u32;
        let mut y = y0;
        while y <= y1 {
            let mut x = x0;
            while x <= x1 {
                let pixel = image.pixel(x, y);
                for (total, byte) in sum.iter_mut().zip(pixel) {
                    *total += lut[usize::from(byte)];
                }
                count += 1;
                x += step;
            }
            y += step;
        }
        let count = count.max(1) as f32;
        sum.map(|s| s / count)
    }

    fn sharpness_by_pixel(image: &RgbImage, face: &Detection) -> f32 {
        let b = &face.bounding_box;
        let (w, h) = (i64::from(image.width()), i64::from(image.height()));
        let x0 = (b.left as i64).clamp(1, w - 2);
        let x1 = (b.right() as i64).clamp(1, w - 2);
        let y0 = (b.top as i64).clamp(1, h - 2);
        let y1 = (b.bottom() as i64).clamp(1, h - 2);
        let g = |x: i64, y: i64| f32::from(image.pixel(x as u32, y as u32)[1]);
        let mut laplacian = Moments::default();
        let mut y = y0;
        while y <= y1 {
            let mut x = x0;
            while x <= x1 {
                laplacian
                    .add(4.0 * g(x, y) - g(x - 1, y) - g(x + 1, y) - g(x, y - 1) - g(x, y + 1));
                x += 2;
            }
            y += 2;
        }
        laplacian.variance()
    }

    #[test]
    fn mean_box_and_sharpness_give_the_same_bits_as_pixel_by_pixel() {
        let image = noise();
        let lut: [f32; 256] = std::array::from_fn(|byte| srgb_to_linear(byte as u8));
        let areas = [
            [0.0, 0.0, 63.0, 47.0],
            [3.2, 5.9, 17.7, 30.1],
            [-10.0, -4.0, 5.0, 100.0],
            [50.5, 40.5, 80.0, 60.0],
            [20.0, 20.0, 20.0, 20.0],
            [30.0, 30.0, 10.0, 10.0],
            [f64::NAN, 2.0, 9.0, f64::NAN],
        ];
        for area in areas {
            for step in [1, 2, 3, 4] {
                let fast = mean_box(&image, area, step, &lut);
                let slow = mean_box_by_pixel(&image, area, step, &lut);
                assert_eq!(
                    fast.map(f32::to_bits),
                    slow.map(f32::to_bits),
                    "{area:?} {step}"
                );
            }
        }
        let faces = [
            face(10.0, 8.0, 30.0, 25.0),
            face(-5.0, -5.0, 20.0, 70.0),
            face(40.3, 30.7, 40.0, 40.0),
            face(61.0, 46.0, 9.0, 9.0),
            face(20.0, 20.0, 1.0, 1.0),
        ];
        for face in &faces {
            assert_eq!(
                sharpness(&image, face).to_bits(),
                sharpness_by_pixel(&image, face).to_bits(),
                "{:?}",
                face.bounding_box
            );
        }
    }
}
