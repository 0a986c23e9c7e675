//! One simulated session: the challenge answered, who or what answers it (a live person or one
//! of the attack species), the conditions (camera, light, noise, speed), the timeline the web
//! client follows, and the frames the camera records.

use std::sync::Arc;

use openliveness_protocol::streaming::ServerChallenge;
use openliveness_vision::RgbImage;
use serde::Serialize;

use crate::face::{
    head_keypoints, srgb_to_linear, AssetError, Beard, BeardKind, Expression, ExpressionTrack,
    Identity, Shape, Texture, TextureMap, FACE_BOX_CENTRE_BELOW_EYES_CM, FACE_BOX_SIDE_CM,
};
use crate::mesh::Relief;
use crate::render::{
    background, Camera, Canvas, Light, Lighting, NoiseTable, Pose, Sensor, Surface,
};
use crate::rng::Rng;
use crate::room::{
    blend_rows, draw_glasses, draw_room, motion_blur, shift_image, AutoCamera, Backdrop, Body,
    BodyPart, Expressions, Eyewear, GlassesPlace, Ranges, Rays, RoomConditions, RoomLight, Shake,
    Start, Wall,
};

/// The world a session is rendered in.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum World {
    /// The first simulator's world, kept as it was: a face in front of a far wall, lit by
    /// ambient light and a screen several times brighter, no automatic white balance. The
    /// engine's calibration was fitted here.
    #[default]
    Studio,
    /// The whole person in a room, in physical units, seen by a camera with auto exposure and
    /// white balance ([`crate::room`]), its conditions drawn from `ranges` with the axes in
    /// `fixed` set.
    Room {
        ranges: Ranges,
        fixed: Vec<(String, String)>,
    },
}

impl World {
    /// The room world, its fixed axes checked.
    pub fn room(ranges: Ranges, fixed: Vec<(String, String)>) -> Result<World, String> {
        RoomConditions::draw(&mut Rng::new(0), ranges, &fixed)?;
        Ok(World::Room { ranges, fixed })
    }

    /// The room conditions of the session of `seed` (none in the studio).
    pub fn room_conditions(&self, seed: u64) -> Option<RoomConditions> {
        let World::Room { ranges, fixed } = self else {
            return None;
        };
        // `World::room` checked the fixed axes: a fix fails for every seed or for none.
        RoomConditions::draw(&mut session_root(seed).fork(12), *ranges, fixed).ok()
    }

    /// A name for the world and its fixed axes, fit for a directory name.
    pub fn label(&self) -> String {
        match self {
            World::Studio => "studio".to_owned(),
            World::Room { ranges, fixed } => {
                let mut label = match ranges {
                    Ranges::Normal => "room".to_owned(),
                    Ranges::Stress => "room-stress".to_owned(),
                };
                for (axis, value) in fixed {
                    label.push_str(&format!("-{axis}={value}"));
                }
                label
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || "-_.=".contains(c) {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect()
            }
        }
    }
}

/// The generator every draw of a session forks from.
fn session_root(seed: u64) -> Rng {
    Rng::new(seed ^ 0x005E_ED0F_11FE)
}

/// Who or what answers the challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Species {
    /// A live person.
    BonaFide,
    /// A printed photograph moved toward the camera.
    PrintedPhoto,
    /// A printed photograph bent around a cylinder.
    BentPhoto,
    /// A screen held up to the camera, replaying a recorded live session.
    ScreenReplay,
    /// A recorded live session injected instead of the camera.
    VideoInjection,
    /// A still picture: a print held still in the oval.
    StaticImage,
    /// A flat face with the challenge colours painted on afterwards, late.
    DelayedColours,
    /// A live person who never fills the oval.
    MissesOval,
    /// A live person with a second face in view.
    TwoFaces,
    /// A live person replaced by another face during the session.
    FaceSwap,
    /// A screen replaying a recorded live session whose face the attacker's software re-lights
    /// with the challenge's colours as they appear (a little late).
    RelitReplay,
    /// A printed face worn over the attacker's own, with the eyes cut out: the attacker's real
    /// eyes show through.
    CutOutMask,
}

impl Species {
    pub const ALL: [Species; 12] = [
        Species::BonaFide,
        Species::PrintedPhoto,
        Species::BentPhoto,
        Species::ScreenReplay,
        Species::VideoInjection,
        Species::StaticImage,
        Species::DelayedColours,
        Species::MissesOval,
        Species::TwoFaces,
        Species::FaceSwap,
        Species::RelitReplay,
        Species::CutOutMask,
    ];

    /// Every species but the live person, in the order of [`Species::ALL`].
    pub const ATTACKS: [Species; 11] = match Species::ALL.split_first() {
        Some((Species::BonaFide, attacks)) => match attacks.first_chunk() {
            Some(attacks) => *attacks,
            None => panic!("Species::ALL has eleven attacks"),
        },
        _ => panic!("Species::ALL starts with the live person"),
    };

    pub fn name(self) -> &'static str {
        match self {
            Species::BonaFide => "bona-fide",
            Species::PrintedPhoto => "printed-photo",
            Species::BentPhoto => "bent-photo",
            Species::ScreenReplay => "screen-replay",
            Species::VideoInjection => "video-injection",
            Species::StaticImage => "static-image",
            Species::DelayedColours => "delayed-colours",
            Species::MissesOval => "misses-oval",
            Species::TwoFaces => "two-faces",
            Species::FaceSwap => "face-swap",
            Species::RelitReplay => "relit-replay",
            Species::CutOutMask => "cut-out-mask",
        }
    }

    pub fn parse(name: &str) -> Option<Species> {
        Species::ALL
            .into_iter()
            .find(|species| species.name() == name)
    }

    pub fn is_attack(self) -> bool {
        self != Species::BonaFide
    }
}

impl std::fmt::Display for Species {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One colour of the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Colour {
    pub rgb: [u8; 3],
    pub downscroll_ms: f64,
    pub flat_ms: f64,
}

/// The challenge as the client sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChallengeSpec {
    pub width: u32,
    pub height: u32,
    /// Centre x, centre y, width, height, in video pixels.
    pub oval: [f64; 4],
    /// Empty for FaceMovementChallenge.
    pub colours: Vec<Colour>,
    pub oval_iou_threshold: f64,
}

impl ChallengeSpec {
    /// From the challenge a server issued.
    pub fn from_server(challenge: &ServerChallenge, width: u32, height: u32) -> Option<Self> {
        if let Some(light) = &challenge.face_movement_and_light_challenge {
            let oval = &light.oval_parameters;
            Some(ChallengeSpec {
                width,
                height,
                oval: [oval.center_x, oval.center_y, oval.width, oval.height],
                colours: light
                    .color_sequences
                    .iter()
                    .map(|sequence| Colour {
                        rgb: sequence.freshness_color.rgb,
                        downscroll_ms: sequence.downscroll_duration,
                        flat_ms: sequence.flat_display_duration,
                    })
                    .collect(),
                oval_iou_threshold: light.challenge_config.oval_iou_threshold,
            })
        } else {
            let movement = challenge.face_movement_challenge.as_ref()?;
            let oval = &movement.oval_parameters;
            Some(ChallengeSpec {
                width,
                height,
                oval: [oval.center_x, oval.center_y, oval.width, oval.height],
                colours: Vec::new(),
                oval_iou_threshold: movement.challenge_config.oval_iou_threshold,
            })
        }
    }

