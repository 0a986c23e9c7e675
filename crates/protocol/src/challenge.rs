//! The challenge a session gets: which type and version (from what the client can run and what
//! the session prefers), and its parameters (the oval, the colour sequence), drawn at random.
//!
//! Pure: the randomness comes in through [`RandomSource`]; the server passes the operating
//! system's CSPRNG, tests a seeded generator.

use crate::streaming::{
    ChallengeConfig, ColorSequence, FaceMovementAndLightServerChallenge,
    FaceMovementServerChallenge, OvalParameters, Rgb, ServerChallenge,
};
use crate::{ChallengeKind, ChallengeVersion, ValidChallengePreference};
use serde::{Deserialize, Serialize};

/// The challenge versions this server implements.
pub const SUPPORTED: [(ChallengeKind, ChallengeVersion); 3] = [
    (
        ChallengeKind::FaceMovementAndLightChallenge,
        ChallengeVersion(2, 0, 0),
    ),
    (
        ChallengeKind::FaceMovementAndLightChallenge,
        ChallengeVersion(1, 0, 0),
    ),
    (
        ChallengeKind::FaceMovementChallenge,
        ChallengeVersion(1, 0, 0),
    ),
];

/// The palette colours are drawn from: saturated, far apart, so their reflections differ.
pub const PALETTE: [[u8; 3]; 8] = [
    [0, 0, 0],
    [255, 255, 255],
    [255, 0, 0],
    [0, 255, 0],
    [0, 0, 255],
    [255, 255, 0],
    [0, 255, 255],
    [255, 0, 255],
];

/// How many colours follow the first (black) one.
pub const SCROLLING_COLOURS: usize = 7;

/// Where random numbers come from.
pub trait RandomSource {
    fn next_u32(&mut self) -> u32;

    /// A uniform integer in `low..=high` (rejection sampling, no modulo bias).
    fn between(&mut self, low: u32, high: u32) -> u32 {
        let span = u64::from(high - low) + 1;
        let zone = (1u64 << 32) - (1u64 << 32) % span;
        loop {
            let value = u64::from(self.next_u32());
            if value < zone {
                return low + u32::try_from(value % span).unwrap_or(0);
            }
        }
    }

    /// A uniform float in `low..=high`, in steps of 1/10000 of the range.
    fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * f64::from(self.between(0, 10_000)) / 10_000.0
    }
}

impl RandomSource for Box<dyn RandomSource + Send> {
    fn next_u32(&mut self) -> u32 {
        (**self).next_u32()
    }
}

/// The operating system's CSPRNG.
#[derive(Debug, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn next_u32(&mut self) -> u32 {
        // getrandom only fails when the OS has no entropy source at all; then nothing is safe,
        // and the server cannot issue challenges.
        getrandom::u32()
            .unwrap_or_else(|error| panic!("operating system randomness unavailable: {error}"))
    }
}

/// A small deterministic generator (SplitMix64) for tests and simulations.
#[derive(Debug, Clone)]
pub struct SeededRandom(u64);

impl SeededRandom {
    pub fn new(seed: u64) -> SeededRandom {
        SeededRandom(seed)
    }
}

impl RandomSource for SeededRandom {
    fn next_u32(&mut self) -> u32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        u32::try_from((z ^ (z >> 31)) >> 32).unwrap_or(0)
    }
}

/// The challenge issued to a session, kept as evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuedChallenge {
    pub kind: ChallengeKind,
    pub version: ChallengeVersion,
    pub video_width: u32,
    pub video_height: u32,
    pub server_challenge: ServerChallenge,
}

/// Picks the challenge: the first of the session's preferences (default: the light challenge)
/// that the client offers and this server implements, within the preference's versions.
/// Without preferences, anything both sides support, the light challenge first.
pub fn select(
    preferences: &[ValidChallengePreference],
    offered: &[(String, ChallengeVersion)],
) -> Option<(ChallengeKind, ChallengeVersion)> {
    let candidates = |kind: ChallengeKind| {
        offered
            .iter()
            .filter(move |(name, _)| name == kind.as_str())
            .map(|(_, version)| *version)
            .filter(move |version| SUPPORTED.contains(&(kind, *version)))
    };
    if preferences.is_empty() {
        return ChallengeKind::ALL
            .into_iter()
            .find_map(|kind| candidates(kind).max().map(|version| (kind, version)));
    }
    preferences.iter().find_map(|preference| {
        candidates(preference.kind)
            .filter(|version| preference.minimum.is_none_or(|minimum| *version >= minimum))
            .filter(|version| preference.maximum.is_none_or(|maximum| *version <= maximum))
            .max()
            .map(|version| (preference.kind, version))
    })
}

