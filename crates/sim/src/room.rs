//! The room world: the whole person (hair, neck, shoulders in clothes) in front of a wall, lit in
//! physical units (the room's illuminance on the face in lux, its colour temperature and
//! direction; the screen as an area light of real luminance and size below the camera), seen by
//! a camera that runs auto exposure and auto white balance with real time constants, at the frame
//! rates and sizes browsers and phones record.
//!
//! Every condition is a named axis ([`RoomConditions::axes`]), drawn from the seed and fixable
//! (`--condition AXIS=VALUE`), so a sweep over one axis is one command and a report can break its
//! numbers down by each axis' buckets. Two draws: the normal ranges (what calibration and
//! evaluation use) and the stress ranges (dimmer screens, brighter rooms, closer walls, faster
//! white balance), for a held-out set that is never used to fit anything.

use serde::Serialize;

use crate::face::BeardKind;
use crate::render::{Camera, Canvas, Light, NoiseTable};
use crate::rng::Rng;
use crate::session::VideoCodec;

/// Which draw of the conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Ranges {
    /// The conditions of everyday use: calibration and evaluation draw from these.
    Normal,
    /// Beyond them on one to three axes: the held-out stress set.
    Stress,
}

/// The names `--condition` takes and reports show: what `serde` writes for each variant.
macro_rules! named {
    ($type:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $type {
            pub const ALL: &[$type] = &[$($type::$variant),+];

            pub fn name(self) -> &'static str {
                match self {
                    $($type::$variant => $name),+
                }
            }

            pub fn parse(name: &str) -> Option<$type> {
                $type::ALL.iter().copied().find(|value| value.name() == name)
            }
        }
    };
}

named!(Ranges { Normal => "normal", Stress => "stress" });
named!(Device { Phone => "phone", Laptop => "laptop", Monitor => "monitor" });
named!(LightDirection { Ceiling => "ceiling", Window => "window", Front => "front" });
named!(Controls { Auto => "auto", Locked => "locked" });
named!(Eyewear { None => "none", Glasses => "glasses" });
named!(Expressions { None => "none", Natural => "natural" });
named!(Backdrop {
    Plain => "plain",
    Furniture => "furniture",
    Window => "window",
    Poster => "poster",
    Person => "person",
});
named!(Start { Far => "far", TooClose => "too-close" });

/// The device whose screen lights the face.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Device {
    Phone,
    Laptop,
    Monitor,
}

/// Where the room's main light comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LightDirection {
    Ceiling,
    Window,
    Front,
}

/// The camera's automatic controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Controls {
    /// Auto exposure and auto white balance run all the time (every browser).
    Auto,
    /// Both settle on the first frames, then hold.
    Locked,
}

/// Whether the person wears glasses (their lenses mirror the screen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Eyewear {
    None,
    Glasses,
}

/// Whether the face moves by itself: blinks, talking, smiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expressions {
    /// A still face (for sweeps that isolate the other axes).
    None,
    /// Blinks every few seconds, sometimes talking or smiling.
    Natural,
}

/// What is behind the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backdrop {
    /// A painted wall with some texture.
    Plain,
    /// Shelves, cupboards and frames on the wall.
    Furniture,
    /// A window in the wall, brighter than the room (the camera's exposure follows it).
    Window,
    /// A poster with a face on the wall.
    Poster,
    /// Another person in the room, behind.
    Person,
}

/// Where the face starts: far, moving toward the oval, or too close, moving back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Start {
    Far,
    TooClose,
}

/// The conditions of one session in the room world, drawn from its seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomConditions {
    pub ranges: Ranges,
    /// The room's illuminance on the face (lux), with the screen off.
    pub room_lux: f64,
    pub colour_temperature_k: f64,
    pub light_direction: LightDirection,
    /// Window light comes from this side (-1: the image's left, 1: its right).
    pub light_side: f64,
    pub device: Device,
    /// The screen's luminance in white at the brightness it is set to (cd/m²).
    pub screen_luminance: f64,
    /// The brightness setting (share of the device's maximum luminance).
    pub screen_brightness: f64,
    pub screen_area_m2: f64,
    /// The screen's centre below the camera, and to the image's right of it (cm).
    pub screen_below_cm: f64,
    pub screen_sideways_cm: f64,
    /// From the back of the head to the wall (m).
    pub wall_behind_m: f64,
    /// Fitzpatrick skin type, 1 (lightest) to 6 (darkest).
    pub skin_type: u8,
    pub controls: Controls,
    /// Time constants of the auto exposure and the auto white balance (s).
    pub exposure_time_constant_s: f64,
    pub white_balance_time_constant_s: f64,
    pub fps: f64,
    /// The share of frames the camera drops.
    pub dropped_frames: f64,
    /// The video's size (480x640 is the iOS client's portrait).
    pub width: u32,
    pub height: u32,
    /// The head's turns and nods (amplitude, degrees).
    pub head_turn_deg: f64,
    /// How far the approach bends off a straight line (share of the frame's width).
    pub path_bend: f64,
    pub glasses: Eyewear,
    pub beard: Option<BeardKind>,
    pub expressions: Expressions,
    pub backdrop: Backdrop,
    pub start: Start,
    /// How far the head is bowed toward the screen at the start (degrees); it comes up to the
    /// camera over the approach.
    pub look_down_deg: f64,
    /// The hand holding a phone shakes the camera by this much (degrees; 0 on a desk).
    pub hand_shake_deg: f64,
    /// The rolling shutter's readout: the last row is exposed this much after the first (ms).
    pub readout_ms: f64,
    pub codec: VideoCodec,
    pub video_kbps: f64,
    /// What the draw leads to: the screen's white on the face at the end of the approach (lux),
    /// and its ratio to the room's light there.
    pub screen_lux: f64,
    pub screen_to_room: f64,
    /// The exposure time the light allows (ms): long in dim rooms (motion blur), never longer
    /// than a frame.
    pub shutter_ms: f64,
}

/// One axis of one session: its name, its value as text, and the bucket the value falls in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AxisValue {
    pub axis: &'static str,
    pub value: String,
    pub bucket: String,
}

/// The names of the axes, in the order reports list them; each can be fixed with
/// `--condition NAME=VALUE`.
pub const AXES: [&str; 32] = [
    "screen_to_room",
    "room_lux",
    "colour_temperature_k",
    "light_direction",
    "device",
    "screen_brightness",
    "screen_below_cm",
    "screen_sideways_cm",
    "wall_behind_m",
    "skin_type",
    "controls",
    "white_balance_time_constant_s",
    "exposure_time_constant_s",
    "fps",
    "dropped_frames",
    "resolution",
    "head_turn_deg",
    "path_bend",
    "start",
    "look_down_deg",
    "glasses",
    "beard",
    "expressions",
    "backdrop",
    "hand_shake_deg",
    "readout_ms",
    "shutter_ms",
    "codec",
    "video_kbps",
    "face_distance_cm",
    "face_width_share",
    "ranges",
];

/// The face's distance from the screen at the end of the approach that [`RoomConditions`] uses
/// for its derived screen light: a face box of 13.2 cm filling the oval of a 55° camera.
const TYPICAL_END_DISTANCE_CM: f64 = 30.0;

fn log_uniform(rng: &mut Rng, low: f64, high: f64) -> f64 {
    (rng.range(low.ln(), high.ln())).exp()
}