    /// A challenge drawn as a server draws one (for the sessions an attacker recorded earlier,
    /// and for offline evaluation).
    pub fn draw(width: u32, height: u32, light: bool, rng: &mut Rng) -> ChallengeSpec {
        use openliveness_protocol::challenge::{issue, SeededRandom};
        use openliveness_protocol::{ChallengeKind, ChallengeVersion};
        let (kind, version) = if light {
            (
                ChallengeKind::FaceMovementAndLightChallenge,
                ChallengeVersion(2, 0, 0),
            )
        } else {
            (
                ChallengeKind::FaceMovementChallenge,
                ChallengeVersion(1, 0, 0),
            )
        };
        let mut random = SeededRandom::new(rng.next_u64());
        let issued = issue(kind, version, width, height, &mut random);
        // `issue` always fills the member of the kind asked for.
        ChallengeSpec::from_server(&issued.server_challenge, width, height).unwrap_or(
            ChallengeSpec {
                width,
                height,
                oval: [
                    f64::from(width) / 2.0,
                    f64::from(height) / 2.0,
                    f64::from(width) * 0.45,
                    f64::from(width) * 0.45 * 1.618,
                ],
                colours: Vec::new(),
                oval_iou_threshold: 0.55,
            },
        )
    }
}

/// One stage of the colour display, as the web client runs it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ColourStage {
    pub sequence_number: usize,
    pub current: [u8; 3],
    pub previous: [u8; 3],
    /// Milliseconds from the start of the video.
    pub start_ms: f64,
    pub duration_ms: f64,
    pub scrolling: bool,
}

/// The colour stages of a sequence starting at `start_ms` (Amplify's ColorSequenceDisplay:
/// the first colour flat, then each colour scrolls down, then is held flat if it has a flat
/// duration).
pub fn colour_stages(colours: &[Colour], start_ms: f64) -> Vec<ColourStage> {
    let mut stages = Vec::new();
    let mut at = start_ms;
    for (index, colour) in colours.iter().enumerate() {
        let previous = if index == 0 {
            colour.rgb
        } else {
            colours[index - 1].rgb
        };
        if index > 0 && colour.downscroll_ms > 0.0 {
            stages.push(ColourStage {
                sequence_number: index,
                current: colour.rgb,
                previous,
                start_ms: at,
                duration_ms: colour.downscroll_ms,
                scrolling: true,
            });
            at += colour.downscroll_ms;
        }
        if colour.flat_ms > 0.0 || (index == 0 && colour.downscroll_ms <= 0.0) {
            stages.push(ColourStage {
                sequence_number: index,
                current: colour.rgb,
                previous: colour.rgb,
                start_ms: at,
                duration_ms: colour.flat_ms,
                scrolling: false,
            });
            at += colour.flat_ms;
        }
    }
    stages
}

/// The screen's light (linear RGB, 0-1) at `t_ms` for these stages: the colour stages while
/// they run, the client's page (light grey) before and after. While a colour scrolls down, the
/// new colour covers the top of the screen and the old one the rest: the light is their mix.
pub fn screen_light(stages: &[ColourStage], t_ms: f64) -> [f64; 3] {
    const PAGE: [f64; 3] = [0.55, 0.55, 0.55];
    let linear = |rgb: [u8; 3]| rgb.map(|c| f64::from(srgb_to_linear(c)));
    let Some(first) = stages.first() else {
        return PAGE;
    };
    if t_ms < first.start_ms {
        return PAGE;
    }
    for stage in stages {
        if t_ms < stage.start_ms + stage.duration_ms {
            let current = linear(stage.current);
            if !stage.scrolling {
                return current;
            }
            let previous = linear(stage.previous);
            let p = ((t_ms - stage.start_ms) / stage.duration_ms).clamp(0.0, 1.0);
            return [0, 1, 2].map(|k| p * current[k] + (1.0 - p) * previous[k]);
        }
    }
    PAGE
}

/// The client's timeline, in milliseconds from the start of the video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub initial_face_ms: f64,
    pub approach_start_ms: f64,
    pub approach_end_ms: f64,
    /// When the client saw the face in the oval, and when the challenge ended.
    pub target_start_ms: f64,
    pub target_end_ms: f64,
    pub stages: Vec<ColourStage>,
    pub video_end_ms: f64,
}

/// The conditions of one session, drawn from its seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conditions {
    pub horizontal_fov_degrees: f64,
    pub ambient: [f64; 3],
    pub screen_brightness: f64,
    pub noise: f32,
    pub fps: f64,
    pub capture_delay_ms: f64,
    pub speed_cm_per_s: f64,
    /// The face box's width at the end over the oval's width.
    pub fill: f64,
    /// The face box's width at the start over the frame's width.
    pub start_ratio: f64,
    pub exposure_adaptation: f64,
}

impl Conditions {
    pub fn draw(rng: &mut Rng) -> Conditions {
        let level = rng.range(0.12, 0.45);
        let warmth = rng.range(0.85, 1.0);
        Conditions {
            horizontal_fov_degrees: rng.range(48.0, 60.0),
            ambient: [level, level * warmth, level * warmth * warmth],
            screen_brightness: rng.range(0.55, 1.0),
            noise: rng.range(1.0, 3.0) as f32,
            fps: [24.0, 25.0, 30.0][rng.between(0, 2) as usize],
            capture_delay_ms: rng.range(30.0, 120.0),
            speed_cm_per_s: rng.range(8.0, 16.0),
            fill: rng.range(0.95, 1.05),
            start_ratio: rng.range(0.17, 0.24),
            exposure_adaptation: rng.range(0.0, 0.08),
        }
    }
}

/// Where a face is in one frame, as rendered: BlazeFace's box and keypoints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TruthFace {
    /// Left, top, width, height in pixels.
    pub bounding_box: [f64; 4],
    /// Right eye, left eye, nose tip, mouth, right ear, left ear, in pixels.
    pub keypoints: [[f64; 2]; 6],
}

impl TruthFace {
    /// The face moved by `offset` pixels.
    fn moved(mut self, offset: [f64; 2]) -> TruthFace {
        self.bounding_box[0] += offset[0];
        self.bounding_box[1] += offset[1];
        for point in &mut self.keypoints {
            point[0] += offset[0];
            point[1] += offset[1];
        }
        self
    }
}

