//! The liveness engine ([`openliveness_engine`]) as the server's [`Analyzer`]: loaded on the
//! configured face detector at start-up, it observes each session's video while it streams in
//! and concludes the session itself; its outcome becomes the store's [`SessionResult`].

use std::sync::Arc;

use openliveness_engine::{Engine, LiveObservation, Outcome};
use openliveness_evidence::Evidence;
use openliveness_server::analysis::{failed_report, Analyzer, DetectorBackend, SessionObserver};
use openliveness_server::bootstrap::{Notice, StartError};
use openliveness_server::clock::Clock;
use openliveness_server::config::Config;
use openliveness_server::AppState;
use openliveness_store::SessionResult;

/// The engine's backend for the configured one: ONNX Runtime's library, when none is
/// configured, where `scripts/setup-vision.sh --onnxruntime` installs it.
pub fn engine_backend(
    backend: &DetectorBackend,
) -> Result<openliveness_engine::DetectorBackend, String> {
    openliveness_engine::DetectorBackend::from_name(backend.name(), backend.library().cloned())
}

/// Loads the engine on the configured face detector.
pub fn load_engine(backend: &DetectorBackend) -> Result<Engine, String> {
    let engine = Engine::load(&engine_backend(backend)?)?;
    tracing::info!(backend = backend.name(), "face detector loaded");
    Ok(engine)
}

/// The server's state with the engine, as `openliveness serve` starts it
/// ([`openliveness_server::bootstrap::prepare`]).
pub fn prepare(
    config: Config,
    clock: Arc<dyn Clock>,
) -> Result<(Arc<AppState>, Notice), StartError> {
    openliveness_server::bootstrap::prepare(config, clock, |config| {
        let engine = load_engine(&config.detector)?;
        Ok(Arc::new(EngineAnalyzer::new(Arc::new(engine))) as Arc<dyn Analyzer>)
    })
}

/// What GetFaceLivenessSessionResults returns of a decided session.
pub fn session_result(outcome: Outcome) -> SessionResult {
    SessionResult {
        confidence: Some(outcome.report.confidence as f32),
        challenge: None,
        reference_image: outcome.reference_image,
        audit_images: outcome.audit_images,
        failure_reason: None,
    }
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

/// The liveness engine, shared by every session.
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

impl Analyzer for EngineAnalyzer {
    fn begin(&self) -> Box<dyn SessionObserver> {
        Box::new(EngineObserver {
            engine: Arc::clone(&self.engine),
            live: self.engine.start(),
        })
    }

    fn report(&self, evidence: &Evidence) -> Result<serde_json::Value, String> {
        Ok(engine_report(&self.engine, evidence))
    }
}

/// One session observed by the engine while its video streams in.
struct EngineObserver {
    engine: Arc<Engine>,
    live: LiveObservation,
}

impl SessionObserver for EngineObserver {
    fn video(&mut self, chunk: &[u8]) {
        self.live.push(chunk.to_vec());
    }

    fn conclude(
        self: Box<Self>,
        evidence: &Evidence,
        audit_images_limit: usize,
    ) -> Result<SessionResult, String> {
        let observations = self.live.finish()?;
        let outcome = self
            .engine
            .conclude(evidence, &observations, audit_images_limit)?;
        tracing::info!(
            session_id = %evidence.session_id,
            confidence = outcome.report.confidence,
            deciding_check = outcome.report.deciding_check,
            "session decided"
        );
        Ok(session_result(outcome))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onnxruntime_without_a_library_is_looked_for_where_setup_puts_it() {
        assert_eq!(
            engine_backend(&DetectorBackend::Tract),
            Ok(openliveness_engine::DetectorBackend::Tract)
        );
        let backend = engine_backend(&DetectorBackend::OnnxRuntime { library: None });
        assert!(matches!(
            backend,
            Ok(openliveness_engine::DetectorBackend::OnnxRuntime { library })
                if library.ends_with("libonnxruntime.so.1.31.1")
        ));
        let library = std::path::PathBuf::from("/opt/ort.so");
        assert_eq!(
            engine_backend(&DetectorBackend::OnnxRuntime {
                library: Some(library.clone())
            }),
            Ok(openliveness_engine::DetectorBackend::OnnxRuntime { library })
        );
    }
}
