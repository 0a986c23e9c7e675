//! The camera and the renderer: textured surfaces rasterised with a depth buffer under a pinhole
//! camera, lit by ambient light and by the screen (Lambertian, falling off with the square of the
//! distance), then the sensor: auto-exposure, noise, sRGB, 8 bits.
//!
//! World coordinates are centimetres, the camera at the origin looking along +Z, X to the
//! image's right, Y down. The screen is a light just below the camera.

use crate::face::{linear_to_srgb, Beard, Expression, Look, Shape, Texture, TextureMap};
use crate::rng::Rng;
use openliveness_vision::RgbImage;

/// A pinhole camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    pub width: u32,
    pub height: u32,
    /// Focal length in pixels.
    pub focal: f64,
}

impl Camera {
    /// A camera with this horizontal field of view (degrees).
    pub fn with_fov(width: u32, height: u32, horizontal_fov_degrees: f64) -> Camera {
        let focal = f64::from(width) / 2.0 / (horizontal_fov_degrees.to_radians() / 2.0).tan();
        Camera {
            width,
            height,
            focal,
        }
    }

    pub fn project(&self, point: [f64; 3]) -> [f64; 2] {
        [
            f64::from(self.width) / 2.0 + self.focal * point[0] / point[2],
            f64::from(self.height) / 2.0 + self.focal * point[1] / point[2],
        ]
    }

    /// The world point at depth `z` that projects to pixel (u, v).
    pub fn unproject(&self, u: f64, v: f64, z: f64) -> [f64; 3] {
        [
            (u - f64::from(self.width) / 2.0) * z / self.focal,
            (v - f64::from(self.height) / 2.0) * z / self.focal,
            z,
        ]
    }
}

/// Where an object is: the world position of its head-coordinate origin and its rotation.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pose {
    pub position: [f64; 3],
    /// Radians: turn left/right, nod, tilt.
    pub yaw: f64,
    pub pitch: f64,
    pub roll: f64,
}

impl Pose {
    fn matrix(&self) -> [[f64; 3]; 3] {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        let (sr, cr) = self.roll.sin_cos();
        // R = Ry(yaw) * Rx(pitch) * Rz(roll)
        let rz = [[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]];
        let rx = [[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]];
        let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
        mul(mul(ry, rx), rz)
    }

    /// Head coordinates (z toward the camera) to world coordinates.
    pub fn to_world(&self, p: [f64; 3]) -> [f64; 3] {
        let m = self.matrix();
        let local = [p[0], p[1], -p[2]];
        let r = apply(m, local);
        [
            self.position[0] + r[0],
            self.position[1] + r[1],
            self.position[2] + r[2],
        ]
    }

    fn normal_to_world(&self, n: [f64; 3]) -> [f64; 3] {
        apply(self.matrix(), [n[0], n[1], -n[2]])
    }
}

fn mul(a: [[f64; 3]; 3], b: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut out = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            out[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    out
}

fn apply(m: [[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [
        m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
        m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
        m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2],
    ]
}

fn normalize(v: [f64; 3]) -> [f64; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-12);
    [v[0] / n, v[1] / n, v[2] / n]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// The light falling on the scene at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lighting {
    /// Ambient light (linear RGB), from above and in front.
    pub ambient: [f64; 3],
    /// The screen's colour (linear RGB, 0-1) times its brightness.
    pub screen: [f64; 3],
    /// The screen's position (world, cm).
    pub screen_position: [f64; 3],
    /// The distance at which the screen's light has gain 1.
    pub screen_reference_cm: f64,
}

/// What lights a surface: the irradiance (linear RGB) at a point with a normal.
pub trait Light {
    fn irradiance(&self, point: [f64; 3], normal: [f64; 3]) -> [f64; 3];

    /// The part of the irradiance that comes from the screen, per unit of its colour: the
    /// irradiance is linear in the screen's colour, and this is its slope in each channel.
    /// Only a canvas that keeps its pixels' screen response asks for it.
    fn screen_slope(&self, _point: [f64; 3], _normal: [f64; 3]) -> f64 {
        0.0
    }
}

impl Light for Lighting {
    /// Irradiance at a point with this normal (linear RGB).
    fn irradiance(&self, point: [f64; 3], normal: [f64; 3]) -> [f64; 3] {
        let ambient_direction = normalize([0.2, -0.8, -0.6]);
        let ambient = 0.55 + 0.45 * dot(normal, ambient_direction).max(0.0);
        let to_screen = [
            self.screen_position[0] - point[0],
            self.screen_position[1] - point[1],
            self.screen_position[2] - point[2],
        ];
        let distance_sq = dot(to_screen, to_screen).max(1.0);
        let facing = dot(normal, normalize(to_screen)).max(0.0);
        let screen = facing * self.screen_reference_cm.powi(2) / distance_sq;
        [
            self.ambient[0] * ambient + self.screen[0] * screen,
            self.ambient[1] * ambient + self.screen[1] * screen,
            self.ambient[2] * ambient + self.screen[2] * screen,
        ]
    }
}

/// A textured surface in the scene.
#[derive(Debug, Clone)]
pub struct Surface<'a> {
    pub shape: Shape,
    pub stretch: [f64; 2],
    pub map: &'a TextureMap,
    pub tone: [f32; 3],
    pub pose: Pose,
    /// Reflectance on top of the texture (ink on paper: a little under 1).
    pub reflectance: f32,
    /// What the face is doing (a print: [`Expression::NEUTRAL`]).
    pub expression: Expression,
    pub beard: Option<Beard>,
}