/// The rendered session.
#[derive(Debug, Clone)]
pub struct Recording {
    pub species: Species,
    pub seed: u64,
    pub challenge: ChallengeSpec,
    pub conditions: Conditions,
    /// The room world's conditions (none in the studio).
    pub room: Option<RoomConditions>,
    pub timeline: Timeline,
    pub frames: Vec<RgbImage>,
    /// Presentation times, milliseconds from the start.
    pub frame_ms: Vec<u64>,
    /// The faces in each frame, as rendered (for attacks that replay a video: the faces the
    /// replayed video shows).
    pub truth: Vec<Vec<TruthFace>>,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSpec {
    pub species: Species,
    pub seed: u64,
    pub challenge: ChallengeSpec,
    pub world: World,
}

/// The head's path: where the face box's centre and width should be over time.
#[derive(Debug, Clone)]
struct Motion {
    far_z: f64,
    near_z: f64,
    start_centre: [f64; 2],
    end_centre: [f64; 2],
    approach_start_ms: f64,
    approach_end_ms: f64,
    phases: [f64; 6],
    frequencies: [f64; 6],
    sway_cm: f64,
    angle: f64,
    /// How far the path bends off the straight line at its middle (pixels, across).
    bend: f64,
    /// The head bowed toward the screen at the start (radians), up by the approach's end.
    look_down: f64,
}

impl Motion {
    /// The eyes' depth and the face box's centre (pixels) at `t`, and the pose's angles.
    fn at(&self, t_ms: f64) -> (f64, [f64; 2], [f64; 3], [f64; 2]) {
        let p = ((t_ms - self.approach_start_ms) / (self.approach_end_ms - self.approach_start_ms))
            .clamp(0.0, 1.0);
        let s = p * p * (3.0 - 2.0 * p);
        // Move in 1/z so that the face grows smoothly on screen.
        let inverse = (1.0 - s) / self.far_z + s / self.near_z;
        let z = 1.0 / inverse;
        let mut centre = [
            self.start_centre[0] + (self.end_centre[0] - self.start_centre[0]) * s,
            self.start_centre[1] + (self.end_centre[1] - self.start_centre[1]) * s,
        ];
        if self.bend != 0.0 {
            centre[0] += self.bend * (std::f64::consts::PI * s).sin();
        }
        let t = t_ms / 1000.0;
        let wave =
            |i: usize| (std::f64::consts::TAU * self.frequencies[i] * t + self.phases[i]).sin();
        let angles = [
            self.angle * wave(0),
            self.angle * 0.8 * wave(1),
            self.angle * 0.6 * wave(2),
        ];
        let mut angles = angles;
        if self.look_down != 0.0 {
            angles[1] += self.look_down * (1.0 - s);
        }
        let sway = [self.sway_cm * wave(3), self.sway_cm * wave(4)];
        let breathing = 0.25 * wave(5);
        (z + breathing, centre, angles, sway)
    }
}

fn draw_motion(
    rng: &mut Rng,
    camera: &Camera,
    challenge: &ChallengeSpec,
    conditions: &Conditions,
    stretch_x: f64,
    approach_start_ms: f64,
) -> Motion {
    let box_cm = FACE_BOX_SIDE_CM * stretch_x;
    let near_width = challenge.oval[2] * conditions.fill;
    let near_z = camera.focal * box_cm / near_width;
    let far_width = f64::from(camera.width) * conditions.start_ratio;
    let far_z = camera.focal * box_cm / far_width;
    let duration = (far_z - near_z).abs() / conditions.speed_cm_per_s * 1000.0;
    let (w, h) = (f64::from(camera.width), f64::from(camera.height));
    let start_centre = [
        challenge.oval[0] + rng.range(-0.08, 0.08) * w,
        challenge.oval[1] + rng.range(-0.08, 0.06) * h,
    ];
    let mut phases = [0.0; 6];
    let mut frequencies = [0.0; 6];
    for i in 0..6 {
        phases[i] = rng.range(0.0, std::f64::consts::TAU);
        frequencies[i] = rng.range(0.15, 0.6);
    }
    Motion {
        far_z,
        near_z,
        start_centre,
        end_centre: [challenge.oval[0], challenge.oval[1]],
        approach_start_ms,
        approach_end_ms: approach_start_ms + duration.max(600.0),
        phases,
        frequencies,
        sway_cm: rng.range(0.1, 0.35),
        angle: rng.range(0.01, 0.035),
        bend: 0.0,
        look_down: 0.0,
    }
}

/// A face-bearing object in the scene at one instant.
#[derive(Debug, Clone)]
struct Actor {
    shape: Shape,
    identity: Identity,
    map: TextureMap,
    pose: Pose,
    reflectance: f32,
    /// Whether the screen lights it (false: painted colours come separately).
    lit_by_screen: bool,
    expression: Expression,
    beard: Option<Beard>,
}

impl Actor {
    /// An actor of this shape and identity, at the origin, lit by the screen, with a still
    /// face and no beard; ink on paper reflects a little less than skin.
    fn new(shape: Shape, identity: Identity) -> Actor {
        let reflectance = match shape {
            Shape::Head { .. } => 1.0,
            Shape::Flat | Shape::Cylinder { .. } => 0.85,
        };
        Actor {
            shape,
            map: TextureMap::new(&identity),
            identity,
            pose: Pose::default(),
            reflectance,
            lit_by_screen: true,
            expression: Expression::NEUTRAL,
            beard: None,
        }
    }

    /// A live head of this identity.
    fn head(identity: Identity, relief: Option<&'static Relief>) -> Actor {
        let shape = Shape::Head {
            nose_height: identity.nose_height,
            relief,
        };
        Actor::new(shape, identity)
    }

    fn stretch(&self) -> [f64; 2] {
        match self.shape {
            Shape::Head { .. } => [self.identity.stretch_x, self.identity.stretch_y],
            _ => [self.identity.stretch_x, self.identity.stretch_y],
        }
    }

    /// Places the actor so that its face box (at the eyes' depth `z`) centres on `centre`.
    fn place(
        &mut self,
        camera: &Camera,
        z: f64,
        centre: [f64; 2],
        angles: [f64; 3],
        sway: [f64; 2],
    ) {
        let stretch = self.stretch();
        let eye_z = match self.shape {
            Shape::Head { .. } => self.shape.eye_depth(stretch),
            _ => 0.0,
        };
        let box_centre = camera.unproject(centre[0], centre[1], z);
        self.pose = Pose {
            position: [
                box_centre[0] + sway[0],
                box_centre[1] - FACE_BOX_CENTRE_BELOW_EYES_CM * stretch[1] + sway[1],
                z + eye_z,
            ],
            yaw: angles[0],
            pitch: angles[1],
            roll: angles[2],
        };
    }

