//! The JavaScript streaming clients in `tests/node` (the AWS SDK and an Amplify-built client),
//! run as processes against a test server, and the FFmpeg-made test video they stream.
//! Needs `scripts/setup-node.sh`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::{Server, TENANT_A};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn require_node_setup() {
    assert!(
        repo()
            .join("tests/node/node_modules/@aws-sdk/client-rekognitionstreaming")
            .exists(),
        "the JavaScript clients are not installed: run scripts/setup-node.sh first"
    );
}

/// A 3-second 640x480 VP8 WebM, made by FFmpeg (deterministic flags).
pub fn test_video(dir: &Path) -> Vec<u8> {
    let path = dir.join("test.webm");
    let status = Command::new("bash")
        .arg(repo().join("scripts/make-test-video.sh"))
        .arg(&path)
        .arg("3")
        .status()
        .expect("run scripts/make-test-video.sh (needs ffmpeg: scripts/setup-node.sh installs it)");
    assert!(status.success());
    std::fs::read(&path).expect("read the test video")
}

/// The test video written to `dir/sent.webm`: the file the Node clients stream.
pub fn test_video_file(dir: &Path) -> PathBuf {
    let path = dir.join("sent.webm");
    std::fs::write(&path, test_video(dir)).expect("write the test video");
    path
}

/// The command that runs one of the Node clients as tenant A (start it with `output()`, or
/// `spawn()` to run several at once).
pub fn node_command(
    script: &str,
    server: &Server,
    endpoint: &str,
    session_id: &str,
    video: &Path,
    extra: &[&str],
) -> Command {
    require_node_setup();
    let mut command = Command::new("node");
    command
        .arg(repo().join("tests/node").join(script))
        .args(["--endpoint", endpoint, "--session-id", session_id])
        .args([
            "--access-key-id",
            TENANT_A.access_key_id,
            "--secret-access-key",
            TENANT_A.secret,
        ])
        .arg("--video")
        .arg(video)
        .args(extra);
    if let Some(certificate) = &server.certificate {
        command.arg("--ca").arg(certificate);
    }
    command
}

/// The JSON report a Node client printed.
pub fn report(script: &str, output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
        panic!(
            "{script}: no JSON report ({error}); stdout: {stdout}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Runs one of the Node clients; returns its JSON report.
pub fn node(
    script: &str,
    server: &Server,
    endpoint: &str,
    session_id: &str,
    video: &Path,
    extra: &[&str],
) -> serde_json::Value {
    let output = node_command(script, server, endpoint, session_id, video, extra)
        .output()
        .expect("run node");
    report(script, &output)
}

/// The `:event-type`s of the events the client received, in order.
pub fn event_types(report: &serde_json::Value) -> Vec<String> {
    report["events"]
        .as_array()
        .expect("events in the report")
        .iter()
        .map(|event| event["type"].as_str().expect("event type").to_owned())
        .collect()
}

/// The `:event-type` of the last event the client received.
pub fn last_event_type(report: &serde_json::Value) -> Option<String> {
    event_types(report).pop()
}
