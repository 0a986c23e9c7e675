//! The face: a real photograph as texture (astronaut.png, Eileen Collins, NASA, public domain,
//! installed by `scripts/setup-vision.sh` from the scikit-image wheel and pinned by sha256), an
//! identity drawn from a seed (warp and skin tone), and the shapes the texture is laid on: a 3D
//! head (a height field on an ellipsoid: in the room, MediaPipe's measured face ([`crate::mesh`]);
//! in the studio, a nose, eye sockets and a chin drawn as bumps), a flat print, and a print bent
//! around a cylinder. On the face, what changes from frame to frame
//! (blinks, speech, smiles: [`ExpressionTrack`]) and what some people have (a [`Beard`]), drawn as
//! a remap of the photograph and a change of its albedo.
//!
//! Head coordinates are centimetres with the origin between the eyes: x to the image's right,
//! y down, z toward the camera.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::mesh::{ellipsoid, Relief, HEAD_CENTRE_Y, HEAD_HALF_HEIGHT, HEAD_HALF_WIDTH};
use crate::rng::Rng;

/// The photograph's file name.
pub const TEXTURE_FILE_NAME: &str = "astronaut.png";
/// The environment variable that points at the photograph when it is not in `testdata/vision/`.
pub const TEXTURE_PATH_ENV: &str = "OPENLIVENESS_FACE_TEXTURE";

/// Where the face is in astronaut.png (512x512): BlazeFace's keypoints measured on the
/// photograph (`openliveness inspect`), in pixels: right eye, left eye, nose tip, mouth, right
/// ear tragion, left ear tragion.
const TEXTURE_KEYPOINTS: [[f64; 2]; 6] = [
    [203.7, 100.8],
    [247.9, 108.4],
    [221.6, 124.3],
    [218.6, 145.2],
    [178.0, 109.5],
    [271.4, 125.1],
];
/// A typical adult interpupillary distance, which sets the photograph's scale.
pub const EYE_DISTANCE_CM: f64 = 6.3;
/// BlazeFace's box on the photograph, relative to the eyes' midpoint in head coordinates: its
/// centre is this far below the eyes, and it is this wide (and as high).
pub const FACE_BOX_CENTRE_BELOW_EYES_CM: f64 = 3.3;
pub const FACE_BOX_SIDE_CM: f64 = 13.2;

/// Why the face's photograph or mesh cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error(
        "the face photograph is missing at {0}: run scripts/setup-vision.sh (or set OPENLIVENESS_FACE_TEXTURE)"
    )]
    Missing(PathBuf),
    #[error(
        "the face mesh is missing at {0}: run scripts/setup-vision.sh (or set OPENLIVENESS_FACE_MESH)"
    )]
    MissingMesh(PathBuf),
    #[error("{0} cannot be read: {1}")]
    Unreadable(PathBuf, String),
}

/// Where the photograph is looked for: `$OPENLIVENESS_FACE_TEXTURE`, else
/// `testdata/vision/astronaut.png` under the current directory or the source checkout.
pub fn default_texture_path() -> PathBuf {
    in_testdata(TEXTURE_PATH_ENV, TEXTURE_FILE_NAME)
}

/// `$variable` when set, else `testdata/vision/<file_name>` under the current directory or the
/// source checkout (the first that exists; the current directory's when neither does).
pub fn in_testdata(variable: &str, file_name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let relative = Path::new("testdata/vision").join(file_name);
    if relative.is_file() {
        return relative;
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/vision")
        .join(file_name);
    if checkout.is_file() {
        return checkout;
    }
    relative
}

/// sRGB (0-255) to linear light (0-1).
pub fn srgb_to_linear(value: u8) -> f32 {
    let c = f32::from(value) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// Linear light (clamped to 0-1) to sRGB, unrounded (0-255).
pub fn linear_to_srgb(value: f32) -> f32 {
    let c = value.clamp(0.0, 1.0);
    255.0
        * if c <= 0.003_130_8 {
            c * 12.92
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        }
}

/// A photograph in linear RGB.
#[derive(Debug)]
pub struct Texture {
    pub width: usize,
    pub height: usize,
    pub data: Vec<[f32; 3]>,
}

impl Texture {
    pub fn load(path: &Path) -> Result<Texture, AssetError> {
        let file = std::fs::File::open(path).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                AssetError::Missing(path.to_owned())
            } else {
                AssetError::Unreadable(path.to_owned(), error.to_string())
            }
        })?;
        let unreadable = |detail: String| AssetError::Unreadable(path.to_owned(), detail);
        let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| unreadable(e.to_string()))?;
        let mut buffer = vec![0; reader.output_buffer_size().unwrap_or(0)];
        let info = reader
            .next_frame(&mut buffer)
            .map_err(|e| unreadable(e.to_string()))?;
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => return Err(unreadable(format!("unsupported colour type {other:?}"))),
        };
        let (width, height) = (info.width as usize, info.height as usize);
        let lut: Vec<f32> = (0..=255u8).map(srgb_to_linear).collect();
        let data = buffer[..width * height * channels]
            .chunks_exact(channels)
            .map(|p| [lut[p[0] as usize], lut[p[1] as usize], lut[p[2] as usize]])
            .collect();
        Ok(Texture {
            width,
            height,
            data,
        })
    }

    /// Loads the default photograph once per process.
    pub fn shared() -> Result<Arc<Texture>, AssetError> {
        static TEXTURE: std::sync::OnceLock<Arc<Texture>> = std::sync::OnceLock::new();
        if let Some(texture) = TEXTURE.get() {
            return Ok(Arc::clone(texture));
        }
        let texture = Arc::new(Texture::load(&default_texture_path())?);
        Ok(Arc::clone(TEXTURE.get_or_init(|| texture)))
    }

    /// Bilinear sample at pixel coordinates (clamped to the edge).
    pub fn sample(&self, x: f64, y: f64) -> [f32; 3] {
        let x = x.clamp(0.0, (self.width - 1) as f64);
        let y = y.clamp(0.0, (self.height - 1) as f64);
        // Truncation is the floor here (both are at least 0), without a call into libm.
        let (x0, y0) = (x as usize, y as usize);
        let (x1, y1) = ((x0 + 1).min(self.width - 1), (y0 + 1).min(self.height - 1));
        let (fx, fy) = ((x - x0 as f64) as f32, (y - y0 as f64) as f32);
        let p = |xx: usize, yy: usize| self.data[yy * self.width + xx];
        let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
        let mut out = [0.0; 3];
        for k in 0..3 {
            let top = a[k] + (b[k] - a[k]) * fx;
            let bottom = c[k] + (d[k] - c[k]) * fx;
            out[k] = top + (bottom - top) * fy;
        }
        out
    }
}