    fn truth(&self, camera: &Camera) -> TruthFace {
        let stretch = self.stretch();
        let eye_z = match self.shape {
            Shape::Head { .. } => self.shape.eye_depth(stretch),
            _ => 0.0,
        };
        let centre = camera.project(self.pose.to_world([
            0.0,
            FACE_BOX_CENTRE_BELOW_EYES_CM * stretch[1],
            eye_z,
        ]));
        let eyes = self.pose.to_world([0.0, 0.0, eye_z]);
        let side = camera.focal * FACE_BOX_SIDE_CM * stretch[0] / eyes[2];
        let mut keypoints = [[0.0; 2]; 6];
        for (out, point) in keypoints.iter_mut().zip(head_keypoints()) {
            let mut x = point[0] * stretch[0];
            let y = point[1] * stretch[1];
            if self.identity.mirrored {
                x = -x;
            }
            let z = self.shape.depth(x, y, stretch).unwrap_or(0.0);
            *out = camera.project(self.pose.to_world([x, y, z]));
        }
        if self.identity.mirrored {
            // The person's right eye is still the one on the image's left.
            keypoints.swap(0, 1);
            keypoints.swap(4, 5);
        }
        TruthFace {
            bounding_box: [centre[0] - side / 2.0, centre[1] - side / 2.0, side, side],
            keypoints,
        }
    }
}

/// Where the face ends its approach in this session: the eyes' distance from the camera (cm) and
/// the face box's width over the frame's. Drawn as [`simulate`] draws them, without rendering.
pub fn end_of_approach(spec: &SessionSpec) -> (f64, f64) {
    let root = session_root(spec.seed);
    let conditions = Conditions::draw(&mut root.fork(1));
    let identity = Identity::draw(&mut root.fork(2));
    let challenge = &spec.challenge;
    let camera = Camera::with_fov(
        challenge.width,
        challenge.height,
        conditions.horizontal_fov_degrees,
    );
    let width = challenge.oval[2] * conditions.fill;
    let distance = camera.focal * FACE_BOX_SIDE_CM * identity.stretch_x / width;
    (distance, width / f64::from(challenge.width))
}

/// Renders one session.
pub fn simulate(spec: &SessionSpec) -> Result<Recording, AssetError> {
    let texture = Texture::shared()?;
    // The room's heads have the measured face; the studio's keep their drawn one.
    let relief = match spec.world {
        World::Studio => None,
        World::Room { .. } => Some(Relief::shared()?),
    };
    Ok(simulate_with(spec, &texture, relief))
}

/// The time from the first frame to the recording's start of the approach.
const SETTLE_MS: f64 = 400.0;
/// Amplify's "Hold still" between the face reaching the oval and the first colour.
const HOLD_MS: f64 = 1000.0;

/// Renders one session with this texture, the heads' faces on this relief.
pub fn simulate_with(
    spec: &SessionSpec,
    texture: &Arc<Texture>,
    relief: Option<&'static Relief>,
) -> Recording {
    let root = session_root(spec.seed);
    let mut rng = root.fork(1);
    let mut conditions = Conditions::draw(&mut rng);
    let room = spec.world.room_conditions(spec.seed);
    if let Some(room) = &room {
        conditions.fps = room.fps;
    }
    let challenge = &spec.challenge;
    let camera = Camera::with_fov(
        challenge.width,
        challenge.height,
        conditions.horizontal_fov_degrees,
    );
    let mut identity = Identity::draw(&mut root.fork(2));
    if let Some(room) = &room {
        identity.tone = Identity::tone_of(room.skin_darkness());
    }
    let mut motion_rng = root.fork(3);
    let mut motion = draw_motion(
        &mut motion_rng,
        &camera,
        challenge,
        &conditions,
        identity.stretch_x,
        SETTLE_MS,
    );
    if let Some(room) = &room {
        motion.angle = room.head_turn_deg.to_radians();
        motion.bend = room.path_bend * f64::from(camera.width);
        motion.look_down = room.look_down_deg.to_radians();
        if room.start == Start::TooClose {
            // The face starts bigger than the oval and moves back into it.
            motion.far_z = motion.near_z * root.fork(16).range(0.62, 0.8);
            let duration = (motion.near_z - motion.far_z) / conditions.speed_cm_per_s * 1000.0;
            motion.approach_end_ms = motion.approach_start_ms + duration.max(600.0);
        }
    }
    let mut attack_rng = root.fork(4);
    match spec.species {
        Species::MissesOval => {
            // Stops short, or off to one side.
            if attack_rng.chance(0.5) {
                let short = attack_rng.range(0.5, 0.72);
                motion.near_z /= short;
            } else {
                let side = if attack_rng.chance(0.5) { 1.0 } else { -1.0 };
                motion.end_centre[0] += side * challenge.oval[2] * attack_rng.range(0.45, 0.7);
            }
        }
        Species::StaticImage => {
            motion.far_z = motion.near_z;
            motion.start_centre = motion.end_centre;
            motion.sway_cm = 0.02;
            motion.angle = 0.0;
        }
        _ => {}
    }
    let timeline = timeline(challenge, &motion, &conditions);
    let frame_ms = match &room {
        None => frame_times(&timeline, &conditions, &mut root.fork(5)),
        Some(room) => room_frame_times(&timeline, room, &mut root.fork(5)),
    };

    let shape = match spec.species {
        Species::PrintedPhoto
        | Species::StaticImage
        | Species::DelayedColours
        | Species::CutOutMask => Shape::Flat,
        Species::BentPhoto => Shape::Cylinder {
            radius: attack_rng.range(8.0, 14.0),
        },
        _ => Shape::Head {
            nose_height: identity.nose_height,
            relief,
        },
    };
    let main = Actor {
        lit_by_screen: spec.species != Species::DelayedColours,
        ..Actor::new(shape, identity.clone())
    };
    let other_identity = identity.other(&mut root.fork(6));
    let swap_at_ms = timeline.target_start_ms
        + attack_rng.range(0.3, 0.8) * (timeline.target_end_ms - timeline.target_start_ms);
    let paint_delay_ms = attack_rng.range(300.0, 800.0);
    let second = (spec.species == Species::TwoFaces).then(|| {
        let mut actor = Actor::new(Shape::Flat, other_identity.clone());
        let side = if challenge.oval[0] > f64::from(camera.width) / 2.0 {
            0.16
        } else {
            0.84
        };
        let z = camera.focal * FACE_BOX_SIDE_CM / (f64::from(camera.width) * 0.2);
        actor.place(
            &camera,
            z,
            [
                f64::from(camera.width) * side,
                f64::from(camera.height) * attack_rng.range(0.3, 0.5),
            ],
            [0.0; 3],
            [0.0; 2],
        );
        actor
    });

    // Replays and injections show another live session, recorded earlier for another challenge.
    if matches!(
        spec.species,
        Species::ScreenReplay | Species::VideoInjection | Species::RelitReplay
    ) {
        let other_spec = SessionSpec {
            species: Species::BonaFide,
            seed: root.fork(7).next_u64(),
            challenge: ChallengeSpec::draw(
                challenge.width,
                challenge.height,
                !challenge.colours.is_empty(),
                &mut root.fork(8),
            ),
            world: spec.world.clone(),
        };
        let recorded = simulate_with(&other_spec, texture, relief);
        let scene = room.as_ref().map(|room| {
            RoomScene::new(
                room,
                &motion,
                &identity,
                (texture, relief),
                &camera,
                &mut root.fork(9),
                &mut root.fork(13),
            )
        });
        let plan = Plan {
            conditions,
            timeline,
            frame_ms,
        };
        return replay(
            spec,
            plan,
            &recorded,
            &camera,
            scene.as_ref(),
            &mut attack_rng,
        );
    }

    let actor_at = |t: f64| -> Actor {
        let (z, centre, angles, sway) = motion.at(t);
        let mut actor = main.clone();
        if spec.species == Species::FaceSwap && t >= swap_at_ms {
            actor.identity = other_identity.clone();
            actor.map = TextureMap::new(&other_identity);
            actor.shape = Shape::Head {
                nose_height: other_identity.nose_height,
                relief,
            };
        }
        actor.place(&camera, z, centre, angles, sway);
        actor
    };
    let noise = NoiseTable::new(&mut root.fork(10));
    let mut frame_rng = root.fork(11);
    let mut frames = Vec::with_capacity(frame_ms.len());
    let mut truth = Vec::with_capacity(frame_ms.len());
    // A cut-out mask is worn by an attacker whose own eyes show through its holes.
    let wearer_of = |print: &Actor| -> Actor {
        let mut wearer = Actor::head(other_identity.clone(), relief);
        wearer.pose = print.pose;
        wearer.pose.position[2] += 1.0 + wearer.shape.eye_depth(wearer.stretch());
        wearer
    };
    if let Some(room) = &room {
        let scene = RoomScene::new(
            room,
            &motion,
            &identity,
            (texture, relief),
            &camera,
            &mut root.fork(9),
            &mut root.fork(13),
        );
        let mut camera_controls = AutoCamera::new(room, f64::from(conditions.noise));
        let optics = Optics::new(room, &camera, &mut root.fork(14));
        // The live face blinks, talks and smiles; a print does not.
        let track = (room.expressions == Expressions::Natural)
            .then(|| ExpressionTrack::draw(&mut root.fork(15), timeline.video_end_ms));
        let render = |t: f64, light_time: f64| -> (Canvas, Vec<TruthFace>) {
            let light = scene.light(screen_light(&timeline.stages, light_time));
            let mut actor = actor_at(t);
            let head = matches!(actor.shape, Shape::Head { .. });
            if head {
                actor.expression = track
                    .as_ref()
                    .map_or(Expression::NEUTRAL, |track| track.at(t));
                actor.beard = scene.beard;
            }
            let wearer = (spec.species == Species::CutOutMask).then(|| wearer_of(&actor));
            // A face lit by the screen keeps its screen response for the rolling shutter; paint
            // that follows the colours late is drawn again in the later light instead.
            let mut canvas = scene.backdrop(
                &camera,
                &light,
                Some(wearer.as_ref().unwrap_or(&actor)),
                actor.lit_by_screen,
            );
            let mut faces = scene.draw_others(&mut canvas, &camera, texture, &light);
            let actor_light = if actor.lit_by_screen {
                light
            } else {
                // Painted on later: the colours arrive late, evenly over the face.
                RoomLight {
                    screen_colour: screen_light(&timeline.stages, light_time - paint_delay_ms),
                    ..light
                }
            };
            faces.extend(draw_faces(
                &mut canvas,
                &camera,
                texture,
                (second.as_ref(), &light),
                wearer.as_ref(),
                (&actor, &actor_light),
            ));
            if head && room.glasses == Eyewear::Glasses {
                draw_glasses(
                    &mut canvas,
                    &camera,
                    &glasses_place(&actor),
                    &scene.body.glasses,
                    &light,
                );
            }
            (canvas, faces)
        };
        for (index, &t) in frame_ms.iter().enumerate() {
            let t = t as f64;
            let light_time = t - conditions.capture_delay_ms;
            let (mut canvas, faces) = render(t, light_time);
            optics.roll(&mut canvas, &timeline.stages, light_time, |late| {
                render(t, late).0.pixels
            });
            let face_velocity = {
                let (_, before, _, _) = motion.at(t - 5.0);
                let (_, after, _, _) = motion.at(t + 5.0);
                [(after[0] - before[0]) / 10.0, (after[1] - before[1]) / 10.0]
            };
            let person_before = scene.wall_z as f32 - 5.0;
            let (pixels, offset) = optics.expose(
                canvas.pixels,
                |i| canvas.depth[i] < person_before,
                t,
                face_velocity,
            );
            if index == 0 {
                camera_controls.settle(&pixels);
            }
            frames.push(camera_controls.capture(
                &pixels,
                camera.width,
                camera.height,
                t,
                &noise,
                &mut frame_rng,
            ));
            truth.push(faces.into_iter().map(|face| face.moved(offset)).collect());
        }
    } else {
        let background_albedo = background(camera.width, camera.height, &mut root.fork(9));
        let mut sensor = Sensor::new(0.18, conditions.exposure_adaptation, conditions.noise);
        for (index, &t) in frame_ms.iter().enumerate() {
            let t = t as f64;
            let light_time = t - conditions.capture_delay_ms;
            let screen = screen_light(&timeline.stages, light_time);
            let lighting = Lighting {
                ambient: conditions.ambient,
                screen: screen.map(|c| c * conditions.screen_brightness),
                screen_position: [0.0, 8.0, 0.0],
                screen_reference_cm: 40.0,
            };
            // The wall is far: the screen barely reaches it.
            let wall = Lighting {
                screen: screen.map(|c| c * conditions.screen_brightness * 0.05),
                ..lighting
            };
            let wall_light = wall.irradiance([0.0, 0.0, 150.0], [0.0, 0.0, -1.0]);
            let lit_background: Vec<[f32; 3]> = background_albedo
                .iter()
                .map(|a| [0, 1, 2].map(|k| a[k] * wall_light[k] as f32))
                .collect();
            let mut canvas = Canvas::new(camera.width, camera.height, &lit_background);
            let actor = actor_at(t);
            let actor_lighting = if actor.lit_by_screen {
                lighting
            } else {
                // Painted on later: the colours arrive late, evenly over the face.
                let painted = screen_light(&timeline.stages, light_time - paint_delay_ms);
                Lighting {
                    screen: painted.map(|c| c * conditions.screen_brightness),
                    ..lighting
                }
            };
            let wearer = (spec.species == Species::CutOutMask).then(|| wearer_of(&actor));
            let faces = draw_faces(
                &mut canvas,
                &camera,
                texture,
                (second.as_ref(), &lighting),
                wearer.as_ref(),
                (&actor, &actor_lighting),
            );
            if index == 0 {
                sensor.settle(&canvas.pixels);
            }
            frames.push(sensor.capture(
                &canvas.pixels,
                camera.width,
                camera.height,
                &noise,
                &mut frame_rng,
            ));
            truth.push(faces);
        }
    }
    Recording {
        species: spec.species,
        seed: spec.seed,
        challenge: challenge.clone(),
        conditions,
        room,
        timeline,
        frames,
        frame_ms,
        truth,
    }
}

/// What the room world draws around the faces: the wall, the person's body, the light, and
/// the faces behind (a poster, another person).
struct RoomScene<'a> {
    conditions: &'a RoomConditions,
    body: Body,
    beard: Option<Beard>,
    wall: Wall,
    /// The wall's depth (cm): behind where the person starts.
    wall_z: f64,
    /// The faces behind the person, and the bodies of the people among them.
    others: Vec<Actor>,
    other_bodies: Vec<BodyPart>,
    rays: Rays,
}