impl Surface<'_> {
    /// Whether the surface shows the photograph as it is: no expression, no beard. Such a
    /// surface is drawn exactly as before either existed (the studio's stored sessions stay
    /// byte for byte the same).
    pub fn is_plain(&self) -> bool {
        self.expression.is_neutral() && self.beard.is_none()
    }
}

/// Grid steps (cm) of the mesh the renderer builds for a surface.
const MESH_STEP_CM: f64 = 0.25;

/// A linear-RGB image with a depth buffer, being drawn.
#[derive(Debug, Clone)]
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<[f32; 3]>,
    pub depth: Vec<f32>,
    /// Each pixel's screen response, when kept ([`Canvas::keep_screen_response`]): what the
    /// pixel gains per unit rise of the screen's colour in each channel. Every pixel is linear
    /// in the screen's colour, so with it a frame can be shown in another screen colour (a
    /// rolling shutter's later rows) without drawing it again. Whatever draws into a canvas
    /// that keeps it must set it for each pixel it sets.
    pub screen: Option<Vec<[f32; 3]>>,
}

impl Canvas {
    pub fn new(width: u32, height: u32, background: &[[f32; 3]]) -> Canvas {
        let (width, height) = (width as usize, height as usize);
        Canvas {
            width,
            height,
            pixels: background.to_vec(),
            depth: vec![f32::INFINITY; width * height],
            screen: None,
        }
    }

    /// Keeps each pixel's screen response from now on (the background's is 0 until drawn).
    pub fn keep_screen_response(&mut self) {
        self.screen = Some(vec![[0.0; 3]; self.pixels.len()]);
    }

