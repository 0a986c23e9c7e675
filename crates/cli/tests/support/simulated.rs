//! Test support: simulated sessions played against a server by the simulator's client, as fast
//! as the server takes them, and what the tests read of their results.
//!
//! Needs the face photograph (`scripts/setup-vision.sh`).

use openliveness_cli::simulated::play;
use openliveness_client::{Client, Pace, Played};
use openliveness_sim::Species;

/// One session of `species`, its answer seeded by `seed`, played with `client` in 640x480 as fast
/// as the server takes it.
pub async fn play_fast(client: &Client, species: Species, seed: u64) -> Played {
    play(client, species, seed, (640, 480), Pace::AsFastAsPossible)
        .await
        .expect("a played session")
}

/// The confidence the server decided `played` with; it must have decided it (`SUCCEEDED`).
pub fn decided_confidence(played: &Played) -> f64 {
    assert_eq!(played.results["Status"], "SUCCEEDED", "{}", played.results);
    played.results["Confidence"].as_f64().expect("a confidence")
}