impl<'a> RoomScene<'a> {
    /// The room around a person of `identity` whose face is `texture` on `relief`.
    fn new(
        conditions: &'a RoomConditions,
        motion: &Motion,
        identity: &Identity,
        (texture, relief): (&Texture, Option<&'static Relief>),
        camera: &Camera,
        wall_rng: &mut Rng,
        rng: &mut Rng,
    ) -> RoomScene<'a> {
        let skin = skin_of(identity, texture);
        let body = Body::draw(rng, skin);
        let beard = conditions.beard.map(|kind| Beard {
            colour: body.hair,
            density: match kind {
                BeardKind::Stubble => 0.35,
                BeardKind::Full | BeardKind::Goatee => 0.9,
            },
            kind,
        });
        let nearest = motion.far_z.min(motion.near_z);
        let wall_z = motion.far_z.max(motion.near_z) + 20.0 + conditions.wall_behind_m * 100.0;
        let (width, height) = (f64::from(camera.width), f64::from(camera.height));
        let mut others = Vec::new();
        let mut other_bodies = Vec::new();
        let mut others_rng = rng.fork(1);
        let side = |rng: &mut Rng| {
            if rng.chance(0.5) {
                rng.range(0.08, 0.25)
            } else {
                rng.range(0.75, 0.92)
            }
        };
        match conditions.backdrop {
            Backdrop::Poster => {
                // A poster's face: life-size to 1.6 times, on a 21 by 27 cm print.
                let mut identity = Identity::draw(&mut others_rng);
                let size = others_rng.range(1.0, 1.6);
                identity.stretch_x *= size;
                identity.stretch_y *= size;
                let mut poster = Actor::new(Shape::Flat, identity);
                let centre = [
                    width * side(&mut others_rng),
                    height * others_rng.range(0.15, 0.45),
                ];
                poster.place(camera, wall_z - 0.5, centre, [0.0; 3], [0.0; 2]);
                others.push(poster);
            }
            Backdrop::Person => {
                let z = (nearest + others_rng.range(70.0, 200.0)).min(wall_z - 25.0);
                let identity = Identity::draw(&mut others_rng);
                let mut person = Actor::head(identity.clone(), relief);
                let shape = person.shape;
                let centre = [
                    width * side(&mut others_rng),
                    height * others_rng.range(0.25, 0.45),
                ];
                let turn = [
                    others_rng.range(-0.5, 0.5),
                    others_rng.range(-0.1, 0.1),
                    0.0,
                ];
                if z > nearest + 30.0 {
                    person.place(camera, z, centre, turn, [0.0; 2]);
                    let stretch = person.stretch();
                    let eyes = person.pose.to_world([0.0, 0.0, shape.eye_depth(stretch)]);
                    let their_body = Body::draw(&mut others_rng, skin_of(&identity, texture));
                    other_bodies = their_body.parts(eyes, shape.extent(stretch)[1]);
                    others.push(person);
                }
            }
            Backdrop::Plain | Backdrop::Furniture | Backdrop::Window => {}
        }
        RoomScene {
            conditions,
            body,
            beard,
            wall: Wall::draw(
                camera.width,
                camera.height,
                conditions.backdrop,
                conditions.room_lux,
                wall_rng,
            ),
            wall_z,
            others,
            other_bodies,
            rays: Rays::new(camera),
        }
    }