/// Who the simulated person is: how the photograph is warped and recoloured, and the head's
/// proportions.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// Horizontal and vertical stretch of the face (eye spacing, face length).
    pub stretch_x: f64,
    pub stretch_y: f64,
    /// A smooth warp: amplitude (cm) and phase.
    pub warp: f64,
    pub warp_phase: f64,
    /// Skin tone: a linear-light multiplier per channel.
    pub tone: [f32; 3],
    /// Mirror the photograph (another face to the detector and to appearance).
    pub mirrored: bool,
    /// How far the nose stands out (cm).
    pub nose_height: f64,
}

impl Identity {
    /// The photograph as it is.
    pub fn reference() -> Identity {
        Identity {
            stretch_x: 1.0,
            stretch_y: 1.0,
            warp: 0.0,
            warp_phase: 0.0,
            tone: [1.0, 1.0, 1.0],
            mirrored: false,
            nose_height: 2.2,
        }
    }

    /// An identity drawn from the generator: stretch within ±8%, a light warp, a skin tone from
    /// light to very dark.
    pub fn draw(rng: &mut Rng) -> Identity {
        let darkness = rng.range(0.0, 1.0);
        let tone = Identity::tone_of(darkness);
        Identity {
            stretch_x: rng.range(0.92, 1.08),
            stretch_y: rng.range(0.92, 1.08),
            warp: rng.range(0.0, 0.35),
            warp_phase: rng.range(0.0, std::f64::consts::TAU),
            tone,
            mirrored: rng.chance(0.5),
            nose_height: rng.range(1.8, 2.6),
        }
    }

    /// The skin tone of this darkness (0: the photograph's light skin; 1: very dark): light skin
    /// keeps the photograph, darker skin lowers all channels, blue most.
    pub fn tone_of(darkness: f64) -> [f32; 3] {
        let level = 1.0 - 0.72 * darkness;
        [
            level as f32,
            level.powf(1.12) as f32,
            level.powf(1.3) as f32,
        ]
    }

    /// A clearly different person from `self` (for face swaps and second faces).
    pub fn other(&self, rng: &mut Rng) -> Identity {
        let mut other = Identity::draw(rng);
        other.mirrored = !self.mirrored;
        // Other proportions: the face's length over its width differs by 12-20%.
        let ratio = self.stretch_y / self.stretch_x;
        let factor = if rng.chance(0.5) {
            rng.range(1.12, 1.2)
        } else {
            1.0 / rng.range(1.12, 1.2)
        };
        other.stretch_x = rng.range(0.93, 1.07);
        other.stretch_y = other.stretch_x * ratio * factor;
        other
    }
}

/// The six keypoints in head coordinates (cm, before the identity's stretch), in BlazeFace's
/// order.
pub fn head_keypoints() -> [[f64; 2]; 6] {
    let (eye_mid, roll, scale) = photo_frame();
    let mut out = [[0.0; 2]; 6];
    for (point, texture) in out.iter_mut().zip(TEXTURE_KEYPOINTS) {
        let (dx, dy) = (texture[0] - eye_mid[0], texture[1] - eye_mid[1]);
        let (s, c) = (-roll).sin_cos();
        *point = [(c * dx - s * dy) / scale, (s * dx + c * dy) / scale];
    }
    out
}

/// The eyes' midpoint in the photograph, the face's roll there, and pixels per centimetre.
fn photo_frame() -> ([f64; 2], f64, f64) {
    let [right, left] = [TEXTURE_KEYPOINTS[0], TEXTURE_KEYPOINTS[1]];
    let mid = [(right[0] + left[0]) / 2.0, (right[1] + left[1]) / 2.0];
    let (dx, dy) = (left[0] - right[0], left[1] - right[1]);
    let roll = dy.atan2(dx);
    let scale = (dx * dx + dy * dy).sqrt() / EYE_DISTANCE_CM;
    (mid, roll, scale)
}

/// Maps head coordinates (cm) of an identity to the photograph's pixels.
#[derive(Debug, Clone)]
pub struct TextureMap {
    eye_mid: [f64; 2],
    cos: f64,
    sin: f64,
    scale: f64,
    identity: Identity,
}

impl TextureMap {
    pub fn new(identity: &Identity) -> TextureMap {
        let (eye_mid, roll, scale) = photo_frame();
        TextureMap {
            eye_mid,
            cos: roll.cos(),
            sin: roll.sin(),
            scale,
            identity: identity.clone(),
        }
    }

    /// The photograph pixel shown at head point (x, y).
    pub fn pixel(&self, x: f64, y: f64) -> [f64; 2] {
        self.photo_pixel(self.photo_point(x, y))
    }

    /// What a point of the photograph's head frame ([`TextureMap::photo_point`]) shows with
    /// this expression and beard: the photograph's pixel (the features moved), the albedo's
    /// multiplier and the beard's share.
    pub fn look(&self, photo: [f64; 2], expression: &Expression, beard: Option<&Beard>) -> Look {
        let moved = expression.source(photo);
        Look {
            pixel: self.photo_pixel(moved.point),
            shade: moved.shade as f32,
            beard: beard.map_or(0.0, |beard| beard.cover(moved.point)),
            detailed: moved.detailed,
        }
    }

    /// Head point (x, y) of the identity in the photograph's head frame (cm): unmirrored,
    /// unstretched, unwarped. The photograph's features are fixed there.
    pub fn photo_point(&self, x: f64, y: f64) -> [f64; 2] {
        let id = &self.identity;
        let x = if id.mirrored { -x } else { x };
        let mut u = x / id.stretch_x;
        let mut v = y / id.stretch_y;
        u += id.warp * (v * 0.45 + id.warp_phase).sin();
        v += id.warp * (u * 0.5 + id.warp_phase * 0.7).cos() * 0.6;
        [u, v]
    }

    /// A point of the photograph's head frame (cm) to its pixel.
    fn photo_pixel(&self, point: [f64; 2]) -> [f64; 2] {
        let (u, v) = (point[0] * self.scale, point[1] * self.scale);
        [
            self.eye_mid[0] + self.cos * u - self.sin * v,
            self.eye_mid[1] + self.sin * u + self.cos * v,
        ]
    }
}

/// What the face is doing at one instant: the eyelids, the lips, a smile. Each is 0 (as in the
/// photograph) to 1; values outside are clamped.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Expression {
    /// 0: eyes open; 1: closed (the upper lids down to the lower).
    pub blink: f32,
    /// 0: lips as in the photograph; 1: parted about 1.2 cm (the jaw dropped).
    pub mouth_open: f32,
    /// 0: none; 1: the mouth's corners about 0.5 cm up and out, the cheeks raised.
    pub smile: f32,
}