/// The challenge configuration sent to clients (the values the Amplify client expects).
pub fn challenge_config() -> ChallengeConfig {
    ChallengeConfig {
        blaze_face_detection_threshold: 0.75,
        face_distance_threshold_min: 0.32,
        face_distance_threshold: 0.32,
        face_distance_threshold_max: 0.1,
        oval_iou_threshold: 0.55,
        oval_height_width_ratio: OVAL_RATIO,
        oval_iou_width_threshold: 0.25,
        oval_iou_height_threshold: 0.25,
        face_iou_width_threshold: 0.15,
        face_iou_height_threshold: 0.15,
        oval_fit_timeout: 7000,
    }
}

/// Height over width of the oval.
pub const OVAL_RATIO: f64 = 1.618;

/// Draws the oval: about 42-48% of the frame's width (as large as the frame's height allows),
/// its centre jittered around the middle while the oval stays inside the frame.
pub fn draw_oval(
    video_width: u32,
    video_height: u32,
    random: &mut impl RandomSource,
) -> OvalParameters {
    let (frame_width, frame_height) = (f64::from(video_width), f64::from(video_height));
    let mut width = frame_width * random.uniform(0.42, 0.48);
    if width * OVAL_RATIO > frame_height * 0.97 {
        width = frame_height * 0.97 / OVAL_RATIO;
    }
    let height = width * OVAL_RATIO;
    let jitter_x = (frame_width * 0.08).min((frame_width - width) / 2.0);
    let jitter_y = (frame_height * 0.05)
        .min((frame_height - height) / 2.0)
        .max(0.0);
    let round = |value: f64| (value * 10.0).round() / 10.0;
    OvalParameters {
        width: round(width),
        height: round(height),
        center_x: round(frame_width / 2.0 + random.uniform(-jitter_x, jitter_x)),
        center_y: round(frame_height / 2.0 + random.uniform(-jitter_y, jitter_y)),
    }
}

/// Draws the colour sequence: black held flat first (the reference), then seven colours from the
/// palette, never the same twice in a row, each scrolling down over 400-550 ms.
pub fn draw_colours(random: &mut impl RandomSource) -> Vec<ColorSequence> {
    let mut sequence = vec![ColorSequence {
        freshness_color: Rgb { rgb: PALETTE[0] },
        downscroll_duration: 0.0,
        flat_display_duration: 75.0,
    }];
    let mut previous = 0usize;
    for _ in 0..SCROLLING_COLOURS {
        let mut next = previous;
        while next == previous {
            next = random.between(0, PALETTE.len() as u32 - 1) as usize;
        }
        previous = next;
        sequence.push(ColorSequence {
            freshness_color: Rgb { rgb: PALETTE[next] },
            downscroll_duration: f64::from(random.between(400, 550)),
            flat_display_duration: 0.0,
        });
    }
    sequence
}

