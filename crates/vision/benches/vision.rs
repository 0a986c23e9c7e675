//! The vision path's costs, each against its floor measured in the same run (BENCHMARKS.md,
//! "Vision"):
//! - decoding alone: 640x480 VP8 WebM to RGB frames (one decoder thread);
//! - inference alone: BlazeFace on a prepared input tensor, per backend (tract; ONNX Runtime
//!   with `--features onnxruntime` after `scripts/setup-vision.sh --onnxruntime`);
//! - the whole path: decoding with the detector's view, detection (letterbox, inference,
//!   anchors, weighted NMS) and tracking, on every frame and on every third frame; interleaved
//!   (detection in the decoder's callback) and deferred (`DeferredTracker`: the views are kept
//!   while decoding and detected in one go at the end).
//!
//! `cargo bench -p openliveness-vision --bench vision [--features onnxruntime]` (needs
//! scripts/setup-vision.sh). Everything runs on one thread; pin it to one core with
//! `taskset -c 0` for the one-core figure. The measurements are interleaved round by round, so
//! that whatever else the machine runs weighs on the floors and the paths alike; each is
//! reported as its fastest round (the least disturbed) and its median round. Prints a Markdown
//! table.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::num::NonZeroU32;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use openliveness_vision::decode::{self, DecodeOptions, DetectorView, ImageOutput};
use openliveness_vision::detect::{DetectorConfig, InputTensor};
use openliveness_vision::track::{DeferredTracker, Tracker, TrackerConfig};
use openliveness_vision::BlazeFace;

const ROUNDS: usize = 30;
const INFERENCES_PER_ROUND: u32 = 30;

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn decode_only(video: &[u8], options: &DecodeOptions) {
    let summary = decode::decode_bytes(video, options, &mut |frame| {
        black_box(&frame);
        ControlFlow::Continue(())
    })
    .expect("the video decodes");
    assert_eq!(summary.frames, common::FRAMES);
}

/// One of the whole paths: decoding, detection on every `every`th frame, tracking.
type WholePath = fn(&[u8], &BlazeFace, NonZeroU32);

fn whole_path(video: &[u8], detector: &BlazeFace, every: NonZeroU32) {
    let options = DecodeOptions {
        detector_view: Some(DetectorView::every(every)),
        ..DecodeOptions::default()
    };
    let mut tracker = Tracker::new(TrackerConfig {
        detect_every: every,
        ..TrackerConfig::default()
    });
    decode::decode_bytes(video, &options, &mut |frame| {
        let detections = frame.detector_view.as_ref().map(|view| {
            detector
                .detect(view, frame.decoded_width, frame.decoded_height)
                .expect("detection runs")
        });
        tracker.push(frame.index, frame.timestamp_us, detections);
        black_box(&frame);
        ControlFlow::Continue(())
    })
    .expect("the video decodes");
    assert_eq!(tracker.finish().coverage(), 1.0);
}

/// The whole path in two phases ([`DeferredTracker`]): decode every frame keeping only the
/// detector's small views (the RGB frame goes to whatever else looks at it, here nothing), then
/// detect on the views in one go and track.
fn whole_path_deferred(video: &[u8], detector: &BlazeFace, every: NonZeroU32) {
    let mut tracker = DeferredTracker::new(TrackerConfig {
        detect_every: every,
        ..TrackerConfig::default()
    });
    let options = tracker.decode_options(DecodeOptions::default());
    decode::decode_bytes(video, &options, &mut |mut frame| {
        tracker.push(&mut frame);
        black_box(&frame);
        ControlFlow::Continue(())
    })
    .expect("the video decodes");
    let track = tracker.finish(detector).expect("detection runs");
    assert_eq!(track.coverage(), 1.0);
}

fn backends() -> Vec<(&'static str, BlazeFace)> {
    let mut backends = Vec::new();
    backends.push((
        "tract",
        BlazeFace::load_default(DetectorConfig::default()).unwrap_or_else(|e| panic!("{e}")),
    ));
    #[cfg(feature = "onnxruntime")]
    {
        let library = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/libonnxruntime.so.1.31.1");
        let detector = BlazeFace::load_default(DetectorConfig {
            backend: openliveness_vision::detect::Backend::OnnxRuntime { library },
            ..DetectorConfig::default()
        })
        .unwrap_or_else(|e| panic!("{e} (run scripts/setup-vision.sh --onnxruntime)"));
        backends.push(("onnxruntime", detector));
    }
    backends
}

/// One measured thing: its name, the work of one round, and how many units (frames or
/// inferences) a round handles.
struct Measurement<'a> {
    name: String,
    units: u32,
    work: Box<dyn FnMut() + 'a>,
    times: Vec<Duration>,
}

