//! Simulated sessions played against a running server: the simulator renders the response to
//! the challenge the server issues, `openliveness-client` plays it (`simulate --endpoint`, `eval
//! --endpoint` and the tests that run the server with the engine).

use std::time::SystemTime;

use openliveness_client::{Client, Outgoing, Pace, Played};
use openliveness_protocol::streaming::ServerChallenge;
use openliveness_sim::{Answer, Species, World};

/// Plays one simulated session: `species` answering the challenge the server issues with a
/// video of `size`, in the studio world.
pub async fn play(
    client: &Client,
    species: Species,
    seed: u64,
    size: (u32, u32),
    pace: Pace,
) -> Result<Played, String> {
    play_in(client, species, seed, size, World::Studio, pace).await
}

/// [`play`] in `world`.
pub async fn play_in(
    client: &Client,
    species: Species,
    seed: u64,
    size: (u32, u32),
    world: World,
    pace: Pace,
) -> Result<Played, String> {
    // The face's texture before a session is created for nothing.
    openliveness_sim::face::Texture::shared().map_err(|error| error.to_string())?;
    let respond = move |challenge: ServerChallenge| {
        let answer = Answer::render(species, seed, &challenge, size, &world)?;
        let epoch = openliveness_client::unix_millis(SystemTime::now());
        let script = answer.script(u64::try_from(epoch).unwrap_or(0));
        Ok(script
            .into_iter()
            .map(|message| Outgoing::event(message.at_ms, message.event_type, message.body))
            .collect())
    };
    client
        .play(size, respond, pace)
        .await
        .map_err(|error| error.to_string())
}