impl Expression {
    /// The photograph's own expression: nothing moves.
    pub const NEUTRAL: Expression = Expression {
        blink: 0.0,
        mouth_open: 0.0,
        smile: 0.0,
    };

    /// Whether the face is as in the photograph (the renderer then skips the remap).
    pub fn is_neutral(&self) -> bool {
        self.blink <= 0.0 && self.mouth_open <= 0.0 && self.smile <= 0.0
    }

    /// What a point of the photograph (cm, its head frame) shows with this expression.
    fn source(&self, point: [f64; 2]) -> Moved {
        let mut moved = Moved {
            point,
            shade: 1.0,
            detailed: false,
        };
        let smile = f64::from(self.smile.clamp(0.0, 1.0));
        if smile > 0.0 {
            let by = smile_displacement(point);
            moved.point = [point[0] - smile * by[0], point[1] - smile * by[1]];
        }
        let open = f64::from(self.mouth_open.clamp(0.0, 1.0));
        if open > 0.0 {
            part_lips(&mut moved, open);
        }
        let blink = f64::from(self.blink.clamp(0.0, 1.0));
        if blink > 0.0 {
            for eye in [RIGHT_EYE, LEFT_EYE] {
                lower_lid(&eye, &mut moved, blink);
            }
        }
        moved
    }
}

/// Where a point of the photograph moves with an expression.
#[derive(Debug, Clone, Copy)]
struct Moved {
    /// The photograph point it shows (cm).
    point: [f64; 2],
    /// Albedo multiplier: the mouth's dark inside.
    shade: f64,
    /// Near an edge the mesh is too coarse for (a lid's, the lips' gap): to be looked up at
    /// every pixel rather than interpolated from the mesh's vertices.
    detailed: bool,
}

/// How far around the lids' and the gap's edges points are `detailed` (cm): more than a mesh
/// cell's diagonal, so that every triangle an edge crosses has such a corner.
const DETAIL_MARGIN_CM: f64 = 0.45;

/// An ellipse (or a frame) on the photograph: centre, the direction of its first axis, its
/// half-sizes (cm).
#[derive(Debug, Clone, Copy)]
struct Feature {
    centre: [f64; 2],
    /// Cosine and sine of the first axis' angle (radians, y down).
    axis: [f64; 2],
    half: [f64; 2],
}

impl Feature {
    const fn new(centre: [f64; 2], axis: [f64; 2], half: [f64; 2]) -> Feature {
        Feature { centre, axis, half }
    }

    /// A point in the feature's frame: along its first axis and across (down) it.
    fn local(&self, p: [f64; 2]) -> [f64; 2] {
        let (dx, dy) = (p[0] - self.centre[0], p[1] - self.centre[1]);
        let [c, s] = self.axis;
        [c * dx + s * dy, -s * dx + c * dy]
    }

    /// Back from the feature's frame to the photograph's.
    fn global(&self, l: [f64; 2]) -> [f64; 2] {
        let [c, s] = self.axis;
        [
            self.centre[0] + c * l[0] - s * l[1],
            self.centre[1] + s * l[0] + c * l[1],
        ]
    }

    /// The elliptical radius of a point (1 on the outline).
    fn radius(&self, p: [f64; 2]) -> f64 {
        let [a, b] = self.local(p);
        ((a / self.half[0]).powi(2) + (b / self.half[1]).powi(2)).sqrt()
    }
}

// The photograph's features, measured on astronaut.png and given in its head frame (cm, the frame
// of `head_keypoints`, before an identity's stretch, warp and mirroring). Measured rather than
// taken from the keypoints: BlazeFace puts the left eye 5 px (0.7 cm) below the eye, and its
// eye line is 10° steeper than the face's, so the features lean by about -10° here.

/// The eyes' openings (between the lids), about 3 cm wide and 1 cm high.
const RIGHT_EYE: Feature = Feature::new([-3.43, 0.04], [0.990, -0.139], [1.55, 0.55]);
const LEFT_EYE: Feature = Feature::new([2.66, -0.66], [0.982, -0.191], [1.55, 0.52]);
/// How much lid skin above each eye slides down over it when it closes (cm).
const LID_SKIN_CM: f64 = 0.45;
/// The mouth: centred between its corners (5.7 cm apart: the photograph smiles), its first
/// axis from corner to corner; the half-sizes are the lips' extent.
const MOUTH: Feature = Feature::new([0.595, 5.16], [0.981, -0.193], [2.85, 1.25]);
/// Where the lips part: this far below the corners' line at the middle (the upper teeth's
/// edge), curving up to the corners.
const PARTING_DEPTH_CM: f64 = 0.94;
/// Half-width of the region the lips part over (a little beyond the corners).
const PARTING_HALF_WIDTH_CM: f64 = 3.2;
/// The gap between the lips at the middle when the mouth is fully open, and how much of it is
/// the upper lip rising (the rest is the jaw dropping).
const MOUTH_GAP_CM: f64 = 1.2;
const UPPER_LIP_SHARE: f64 = 0.25;
/// How far above and below the lips the skin is pulled along (cm).
const LIP_PULL_ABOVE_CM: f64 = 1.5;
const LIP_PULL_BELOW_CM: f64 = 3.0;
/// The mouth's inside, relative to what the lips' texture would give.
const MOUTH_INSIDE_ALBEDO: f64 = 0.07;
/// The gap's edges are soft over this (cm, about a pixel of a close face).
const SHADE_FILTER_CM: f64 = 0.08;
/// The face's upright frame: the eyes' midpoint, leaning like the features.
const FACE: Feature = Feature::new([-0.385, -0.31], [0.988, -0.156], [1.0, 1.0]);
/// The face's down direction (unit, in the photograph's frame).
const FACE_DOWN: [f64; 2] = [-FACE.axis[1], FACE.axis[0]];

/// 0 below 0, 1 above 1, smooth between.
pub(crate) fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// 0 at `low`, 1 at `high`, smooth between.
fn ramp(low: f64, high: f64, x: f64) -> f64 {
    smoothstep((x - low) / (high - low))
}

