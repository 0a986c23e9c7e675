//! Shared by the integration tests: the pinned photographs and model (installed by
//! scripts/setup-vision.sh; a missing one fails the test with that instruction), and test videos
//! made from the astronaut photograph with FFmpeg, zooming and panning so that the face moves and
//! grows, encoded as a browser's MediaRecorder would.
#![allow(dead_code)]
// Test helpers: a broken set-up panics with the reason.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use openliveness_vision::detect::{BlazeFace, BoundingBox, DetectorConfig};
use openliveness_vision::{scale, RgbImage};

pub const SETUP_HINT: &str = "run scripts/setup-vision.sh";

/// `$OPENLIVENESS_VISION_TESTDATA`, or `testdata/vision` in this checkout.
pub fn testdata_dir() -> PathBuf {
    match std::env::var_os("OPENLIVENESS_VISION_TESTDATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/vision"),
    }
}

/// A test photograph: `astronaut.png` (Eileen Collins, NASA, public domain) or `coffee.png`
/// (Rachel Michetti, CC0), both from scikit-image 0.25.2's wheel.
pub fn photo(name: &str) -> RgbImage {
    let path = testdata_dir().join(name);
    assert!(
        path.is_file(),
        "the test photograph {} is missing: {SETUP_HINT}",
        path.display()
    );
    RgbImage::open_png(&path).unwrap_or_else(|e| panic!("{}: {e} ({SETUP_HINT})", path.display()))
}

/// The detector, loaded once per test binary.
pub fn detector() -> &'static BlazeFace {
    static DETECTOR: OnceLock<BlazeFace> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        BlazeFace::load_default(DetectorConfig::default()).unwrap_or_else(|error| panic!("{error}"))
    })
}

/// Where the astronaut's face is in astronaut.png (512x512), measured by eye on the photograph
/// (enlarged, on a 10-pixel grid): from the eyebrows to the chin, from cheek to cheek.
pub const ASTRONAUT_FACE: BoundingBox = BoundingBox {
    left: 178.0,
    top: 86.0,
    width: 97.0,
    height: 89.0,
};
/// The IoU a detected box must reach with the expected one. BlazeFace's box is square and runs
/// a little above the eyebrows, so it never matches a hand-drawn face box exactly.
pub const MIN_IOU: f32 = 0.75;

/// How a test video is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// WebM/VP8 as Chrome records it (`-f webm -live 1`).
    WebmVp8,
    /// WebM/VP9 as Chrome records it.
    WebmVp9,
    /// Fragmented MP4/H.264 as Safari records it.
    FragmentedMp4,
    /// A whole MP4/H.264 file, `moov` first.
    FaststartMp4,
    /// A whole MP4/H.264 file, `moov` last.
    PlainMp4,
}

impl Encoding {
    pub const ALL: [Encoding; 5] = [
        Encoding::WebmVp8,
        Encoding::WebmVp9,
        Encoding::FragmentedMp4,
        Encoding::FaststartMp4,
        Encoding::PlainMp4,
    ];

    /// FFmpeg's output options for the encoding, after the pixel format.
    fn arguments(self) -> Vec<&'static str> {
        // VP8 and VP9 as Chrome's MediaRecorder runs libvpx: 1 Mbit/s, realtime.
        const VPX_REALTIME: &[&str] = &["-b:v", "1M", "-deadline", "realtime", "-cpu-used", "8"];
        // H.264 with FFmpeg's libx264, fast.
        const X264: &[&str] = &["-c:v", "libx264", "-preset", "veryfast"];
        // A keyframe a second.
        const KEYFRAMES: &[&str] = &["-g", "15"];
        // WebM as MediaRecorder writes it: live, a cluster a second.
        const LIVE_WEBM: &[&str] = &["-f", "webm", "-live", "1", "-cluster_time_limit", "1000"];
        let parts: &[&[&str]] = match self {
            Encoding::WebmVp8 => &[&["-c:v", "libvpx"], VPX_REALTIME, KEYFRAMES, LIVE_WEBM],
            Encoding::WebmVp9 => &[
                &["-c:v", "libvpx-vp9"],
                VPX_REALTIME,
                KEYFRAMES,
                &["-row-mt", "0"],
                LIVE_WEBM,
            ],
            Encoding::FragmentedMp4 => &[
                X264,
                &["-profile:v", "main"],
                KEYFRAMES,
                &["-movflags", "+frag_keyframe+empty_moov+default_base_moof"],
                &["-f", "mp4"],
            ],
            Encoding::FaststartMp4 => &[
                X264,
                KEYFRAMES,
                &["-movflags", "+faststart"],
                &["-f", "mp4"],
            ],
            Encoding::PlainMp4 => &[X264, KEYFRAMES, &["-f", "mp4"]],
        };
        parts.concat()
    }
}

