//! The engine's cost on one simulated 640x480 30 frames/s session of about 8 seconds, one core:
//! decoding alone (the floor: FFmpeg's decoder and nothing else, no conversion to RGB), the
//! streaming half (decode, detect, measure), the conclusion (the checks and the reference
//! image's JPEG), and how many real-time sessions the machine's cores sustain: estimated from
//! those costs, then found by running them (sessions fed one-second chunks in real time, each on
//! its own thread, must each be done within a second of its last chunk), for decoding alone (the
//! floor) and for the engine (observing, then concluding) alike.
//!
//! `cargo bench -p openliveness-engine --bench engine` (needs `scripts/setup-vision.sh`);
//! `OPENLIVENESS_BENCH_DETECT_MS=N` measures detection every N ms instead of the engine's
//! cadence; `OPENLIVENESS_BENCH_BACKEND=onnxruntime` runs the detector on ONNX Runtime (with
//! `--features onnxruntime`, after `scripts/setup-vision.sh --onnxruntime`; the library is
//! found where that puts it, or at `$OPENLIVENESS_ONNXRUNTIME_LIBRARY`);
//! `OPENLIVENESS_BENCH_CAPACITY=0` measures the costs alone.

#![allow(clippy::unwrap_used)] // A benchmark stops at the first failed step.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openliveness_engine::{observe_bytes, observe_stream, DetectorBackend, Engine, ObserveOptions};
use openliveness_protocol::challenge::{issue, SeededRandom};
use openliveness_protocol::{ChallengeKind, ChallengeVersion};
use openliveness_sim::{ChallengeSpec, SessionSpec, Species};
use openliveness_vision::decode::{decode_bytes, decode_stream, DecodeOptions, ImageOutput};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rounds = 5;
    // The first seed whose session runs at 30 frames/s.
    let (issued, recording, encoded) = (1..100)
        .find_map(|seed| {
            let issued = issue(
                ChallengeKind::FaceMovementAndLightChallenge,
                ChallengeVersion(2, 0, 0),
                640,
                480,
                &mut SeededRandom::new(seed),
            );
            let spec = SessionSpec {
                species: Species::BonaFide,
                seed,
                challenge: ChallengeSpec::from_server(&issued.server_challenge, 640, 480).unwrap(),
                world: Default::default(),
            };
            let recording = openliveness_sim::simulate(&spec).unwrap();
            (recording.conditions.fps == 30.0 && recording.timeline.video_end_ms >= 7500.0).then(
                || {
                    let encoded = openliveness_sim::encode(&recording).unwrap();
                    (issued, recording, encoded)
                },
            )
        })
        .unwrap();
    let duration_s = recording.timeline.video_end_ms / 1000.0;
    let frames = recording.frames.len();
    let backend = DetectorBackend::from_name(
        &std::env::var("OPENLIVENESS_BENCH_BACKEND").unwrap_or_else(|_| "tract".to_owned()),
        None,
    )
    .unwrap();
    let mut engine = Engine::load(&backend).unwrap_or_else(|error| panic!("{error}"));
    let detector = Arc::clone(engine.detector());
    let mut options = ObserveOptions::default();
    // The detection cadence to measure (default: the engine's).
    if let Ok(interval) = std::env::var("OPENLIVENESS_BENCH_DETECT_MS") {
        options.detect_interval_ms = interval.parse().unwrap();
        options.detect_every = std::num::NonZeroU32::MIN;
    }
    let evidence = openliveness_sim::evidence_of(&issued, &recording, &encoded).unwrap();
    engine.options = options.clone();

    // The floor is the decoder alone: frames decoded, not converted to RGB.
    let decode_only = DecodeOptions {
        image: ImageOutput::Omitted,
        detector_view: None,
        ..DecodeOptions::default()
    };
    let decode_rgb = DecodeOptions {
        image: ImageOutput::Decoded,
        ..decode_only.clone()
    };
    let (mut decode, mut rgb, mut observe, mut conclude) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        decode_bytes(&encoded.video, &decode_only, &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
        decode.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        decode_bytes(&encoded.video, &decode_rgb, &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
        rgb.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        let observed = observe_bytes(&encoded.video, &detector, &options).unwrap();
        observe.push(start.elapsed().as_secs_f64());
        let start = Instant::now();
        // The cost is what is measured here; the decision is the evaluation's business (docs/evaluation.md).
        std::hint::black_box(engine.conclude(&evidence, &observed, 0).unwrap());
        conclude.push(start.elapsed().as_secs_f64());
    }
    let (decode, rgb, observe, conclude) = (
        median(decode),
        median(rgb),
        median(observe),
        median(conclude),
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let floor = cores * duration_s / decode;
    let estimate = cores * duration_s / (observe + conclude);
    println!(
        "session: {frames} frames, {duration_s:.2} s of 640x480 VP8 at 30 frames/s, {} bytes",
        encoded.video.len()
    );
    println!("detector backend: {}", backend.name());
    println!(
        "decode alone (floor):             {:8.1} ms",
        decode * 1000.0
    );
    println!("decode and convert to RGB:        {:8.1} ms", rgb * 1000.0);
    println!(
        "observe (decode, detect, measure): {:8.1} ms",
        observe * 1000.0
    );
    println!(
        "conclude (checks, reference JPEG): {:8.1} ms",
        conclude * 1000.0
    );
    println!(
        "analysis CPU per session:          {:8.1} ms",
        (observe + conclude) * 1000.0
    );
    println!("real-time sessions on {cores} cores: decode-only floor {floor:.1}, engine (estimated) {estimate:.1} = {:.0}% of the floor", estimate / floor * 100.0);

    // Run it: n sessions at once, each fed its one-second chunks in real time by a feeder thread
    // (starts spread over a second) and decoded by its own thread, which for the engine also
    // observes (the one detector shared, as the server shares it) and concludes. A run keeps up
    // when every session is done within a second of its last chunk. The capacity is the most
    // sessions that keep up, found the same way for decoding alone and for the engine.
    // `OPENLIVENESS_BENCH_CAPACITY=0`: the costs alone (a quick look while changing the engine).
    if std::env::var("OPENLIVENESS_BENCH_CAPACITY").is_ok_and(|v| v == "0") {
        return;
    }
    let chunks = &encoded.chunks;
    let run = |n: usize, analyse: bool| -> f64 {
        let lateness: Vec<f64> = std::thread::scope(|scope| {
            let sessions: Vec<_> = (0..n)
                .map(|i| {
                    let (sender, receiver) = std::sync::mpsc::channel();
                    let (engine, evidence, decode_only) = (&engine, &evidence, &decode_only);
                    let detector = &detector;
                    let worker = scope.spawn(move || {
                        if analyse {
                            let observed =
                                observe_stream(receiver, detector, &engine.options).unwrap();
                            std::hint::black_box(engine.conclude(evidence, &observed, 0).unwrap());
                        } else {
                            decode_stream(receiver, decode_only, &mut |frame| {
                                std::hint::black_box(frame);
                                ControlFlow::Continue(())
                            })
                            .unwrap();
                        }
                        Instant::now()
                    });
                    let feeder = scope.spawn(move || {
                        let start = Instant::now() + Duration::from_millis((i * 1000 / n) as u64);
                        for (at_ms, bytes) in chunks {
                            let due = start + Duration::from_secs_f64(at_ms / 1000.0);
                            std::thread::sleep(due.saturating_duration_since(Instant::now()));
                            sender.send(bytes.clone()).unwrap();
                        }
                        Instant::now()
                    });
                    (feeder, worker)
                })
                .collect();
            sessions
                .into_iter()
                .map(|(feeder, worker)| {
                    let last_sent = feeder.join().unwrap();
                    let done = worker.join().unwrap();
                    done.saturating_duration_since(last_sent).as_secs_f64()
                })
                .collect()
        });
        lateness.iter().copied().fold(0.0, f64::max)
    };
    // The most sessions that keep up: up from the estimate while they do, then down by bisection.
    let capacity = |estimate: f64, analyse: bool, label: &str| -> usize {
        let (mut low, mut high) = (0usize, None::<usize>);
        let mut n = estimate.floor().max(1.0) as usize;
        loop {
            let worst = run(n, analyse);
            let kept_up = worst < 1.0;
            println!(
                "  {label}: {n} concurrent real-time sessions, the slowest done {:.0} ms after its last chunk ({})",
                worst * 1000.0,
                if kept_up { "kept up" } else { "fell behind" }
            );
            if kept_up {
                low = n;
            } else {
                high = Some(n);
            }
            n = match high {
                None => n + (n / 8).max(1),
                Some(high) if high - low > (low / 25).max(1) => (low + high) / 2,
                Some(_) => return low,
            };
        }
    };
    let floor_run = capacity(floor, false, "decode alone");
    let engine_run = capacity(estimate, true, "engine");
    println!(
        "sustained real-time sessions on {cores} cores: decode alone {floor_run}, engine {engine_run} = {:.0}% of the floor",
        engine_run as f64 / floor_run.max(1) as f64 * 100.0
    );
}