/// How a full smile moves the photograph's points (cm): each mouth corner 0.45 cm up and 0.2 cm
/// out, the skin within 2.2 cm of it along, and the cheeks under the eyes 0.2 cm up (within
/// 3 cm).
fn smile_displacement(p: [f64; 2]) -> [f64; 2] {
    let mut moved = [0.0, 0.0];
    let [c, s] = MOUTH.axis;
    // Up in the mouth's frame is -y across its axis.
    let up = [s, -c];
    // A smooth bump, 1 at the centre and 0 from `radius` on: close to a Gaussian whose sigma is
    // 0.4 of the radius, but with nothing beyond, so the rest of the face stays exactly as it is.
    let mut add = |centre: [f64; 2], radius: f64, by: [f64; 2]| {
        let d2 = ((p[0] - centre[0]).powi(2) + (p[1] - centre[1]).powi(2)) / (radius * radius);
        if d2 < 1.0 {
            let weight = (1.0 - d2).powi(3);
            moved[0] += weight * by[0];
            moved[1] += weight * by[1];
        }
    };
    for side in [-1.0, 1.0] {
        let corner = MOUTH.global([side * MOUTH.half[0], 0.0]);
        let out = [side * c * 0.2, side * s * 0.2];
        add(corner, 2.2, [out[0] + up[0] * 0.45, out[1] + up[1] * 0.45]);
    }
    // The cheeks: 2 cm below the eyes.
    let [down_x, down_y] = FACE_DOWN;
    for eye in [RIGHT_EYE, LEFT_EYE] {
        let cheek = [eye.centre[0] + 2.0 * down_x, eye.centre[1] + 2.0 * down_y];
        add(cheek, 3.0, [-0.2 * down_x, -0.2 * down_y]);
    }
    moved
}

/// The lips parted by `open` (0-1): the photograph point a face point shows, and the mouth's
/// dark inside between them (its edges soft over `SHADE_FILTER_CM`).
fn part_lips(moved: &mut Moved, open: f64) {
    let [s, t] = MOUTH.local(moved.point);
    let u = s / PARTING_HALF_WIDTH_CM;
    if u.abs() >= 1.0 {
        return;
    }
    let gap = MOUTH_GAP_CM * open * (1.0 - u * u).powi(2);
    let (up, down) = (gap * UPPER_LIP_SHARE, gap * (1.0 - UPPER_LIP_SHARE));
    let parting = PARTING_DEPTH_CM * (1.0 - (s / MOUTH.half[0]).powi(2));
    let (top, bottom) = (parting - up, parting + down);
    if t <= top - LIP_PULL_ABOVE_CM || t >= bottom + LIP_PULL_BELOW_CM {
        return;
    }
    moved.detailed |= t > top - DETAIL_MARGIN_CM && t < bottom + DETAIL_MARGIN_CM;
    let source = if t < top {
        t + up * (1.0 - smoothstep((top - t) / LIP_PULL_ABOVE_CM))
    } else if t > bottom {
        t - down * (1.0 - smoothstep((t - bottom) / LIP_PULL_BELOW_CM))
    } else {
        parting
    };
    let half = SHADE_FILTER_CM / 2.0;
    let covered = ((t + half).min(bottom) - (t - half).max(top)).max(0.0) / SHADE_FILTER_CM;
    moved.point = MOUTH.global([s, source]);
    moved.shade *= 1.0 - covered * (1.0 - MOUTH_INSIDE_ALBEDO);
}

/// The eye's upper lid lowered by `blink` (0-1): inside the eye's opening, the part above the
/// lid's edge shows the lid, which is the skin just above the opening stretched down.
fn lower_lid(eye: &Feature, moved: &mut Moved, blink: f64) {
    let [s, t] = eye.local(moved.point);
    if s.abs() < eye.half[0] + DETAIL_MARGIN_CM
        && t > -eye.half[1] - LID_SKIN_CM - DETAIL_MARGIN_CM
        && t < eye.half[1] + DETAIL_MARGIN_CM
    {
        moved.detailed = true;
    }
    let across = 1.0 - (s / eye.half[0]).powi(2);
    if across <= 0.0 {
        return;
    }
    let half_height = eye.half[1] * across.sqrt();
    let skin_top = -half_height - LID_SKIN_CM;
    let edge = -half_height + blink * 2.0 * half_height;
    if t <= skin_top || t >= edge {
        return;
    }
    // [skin_top, edge] on the face shows [skin_top, -half_height] of the photograph.
    let source = skin_top + (t - skin_top) * LID_SKIN_CM / (edge - skin_top);
    moved.point = eye.global([s, source]);
}

/// Where a beard grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BeardKind {
    /// Short hair over a full beard's region, at a low density: the skin shows through.
    Stubble,
    /// The jaw and chin below the cheekbones, and the upper lip.
    Full,
    /// The chin and around the mouth.
    Goatee,
}

impl BeardKind {
    pub const ALL: &[BeardKind] = &[BeardKind::Stubble, BeardKind::Full, BeardKind::Goatee];

    pub fn name(self) -> &'static str {
        match self {
            BeardKind::Stubble => "stubble",
            BeardKind::Full => "full",
            BeardKind::Goatee => "goatee",
        }
    }

    pub fn parse(name: &str) -> Option<BeardKind> {
        BeardKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.name() == name)
    }

    /// How much of a photograph point (cm, the photograph's frame) this kind covers: 0-1,
    /// with soft edges about half a centimetre wide.
    pub fn weight(self, p: [f64; 2]) -> f64 {
        let [fx, fy] = FACE.local(p);
        // The lips themselves stay bare (an ellipse around both lips).
        let lips = Feature::new(MOUTH.global([0.0, 0.63]), MOUTH.axis, [3.0, 1.25]);
        let off_lips = ramp(0.85, 1.1, lips.radius(p));
        // The face's outline: nothing past the jaw.
        let outline = Feature::new([0.3, 4.3], [1.0, 0.0], [6.2, 7.2]);
        let on_face = 1.0 - ramp(0.9, 1.02, outline.radius([fx, fy]));
        match self {
            BeardKind::Full | BeardKind::Stubble => {
                // Below the line from the sideburns down the cheeks to under the nose.
                let side = ((fx - 0.15).abs() - 1.4).max(0.0);
                let line = 4.25 - 0.6 * side;
                ramp(line - 0.25, line + 0.25, fy) * off_lips * on_face
            }
            BeardKind::Goatee => {
                // From under the nose round the mouth's corners down to the chin.
                let around_mouth = Feature::new(MOUTH.global([0.0, 1.5]), MOUTH.axis, [3.7, 3.0]);
                let chin = Feature::new([0.2, 9.8], [1.0, 0.0], [2.3, 1.7]);
                let mouth = 1.0 - ramp(0.85, 1.0, around_mouth.radius(p));
                let chin = 1.0 - ramp(0.8, 1.0, chin.radius([fx, fy]));
                mouth.max(chin) * ramp(4.0, 4.4, fy) * off_lips * on_face
            }
        }
    }
}

/// A beard: its hair's colour, how thick it is, where it grows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beard {
    /// The hair's albedo (linear RGB): dark to blond, like head hair.
    pub colour: [f32; 3],
    /// 0-1: how much of the skin the hair hides where it grows.
    pub density: f32,
    pub kind: BeardKind,
}

