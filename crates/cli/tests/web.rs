//! The browser page end to end: Debian's Chromium, driven by playwright-core
//! (`tests/web/e2e.mjs`), with a fake camera replaying an FFmpeg-made video of a photograph,
//! opens the page the real binary serves with `--demo`, gets a session and client credentials,
//! finds the face, flashes the colours, streams the WebM over the presigned WebSocket and shows
//! the result. A fixed video cannot answer the colour challenge: the test asserts that the
//! session ended with a final status that the page shows and that GetFaceLivenessSessionResults
//! agrees. Screenshots of each step are kept in `$CARGO_TARGET_TMPDIR/web-e2e/`.
//!
//! Needs `scripts/setup-web.sh` (and what it needs: `scripts/setup-node.sh`,
//! `scripts/setup-vision.sh`): `scripts/test.sh` runs them first.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use aws_sdk_rekognition::operation::get_face_liveness_session_results::GetFaceLivenessSessionResultsOutput;
use aws_sdk_rekognition::types::LivenessSessionStatus;
use common::node::repo;
use common::{sdk_client, Options, Server, TENANT_A};

/// What the end-to-end tests need, or a failure that says how to get it.
fn require_web_setup() {
    for (path, what) in [
        ("web/dist/index.html", "the built page"),
        (
            "web/dist/models/face_detection_front_128x128_barracuda.onnx",
            "the page's face model",
        ),
        ("tests/web/node_modules/playwright-core", "playwright-core"),
        ("testdata/vision/astronaut.png", "the test photograph"),
    ] {
        assert!(
            repo().join(path).exists(),
            "{what} ({path}) is missing: run scripts/setup-web.sh (after scripts/setup-node.sh and scripts/setup-vision.sh)"
        );
    }
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: run scripts/setup-web.sh"
    );
}

/// A 640x480 y4m of the photograph slowly zooming in, 15 frames a second, exactly the size the
/// page asks for (Chromium would crop another size).
fn fake_camera(dir: &Path) -> PathBuf {
    let path = dir.join("camera.y4m");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-loop", "1", "-framerate", "15", "-i"])
        .arg(repo().join("testdata/vision/astronaut.png"))
        .args([
            "-vf",
            "scale=640:-2,crop=640:480:0:0,\
             zoompan=z='1+0.0015*on':x='iw/2-(iw/zoom/2)':y='ih/2-(ih/zoom/2)':d=1:s=640x480:fps=15,\
             format=yuv420p",
            "-frames:v",
            "90",
            "-f",
            "yuv4mpegpipe",
        ])
        .arg(&path)
        .status()
        .expect("run ffmpeg (scripts/setup-node.sh installs it)");
    assert!(status.success());
    path
}

fn artifacts(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("web-e2e")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs `tests/web/e2e.mjs`; its JSON report.
fn e2e(url: &str, camera: &Path, artifacts: &Path, page: &str) -> serde_json::Value {
    let output = Command::new("node")
        .arg(repo().join("tests/web/e2e.mjs"))
        .args(["--url", url, "--page", page])
        .arg("--y4m")
        .arg(camera)
        .arg("--artifacts")
        .arg(artifacts)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|error| {
        panic!(
            "e2e.mjs: no JSON report ({error}); stdout: {stdout}; stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A page the real binary serves with `--demo` from `root`, and a fake camera for it.
struct Page {
    /// `page` of `tests/web/e2e.mjs`, and the name of the screenshots' directory.
    name: &'static str,
    root: PathBuf,
    dev_tls: bool,
    /// Writes the camera's y4m video into a directory; its path.
    camera: fn(&Path) -> PathBuf,
}

impl Page {
    /// Starts the server and runs `tests/web/e2e.mjs` through the page until it reports
    /// success: the server and the report.
    fn complete_a_session(&self) -> (Server, serde_json::Value) {
        let server = Server::start(Options {
            dev_tls: self.dev_tls,
            ..Options::with_config(format!(
                "[web]\ndemo = true\nroot = \"{}\"\n",
                self.root.display()
            ))
        });
        let dir = tempfile::tempdir().unwrap();
        let camera = (self.camera)(dir.path());
        let artifacts = artifacts(self.name);
        let report = e2e(&server.url, &camera, &artifacts, self.name);
        println!("screenshots: {}", artifacts.display());
        assert_eq!(report["ok"], true, "{report:#}");
        (server, report)
    }
}

#[tokio::test]
async fn our_page_completes_a_session_and_shows_the_result() {
    require_web_setup();
    let (server, report) = Page {
        name: "ours",
        root: repo().join("web/dist"),
        dev_tls: false,
        camera: fake_camera,
    }
    .complete_a_session();
    let steps: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for step in [
        "camera",
        "face",
        "oval",
        "flash",
        "uploading",
        "analysing",
        "result",
    ] {
        assert!(steps.contains(&step), "{step} missing from {steps:?}");
    }
    assert!(
        report["screenshots"].as_array().unwrap().len() >= 6,
        "{report:#}"
    );

    // The page shows the final status GetFaceLivenessSessionResults returns.
    let session_id = report["sessionId"].as_str().unwrap();
    let result = analysed_with_low_confidence(&server, session_id).await;
    assert_eq!(report["resultStatus"], result.status.as_str(), "{report:#}");
}

/// The Amplify example's fake camera: the photograph's face centred, far for 3 s, brought closer
/// over 2 s until it is about as wide as the oval the server draws (40-48 % of the frame), then
/// held: 13 s at 20 frames a second, 640x480.
fn amplify_camera(dir: &Path) -> PathBuf {
    let path = dir.join("amplify-camera.y4m");
    // The face's centre (between the eyes and the nose) in the 512x512 photograph, and the scale.
    let scale = "if(lt(t,3),1.5,if(lt(t,5),1.5+(t-3)*0.9,3.3))";
    let filter = format!(
        "scale=w='trunc(512*{scale}/2)*2':h=-2:eval=frame,\
         crop=640:480:x='max(0,223.8*{scale}-320)':y='max(0,114.3*{scale}-240)',format=yuv420p"
    );
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-loop", "1", "-framerate", "20", "-i"])
        .arg(repo().join("testdata/vision/astronaut.png"))
        .args(["-vf", &filter, "-t", "13", "-f", "yuv4mpegpipe"])
        .arg(&path)
        .status()
        .expect("run ffmpeg (scripts/setup-node.sh installs it)");
    assert!(status.success());
    path
}

#[tokio::test]
async fn the_amplify_example_reaches_on_analysis_complete() {
    require_web_setup();
    let dist = repo().join("examples/amplify/dist");
    assert!(
        dist.join("blazeface/model.json").exists() && dist.join("tfjs-wasm").exists(),
        "the Amplify example is not built: run scripts/setup-amplify.sh"
    );
    let (server, report) = Page {
        name: "amplify",
        root: dist,
        dev_tls: true,
        camera: amplify_camera,
    }
    .complete_a_session();

    let session_id = report["sessionId"].as_str().unwrap();
    analysed_with_low_confidence(&server, session_id).await;
}

/// GetFaceLivenessSessionResults for a fake camera's session. A fake camera replays a fixed
/// video: it cannot answer the colours, so the engine analyses it and gives it a low confidence.
async fn analysed_with_low_confidence(
    server: &Server,
    session_id: &str,
) -> GetFaceLivenessSessionResultsOutput {
    let result = sdk_client(server, TENANT_A)
        .get_face_liveness_session_results()
        .session_id(session_id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        result.status,
        LivenessSessionStatus::Succeeded,
        "{result:?}"
    );
    assert!(result.confidence.unwrap() < 50.0, "{result:?}");
    result
}
