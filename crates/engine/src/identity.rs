//! Check 1's measure of another person: whether the face's appearance stepped at some moment and
//! stayed changed, beyond what the screen's light and the face's size explain.
//!
//! The appearance (`observe::appearance`) is a patch aligned to the eyes, per colour channel the
//! log brightness less its smooth shading. The screen's colours still change it: the screen lights
//! the face from another direction than the room, so each channel's shading pattern moves with
//! that channel's share of screen light. And while the face approaches, its size changes how the
//! patch samples it. Both are smooth in what causes them, so each element of the patch is modelled
//! over the session as linear in its own channel's screen light and in the log of the face's
//! width. A swap is a step: from some moment on, every frame differs the same way from every frame
//! before. The measure is the share of the appearance's variance left by that model that one
//! step, at the best moment, explains (0 when none does, towards 1 when it is all a step).
//!
//! Persistence is what tells a swap: a live face's appearance drifts and follows the light, but
//! after the moment it is the same face as before it, so no single step explains much.

use crate::linear::{dot, norm, orthonormal, remove_span};
use crate::observe::PATCH;

/// One frame's part: when, the face's width (px), the screen's light on it (linear RGB, `None`
/// outside the colour sequence) and its appearance.
pub struct Sample<'a> {
    pub t_ms: f64,
    pub width: f64,
    pub light: Option<[f64; 3]>,
    pub appearance: &'a [f32],
}

/// The largest step found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The share of the variance the step explains, 0 to 1.
    pub change: f64,
    /// When it happened (ms), NaN when no moment could be tested.
    pub at_ms: f64,
    /// The screen light taken for the frames outside the colour sequence (the page's, fitted).
    pub page_light: f64,
}

/// Per channel, one column per element of the patch (its values over the frames).
type Columns = [Vec<Vec<f64>>; 3];

/// The fewest frames on either side of a moment for it to be tested.
const MIN_SIDE: usize = 6;

/// Per channel: the appearance's elements over the frames, as columns (one per element).
fn channels(appearances: &[Vec<f64>]) -> Columns {
    let area = PATCH * PATCH;
    std::array::from_fn(|k| {
        (0..area)
            .map(|e| {
                appearances
                    .iter()
                    .map(|a| a.get(k * area + e).copied().unwrap_or(0.0))
                    .collect()
            })
            .collect()
    })
}

/// The appearances less what a small misplacement of the patch makes of them. The patch is
/// placed from the detector's keypoints, which wander by a pixel or two from one detection to
/// the next; that moves the patch's pattern along its own gradient, the same few patterns
/// (shift across, shift down, scale, turn) on every frame. Each frame's part along them (the
/// mean appearance's, all channels together) is taken out; another person's face differs from
/// the first in much more than these.
fn without_misplacement(samples: &[Sample]) -> Vec<Vec<f64>> {
    let area = PATCH * PATCH;
    let length = 3 * area;
    let mut appearances: Vec<Vec<f64>> = samples
        .iter()
        .map(|s| {
            (0..length)
                .map(|e| f64::from(s.appearance.get(e).copied().unwrap_or(0.0)))
                .collect()
        })
        .collect();
    let n = appearances.len().max(1) as f64;
    let mut mean = vec![0.0; length];
    for a in &appearances {
        mean.iter_mut().zip(a).for_each(|(m, v)| *m += v / n);
    }
    let at = |k: usize, row: usize, column: usize| mean[k * area + row * PATCH + column];
    let last = PATCH - 1;
    let mut patterns = vec![vec![0.0; length]; 4];
    for k in 0..3 {
        for row in 0..PATCH {
            for column in 0..PATCH {
                let (c0, c1) = (column.saturating_sub(1), (column + 1).min(last));
                let (r0, r1) = (row.saturating_sub(1), (row + 1).min(last));
                let gx = (at(k, row, c1) - at(k, row, c0)) / (c1 - c0) as f64;
                let gy = (at(k, r1, column) - at(k, r0, column)) / (r1 - r0) as f64;
                let x = column as f64 - last as f64 / 2.0;
                let y = row as f64 - last as f64 / 2.0;
                let e = k * area + row * PATCH + column;
                patterns[0][e] = gx;
                patterns[1][e] = gy;
                patterns[2][e] = x * gx + y * gy;
                patterns[3][e] = -y * gx + x * gy;
            }
        }
    }
    let basis = orthonormal(patterns);
    for a in &mut appearances {
        remove_span(a, &basis);
    }
    appearances
}