impl Beard {
    /// How much of the albedo at a photograph point is the beard's (0-1).
    fn cover(&self, p: [f64; 2]) -> f32 {
        (self.kind.weight(p) * f64::from(self.density.clamp(0.0, 1.0))) as f32
    }
}

/// A beard for about a quarter of people (stubble 10%, full 10%, goatee 5%), its colour near
/// the hair's.
pub fn draw_beard(rng: &mut Rng, hair_colour: [f32; 3]) -> Option<Beard> {
    let which = rng.unit();
    let (kind, density) = if which < 0.10 {
        (BeardKind::Stubble, rng.range(0.25, 0.45))
    } else if which < 0.20 {
        (BeardKind::Full, rng.range(0.75, 0.95))
    } else if which < 0.25 {
        (BeardKind::Goatee, rng.range(0.7, 0.95))
    } else {
        return None;
    };
    // A little lighter or darker than the hair, sometimes a little redder.
    let level = rng.range(0.8, 1.25) as f32;
    let red = rng.range(1.0, 1.15) as f32;
    let colour = [
        (hair_colour[0] * level * red).min(0.6),
        (hair_colour[1] * level).min(0.6),
        (hair_colour[2] * level / red).min(0.6),
    ];
    Some(Beard {
        colour,
        density: density as f32,
        kind,
    })
}

/// What a head point shows once the face moves and wears its beard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Look {
    /// The photograph pixel.
    pub pixel: [f64; 2],
    /// Albedo multiplier: 1, less in the open mouth.
    pub shade: f32,
    /// How much of the albedo is the beard's hair (0-1).
    pub beard: f32,
    /// Near a sharp edge (a lid's, the open lips'): the mesh is too coarse to interpolate
    /// this, the renderer looks it up at every pixel.
    pub detailed: bool,
}

/// One blink: the lid comes down fast and goes up more slowly.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Blink {
    start_ms: f64,
    closing_ms: f64,
    opening_ms: f64,
}

/// One syllable: the mouth opens to `peak` and closes again.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Syllable {
    start_ms: f64,
    length_ms: f64,
    peak: f64,
}

/// A smile: on over 0.3 s, held, off over 0.4 s.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Smile {
    start_ms: f64,
    hold_ms: f64,
    level: f64,
}

const SMILE_ON_MS: f64 = 300.0;
const SMILE_OFF_MS: f64 = 400.0;

/// A person's expression through a session: blinks every 2-8 s, sometimes speech ("is it
/// working?"), sometimes a smile. Drawn once from the session's generator, then read at any
/// time.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpressionTrack {
    blinks: Vec<Blink>,
    syllables: Vec<Syllable>,
    smiles: Vec<Smile>,
}

impl ExpressionTrack {
    /// No blinks, no speech, no smile: the photograph's expression throughout.
    pub fn still() -> ExpressionTrack {
        ExpressionTrack {
            blinks: Vec::new(),
            syllables: Vec::new(),
            smiles: Vec::new(),
        }
    }

    /// The expressions of a session `duration_ms` long: blinks 2-8 s apart (mean about 4 s),
    /// each 100-300 ms; in 40% of sessions one to three speech episodes of 0.5-2 s (syllables at
    /// 3-6 Hz, the mouth opening to 0.2-0.8); in 30% a smile held for 1-3 s.
    pub fn draw(rng: &mut Rng, duration_ms: f64) -> ExpressionTrack {
        // Intervals of 2 + 6u² s: from 2 to 8 s, 4 s on average.
        let interval = |rng: &mut Rng| 2_000.0 + 6_000.0 * rng.unit().powi(2);
        let mut blinks = Vec::new();
        let mut at = interval(rng) * rng.unit();
        while at < duration_ms {
            let length = rng.range(100.0, 300.0);
            let closing = length * rng.range(0.3, 0.4);
            blinks.push(Blink {
                start_ms: at,
                closing_ms: closing,
                opening_ms: length - closing,
            });
            at += interval(rng);
        }
        let mut syllables = Vec::new();
        if rng.chance(0.4) {
            for _ in 0..rng.between(1, 3) {
                let start = rng.range(0.0, (duration_ms - 500.0).max(0.0));
                let end = start + rng.range(500.0, 2_000.0);
                let mut at = start;
                while at < end {
                    let length = 1_000.0 / rng.range(3.0, 6.0);
                    syllables.push(Syllable {
                        start_ms: at,
                        length_ms: length,
                        peak: rng.range(0.2, 0.8),
                    });
                    at += length;
                }
            }
        }
        let mut smiles = Vec::new();
        if rng.chance(0.3) {
            smiles.push(Smile {
                start_ms: rng.range(0.0, (duration_ms - 1_000.0).max(0.0)),
                hold_ms: rng.range(1_000.0, 3_000.0),
                level: rng.range(0.6, 1.0),
            });
        }
        ExpressionTrack {
            blinks,
            syllables,
            smiles,
        }
    }

    /// The expression at `t_ms` from the session's start.
    pub fn at(&self, t_ms: f64) -> Expression {
        let blink = self
            .blinks
            .iter()
            .map(|b| {
                let t = t_ms - b.start_ms;
                if t <= 0.0 || t >= b.closing_ms + b.opening_ms {
                    0.0
                } else if t < b.closing_ms {
                    smoothstep(t / b.closing_ms)
                } else {
                    1.0 - smoothstep((t - b.closing_ms) / b.opening_ms)
                }
            })
            .fold(0.0, f64::max);
        let mouth_open = self
            .syllables
            .iter()
            .map(|s| {
                let t = (t_ms - s.start_ms) / s.length_ms;
                if t <= 0.0 || t >= 1.0 {
                    0.0
                } else {
                    s.peak * (std::f64::consts::PI * t).sin().powi(2)
                }
            })
            .fold(0.0, f64::max);
        let smile = self
            .smiles
            .iter()
            .map(|s| {
                let t = t_ms - s.start_ms;
                let on = smoothstep(t / SMILE_ON_MS);
                let off = smoothstep((t - SMILE_ON_MS - s.hold_ms) / SMILE_OFF_MS);
                s.level * on * (1.0 - off)
            })
            .fold(0.0, f64::max);
        Expression {
            blink: blink as f32,
            mouth_open: mouth_open as f32,
            smile: smile as f32,
        }
    }
}

/// The shape the texture is laid on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A head: a rounded height field with a nose that stands out this far (cm); its face is
    /// the measured mesh where there is a `relief` (the room), else a nose, eye sockets and a
    /// chin drawn as bumps (the studio).
    Head {
        nose_height: f64,
        relief: Option<&'static Relief>,
    },
    /// A flat print.
    Flat,
    /// A print bent around a vertical cylinder of this radius (cm): its sides fall back.
    Cylinder { radius: f64 },
}

/// The nose the measured face has; an identity's nose stands out more or less than this.
const MESH_NOSE_HEIGHT: f64 = 2.2;