impl RoomConditions {
    /// Draws the conditions, then fixes the axes in `fixed` (`NAME=VALUE`). Every axis is drawn
    /// whether or not it is fixed, so fixing one leaves the others as the seed drew them.
    pub fn draw(rng: &mut Rng, ranges: Ranges, fixed: &[(String, String)]) -> Result<Self, String> {
        let stress = ranges == Ranges::Stress;
        // Which axes the stress set pushes past the normal ranges: each with even odds, at
        // least one.
        let mut pushed = [false; 5];
        if stress {
            for push in &mut pushed {
                *push = rng.chance(0.4);
            }
            if !pushed.contains(&true) {
                pushed[rng.between(0, 4) as usize] = true;
            }
        }
        let [brighter_room, dimmer_screen, closer_wall, faster_awb, fewer_frames] = pushed;
        let room_lux = if brighter_room {
            log_uniform(rng, 1_000.0, 30_000.0)
        } else {
            log_uniform(rng, 20.0, 1_000.0)
        };
        let colour_temperature_k = rng.range(2_700.0, 6_500.0);
        let light_direction = match rng.between(0, 2) {
            0 => LightDirection::Ceiling,
            1 => LightDirection::Window,
            _ => LightDirection::Front,
        };
        let light_side = if rng.chance(0.5) { -1.0 } else { 1.0 };
        let device = match rng.between(0, 9) {
            0..=4 => Device::Phone,
            5..=8 => Device::Laptop,
            _ => Device::Monitor,
        };
        let (max_luminance, area, below) = match device {
            Device::Phone => (
                rng.range(400.0, 800.0),
                rng.range(0.008, 0.011),
                rng.range(5.0, 9.0),
            ),
            Device::Laptop => (
                rng.range(250.0, 400.0),
                rng.range(0.04, 0.06),
                rng.range(8.0, 13.0),
            ),
            Device::Monitor => (
                rng.range(200.0, 350.0),
                rng.range(0.1, 0.16),
                rng.range(14.0, 20.0),
            ),
        };
        let screen_brightness = if dimmer_screen {
            rng.range(0.15, 0.45)
        } else {
            rng.range(0.45, 1.0)
        };
        let screen_sideways_cm = if rng.chance(0.7) {
            rng.range(-2.0, 2.0)
        } else {
            rng.range(-10.0, 10.0)
        };
        let wall_behind_m = if closer_wall {
            rng.range(0.15, 0.3)
        } else {
            log_uniform(rng, 0.3, 4.0)
        };
        let skin_type = rng.between(1, 6) as u8;
        let controls = if rng.chance(0.8) {
            Controls::Auto
        } else {
            Controls::Locked
        };
        let exposure_time_constant_s = rng.range(0.2, 1.5);
        let white_balance_time_constant_s = if faster_awb {
            rng.range(0.08, 0.3)
        } else {
            rng.range(0.3, 3.0)
        };
        let fps = if fewer_frames {
            rng.range(8.0, 15.0)
        } else {
            // Dim rooms lower the frame rate.
            let high = if room_lux < 80.0 { 24.0 } else { 30.0 };
            rng.range(15.0, high)
        };
        let dropped_frames = if fewer_frames {
            rng.range(0.05, 0.15)
        } else {
            rng.range(0.0, 0.05)
        };
        let (width, height) = match rng.between(0, 19) {
            0..=9 => (640, 480),
            10..=16 => (480, 640),
            _ => (1280, 720),
        };
        let head_turn_deg = rng.range(1.0, 15.0);
        let path_bend = rng.range(-0.12, 0.12);
        let glasses = if rng.chance(0.3) {
            Eyewear::Glasses
        } else {
            Eyewear::None
        };
        let beard = match rng.between(0, 19) {
            0 | 1 => Some(BeardKind::Stubble),
            2 | 3 => Some(BeardKind::Full),
            4 => Some(BeardKind::Goatee),
            _ => None,
        };
        let backdrop = match rng.between(0, 9) {
            0..=2 => Backdrop::Plain,
            3..=5 => Backdrop::Furniture,
            6 | 7 => Backdrop::Window,
            8 => Backdrop::Poster,
            _ => Backdrop::Person,
        };
        let start = if rng.chance(0.15) {
            Start::TooClose
        } else {
            Start::Far
        };
        let look_down_deg = if rng.chance(0.35) {
            0.0
        } else {
            rng.range(4.0, 15.0)
        };
        // Drawn for every device so that the draws after it do not depend on the device.
        let shake = rng.range(0.05, 0.5);
        let hand_shake_deg = if device == Device::Phone { shake } else { 0.0 };
        let readout_ms = rng.range(8.0, 33.0);
        // The iOS client's portrait video is H.264; browsers mostly send VP8.
        let h264_odds = if (width, height) == (480, 640) {
            0.8
        } else {
            0.2
        };
        let codec = if rng.chance(h264_odds) {
            VideoCodec::H264
        } else {
            VideoCodec::Vp8
        };
        let video_kbps = log_uniform(rng, 500.0, 2_500.0);
        let mut conditions = RoomConditions {
            ranges,
            room_lux,
            colour_temperature_k,
            light_direction,
            light_side,
            device,
            screen_luminance: max_luminance * screen_brightness,
            screen_brightness,
            screen_area_m2: area,
            screen_below_cm: below,
            screen_sideways_cm,
            wall_behind_m,
            skin_type,
            controls,
            exposure_time_constant_s,
            white_balance_time_constant_s,
            fps,
            dropped_frames,
            width,
            height,
            head_turn_deg,
            path_bend,
            glasses,
            beard,
            expressions: Expressions::Natural,
            backdrop,
            start,
            look_down_deg,
            hand_shake_deg,
            readout_ms,
            codec,
            video_kbps,
            screen_lux: 0.0,
            screen_to_room: 0.0,
            shutter_ms: 0.0,
        };
        for (axis, value) in fixed {
            conditions.fix(axis, value)?;
        }
        conditions.derive();
        Ok(conditions)
    }

    /// The screen's white on a face at the typical end distance, straight in front of it, and
    /// its ratio to the room's light.
    fn derive(&mut self) {
        let light = self.screen_light_source();
        let face = [0.0, 0.0, TYPICAL_END_DISTANCE_CM];
        self.screen_lux = light.illuminance(face, [0.0, 0.0, -1.0]);
        self.screen_to_room = self.screen_lux / self.room_lux;
        // About 10 ms at 300 lux, as long as a frame allows in dim rooms.
        let frame_ms = 1000.0 / self.fps;
        self.shutter_ms = (3_000.0 / (self.room_lux + self.screen_lux)).clamp(0.1, 0.9 * frame_ms);
        self.readout_ms = self.readout_ms.min(0.9 * frame_ms);
    }

    fn fix(&mut self, axis: &str, value: &str) -> Result<(), String> {
        let number = || {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("{axis}={value}: not a number"))
        };
        let bad = || format!("{axis}={value}: not a value of {axis}");
        match axis {
            "room_lux" => self.room_lux = number()?.max(1.0),
            "colour_temperature_k" => {
                self.colour_temperature_k = number()?.clamp(1_500.0, 12_000.0)
            }
            "light_direction" => {
                self.light_direction = LightDirection::parse(value).ok_or_else(bad)?;
            }
            "device" => {
                self.device = Device::parse(value).ok_or_else(bad)?;
                let (luminance, area, below) = match self.device {
                    Device::Phone => (600.0, 0.009, 7.0),
                    Device::Laptop => (300.0, 0.05, 10.0),
                    Device::Monitor => (275.0, 0.13, 17.0),
                };
                self.screen_luminance = luminance * self.screen_brightness;
                self.screen_area_m2 = area;
                self.screen_below_cm = below;
            }
            "screen_brightness" => {
                let brightness = number()?.clamp(0.01, 1.0);
                self.screen_luminance *= brightness / self.screen_brightness;
                self.screen_brightness = brightness;
            }
            "screen_luminance" => self.screen_luminance = number()?.max(1.0),
            "screen_below_cm" => self.screen_below_cm = number()?,
            "screen_sideways_cm" => self.screen_sideways_cm = number()?,
            "wall_behind_m" => self.wall_behind_m = number()?.clamp(0.1, 20.0),
            "skin_type" => {
                self.skin_type = value
                    .parse::<u8>()
                    .ok()
                    .filter(|t| (1..=6).contains(t))
                    .ok_or_else(bad)?
            }
            "controls" => {
                self.controls = Controls::parse(value).ok_or_else(bad)?;
            }
            "exposure_time_constant_s" => self.exposure_time_constant_s = number()?.max(0.01),
            "white_balance_time_constant_s" => {
                self.white_balance_time_constant_s = number()?.max(0.01)
            }
            "fps" => self.fps = number()?.clamp(5.0, 60.0),
            "dropped_frames" => self.dropped_frames = number()?.clamp(0.0, 0.5),
            "resolution" => {
                let (width, height) = value.split_once('x').ok_or_else(bad)?;
                let size = |v: &str| {
                    v.parse::<u32>()
                        .ok()
                        .filter(|v| (64..=1920).contains(v) && v % 2 == 0)
                };
                self.width = size(width).ok_or_else(bad)?;
                self.height = size(height).ok_or_else(bad)?;
            }
            "head_turn_deg" => self.head_turn_deg = number()?.clamp(0.0, 30.0),
            "path_bend" => self.path_bend = number()?.clamp(-0.3, 0.3),
            "glasses" => self.glasses = Eyewear::parse(value).ok_or_else(bad)?,
            "beard" => {
                self.beard = match value {
                    "none" => None,
                    _ => Some(BeardKind::parse(value).ok_or_else(bad)?),
                }
            }
            "expressions" => self.expressions = Expressions::parse(value).ok_or_else(bad)?,
            "backdrop" => self.backdrop = Backdrop::parse(value).ok_or_else(bad)?,
            "start" => self.start = Start::parse(value).ok_or_else(bad)?,
            "look_down_deg" => self.look_down_deg = number()?.clamp(0.0, 30.0),
            "hand_shake_deg" => self.hand_shake_deg = number()?.clamp(0.0, 3.0),
            "readout_ms" => self.readout_ms = number()?.clamp(0.0, 100.0),
            "codec" => self.codec = VideoCodec::parse(value).ok_or_else(bad)?,
            "video_kbps" => self.video_kbps = number()?.clamp(100.0, 20_000.0),
            _ => {
                return Err(format!(
                    "unknown condition {axis:?}: one of {}",
                    AXES.iter()
                        .filter(|a| {
                            !matches!(
                                **a,
                                "screen_to_room"
                                    | "shutter_ms"
                                    | "face_distance_cm"
                                    | "face_width_share"
                                    | "ranges"
                            )
                        })
                        .chain(&["screen_luminance"])
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        Ok(())
    }

    /// Every axis with its value and bucket, in the order of [`AXES`]; at the end of the
    /// approach, `face_distance_cm` is the eyes' distance from the camera and `face_width_share`
    /// the face box's width over the frame's.
    pub fn axes(&self, face_distance_cm: f64, face_width_share: f64) -> Vec<AxisValue> {
        let number = |axis: &'static str, value: f64, edges: &[f64], unit: &str| {
            let text = if value >= 100.0 {
                format!("{value:.0}")
            } else {
                format!("{value:.3}")
            };
            AxisValue {
                axis,
                value: text,
                bucket: bucket(value, edges, unit),
            }
        };
        let label = |axis: &'static str, value: String| AxisValue {
            axis,
            bucket: value.clone(),
            value,
        };
        vec![
            number(
                "screen_to_room",
                self.screen_to_room,
                &[0.03, 0.1, 0.3, 1.0, 3.0],
                "",
            ),
            number(
                "room_lux",
                self.room_lux,
                &[50.0, 150.0, 500.0, 1_000.0, 5_000.0],
                " lx",
            ),
            number(
                "colour_temperature_k",
                self.colour_temperature_k,
                &[3_500.0, 4_500.0, 5_500.0],
                " K",
            ),
            label("light_direction", self.light_direction.name().to_owned()),
            label("device", self.device.name().to_owned()),
            number(
                "screen_brightness",
                self.screen_brightness,
                &[0.45, 0.7],
                "",
            ),
            number(
                "screen_below_cm",
                self.screen_below_cm,
                &[8.0, 12.0, 16.0],
                " cm",
            ),
            number(
                "screen_sideways_cm",
                self.screen_sideways_cm.abs(),
                &[2.0, 5.0],
                " cm",
            ),
            number("wall_behind_m", self.wall_behind_m, &[0.3, 0.6, 1.5], " m"),
            label("skin_type", format!("{}", self.skin_type)),
            label("controls", self.controls.name().to_owned()),
            number(
                "white_balance_time_constant_s",
                self.white_balance_time_constant_s,
                &[0.3, 1.0],
                " s",
            ),
            number(
                "exposure_time_constant_s",
                self.exposure_time_constant_s,
                &[0.5, 1.0],
                " s",
            ),
            number("fps", self.fps, &[15.0, 20.0, 25.0], " fps"),
            number("dropped_frames", self.dropped_frames, &[0.02, 0.05], ""),
            label("resolution", format!("{}x{}", self.width, self.height)),
            number("head_turn_deg", self.head_turn_deg, &[5.0, 10.0], "°"),
            number("path_bend", self.path_bend.abs(), &[0.04, 0.08], ""),
            label("start", self.start.name().to_owned()),
            number("look_down_deg", self.look_down_deg, &[1.0, 8.0], "°"),
            label("glasses", self.glasses.name().to_owned()),
            label(
                "beard",
                self.beard.map_or("none", BeardKind::name).to_owned(),
            ),
            label("expressions", self.expressions.name().to_owned()),
            label("backdrop", self.backdrop.name().to_owned()),
            number("hand_shake_deg", self.hand_shake_deg, &[0.01, 0.25], "°"),
            number("readout_ms", self.readout_ms, &[15.0, 25.0], " ms"),
            number("shutter_ms", self.shutter_ms, &[5.0, 20.0], " ms"),
            label("codec", self.codec.name().to_owned()),
            number("video_kbps", self.video_kbps, &[800.0, 1_500.0], " kbps"),
            number(
                "face_distance_cm",
                face_distance_cm,
                &[25.0, 30.0, 35.0],
                " cm",
            ),
            number(
                "face_width_share",
                face_width_share,
                &[0.35, 0.45, 0.55],
                "",
            ),
            label("ranges", self.ranges.name().to_owned()),
        ]
    }

    /// The screen as a light (white at its set luminance; the colour shown scales it).
    pub fn screen_light_source(&self) -> ScreenSource {
        // A phone is held upright (about 9:19.5); laptops and monitors are 16:10 to 16:9.
        let aspect = match self.device {
            Device::Phone => 1.0 / 2.1,
            Device::Laptop | Device::Monitor => 1.65,
        };
        let width_cm = (self.screen_area_m2 * aspect).sqrt() * 100.0;
        let height_cm = self.screen_area_m2 * 1e4 / width_cm;
        ScreenSource {
            centre: [self.screen_sideways_cm, self.screen_below_cm, 0.0],
            luminance: self.screen_luminance,
            area_m2: self.screen_area_m2,
            half_size_cm: [width_cm / 2.0, height_cm / 2.0],
        }
    }

    /// The room's light, linear RGB per lux of illuminance: a black body of the room's colour
    /// temperature, with unit luminance.
    pub fn room_colour(&self) -> [f64; 3] {
        black_body_linear(self.colour_temperature_k)
    }

    /// The direction the room's main light comes from (world, unit vector toward the light).
    pub fn room_direction(&self) -> [f64; 3] {
        match self.light_direction {
            LightDirection::Ceiling => normalize([0.0, -1.0, -0.25]),
            LightDirection::Window => normalize([self.light_side, -0.3, -0.4]),
            LightDirection::Front => normalize([0.15 * self.light_side, -0.35, -1.0]),
        }
    }

    /// The skin's darkness for the identity's tone, 0 (type 1) to 1 (type 6).
    pub fn skin_darkness(&self) -> f64 {
        f64::from(self.skin_type.clamp(1, 6) - 1) / 5.0
    }
}

/// The bucket of `value` between `edges` (ascending): "< a", "a-b", ..., ">= z".
fn bucket(value: f64, edges: &[f64], unit: &str) -> String {
    let show = |v: f64| {
        if v >= 100.0 || v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v}")
        }
    };
    match edges.iter().position(|edge| value < *edge) {
        Some(0) => format!("< {}{unit}", show(edges[0])),
        Some(i) => format!("{}-{}{unit}", show(edges[i - 1]), show(edges[i])),
        None => format!(">= {}{unit}", show(edges[edges.len() - 1])),
    }
}

