//! The liveness engine: from a session's evidence (the challenge the server issued, the client's
//! events, the video) decide whether a live person answered this challenge.
//!
//! Two halves. [`observe`] runs while the video streams in: it decodes, finds the face and
//! reduces each frame to a few numbers (the only part that touches pixels and FFmpeg).
//! [`decide`] is pure (no I/O, no clock, no global state) and deterministic: it runs the checks
//! of docs/decision.md on those numbers ([`checks`]) and combines their scores into a confidence
//! from 0 to 100 with the [`Calibration`] (docs/evaluation.md). Every check gives a score and a
//! reason, so that an operator can see why a session was decided as it was.

pub mod calibration;
pub mod checks;
pub mod claims;
pub mod identity;
pub mod images;
mod linear;
pub mod observe;

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

use openliveness_evidence::Evidence;
use openliveness_protocol::AuditImage;
use openliveness_vision::BlazeFace;
use serde::Serialize;

pub use calibration::Calibration;
pub use checks::{CheckResult, Weight};
pub use claims::{Claims, Issued};
pub use observe::{observe_bytes, observe_stream, Observations, ObserveError, ObserveOptions};
/// What runs the face detector: tract (built in, the default) or ONNX Runtime (the
/// `onnxruntime` feature; about four times faster, BENCHMARKS.md).
pub use openliveness_vision::detect::Backend as DetectorBackend;

/// The decision on one session, with every check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// 0 to 100.
    pub confidence: f64,
    pub checks: Vec<CheckResult>,
    /// The check that bounded the confidence.
    pub deciding_check: &'static str,
    pub frames: usize,
    pub light_lag_ms: Option<f64>,
}

/// Runs the checks and combines them. Pure.
pub fn decide(
    issued: &Issued,
    claims: &Claims,
    observations: &Observations,
    calibration: &Calibration,
) -> Report {
    let light = issued.has_light();
    let fitted = light
        .then(|| checks::fit_light(observations, issued, claims, calibration))
        .flatten();
    // Under the colours the light's relief tells a head from a picture; without them,
    // perspective is the only evidence of depth and bounds the confidence.
    let perspective = if light {
        Weight::Supporting
    } else {
        Weight::Strong
    };
    let mut checks = vec![
        checks::one_face(observations, fitted.as_ref(), calibration),
        checks::movement(observations, issued, calibration),
        checks::perspective(observations, calibration, perspective),
        checks::integrity(observations, issued, claims, calibration),
    ];
    if light {
        checks.push(checks::light_time(fitted.as_ref(), calibration));
        checks.push(checks::light_space(fitted.as_ref(), calibration));
    }
    let lag = fitted.as_ref().map(|f| f.lag_ms);
    let (weakest, bound) = checks
        .iter()
        .filter(|c| c.strong)
        .map(|c| (c.name, c.score))
        .fold(("none", 1.0f64), |acc, (name, score)| {
            if score < acc.1 {
                (name, score)
            } else {
                acc
            }
        });
    // Supporting evidence moves the confidence within the bound the strong checks set.
    let support: f64 = checks
        .iter()
        .filter(|c| !c.strong)
        .map(|c| {
            calibration.combination.supporting_least
                + calibration.combination.supporting_span * c.score
        })
        .product();
    let confidence = (100.0 * bound * support).clamp(0.0, 100.0);
    Report {
        confidence: (confidence * 1000.0).round() / 1000.0,
        checks,
        deciding_check: weakest,
        frames: observations.frames.len(),
        light_lag_ms: lag,
    }
}

/// The colour sequence's span in video milliseconds, by the client's account.
fn colour_window(issued: &Issued, claims: &Claims) -> Option<(f64, f64)> {
    let first = claims.colours.iter().find(|c| c.sequence_number == 0)?;
    let start = first.start_epoch_ms - claims.video_start_epoch_ms?;
    let total: f64 = checks::stages(issued).iter().map(|s| s.duration_ms).sum();
    Some((start, start + total + 300.0))
}

