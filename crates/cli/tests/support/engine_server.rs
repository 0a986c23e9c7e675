//! Test support: the server in process on a free loopback port, as the binary builds it from a
//! configuration, with the real liveness engine (loaded once per test binary) or without one
//! (every session `FAILED`), its challenges drawn from a seeded generator so that every run
//! plays the same sessions.
//!
//! The engine needs the face model (`scripts/setup-vision.sh`).

#![allow(dead_code)] // Each test binary uses its own part of this module.

#[path = "../../../server/tests/support/loopback.rs"]
mod loopback;
#[path = "../../../server/tests/support/tenants.rs"]
pub mod tenants;

use std::sync::{Arc, OnceLock};

use openliveness_auth::{Credential, StaticCredentials};
use openliveness_cli::engine_analyzer::EngineAnalyzer;
use openliveness_engine::Engine;
use openliveness_protocol::challenge::SeededRandom;
use openliveness_server::clock::{Clock, SystemClock};
use openliveness_server::config::{Config, FileConfig, Overrides};
use openliveness_server::AppState;
use openliveness_store::{RedbStore, RedbStoreConfig};

/// A running server.
pub struct Server {
    pub state: Arc<AppState>,
    /// `host:port`.
    pub address: String,
    /// `http://host:port`.
    pub url: String,
    /// The data directory.
    pub dir: tempfile::TempDir,
}

/// How to start one.
pub struct Options {
    /// Seeds the challenges' randomness.
    pub seed: u64,
    /// The real engine, or none (every session `FAILED`, no reports).
    pub engine: bool,
    pub clock: Arc<dyn Clock>,
    /// The configuration file's text (`[kms]`, `[anonymous]`, ...).
    pub toml: String,
    pub credentials: Vec<Credential>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            seed: 1,
            engine: true,
            clock: Arc::new(SystemClock),
            toml: String::new(),
            credentials: Vec::new(),
        }
    }
}

/// The engine with the default face model, shared by every server of the test binary.
pub fn engine() -> Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    Arc::clone(ENGINE.get_or_init(|| {
        Arc::new(Engine::load_default().expect("the face model: run scripts/setup-vision.sh"))
    }))
}

pub async fn start(options: Options) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut file: FileConfig = toml::from_str(&options.toml).expect("configuration");
    // The simulated client renders its whole response to the challenge before it sends a byte:
    // seconds in a debug build, and more than the 15 s default idle limit on a loaded machine,
    // which then ended the stream and failed a session that had done nothing wrong. The idle
    // limit has its own tests (crates/server/tests/streaming.rs); these servers allow the render.
    file.stream_idle_timeout_ms.get_or_insert(600_000);
    let overrides = Overrides {
        data_dir: Some(dir.path().to_owned()),
        ..Overrides::default()
    };
    let mut config = Config::resolve(file, overrides).expect("configuration");
    config.credentials.extend(options.credentials);
    let credentials = Arc::new(StaticCredentials::new(config.credentials.clone()));
    let store = Arc::new(RedbStore::open(RedbStoreConfig::in_dir(dir.path())).expect("store"));
    let output =
        openliveness_output::Output::configured(&config.output, &config.kms, &config.data_dir)
            .expect("[output]/[kms]");
    let mut state = AppState::new(config, store, credentials, options.clock)
        .with_output(Arc::new(output))
        .with_challenge_random(SeededRandom::new(options.seed));
    if options.engine {
        state = state.with_analyzer(Arc::new(EngineAnalyzer::new(engine())));
    }
    let state = Arc::new(state);
    let address = loopback::serve(&state).await.to_string();
    Server {
        state,
        url: format!("http://{address}"),
        address,
        dir,
    }
}