/// A black body's colour in linear sRGB with unit luminance (Tanner Helland's fit of the
/// Planckian locus in sRGB, taken to linear light).
pub fn black_body_linear(kelvin: f64) -> [f64; 3] {
    let t = kelvin / 100.0;
    let red = if t <= 66.0 {
        255.0
    } else {
        329.698_727_446 * (t - 60.0).powf(-0.133_204_759_2)
    };
    let green = if t <= 66.0 {
        99.470_802_586_1 * t.ln() - 161.119_568_166_1
    } else {
        288.122_169_528_3 * (t - 60.0).powf(-0.075_514_849_2)
    };
    let blue = if t >= 66.0 {
        255.0
    } else if t <= 19.0 {
        0.0
    } else {
        138.517_731_223_1 * (t - 10.0).ln() - 305.044_792_730_7
    };
    let linear = [red, green, blue].map(|c| {
        let c = (c / 255.0).clamp(0.0, 1.0);
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    });
    let luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2];
    linear.map(|c| c / luminance.max(1e-6))
}

/// The screen as a small area light facing the person: illuminance (lux) at a point is its
/// luminance times its area times the cosines at both ends over the squared distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScreenSource {
    /// World position (cm).
    pub centre: [f64; 3],
    pub luminance: f64,
    pub area_m2: f64,
    /// Half its width and height (cm): what a mirror (a lens) can show of it.
    pub half_size_cm: [f64; 2],
}

impl ScreenSource {
    /// White's illuminance (lux) at `point` (cm) on a surface with this normal.
    pub fn illuminance(&self, point: [f64; 3], normal: [f64; 3]) -> f64 {
        let to_screen = sub(self.centre, point);
        let distance_sq_cm = dot(to_screen, to_screen).max(4.0);
        let direction = normalize(to_screen);
        let at_surface = dot(normal, direction).max(0.0);
        // The screen faces +z (toward the person); the light leaves it toward -direction.
        let at_screen = (-direction[2]).max(0.0);
        self.luminance * self.area_m2 * at_surface * at_screen / (distance_sq_cm * 1e-4)
    }
}

/// The light in the room at one instant (lux, linear RGB): the room's light and the screen's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoomLight {
    /// The room's illuminance on a surface facing the camera (lux, per channel).
    pub room: [f64; 3],
    /// Toward the room's main light.
    pub direction: [f64; 3],
    pub screen: ScreenSource,
    /// The colour the screen shows (linear RGB, 0-1).
    pub screen_colour: [f64; 3],
}

/// The share of the room's light that comes from everywhere (walls, ceiling) rather than from
/// its main light.
const DIFFUSE_SHARE: f64 = 0.45;

impl RoomLight {
    /// The room's light on a surface with this normal, relative to a surface facing the camera:
    /// part from everywhere (more from above than from below), part from the main light.
    fn room_gain(&self, normal: [f64; 3]) -> f64 {
        let gain = |n: [f64; 3]| {
            DIFFUSE_SHARE * (0.75 - 0.25 * n[1].clamp(-1.0, 1.0))
                + (1.0 - DIFFUSE_SHARE) * dot(n, self.direction).max(0.0)
        };
        gain(normal) / gain([0.0, 0.0, -1.0]).max(0.2)
    }
}

impl Light for RoomLight {
    fn irradiance(&self, point: [f64; 3], normal: [f64; 3]) -> [f64; 3] {
        let room = self.room_gain(normal);
        let screen = self.screen.illuminance(point, normal);
        [0, 1, 2].map(|k| self.room[k] * room + self.screen_colour[k] * screen)
    }

    fn screen_slope(&self, point: [f64; 3], normal: [f64; 3]) -> f64 {
        self.screen.illuminance(point, normal)
    }
}

/// An ellipsoid of the body, with its colour and shine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BodyPart {
    pub centre: [f64; 3],
    pub radii: [f64; 3],
    /// Linear albedo.
    pub albedo: [f32; 3],
    /// The share of light mirrored (hair's shine).
    pub shine: f64,
    /// For the skull: where it is hair and where skin.
    pub hair: Option<HairCut>,
}

/// The skull's hair: in front of the face (inside its outline, below the hairline) the skull is
/// left to the face drawn after it; below the hair's end it is skin (ears, the jaw's sides).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HairCut {
    /// The face's outline in the image plane (world cm): centre and half-sizes.
    pub face_centre: [f64; 2],
    pub face_half: [f64; 2],
    /// World heights (y, down) of the hairline and of the hair's end.
    pub hairline: f64,
    pub hair_end: f64,
    pub skin: [f32; 3],
}

/// The body behind a face: hair on the skull, the neck, the torso in clothes.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub hair: [f32; 3],
    pub clothing: [f32; 3],
    pub skin: [f32; 3],
    pub hair_shine: f64,
    /// How far below the eyes the hair reaches at the sides (cm).
    pub hair_length_cm: f64,
    pub glasses: Glasses,
}

/// A pair of glasses: a frame and two lenses that let most light through and mirror a little
/// (the screen shows in them as a small bright patch of the challenge's colour).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glasses {
    /// The frame's linear albedo.
    pub frame: [f32; 3],
    /// A lens' half width and half height (cm).
    pub lens_half: [f64; 2],
    /// The frame's width around a lens (cm).
    pub rim_cm: f64,
    /// The share of light a lens mirrors (about 0.04 uncoated, 0.01 with an anti-reflective
    /// coating) and the share it lets through.
    pub reflectance: f64,
    pub transmission: f32,
}