/// A decided session: the report and what GetFaceLivenessSessionResults returns.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    pub reference_image: Option<AuditImage>,
    pub audit_images: Vec<AuditImage>,
}

/// The engine: the face detector and the calibration, shared by all sessions.
pub struct Engine {
    detector: Arc<BlazeFace>,
    pub calibration: Calibration,
    pub options: ObserveOptions,
}

impl Engine {
    pub fn new(detector: Arc<BlazeFace>) -> Engine {
        Engine {
            detector,
            calibration: Calibration::default(),
            options: ObserveOptions::default(),
        }
    }

    /// Loads the default BlazeFace model on tract.
    pub fn load_default() -> Result<Engine, String> {
        Engine::load(&DetectorBackend::Tract)
    }

    /// Loads the default BlazeFace model on `backend`.
    pub fn load(backend: &DetectorBackend) -> Result<Engine, String> {
        let config = openliveness_vision::detect::DetectorConfig {
            backend: backend.clone(),
            ..Default::default()
        };
        let detector = BlazeFace::load_default(config).map_err(|e| e.to_string())?;
        Ok(Engine::new(Arc::new(detector)))
    }

    /// The face detector every session shares.
    pub fn detector(&self) -> &Arc<BlazeFace> {
        &self.detector
    }

    /// Decides a session from observations already made.
    pub fn conclude(
        &self,
        evidence: &Evidence,
        observations: &Observations,
        audit_images_limit: usize,
    ) -> Result<Outcome, String> {
        let issued = Issued::from_issued(&evidence.challenge)?;
        let claims = Claims::from_events(&evidence.events);
        if observations.frames.is_empty() {
            return Err("the video has no frames".to_owned());
        }
        let report = decide(&issued, &claims, observations, &self.calibration);
        let (reference_image, audit_images) = images::select(
            observations,
            colour_window(&issued, &claims),
            audit_images_limit,
        );
        Ok(Outcome {
            report,
            reference_image,
            audit_images,
        })
    }

    /// Decodes, observes and decides a stored session in one go.
    pub fn analyze(
        &self,
        evidence: &Evidence,
        audit_images_limit: usize,
    ) -> Result<Outcome, String> {
        let observations = observe_bytes(&evidence.video, &self.detector, &self.options)
            .map_err(|error| error.to_string())?;
        self.conclude(evidence, &observations, audit_images_limit)
    }

    /// Starts observing a session whose video is about to stream in: chunks go to the returned
    /// [`LiveObservation`], which decodes and detects on its own thread.
    pub fn start(&self) -> LiveObservation {
        // Unbounded, so that the network side never blocks: the stream's 10 MB limit bounds
        // what can wait here.
        let (sender, receiver): (Sender<Vec<u8>>, Receiver<Vec<u8>>) = std::sync::mpsc::channel();
        let detector = Arc::clone(&self.detector);
        let options = self.options.clone();
        let worker = std::thread::Builder::new()
            .name("openliveness-observe".to_owned())
            .spawn(move || observe_stream(receiver, &detector, &options));
        LiveObservation {
            sender: Some(sender),
            worker: worker.ok(),
        }
    }
}

/// A session being observed while its video streams in.
pub struct LiveObservation {
    sender: Option<Sender<Vec<u8>>>,
    worker: Option<std::thread::JoinHandle<Result<Observations, ObserveError>>>,
}

impl LiveObservation {
    /// Hands over the next chunk of video (never blocks).
    pub fn push(&mut self, chunk: Vec<u8>) {
        if let Some(sender) = &self.sender {
            if sender.send(chunk).is_err() {
                self.sender = None;
            }
        }
    }

    /// Ends the input and waits for the observations.
    pub fn finish(mut self) -> Result<Observations, String> {
        self.sender = None;
        let worker = self
            .worker
            .take()
            .ok_or("the observation thread could not be started")?;
        worker
            .join()
            .map_err(|_| "the observation thread crashed".to_owned())?
            .map_err(|error| error.to_string())
    }
}
