//! The checks of docs/decision.md, each from the observations alone (the client's claims only
//! anchor time and are themselves checked): a score from 0 to 1, the measurements behind it, and
//! a reason a person can read.

use std::collections::BTreeMap;

use openliveness_vision::{Detection, Keypoint};
use serde::Serialize;

use crate::calibration::{Calibration, Faces, LightFitting, PASSING_SCORE};
use crate::claims::{Claims, Issued};
use crate::identity::{self, Sample, Step};
use crate::observe::{eye_frame, Observations, REGION_GRID, SKIN_REGIONS};

pub use crate::calibration::{above, below};

/// Whether a check bounds the confidence or only adjusts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    /// The weakest strong check bounds the confidence.
    Strong,
    /// A supporting check moves the confidence within that bound.
    Supporting,
}

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

/// The main face on each frame the detector ran on, and how many other faces count.
struct Detected<'a> {
    t_ms: f64,
    face: &'a Detection,
    others: usize,
}

/// The main face on each frame the detector ran on, and on how many frames it ran.
fn detected<'a>(observations: &'a Observations, counted: &Faces) -> (Vec<Detected<'a>>, usize) {
    let mut out = Vec::new();
    let mut ran = 0;
    for frame in &observations.frames {
        let Some(faces) = &frame.faces else { continue };
        ran += 1;
        let Some(face) = faces.first() else { continue };
        let others = faces
            .iter()
            .skip(1)
            .filter(|other| {
                other.score >= counted.second_face_min_score
                    && other.bounding_box.iou(&face.bounding_box) < counted.second_face_max_iou
            })
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
    near_share: f32,
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
            if width < near_share * widest {
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
    let c = &calibration.one_face;
    let (faces, ran) = detected(observations, &calibration.faces);
    let coverage = faces.len() as f64 / ran.max(1) as f64;
    let extra = faces.iter().filter(|d| d.others > 0).count() as f64 / ran.max(1) as f64;
    // Between consecutive detections (a few frames apart): a head moves a fraction of its width
    // and changes size by a fraction in a tenth of a second; a cut moves or resizes it at once.
    let mut jumps = 0usize;
    for pair in faces.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let tenths = (b.t_ms - a.t_ms) / 100.0;
        if tenths > c.jump_window_tenths {
            continue;
        }
        let width = f64::from(a.face.bounding_box.width).max(1.0);
        let (ca, cb) = (centre(a.face), centre(b.face));
        let moved = ((ca[0] - cb[0]).powi(2) + (ca[1] - cb[1]).powi(2)).sqrt() / width;
        let grew = (f64::from(b.face.bounding_box.width) / width).ln().abs();
        if moved > c.max_shift_per_tenth * tenths.max(1.0)
            || grew > c.max_growth_per_tenth * tenths.max(1.0)
        {
            jumps += 1;
        }
    }
    let (step, compared) = appearance_step(
        observations,
        light.map(|l| l.frame_light.as_slice()),
        c.near_share,
    );
    let (appearance_change, change_at_ms) = (step.change, step.at_ms);
    let tone_step = light.map_or(0.0, |l| l.tone_step);
    let identity_change = appearance_change + c.tone_weight * tone_step;
    let score = c.min_coverage.above(coverage)
        * c.max_second_face_share.below(extra)
        * c.max_jumps.below(jumps as f64)
        * c.identity.below(identity_change);
    let reason = if coverage < c.min_coverage.at {
        format!(
            "a face was found on only {:.0}% of the frames",
            coverage * 100.0
        )
    } else if extra >= c.max_second_face_share.at {
        format!(
            "a second face was in view on {:.0}% of the frames",
            extra * 100.0
        )
    } else if jumps as f64 >= c.max_jumps.at {
        format!("the face jumped {jumps} times between frames (a cut or a swap)")
    } else if identity_change >= c.identity.at {
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
pub fn movement(
    observations: &Observations,
    issued: &Issued,
    calibration: &Calibration,
) -> CheckResult {
    let c = &calibration.movement;
    let (faces, _) = detected(observations, &calibration.faces);
    let duration = observations.frames.last().map(|f| f.t_ms).unwrap_or(0.0);
    let mut first: Vec<f64> = faces
        .iter()
        .filter(|d| d.t_ms <= faces.first().map(|f| f.t_ms).unwrap_or(0.0) + c.start_window_ms)
        .map(|d| f64::from(d.face.bounding_box.width))
        .collect();
    let settled: Vec<&Detected<'_>> = faces
        .iter()
        .filter(|d| d.t_ms >= duration * c.settled_from)
        .collect();
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
    // How long the approach took: from the first detection to most of the final width.
    let reached = faces
        .iter()
        .find(|d| f64::from(d.face.bounding_box.width) >= c.reached_share * last)
        .map(|d| d.t_ms)
        .unwrap_or(f64::NAN);
    let approach_ms = reached - faces.first().map(|d| d.t_ms).unwrap_or(0.0);
    let score = c.min_growth.above(growth)
        * c.min_fill.above(fill)
        * c.max_fill.below(fill)
        * c.max_offset_x.below(offset_x)
        * c.max_offset_y.below(offset_y)
        * c.min_approach_ms.above(approach_ms);
    let reason = if !growth.is_finite() {
        "no face to follow".to_owned()
    } else if growth < c.min_growth.at {
        format!("the face did not approach the camera (it grew {growth:.2}x)")
    } else if !(c.min_fill.at..=c.max_fill.at).contains(&fill) {
        format!(
            "the face did not fill the oval (its width is {:.0}% of the oval's)",
            fill * 100.0
        )
    } else if offset_x >= c.max_offset_x.at || offset_y >= c.max_offset_y.at {
        "the face did not reach the oval's centre".to_owned()
    } else if approach_ms < c.min_approach_ms.at {
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

/// The least-squares slope of y over x, NaN with fewer than `min_points` points.
fn slope(points: &[(f64, f64)], min_points: usize) -> f64 {
    let n = points.len() as f64;
    if points.len() < min_points {
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
    weight: Weight,
) -> CheckResult {
    let c = &calibration.perspective;
    let (faces, _) = detected(observations, &calibration.faces);
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
        if xs.len() >= c.min_span_detections {
            xs[xs.len() * 9 / 10] - xs[xs.len() / 10]
        } else {
            0.0
        }
    };
    let ear_slope = slope(&ears, c.min_slope_points);
    let nose_slope = slope(&noses, c.min_slope_points);
    // Depth evidence: ears falling behind, nose coming forward, beyond a plane's drift.
    let depth = (nose_slope - ear_slope) - c.flat;
    let score = if span < c.min_log_size_span {
        // Too little approach to see perspective: no evidence either way.
        c.no_evidence_score
    } else {
        c.depth.above(depth)
    };
    let reason = if span < c.min_log_size_span {
        "too little approach to measure perspective".to_owned()
    } else if score >= PASSING_SCORE {
        format!("the face's proportions changed with distance as a 3D head's do ({depth:.3})")
    } else {
        format!("the face kept a flat picture's proportions while approaching ({depth:.3})")
    };
    CheckResult {
        name: "perspective",
        score,
        strong: weight == Weight::Strong,
        reason,
        measurements: BTreeMap::from([
            ("ear_slope", ear_slope),
            ("nose_slope", nose_slope),
            ("depth", depth),
            ("log_size_span", span),
        ]),
    }
}

/// One stage of the colour sequence as the web client shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// When it starts, ms after the first colour began.
    pub start_ms: f64,
    pub duration_ms: f64,
    /// The colour shown (sRGB).
    pub colour: [u8; 3],
    /// The colour before it, which a scrolling stage covers from the top.
    pub previous: [u8; 3],
    /// Whether `colour` scrolls down over `previous` (else it is shown flat).
    pub scrolling: bool,
}

/// The colour stages of the issued sequence, as the web client shows them.
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
            out.push(Stage {
                start_ms: at,
                duration_ms: downscroll,
                colour: rgb,
                previous,
                scrolling: true,
            });
            at += downscroll;
        }
        if flat > 0.0 || (index == 0 && downscroll <= 0.0) {
            out.push(Stage {
                start_ms: at,
                duration_ms: flat,
                colour: rgb,
                previous: rgb,
                scrolling: false,
            });
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
    for stage in stages {
        if t < stage.start_ms + stage.duration_ms {
            let cur = stage.colour.map(linear);
            if !stage.scrolling {
                return Some(cur);
            }
            let prev = stage.previous.map(linear);
            let p = ((t - stage.start_ms) / stage.duration_ms).clamp(0.0, 1.0);
            return Some([0, 1, 2].map(|k| p * cur[k] + (1.0 - p) * prev[k]));
        }
    }
    None
}

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

/// The fit over every sample; a channel with fewer than `min_samples` is left out (gain and
/// offset 0).
fn fit(samples: &[([f64; 3], [f64; 3])], min_samples: usize) -> Fit {
    fit_where(samples, min_samples, |_, _| true)
}

/// [`fit`], each channel `k` over only the samples `keep(sample, k)` accepts; a channel with
/// fewer than `min_samples` of them is left out.
fn fit_where(
    samples: &[([f64; 3], [f64; 3])],
    min_samples: usize,
    keep: impl Fn(usize, usize) -> bool,
) -> Fit {
    let mut out = Fit::default();
    for k in 0..3 {
        let kept: Vec<(f64, f64)> = samples
            .iter()
            .enumerate()
            .filter(|&(i, _)| keep(i, k))
            .map(|(_, s)| (s.0[k], s.1[k]))
            .collect();
        if kept.len() < min_samples {
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
/// samples where no region is clipped in it (its mean at or above `clipped`): a clipped region
/// gains less than the light gives, which flattens the brightest parts of a face (nose, chin) as
/// a picture is flat. Also how many channels had enough such samples (`min_samples`).
fn region_fits(
    lit: &[([f64; 3], [[f32; 3]; 9])],
    clipped: f64,
    min_samples: usize,
) -> (Vec<Fit>, usize) {
    let clear: Vec<[bool; 3]> = lit
        .iter()
        .map(|(_, regions)| {
            [0, 1, 2].map(|k| regions.iter().all(|region| f64::from(region[k]) < clipped))
        })
        .collect();
    let unclipped = |i: usize, k: usize| clear[i][k];
    let fits = (0..REGION_GRID.len())
        .map(|r| {
            let samples: Vec<([f64; 3], [f64; 3])> = lit
                .iter()
                .map(|(light, regions)| (*light, regions[r].map(f64::from)))
                .collect();
            fit_where(&samples, min_samples, unclipped)
        })
        .collect();
    let channels = (0..3)
        .filter(|&k| clear.iter().filter(|c| c[k]).count() >= min_samples)
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

/// See [`LightFit::tone_step`]. `samples`: (expected light, skin, background) in time order;
/// moments with at least `side` samples on either side are tried.
fn tone_step(
    samples: &[([f64; 3], [f64; 3], [f64; 3])],
    skin: &Fit,
    background: &Fit,
    side: usize,
) -> f64 {
    if samples.len() < 2 * side {
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
    for before in &sums[side..=samples.len() - side] {
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
    calibration: &Calibration,
) -> Option<LightFit> {
    let LightFitting {
        lags,
        stage_settled_from,
        order_min_cosine,
        min_fit_frames,
    } = &calibration.light_fit;
    let stages = stages(issued);
    let total: f64 = stages.iter().map(|s| s.duration_ms).sum();
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
    let mut lag = lags.from_ms;
    while lag <= lags.to_ms {
        let fitted = fit(&samples_at(lag, &skin_pick), *min_fit_frames);
        if best.as_ref().is_none_or(|(_, b)| fitted.r2() > b.r2()) {
            best = Some((lag, fitted));
        }
        lag += lags.step_ms;
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
    let background = fit(&background, *min_fit_frames);
    let paired: Vec<([f64; 3], [f64; 3], [f64; 3])> = lit_frames()
        .filter_map(|(frame, light)| {
            Some((light, skin_pick(frame)?, frame.background.map(f64::from)))
        })
        .collect();
    let tone_step = tone_step(
        &paired,
        &skin,
        &background,
        calibration.one_face.tone_step_side,
    );
    let lit: Vec<([f64; 3], [[f32; 3]; 9])> = lit_frames()
        .filter_map(|(frame, light)| Some((light, frame.regions?)))
        .collect();
    let (regions, relief_channels) =
        region_fits(&lit, calibration.light_space.clipped, *min_fit_frames);
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
        .filter_map(|stage| {
            let (start, duration) = (stage.start_ms, stage.duration_ms);
            let seen = mean_over(start + duration * stage_settled_from, start + duration)?;
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
        if cosine > *order_min_cosine {
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
    let c = &calibration.light_time;
    let r2 = light.skin.r2();
    let face = light.skin.modulation();
    let background = light.background.modulation().abs();
    let ratio = face / background.max(c.least_background_modulation);
    let score = c.min_r2.above(r2)
        * c.min_lag_ms.above(light.lag_ms)
        * c.max_lag_ms.below(light.lag_ms)
        * c.min_order.above(light.order)
        * c.min_face_modulation.above(face)
        * c.min_face_background_ratio.above(ratio);
    let reason = if r2 < c.min_r2.at || light.order < c.min_order.at {
        format!(
            "the face's colour did not follow the issued colours (fit {r2:.2}, {:.0}% of the colour changes in order)",
            light.order * 100.0
        )
    } else if light.lag_ms > c.max_lag_ms.at || light.lag_ms < c.min_lag_ms.at {
        format!(
            "the face's colour followed the screen {:.0} ms late",
            light.lag_ms
        )
    } else if face < c.min_face_modulation.at {
        "the face barely reflected the screen".to_owned()
    } else if ratio < c.min_face_background_ratio.at {
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
    let relief = &calibration.light_space.relief;
    let score = relief.above(shape);
    let reason = if light.relief_channels == 0 {
        "the face was too bright to measure how the screen's light fell over it (clipped in every colour channel)".to_owned()
    } else if score >= PASSING_SCORE {
        format!("the screen's light fell over the face as over a head (relief {shape:.3})")
    } else if sideways < relief.at && vertical < relief.at {
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
pub fn integrity(
    observations: &Observations,
    issued: &Issued,
    claims: &Claims,
    calibration: &Calibration,
) -> CheckResult {
    let c = &calibration.integrity;
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
    let needed: f64 = stages(issued).iter().map(|s| s.duration_ms).sum();
    // An unknown claimed duration scores as a mismatch: `below` is 0 for what is not finite.
    let score = c.max_backwards.below(backwards as f64)
        * c.max_gap_ms.below(max_gap)
        * c.min_fps.above(fps)
        * c.max_repeated_share.below(repeated_share)
        * c.max_duration_mismatch_ms.below(mismatch)
        * c.min_margin_ms.above(duration - needed);
    let reason = if backwards as f64 >= c.max_backwards.at {
        format!("{backwards} frame timestamps went backwards")
    } else if max_gap >= c.max_gap_ms.at {
        format!("the video has a gap of {max_gap:.0} ms")
    } else if fps < c.min_fps.at {
        format!("the video runs at {fps:.1} frames/s")
    } else if repeated_share >= c.max_repeated_share.at {
        format!(
            "{:.0}% of the frames repeat the one before",
            repeated_share * 100.0
        )
    } else if mismatch.is_nan() || mismatch >= c.max_duration_mismatch_ms.at {
        format!("the video lasts {duration:.0} ms but the client reported {claimed:.0} ms")
    } else if duration - needed < c.min_margin_ms.at {
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

    /// The calibration's clipping cut-off and least frames per channel.
    fn cut_off() -> (f64, usize) {
        let calibration = Calibration::default();
        (
            calibration.light_space.clipped,
            calibration.light_fit.min_fit_frames,
        )
    }

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
        let (clipped, min_frames) = cut_off();
        assert!(
            lit.iter()
                .any(|(_, regions)| regions[4][0] >= clipped as f32),
            "the nose must clip on some frames"
        );
        let (fits, channels) = region_fits(&lit, clipped, min_frames);
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
                fit(&samples, min_frames)
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
        let (clipped, min_frames) = cut_off();
        let (fits, channels) = region_fits(&lit, clipped, min_frames);
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
        let plain = fit(&samples, 8);
        assert!((plain.gain[0] - 0.5).abs() < 1e-12 && (plain.offset[0] - 0.1).abs() < 1e-12);
        assert!((plain.gain[1] - 0.3).abs() < 1e-12 && (plain.offset[1] - 0.2).abs() < 1e-12);
        assert!(plain.gain[2].abs() < 1e-12);
        let odd = fit_where(&samples, 8, |i, k| k != 1 || i % 2 == 1);
        assert!(
            (odd.gain[1] - 0.3).abs() < 1e-12,
            "a line is a line on any subset"
        );
        assert_eq!(
            fit_where(&samples[..7], 8, |_, _| true).gain,
            [0.0; 3],
            "fewer than 8"
        );
    }
}