/// Hair shorter than this (cm below the eyes) leaves the ears in view.
const EARS_SHOW_BELOW_HAIR_CM: f64 = 3.0;

impl Body {
    pub fn draw(rng: &mut Rng, skin: [f32; 3]) -> Body {
        let hair_level = if rng.chance(0.7) {
            rng.range(0.01, 0.05)
        } else {
            rng.range(0.08, 0.35)
        } as f32;
        let hair = [hair_level, hair_level * 0.8, hair_level * 0.6];
        let clothing = [0, 1, 2].map(|_| rng.range(0.03, 0.6) as f32);
        Body {
            hair,
            clothing,
            skin,
            hair_shine: rng.range(0.02, 0.08),
            hair_length_cm: rng.range(-1.0, 14.0),
            glasses: Glasses {
                frame: if rng.chance(0.6) {
                    [0.03, 0.03, 0.03]
                } else {
                    [0, 1, 2].map(|_| rng.range(0.05, 0.5) as f32)
                },
                lens_half: [rng.range(2.2, 2.8), rng.range(1.5, 2.1)],
                rim_cm: rng.range(0.15, 0.45),
                reflectance: if rng.chance(0.5) { 0.01 } else { 0.04 },
                transmission: rng.range(0.88, 0.95) as f32,
            },
        }
    }

    /// The hands holding a print up: a thumb on each side of its lower half, in front of it.
    /// `edge` places a point of the print (its head coordinates: x, y, z toward the camera).
    pub fn thumbs(&self, edge: impl Fn(f64, f64, f64) -> [f64; 3]) -> Vec<BodyPart> {
        [-1.0, 1.0]
            .map(|side| BodyPart {
                centre: edge(side * 10.2, 8.5, 0.9),
                radii: [0.9, 2.6, 0.9],
                albedo: self.skin,
                shine: 0.0,
                hair: None,
            })
            .to_vec()
    }

    /// The parts for a head whose eyes' midpoint is at `eyes` (world cm) and whose face is
    /// `face_half_width` wide on each side (cm).
    pub fn parts(&self, eyes: [f64; 3], face_half_width: f64) -> Vec<BodyPart> {
        let at = |dx: f64, dy: f64, dz: f64| [eyes[0] + dx, eyes[1] + dy, eyes[2] + dz];
        let ears = (self.hair_length_cm < EARS_SHOW_BELOW_HAIR_CM).then(|| {
            [-1.0, 1.0].map(|side| BodyPart {
                centre: at(side * (face_half_width + 1.1), 2.3, 8.5),
                radii: [0.8, 3.0, 1.8],
                albedo: self.skin,
                shine: 0.0,
                hair: None,
            })
        });
        let mut parts = vec![
            BodyPart {
                centre: at(0.0, -0.5, 9.0),
                radii: [face_half_width + 1.3, 12.0, 11.0],
                albedo: self.hair,
                shine: self.hair_shine,
                hair: Some(HairCut {
                    face_centre: [eyes[0], eyes[1] + 2.0],
                    face_half: [face_half_width - 0.4, 11.0],
                    hairline: eyes[1] - 5.0,
                    hair_end: eyes[1] + self.hair_length_cm,
                    skin: self.skin,
                }),
            },
            BodyPart {
                centre: at(0.0, 14.0, 9.5),
                radii: [5.3, 8.0, 5.3],
                albedo: self.skin,
                shine: 0.0,
                hair: None,
            },
            // Shoulders, then the chest below them, in clothes.
            BodyPart {
                centre: at(0.0, 39.0, 11.0),
                radii: [22.0, 20.0, 10.0],
                albedo: self.clothing,
                shine: 0.0,
                hair: None,
            },
            BodyPart {
                centre: at(0.0, 56.0, 13.0),
                radii: [21.5, 27.0, 11.0],
                albedo: self.clothing,
                shine: 0.0,
                hair: None,
            },
        ];
        parts.extend(ears.into_iter().flatten());
        parts
    }
}

/// Draws the wall (at depth `wall_z`: its albedo per pixel, and a window in it that shines by
/// itself) and the body's parts, each pixel by casting its ray, into the canvas (replacing what
/// it holds).
pub fn draw_room(
    canvas: &mut Canvas,
    camera: &Camera,
    rays: &Rays,
    wall: &Wall,
    wall_z: f64,
    parts: &[BodyPart],
    light: &RoomLight,
) {
    let wall_light = light.irradiance([0.0, 0.0, wall_z], [0.0, 0.0, -1.0]);
    for (pixel, (albedo, depth)) in canvas
        .pixels
        .iter_mut()
        .zip(wall.albedo.iter().zip(canvas.depth.iter_mut()))
    {
        *pixel = [0, 1, 2].map(|k| albedo[k] * wall_light[k] as f32);
        *depth = wall_z as f32;
    }
    if let Some(screen) = &mut canvas.screen {
        let slope = light.screen_slope([0.0, 0.0, wall_z], [0.0, 0.0, -1.0]) as f32;
        for (response, albedo) in screen.iter_mut().zip(&wall.albedo) {
            *response = albedo.map(|a| a * slope);
        }
    }
    if let Some(window) = &wall.window {
        let [x0, x1, y0, y1] = window.rect;
        for y in y0..y1.min(canvas.height) {
            for x in x0..x1.min(canvas.width) {
                // The window's bars are part of the wall.
                let bar = (x as f64 - window.bar[0]).abs() < 3.0
                    || (y as f64 - window.bar[1]).abs() < 3.0;
                if !bar {
                    canvas.pixels[y * canvas.width + x] = window.emission;
                    if let Some(screen) = &mut canvas.screen {
                        screen[y * canvas.width + x] = [0.0; 3];
                    }
                }
            }
        }
    }
    for part in parts {
        let Some([x0, x1, y0, y1]) = screen_bounds(camera, part) else {
            continue;
        };
        for py in y0..=y1 {
            for px in x0..=x1 {
                let ray = rays.0[py * canvas.width + px];
                let Some((distance, normal)) = hit(part, ray) else {
                    continue;
                };
                let point = [ray[0] * distance, ray[1] * distance, ray[2] * distance];
                let (mut albedo, mut shine) = (part.albedo, part.shine);
                if let Some(cut) = &part.hair {
                    let inside = ((point[0] - cut.face_centre[0]) / cut.face_half[0]).powi(2)
                        + ((point[1] - cut.face_centre[1]) / cut.face_half[1]).powi(2)
                        < 1.0;
                    if inside && point[1] > cut.hairline {
                        continue;
                    }
                    if point[1] > cut.hair_end {
                        (albedo, shine) = (cut.skin, 0.0);
                    }
                }
                let index = py * canvas.width + px;
                if point[2] as f32 >= canvas.depth[index] {
                    continue;
                }
                let irradiance = light.irradiance(point, normal);
                // Shine: the screen mirrored in the hair, toward the camera.
                let shine = if shine > 0.0 {
                    let to_screen = normalize(sub(light.screen.centre, point));
                    let to_camera = normalize([-point[0], -point[1], -point[2]]);
                    let half = normalize(add(to_screen, to_camera));
                    shine * dot(normal, half).max(0.0).powi(24)
                } else {
                    0.0
                };
                let screen = light.screen.illuminance(point, normal);
                canvas.pixels[index] = [0, 1, 2].map(|k| {
                    albedo[k] * irradiance[k] as f32
                        + (shine * (screen * light.screen_colour[k] + light.room[k])) as f32
                });
                canvas.depth[index] = point[2] as f32;
                if let Some(response) = &mut canvas.screen {
                    response[index] = albedo.map(|a| a * screen as f32 + (shine * screen) as f32);
                }
            }
        }
    }
}

/// The unit ray from the camera through each pixel's centre, row by row: the same for every
/// frame of a session, so worked out once.
pub struct Rays(Vec<[f64; 3]>);

impl Rays {
    pub fn new(camera: &Camera) -> Rays {
        let (width, height) = (camera.width as usize, camera.height as usize);
        let mut rays = Vec::with_capacity(width * height);
        for py in 0..height {
            for px in 0..width {
                rays.push(normalize(camera.unproject(
                    px as f64 + 0.5,
                    py as f64 + 0.5,
                    1.0,
                )));
            }
        }
        Rays(rays)
    }
}

/// The pixels an ellipsoid can cover, clamped to the image: the projection of its bounding box,
/// which holds its outline (every corner is in front of the camera). A part that comes within
/// 1 cm of the camera (by its largest radius) is not drawn.
fn screen_bounds(camera: &Camera, part: &BodyPart) -> Option<[usize; 4]> {
    let radius = part.radii.iter().copied().fold(0.0, f64::max);
    if part.centre[2] - radius < 1.0 {
        return None;
    }
    let (mut low, mut high) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for corner in 0..8 {
        let side = |axis: usize| if corner >> axis & 1 == 0 { -1.0 } else { 1.0 };
        let point = [0, 1, 2].map(|k| part.centre[k] + side(k) * part.radii[k]);
        let [u, v] = camera.project(point);
        low = [low[0].min(u), low[1].min(v)];
        high = [high[0].max(u), high[1].max(v)];
    }
    let [x0, y0] = low;
    let [x1, y1] = high;
    let clamp = |v: f64, size: u32| v.clamp(0.0, f64::from(size) - 1.0) as usize;
    if x1 < 0.0 || y1 < 0.0 || x0 >= f64::from(camera.width) || y0 >= f64::from(camera.height) {
        return None;
    }
    Some([
        clamp(x0, camera.width),
        clamp(x1, camera.width),
        clamp(y0, camera.height),
        clamp(y1, camera.height),
    ])
}