pub const WIDTH: u32 = 640;
pub const HEIGHT: u32 = 480;
pub const FPS: u32 = 15;
pub const FRAMES: u32 = 30;

/// The part of astronaut.png that frame `n` of the zoom/pan video shows (left, top, width,
/// height in photograph pixels, 4:3): from the top 512x384 of the photograph, zooming in to half
/// that size while the view drifts left and up, so the face grows 2x and moves right and down.
pub fn zoom_pan_region(n: u32) -> (u32, u32, u32, u32) {
    let t = n as f32 / (FRAMES - 1) as f32;
    let width = (512.0 / (1.0 + t)).round() as u32;
    let height = width * 3 / 4;
    let center_x = 256.0 - 40.0 * t;
    let center_y = 192.0 - 80.0 * t;
    let left = (center_x - width as f32 / 2.0)
        .round()
        .clamp(0.0, (512 - width) as f32) as u32;
    let top = (center_y - height as f32 / 2.0)
        .round()
        .clamp(0.0, (512 - height) as f32) as u32;
    (left, top, width, height)
}

/// Where a box of the photograph lands in frame `n` of the zoom/pan video.
pub fn photo_box_in_frame(photo_box: &BoundingBox, n: u32) -> BoundingBox {
    let (left, top, width, height) = zoom_pan_region(n);
    let (sx, sy) = (WIDTH as f32 / width as f32, HEIGHT as f32 / height as f32);
    photo_box.transformed(sx, sy, -(left as f32) * sx, -(top as f32) * sy)
}

fn crop(image: &RgbImage, (left, top, width, height): (u32, u32, u32, u32)) -> RgbImage {
    let mut data = Vec::with_capacity((width * height * 3) as usize);
    for y in top..top + height {
        let row = image.row(y);
        data.extend_from_slice(&row[(left * 3) as usize..((left + width) * 3) as usize]);
    }
    RgbImage::new(width, height, data).unwrap()
}

/// The raw RGB frames of the zoom/pan video.
pub fn zoom_pan_frames(photo: &RgbImage) -> Vec<RgbImage> {
    (0..FRAMES)
        .map(|n| scale::resize(&crop(photo, zoom_pan_region(n)), WIDTH, HEIGHT).unwrap())
        .collect()
}

/// Encodes raw RGB frames with the ffmpeg program.
pub fn encode(frames: &[RgbImage], encoding: Encoding) -> Vec<u8> {
    encode_as(frames, encoding, "yuv420p")
}

/// [`encode`] in another pixel format (`yuv444p`, ...).
pub fn encode_as(frames: &[RgbImage], encoding: Encoding, pixel_format: &str) -> Vec<u8> {
    let directory = tempfile::tempdir().unwrap();
    let output = directory.path().join("video");
    let size = format!("{}x{}", frames[0].width(), frames[0].height());
    let rate = FPS.to_string();
    let mut command = Command::new("ffmpeg");
    command
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &size, "-r", &rate, "-i", "pipe:0",
        ])
        .args([
            "-an",
            "-pix_fmt",
            pixel_format,
            "-threads",
            "1",
            "-fflags",
            "+bitexact",
            "-flags:v",
            "+bitexact",
        ])
        .args(encoding.arguments())
        .arg(&output)
        .stdin(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run ffmpeg ({error}): {SETUP_HINT}"));
    {
        let mut stdin = child.stdin.take().unwrap();
        for frame in frames {
            stdin.write_all(frame.data()).unwrap();
        }
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "ffmpeg failed to encode {encoding:?}");
    std::fs::read(&output).unwrap()
}

/// The zoom/pan video of the astronaut in the given encoding, made once per test binary.
pub fn zoom_pan_video(encoding: Encoding) -> &'static [u8] {
    static FRAMES_CACHE: OnceLock<Vec<RgbImage>> = OnceLock::new();
    static VIDEOS: [OnceLock<Vec<u8>>; 5] = [const { OnceLock::new() }; 5];
    let index = Encoding::ALL.iter().position(|e| *e == encoding).unwrap();
    VIDEOS[index].get_or_init(|| {
        let frames = FRAMES_CACHE.get_or_init(|| zoom_pan_frames(&photo("astronaut.png")));
        encode(frames, encoding)
    })
}

/// A fixed pseudo-random sequence (xorshift), for corrupting bytes reproducibly.
pub struct Xorshift(pub u64);

impl Xorshift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
