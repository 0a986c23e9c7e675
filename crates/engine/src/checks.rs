//! The checks of LIVENESS.md, each from the observations alone (the client's claims only anchor
//! time and are themselves checked): a score from 0 to 1, the measurements behind it, and a
//! reason a person can read.

use std::collections::BTreeMap;

use openliveness_vision::{Detection, Keypoint};
use serde::Serialize;

use crate::claims::{Claims, Issued};
use crate::identity::{self, Sample, Step};
use crate::observe::{eye_frame, Observations, REGION_GRID, SKIN_REGIONS};
use crate::Calibration;

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub name: &'static str,
    /// 0 (fails) to 1 (passes).
    pub score: f64,
    /// Strong checks bound the confidence; supporting ones adjust it.
    pub strong: bool,
    pub reason: String,
    pub measurements: BTreeMap<&'static str, f64>,
}

impl CheckResult {
    /// A strong check that had nothing to measure: it fails, saying why.
    fn unmeasured(name: &'static str, reason: &str) -> Self {
        CheckResult {
            name,
            score: 0.0,
            strong: true,
            reason: reason.to_owned(),
            measurements: BTreeMap::new(),
        }
    }
}

/// Rises from 0 to 1 around `threshold` (0.5 there), over about `width`.
pub fn above(value: f64, threshold: f64, width: f64) -> f64 {
    if !value.is_finite() {
        return 0.0;
    }
    1.0 / (1.0 + (-(value - threshold) / width * 4.0).exp())
}

/// Falls from 1 to 0 around `threshold`.
pub fn below(value: f64, threshold: f64, width: f64) -> f64 {
    if !value.is_finite() {
        return 0.0;
    }
    1.0 - above(value, threshold, width)
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The main face on each frame the detector ran on: (frame, time, face, other faces).
struct Detected<'a> {
    t_ms: f64,
    face: &'a Detection,
    others: usize,
}

fn detected(observations: &Observations) -> (Vec<Detected<'_>>, usize) {
    let mut out = Vec::new();
    let mut ran = 0;
    for frame in &observations.frames {
        let Some(faces) = &frame.faces else { continue };
        ran += 1;
        let Some(face) = faces.first() else { continue };
        let others = faces
            .iter()
            .skip(1)
            .filter(|other| other.score >= 0.6 && other.bounding_box.iou(&face.bounding_box) < 0.2)
            .count();
        out.push(Detected {
            t_ms: frame.t_ms,
            face,
            others,
        });
    }
    (out, ran)
}

fn centre(face: &Detection) -> [f64; 2] {
    let c = face.bounding_box.center();
    [f64::from(c.x), f64::from(c.y)]
}

/// Check 1's identity measure on the frames where the face is near (at least half its widest):
/// see [`crate::identity`]. Under a colour sequence (`light`, the screen's light on each frame
/// at the fitted lag) only moments under the colours are tested.
fn appearance_step(
    observations: &Observations,
    light: Option<&[Option<[f64; 3]>]>,
) -> (Step, usize) {
    let widest = observations
        .frames
        .iter()
        .filter_map(|f| f.face.as_ref().map(|d| d.bounding_box.width))
        .fold(0.0f32, f32::max);
    let samples: Vec<Sample> = observations
        .frames
        .iter()
        .enumerate()
        .filter_map(|(index, frame)| {
            let face = frame.face.as_ref()?;
            let width = face.bounding_box.width;
            if width < 0.5 * widest {
                return None;
            }
            Some(Sample {
                t_ms: frame.t_ms,
                width: f64::from(width),
                light: light.and_then(|light| light.get(index).copied().flatten()),
                appearance: frame.appearance.as_deref()?,
            })
        })
        .collect();
    (
        identity::appearance_step(&samples, light.is_some()),
        samples.len(),
    )
}

