//! The seam between streaming and the liveness analysis: when a stream starts the server asks
//! the [`Analyzer`] for an observer that sees the video as it arrives (the engine decodes and
//! detects while the client is still sending), and when it ends it hands over the evidence and
//! stores what comes back.

use std::any::Any;
use std::sync::Arc;

use openliveness_engine::{Engine, LiveObservation};
use openliveness_store::{Evidence, SessionResult};

/// Sees a session's video chunks as they arrive.
pub trait VideoObserver: Send {
    fn video(&mut self, chunk: &[u8]);
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send>;
}

/// An observer that keeps nothing: the analysis reads the evidence at the end.
#[derive(Debug, Default)]
pub struct NoObserver;

impl VideoObserver for NoObserver {
    fn video(&mut self, _chunk: &[u8]) {}
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

/// Decides a session from its evidence. `analyze`, `conclude` and `report` run on a blocking
/// thread.
pub trait Analyzer: Send + Sync + 'static {
    /// The result of a session whose video could be analysed (`SUCCEEDED`, whatever the
    /// confidence), or why it could not be (`FAILED`; the reason is for operators only).
    fn analyze(&self, evidence: &Evidence) -> Result<SessionResult, String>;

    /// Called when a stream starts.
    fn begin(&self) -> Box<dyn VideoObserver> {
        Box::new(NoObserver)
    }

    /// Decides the session at the end of its stream, with what `observer` saw, returning at
    /// most `audit_images_limit` audit images.
    fn conclude(
        &self,
        evidence: &Evidence,
        observer: Box<dyn VideoObserver>,
        audit_images_limit: usize,
    ) -> Result<SessionResult, String> {
        let _ = (observer, audit_images_limit);
        self.analyze(evidence)
    }

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

/// What the engine reports on `evidence`, decoded and decided from its stored video: the
/// engine's [`openliveness_engine::Report`] as JSON, or [`failed_report`]. The one rendering of
/// a report, for the server's endpoint and `openliveness analyze` alike.
pub fn engine_report(engine: &Engine, evidence: &Evidence) -> serde_json::Value {
    match engine.analyze(evidence, 0) {
        Ok(outcome) => serde_json::to_value(&outcome.report).unwrap_or_else(|error| {
            failed_report(&format!("the report could not be rendered: {error}"))
        }),
        Err(reason) => failed_report(&reason),
    }
}

/// When the engine cannot run (no face model): every session ends `FAILED`, never with a
/// made-up confidence.
#[derive(Debug, Default)]
pub struct EngineUnavailable;

impl Analyzer for EngineUnavailable {
    fn analyze(&self, _evidence: &Evidence) -> Result<SessionResult, String> {
        Err("analysis engine unavailable".to_owned())
    }

    fn report(&self, _evidence: &Evidence) -> Result<serde_json::Value, String> {
        Err("analysis engine unavailable".to_owned())
    }
}

/// The liveness engine ([`openliveness_engine`]).
pub struct EngineAnalyzer {
    engine: Arc<Engine>,
}

impl EngineAnalyzer {
    pub fn new(engine: Arc<Engine>) -> EngineAnalyzer {
        EngineAnalyzer { engine }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

struct EngineObserver(Option<LiveObservation>);

impl VideoObserver for EngineObserver {
    fn video(&mut self, chunk: &[u8]) {
        if let Some(live) = &mut self.0 {
            live.push(chunk.to_vec());
        }
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send> {
        self
    }
}

impl Analyzer for EngineAnalyzer {
    fn analyze(&self, evidence: &Evidence) -> Result<SessionResult, String> {
        Ok(self.engine.analyze(evidence, 0)?.into_result())
    }

    fn begin(&self) -> Box<dyn VideoObserver> {
        Box::new(EngineObserver(Some(self.engine.start())))
    }

    fn report(&self, evidence: &Evidence) -> Result<serde_json::Value, String> {
        Ok(engine_report(&self.engine, evidence))
    }

    fn conclude(
        &self,
        evidence: &Evidence,
        observer: Box<dyn VideoObserver>,
        audit_images_limit: usize,
    ) -> Result<SessionResult, String> {
        let observed = observer
            .into_any()
            .downcast::<EngineObserver>()
            .ok()
            .and_then(|observer| observer.0);
        let outcome = match observed {
            Some(live) => {
                let observations = live.finish()?;
                self.engine
                    .conclude(evidence, &observations, audit_images_limit)?
            }
            None => self.engine.analyze(evidence, audit_images_limit)?,
        };
        tracing::info!(
            session_id = %evidence.session_id,
            confidence = outcome.report.confidence,
            deciding_check = outcome.report.deciding_check,
            "session decided"
        );
        Ok(outcome.into_result())
    }
}