    /// The light while the screen shows `screen_colour` (linear RGB).
    fn light(&self, screen_colour: [f64; 3]) -> RoomLight {
        let room = self.conditions.room_colour();
        RoomLight {
            room: room.map(|c| c * self.conditions.room_lux),
            direction: self.conditions.room_direction(),
            screen: self.conditions.screen_light_source(),
            screen_colour,
        }
    }

    /// Where an attacker who holds up a screen keeps their eyes (behind it).
    fn attacker_eyes(&self) -> [f64; 3] {
        [0.0, -3.0, 55.0]
    }

    /// The wall and the body: of the actor (a head's own; behind a print, the attacker's who
    /// holds it, thumbs in front of its edges), or with none, of an attacker holding a screen
    /// up; and the bodies of the people behind. `keep_screen`: the canvas keeps its pixels'
    /// screen response.
    fn backdrop(
        &self,
        camera: &Camera,
        light: &RoomLight,
        actor: Option<&Actor>,
        keep_screen: bool,
    ) -> Canvas {
        let mut thumbs = Vec::new();
        let (eyes, half_width) = match actor {
            Some(actor) => {
                let stretch = actor.stretch();
                match actor.shape {
                    Shape::Head { .. } => (
                        actor
                            .pose
                            .to_world([0.0, 0.0, actor.shape.eye_depth(stretch)]),
                        actor.shape.extent(stretch)[1],
                    ),
                    // A print is held at arm's length in front of the eyes.
                    Shape::Flat | Shape::Cylinder { .. } => {
                        let at = actor.pose.to_world([0.0, 0.0, 0.0]);
                        thumbs = self.body.thumbs(|x, y, z| {
                            let x = match actor.shape {
                                Shape::Cylinder { radius } => {
                                    x.clamp(-0.95 * radius, 0.95 * radius)
                                }
                                _ => x,
                            };
                            let surface = actor.shape.depth(x, y, stretch).unwrap_or(0.0);
                            actor.pose.to_world([x, y, surface + z])
                        });
                        ([at[0], at[1], at[2] + 25.0], 7.0 * stretch[0])
                    }
                }
            }
            None => (self.attacker_eyes(), 7.0),
        };
        let mut canvas = Canvas::new(camera.width, camera.height, &self.wall.albedo);
        if keep_screen {
            canvas.keep_screen_response();
        }
        let wall_z = self.wall_z.max(eyes[2] + 25.0);
        let mut parts = self.body.parts(eyes, half_width);
        parts.extend(thumbs);
        parts.extend_from_slice(&self.other_bodies);
        draw_room(
            &mut canvas,
            camera,
            &self.rays,
            &self.wall,
            wall_z,
            &parts,
            light,
        );
        canvas
    }

    /// Draws the faces behind the person (a poster's, another person's): as rendered.
    fn draw_others(
        &self,
        canvas: &mut Canvas,
        camera: &Camera,
        texture: &Texture,
        light: &RoomLight,
    ) -> Vec<TruthFace> {
        self.others
            .iter()
            .map(|other| {
                canvas.draw(camera, texture, &surface(other), light);
                other.truth(camera)
            })
            .collect()
    }
}

/// The skin of the neck and ears: the photograph's cheeks, in the identity's tone.
fn skin_of(identity: &Identity, texture: &Texture) -> [f32; 3] {
    let map = TextureMap::new(identity);
    let mut skin = [0.0f32; 3];
    let cheeks = [[-3.5, 2.5], [3.5, 2.5], [-3.0, 4.0], [3.0, 4.0]];
    for [x, y] in cheeks {
        let [u, v] = map.pixel(x, y);
        let sample = texture.sample(u, v);
        for k in 0..3 {
            skin[k] += sample[k] * identity.tone[k] / cheeks.len() as f32;
        }
    }
    skin
}

/// Frame times in the room: the camera's frame rate with intervals that vary by up to a sixth,
/// and dropped frames.
fn room_frame_times(timeline: &Timeline, room: &RoomConditions, rng: &mut Rng) -> Vec<u64> {
    let period = 1000.0 / room.fps;
    let mut times = vec![0u64];
    let mut at = 0.0;
    loop {
        at += period * rng.range(0.85, 1.15);
        if at > timeline.video_end_ms {
            break;
        }
        if rng.chance(room.dropped_frames) {
            continue;
        }
        let t = at.round() as u64;
        if times.last().is_none_or(|&last| t > last) {
            times.push(t);
        }
    }
    times
}

/// Draws the second face (if any) under its light, then the actor under its own (over the
/// head of a `wearer`, whose eyes show through holes cut in it): the faces as rendered, in that
/// order.
fn draw_faces<L: Light>(
    canvas: &mut Canvas,
    camera: &Camera,
    texture: &Texture,
    (second, second_light): (Option<&Actor>, &L),
    wearer: Option<&Actor>,
    (actor, actor_light): (&Actor, &L),
) -> Vec<TruthFace> {
    let mut faces = Vec::new();
    if let Some(second) = second {
        canvas.draw(camera, texture, &surface(second), second_light);
        faces.push(second.truth(camera));
    }
    let behind = wearer.map(|wearer| {
        canvas.draw(camera, texture, &surface(wearer), actor_light);
        canvas.clone()
    });
    canvas.draw(camera, texture, &surface(actor), actor_light);
    let truth = actor.truth(camera);
    if let Some(behind) = behind {
        cut_eye_holes(
            canvas,
            &behind,
            &truth,
            camera.focal / actor.pose.position[2],
        );
    }
    faces.push(truth);
    faces
}

/// The holes of a cut-out mask: around each of the print's eyes (`face`'s keypoints) an ellipse
/// of 2.6 by 1.5 cm (`px_per_cm` at the print) shows what was `behind` it.
fn cut_eye_holes(canvas: &mut Canvas, behind: &Canvas, face: &TruthFace, px_per_cm: f64) {
    let half = [1.3 * px_per_cm, 0.75 * px_per_cm];
    for eye in &face.keypoints[..2] {
        let x0 = (eye[0] - half[0]).max(0.0) as usize;
        let x1 = ((eye[0] + half[0]).ceil().max(0.0) as usize).min(canvas.width);
        let y0 = (eye[1] - half[1]).max(0.0) as usize;
        let y1 = ((eye[1] + half[1]).ceil().max(0.0) as usize).min(canvas.height);
        for y in y0..y1 {
            for x in x0..x1 {
                let (dx, dy) = (
                    (x as f64 + 0.5 - eye[0]) / half[0],
                    (y as f64 + 0.5 - eye[1]) / half[1],
                );
                if dx * dx + dy * dy < 1.0 {
                    let index = y * canvas.width + x;
                    canvas.pixels[index] = behind.pixels[index];
                    canvas.depth[index] = behind.depth[index];
                    if let (Some(screen), Some(behind)) = (&mut canvas.screen, &behind.screen) {
                        screen[index] = behind[index];
                    }
                }
            }
        }
    }
}

/// How far in front of the eyes' surface glasses sit (cm): in front of the brow and the
/// cheekbones, on the bridge of the nose.
const GLASSES_IN_FRONT_CM: f64 = 2.0;