/// Where a ray from the camera first meets an ellipsoid: its distance and the normal there.
fn hit(part: &BodyPart, ray: [f64; 3]) -> Option<(f64, [f64; 3])> {
    let r = part.radii;
    // In the ellipsoid's frame scaled to a unit sphere.
    let origin = [0, 1, 2].map(|k| -part.centre[k] / r[k]);
    let direction = [0, 1, 2].map(|k| ray[k] / r[k]);
    let a = dot(direction, direction);
    let b = 2.0 * dot(origin, direction);
    let c = dot(origin, origin) - 1.0;
    let discriminant = b * b - 4.0 * a * c;
    if discriminant < 0.0 {
        return None;
    }
    let t = (-b - discriminant.sqrt()) / (2.0 * a);
    if t <= 0.0 {
        return None;
    }
    let point = [ray[0] * t, ray[1] * t, ray[2] * t];
    let normal = normalize([0, 1, 2].map(|k| (point[k] - part.centre[k]) / (r[k] * r[k])));
    Some((t, normal))
}

/// The camera's automatic controls and its sensor: per-channel gains (exposure times white
/// balance) that follow the scene with first-order time constants, sensor noise that grows with
/// the gain, the sRGB tone curve and 8 bits.
#[derive(Debug)]
pub struct AutoCamera {
    pub exposure: f64,
    pub balance: [f64; 3],
    pub controls: Controls,
    pub exposure_time_constant_s: f64,
    pub white_balance_time_constant_s: f64,
    /// Noise (8-bit levels) at the gain a scene of 300 lux needs.
    pub base_noise: f64,
    reference_exposure: f64,
    settled_frames: usize,
    last_ms: Option<f64>,
    lut: Vec<u8>,
}

/// The mean linear level auto exposure aims at.
const TARGET_MEAN: f64 = 0.18;
const LUT_STEPS: usize = 4096;
/// Locked controls settle over this many frames before they hold.
const LOCK_AFTER_FRAMES: usize = 10;

impl AutoCamera {
    pub fn new(conditions: &RoomConditions, base_noise: f64) -> AutoCamera {
        AutoCamera {
            exposure: 1.0,
            balance: [1.0; 3],
            controls: conditions.controls,
            exposure_time_constant_s: conditions.exposure_time_constant_s,
            white_balance_time_constant_s: conditions.white_balance_time_constant_s,
            base_noise,
            // A face of albedo 0.3 under 300 lux at the target level.
            reference_exposure: TARGET_MEAN / (0.3 * 300.0),
            settled_frames: 0,
            last_ms: None,
            lut: (0..=LUT_STEPS)
                .map(|i| crate::face::linear_to_srgb(i as f32 / LUT_STEPS as f32).round() as u8)
                .collect(),
        }
    }

    /// Sets exposure and white balance at once for this scene (the camera was on before).
    pub fn settle(&mut self, scene: &[[f32; 3]]) {
        let (exposure, balance) = ideal(scene);
        self.exposure = exposure;
        self.balance = balance;
    }

    /// Captures the scene at `t_ms`, then lets the controls follow what they saw.
    pub fn capture(
        &mut self,
        scene: &[[f32; 3]],
        width: u32,
        height: u32,
        t_ms: f64,
        noise: &NoiseTable,
        rng: &mut Rng,
    ) -> openliveness_vision::RgbImage {
        let gains = [0, 1, 2].map(|k| (self.exposure * self.balance[k]) as f32);
        let sigma = (self.base_noise
            * (self.exposure / self.reference_exposure)
                .sqrt()
                .clamp(0.5, 6.0)) as f32;
        let steps = LUT_STEPS as f32;
        let mut offset = rng.between(0, NoiseTable::LEN as u64 - 1) as usize;
        let stride = 1 + rng.between(0, 6) as usize * 2;
        let mut data = vec![0u8; scene.len() * 3];
        let lut = &self.lut[..=LUT_STEPS];
        for (pixel, out) in scene.iter().zip(data.chunks_exact_mut(3)) {
            for k in 0..3 {
                let level = (pixel[k] * gains[k]).clamp(0.0, 1.0) * steps;
                let srgb = f32::from(lut[level as usize]);
                offset = (offset + stride) & (NoiseTable::LEN - 1);
                let noisy = srgb + noise.value(offset) * sigma;
                out[k] = crate::render::round_to_u8(noisy);
            }
        }
        let dt_s = self
            .last_ms
            .map_or(0.0, |last| (t_ms - last).max(0.0) / 1000.0);
        self.last_ms = Some(t_ms);
        self.settled_frames += 1;
        let follow = match self.controls {
            Controls::Auto => true,
            Controls::Locked => self.settled_frames <= LOCK_AFTER_FRAMES,
        };
        if follow && dt_s > 0.0 {
            let (exposure, balance) = ideal(scene);
            let step = |tau: f64| 1.0 - (-dt_s / tau.max(1e-3)).exp();
            let e = step(self.exposure_time_constant_s);
            // Exposure moves in stops.
            self.exposure = (self.exposure.ln() + (exposure.ln() - self.exposure.ln()) * e).exp();
            let w = step(self.white_balance_time_constant_s);
            for (now, ideal) in self.balance.iter_mut().zip(balance) {
                *now += (ideal - *now) * w;
            }
        }
        openliveness_vision::RgbImage::new(width, height, data)
            .unwrap_or_else(|error| panic!("the camera's {width}x{height} image: {error}"))
    }
}

/// The exposure that brings this scene's mean to the target, and the grey-world white balance
/// (green fixed at 1), within a camera's range.
fn ideal(scene: &[[f32; 3]]) -> (f64, [f64; 3]) {
    let mut sum = [0.0f64; 3];
    let mut count = 0usize;
    for pixel in scene.iter().step_by(7) {
        for k in 0..3 {
            sum[k] += f64::from(pixel[k]);
        }
        count += 1;
    }
    let mean = sum.map(|s| s / count.max(1) as f64);
    let balance = [
        (mean[1] / mean[0].max(1e-9)).clamp(0.3, 4.0),
        1.0,
        (mean[1] / mean[2].max(1e-9)).clamp(0.3, 4.0),
    ];
    let balanced = 0.2126 * mean[0] * balance[0] + 0.7152 * mean[1] + 0.0722 * mean[2] * balance[2];
    let exposure = if balanced > 1e-12 {
        (TARGET_MEAN / balanced).clamp(1e-6, 1e3)
    } else {
        1.0
    };
    (exposure, balance)
}

/// The wall behind the person: albedo per pixel, and a window in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Wall {
    pub albedo: Vec<[f32; 3]>,
    pub window: Option<Window>,
}

/// A window in the wall: a rectangle of pixels (x0, x1, y0, y1) that shines with daylight, with
/// a vertical and a horizontal bar across it.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub rect: [usize; 4],
    pub bar: [f64; 2],
    /// What a pixel of it holds (linear light, in the units the rest of the scene uses).
    pub emission: [f32; 3],
}

impl Wall {
    /// A wall for this backdrop: paint with a little texture (uneven light and plaster), for
    /// `Furniture` shelves with books, cupboards and frames, for `Window` a window whose
    /// daylight is 2 to 10 times a white wall's brightness in the room's light.
    pub fn draw(width: u32, height: u32, backdrop: Backdrop, room_lux: f64, rng: &mut Rng) -> Wall {
        let (w, h) = (width as usize, height as usize);
        let paint = [
            rng.range(0.3, 0.75) as f32,
            rng.range(0.3, 0.7) as f32,
            rng.range(0.25, 0.65) as f32,
        ];
        let coarse = ValueNoise::new(rng, w, h, 90.0);
        let fine = ValueNoise::new(rng, w, h, 7.0);
        let mut albedo: Vec<[f32; 3]> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64, (i / w) as f64);
                let shade = 0.88 + 0.18 * coarse.at(x, y) + 0.05 * fine.at(x, y);
                paint.map(|c| c * shade as f32)
            })
            .collect();
        let fill = |rect: [f64; 4], colour: [f32; 3], albedo: &mut Vec<[f32; 3]>| {
            let [x0, y0, rw, rh] = rect;
            let xs = (x0.max(0.0) as usize)..((x0 + rw).clamp(0.0, w as f64) as usize);
            let ys = (y0.max(0.0) as usize)..((y0 + rh).clamp(0.0, h as f64) as usize);
            for y in ys {
                for x in xs.clone() {
                    albedo[y * w + x] = colour;
                }
            }
        };
        let (fw, fh) = (width as f64, height as f64);
        let random_colour =
            |rng: &mut Rng, low: f64, high: f64| [0, 1, 2].map(|_| rng.range(low, high) as f32);
        let mut window = None;
        match backdrop {
            Backdrop::Plain | Backdrop::Poster | Backdrop::Person => {
                // A frame or a switch here and there.
                for _ in 0..rng.between(0, 2) {
                    let rect = [
                        rng.range(0.0, fw),
                        rng.range(0.0, fh * 0.6),
                        rng.range(30.0, 120.0),
                        rng.range(30.0, 120.0),
                    ];
                    let colour = random_colour(rng, 0.05, 0.7);
                    fill(rect, colour, &mut albedo);
                }
            }
            Backdrop::Furniture => {
                // Cupboards and doors, then shelves of books.
                for _ in 0..rng.between(1, 3) {
                    let rect = [
                        rng.range(-0.1, 0.9) * fw,
                        rng.range(0.2, 0.6) * fh,
                        rng.range(0.15, 0.4) * fw,
                        rng.range(0.4, 0.9) * fh,
                    ];
                    let colour = random_colour(rng, 0.08, 0.6);
                    fill(rect, colour, &mut albedo);
                    // Its edge and handle.
                    fill(
                        [rect[0], rect[1], rect[2], 3.0],
                        colour.map(|c| c * 0.5),
                        &mut albedo,
                    );
                    let handle = [rect[0] + rect[2] * 0.85, rect[1] + rect[3] * 0.4, 4.0, 18.0];
                    fill(handle, [0.6; 3], &mut albedo);
                }
                for _ in 0..rng.between(1, 3) {
                    let (x0, y0) = (rng.range(-0.2, 0.8) * fw, rng.range(0.05, 0.6) * fh);
                    let shelf_w = rng.range(0.25, 0.6) * fw;
                    let book_h = rng.range(0.08, 0.16) * fh;
                    let wood = random_colour(rng, 0.1, 0.4);
                    fill([x0, y0 + book_h, shelf_w, 8.0], wood, &mut albedo);
                    let mut x = x0;
                    while x < x0 + shelf_w {
                        let book_w = rng.range(4.0, 16.0);
                        let top = y0 + book_h * rng.range(0.0, 0.35);
                        let colour = random_colour(rng, 0.03, 0.7);
                        fill([x, top, book_w, y0 + book_h - top], colour, &mut albedo);
                        x += book_w + 1.0;
                    }
                }
            }
            Backdrop::Window => {
                let (ww, wh) = (rng.range(0.25, 0.5) * fw, rng.range(0.3, 0.55) * fh);
                let (x0, y0) = (
                    rng.range(-0.1, 1.0) * fw - ww / 2.0,
                    rng.range(0.0, 0.25) * fh,
                );
                let rect = [x0, y0, ww, wh].map(|v| v.max(0.0));
                let daylight = black_body_linear(6_500.0);
                let brightness = rng.range(2.0, 10.0) * room_lux;
                let clamp = |v: f64, size: usize| (v.max(0.0) as usize).min(size);
                // The frame around it.
                fill(
                    [x0 - 6.0, y0 - 6.0, ww + 12.0, wh + 12.0],
                    [0.7; 3],
                    &mut albedo,
                );
                window = Some(Window {
                    rect: [
                        clamp(rect[0], w),
                        clamp(x0 + ww, w),
                        clamp(rect[1], h),
                        clamp(y0 + wh, h),
                    ],
                    bar: [x0 + ww * rng.range(0.4, 0.6), y0 + wh * rng.range(0.3, 0.6)],
                    emission: daylight.map(|c| (c * brightness) as f32),
                });
            }
        }
        Wall { albedo, window }
    }
}