impl Shape {
    /// The surface's z (cm, toward the camera) at (x, y); `None` outside the surface.
    /// `stretch` scales the head with the identity.
    pub fn depth(&self, x: f64, y: f64, stretch: [f64; 2]) -> Option<f64> {
        match *self {
            Shape::Head {
                nose_height,
                relief,
            } => {
                let (x, y) = (x / stretch[0], y / stretch[1]);
                let (base, _) = ellipsoid(x, y)?;
                if let Some(relief) = relief {
                    let [tip_x, tip_y, _] = relief.nose_tip;
                    let nose = (nose_height - MESH_NOSE_HEIGHT)
                        * (-(x - tip_x).powi(2) / (2.0 * 0.85 * 0.85)
                            - (y - tip_y).powi(2) / (2.0 * 1.5 * 1.5))
                            .exp();
                    return Some(base + relief.offset(x, y) + nose);
                }
                let nose = nose_height
                    * (-(x * x) / (2.0 * 0.85 * 0.85) - (y - 2.1).powi(2) / (2.0 * 1.5 * 1.5))
                        .exp();
                let bridge = 0.6 * (-(x * x) / (2.0 * 0.7 * 0.7) - (y - 0.5).powi(2) / 2.0).exp();
                let sockets = -0.7 * ((-((x.abs() - 3.15).powi(2) + y * y) / (2.0 * 1.0)).exp());
                let chin = 0.5 * (-(x * x) / 8.0 - (y - 8.0).powi(2) / 2.0).exp();
                Some(base + nose + bridge + sockets + chin)
            }
            Shape::Flat => Some(0.0),
            Shape::Cylinder { radius } => {
                if x.abs() >= radius {
                    return None;
                }
                Some((radius * radius - x * x).sqrt() - radius)
            }
        }
    }

    /// Where the eyes are, in z.
    pub fn eye_depth(&self, stretch: [f64; 2]) -> f64 {
        self.depth(EYE_DISTANCE_CM / 2.0 * stretch[0], 0.0, stretch)
            .unwrap_or(0.0)
    }