/// The residual of each column of `data` once the span of `basis` is taken out.
fn residuals(data: &[Vec<f64>], basis: &[Vec<f64>]) -> Vec<Vec<f64>> {
    data.iter()
        .map(|column| {
            let mut column = column.clone();
            remove_span(&mut column, basis);
            column
        })
        .collect()
}

/// The model of channel `k` without a step: a constant, the channel's screen light (the page's
/// `page` outside the sequence; left out when no frame has light) and the log of the face's width.
fn design(samples: &[Sample], k: usize, page: f64, lit: bool) -> Vec<Vec<f64>> {
    let n = samples.len() as f64;
    let log_width: Vec<f64> = samples.iter().map(|s| s.width.max(1.0).ln()).collect();
    let mean = log_width.iter().sum::<f64>() / n;
    let mut columns = vec![
        vec![1.0; samples.len()],
        log_width.iter().map(|w| w - mean).collect(),
    ];
    if lit {
        columns.push(
            samples
                .iter()
                .map(|s| s.light.map_or(page, |l| l[k]))
                .collect(),
        );
    }
    columns
}

/// The largest persistent step in the appearance over `samples` (in time order). With
/// `within_light`, only moments under the colour sequence are tested (the light checks rely on
/// the face that answered the colours being the one there before).
pub fn appearance_step(samples: &[Sample], within_light: bool) -> Step {
    step(
        samples,
        channels(&without_misplacement(samples)),
        within_light,
    )
}