/// Smooth random variation (about -1 to 1): random values on a grid of `cell` pixels,
/// interpolated between.
struct ValueNoise {
    columns: usize,
    cell: f64,
    values: Vec<f64>,
}

impl ValueNoise {
    fn new(rng: &mut Rng, width: usize, height: usize, cell: f64) -> ValueNoise {
        let columns = (width as f64 / cell).ceil() as usize + 2;
        let rows = (height as f64 / cell).ceil() as usize + 2;
        ValueNoise {
            columns,
            cell,
            values: (0..columns * rows).map(|_| rng.range(-1.0, 1.0)).collect(),
        }
    }

    fn at(&self, x: f64, y: f64) -> f64 {
        let (gx, gy) = (x / self.cell, y / self.cell);
        let (cx, cy) = (gx.floor() as usize, gy.floor() as usize);
        let smooth = |t: f64| t * t * (3.0 - 2.0 * t);
        let (fx, fy) = (smooth(gx.fract()), smooth(gy.fract()));
        let v = |c: usize, r: usize| self.values[r * self.columns + c];
        let top = v(cx, cy) + (v(cx + 1, cy) - v(cx, cy)) * fx;
        let bottom = v(cx, cy + 1) + (v(cx + 1, cy + 1) - v(cx, cy + 1)) * fx;
        top + (bottom - top) * fy
    }
}

/// Where glasses sit on a head: the world position of the point between the lenses, the
/// lenses' right, down and toward-the-camera directions, and the lenses' centres' distance
/// from that point (cm).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GlassesPlace {
    pub centre: [f64; 3],
    pub right: [f64; 3],
    pub down: [f64; 3],
    pub out: [f64; 3],
    pub lens_offset: f64,
}

/// The curve of a lens' front (radius, cm): it spreads the mirrored screen into a small patch.
const LENS_CURVE_CM: f64 = 9.0;

/// Draws glasses over the face already in the canvas: the frame (lit like the rest) and the
/// lenses, which let `transmission` of the face through and mirror the screen where their
/// curved front shows it (otherwise the room).
pub fn draw_glasses(
    canvas: &mut Canvas,
    camera: &Camera,
    place: &GlassesPlace,
    glasses: &Glasses,
    light: &RoomLight,
) {
    let [a, b] = glasses.lens_half;
    let rim = glasses.rim_cm;
    let reach_x = place.lens_offset + a + rim;
    let reach_y = b + rim;
    let corner = |sx: f64, sy: f64| {
        camera.project(add(
            place.centre,
            add(
                place.right.map(|c| c * sx * reach_x),
                place.down.map(|c| c * sy * reach_y),
            ),
        ))
    };
    let corners = [
        corner(-1.0, -1.0),
        corner(1.0, -1.0),
        corner(-1.0, 1.0),
        corner(1.0, 1.0),
    ];
    let span = |axis: usize, size: usize| {
        let low = corners
            .iter()
            .map(|c| c[axis])
            .fold(f64::INFINITY, f64::min);
        let high = corners
            .iter()
            .map(|c| c[axis])
            .fold(f64::NEG_INFINITY, f64::max);
        if high < 0.0 || low >= size as f64 {
            return None;
        }
        Some((low.max(0.0) as usize, (high.ceil() as usize).min(size - 1)))
    };
    let (Some((x0, x1)), Some((y0, y1))) = (span(0, canvas.width), span(1, canvas.height)) else {
        return;
    };
    let facing = dot(place.out, place.centre);
    let screen = &light.screen;
    let frame_light = light.irradiance(place.centre, place.out);
    let frame_slope = light.screen_slope(place.centre, place.out) as f32;
    let room_mirror = light.room.map(|c| c * 0.25 * glasses.reflectance);
    for py in y0..=y1 {
        for px in x0..=x1 {
            let ray = normalize(camera.unproject(px as f64 + 0.5, py as f64 + 0.5, 1.0));
            let along = dot(ray, place.out);
            if along.abs() < 1e-6 {
                continue;
            }
            let t = facing / along;
            if t <= 0.0 {
                continue;
            }
            let point = ray.map(|c| c * t);
            let index = py * canvas.width + px;
            if point[2] as f32 >= canvas.depth[index] {
                continue;
            }
            let offset = sub(point, place.centre);
            let (u, v) = (dot(offset, place.right), dot(offset, place.down));
            let du = u.abs() - place.lens_offset;
            // A rounded rectangle.
            let shape = |half: [f64; 2]| (du / half[0]).powi(4) + (v / half[1]).powi(4);
            let in_lens = shape([a, b]) < 1.0;
            let in_frame = !in_lens && shape([a + rim, b + rim]) < 1.0;
            let bridge = u.abs() < place.lens_offset - a + rim && (v + 0.45 * b).abs() < rim;
            if in_frame || bridge {
                canvas.pixels[index] = [0, 1, 2].map(|k| glasses.frame[k] * frame_light[k] as f32);
                canvas.depth[index] = point[2] as f32;
                if let Some(response) = &mut canvas.screen {
                    response[index] = glasses.frame.map(|f| f * frame_slope);
                }
                continue;
            }
            if !in_lens {
                continue;
            }
            // The lens' curved front: its normal leans out from the lens' centre.
            let lens_centre_u = u.signum() * place.lens_offset;
            let normal = normalize(add(
                place.out,
                add(
                    place.right.map(|c| c * (u - lens_centre_u) / LENS_CURVE_CM),
                    place.down.map(|c| c * v / LENS_CURVE_CM),
                ),
            ));
            let mirrored = sub(ray, normal.map(|c| c * 2.0 * dot(ray, normal)));
            let shows_screen = mirrored[2] < -1e-6 && {
                let s = -point[2] / mirrored[2];
                let hit = add(point, mirrored.map(|c| c * s));
                (hit[0] - screen.centre[0]).abs() < screen.half_size_cm[0]
                    && (hit[1] - screen.centre[1]).abs() < screen.half_size_cm[1]
            };
            let through = canvas.pixels[index];
            canvas.pixels[index] = [0, 1, 2].map(|k| {
                let mirror = if shows_screen {
                    std::f64::consts::PI
                        * screen.luminance
                        * light.screen_colour[k]
                        * glasses.reflectance
                } else {
                    room_mirror[k]
                };
                through[k] * glasses.transmission + mirror as f32
            });
            if let Some(response) = &mut canvas.screen {
                let mirror = if shows_screen {
                    std::f64::consts::PI * screen.luminance * glasses.reflectance
                } else {
                    0.0
                };
                response[index] =
                    response[index].map(|through| through * glasses.transmission + mirror as f32);
            }
        }
    }
}

/// A hand-held camera's shake: a few sinusoids of 2 to 8 Hz, in pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Shake {
    amplitude_px: f64,
    frequencies: [f64; 4],
    phases: [f64; 4],
}

impl Shake {
    /// The shake of `degrees` (0: a camera on a desk) for a camera of this focal length.
    pub fn draw(rng: &mut Rng, degrees: f64, focal_px: f64) -> Shake {
        Shake {
            amplitude_px: focal_px * degrees.to_radians() / 2.0,
            frequencies: [0; 4].map(|_| rng.range(2.0, 8.0)),
            phases: [0; 4].map(|_| rng.range(0.0, std::f64::consts::TAU)),
        }
    }

