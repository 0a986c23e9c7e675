//! StartFaceLivenessSession with the real JavaScript clients against the real binary: the AWS
//! SDK (`@aws-sdk/client-rekognitionstreaming`) over its three transports, and a client that
//! builds its presigned URL and envelopes exactly as Amplify's FaceLivenessDetector does.
//! Each streams a short VP8 WebM made with FFmpeg in one-second chunks.
//!
//! Needs `scripts/setup-node.sh` (Node.js, the pinned npm packages, FFmpeg): `scripts/test.sh`
//! runs it first.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use aws_sdk_rekognition::types::LivenessSessionStatus;
use common::node::{event_types, node, test_video};
use common::{sdk_client, Options, Server, TENANT_A};

/// Streams one session and checks what every transport must show.
async fn complete_session(transport_args: &[&str], script: &str, tls: bool) {
    let server = Server::start(Options {
        dev_tls: tls,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let video = test_video(dir.path());
    std::fs::write(dir.path().join("sent.webm"), &video).unwrap();
    let client = sdk_client(&server, TENANT_A);
    let session_id = client
        .create_face_liveness_session()
        .send()
        .await
        .unwrap()
        .session_id;
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
        &dir.path().join("sent.webm"),
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
    let stored = std::fs::read(
        server
            .data_dir
            .join("evidence")
            .join(&session_id)
            .join("video.bin"),
    )
    .unwrap();
    assert_eq!(stored.len(), video.len());
    assert!(stored == video, "stored video differs from the file sent");

    // The engine analysed the video (a test pattern, no face): SUCCEEDED, with a confidence
    // far below any operating point.
    let results = client
        .get_face_liveness_session_results()
        .session_id(&session_id)
        .send()
        .await
        .unwrap();
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

#[tokio::test]
async fn an_amplify_built_websocket_session_completes_and_the_server_closes_with_1000() {
    let server = Server::start(Options {
        dev_tls: true,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("sent.webm");
    std::fs::write(&video, test_video(dir.path())).unwrap();
    let session_id = sdk_client(&server, TENANT_A)
        .create_face_liveness_session()
        .send()
        .await
        .unwrap()
        .session_id;
    let report = node(
        "amplify-websocket.mjs",
        &server,
        &server.url,
        &session_id,
        &video,
        &[],
    );
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
        event_types(&report).last().map(String::as_str),
        Some("DisconnectionEvent")
    );
}

#[tokio::test]
async fn amplify_negative_cases_get_the_right_errors() {
    let server = Server::start(Options {
        dev_tls: true,
        ..Options::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("sent.webm");
    std::fs::write(&video, test_video(dir.path())).unwrap();
    let client = sdk_client(&server, TENANT_A);
    let new_session = || async {
        client
            .create_face_liveness_session()
            .send()
            .await
            .unwrap()
            .session_id
    };

    // A tampered chunk signature mid-stream: a ValidationException event.
    let tampered = new_session().await;
    let report = node(
        "amplify-websocket.mjs",
        &server,
        &server.url,
        &tampered,
        &video,
        &["--tamper-signature", "3"],
    );
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report.to_string().contains("ValidationException"),
        "{report}"
    );

    // A replayed envelope.
    let replayed = new_session().await;
    let report = node(
        "amplify-websocket.mjs",
        &server,
        &server.url,
        &replayed,
        &video,
        &["--replay", "2"],
    );
    assert!(
        report.to_string().contains("ValidationException"),
        "{report}"
    );

    // A user cancel (close 4003) fails the session.
    let cancelled = new_session().await;
    node(
        "amplify-websocket.mjs",
        &server,
        &server.url,
        &cancelled,
        &video,
        &["--close-with", "4003"],
    );
    let results = client
        .get_face_liveness_session_results()
        .session_id(&cancelled)
        .send()
        .await
        .unwrap();
    assert_eq!(results.status, LivenessSessionStatus::Failed);

    // An expired presigned URL is refused before the upgrade; the session can still be used.
    let later = new_session().await;
    let report = node(
        "amplify-websocket.mjs",
        &server,
        &server.url,
        &later,
        &video,
        &["--clock-offset-ms=-600000"],
    );
    assert_eq!(report["ok"], false, "{report}");
    let results = client
        .get_face_liveness_session_results()
        .session_id(&later)
        .send()
        .await
        .unwrap();
    assert_eq!(results.status, LivenessSessionStatus::Created);

    // A second start of a used session is refused.
    let report = node(
        "amplify-websocket.mjs",
        &server,
        &server.url,
        &tampered,
        &video,
        &[],
    );
    assert_eq!(report["ok"], false, "{report}");
}