/// [`appearance_step`] on the appearances `data` (per channel, a column per element).
fn step(samples: &[Sample], data: Columns, within_light: bool) -> Step {
    let none = Step {
        change: 0.0,
        at_ms: f64::NAN,
        page_light: f64::NAN,
    };
    if samples.len() < 2 * MIN_SIDE {
        return none;
    }
    let lit = samples.iter().any(|s| s.light.is_some());
    // The page's light (outside the colours) is not known: the one that leaves least unexplained.
    let pages: Vec<f64> = if lit && samples.iter().any(|s| s.light.is_none()) {
        (0..=10).map(|i| f64::from(i) / 10.0).collect()
    } else {
        vec![0.0]
    };
    let mut fitted: Option<(f64, f64, Columns, Columns)> = None;
    for &page in &pages {
        let bases: Columns = std::array::from_fn(|k| orthonormal(design(samples, k, page, lit)));
        let left: Columns = std::array::from_fn(|k| residuals(&data[k], &bases[k]));
        let sse: f64 = left.iter().flatten().map(|c| dot(c, c)).sum();
        if fitted.as_ref().is_none_or(|(best, ..)| sse < *best) {
            fitted = Some((sse, page, bases, left));
        }
    }
    let Some((sse, page, bases, left)) = fitted else {
        return none;
    };
    if sse <= 1e-12 {
        return Step {
            page_light: page,
            ..none
        };
    }
    let mut best = Step {
        page_light: page,
        ..none
    };
    for (i, sample) in samples.iter().enumerate().step_by(2) {
        if i < MIN_SIDE || samples.len() - i < MIN_SIDE {
            continue;
        }
        if within_light && lit && sample.light.is_none() {
            continue;
        }
        let step: Vec<f64> = samples
            .iter()
            .map(|s| if s.t_ms >= sample.t_ms { 1.0 } else { 0.0 })
            .collect();
        let mut explained = 0.0;
        for k in 0..3 {
            let mut q = step.clone();
            remove_span(&mut q, &bases[k]);
            let length = norm(&q);
            if length < 1e-6 {
                continue;
            }
            explained += left[k]
                .iter()
                .map(|column| (dot(column, &q) / length).powi(2))
                .sum::<f64>();
        }
        let share = explained / sse;
        if share > best.change {
            best.change = share;
            best.at_ms = sample.t_ms;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame: time, face width, screen light, appearance.
    type Frame = (f64, f64, Option<[f64; 3]>, Vec<f32>);

    /// A deterministic pseudo-random stream in [-1, 1].
    fn noise(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        }
    }

    /// A face pattern per person; under the light `l` (per channel) a lighting pattern adds
    /// `l` times `shade`.
    fn frames(person_at: impl Fn(f64) -> usize, lit_from_ms: f64) -> Vec<Frame> {
        let area = PATCH * PATCH;
        let mut people = noise(1);
        let faces: Vec<Vec<f64>> = (0..2)
            .map(|_| (0..3 * area).map(|_| people()).collect())
            .collect();
        let shade: Vec<f64> = (0..3 * area).map(|_| people()).collect();
        let mut jitter = noise(2);
        (0..150)
            .map(|i| {
                let t = f64::from(i) * 66.7;
                let light = (t >= lit_from_ms).then(|| {
                    let phase = t / 400.0;
                    [
                        phase.sin().abs(),
                        phase.cos().abs(),
                        (phase * 0.7).sin().abs(),
                    ]
                });
                let face = &faces[person_at(t)];
                let appearance = (0..3 * area)
                    .map(|e| {
                        let l = light.map_or(0.5, |l| l[e / area]);
                        (face[e] + 1.5 * l * shade[e] + 0.3 * jitter()) as f32
                    })
                    .collect();
                (t, 200.0, light, appearance)
            })
            .collect()
    }

    fn samples_of(frames: &[Frame]) -> Vec<Sample<'_>> {
        frames
            .iter()
            .map(|(t, w, l, a)| Sample {
                t_ms: *t,
                width: *w,
                light: *l,
                appearance: a,
            })
            .collect()
    }

    fn step_of(frames: &[Frame]) -> Step {
        appearance_step(&samples_of(frames), true)
    }

    #[test]
    fn the_light_alone_makes_no_step() {
        let same = step_of(&frames(|_| 0, 4000.0));
        assert!(same.change < 0.05, "{same:?}");
    }

    #[test]
    fn another_person_under_the_colours_is_a_step_at_the_swap() {
        let swapped = step_of(&frames(|t| usize::from(t >= 7000.0), 4000.0));
        assert!(swapped.change > 0.3, "{swapped:?}");
        assert!((swapped.at_ms - 7000.0).abs() < 140.0, "{swapped:?}");
    }

    /// A smooth face (a few waves over the patch per channel), seen with the patch placed
    /// `shift(t)` samples off (across, down) and a little noise.
    fn misplaced(shift: impl Fn(f64) -> (f64, f64)) -> Vec<Frame> {
        let mut noise = noise(3);
        let waves: Vec<[f64; 4]> = (0..9)
            .map(|_| {
                [
                    noise(),
                    0.5 + 0.3 * noise(),
                    0.5 + 0.3 * noise(),
                    3.0 * noise(),
                ]
            })
            .collect();
        (0..150)
            .map(|i| {
                let t = f64::from(i) * 66.7;
                let (dx, dy) = shift(t);
                let appearance = (0..3 * PATCH * PATCH)
                    .map(|e| {
                        let (k, row, column) = (e / (PATCH * PATCH), e / PATCH % PATCH, e % PATCH);
                        let (x, y) = (column as f64 + dx, row as f64 + dy);
                        let face: f64 = waves[3 * k..3 * k + 3]
                            .iter()
                            .map(|[a, fx, fy, phase]| a * (fx * x + phase).sin() * (fy * y).cos())
                            .sum();
                        (face + 0.1 * noise()) as f32
                    })
                    .collect();
                (t, 200.0, None, appearance)
            })
            .collect()
    }

    #[test]
    fn a_patch_placed_a_little_off_is_the_same_face() {
        // The keypoints wander by a fraction of a sample, and from 5 s on land a third of a
        // sample lower and a quarter further across for good.
        let mut jitter = noise(4);
        let wander: Vec<(f64, f64)> = (0..150)
            .map(|_| (0.15 * jitter(), 0.15 * jitter()))
            .collect();
        let frames = misplaced(|t| {
            let (dx, dy) = wander[(t / 66.7).round() as usize % 150];
            let moved = if t >= 5000.0 {
                (0.25, 0.33)
            } else {
                (0.0, 0.0)
            };
            (dx + moved.0, dy + moved.1)
        });
        let samples = samples_of(&frames);
        let same = appearance_step(&samples, false);
        assert!(same.change < 0.1, "{same:?}");
        // Left in, the lasting misplacement is a step.
        let raw = |s: &Sample| s.appearance.iter().map(|&v| f64::from(v)).collect();
        let kept = step(
            &samples,
            channels(&samples.iter().map(raw).collect::<Vec<Vec<f64>>>()),
            false,
        );
        assert!(kept.change > 0.3, "{kept:?}");
        assert!((kept.at_ms - 5000.0).abs() < 140.0, "{kept:?}");
    }

    #[test]
    fn too_few_frames_is_no_finding() {
        let few = &frames(|_| 0, 0.0)[..8];
        assert_eq!(step_of(few).change, 0.0);
    }
}