/// Check 1: one real face all the time.
///
/// Identity: a lasting step in the face's appearance beyond what the screen's light and the
/// face's size explain ([`crate::identity`]), plus a step in the skin's colour under the light
/// ([`LightFit::tone_step`]). The keypoints' proportions do not tell a swap here: the approach
/// changes them (perspective) and the colours move them as much as a swap does.
pub fn one_face(
    observations: &Observations,
    light: Option<&LightFit>,
    calibration: &Calibration,
) -> CheckResult {
    let (faces, ran) = detected(observations);
    let coverage = faces.len() as f64 / ran.max(1) as f64;
    let extra = faces.iter().filter(|d| d.others > 0).count() as f64 / ran.max(1) as f64;
    // Between consecutive detections (a few frames apart): a head moves a fraction of its width
    // and changes size by a fraction in a tenth of a second; a cut moves or resizes it at once.
    let mut jumps = 0usize;
    for pair in faces.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let tenths = (b.t_ms - a.t_ms) / 100.0;
        if tenths > 5.0 {
            continue;
        }
        let width = f64::from(a.face.bounding_box.width).max(1.0);
        let (ca, cb) = (centre(a.face), centre(b.face));
        let moved = ((ca[0] - cb[0]).powi(2) + (ca[1] - cb[1]).powi(2)).sqrt() / width;
        let grew = (f64::from(b.face.bounding_box.width) / width).ln().abs();
        if moved > 0.3 * tenths.max(1.0) || grew > 0.22 * tenths.max(1.0) {
            jumps += 1;
        }
    }
    let (step, compared) = appearance_step(observations, light.map(|l| l.frame_light.as_slice()));
    let (appearance_change, change_at_ms) = (step.change, step.at_ms);
    let tone_step = light.map_or(0.0, |l| l.tone_step);
    let identity_change = appearance_change + calibration.tone_weight * tone_step;
    let score = above(coverage, 0.85, 0.1)
        * below(extra, 0.06, 0.05)
        * below(jumps as f64, 1.5, 1.0)
        * below(
            identity_change,
            calibration.identity_threshold,
            calibration.identity_width,
        );
    let reason = if coverage < 0.85 {
        format!(
            "a face was found on only {:.0}% of the frames",
            coverage * 100.0
        )
    } else if extra >= 0.06 {
        format!(
            "a second face was in view on {:.0}% of the frames",
            extra * 100.0
        )
    } else if jumps > 1 {
        format!("the face jumped {jumps} times between frames (a cut or a swap)")
    } else if identity_change >= calibration.identity_threshold {
        format!(
            "the face changed during the session (appearance {appearance_change:.2}, skin under the colours {tone_step:.2}): another person"
        )
    } else {
        "one face throughout".to_owned()
    };
    CheckResult {
        name: "one_face",
        score,
        strong: true,
        reason,
        measurements: BTreeMap::from([
            ("coverage", coverage),
            ("second_face_share", extra),
            ("jumps", jumps as f64),
            ("appearance_change", appearance_change),
            ("tone_step", tone_step),
            ("identity_change", identity_change),
            ("appearance_change_at_ms", change_at_ms),
            ("appearance_frames", compared as f64),
            ("page_light", step.page_light),
        ]),
    }
}

/// Check 2: movement into the oval, in the video.
pub fn movement(observations: &Observations, issued: &Issued) -> CheckResult {
    let (faces, _) = detected(observations);
    let duration = observations.frames.last().map(|f| f.t_ms).unwrap_or(0.0);
    let mut first: Vec<f64> = faces
        .iter()
        .filter(|d| d.t_ms <= faces.first().map(|f| f.t_ms).unwrap_or(0.0) + 400.0)
        .map(|d| f64::from(d.face.bounding_box.width))
        .collect();
    let settled: Vec<&Detected<'_>> = faces.iter().filter(|d| d.t_ms >= duration * 0.65).collect();
    let mut last: Vec<f64> = settled
        .iter()
        .map(|d| f64::from(d.face.bounding_box.width))
        .collect();
    let mut xs: Vec<f64> = settled.iter().map(|d| centre(d.face)[0]).collect();
    let mut ys: Vec<f64> = settled.iter().map(|d| centre(d.face)[1]).collect();
    let (first, last) = (median(&mut first), median(&mut last));
    let growth = last / first;
    let [cx, cy, ow, oh] = issued.oval;
    let fill = last / ow;
    let offset_x = (median(&mut xs) - cx).abs() / ow;
    let offset_y = (median(&mut ys) - cy).abs() / oh;
    // How long the approach took: from the first detection to 90% of the final width.
    let reached = faces
        .iter()
        .find(|d| f64::from(d.face.bounding_box.width) >= 0.9 * last)
        .map(|d| d.t_ms)
        .unwrap_or(f64::NAN);
    let approach_ms = reached - faces.first().map(|d| d.t_ms).unwrap_or(0.0);
    let score = above(growth, 1.35, 0.2)
        * above(fill, 0.8, 0.08)
        * below(fill, 1.35, 0.1)
        * below(offset_x, 0.2, 0.06)
        * below(offset_y, 0.15, 0.05)
        * above(approach_ms, 300.0, 200.0);
    let reason = if !growth.is_finite() {
        "no face to follow".to_owned()
    } else if growth < 1.35 {
        format!("the face did not approach the camera (it grew {growth:.2}x)")
    } else if !(0.8..=1.35).contains(&fill) {
        format!(
            "the face did not fill the oval (its width is {:.0}% of the oval's)",
            fill * 100.0
        )
    } else if offset_x >= 0.2 || offset_y >= 0.15 {
        "the face did not reach the oval's centre".to_owned()
    } else if approach_ms < 300.0 {
        format!("the face reached the oval in {approach_ms:.0} ms, faster than a person moves")
    } else {
        format!("the face grew {growth:.2}x into the oval over {approach_ms:.0} ms")
    };
    CheckResult {
        name: "movement",
        score,
        strong: true,
        reason,
        measurements: BTreeMap::from([
            ("growth", growth),
            ("fill", fill),
            ("offset_x", offset_x),
            ("offset_y", offset_y),
            ("approach_ms", approach_ms),
        ]),
    }
}

fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 5 {
        return f64::NAN;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx < 1e-9 {
        return f64::NAN;
    }
    sxy / sxx
}

/// Check 3: 3D from perspective. As a head comes closer its contour (ears) grows slower than the
/// eye distance and its nose faster; on a plane both keep their proportions (up to the
/// detector's own drift with face size, which the calibration removes).
pub fn perspective(
    observations: &Observations,
    calibration: &Calibration,
    strong: bool,
) -> CheckResult {
    let (faces, _) = detected(observations);
    let mut ears = Vec::new();
    let mut noses = Vec::new();
    for d in faces.iter().filter(|d| d.others == 0) {
        let (mid, along, distance) = eye_frame(d.face);
        let down = [-along[1], along[0]];
        let right = d.face.keypoint(Keypoint::RightEarTragion);
        let left = d.face.keypoint(Keypoint::LeftEarTragion);
        let ear = f64::from((left.x - right.x).hypot(left.y - right.y));
        let nose = d.face.keypoint(Keypoint::NoseTip);
        let nose_down =
            (f64::from(nose.x) - mid[0]) * down[0] + (f64::from(nose.y) - mid[1]) * down[1];
        let x = distance.ln();
        ears.push((x, (ear / distance).ln()));
        if nose_down > 0.0 {
            noses.push((x, (nose_down / distance).ln()));
        }
    }
    let span = {
        let mut xs: Vec<f64> = ears.iter().map(|p| p.0).collect();
        xs.sort_by(f64::total_cmp);
        if xs.len() >= 10 {
            xs[xs.len() * 9 / 10] - xs[xs.len() / 10]
        } else {
            0.0
        }
    };
    let ear_slope = slope(&ears);
    let nose_slope = slope(&noses);
    // Depth evidence: ears falling behind, nose coming forward, beyond a plane's drift.
    let depth = (nose_slope - ear_slope) - calibration.flat_perspective;
    let score = if span < 0.25 {
        // Too little approach to see perspective: no evidence either way.
        0.5
    } else {
        above(
            depth,
            calibration.perspective_threshold,
            calibration.perspective_width,
        )
    };
    let reason = if span < 0.25 {
        "too little approach to measure perspective".to_owned()
    } else if score >= 0.5 {
        format!("the face's proportions changed with distance as a 3D head's do ({depth:.3})")
    } else {
        format!("the face kept a flat picture's proportions while approaching ({depth:.3})")
    };
    CheckResult {
        name: "perspective",
        score,
        strong,
        reason,
        measurements: BTreeMap::from([
            ("ear_slope", ear_slope),
            ("nose_slope", nose_slope),
            ("depth", depth),
            ("log_size_span", span),
        ]),
    }
}

/// One colour stage: start (ms after the first colour began), duration, current colour,
/// previous colour, whether it scrolls.
pub type Stage = (f64, f64, [u8; 3], [u8; 3], bool);

/// The colour stages of the issued sequence (start ms relative to the first colour, duration,
/// current, previous, scrolling), as the web client shows them.
pub fn stages(issued: &Issued) -> Vec<Stage> {
    let mut out = Vec::new();
    let mut at = 0.0;
    for (index, &(rgb, downscroll, flat)) in issued.colours.iter().enumerate() {
        let previous = if index == 0 {
            rgb
        } else {
            issued.colours[index - 1].0
        };
        if index > 0 && downscroll > 0.0 {
            out.push((at, downscroll, rgb, previous, true));
            at += downscroll;
        }
        if flat > 0.0 || (index == 0 && downscroll <= 0.0) {
            out.push((at, flat, rgb, rgb, false));
            at += flat;
        }
    }
    out
}

