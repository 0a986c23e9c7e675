//! `openliveness analyze`: the engine's decision on a session with every check's score,
//! measurements and reason. Either run in process on an evidence directory
//! (`<data_dir>/evidence/<session-id>/`, or one `openliveness simulate --out` wrote), or asked of
//! a running server for one of its stored sessions (`--endpoint URL --session-id ID`: the
//! operator's `GET /v1/sessions/{SessionId}/report`, SigV4-signed). Both give the same JSON
//! (`--json`), and print the same table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use openliveness_client::Client;
use openliveness_evidence::Evidence;
use openliveness_protocol::SessionId;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// The evidence directory: `evidence.json` and `video.bin`.
    #[arg(required_unless_present = "endpoint", conflicts_with = "endpoint")]
    pub dir: Option<PathBuf>,

    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Ask this server (`http://HOST:PORT`) for the report on one of its stored sessions
    /// instead (`GET /v1/sessions/{SessionId}/report`, signed with --access-key-id and
    /// --secret-access-key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    #[arg(long, value_name = "URL", requires = "session_id")]
    pub endpoint: Option<String>,

    /// The session to report on, with --endpoint.
    #[arg(long, value_name = "ID", requires = "endpoint")]
    pub session_id: Option<String>,

    #[command(flatten)]
    pub keys: crate::play::KeyArgs,

    #[command(flatten)]
    pub detector: crate::DetectorArgs,
}

pub fn run(args: AnalyzeArgs) -> ExitCode {
    let made = match (&args.endpoint, &args.session_id, &args.dir) {
        (Some(endpoint), Some(session_id), _) => args
            .keys
            .client(endpoint)
            .and_then(|client| fetch(&client, session_id))
            .map(|(text, report)| (session_id.clone(), text, report)),
        (_, _, Some(dir)) => analyze_dir(dir, &args.detector),
        _ => Err("an evidence directory, or --endpoint with --session-id, is required".to_owned()),
    };
    match made {
        Ok((session_id, text, report)) => print(&session_id, &text, &report, args.json),
        Err(error) => crate::fail(&error),
    }
}

/// Runs the engine on an evidence directory: the session's id and the report, as JSON text and
/// as the value.
fn analyze_dir(
    dir: &Path,
    detector: &crate::DetectorArgs,
) -> Result<(String, String, Value), String> {
    let json = std::fs::read(dir.join("evidence.json"))
        .map_err(|error| format!("{}/evidence.json: {error}", dir.display()))?;
    let mut evidence: Evidence = serde_json::from_slice(&json).map_err(|error| {
        format!(
            "{}/evidence.json is not openliveness evidence (sealed under a KMS key? `openliveness decrypt` it first): {error}",
            dir.display()
        )
    })?;
    evidence.video = std::fs::read(dir.join("video.bin"))
        .map_err(|error| format!("{}/video.bin: {error}", dir.display()))?;
    let engine = detector.engine()?;
    let report = openliveness_cli::engine_analyzer::engine_report(&engine, &evidence);
    let text = openliveness_server::analysis::report_text(&report);
    Ok((evidence.session_id.to_string(), text, report))
}

/// Asks the server for its report on `session_id`: the JSON text as the server wrote it
/// (printed as it is: parsing and writing again could move a float by its last digit), and the
/// value.
fn fetch(client: &Client, session_id: &str) -> Result<(String, Value), String> {
    let id = SessionId::parse(session_id)
        .ok_or_else(|| format!("--session-id {session_id:?} is not a session id"))?;
    let path = openliveness_server::report::path_of(&id.to_string());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let answer = runtime
        .block_on(client.get(&path))
        .map_err(|error| error.to_string())?;
    let body = answer.body;
    let url = format!("http://{}{path}", client.endpoint().authority());
    let json: Value = serde_json::from_slice(&body).map_err(|_| {
        format!(
            "{url}: HTTP {}, not JSON: {}",
            answer.status,
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )
    })?;
    if !(200..300).contains(&answer.status) {
        return Err(format!(
            "{}: {} (HTTP {}, request id {})",
            json["__type"].as_str().unwrap_or("error"),
            json["Message"].as_str().unwrap_or(""),
            answer.status,
            json["Logref"].as_str().unwrap_or("-"),
        ));
    }
    let text = String::from_utf8(body.to_vec()).map_err(|error| error.to_string())?;
    Ok((text, json))
}

/// Prints a report: its JSON text, or the table.
fn print(session_id: &str, text: &str, report: &Value, json: bool) -> ExitCode {
    if json {
        println!("{}", text.trim_end());
        return ExitCode::SUCCESS;
    }
    match table(session_id, report) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => crate::fail(&error),
    }
}

/// What the table shows of a report (the engine's `Report` as JSON; a measurement or a score
/// that was not a finite number is `null` there).
#[derive(Debug, Deserialize)]
struct ReportView {
    confidence: f64,
    deciding_check: String,
    frames: u64,
    checks: Vec<CheckView>,
}

