//! The face detector's backend as the server's configuration selects it (`[detector]`,
//! `--detector-backend`), through start-up (`engine_analyzer::prepare`) as the binary runs it: a build
//! without the `onnxruntime` feature, or ONNX Runtime's library missing, refuses to start with
//! an error that says what to do; with the feature and the library
//! (`scripts/setup-vision.sh --onnxruntime`) the server decides sessions on ONNX Runtime.
//!
//! `cargo test -p openliveness-cli --features onnxruntime --test detector_backend`.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

#[cfg(feature = "onnxruntime")]
#[path = "../../server/tests/support/loopback.rs"]
mod loopback;
#[cfg(feature = "onnxruntime")]
#[path = "support/simulated.rs"]
mod simulated;

use std::sync::Arc;

use openliveness_cli::engine_analyzer::prepare;
use openliveness_server::bootstrap::StartError;
use openliveness_server::clock::SystemClock;
use openliveness_server::config::{Config, FileConfig, Overrides};

/// The configuration of `text` with its data in `dir`.
fn config(dir: &std::path::Path, text: &str) -> Config {
    let file: FileConfig = toml::from_str(text).unwrap();
    let overrides = Overrides {
        data_dir: Some(dir.to_owned()),
        ..Overrides::default()
    };
    Config::resolve(file, overrides).unwrap()
}

fn start_error(config: Config) -> String {
    match prepare(config, Arc::new(SystemClock)) {
        Err(error @ StartError::Engine(_)) => error.to_string(),
        Err(other) => panic!("expected an engine error, got {other}"),
        Ok(_) => panic!("the server started"),
    }
}

#[cfg(not(feature = "onnxruntime"))]
#[tokio::test]
async fn onnxruntime_is_refused_by_a_build_without_it() {
    let dir = tempfile::tempdir().unwrap();
    let error = start_error(config(
        dir.path(),
        "[detector]\nbackend = \"onnxruntime\"\n",
    ));
    assert!(
        error.contains("not in this build") && error.contains("--features onnxruntime"),
        "{error}"
    );
}

#[cfg(feature = "onnxruntime")]
#[tokio::test]
async fn a_missing_onnxruntime_library_is_named_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libonnxruntime.so.missing");
    let text = format!(
        "[detector]\nbackend = \"onnxruntime\"\nonnxruntime_library = {:?}\n",
        missing.display().to_string()
    );
    let error = start_error(config(dir.path(), &text));
    assert!(
        error.contains(&missing.display().to_string())
            && error.contains("scripts/setup-vision.sh --onnxruntime"),
        "{error}"
    );
}

/// A live session and a printed photo, played over the WebSocket transport against the server
/// started on ONNX Runtime (the library where `scripts/setup-vision.sh --onnxruntime` puts it),
/// its challenges seeded so that every run plays the same sessions.
#[cfg(feature = "onnxruntime")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_decides_on_onnxruntime() {
    use openliveness_client::{Client, Endpoint, Keys};
    use openliveness_protocol::challenge::SeededRandom;
    use openliveness_sim::Species;
    use simulated::{decided_confidence, play_fast};

    const KEY: &str = "AKIDONNXRUNTIME";
    const SECRET: &str = "onnxruntime-secret";
    let library = openliveness_vision::detect::default_onnxruntime_library_path();
    assert!(
        library.is_file(),
        "{} is missing: run scripts/setup-vision.sh --onnxruntime",
        library.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path(), "[detector]\nbackend = \"onnxruntime\"\n");
    config.credentials.push(openliveness_auth::Credential::new(
        KEY,
        SECRET,
        "111111111111",
    ));
    let (state, _notice) = prepare(config, Arc::new(SystemClock)).unwrap();
    let state = Arc::new(
        Arc::into_inner(state)
            .unwrap()
            .with_challenge_random(SeededRandom::new(7)),
    );
    let address = loopback::serve(&state).await.to_string();
    let target = Client::new(Endpoint::at(&address), Keys::new(KEY, SECRET));
    let live = decided_confidence(&play_fast(&target, Species::BonaFide, 7).await);
    assert!(live >= 90.0, "live: {live}");
    let print = decided_confidence(&play_fast(&target, Species::PrintedPhoto, 12).await);
    assert!(print < 50.0, "printed photo: {print}");
}