    /// The extent of the surface in head coordinates: (x_min, x_max, y_min, y_max).
    pub fn extent(&self, stretch: [f64; 2]) -> [f64; 4] {
        match self {
            Shape::Head { .. } => [
                -HEAD_HALF_WIDTH * stretch[0],
                HEAD_HALF_WIDTH * stretch[0],
                (HEAD_CENTRE_Y - HEAD_HALF_HEIGHT) * stretch[1],
                (HEAD_CENTRE_Y + HEAD_HALF_HEIGHT) * stretch[1],
            ],
            // A print: the photograph around the face, about A5 held in landscape.
            Shape::Flat | Shape::Cylinder { .. } => [-10.5, 10.5, -11.0, 16.0],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::{Camera, Canvas, Lighting, Pose, Surface};

    const SKIN: [f32; 3] = [0.5, 0.36, 0.3];

    /// A face painted where the photograph's features are (skin, eyes with dark irises, lips,
    /// the upper teeth), so that the tests need no photograph.
    fn painted_face() -> Texture {
        let (width, height) = (512, 512);
        let (mid, roll, scale) = photo_frame();
        let (s, c) = (-roll).sin_cos();
        let data = (0..width * height)
            .map(|i| {
                let (dx, dy) = ((i % width) as f64 - mid[0], (i / width) as f64 - mid[1]);
                let p = [(c * dx - s * dy) / scale, (s * dx + c * dy) / scale];
                for eye in [RIGHT_EYE, LEFT_EYE] {
                    if eye.radius(p) < 1.0 {
                        let [a, b] = eye.local(p);
                        return if a * a + b * b < 0.45 * 0.45 {
                            [0.04, 0.03, 0.02]
                        } else {
                            [0.75, 0.72, 0.7]
                        };
                    }
                }
                let [m, t] = MOUTH.local(p);
                let parting = PARTING_DEPTH_CM * (1.0 - (m / MOUTH.half[0]).powi(2));
                if m.abs() < 2.4 && t > 0.0 && t < parting {
                    return [0.8, 0.78, 0.7];
                }
                if Feature::new(MOUTH.global([0.0, 0.63]), MOUTH.axis, [2.85, 1.1]).radius(p) < 1.0
                {
                    return [0.45, 0.18, 0.18];
                }
                SKIN
            })
            .collect();
        Texture {
            width,
            height,
            data,
        }
    }

    /// The painted face rendered at 640x480, facing the camera 35 cm away.
    struct Scene {
        texture: Texture,
        camera: Camera,
        map: TextureMap,
        pose: Pose,
        shape: Shape,
    }

    impl Scene {
        fn new() -> Scene {
            Scene {
                texture: painted_face(),
                camera: Camera::with_fov(640, 480, 60.0),
                map: TextureMap::new(&Identity::reference()),
                pose: Pose {
                    position: [0.0, -2.0, 45.0],
                    ..Pose::default()
                },
                shape: Shape::Head {
                    nose_height: 2.2,
                    relief: None,
                },
            }
        }

        fn render(&self, expression: Expression, beard: Option<Beard>) -> Canvas {
            let surface = Surface {
                shape: self.shape,
                stretch: [1.0, 1.0],
                map: &self.map,
                tone: [1.0, 1.0, 1.0],
                pose: self.pose,
                reflectance: 1.0,
                expression,
                beard,
            };
            let lighting = Lighting {
                ambient: [0.5, 0.5, 0.5],
                screen: [0.3, 0.3, 0.3],
                screen_position: [0.0, 8.0, 0.0],
                screen_reference_cm: 30.0,
            };
            let mut canvas = Canvas::new(640, 480, &vec![[0.2, 0.3, 0.4]; 640 * 480]);
            canvas.draw(&self.camera, &self.texture, &surface, &lighting);
            canvas
        }

        /// The pixel index a photograph point (cm) lands on (the reference identity: head
        /// point and photograph point are the same).
        fn index(&self, p: [f64; 2]) -> usize {
            let z = self.shape.depth(p[0], p[1], [1.0, 1.0]).unwrap();
            let [u, v] = self.camera.project(self.pose.to_world([p[0], p[1], z]));
            v as usize * 640 + u as usize
        }

        /// Every pixel whose face point (on a 0.05 cm grid) passes `inside`.
        fn pixels(&self, inside: impl Fn([f64; 2]) -> bool) -> Vec<bool> {
            let mut marked = vec![false; 640 * 480];
            let [x0, x1, y0, y1] = self.shape.extent([1.0, 1.0]);
            for i in 0..=((x1 - x0) / 0.05) as usize {
                for j in 0..=((y1 - y0) / 0.05) as usize {
                    let p = [x0 + i as f64 * 0.05, y0 + j as f64 * 0.05];
                    if self.shape.depth(p[0], p[1], [1.0, 1.0]).is_some() && inside(p) {
                        marked[self.index(p)] = true;
                    }
                }
            }
            marked
        }
    }

    fn luminance(c: [f32; 3]) -> f32 {
        0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    }

    fn mean_luminance(canvas: &Canvas, marked: &[bool]) -> f32 {
        let (sum, n) = canvas
            .pixels
            .iter()
            .zip(marked)
            .filter(|(_, &m)| m)
            .fold((0.0, 0), |(sum, n), (c, _)| (sum + luminance(*c), n + 1));
        sum / n as f32
    }

    /// Whether a point is in a box around a feature (cm: `along` either way of its centre,
    /// `above` and `below` it), or near enough to be drawn by a triangle that looks the
    /// expression up at every pixel (`DETAIL_MARGIN_CM`, a mesh cell's diagonal and a pixel).
    fn near(feature: &Feature, p: [f64; 2], along: f64, above: f64, below: f64) -> bool {
        let [s, t] = feature.local(p);
        let margin = DETAIL_MARGIN_CM + 0.4;
        s.abs() <= along + margin && t >= -above - margin && t <= below + margin
    }

    #[test]
    fn a_closed_blink_covers_the_eyes_with_lid_skin_and_changes_nothing_else() {
        let scene = Scene::new();
        let open = scene.render(Expression::NEUTRAL, None);
        let closed = scene.render(
            Expression {
                blink: 1.0,
                ..Expression::NEUTRAL
            },
            None,
        );
        let eyes_and_lids = scene.pixels(|p| {
            [RIGHT_EYE, LEFT_EYE]
                .iter()
                .any(|eye| near(eye, p, eye.half[0], eye.half[1] + LID_SKIN_CM, eye.half[1]))
        });
        let openings = scene.pixels(|p| [RIGHT_EYE, LEFT_EYE].iter().any(|e| e.radius(p) < 0.8));
        // Where the eyes were, clear of the closed lid's edge (with its lashes, dark, it lies
        // along the lower lid).
        let upper_openings = scene.pixels(|p| {
            [RIGHT_EYE, LEFT_EYE]
                .iter()
                .any(|e| e.radius(p) < 0.8 && e.local(p)[1] < 0.1)
        });
        let mut changed_in_openings = 0;
        for (i, (a, b)) in open.pixels.iter().zip(&closed.pixels).enumerate() {
            if a != b {
                assert!(eyes_and_lids[i], "pixel {i} changed away from the eyes");
                changed_in_openings += usize::from(openings[i]);
            }
        }
        let in_openings = openings.iter().filter(|&&m| m).count();
        assert!(changed_in_openings * 10 > in_openings * 8);
        // Open, the irises are dark; closed, the openings are skin: warm and not dark.
        let skin = luminance(open.pixels[scene.index([0.0, -3.0])]);
        let darkest = |canvas: &Canvas| {
            canvas
                .pixels
                .iter()
                .zip(&upper_openings)
                .filter(|(_, &m)| m)
                .map(|(c, _)| luminance(*c))
                .fold(f32::INFINITY, f32::min)
        };
        assert!(darkest(&open) < 0.2 * skin);
        assert!(darkest(&closed) > 0.6 * skin, "{} {skin}", darkest(&closed));
        for (c, _) in closed
            .pixels
            .iter()
            .zip(&upper_openings)
            .filter(|(_, &m)| m)
        {
            assert!(c[0] > 1.3 * c[2], "{c:?}");
        }
        // Half closed: part of each opening still shows the eye.
        let half = scene.render(
            Expression {
                blink: 0.5,
                ..Expression::NEUTRAL
            },
            None,
        );
        assert!(darkest(&half) < 0.2 * skin);
        assert_ne!(half.pixels, open.pixels);
    }

    #[test]
    fn an_open_mouth_shows_a_dark_gap_between_the_lips_and_moves_nothing_else() {
        let scene = Scene::new();
        let shut = scene.render(Expression::NEUTRAL, None);
        let open = scene.render(
            Expression {
                mouth_open: 1.0,
                ..Expression::NEUTRAL
            },
            None,
        );
        // The middle of the gap (1.2 cm high, from 0.3 cm above the parting line): 0.5 cm
        // either way of the centre, 0.2 cm either way of the gap's middle.
        let gap = scene.pixels(|p| {
            let [s, t] = MOUTH.local(p);
            s.abs() < 0.5 && (t - PARTING_DEPTH_CM - 0.3).abs() < 0.2
        });
        let skin = luminance(shut.pixels[scene.index([0.0, -3.0])]);
        let (before, after) = (mean_luminance(&shut, &gap), mean_luminance(&open, &gap));
        assert!(after < 0.2 * before, "{after} against {before}");
        assert!(after < 0.15 * skin, "{after} against skin {skin}");
        let pulled = scene.pixels(|p| {
            let gap = MOUTH_GAP_CM;
            near(
                &MOUTH,
                p,
                PARTING_HALF_WIDTH_CM,
                LIP_PULL_ABOVE_CM + gap,
                PARTING_DEPTH_CM + gap + LIP_PULL_BELOW_CM,
            )
        });
        let changed = shut.pixels.iter().zip(&open.pixels).map(|(a, b)| a != b);
        for (i, changed) in changed.enumerate() {
            assert!(
                !changed || pulled[i],
                "pixel ({}, {}) changed away from the mouth",
                i % 640,
                i / 640
            );
        }
        // A smile moves the lips' corners but opens nothing.
        let smile = scene.render(
            Expression {
                smile: 1.0,
                ..Expression::NEUTRAL
            },
            None,
        );
        assert_ne!(smile.pixels, shut.pixels);
        assert!(mean_luminance(&smile, &gap) > 0.9 * before);
        let forehead = scene.pixels(|p| FACE.local(p)[1] < -1.5);
        for (i, (a, b)) in shut.pixels.iter().zip(&smile.pixels).enumerate() {
            assert!(a == b || !forehead[i], "pixel {i} changed above the eyes");
        }
    }

    #[test]
    fn a_full_beard_covers_the_jaw_and_chin_not_the_forehead_eyes_or_lips() {
        let scene = Scene::new();
        let bare = scene.render(Expression::NEUTRAL, None);
        let beard = Beard {
            colour: [0.03, 0.025, 0.02],
            density: 0.9,
            kind: BeardKind::Full,
        };
        let bearded = scene.render(Expression::NEUTRAL, Some(beard));
        for jaw in [[-4.0, 6.5], [4.0, 6.0], [0.0, 9.5], [-2.5, 8.5], [0.0, 4.6]] {
            let i = scene.index(FACE.global(jaw));
            let (before, after) = (luminance(bare.pixels[i]), luminance(bearded.pixels[i]));
            assert!(after < 0.2 * before, "{jaw:?}: {after} against {before}");
        }
        let lips = scene.index(MOUTH.global([0.0, 1.3]));
        assert!(luminance(bearded.pixels[lips]) > 0.9 * luminance(bare.pixels[lips]));
        let upper_face = scene.pixels(|p| FACE.local(p)[1] < 1.2 && FACE.local(p)[0].abs() < 4.0);
        for (i, (a, b)) in bare.pixels.iter().zip(&bearded.pixels).enumerate() {
            assert!(
                a == b || !upper_face[i],
                "pixel {i} changed above the cheeks"
            );
        }
        // A goatee leaves the jaw's sides bare; stubble at its low density lets the skin through.
        let goatee = scene.render(
            Expression::NEUTRAL,
            Some(Beard {
                kind: BeardKind::Goatee,
                ..beard
            }),
        );
        let side = scene.index(FACE.global([-4.5, 6.0]));
        assert_eq!(goatee.pixels[side], bare.pixels[side]);
        let chin = scene.index(FACE.global([0.0, 9.5]));
        assert!(luminance(goatee.pixels[chin]) < 0.2 * luminance(bare.pixels[chin]));
        let stubble = scene.render(
            Expression::NEUTRAL,
            Some(Beard {
                kind: BeardKind::Stubble,
                density: 0.35,
                ..beard
            }),
        );
        let ratio = luminance(stubble.pixels[side]) / luminance(bare.pixels[side]);
        assert!(ratio > 0.55 && ratio < 0.8, "{ratio}");
    }

    #[test]
    fn the_expression_track_is_the_same_for_the_same_seed() {
        let draw = |seed| ExpressionTrack::draw(&mut Rng::new(seed), 20_000.0);
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
        let (a, b) = (draw(9), draw(9));
        for t in (0..20_000).step_by(7) {
            assert_eq!(a.at(f64::from(t)), b.at(f64::from(t)));
        }
        assert_eq!(ExpressionTrack::still().at(1_000.0), Expression::NEUTRAL);
    }

    #[test]
    fn blinks_come_every_two_to_eight_seconds_four_on_average_and_last_a_fifth_of_a_second() {
        let mut counts = Vec::new();
        for seed in 0..200 {
            let track = ExpressionTrack::draw(&mut Rng::new(seed), 60_000.0);
            // Blinks seen at 1 ms: their starts (the lid moving) and their lengths.
            let mut starts = Vec::new();
            let mut lengths = Vec::new();
            let mut since = None;
            for ms in 0..61_000 {
                let blink = track.at(f64::from(ms)).blink;
                match (blink > 0.0, since) {
                    (true, None) => since = Some(ms),
                    (false, Some(start)) => {
                        starts.push(start);
                        lengths.push(ms - start);
                        since = None;
                    }
                    _ => {}
                }
                assert!((0.0..=1.0).contains(&blink));
            }
            assert!(starts.iter().all(|&s| s < 60_000));
            for pair in starts.windows(2) {
                let gap = pair[1] - pair[0];
                assert!(
                    (1_999..=8_001).contains(&gap),
                    "seed {seed}: {gap} ms apart"
                );
            }
            for length in lengths {
                assert!((99..=301).contains(&length), "seed {seed}: {length} ms");
            }
            // Fully closed in each.
            assert!(track
                .blinks
                .iter()
                .all(|b| { track.at(b.start_ms + b.closing_ms).blink > 0.999 }));
            counts.push(starts.len());
        }
        let mean = counts.iter().sum::<usize>() as f64 / counts.len() as f64;
        // 60 s at one blink every 4 s.
        assert!((13.5..16.5).contains(&mean), "{mean} blinks a minute");
    }

    #[test]
    fn some_sessions_talk_and_some_smile() {
        let n = 1_000;
        let (mut talk, mut smile) = (0, 0);
        for seed in 0..n {
            let track = ExpressionTrack::draw(&mut Rng::new(seed), 10_000.0);
            let samples: Vec<Expression> =
                (0..1_000).map(|i| track.at(f64::from(i) * 10.0)).collect();
            let most = |f: fn(&Expression) -> f32| samples.iter().map(f).fold(0.0, f32::max);
            if most(|e| e.mouth_open) > 0.0 {
                talk += 1;
                assert!(most(|e| e.mouth_open) <= 0.8);
                // Syllables at 3-6 Hz: the mouth opens and shuts, it does not stay open.
                let open_ms = samples.iter().filter(|e| e.mouth_open > 0.1).count() * 10;
                assert!(open_ms < 3 * 2_000, "seed {seed}: open {open_ms} ms");
            }
            if let Some(s) = track.smiles.first() {
                smile += 1;
                assert!((1_000.0..3_000.0).contains(&s.hold_ms));
                let held = track.at(s.start_ms + SMILE_ON_MS + s.hold_ms / 2.0).smile;
                assert!((0.6..=1.0).contains(&held));
                assert!(track.at(s.start_ms + SMILE_ON_MS / 2.0).smile < held);
            }
        }
        let share = |k: u64| k as f64 / n as f64;
        assert!((0.35..0.45).contains(&share(talk)), "{talk} talk");
        assert!((0.25..0.35).contains(&share(smile)), "{smile} smile");
    }

    #[test]
    fn a_quarter_of_people_have_a_beard_near_their_hair_colour() {
        let hair = [0.2, 0.16, 0.12];
        let n = 4_000;
        let mut kinds = [0; 3];
        for seed in 0..n {
            if let Some(beard) = draw_beard(&mut Rng::new(seed), hair) {
                let index = BeardKind::ALL
                    .iter()
                    .position(|&k| k == beard.kind)
                    .unwrap();
                kinds[index] += 1;
                for (beard, hair) in beard.colour.iter().zip(hair) {
                    assert!(*beard > 0.6 * hair && *beard < 1.5 * hair);
                }
                assert!(beard.density > 0.0 && beard.density <= 1.0);
                if beard.kind == BeardKind::Stubble {
                    assert!(beard.density < 0.5);
                }
            }
        }
        let share = |k: i32| f64::from(k) / f64::from(n as i32);
        assert!((0.085..0.115).contains(&share(kinds[0])), "{kinds:?}");
        assert!((0.085..0.115).contains(&share(kinds[1])), "{kinds:?}");
        assert!((0.035..0.065).contains(&share(kinds[2])), "{kinds:?}");
        for kind in BeardKind::ALL {
            assert_eq!(BeardKind::parse(kind.name()), Some(*kind));
        }
        assert_eq!(BeardKind::parse("moustache"), None);
    }
}