#[derive(Debug, Deserialize)]
struct CheckView {
    name: String,
    score: Option<f64>,
    strong: bool,
    reason: String,
    #[serde(default)]
    measurements: BTreeMap<String, Option<f64>>,
}

/// The report as a table: the decision, then each check's score, kind and reason with its
/// measurements below; for a session that could not be analysed, why.
fn table(session_id: &str, report: &Value) -> Result<String, String> {
    use std::fmt::Write as _;
    if report["status"] == "FAILED" {
        return Ok(format!(
            "FAILED: the session could not be analysed: {}\n",
            report["reason"].as_str().unwrap_or("(no reason given)")
        ));
    }
    let report: ReportView = serde_json::from_value(report.clone())
        .map_err(|error| format!("not a report this version of openliveness reads: {error}"))?;
    let number = |value: Option<f64>| value.map_or("n/a".to_owned(), |value| format!("{value:.3}"));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "session {session_id}: confidence {:.1} (bounded by {}), {} frames",
        report.confidence, report.deciding_check, report.frames
    );
    let _ = writeln!(out, "{:<12} {:>6}  {:<7} reason", "check", "score", "kind");
    for check in &report.checks {
        let _ = writeln!(
            out,
            "{:<12} {:>6}  {:<7} {}",
            check.name,
            number(check.score),
            if check.strong { "strong" } else { "support" },
            check.reason
        );
        let measurements: Vec<String> = check
            .measurements
            .iter()
            .map(|(name, value)| format!("{name}={}", number(*value)))
            .collect();
        let _ = writeln!(out, "{:<28}{}", "", measurements.join(" "));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_table_shows_the_decision_and_every_check() {
        let report = serde_json::json!({
            "confidence": 93.25,
            "deciding_check": "light_time",
            "frames": 120,
            "light_lag_ms": 80.0,
            "checks": [
                {"name": "one_face", "score": 1.0, "strong": true, "reason": "one face throughout",
                 "measurements": {"faces": 1.0, "jumps": 0.0}},
                {"name": "perspective", "score": 0.5, "strong": false, "reason": "weak",
                 "measurements": {"slope": null}},
            ],
        });
        assert_eq!(
            table("6f0e9a40-2a4f-4bd0-9a43-0d7c9f3b2f11", &report).unwrap(),
            "session 6f0e9a40-2a4f-4bd0-9a43-0d7c9f3b2f11: confidence 93.2 (bounded by light_time), 120 frames\n\
             check         score  kind    reason\n\
             one_face      1.000  strong  one face throughout\n\
             \x20                           faces=1.000 jumps=0.000\n\
             perspective   0.500  support weak\n\
             \x20                           slope=n/a\n"
        );
    }

    #[test]
    fn a_session_that_could_not_be_analysed_shows_why() {
        let report = openliveness_server::analysis::failed_report("the video has no frames");
        assert_eq!(
            table("s", &report).unwrap(),
            "FAILED: the session could not be analysed: the video has no frames\n"
        );
        assert!(table("s", &serde_json::json!({"confidence": "high"})).is_err());
    }

    #[test]
    fn endpoint_and_directory_are_exclusive_and_endpoint_needs_a_session() {
        use clap::Parser as _;
        #[derive(Debug, clap::Parser)]
        struct Command {
            #[command(flatten)]
            args: AnalyzeArgs,
        }
        let parse = |line: &[&str]| Command::try_parse_from(line.iter().copied());
        assert!(parse(&["analyze", "/tmp/session"]).is_ok());
        let remote = parse(&[
            "analyze",
            "--endpoint",
            "http://127.0.0.1:8080",
            "--session-id",
            "6f0e9a40-2a4f-4bd0-9a43-0d7c9f3b2f11",
            "--json",
        ])
        .unwrap();
        assert!(remote.args.dir.is_none() && remote.args.json);
        assert!(parse(&["analyze"]).is_err());
        assert!(parse(&["analyze", "--endpoint", "http://127.0.0.1:8080"]).is_err());
        assert!(parse(&[
            "analyze",
            "/tmp/session",
            "--endpoint",
            "http://127.0.0.1:8080",
            "--session-id",
            "6f0e9a40-2a4f-4bd0-9a43-0d7c9f3b2f11",
        ])
        .is_err());
    }

    #[test]
    fn an_endpoint_or_session_id_that_cannot_be_asked_is_refused_before_connecting() {
        let keys = crate::play::KeyArgs {
            access_key_id: Some("k".to_owned()),
            secret_access_key: Some("s".to_owned()),
        };
        assert!(keys
            .client("https://127.0.0.1:1")
            .unwrap_err()
            .contains("expected http://HOST:PORT"));
        assert!(keys.client("http://127.0.0.1:1/base").is_err());
        let client = keys.client("http://127.0.0.1:1").unwrap();
        assert!(fetch(&client, "../other")
            .unwrap_err()
            .contains("is not a session id"));
    }
}
