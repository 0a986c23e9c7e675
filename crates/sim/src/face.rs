//! The face: a real photograph as texture (astronaut.png, Eileen Collins, NASA, public domain,
//! installed by `scripts/setup-vision.sh` from the scikit-image wheel and pinned by sha256), an
//! identity drawn from a seed (warp and skin tone), and the shapes the texture is laid on: a 3D
//! head (a height field with a nose that stands out and cheeks and ears that fall back), a flat
//! print, and a print bent around a cylinder.
//!
//! Head coordinates are centimetres with the origin between the eyes: x to the image's right,
//! y down, z toward the camera.

use std::path::{Path, PathBuf};
use std::sync::Arc;

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
const EYE_DISTANCE_CM: f64 = 6.3;
/// BlazeFace's box on the photograph, relative to the eyes' midpoint in head coordinates: its
/// centre is this far below the eyes, and it is this wide (and as high).
pub const FACE_BOX_CENTRE_BELOW_EYES_CM: f64 = 3.3;
pub const FACE_BOX_SIDE_CM: f64 = 13.2;

#[derive(Debug, thiserror::Error)]
pub enum TextureError {
    #[error(
        "the face photograph is missing at {0}: run scripts/setup-vision.sh (or set OPENLIVENESS_FACE_TEXTURE)"
    )]
    Missing(PathBuf),
    #[error("the face photograph {0} cannot be read: {1}")]
    Unreadable(PathBuf, String),
}

/// Where the photograph is looked for: `$OPENLIVENESS_FACE_TEXTURE`, else
/// `testdata/vision/astronaut.png` under the current directory or the source checkout.
pub fn default_texture_path() -> PathBuf {
    if let Some(path) = std::env::var_os(TEXTURE_PATH_ENV) {
        return PathBuf::from(path);
    }
    let relative = Path::new("testdata/vision").join(TEXTURE_FILE_NAME);
    if relative.is_file() {
        return relative;
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/vision")
        .join(TEXTURE_FILE_NAME);
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
    pub fn load(path: &Path) -> Result<Texture, TextureError> {
        let file = std::fs::File::open(path).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                TextureError::Missing(path.to_owned())
            } else {
                TextureError::Unreadable(path.to_owned(), error.to_string())
            }
        })?;
        let unreadable = |detail: String| TextureError::Unreadable(path.to_owned(), detail);
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
    pub fn shared() -> Result<Arc<Texture>, TextureError> {
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
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
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
        let id = &self.identity;
        let x = if id.mirrored { -x } else { x };
        let mut u = x / id.stretch_x;
        let mut v = y / id.stretch_y;
        u += id.warp * (v * 0.45 + id.warp_phase).sin();
        v += id.warp * (u * 0.5 + id.warp_phase * 0.7).cos() * 0.6;
        let (u, v) = (u * self.scale, v * self.scale);
        [
            self.eye_mid[0] + self.cos * u - self.sin * v,
            self.eye_mid[1] + self.sin * u + self.cos * v,
        ]
    }
}

/// The shape the texture is laid on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A head: a rounded height field, a nose, eye sockets.
    Head { nose_height: f64 },
    /// A flat print.
    Flat,
    /// A print bent around a vertical cylinder of this radius (cm): its sides fall back.
    Cylinder { radius: f64 },
}

/// Half-width and half-height (cm) of the head's face surface, and its depth at the middle.
const HEAD_HALF_WIDTH: f64 = 7.0;
const HEAD_HALF_HEIGHT: f64 = 11.0;
const HEAD_CENTRE_Y: f64 = 2.0;
const HEAD_DEPTH: f64 = 11.0;

impl Shape {
    /// The surface's z (cm, toward the camera) at (x, y); `None` outside the surface.
    /// `stretch` scales the head with the identity.
    pub fn depth(&self, x: f64, y: f64, stretch: [f64; 2]) -> Option<f64> {
        match *self {
            Shape::Head { nose_height } => {
                let (x, y) = (x / stretch[0], y / stretch[1]);
                let r = (x / HEAD_HALF_WIDTH).powi(2)
                    + ((y - HEAD_CENTRE_Y) / HEAD_HALF_HEIGHT).powi(2);
                if r >= 1.0 {
                    return None;
                }
                let base = HEAD_DEPTH * (1.0 - r).sqrt();
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
