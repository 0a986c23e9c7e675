//! StartFaceLivenessSession with the real JavaScript clients against the real binary: the AWS
//! SDK (`@aws-sdk/client-rekognitionstreaming`) over its three transports, and a client that
//! builds its presigned URL and envelopes exactly as Amplify's FaceLivenessDetector does.
//! Each streams a short VP8 WebM made with FFmpeg in one-second chunks.
//!
//! Needs `scripts/setup-node.sh` (Node.js, the pinned npm packages, FFmpeg): `scripts/test.sh`
//! runs it first.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use std::path::PathBuf;

use aws_sdk_rekognition::types::LivenessSessionStatus;
use common::node::{event_types, last_event_type, node, test_video_file};
use common::sdk_calls::{create_session, results};
use common::{sdk_client, Options, Server, TENANT_A};

/// Streams one session and checks what every transport must show.
async fn complete_session(transport_args: &[&str], script: &str, tls: bool) {
    let server = Server::start(Options {
        dev_tls: tls,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let video = test_video_file(dir.path());
    let client = sdk_client(&server, TENANT_A);
    let session_id = create_session(&client).await;
    let endpoint = if tls {
        server.url.clone()
    } else {
        server.plain_url.clone()
    };
    let report = node(
        script,
        &server,
        &endpoint,
        &session_id,
        &video,
        transport_args,
    );
    assert_eq!(report["ok"], true, "{report}");
    let types = event_types(&report);
    assert!(
        types.contains(&"ServerSessionInformationEvent".to_owned()),
        "{types:?}"
    );
    assert_eq!(
        types.last().map(String::as_str),
        Some("DisconnectionEvent"),
        "{types:?}"
    );

    // The stored evidence is byte-identical to what was sent.
    let sent = std::fs::read(&video).unwrap();
    let stored = std::fs::read(
        server
            .data_dir
            .join("evidence")
            .join(&session_id)
            .join("video.bin"),
    )
    .unwrap();
    assert_eq!(stored.len(), sent.len());
    assert!(stored == sent, "stored video differs from the file sent");

    // The engine analysed the video (a test pattern, no face): SUCCEEDED, with a confidence
    // far below any operating point.
    let results = results(&client, &session_id).await;
    assert_eq!(results.status, LivenessSessionStatus::Succeeded);
    assert!(results.confidence.unwrap() < 10.0, "{results:?}");
}

#[tokio::test]
async fn the_js_sdk_default_http1_handler_completes_a_session() {
    complete_session(&["--transport", "http1"], "start-session.mjs", false).await;
}

#[tokio::test]
async fn the_js_sdk_http2_handler_over_h2c_completes_a_session() {
    complete_session(&["--transport", "http2"], "start-session.mjs", false).await;
}

#[tokio::test]
async fn the_js_sdk_http2_handler_over_tls_completes_a_session() {
    complete_session(&["--transport", "http2"], "start-session.mjs", true).await;
}

#[tokio::test]
async fn the_js_sdk_websocket_handler_over_wss_completes_a_session() {
    // The SDK closes its socket right after its end frame; like Amplify, keep it open until the
    // server has answered.
    complete_session(
        &["--transport", "websocket", "--no-end-frame"],
        "start-session.mjs",
        true,
    )
    .await;
}

/// A TLS server, a client of tenant A and the test video, for the Amplify-built client.
struct Amplify {
    server: Server,
    client: aws_sdk_rekognition::Client,
    video: PathBuf,
    _dir: tempfile::TempDir,
}

impl Amplify {
    fn start() -> Amplify {
        let server = Server::start(Options {
            dev_tls: true,
            ..Options::default()
        });
        let dir = tempfile::tempdir().unwrap();
        Amplify {
            client: sdk_client(&server, TENANT_A),
            video: test_video_file(dir.path()),
            server,
            _dir: dir,
        }
    }

    /// Streams `session_id` with `amplify-websocket.mjs` and `extra` arguments; its report.
    fn stream(&self, session_id: &str, extra: &[&str]) -> serde_json::Value {
        node(
            "amplify-websocket.mjs",
            &self.server,
            &self.server.url,
            session_id,
            &self.video,
            extra,
        )
    }

    async fn status(&self, session_id: &str) -> LivenessSessionStatus {
        results(&self.client, session_id).await.status
    }
}

#[tokio::test]
async fn an_amplify_built_websocket_session_completes_and_the_server_closes_with_1000() {
    let amplify = Amplify::start();
    let report = amplify.stream(&create_session(&amplify.client).await, &[]);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["closeCode"], 1000, "{report}");
    assert_eq!(report["closedBy"], "server", "{report}");
    let url = report["url"].as_str().unwrap();
    for key in [
        "X-Amz-Expires=299",
        "attempt-count=",
        "precheck-view-enabled=",
        "x-amz-user-agent=",
        "X-Amz-SignedHeaders=host",
    ] {
        assert!(url.contains(key), "{key} missing from {url}");
    }
    assert_eq!(
        last_event_type(&report).as_deref(),
        Some("DisconnectionEvent")
    );
}

#[tokio::test]
async fn amplify_negative_cases_get_the_right_errors() {
    let amplify = Amplify::start();

    // A tampered chunk signature mid-stream: a ValidationException event.
    let tampered = create_session(&amplify.client).await;
    let report = amplify.stream(&tampered, &["--tamper-signature", "3"]);
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report.to_string().contains("ValidationException"),
        "{report}"
    );

    // A replayed envelope.
    let replayed = create_session(&amplify.client).await;
    let report = amplify.stream(&replayed, &["--replay", "2"]);
    assert!(
        report.to_string().contains("ValidationException"),
        "{report}"
    );

    // A user cancel (close 4003) fails the session.
    let cancelled = create_session(&amplify.client).await;
    amplify.stream(&cancelled, &["--close-with", "4003"]);
    assert_eq!(
        amplify.status(&cancelled).await,
        LivenessSessionStatus::Failed
    );

    // An expired presigned URL is refused before the upgrade; the session can still be used.
    let later = create_session(&amplify.client).await;
    let report = amplify.stream(&later, &["--clock-offset-ms=-600000"]);
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(amplify.status(&later).await, LivenessSessionStatus::Created);

    // A second start of a used session is refused.
    let report = amplify.stream(&tampered, &[]);
    assert_eq!(report["ok"], false, "{report}");
}