fn linear(c: u8) -> f64 {
    let c = f64::from(c) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// The screen's light at `t` ms after the first colour began (None outside the sequence).
fn expected(stages: &[Stage], t: f64) -> Option<[f64; 3]> {
    if t < 0.0 {
        return None;
    }
    for &(start, duration, current, previous, scrolling) in stages {
        if t < start + duration {
            let cur = current.map(linear);
            if !scrolling {
                return Some(cur);
            }
            let prev = previous.map(linear);
            let p = ((t - start) / duration).clamp(0.0, 1.0);
            return Some([0, 1, 2].map(|k| p * cur[k] + (1.0 - p) * prev[k]));
        }
    }
    None
}

/// A region's mean light (linear, 0-1) from which it is taken as clipped: some of its pixels are
/// at the top of the camera's range.
const CLIPPED: f64 = 0.85;

/// A per-channel least-squares fit observed = offset + gain x expected.
#[derive(Debug, Clone, Copy, Default)]
struct Fit {
    offset: [f64; 3],
    gain: [f64; 3],
    sse: f64,
    sst: f64,
}

impl Fit {
    fn r2(&self) -> f64 {
        if self.sst <= 0.0 {
            0.0
        } else {
            1.0 - self.sse / self.sst
        }
    }

    /// Screen-induced change relative to the level.
    fn modulation(&self) -> f64 {
        let gain: f64 = self.gain.iter().sum();
        let level: f64 = (0..3).map(|k| self.offset[k] + 0.5 * self.gain[k]).sum();
        if level <= 1e-6 {
            0.0
        } else {
            gain / level
        }
    }
}

fn fit(samples: &[([f64; 3], [f64; 3])]) -> Fit {
    fit_where(samples, |_, _| true)
}

/// [`fit`], each channel `k` over only the samples `keep(sample, k)` accepts; a channel with
/// fewer than 8 of them is left out (gain and offset 0).
fn fit_where(samples: &[([f64; 3], [f64; 3])], keep: impl Fn(usize, usize) -> bool) -> Fit {
    let mut out = Fit::default();
    for k in 0..3 {
        let kept: Vec<(f64, f64)> = samples
            .iter()
            .enumerate()
            .filter(|&(i, _)| keep(i, k))
            .map(|(_, s)| (s.0[k], s.1[k]))
            .collect();
        if kept.len() < 8 {
            continue;
        }
        let n = kept.len() as f64;
        let mx = kept.iter().map(|s| s.0).sum::<f64>() / n;
        let my = kept.iter().map(|s| s.1).sum::<f64>() / n;
        let sxx: f64 = kept.iter().map(|s| (s.0 - mx).powi(2)).sum();
        let sxy: f64 = kept.iter().map(|s| (s.0 - mx) * (s.1 - my)).sum();
        let syy: f64 = kept.iter().map(|s| (s.1 - my).powi(2)).sum();
        let gain = if sxx > 1e-9 { sxy / sxx } else { 0.0 };
        out.gain[k] = gain;
        out.offset[k] = my - gain * mx;
        out.sse += (syy - gain * sxy).max(0.0);
        out.sst += syy;
    }
    out
}

/// Each region's response to the light from (light, regions) samples, each channel over only the
/// samples where no region is [`CLIPPED`] in it: a clipped region gains less than the light
/// gives, which flattens the brightest parts of a face (nose, chin) as a picture is flat. Also
/// how many channels had enough such samples.
fn region_fits(lit: &[([f64; 3], [[f32; 3]; 9])]) -> (Vec<Fit>, usize) {
    let clear: Vec<[bool; 3]> = lit
        .iter()
        .map(|(_, regions)| {
            [0, 1, 2].map(|k| regions.iter().all(|region| f64::from(region[k]) < CLIPPED))
        })
        .collect();
    let unclipped = |i: usize, k: usize| clear[i][k];
    let fits = (0..REGION_GRID.len())
        .map(|r| {
            let samples: Vec<([f64; 3], [f64; 3])> = lit
                .iter()
                .map(|(light, regions)| (*light, regions[r].map(f64::from)))
                .collect();
            fit_where(&samples, unclipped)
        })
        .collect();
    let channels = (0..3)
        .filter(|&k| clear.iter().filter(|c| c[k]).count() >= 8)
        .count();
    (fits, channels)
}

/// What the light checks found: the best lag and the fits there.
#[derive(Debug, Clone, Default)]
pub struct LightFit {
    pub lag_ms: f64,
    pub anchor_ms: f64,
    skin: Fit,
    background: Fit,
    regions: Vec<Fit>,
    /// The colour channels the regions' fits had enough unclipped frames in.
    relief_channels: usize,
    order: f64,
    transitions: usize,
    /// The largest change of the skin's colour against what the fit predicts, between the
    /// frames before some moment under the colours and after it (log ratio, the background's
    /// own change taken out): another face's skin reflects the same light differently.
    pub tone_step: f64,
    /// The screen's light on each frame at the fitted lag (linear RGB; `None` outside the
    /// sequence), indexed like `Observations::frames`.
    pub frame_light: Vec<Option<[f64; 3]>>,
}

impl Fit {
    fn predict(&self, expected: &[f64; 3]) -> [f64; 3] {
        [0, 1, 2].map(|k| self.offset[k] + self.gain[k] * expected[k])
    }
}

/// See [`LightFit::tone_step`]. `samples`: (expected light, skin, background) in time order.
fn tone_step(samples: &[([f64; 3], [f64; 3], [f64; 3])], skin: &Fit, background: &Fit) -> f64 {
    const SIDE: usize = 20;
    if samples.len() < 2 * SIDE {
        return 0.0;
    }
    // Observed over predicted, summed from the start, per channel, for the skin and background.
    let mut sums = vec![[0.0f64; 12]];
    for (expected, seen_skin, seen_background) in samples {
        let (ps, pb) = (skin.predict(expected), background.predict(expected));
        let mut next = *sums.last().unwrap_or(&[0.0; 12]);
        for k in 0..3 {
            next[k] += seen_skin[k];
            next[3 + k] += ps[k];
            next[6 + k] += seen_background[k];
            next[9 + k] += pb[k];
        }
        sums.push(next);
    }
    let total = sums[samples.len()];
    let mut best = 0.0f64;
    for before in &sums[SIDE..=samples.len() - SIDE] {
        for k in 0..3 {
            let ratio = |s: &[f64; 12], offset: usize| s[offset + k] / s[offset + 3 + k];
            let after: [f64; 12] = std::array::from_fn(|j| total[j] - before[j]);
            let (skin_before, skin_after) = (ratio(before, 0), ratio(&after, 0));
            let (bg_before, bg_after) = (ratio(before, 6), ratio(&after, 6));
            if [skin_before, skin_after, bg_before, bg_after]
                .iter()
                .all(|r| r.is_finite() && *r > 1e-3)
            {
                let step = ((skin_after / skin_before).ln() - (bg_after / bg_before).ln()).abs();
                best = best.max(step);
            }
        }
    }
    best
}

/// Fits the skin's colour to the issued sequence over a range of lags around the client's
/// reported start of the colours.
pub fn fit_light(
    observations: &Observations,
    issued: &Issued,
    claims: &Claims,
) -> Option<LightFit> {
    let stages = stages(issued);
    let total: f64 = stages.iter().map(|s| s.1).sum();
    let first = claims.colours.iter().find(|c| c.sequence_number == 0)?;
    let anchor = first.start_epoch_ms - claims.video_start_epoch_ms?;
    let skin_of = |regions: &[[f32; 3]; 9]| -> [f64; 3] {
        let mut sum = [0.0; 3];
        for &r in &SKIN_REGIONS {
            for k in 0..3 {
                sum[k] += f64::from(regions[r][k]) / SKIN_REGIONS.len() as f64;
            }
        }
        sum
    };
    // The screen's light on a frame, `lag` ms after the client says it was shown.
    let light_at = |frame: &crate::observe::FrameObservation, lag: f64| {
        let t = frame.t_ms - anchor - lag;
        (0.0..total)
            .contains(&t)
            .then(|| expected(&stages, t))
            .flatten()
    };
    let samples_at =
        |lag: f64, pick: &dyn Fn(&crate::observe::FrameObservation) -> Option<[f64; 3]>| {
            observations
                .frames
                .iter()
                .filter_map(|frame| Some((light_at(frame, lag)?, pick(frame)?)))
                .collect::<Vec<_>>()
        };
    let skin_pick = |frame: &crate::observe::FrameObservation| frame.regions.as_ref().map(skin_of);
    let mut best: Option<(f64, Fit)> = None;
    let mut lag = -100.0;
    while lag <= 400.0 {
        let fitted = fit(&samples_at(lag, &skin_pick));
        if best.as_ref().is_none_or(|(_, b)| fitted.r2() > b.r2()) {
            best = Some((lag, fitted));
        }
        lag += 10.0;
    }
    let (lag, skin) = best?;
    // The light on each frame at the lag found, and the frames under it.
    let frame_light: Vec<Option<[f64; 3]>> = observations
        .frames
        .iter()
        .map(|frame| light_at(frame, lag))
        .collect();
    let lit_frames = || {
        observations
            .frames
            .iter()
            .zip(&frame_light)
            .filter_map(|(frame, light)| Some((frame, (*light)?)))
    };
    let background: Vec<([f64; 3], [f64; 3])> = lit_frames()
        .map(|(frame, light)| (light, frame.background.map(f64::from)))
        .collect();
    let background = fit(&background);
    let paired: Vec<([f64; 3], [f64; 3], [f64; 3])> = lit_frames()
        .filter_map(|(frame, light)| {
            Some((light, skin_pick(frame)?, frame.background.map(f64::from)))
        })
        .collect();
    let tone_step = tone_step(&paired, &skin, &background);
    let lit: Vec<([f64; 3], [[f32; 3]; 9])> = lit_frames()
        .filter_map(|(frame, light)| Some((light, frame.regions?)))
        .collect();
    let (regions, relief_channels) = region_fits(&lit);
    // The colour order, decoded: each colour change seen in the skin against the one issued.
    let mut correct = 0;
    let mut transitions = 0;
    let mean_over = |from: f64, to: f64| -> Option<[f64; 3]> {
        let picked: Vec<[f64; 3]> = observations
            .frames
            .iter()
            .filter(|f| {
                let t = f.t_ms - anchor - lag;
                t >= from && t < to
            })
            .filter_map(|f| f.regions.as_ref().map(skin_of))
            .collect();
        if picked.is_empty() {
            return None;
        }
        let n = picked.len() as f64;
        Some([0, 1, 2].map(|k| picked.iter().map(|p| p[k]).sum::<f64>() / n))
    };
    let ends: Vec<(f64, [f64; 3])> = stages
        .iter()
        .filter_map(|&(start, duration, ..)| {
            let seen = mean_over(start + duration * 0.6, start + duration)?;
            Some((start + duration, seen))
        })
        .collect();
    for pair in ends.windows(2) {
        let (t0, seen0) = pair[0];
        let (t1, seen1) = pair[1];
        let (Some(e0), Some(e1)) = (expected(&stages, t0 - 1.0), expected(&stages, t1 - 1.0))
        else {
            continue;
        };
        let want: Vec<f64> = (0..3)
            .map(|k| (e1[k] - e0[k]) * skin.gain[k].max(0.0))
            .collect();
        let got: Vec<f64> = (0..3).map(|k| seen1[k] - seen0[k]).collect();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm(&want) < 1e-6 {
            continue;
        }
        transitions += 1;
        let cosine = want.iter().zip(&got).map(|(a, b)| a * b).sum::<f64>()
            / (norm(&want) * norm(&got)).max(1e-9);
        if cosine > 0.6 {
            correct += 1;
        }
    }
    Some(LightFit {
        lag_ms: lag,
        anchor_ms: anchor,
        skin,
        background,
        regions,
        relief_channels,
        order: correct as f64 / transitions.max(1) as f64,
        transitions,
        tone_step,
        frame_light,
    })
}

/// Check 4: light reflection in time.
pub fn light_time(light: Option<&LightFit>, calibration: &Calibration) -> CheckResult {
    let Some(light) = light else {
        return CheckResult::unmeasured(
            "light_time",
            "the client reported no colour display, or no face was seen during it",
        );
    };
    let r2 = light.skin.r2();
    let face = light.skin.modulation();
    let background = light.background.modulation().abs();
    let ratio = face / background.max(0.01);
    let score = above(r2, calibration.light_r2, 0.15)
        * above(light.lag_ms, -60.0, 30.0)
        * below(light.lag_ms, calibration.max_lag_ms, 40.0)
        * above(light.order, 0.8, 0.15)
        * above(face, 0.08, 0.06)
        * above(
            ratio,
            calibration.face_background_ratio,
            calibration.face_background_ratio * 0.5,
        );
    let reason = if r2 < calibration.light_r2 || light.order < 0.8 {
        format!(
            "the face's colour did not follow the issued colours (fit {r2:.2}, {:.0}% of the colour changes in order)",
            light.order * 100.0
        )
    } else if light.lag_ms > calibration.max_lag_ms || light.lag_ms < -60.0 {
        format!(
            "the face's colour followed the screen {:.0} ms late",
            light.lag_ms
        )
    } else if face < 0.08 {
        "the face barely reflected the screen".to_owned()
    } else if ratio < calibration.face_background_ratio {
        format!("the background responded as much as the face (ratio {ratio:.1}): light on a screen or a picture")
    } else {
        format!(
            "the face reflected the issued colours in order (fit {r2:.2}, lag {:.0} ms)",
            light.lag_ms
        )
    };
    CheckResult {
        name: "light_time",
        score,
        strong: true,
        reason,
        measurements: BTreeMap::from([
            ("fit_r2", r2),
            ("lag_ms", light.lag_ms),
            ("order", light.order),
            ("transitions", light.transitions as f64),
            ("face_modulation", face),
            ("background_modulation", background),
            ("face_background_ratio", ratio),
        ]),
    }
}

/// The relief of the screen's light over the region grid (rows: forehead, cheeks and nose, jaw;
/// columns: left, middle, right): how much more the middle column gains than the sides (sideways)
/// and the middle row than the forehead and jaw (vertical), each region's gain taken relative to
/// its level (so that the skin's own colour cancels) and to the mean over the grid.
fn relief(regions: &[Fit]) -> (f64, f64) {
    let q: Vec<f64> = regions
        .iter()
        .map(|fit| {
            let gain: f64 = fit.gain.iter().sum();
            let level: f64 = fit.offset.iter().sum::<f64>().max(1e-4);
            gain / level
        })
        .collect();
    let mean = q.iter().sum::<f64>() / q.len().max(1) as f64;
    let at = |row: usize, column: usize| q[row * 3 + column] / mean.max(1e-6);
    let sideways = (0..3)
        .map(|row| at(row, 1) - (at(row, 0) + at(row, 2)) / 2.0)
        .sum::<f64>()
        / 3.0;
    let vertical = (0..3)
        .map(|column| at(1, column) - (at(0, column) + at(2, column)) / 2.0)
        .sum::<f64>()
        / 3.0;
    (sideways, vertical)
}

/// Check 5: light reflection in space: how the screen's light falls over the face. On a head the
/// gain (relative to the ambient level, so that the skin's own colour cancels) falls off toward
/// the sides and toward the forehead and jaw; on a print it is flat, on a bent print it falls off
/// only sideways.
pub fn light_space(light: Option<&LightFit>, calibration: &Calibration) -> CheckResult {
    let Some(light) = light else {
        return CheckResult::unmeasured("light_space", "no reflection to measure");
    };
    let (sideways, vertical) = relief(&light.regions);
    // Sideways falloff alone is what a print bent around a cylinder shows too: the vertical
    // relief (forehead and jaw turned away from the screen) is what tells a head.
    let shape = vertical;
    let score = above(
        shape,
        calibration.relief_threshold,
        calibration.relief_width,
    );
    let reason = if light.relief_channels == 0 {
        "the face was too bright to measure how the screen's light fell over it (clipped in every colour channel)".to_owned()
    } else if score >= 0.5 {
        format!("the screen's light fell over the face as over a head (relief {shape:.3})")
    } else if sideways < calibration.relief_threshold && vertical < calibration.relief_threshold {
        format!("the screen's light fell evenly over the face, as over a flat picture (relief {shape:.3})")
    } else {
        format!("the screen's light fell over the face as over a bent surface, not a head (relief {shape:.3})")
    };
    CheckResult {
        name: "light_space",
        score,
        strong: true,
        reason,
        measurements: BTreeMap::from([
            ("relief_sideways", sideways),
            ("relief_vertical", vertical),
            ("relief", shape),
            ("relief_channels", light.relief_channels as f64),
        ]),
    }
}

/// Check 6: stream integrity.
pub fn integrity(observations: &Observations, issued: &Issued, claims: &Claims) -> CheckResult {
    let frames = &observations.frames;
    let mut backwards = 0usize;
    let mut max_gap = 0.0f64;
    let mut repeated = 0usize;
    for pair in frames.windows(2) {
        let gap = pair[1].t_ms - pair[0].t_ms;
        if gap <= 0.0 {
            backwards += 1;
        }
        max_gap = max_gap.max(gap);
        if pair[1].fingerprint == pair[0].fingerprint {
            repeated += 1;
        }
    }
    let duration = frames.last().map(|f| f.t_ms).unwrap_or(0.0);
    let fps = (frames.len().saturating_sub(1)) as f64 / (duration / 1000.0).max(1e-3);
    let repeated_share = repeated as f64 / frames.len().max(1) as f64;
    let claimed = match (claims.video_start_epoch_ms, claims.video_end_epoch_ms) {
        (Some(start), Some(end)) => end - start,
        _ => f64::NAN,
    };
    let mismatch = (claimed - duration).abs();
    let needed: f64 = stages(issued).iter().map(|s| s.1).sum();
    let score = below(backwards as f64, 0.5, 0.2)
        * below(max_gap, 300.0, 100.0)
        * above(fps, 12.0, 3.0)
        * below(repeated_share, 0.1, 0.06)
        * below(
            if mismatch.is_finite() { mismatch } else { 1e9 },
            800.0,
            300.0,
        )
        * above(duration - needed, 0.0, 200.0);
    let reason = if backwards > 0 {
        format!("{backwards} frame timestamps went backwards")
    } else if max_gap >= 300.0 {
        format!("the video has a gap of {max_gap:.0} ms")
    } else if fps < 12.0 {
        format!("the video runs at {fps:.1} frames/s")
    } else if repeated_share >= 0.1 {
        format!(
            "{:.0}% of the frames repeat the one before",
            repeated_share * 100.0
        )
    } else if mismatch.is_nan() || mismatch >= 800.0 {
        format!("the video lasts {duration:.0} ms but the client reported {claimed:.0} ms")
    } else if duration < needed {
        "the video is shorter than the challenge".to_owned()
    } else {
        format!("one continuous recording of {duration:.0} ms at {fps:.1} frames/s")
    };
    CheckResult {
        name: "integrity",
        score,
        strong: true,
        reason,
        measurements: BTreeMap::from([
            ("duration_ms", duration),
            ("fps", fps),
            ("max_gap_ms", max_gap),
            ("repeated_share", repeated_share),
            ("claimed_duration_ms", claimed),
            ("backwards", backwards as f64),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A head under the screen's colours, seen by a camera that clips: each region's mean over
    /// pixels whose brightness spreads ±20% around the region's, each pixel clipped at 1. The
    /// middle row (cheeks, nose) gains half as much again as the forehead and jaw; the nose and
    /// chin are bright enough that their red clips under the brighter colours.
    fn clipping_head() -> Vec<([f64; 3], [[f32; 3]; 9])> {
        let skin = [0.45, 0.3, 0.2];
        let brightness = [0.8, 1.0, 0.8, 0.9, 1.45, 0.9, 0.8, 1.45, 0.8];
        let colours = [
            [1.0, 1.0, 1.0],
            [1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
        ];
        (0..48)
            .map(|i| {
                let light: [f64; 3] =
                    colours[i % colours.len()].map(|c| c * (0.5 + (i % 3) as f64 * 0.25));
                let mut regions = [[0.0f32; 3]; 9];
                for (r, region) in regions.iter_mut().enumerate() {
                    let relief = if r / 3 == 1 { 1.5 } else { 1.0 };
                    for k in 0..3 {
                        let mean = skin[k] * brightness[r] * (1.0 + 0.8 * relief * light[k]);
                        let pixels = [0.8, 0.9, 1.0, 1.1, 1.2].map(|p: f64| (p * mean).min(1.0));
                        region[k] = (pixels.iter().sum::<f64>() / 5.0) as f32;
                    }
                }
                (light, regions)
            })
            .collect()
    }

    #[test]
    fn clipped_frames_do_not_flatten_the_relief() {
        let lit = clipping_head();
        assert!(
            lit.iter()
                .any(|(_, regions)| regions[4][0] >= CLIPPED as f32),
            "the nose must clip on some frames"
        );
        let (fits, channels) = region_fits(&lit);
        assert_eq!(channels, 3);
        let (_, vertical) = relief(&fits);
        // Unclipped, the middle row's gain relative to its level is 1.5 times the others':
        // normalised by the grid's mean (7/6 of the others'), 1.5/(7/6) - 1/(7/6) = 3/7.
        assert!((vertical - 3.0 / 7.0).abs() < 0.02, "relief {vertical}");
        // Fitted over every frame, clipping alone takes nearly a fifth of the relief away.
        let everything: Vec<Fit> = (0..9)
            .map(|r| {
                let samples: Vec<([f64; 3], [f64; 3])> = lit
                    .iter()
                    .map(|(light, regions)| (*light, regions[r].map(f64::from)))
                    .collect();
                fit(&samples)
            })
            .collect();
        let (_, flattened) = relief(&everything);
        assert!(
            flattened < vertical * 0.85,
            "{flattened} against {vertical}"
        );
    }

    #[test]
    fn a_face_clipped_throughout_has_no_relief_to_measure() {
        let lit: Vec<([f64; 3], [[f32; 3]; 9])> = clipping_head()
            .into_iter()
            .map(|(light, _)| (light, [[1.0; 3]; 9]))
            .collect();
        let (fits, channels) = region_fits(&lit);
        assert_eq!(channels, 0);
        assert!(fits
            .iter()
            .all(|f| f.gain == [0.0; 3] && f.offset == [0.0; 3]));
    }

    #[test]
    fn a_fit_over_every_sample_is_the_plain_fit() {
        let samples: Vec<([f64; 3], [f64; 3])> = (0..20)
            .map(|i| {
                let x = f64::from(i) / 20.0;
                (
                    [x, 1.0 - x, x * x],
                    [0.1 + 0.5 * x, 0.2 + 0.3 * (1.0 - x), 0.3],
                )
            })
            .collect();
        let plain = fit(&samples);
        assert!((plain.gain[0] - 0.5).abs() < 1e-12 && (plain.offset[0] - 0.1).abs() < 1e-12);
        assert!((plain.gain[1] - 0.3).abs() < 1e-12 && (plain.offset[1] - 0.2).abs() < 1e-12);
        assert!(plain.gain[2].abs() < 1e-12);
        let odd = fit_where(&samples, |i, k| k != 1 || i % 2 == 1);
        assert!(
            (odd.gain[1] - 0.3).abs() < 1e-12,
            "a line is a line on any subset"
        );
        assert_eq!(
            fit_where(&samples[..7], |_, _| true).gain,
            [0.0; 3],
            "fewer than 8"
        );
    }
}
