//! The seam between streaming and the liveness analysis: when a stream starts the server asks
//! the [`Analyzer`] for a [`SessionObserver`] that sees the video as it arrives (the engine
//! decodes and detects while the client is still sending) and, when the stream ends, decides the
//! session from its evidence; the server stores what comes back.
//!
//! The server does not know the engine: the `openliveness` program (the composition root) loads
//! it and hands the server an [`Analyzer`]. Without one ([`EngineUnavailable`]) every session
//! ends `FAILED`.

use std::path::PathBuf;

use openliveness_evidence::Evidence;
use openliveness_store::SessionResult;

/// Sees a session's video chunks as they arrive, then decides the session.
pub trait SessionObserver: Send {
    fn video(&mut self, chunk: &[u8]);

    /// Decides the session at the end of its stream, with what this observer saw, returning at
    /// most `audit_images_limit` audit images: the result of a session whose video could be
    /// analysed (`SUCCEEDED`, whatever the confidence), or why it could not be (`FAILED`; the
    /// reason is for operators only). Runs on a blocking thread.
    fn conclude(
        self: Box<Self>,
        evidence: &Evidence,
        audit_images_limit: usize,
    ) -> Result<SessionResult, String>;
}

/// Decides sessions. `report` runs on a blocking thread.
pub trait Analyzer: Send + Sync + 'static {
    /// Called when a stream starts: what sees its video and decides it.
    fn begin(&self) -> Box<dyn SessionObserver>;

    /// The operator's report on a stored session (`GET /v1/sessions/{SessionId}/report`): the
    /// decision with every check's score, measurements and reason, as JSON; for a session that
    /// could not be analysed, [`failed_report`]. `Err` when this analyzer makes no reports (the
    /// engine is not running): the caller gets a server error, never a made-up report.
    fn report(&self, evidence: &Evidence) -> Result<serde_json::Value, String> {
        let _ = evidence;
        Err("this analyzer makes no reports".to_owned())
    }
}

/// The report on a session that could not be analysed: `{"status": "FAILED", "reason": ...}`.
pub fn failed_report(reason: &str) -> serde_json::Value {
    serde_json::json!({"status": "FAILED", "reason": reason})
}

/// A report as JSON text, as the server sends it and `openliveness analyze --json` prints it.
pub fn report_text(report: &serde_json::Value) -> String {
    serde_json::to_string_pretty(report).unwrap_or_default()
}

/// When the engine cannot run (no face model): every session ends `FAILED`, never with a
/// made-up confidence.
#[derive(Debug, Default)]
pub struct EngineUnavailable;

impl Analyzer for EngineUnavailable {
    fn begin(&self) -> Box<dyn SessionObserver> {
        Box::new(EngineUnavailable)
    }

    fn report(&self, _evidence: &Evidence) -> Result<serde_json::Value, String> {
        Err("analysis engine unavailable".to_owned())
    }
}

impl SessionObserver for EngineUnavailable {
    fn video(&mut self, _chunk: &[u8]) {}

    fn conclude(
        self: Box<Self>,
        _evidence: &Evidence,
        _audit_images_limit: usize,
    ) -> Result<SessionResult, String> {
        Err("analysis engine unavailable".to_owned())
    }
}

/// What runs the face detector, as configured (`[detector]`): the server only carries it to the
/// composition root, which loads the engine on it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DetectorBackend {
    /// tract, pure Rust (the default).
    #[default]
    Tract,
    /// ONNX Runtime, from this shared library; `None`: where `scripts/setup-vision.sh
    /// --onnxruntime` installs it (or `$OPENLIVENESS_ONNXRUNTIME_LIBRARY`).
    OnnxRuntime { library: Option<PathBuf> },
}

impl DetectorBackend {
    /// The names [`DetectorBackend::from_name`] knows.
    pub const NAMES: [&'static str; 2] = ["tract", "onnxruntime"];

    /// `tract` or `onnxruntime` (from `library`, if given).
    pub fn from_name(name: &str, library: Option<PathBuf>) -> Result<DetectorBackend, String> {
        match name {
            "tract" => Ok(DetectorBackend::Tract),
            "onnxruntime" => Ok(DetectorBackend::OnnxRuntime { library }),
            other => Err(format!(
                "unknown detector backend {other:?} (expected one of: {})",
                DetectorBackend::NAMES.join(", ")
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            DetectorBackend::Tract => "tract",
            DetectorBackend::OnnxRuntime { .. } => "onnxruntime",
        }
    }

    /// ONNX Runtime's library, when one was configured.
    pub fn library(&self) -> Option<&PathBuf> {
        match self {
            DetectorBackend::Tract => None,
            DetectorBackend::OnnxRuntime { library } => library.as_ref(),
        }
    }
}