impl<'a> Measurement<'a> {
    /// A measurement not yet run.
    fn new(name: impl Into<String>, units: u32, work: impl FnMut() + 'a) -> Measurement<'a> {
        Measurement {
            name: name.into(),
            units,
            work: Box::new(work),
            times: Vec::new(),
        }
    }

    fn fastest(&self) -> Duration {
        self.times.iter().copied().min().unwrap_or_default()
    }

    fn median(&self) -> Duration {
        let mut times = self.times.clone();
        times.sort();
        times.get(times.len() / 2).copied().unwrap_or_default()
    }
}

fn main() {
    let video = common::zoom_pan_video(common::Encoding::WebmVp8);
    let (frames, _) = decode::decode_all(video, &DecodeOptions::default()).expect("decodes");
    let frame = &frames[frames.len() / 2];
    let view = frame.detector_view.as_ref().expect("a view");
    let input =
        InputTensor::from_view(view, frame.decoded_width, frame.decoded_height).expect("input");
    let backends = backends();
    let third = NonZeroU32::new(3).expect("non-zero");

    let rgb_only = DecodeOptions {
        detector_view: None,
        ..DecodeOptions::default()
    };
    let bare = DecodeOptions {
        image: ImageOutput::Omitted,
        detector_view: None,
        ..DecodeOptions::default()
    };
    let every_frame_view = DecodeOptions::default();
    let mut measurements: Vec<Measurement> = vec![
        Measurement::new("decode 640x480 VP8, no conversion", common::FRAMES, || {
            decode_only(video, &bare)
        }),
        Measurement::new(
            "decode 640x480 VP8 to RGB (floor: decoding alone)",
            common::FRAMES,
            || decode_only(video, &rgb_only),
        ),
        Measurement::new(
            "decode 640x480 VP8 to RGB and the 128x96 detector view on every frame",
            common::FRAMES,
            || decode_only(video, &every_frame_view),
        ),
    ];
    for (backend, detector) in &backends {
        let input = &input;
        measurements.push(Measurement::new(
            format!("{backend}: inference on a prepared tensor (floor: inference alone)"),
            INFERENCES_PER_ROUND,
            move || {
                for _ in 0..INFERENCES_PER_ROUND {
                    black_box(detector.infer(input).expect("inference"));
                }
            },
        ));
        measurements.push(Measurement::new(
            format!("{backend}: detection (letterbox, inference, anchors, weighted NMS)"),
            INFERENCES_PER_ROUND,
            move || {
                for _ in 0..INFERENCES_PER_ROUND {
                    black_box(
                        detector
                            .detect(view, frame.decoded_width, frame.decoded_height)
                            .expect("detection"),
                    );
                }
            },
        ));
        let paths: [(&str, WholePath); 2] = [
            ("whole path", whole_path),
            ("whole path deferred", whole_path_deferred),
        ];
        for (path, run) in paths {
            for (frames, every) in [
                ("every frame", NonZeroU32::MIN),
                ("every third frame", third),
            ] {
                measurements.push(Measurement::new(
                    format!("{backend}: {path}, detection on {frames}"),
                    common::FRAMES,
                    move || run(video, detector, every),
                ));
            }
        }
    }

    // One warm-up round, then the measured rounds, interleaved.
    for round in 0..=ROUNDS {
        for measurement in &mut measurements {
            let start = Instant::now();
            (measurement.work)();
            if round > 0 {
                measurement.times.push(start.elapsed() / measurement.units);
            }
        }
    }

    let find = |name: &str| {
        measurements
            .iter()
            .find(|m| m.name.starts_with(name))
            .map(|m| (m.fastest(), m.median()))
            .unwrap_or_default()
    };
    let decode_floor = find("decode 640x480 VP8 to RGB (floor");
    println!("| measurement | ms per frame (fastest round) | frames/s | ms (median round) | floor, fastest (ms) | ratio to floor |");
    println!("|---|---:|---:|---:|---:|---:|");
    for measurement in &measurements {
        let (fastest, median) = (measurement.fastest(), measurement.median());
        let backend = measurement.name.split(':').next().unwrap_or_default();
        let inference_floor = find(&format!("{backend}: inference")).0;
        let floor = if measurement.name.contains("every third frame") {
            Some(decode_floor.0 + inference_floor / 3)
        } else if measurement.name.contains("detection on every frame") {
            Some(decode_floor.0 + inference_floor)
        } else if measurement.name.contains(": detection (") {
            Some(inference_floor)
        } else if measurement.name.contains("detector view") {
            Some(decode_floor.0)
        } else {
            None
        };
        let (floor_text, ratio) = match floor {
            Some(floor) => (
                format!("{:.3}", ms(floor)),
                format!("{:.2}x", fastest.as_secs_f64() / floor.as_secs_f64()),
            ),
            None => (String::new(), String::new()),
        };
        println!(
            "| {} | {:.3} | {:.0} | {:.3} | {floor_text} | {ratio} |",
            measurement.name,
            ms(fastest),
            1.0 / fastest.as_secs_f64(),
            ms(median),
        );
    }
}
