//! `openliveness analyze DIR`: run the engine on a stored session's evidence (a directory
//! `<data_dir>/evidence/<session-id>/`, or one `openliveness simulate --out` wrote) and print the
//! decision with every check's score, measurements and reason.

use std::path::PathBuf;
use std::process::ExitCode;

use openliveness_engine::Engine;
use openliveness_store::Evidence;

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The evidence directory: `evidence.json` and `video.bin`.
    pub dir: PathBuf,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: AnalyzeArgs) -> ExitCode {
    let json = match std::fs::read(args.dir.join("evidence.json")) {
        Ok(json) => json,
        Err(error) => {
            return crate::fail(&format!("{}/evidence.json: {error}", args.dir.display()))
        }
    };
    let mut evidence: Evidence = match serde_json::from_slice(&json) {
        Ok(evidence) => evidence,
        Err(error) => {
            return crate::fail(&format!(
                "{}/evidence.json is not openliveness evidence (sealed under a KMS key? `openliveness decrypt` it first): {error}",
                args.dir.display()
            ))
        }
    };
    evidence.video = match std::fs::read(args.dir.join("video.bin")) {
        Ok(video) => video,
        Err(error) => return crate::fail(&format!("{}/video.bin: {error}", args.dir.display())),
    };
    let engine = match Engine::load_default() {
        Ok(engine) => engine,
        Err(error) => return crate::fail(&error),
    };
    let outcome = match engine.analyze(&evidence, 0) {
        Ok(outcome) => outcome,
        Err(reason) => {
            println!("FAILED: the session could not be analysed: {reason}");
            return ExitCode::SUCCESS;
        }
    };
    let report = &outcome.report;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    println!(
        "session {}: confidence {:.1} (bounded by {}), {} frames",
        evidence.session_id, report.confidence, report.deciding_check, report.frames
    );
    println!("{:<12} {:>6}  {:<7} reason", "check", "score", "kind");
    for check in &report.checks {
        println!(
            "{:<12} {:>6.3}  {:<7} {}",
            check.name,
            check.score,
            if check.strong { "strong" } else { "support" },
            check.reason
        );
        let measurements: Vec<String> = check
            .measurements
            .iter()
            .map(|(name, value)| format!("{name}={value:.3}"))
            .collect();
        println!("{:<28}{}", "", measurements.join(" "));
    }
    ExitCode::SUCCESS
}
