//! The seam between streaming and the liveness analysis: the server hands a session's evidence
//! to an [`Analyzer`] when the stream ends and stores what it returns.

use openliveness_store::{Evidence, SessionResult};

/// Decides a session from its evidence. Runs on a blocking thread: it may take a while.
pub trait Analyzer: Send + Sync + 'static {
    /// The result of a session whose video could be analysed (`SUCCEEDED`, whatever the
    /// confidence), or why it could not be (`FAILED`; the reason is for operators only).
    fn analyze(&self, evidence: &Evidence) -> Result<SessionResult, String>;
}

/// Used until the liveness engine is wired in: every session ends `FAILED`, never with a
/// made-up confidence.
#[derive(Debug, Default)]
pub struct EngineUnavailable;

impl Analyzer for EngineUnavailable {
    fn analyze(&self, _evidence: &Evidence) -> Result<SessionResult, String> {
        Err("analysis engine unavailable".to_owned())
    }
}