/// Where glasses sit on a head actor.
fn glasses_place(actor: &Actor) -> GlassesPlace {
    let stretch = actor.stretch();
    let eye_z = actor.shape.eye_depth(stretch) + GLASSES_IN_FRONT_CM;
    let origin = actor.pose.to_world([0.0, -0.1, eye_z]);
    let direction = |v: [f64; 3]| {
        let p = actor.pose.to_world([v[0], v[1], eye_z + v[2]]);
        [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]]
    };
    let eyes = head_keypoints();
    GlassesPlace {
        centre: origin,
        right: direction([1.0, 0.0, 0.0]),
        down: direction([0.0, 1.0, 0.0]),
        out: direction([0.0, 0.0, 1.0]),
        lens_offset: (eyes[1][0] - eyes[0][0]).abs() / 2.0 * stretch[0],
    }
}

/// How the camera exposes a frame in the room: a rolling shutter across changes of the
/// screen's light, motion blur over the shutter time, and a hand's shake.
struct Optics {
    readout_ms: f64,
    shutter_ms: f64,
    shake: Shake,
    width: usize,
    height: usize,
}

impl Optics {
    fn new(room: &RoomConditions, camera: &Camera, rng: &mut Rng) -> Optics {
        Optics {
            readout_ms: room.readout_ms,
            shutter_ms: room.shutter_ms,
            shake: Shake::draw(rng, room.hand_shake_deg, camera.focal),
            width: camera.width as usize,
            height: camera.height as usize,
        }
    }

    /// The rows read out after the screen changed colour show the new colour: each row is
    /// shown in the screen's light at its readout time. A canvas that keeps its screen
    /// response gets each row's change of light from it; otherwise, when the light at the last
    /// row differs from the first's, `render_at(light_time)` draws the frame in the later light
    /// and each row takes its share.
    fn roll(
        &self,
        canvas: &mut Canvas,
        stages: &[ColourStage],
        light_time: f64,
        render_at: impl FnOnce(f64) -> Vec<[f32; 3]>,
    ) {
        let early = screen_light(stages, light_time);
        let late = screen_light(stages, light_time + self.readout_ms);
        let change = [0, 1, 2].map(|k| late[k] - early[k]);
        let size = change.iter().map(|c| c * c).sum::<f64>();
        if size < 1e-9 {
            return;
        }
        let rows = self.height.max(1) as f64;
        let row_light =
            |y: usize| screen_light(stages, light_time + self.readout_ms * y as f64 / rows);
        if let Some(response) = &canvas.screen {
            for (y, (row, response)) in canvas
                .pixels
                .chunks_exact_mut(self.width)
                .zip(response.chunks_exact(self.width))
                .enumerate()
            {
                let at = row_light(y);
                let delta = [0, 1, 2].map(|k| (at[k] - early[k]) as f32);
                if delta == [0.0; 3] {
                    continue;
                }
                for (pixel, slope) in row.iter_mut().zip(response) {
                    *pixel = [0, 1, 2].map(|k| pixel[k] + slope[k] * delta[k]);
                }
            }
            return;
        }
        let later = render_at(light_time + self.readout_ms);
        blend_rows(&mut canvas.pixels, &later, self.width, |y| {
            let at = row_light(y);
            let moved: f64 = (0..3).map(|k| (at[k] - early[k]) * change[k]).sum();
            (moved / size) as f32
        });
    }

    /// Blurs what moved while the shutter was open (the person by `face_velocity`, everything
    /// by the shake; pixels per ms) and moves the image by the shake: the pixels, and the shift
    /// (pixels) the faces moved by.
    fn expose(
        &self,
        mut pixels: Vec<[f32; 3]>,
        is_person: impl Fn(usize) -> bool,
        t_ms: f64,
        face_velocity: [f64; 2],
    ) -> (Vec<[f32; 3]>, [f64; 2]) {
        let shake = self.shake.velocity(t_ms);
        let path = |v: [f64; 2]| v.map(|c| c * self.shutter_ms);
        motion_blur(
            &mut pixels,
            self.width,
            self.height,
            is_person,
            path([face_velocity[0] + shake[0], face_velocity[1] + shake[1]]),
            path(shake),
        );
        let offset = self.shake.offset(t_ms).map(f64::round);
        let pixels = shift_image(&pixels, self.width, self.height, offset);
        (pixels, offset)
    }
}

fn surface(actor: &Actor) -> Surface<'_> {
    Surface {
        shape: actor.shape,
        stretch: actor.stretch(),
        map: &actor.map,
        tone: actor.identity.tone,
        pose: actor.pose,
        reflectance: actor.reflectance,
        expression: actor.expression,
        beard: actor.beard,
    }
}

fn timeline(challenge: &ChallengeSpec, motion: &Motion, conditions: &Conditions) -> Timeline {
    let target_start_ms = motion.approach_end_ms + 150.0;
    let stages = if challenge.colours.is_empty() {
        Vec::new()
    } else {
        colour_stages(&challenge.colours, target_start_ms + HOLD_MS)
    };
    let target_end_ms = stages
        .last()
        .map(|stage| stage.start_ms + stage.duration_ms)
        .unwrap_or(target_start_ms + 300.0);
    Timeline {
        initial_face_ms: 100.0 + conditions.capture_delay_ms,
        approach_start_ms: motion.approach_start_ms,
        approach_end_ms: motion.approach_end_ms,
        target_start_ms,
        target_end_ms,
        stages,
        video_end_ms: target_end_ms + 200.0,
    }
}

/// Frame times: the frame rate with a little jitter, from 0 to the end of the video.
fn frame_times(timeline: &Timeline, conditions: &Conditions, rng: &mut Rng) -> Vec<u64> {
    let period = 1000.0 / conditions.fps;
    let mut times = Vec::new();
    let mut index = 0u64;
    loop {
        let nominal = index as f64 * period;
        if nominal > timeline.video_end_ms {
            break;
        }
        let jitter = if index == 0 {
            0.0
        } else {
            rng.range(-2.0, 2.0)
        };
        let t = (nominal + jitter).round().max(0.0) as u64;
        if times.last().is_none_or(|&last| t > last) {
            times.push(t);
        }
        index += 1;
    }
    times
}

/// What a session's camera records when: its conditions, the client's timeline, the frame times.
struct Plan {
    conditions: Conditions,
    timeline: Timeline,
    frame_ms: Vec<u64>,
}