/// Issues a challenge of `kind` for a video of the given size.
pub fn issue(
    kind: ChallengeKind,
    version: ChallengeVersion,
    video_width: u32,
    video_height: u32,
    random: &mut impl RandomSource,
) -> IssuedChallenge {
    let oval_parameters = draw_oval(video_width, video_height, random);
    let challenge_config = challenge_config();
    let server_challenge = match kind {
        ChallengeKind::FaceMovementAndLightChallenge => ServerChallenge {
            face_movement_and_light_challenge: Some(FaceMovementAndLightServerChallenge {
                oval_parameters,
                light_challenge_type: "SEQUENTIAL".to_owned(),
                challenge_config,
                color_sequences: draw_colours(random),
            }),
            face_movement_challenge: None,
        },
        ChallengeKind::FaceMovementChallenge => ServerChallenge {
            face_movement_and_light_challenge: None,
            face_movement_challenge: Some(FaceMovementServerChallenge {
                oval_parameters,
                challenge_config,
            }),
        },
    };
    IssuedChallenge {
        kind,
        version,
        video_width,
        video_height,
        server_challenge,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offered(text: &str) -> Vec<(String, ChallengeVersion)> {
        crate::streaming::parse_start_parameters(
            Some("0f7c5ad4-5c4e-4b7a-9d0c-3b4f0d6a2e11"),
            Some("640"),
            Some("480"),
            Some(text),
        )
        .unwrap()
        .challenge_versions
    }

    fn preference(
        kind: ChallengeKind,
        min: Option<(u16, u16, u16)>,
        max: Option<(u16, u16, u16)>,
    ) -> ValidChallengePreference {
        let version = |v: (u16, u16, u16)| ChallengeVersion(v.0, v.1, v.2);
        ValidChallengePreference {
            kind,
            minimum: min.map(version),
            maximum: max.map(version),
        }
    }

    #[test]
    fn selection_follows_preferences_then_defaults() {
        use ChallengeKind::*;
        let amplify = offered("FaceMovementAndLightChallenge_2.0.0,FaceMovementChallenge_1.0.0");
        assert_eq!(
            select(&[], &amplify),
            Some((FaceMovementAndLightChallenge, ChallengeVersion(2, 0, 0)))
        );
        let prefer_movement = [
            preference(FaceMovementChallenge, None, None),
            preference(FaceMovementAndLightChallenge, None, None),
        ];
        assert_eq!(
            select(&prefer_movement, &amplify),
            Some((FaceMovementChallenge, ChallengeVersion(1, 0, 0)))
        );
        let only_old_light = [preference(
            FaceMovementAndLightChallenge,
            None,
            Some((1, 5, 0)),
        )];
        assert_eq!(select(&only_old_light, &amplify), None);
        let old_client = offered("FaceMovementAndLightChallenge_1.0.0");
        assert_eq!(
            select(&only_old_light, &old_client),
            Some((FaceMovementAndLightChallenge, ChallengeVersion(1, 0, 0)))
        );
        assert_eq!(select(&[], &offered("SomeFutureChallenge_9.0.0")), None);
        let movement_only = offered("FaceMovementChallenge_1.0.0");
        assert_eq!(
            select(&[], &movement_only),
            Some((FaceMovementChallenge, ChallengeVersion(1, 0, 0)))
        );
    }

    #[test]
    fn ovals_fit_the_frame_and_vary() {
        let mut random = SeededRandom::new(7);
        let mut centres = std::collections::HashSet::new();
        for (w, h) in [
            (640, 480),
            (480, 640),
            (1280, 720),
            (1920, 1080),
            (320, 240),
        ] {
            for _ in 0..200 {
                let oval = draw_oval(w, h, &mut random);
                let (w, h) = (f64::from(w), f64::from(h));
                assert!(
                    oval.width > 0.0
                        && oval.height > 0.0
                        && oval.center_x > 0.0
                        && oval.center_y > 0.0
                );
                assert!(
                    (oval.height / oval.width - OVAL_RATIO).abs() < 0.01,
                    "{oval:?}"
                );
                assert!(
                    oval.center_x - oval.width / 2.0 >= -0.1
                        && oval.center_x + oval.width / 2.0 <= w + 0.1,
                    "{oval:?}"
                );
                assert!(
                    oval.center_y - oval.height / 2.0 >= -0.1
                        && oval.center_y + oval.height / 2.0 <= h + 0.1,
                    "{oval:?}"
                );
                assert!(oval.width >= 0.3 * w.min(h), "{oval:?}");
                centres.insert((oval.center_x as i64, oval.center_y as i64));
            }
        }
        assert!(
            centres.len() > 100,
            "ovals must not repeat: {}",
            centres.len()
        );
    }

    #[test]
    fn colour_sequences_start_black_and_never_repeat_a_colour_in_a_row() {
        let mut random = SeededRandom::new(11);
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..500 {
            let colours = draw_colours(&mut random);
            assert_eq!(colours.len(), 1 + SCROLLING_COLOURS);
            assert_eq!(colours[0].freshness_color.rgb, [0, 0, 0]);
            assert!(colours[0].flat_display_duration > 0.0);
            for pair in colours.windows(2) {
                assert_ne!(pair[0].freshness_color, pair[1].freshness_color);
            }
            for colour in &colours[1..] {
                assert!((400.0..=550.0).contains(&colour.downscroll_duration));
                assert!(PALETTE.contains(&colour.freshness_color.rgb));
            }
            distinct.insert(
                colours
                    .iter()
                    .map(|c| c.freshness_color.rgb)
                    .collect::<Vec<_>>(),
            );
        }
        assert!(
            distinct.len() > 490,
            "sequences must not repeat: {}",
            distinct.len()
        );
    }

    #[test]
    fn seeded_randomness_is_reproducible_and_in_range() {
        let a: Vec<u32> = {
            let mut r = SeededRandom::new(3);
            (0..100).map(|_| r.between(5, 9)).collect()
        };
        let b: Vec<u32> = {
            let mut r = SeededRandom::new(3);
            (0..100).map(|_| r.between(5, 9)).collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().all(|v| (5..=9).contains(v)));
        assert!((5..=9).all(|v| a.contains(&v)));
        let mut os = OsRandom;
        assert!((0..100).map(|_| os.between(0, 1)).any(|v| v == 1));
    }
}