    /// Draws a surface lit by `lighting`.
    pub fn draw(
        &mut self,
        camera: &Camera,
        texture: &Texture,
        surface: &Surface<'_>,
        lighting: &impl Light,
    ) {
        let [x0, x1, y0, y1] = surface.shape.extent(surface.stretch);
        let columns = ((x1 - x0) / MESH_STEP_CM).ceil() as usize + 1;
        let rows = ((y1 - y0) / MESH_STEP_CM).ceil() as usize + 1;
        // Per vertex: screen position, depth, texture position, irradiance; None off the surface.
        let mut vertices: Vec<Option<Vertex>> = Vec::with_capacity(columns * rows);
        // And what the expression and the beard make of it, unless the surface is plain.
        let plain = surface.is_plain();
        let mut dressings = Vec::with_capacity(if plain { 0 } else { columns * rows });
        for row in 0..rows {
            let y = y0 + (y1 - y0) * row as f64 / (rows - 1) as f64;
            for column in 0..columns {
                let x = x0 + (x1 - x0) * column as f64 / (columns - 1) as f64;
                let vertex = self.vertex(camera, surface, lighting, x, y);
                vertices.push(vertex.map(|(vertex, _)| vertex));
                if !plain {
                    dressings.push(vertex.map_or(Dressing::PLAIN, |(_, dressing)| dressing));
                }
            }
        }
        for row in 0..rows - 1 {
            for column in 0..columns - 1 {
                let at = |r: usize, c: usize| vertices[r * columns + c];
                let (a, b, c, d) = (
                    at(row, column),
                    at(row, column + 1),
                    at(row + 1, column),
                    at(row + 1, column + 1),
                );
                let dressing = |r: usize, c: usize| {
                    dressings
                        .get(r * columns + c)
                        .copied()
                        .unwrap_or(Dressing::PLAIN)
                };
                if let (Some(a), Some(b), Some(c)) = (a, b, c) {
                    if plain {
                        self.triangle::<true>(texture, surface, [a, b, c], [Dressing::PLAIN; 3]);
                    } else {
                        let dressed = [
                            dressing(row, column),
                            dressing(row, column + 1),
                            dressing(row + 1, column),
                        ];
                        self.triangle::<false>(texture, surface, [a, b, c], dressed);
                    }
                }
                if let (Some(b), Some(d), Some(c)) = (b, d, c) {
                    if plain {
                        self.triangle::<true>(texture, surface, [b, d, c], [Dressing::PLAIN; 3]);
                    } else {
                        let dressed = [
                            dressing(row, column + 1),
                            dressing(row + 1, column + 1),
                            dressing(row + 1, column),
                        ];
                        self.triangle::<false>(texture, surface, [b, d, c], dressed);
                    }
                }
            }
        }
    }

    fn vertex(
        &self,
        camera: &Camera,
        surface: &Surface<'_>,
        lighting: &impl Light,
        x: f64,
        y: f64,
    ) -> Option<(Vertex, Dressing)> {
        let shape = &surface.shape;
        let z = shape.depth(x, y, surface.stretch)?;
        let h = 0.05;
        let dzdx = (shape.depth(x + h, y, surface.stretch).unwrap_or(z)
            - shape.depth(x - h, y, surface.stretch).unwrap_or(z))
            / (2.0 * h);
        let dzdy = (shape.depth(x, y + h, surface.stretch).unwrap_or(z)
            - shape.depth(x, y - h, surface.stretch).unwrap_or(z))
            / (2.0 * h);
        let normal = surface.pose.normal_to_world(normalize([-dzdx, -dzdy, 1.0]));
        let world = surface.pose.to_world([x, y, z]);
        if world[2] < 1.0 {
            return None;
        }
        let screen = camera.project(world);
        let light = lighting.irradiance(world, normal);
        let screen_slope = if self.screen.is_some() {
            lighting.screen_slope(world, normal)
        } else {
            0.0
        };
        let (texel, dressing) = if surface.is_plain() {
            (surface.map.pixel(x, y), Dressing::PLAIN)
        } else {
            let photo = surface.map.photo_point(x, y);
            let look = surface
                .map
                .look(photo, &surface.expression, surface.beard.as_ref());
            let dressing = Dressing {
                photo,
                shade: f64::from(look.shade),
                beard: f64::from(look.beard),
                detailed: look.detailed,
            };
            (look.pixel, dressing)
        };
        let vertex = Vertex {
            screen,
            inverse_depth: 1.0 / world[2],
            texel,
            light,
            screen_slope,
        };
        Some((vertex, dressing))
    }