/// A recorded session shown again: on a screen held up to the camera (emissive, with the current
/// screen's glare on its glass and some moire), or injected instead of the camera.
fn replay(
    spec: &SessionSpec,
    plan: Plan,
    recorded: &Recording,
    camera: &Camera,
    room: Option<&RoomScene<'_>>,
    rng: &mut Rng,
) -> Recording {
    let Plan {
        conditions,
        timeline,
        frame_ms,
    } = plan;
    let offset_ms = rng.range(-300.0, 300.0);
    let pick = |t: f64| -> usize {
        let target = (t + offset_ms).max(0.0);
        recorded
            .frame_ms
            .iter()
            .position(|&ms| ms as f64 >= target)
            .unwrap_or(recorded.frame_ms.len() - 1)
    };
    let injected = spec.species == Species::VideoInjection;
    let (w, h) = (camera.width as usize, camera.height as usize);
    // The replaying screen: a rectangle covering most of the frame, a dark bezel around.
    let cover = rng.range(0.82, 1.0);
    let (screen_w, screen_h) = (w as f64 * cover, h as f64 * cover);
    let (left, top) = (
        (w as f64 - screen_w) / 2.0 + rng.range(-10.0, 10.0),
        (h as f64 - screen_h) / 2.0 + rng.range(-8.0, 8.0),
    );
    let emissive = rng.range(0.55, 0.95) as f32;
    let glare = rng.range(0.02, 0.06);
    let moire = rng.range(0.0, 0.05) as f32;
    let moire_frequency = [rng.range(0.15, 0.45), rng.range(0.1, 0.4)];
    let background_albedo = background(camera.width, camera.height, &mut rng.fork(1));
    let noise = NoiseTable::new(&mut rng.fork(2));
    let mut sensor = Sensor::new(0.18, conditions.exposure_adaptation, conditions.noise);
    let mut camera_controls =
        room.map(|scene| AutoCamera::new(scene.conditions, f64::from(conditions.noise)));
    // The attacker's hand shakes the camera as it shakes a live person's.
    let optics = room.map(|scene| Optics::new(scene.conditions, camera, &mut rng.fork(6)));
    // In the room: the replaying screen's own luminance (cd/m²) as the light a white surface
    // would need to look as bright (pi times it), and its glass mirrors the challenge screen.
    let replay_luminance = rng.fork(4).range(120.0, 450.0);
    // A re-lit replay: the face of the replayed video takes this share of the challenge's colour
    // change, this late.
    let relight = (spec.species == Species::RelitReplay).then(|| {
        let mut relight_rng = rng.fork(5);
        (relight_rng.range(0.15, 0.5), relight_rng.range(0.0, 200.0))
    });
    let mut frame_rng = rng.fork(3);
    let lut: Vec<f32> = (0..=255u8).map(srgb_to_linear).collect();
    let mut frames = Vec::with_capacity(frame_ms.len());
    let mut truth = Vec::with_capacity(frame_ms.len());
    for (index, &t) in frame_ms.iter().enumerate() {
        let source = pick(t as f64);
        let shown = &recorded.frames[source];
        if injected {
            frames.push(shown.clone());
            truth.push(recorded.truth[source].clone());
            continue;
        }
        let light_time = t as f64 - conditions.capture_delay_ms;
        let screen = screen_light(&timeline.stages, light_time);
        // In the room, the same camera's rolling shutter: each row is read out in the challenge
        // screen's light at its own time, the room behind (by its screen response) and the glare
        // on the replaying glass alike.
        let row_screen: Vec<[f64; 3]> = match &optics {
            Some(optics) => (0..h)
                .map(|y| {
                    let late = optics.readout_ms * y as f64 / h as f64;
                    screen_light(&timeline.stages, light_time + late)
                })
                .collect(),
            None => vec![screen; h],
        };
        let backdrop = room.map(|scene| {
            let light = scene.light(screen);
            let canvas = scene.backdrop(camera, &light, None, true);
            let glare_lux = light.screen.illuminance(
                [0.0, 0.0, scene.attacker_eyes()[2] - 25.0],
                [0.0, 0.0, -1.0],
            );
            (canvas, glare_lux)
        });
        let (emissive, glare) = match &backdrop {
            Some((_, glare_lux)) => (
                (std::f64::consts::PI * replay_luminance) as f32 * emissive,
                glare * glare_lux / conditions.screen_brightness,
            ),
            None => (emissive, glare),
        };
        // The face of the shown frame (in its pixels) and the colour it is re-lit with.
        let relit_face = relight.and_then(|(strength, delay_ms)| {
            let face = recorded.truth[source].last()?;
            let [left, top, side, _] = face.bounding_box;
            let challenge = screen_light(
                &timeline.stages,
                t as f64 - conditions.capture_delay_ms - delay_ms,
            );
            let page = screen_light(&[], 0.0);
            let colour = [0, 1, 2]
                .map(|k| (1.0 + strength * (challenge[k] - page[k]) / page[k]).max(0.05) as f32);
            Some((
                [left + side / 2.0, top + side / 2.0],
                [side * 0.45, side * 0.6],
                colour,
            ))
        });
        let mut scene = Vec::with_capacity(w * h);
        for (y, row_screen) in row_screen.iter().enumerate() {
            let row_change = [0, 1, 2].map(|k| (row_screen[k] - screen[k]) as f32);
            for x in 0..w {
                let (fx, fy) = (x as f64, y as f64);
                let inside = fx >= left && fx < left + screen_w && fy >= top && fy < top + screen_h;
                if !inside {
                    let lit = match &backdrop {
                        Some((canvas, _)) => {
                            let pixel = canvas.pixels[y * w + x];
                            match &canvas.screen {
                                Some(response) => {
                                    let slope = response[y * w + x];
                                    [0, 1, 2].map(|k| pixel[k] + slope[k] * row_change[k])
                                }
                                None => pixel,
                            }
                        }
                        None => {
                            let a = background_albedo[y * w + x];
                            [0, 1, 2].map(|k| a[k] * conditions.ambient[k] as f32)
                        }
                    };
                    let bezel = fx >= left - 12.0
                        && fx < left + screen_w + 12.0
                        && fy >= top - 12.0
                        && fy < top + screen_h + 12.0;
                    scene.push(if bezel { [0.01; 3] } else { lit });
                    continue;
                }
                let sx = ((fx - left) / screen_w * f64::from(shown.width())) as u32;
                let sy = ((fy - top) / screen_h * f64::from(shown.height())) as u32;
                let p = shown.pixel(sx.min(shown.width() - 1), sy.min(shown.height() - 1));
                let ripple = 1.0
                    + moire * ((fx * moire_frequency[0] + fy * moire_frequency[1]).sin() as f32);
                let tint = relit_face.map_or([1.0; 3], |(centre, half, colour)| {
                    let inside = ((f64::from(sx) - centre[0]) / half[0]).powi(2)
                        + ((f64::from(sy) - centre[1]) / half[1]).powi(2)
                        < 1.0;
                    if inside {
                        colour
                    } else {
                        [1.0; 3]
                    }
                });
                scene.push([0, 1, 2].map(|k| {
                    lut[p[k] as usize] * emissive * ripple * tint[k]
                        + (glare * row_screen[k] * conditions.screen_brightness) as f32
                }));
            }
        }
        let (scene, offset) = match &optics {
            Some(optics) => optics.expose(scene, |_| false, t as f64, [0.0; 2]),
            None => (scene, [0.0; 2]),
        };
        match &mut camera_controls {
            Some(controls) => {
                if index == 0 {
                    controls.settle(&scene);
                }
                frames.push(controls.capture(
                    &scene,
                    camera.width,
                    camera.height,
                    t as f64,
                    &noise,
                    &mut frame_rng,
                ));
            }
            None => {
                if index == 0 {
                    sensor.settle(&scene);
                }
                frames.push(sensor.capture(
                    &scene,
                    camera.width,
                    camera.height,
                    &noise,
                    &mut frame_rng,
                ));
            }
        }
        let scale = [
            screen_w / f64::from(shown.width()),
            screen_h / f64::from(shown.height()),
        ];
        truth.push(
            recorded.truth[source]
                .iter()
                .map(|face| {
                    TruthFace {
                        bounding_box: [
                            left + face.bounding_box[0] * scale[0],
                            top + face.bounding_box[1] * scale[1],
                            face.bounding_box[2] * scale[0],
                            face.bounding_box[3] * scale[1],
                        ],
                        keypoints: face
                            .keypoints
                            .map(|k| [left + k[0] * scale[0], top + k[1] * scale[1]]),
                    }
                    .moved(offset)
                })
                .collect(),
        );
    }
    Recording {
        species: spec.species,
        seed: spec.seed,
        challenge: spec.challenge.clone(),
        conditions,
        room: room.map(|scene| scene.conditions.clone()),
        timeline,
        frames,
        frame_ms,
        truth,
    }
}