    /// How far the image has moved at `t_ms` (pixels).
    pub fn offset(&self, t_ms: f64) -> [f64; 2] {
        let wave = |i: usize| {
            (std::f64::consts::TAU * self.frequencies[i] * t_ms / 1000.0 + self.phases[i]).sin()
        };
        [
            self.amplitude_px * (wave(0) + wave(1)) / 2.0,
            self.amplitude_px * (wave(2) + wave(3)) / 2.0,
        ]
    }

    /// How fast the image moves at `t_ms` (pixels per millisecond).
    pub fn velocity(&self, t_ms: f64) -> [f64; 2] {
        let (before, after) = (self.offset(t_ms - 1.0), self.offset(t_ms + 1.0));
        [(after[0] - before[0]) / 2.0, (after[1] - before[1]) / 2.0]
    }
}

/// The image moved by `offset` pixels (rounded), its edges repeated into the gap.
pub fn shift_image(
    pixels: &[[f32; 3]],
    width: usize,
    height: usize,
    offset: [f64; 2],
) -> Vec<[f32; 3]> {
    let (dx, dy) = (offset[0].round() as i64, offset[1].round() as i64);
    if dx == 0 && dy == 0 {
        return pixels.to_vec();
    }
    let mut out = Vec::with_capacity(pixels.len());
    for y in 0..height as i64 {
        let sy = (y - dy).clamp(0, height as i64 - 1) as usize;
        for x in 0..width as i64 {
            let sx = (x - dx).clamp(0, width as i64 - 1) as usize;
            out.push(pixels[sy * width + sx]);
        }
    }
    out
}

/// A rolling shutter across a change of light: row `y` of `early` becomes the mix of it and
/// of `late` that `weight(y)` gives (0: the early light, 1: the late).
pub fn blend_rows(
    early: &mut [[f32; 3]],
    late: &[[f32; 3]],
    width: usize,
    weight: impl Fn(usize) -> f32,
) {
    for (y, (row, late_row)) in early
        .chunks_exact_mut(width)
        .zip(late.chunks_exact(width))
        .enumerate()
    {
        let w = weight(y).clamp(0.0, 1.0);
        if w == 0.0 {
            continue;
        }
        for (pixel, late) in row.iter_mut().zip(late_row) {
            *pixel = [0, 1, 2].map(|k| pixel[k] + (late[k] - pixel[k]) * w);
        }
    }
}

/// Motion blur: each pixel averaged along the path it moved while the shutter was open,
/// `moving` (pixels) where `is_moving` says, `still` elsewhere.
pub fn motion_blur(
    pixels: &mut [[f32; 3]],
    width: usize,
    height: usize,
    is_moving: impl Fn(usize) -> bool,
    moving: [f64; 2],
    still: [f64; 2],
) {
    let length = |v: [f64; 2]| v[0].hypot(v[1]);
    if length(moving) < 0.75 && length(still) < 0.75 {
        return;
    }
    // Each path's sample offsets, worked out once (as `path * s` for each sample's `s`).
    let offsets = |path: [f64; 2]| -> Vec<[f64; 2]> {
        let samples = length(path).ceil().min(24.0) as usize;
        if samples < 2 {
            return Vec::new();
        }
        (0..samples)
            .map(|i| {
                let s = (i as f64 + 0.5) / samples as f64 - 0.5;
                [path[0] * s, path[1] * s]
            })
            .collect()
    };
    let (moving, still) = (offsets(moving), offsets(still));
    let source = pixels.to_vec();
    for (index, pixel) in pixels.iter_mut().enumerate() {
        let offsets = if is_moving(index) { &moving } else { &still };
        if offsets.is_empty() {
            continue;
        }
        let (x, y) = ((index % width) as f64, (index / width) as f64);
        let mut sum = [0.0f32; 3];
        for offset in offsets {
            let sx = round_index(x + offset[0], width - 1);
            let sy = round_index(y + offset[1], height - 1);
            let p = source[sy * width + sx];
            for k in 0..3 {
                sum[k] += p[k];
            }
        }
        *pixel = sum.map(|c| c / offsets.len() as f32);
    }
}