    /// Fills a triangle. `PLAIN`: the surface shows the photograph as it is (the dressings are
    /// unused); a separate instance, so that the plain path is the code it always was.
    fn triangle<const PLAIN: bool>(
        &mut self,
        texture: &Texture,
        surface: &Surface<'_>,
        v: [Vertex; 3],
        dressings: [Dressing; 3],
    ) {
        let [a, b, c] = v;
        let [da, db, dc] = dressings;
        // Near a lid's or the lips' edge: the expression is looked up at every pixel.
        let detailed = !PLAIN && (da.detailed || db.detailed || dc.detailed);
        let hair = surface.beard.map_or([0.0; 3], |beard| beard.colour);
        let area = edge(a.screen, b.screen, c.screen);
        if area.abs() < 1e-9 {
            return;
        }
        let corners = [a.screen, b.screen, c.screen];
        let (Some((min_x, max_x)), Some((min_y, max_y))) = (
            pixel_span(corners, 0, self.width),
            pixel_span(corners, 1, self.height),
        ) else {
            return;
        };
        for py in min_y..=max_y {
            for px in min_x..=max_x {
                let p = [px as f64 + 0.5, py as f64 + 0.5];
                let wa = edge(b.screen, c.screen, p) / area;
                let wb = edge(c.screen, a.screen, p) / area;
                let wc = edge(a.screen, b.screen, p) / area;
                if wa < -1e-9 || wb < -1e-9 || wc < -1e-9 {
                    continue;
                }
                let inverse = wa * a.inverse_depth + wb * b.inverse_depth + wc * c.inverse_depth;
                let depth = (1.0 / inverse) as f32;
                let index = py * self.width + px;
                if depth >= self.depth[index] {
                    continue;
                }
                // Perspective-correct interpolation.
                let (ka, kb, kc) = (
                    wa * a.inverse_depth / inverse,
                    wb * b.inverse_depth / inverse,
                    wc * c.inverse_depth / inverse,
                );
                let tx = ka * a.texel[0] + kb * b.texel[0] + kc * c.texel[0];
                let ty = ka * a.texel[1] + kb * b.texel[1] + kc * c.texel[1];
                let mut colour = [0.0f32; 3];
                // What each channel reflects of the light reaching it.
                let mut reflects = [0.0f32; 3];
                if PLAIN {
                    let albedo = texture.sample(tx, ty);
                    for k in 0..3 {
                        let light = ka * a.light[k] + kb * b.light[k] + kc * c.light[k];
                        reflects[k] = albedo[k] * surface.tone[k] * surface.reflectance;
                        colour[k] = reflects[k] * light as f32;
                    }
                } else {
                    let look = if detailed {
                        let photo = [
                            ka * da.photo[0] + kb * db.photo[0] + kc * dc.photo[0],
                            ka * da.photo[1] + kb * db.photo[1] + kc * dc.photo[1],
                        ];
                        let beard = surface.beard.as_ref();
                        surface.map.look(photo, &surface.expression, beard)
                    } else {
                        Look {
                            pixel: [tx, ty],
                            shade: (ka * da.shade + kb * db.shade + kc * dc.shade) as f32,
                            beard: (ka * da.beard + kb * db.beard + kc * dc.beard) as f32,
                            detailed: false,
                        }
                    };
                    let albedo = texture.sample(look.pixel[0], look.pixel[1]);
                    for k in 0..3 {
                        let light = ka * a.light[k] + kb * b.light[k] + kc * c.light[k];
                        let skin = albedo[k] * surface.tone[k] * look.shade;
                        let mixed = skin + (hair[k] - skin) * look.beard;
                        reflects[k] = mixed * surface.reflectance;
                        colour[k] = reflects[k] * light as f32;
                    }
                }
                self.depth[index] = depth;
                self.pixels[index] = colour;
                if let Some(screen) = &mut self.screen {
                    let slope =
                        (ka * a.screen_slope + kb * b.screen_slope + kc * c.screen_slope) as f32;
                    screen[index] = reflects.map(|r| r * slope);
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Vertex {
    screen: [f64; 2],
    inverse_depth: f64,
    texel: [f64; 2],
    light: [f64; 3],
    screen_slope: f64,
}

/// What an expression and a beard make of a vertex (kept apart from `Vertex`, and only for a
/// surface that is not plain).
#[derive(Debug, Clone, Copy)]
struct Dressing {
    /// The point in the photograph's head frame.
    photo: [f64; 2],
    /// Albedo multiplier: the open mouth's dark inside.
    shade: f64,
    /// The beard's share of the albedo.
    beard: f64,
    /// An expression's sharp edge (a lid's, the lips') is near: the triangle looks the
    /// expression up at every pixel.
    detailed: bool,
}

impl Dressing {
    const PLAIN: Dressing = Dressing {
        photo: [0.0; 2],
        shade: 1.0,
        beard: 0.0,
        detailed: false,
    };
}

/// The first and last pixel (clamped to `0..size`) that a triangle's corners span along one
/// axis (0: x, 1: y); `None` when the whole triangle lies before the image on that axis.
fn pixel_span(corners: [[f64; 2]; 3], axis: usize, size: usize) -> Option<(usize, usize)> {
    let [a, b, c] = corners.map(|corner| corner[axis]);
    let high = a.max(b).max(c);
    if high < 0.0 {
        return None;
    }
    let first = a.min(b).min(c).floor().max(0.0) as usize;
    let last = (high.ceil() as usize).min(size.saturating_sub(1));
    Some((first, last))
}

fn edge(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
}

/// A plain room behind the person: a wall with a few shapes on it (albedo, linear RGB).
pub fn background(width: u32, height: u32, rng: &mut Rng) -> Vec<[f32; 3]> {
    let base = [
        rng.range(0.25, 0.6) as f32,
        rng.range(0.25, 0.55) as f32,
        rng.range(0.2, 0.5) as f32,
    ];
    let shapes: Vec<([f64; 4], [f32; 3])> = (0..4)
        .map(|_| {
            let x = rng.range(0.0, f64::from(width));
            let y = rng.range(0.0, f64::from(height));
            let w = rng.range(40.0, 200.0);
            let h = rng.range(40.0, 250.0);
            let colour = [
                rng.range(0.05, 0.7) as f32,
                rng.range(0.05, 0.7) as f32,
                rng.range(0.05, 0.7) as f32,
            ];
            ([x, y, w, h], colour)
        })
        .collect();
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for y in 0..height {
        for x in 0..width {
            let shade = 0.85 + 0.15 * (f64::from(y) / f64::from(height)) as f32;
            let mut colour = [base[0] * shade, base[1] * shade, base[2] * shade];
            for ([sx, sy, sw, sh], c) in &shapes {
                let (fx, fy) = (f64::from(x), f64::from(y));
                if fx >= *sx && fx < sx + sw && fy >= *sy && fy < sy + sh {
                    colour = *c;
                }
            }
            out.push(colour);
        }
    }
    out
}

/// Normal noise, drawn once and read from a seeded place per frame (drawing fresh normal values
/// for every pixel of every frame would cost more than the rendering).
#[derive(Debug)]
pub struct NoiseTable(Vec<f32>);

impl NoiseTable {
    pub const LEN: usize = 1 << 20;

    /// The value at `index` (taken modulo the table's length).
    pub fn value(&self, index: usize) -> f32 {
        self.0[index & (Self::LEN - 1)]
    }

    pub fn new(rng: &mut Rng) -> NoiseTable {
        NoiseTable((0..Self::LEN).map(|_| rng.normal() as f32).collect())
    }
}

/// `x.round().clamp(0.0, 255.0) as u8` (half away from zero; NaN is 0), without `round`, which
/// is a call into libm on the baseline x86-64 target and was a tenth of the camera's cost.
pub(crate) fn round_to_u8(x: f32) -> u8 {
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    if x >= 255.0 {
        return 255;
    }
    let whole = x as u32;
    let rest = x - whole as f32;
    (whole + u32::from(rest >= 0.5)) as u8
}

/// The sensor: exposure, noise, the sRGB curve and 8-bit quantisation.
#[derive(Debug)]
pub struct Sensor {
    /// Linear-light gain, adjusted frame by frame toward `target_mean`.
    pub exposure: f64,
    pub target_mean: f64,
    /// How much of the way to the ideal exposure each frame goes (0: fixed exposure).
    pub adaptation: f64,
    /// Noise standard deviation in 8-bit levels.
    pub noise: f32,
    lut: Vec<u8>,
}

impl Sensor {
    const LUT_STEPS: usize = 4096;

    pub fn new(target_mean: f64, adaptation: f64, noise: f32) -> Sensor {
        let lut = (0..=Self::LUT_STEPS)
            .map(|i| linear_to_srgb(i as f32 / Self::LUT_STEPS as f32).round() as u8)
            .collect();
        Sensor {
            exposure: 1.0,
            target_mean,
            adaptation,
            noise,
            lut,
        }
    }

    /// Sets the exposure so that this scene comes out at the target mean.
    pub fn settle(&mut self, scene: &[[f32; 3]]) {
        let mean = mean_luminance(scene);
        if mean > 1e-6 {
            self.exposure = self.target_mean / mean;
        }
    }

    /// Captures the scene into an image, then adapts the exposure to what it saw.
    pub fn capture(
        &mut self,
        scene: &[[f32; 3]],
        width: u32,
        height: u32,
        noise: &NoiseTable,
        rng: &mut Rng,
    ) -> RgbImage {
        let gain = self.exposure as f32;
        let steps = Self::LUT_STEPS as f32;
        let mut offset = rng.between(0, NoiseTable::LEN as u64 - 1) as usize;
        let stride = 1 + rng.between(0, 6) as usize * 2;
        let mut data = Vec::with_capacity(scene.len() * 3);
        for pixel in scene {
            for channel in pixel {
                let level = (channel * gain).clamp(0.0, 1.0) * steps;
                let srgb = f32::from(self.lut[level as usize]);
                offset = (offset + stride) & (NoiseTable::LEN - 1);
                let noisy = srgb + noise.0[offset] * self.noise;
                data.push(round_to_u8(noisy));
            }
        }
        if self.adaptation > 0.0 {
            let mean = mean_luminance(scene);
            if mean > 1e-6 {
                let ideal = self.target_mean / mean;
                self.exposure += (ideal - self.exposure) * self.adaptation;
            }
        }
        // One byte per channel of every pixel of the scene: the sizes agree by construction.
        RgbImage::new(width, height, data)
            .unwrap_or_else(|error| panic!("the sensor's {width}x{height} image: {error}"))
    }
}

fn mean_luminance(scene: &[[f32; 3]]) -> f64 {
    // Sampled: every 7th pixel is plenty for an exposure meter.
    let mut sum = 0.0f64;
    let mut count = 0usize;
    for pixel in scene.iter().step_by(7) {
        sum += f64::from(0.2126 * pixel[0] + 0.7152 * pixel[1] + 0.0722 * pixel[2]);
        count += 1;
    }
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// That `kept` (drawn in the screen colour `early`, keeping its screen response) shown in the
/// colour `late` through its response is `again` (drawn in `late`), within float rounding.
#[cfg(test)]
pub(crate) fn assert_shows_as_drawn_again(
    kept: &Canvas,
    again: &Canvas,
    early: [f64; 3],
    late: [f64; 3],
) {
    let response = kept.screen.as_ref().expect("a kept screen response");
    for ((pixel, slope), want) in kept.pixels.iter().zip(response).zip(&again.pixels) {
        let shifted = [0, 1, 2].map(|k| pixel[k] + slope[k] * (late[k] - early[k]) as f32);
        for k in 0..3 {
            assert!(
                (shifted[k] - want[k]).abs() <= 1e-4 * want[k].abs().max(1.0),
                "{shifted:?} against {want:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::{Identity, TextureMap};

    /// A smooth, structured texture that needs no photograph.
    fn pattern_texture() -> Texture {
        let (width, height) = (512, 512);
        let data = (0..width * height)
            .map(|i| {
                let (x, y) = ((i % width) as f32, (i / width) as f32);
                [
                    0.4 + 0.3 * (x * 0.05).sin() * (y * 0.031).cos(),
                    0.35 + 0.25 * (x * 0.023 + y * 0.041).sin(),
                    0.3 + 0.2 * ((x - y) * 0.037).cos(),
                ]
            })
            .collect();
        Texture {
            width,
            height,
            data,
        }
    }

    #[test]
    fn a_kept_screen_response_shows_a_face_in_another_screen_colour_as_drawing_it_again_does() {
        use crate::face::BeardKind;
        use crate::room::{RoomLight, ScreenSource};
        let texture = pattern_texture();
        let camera = Camera::with_fov(320, 240, 60.0);
        let light = |screen_colour: [f64; 3]| RoomLight {
            room: [40.0, 36.0, 30.0],
            direction: [0.3, -0.8, -0.5],
            screen: ScreenSource {
                centre: [0.0, 12.0, 0.0],
                luminance: 300.0,
                area_m2: 0.06,
                half_size_cm: [15.0, 10.0],
            },
            screen_colour,
        };
        let (early, late) = ([0.9, 0.1, 0.2], [0.05, 0.7, 0.95]);
        let identity = Identity::draw(&mut Rng::new(8));
        let map = TextureMap::new(&identity);
        // Plain, and dressed (a smile, an open mouth and a beard: the other path).
        for (expression, beard) in [
            (Expression::NEUTRAL, None),
            (
                Expression {
                    blink: 0.3,
                    mouth_open: 0.6,
                    smile: 0.5,
                },
                Some(Beard {
                    colour: [0.05, 0.04, 0.03],
                    density: 0.9,
                    kind: BeardKind::Full,
                }),
            ),
        ] {
            let surface = Surface {
                shape: Shape::Head {
                    nose_height: 2.0,
                    relief: None,
                },
                stretch: [identity.stretch_x, identity.stretch_y],
                map: &map,
                tone: identity.tone,
                pose: Pose {
                    position: [0.5, 1.0, 40.0],
                    yaw: 0.25,
                    pitch: 0.1,
                    roll: 0.0,
                },
                reflectance: 1.0,
                expression,
                beard,
            };
            let background = vec![[0.0; 3]; 320 * 240];
            let mut kept = Canvas::new(320, 240, &background);
            kept.keep_screen_response();
            kept.draw(&camera, &texture, &surface, &light(early));
            let mut again = Canvas::new(320, 240, &background);
            again.draw(&camera, &texture, &surface, &light(late));
            assert_shows_as_drawn_again(&kept, &again, early, late);
            let drawn = again.pixels.iter().filter(|p| p[1] > 0.0).count();
            assert!(drawn > 5_000, "{drawn} pixels of face");
        }
    }

    #[test]
    fn rounding_to_8_bits_is_round_then_clamp() {
        let mut values = vec![f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 0.0, 1e-30];
        for i in -2000..=2_600_000 {
            values.push(i as f32 * 1e-4);
        }
        for x in [
            0.49999997f32,
            0.5,
            1.5,
            2.5,
            254.49998,
            254.5,
            254.99998,
            255.0,
            255.5,
        ] {
            values.push(x);
            values.push(-x);
        }
        for x in values {
            assert_eq!(round_to_u8(x), x.round().clamp(0.0, 255.0) as u8, "{x}");
        }
    }

    /// FNV-1a over the bits of every pixel and depth.
    fn fingerprint(canvas: &Canvas) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        let mut eat = |bits: u32| {
            for byte in bits.to_le_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        for pixel in &canvas.pixels {
            pixel.iter().for_each(|c| eat(c.to_bits()));
        }
        canvas.depth.iter().for_each(|d| eat(d.to_bits()));
        hash
    }

    #[test]
    fn a_neutral_face_without_a_beard_renders_bit_for_bit_as_before_expressions() {
        // The fingerprints of these three renders, taken with the renderer as it was before
        // expressions and beards (commit 09782d9): a warped, mirrored identity on the head, a
        // print and a bent print, turned and lit.
        let before = [
            0x6153_e229_220e_237d_u64,
            0xfd1f_2121_42b4_68d5,
            0x3063_d241_46da_f5c4,
        ];
        let texture = pattern_texture();
        let camera = Camera::with_fov(320, 240, 60.0);
        let lighting = Lighting {
            ambient: [0.3, 0.28, 0.25],
            screen: [0.4, 0.45, 0.5],
            screen_position: [0.0, 8.0, 0.0],
            screen_reference_cm: 30.0,
        };
        let mut identity = Identity::draw(&mut Rng::new(3));
        identity.mirrored = true;
        identity.warp = 0.3;
        let map = TextureMap::new(&identity);
        let shapes = [
            Shape::Head {
                nose_height: 2.2,
                relief: None,
            },
            Shape::Flat,
            Shape::Cylinder { radius: 9.0 },
        ];
        for (shape, before) in shapes.into_iter().zip(before) {
            let surface = Surface {
                shape,
                stretch: [identity.stretch_x, identity.stretch_y],
                map: &map,
                tone: identity.tone,
                pose: Pose {
                    position: [1.0, -2.0, 45.0],
                    yaw: 0.2,
                    pitch: -0.1,
                    roll: 0.05,
                },
                reflectance: 0.9,
                expression: Expression::default(),
                beard: None,
            };
            assert!(surface.is_plain());
            let mut canvas = Canvas::new(320, 240, &vec![[0.2, 0.3, 0.4]; 320 * 240]);
            canvas.draw(&camera, &texture, &surface, &lighting);
            assert_eq!(fingerprint(&canvas), before, "{shape:?}");
        }
    }
}