/// `x.round().clamp(0.0, last as f64) as usize` (half away from zero), without the call into
/// libm that `round` is on the baseline x86-64 target.
fn round_index(x: f64, last: usize) -> usize {
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    if x >= last as f64 {
        return last;
    }
    let whole = x as usize;
    (whole + usize::from(x - whole as f64 >= 0.5)).min(last)
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn add(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalize(v: [f64; 3]) -> [f64; 3] {
    let n = dot(v, v).sqrt().max(1e-12);
    [v[0] / n, v[1] / n, v[2] / n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_to_an_index_is_round_then_clamp() {
        for i in -3000..=700_000 {
            let x = f64::from(i) * 1e-3;
            for last in [0, 1, 479, 639] {
                assert_eq!(
                    round_index(x, last),
                    x.round().clamp(0.0, last as f64) as usize,
                    "{x} {last}"
                );
            }
        }
        assert_eq!(round_index(f64::NAN, 9), 0);
        assert_eq!(round_index(0.49999999999999994, 9), 0);
    }

    #[test]
    fn a_laptop_and_a_phone_give_the_illuminance_the_handbook_gives() {
        // LIVENESS.md: a laptop (300 cd/m², 0.05 m²) at 30 cm gives about 150 lux, a phone
        // (600 cd/m², 0.009 m²) at 25 cm about 80.
        let straight = |luminance, area_m2, distance| {
            ScreenSource {
                centre: [0.0, 0.0, 0.0],
                luminance,
                area_m2,
                half_size_cm: [10.0, 10.0],
            }
            .illuminance([0.0, 0.0, distance], [0.0, 0.0, -1.0])
        };
        assert!((straight(300.0, 0.05, 30.0) - 166.7).abs() < 1.0);
        assert!((straight(600.0, 0.009, 25.0) - 86.4).abs() < 1.0);
    }

    #[test]
    fn black_bodies_are_warm_to_cool_with_unit_luminance() {
        let warm = black_body_linear(2_700.0);
        let cool = black_body_linear(6_500.0);
        assert!(warm[0] > warm[2] * 3.0);
        assert!((cool[0] / cool[2] - 1.0).abs() < 0.15);
        for colour in [warm, cool] {
            let luminance = 0.2126 * colour[0] + 0.7152 * colour[1] + 0.0722 * colour[2];
            assert!((luminance - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn fixing_one_axis_leaves_the_others_as_drawn() {
        let drawn = RoomConditions::draw(&mut Rng::new(7), Ranges::Normal, &[]).unwrap();
        let fixed = RoomConditions::draw(
            &mut Rng::new(7),
            Ranges::Normal,
            &[("room_lux".to_owned(), "20".to_owned())],
        )
        .unwrap();
        assert_eq!(fixed.room_lux, 20.0);
        assert_eq!(fixed.skin_type, drawn.skin_type);
        assert_eq!(fixed.screen_luminance, drawn.screen_luminance);
        assert!(fixed.screen_to_room > drawn.screen_to_room || drawn.room_lux <= 20.0);
    }

    #[test]
    fn unknown_axes_and_values_are_refused_with_the_names() {
        let refused = |axis: &str, value: &str| {
            RoomConditions::draw(
                &mut Rng::new(1),
                Ranges::Normal,
                &[(axis.to_owned(), value.to_owned())],
            )
            .unwrap_err()
        };
        assert!(refused("lux", "20").contains("room_lux"));
        assert!(refused("device", "tablet").contains("device"));
        assert!(refused("skin_type", "7").contains("skin_type"));
        assert!(refused("resolution", "640").contains("resolution"));
    }

    #[test]
    fn the_stress_set_goes_beyond_the_normal_ranges_on_some_axis() {
        for seed in 0..200 {
            let c = RoomConditions::draw(&mut Rng::new(seed), Ranges::Stress, &[]).unwrap();
            let beyond = c.room_lux > 1_000.0
                || c.screen_brightness < 0.45
                || c.wall_behind_m < 0.3
                || c.white_balance_time_constant_s < 0.3
                || c.fps < 15.0;
            assert!(beyond, "seed {seed}: {c:?}");
        }
        for seed in 0..200 {
            let c = RoomConditions::draw(&mut Rng::new(seed), Ranges::Normal, &[]).unwrap();
            assert!(c.room_lux <= 1_000.0 && c.screen_brightness >= 0.45 && c.fps >= 15.0);
            assert!(c.wall_behind_m >= 0.3 && c.white_balance_time_constant_s >= 0.3);
        }
    }

    #[test]
    fn buckets_name_their_edges() {
        assert_eq!(bucket(10.0, &[50.0, 150.0], " lx"), "< 50 lx");
        assert_eq!(bucket(60.0, &[50.0, 150.0], " lx"), "50-150 lx");
        assert_eq!(bucket(150.0, &[50.0, 150.0], " lx"), ">= 150 lx");
        assert_eq!(bucket(0.05, &[0.03, 0.1], ""), "0.03-0.1");
    }

    fn camera(controls: Controls, white_balance_time_constant_s: f64) -> AutoCamera {
        let mut conditions = RoomConditions::draw(&mut Rng::new(3), Ranges::Normal, &[]).unwrap();
        conditions.controls = controls;
        conditions.white_balance_time_constant_s = white_balance_time_constant_s;
        conditions.exposure_time_constant_s = 0.5;
        AutoCamera::new(&conditions, 0.0)
    }

    /// The mean red over green of a captured image.
    fn red_over_green(image: &openliveness_vision::RgbImage) -> f64 {
        let (mut red, mut green) = (0.0, 0.0);
        for pixel in image.data().chunks_exact(3) {
            red += f64::from(pixel[0]);
            green += f64::from(pixel[1]);
        }
        red / green
    }

    #[test]
    fn auto_white_balance_pulls_a_coloured_scene_back_to_grey_and_a_locked_camera_does_not() {
        let noise = NoiseTable::new(&mut Rng::new(1));
        let grey = vec![[0.2f32, 0.2, 0.2]; 64 * 48];
        let red = vec![[0.4f32, 0.15, 0.15]; 64 * 48];
        let run = |mut camera: AutoCamera| {
            camera.settle(&grey);
            for frame in 0..10 {
                camera.capture(
                    &grey,
                    64,
                    48,
                    f64::from(frame) * 40.0,
                    &noise,
                    &mut Rng::new(2),
                );
            }
            // The screen turns red: the first frame shows it, later ones less and less.
            let first = camera.capture(&red, 64, 48, 400.0, &noise, &mut Rng::new(2));
            let mut last = first.clone();
            for frame in 1..=75 {
                last = camera.capture(
                    &red,
                    64,
                    48,
                    400.0 + f64::from(frame) * 40.0,
                    &noise,
                    &mut Rng::new(2),
                );
            }
            (red_over_green(&first), red_over_green(&last))
        };
        let (first, last) = run(camera(Controls::Auto, 0.5));
        assert!(first > 1.5, "{first}");
        assert!((last - 1.0).abs() < 0.1, "after 3 s: {last}");
        let (first, last) = run(camera(Controls::Locked, 0.5));
        assert!(first > 1.5 && (last - first).abs() < 0.01, "{first} {last}");
        // A slower white balance is still far from grey after one time constant.
        let (_, after) = run(camera(Controls::Auto, 10.0));
        assert!(after > 1.3, "{after}");
    }

    #[test]
    fn a_rolling_shutter_shows_the_new_colour_in_the_rows_read_after_the_change() {
        let (width, height) = (4, 10);
        let mut early = vec![[0.0f32; 3]; width * height];
        let late = vec![[1.0f32, 0.0, 0.0]; width * height];
        // The change comes when row 6 is read.
        blend_rows(&mut early, &late, width, |y| if y >= 6 { 1.0 } else { 0.0 });
        assert_eq!(early[5 * width], [0.0; 3]);
        assert_eq!(early[6 * width], [1.0, 0.0, 0.0]);
        assert_eq!(early[height * width - 1], [1.0, 0.0, 0.0]);
    }

    #[test]
    fn motion_blur_spreads_what_moves_along_its_path_and_leaves_the_still_alone() {
        let (width, height) = (20, 5);
        let mut pixels = vec![[0.0f32; 3]; width * height];
        pixels[2 * width + 5] = [1.0; 3];
        pixels[2 * width + 15] = [1.0; 3];
        // The left half moves 4 pixels to the right while the shutter is open.
        motion_blur(
            &mut pixels,
            width,
            height,
            |i| i % width < 10,
            [4.0, 0.0],
            [0.0; 2],
        );
        let row = &pixels[2 * width..3 * width];
        let lit_left = row[..10].iter().filter(|p| p[0] > 0.0).count();
        assert_eq!(lit_left, 4, "{row:?}");
        assert!(row[..10].iter().all(|p| p[0] <= 0.25 + 1e-6));
        assert_eq!(row[15], [1.0; 3]);
        assert_eq!(row[14], [0.0; 3]);
    }

    #[test]
    fn a_shaken_image_moves_and_a_camera_on_a_desk_does_not() {
        let still = Shake::draw(&mut Rng::new(1), 0.0, 600.0);
        assert_eq!(still.offset(123.0), [0.0, 0.0]);
        let shaken = Shake::draw(&mut Rng::new(1), 0.5, 600.0);
        let largest = (0..200)
            .map(|i| shaken.offset(f64::from(i) * 10.0))
            .map(|[x, y]| x.abs().max(y.abs()))
            .fold(0.0, f64::max);
        // 0.5 degrees at a focal length of 600 pixels: up to about 2.6 pixels each way.
        assert!(largest > 1.0 && largest <= 2.7, "{largest}");
        let pixels: Vec<[f32; 3]> = (0..12).map(|i| [i as f32; 3]).collect();
        let moved = shift_image(&pixels, 4, 3, [1.0, 0.0]);
        assert_eq!(moved[1], pixels[0]);
        assert_eq!(moved[0], pixels[0]);
    }

    #[test]
    fn a_window_shines_brighter_than_the_wall_and_a_plain_wall_has_none() {
        let window = Wall::draw(320, 240, Backdrop::Window, 300.0, &mut Rng::new(4));
        let pane = window.window.as_ref().expect("a window");
        assert!(pane.rect[1] > pane.rect[0] && pane.rect[3] > pane.rect[2]);
        // Two to ten times a white wall's 300 lux.
        let level = pane.emission[1];
        assert!((600.0..=3_000.0).contains(&level), "{level}");
        let plain = Wall::draw(320, 240, Backdrop::Plain, 300.0, &mut Rng::new(4));
        assert!(plain.window.is_none());
        assert_eq!(plain.albedo.len(), 320 * 240);
        // Textured: not one flat colour.
        let first = plain.albedo[0];
        assert!(plain.albedo.iter().any(|p| (p[0] - first[0]).abs() > 0.01));
    }

    #[test]
    fn a_kept_screen_response_shows_the_room_in_another_screen_colour_as_drawing_it_again_does() {
        let camera = Camera::with_fov(320, 240, 60.0);
        let conditions = RoomConditions::draw(
            &mut Rng::new(6),
            Ranges::Normal,
            &[("device".to_owned(), "phone".to_owned())],
        )
        .unwrap();
        let light = |screen_colour: [f64; 3]| RoomLight {
            room: [30.0, 28.0, 25.0],
            direction: [0.0, -1.0, 0.0],
            screen: conditions.screen_light_source(),
            screen_colour,
        };
        let (early, late) = ([1.0, 1.0, 1.0], [0.0, 0.2, 0.9]);
        let wall = Wall::draw(320, 240, Backdrop::Window, 100.0, &mut Rng::new(2));
        let body = Body::draw(&mut Rng::new(3), [0.5, 0.35, 0.3]);
        let mut parts = body.parts([0.0, -2.0, 35.0], 7.0);
        parts.extend(body.thumbs(|x, y, z| [x, y, 30.0 - z]));
        let place = GlassesPlace {
            centre: [0.0, -2.0, 33.0],
            right: [1.0, 0.0, 0.0],
            down: [0.0, 1.0, 0.0],
            out: [0.0, 0.0, -1.0],
            lens_offset: 3.15,
        };
        let glasses = Glasses {
            reflectance: 0.04,
            ..body.glasses
        };
        let rays = Rays::new(&camera);
        let draw = |colour: [f64; 3], keep: bool| {
            let mut canvas = Canvas::new(320, 240, &wall.albedo);
            if keep {
                canvas.keep_screen_response();
            }
            draw_room(
                &mut canvas,
                &camera,
                &rays,
                &wall,
                120.0,
                &parts,
                &light(colour),
            );
            draw_glasses(&mut canvas, &camera, &place, &glasses, &light(colour));
            canvas
        };
        let kept = draw(early, true);
        let again = draw(late, false);
        crate::render::assert_shows_as_drawn_again(&kept, &again, early, late);
        let response = kept.screen.as_ref().expect("kept");
        // The screen lights the person and the wall, and not the window's daylight.
        let wall_at = |index: usize| kept.depth[index] >= 119.0;
        let chest = 230 * 320 + 160;
        assert!(!wall_at(chest) && response[chest][1] > 0.0);
        assert!((0..response.len()).any(|i| wall_at(i) && response[i][1] > 0.0));
        let pane = wall.window.as_ref().expect("a window").rect;
        let in_pane = ((pane[2] + pane[3]) / 2) * 320 + (pane[0] + pane[1]) / 2 + 4;
        if wall_at(in_pane) {
            assert_eq!(response[in_pane], [0.0; 3]);
        }
    }

    #[test]
    fn glasses_let_the_face_through_and_mirror_the_screen_in_part_of_their_lenses() {
        let camera = Camera::with_fov(160, 120, 55.0);
        let face = [0.5f32; 3];
        let mut canvas = Canvas::new(160, 120, &vec![face; 160 * 120]);
        canvas.depth.iter_mut().for_each(|d| *d = 32.0);
        let conditions = RoomConditions::draw(
            &mut Rng::new(5),
            Ranges::Normal,
            &[("device".to_owned(), "laptop".to_owned())],
        )
        .unwrap();
        let light = RoomLight {
            room: [10.0; 3],
            direction: [0.0, -1.0, 0.0],
            screen: conditions.screen_light_source(),
            screen_colour: [1.0, 0.0, 0.0],
        };
        let glasses = Glasses {
            frame: [0.03; 3],
            lens_half: [2.5, 1.8],
            rim_cm: 0.3,
            reflectance: 0.04,
            transmission: 0.9,
        };
        let place = GlassesPlace {
            centre: [0.0, 0.0, 30.0],
            right: [1.0, 0.0, 0.0],
            down: [0.0, 1.0, 0.0],
            out: [0.0, 0.0, -1.0],
            lens_offset: 3.15,
        };
        draw_glasses(&mut canvas, &camera, &place, &glasses, &light);
        // Lens pixels: the face let through (0.45) plus what the lens mirrors.
        let lens = canvas
            .pixels
            .iter()
            .filter(|p| **p != face && p[1] > 0.449)
            .count();
        let mirrored_screen = canvas.pixels.iter().filter(|p| p[0] > p[1] + 1.0).count();
        let frame = canvas.pixels.iter().filter(|p| p[1] < 0.4).count();
        assert!(lens > 300, "lens pixels: {lens}");
        assert!(
            mirrored_screen > 0 && mirrored_screen < lens,
            "the screen in {mirrored_screen} of {lens} lens pixels"
        );
        assert!(frame > 50, "frame pixels: {frame}");
        // The far corner shows the face as it was.
        assert_eq!(canvas.pixels[0], face);
    }
}
