//! `openliveness simulate`: render one simulated session and write it to a directory (video,
//! chunks, the client's events, a contact sheet), or play it against a running server.

use std::path::PathBuf;
use std::process::ExitCode;

use openliveness_client::Pace;
use openliveness_sim::{ChallengeSpec, Ranges, SessionSpec, Species, World};

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Who answers: bona-fide, printed-photo, bent-photo, screen-replay, video-injection,
    /// static-image, delayed-colours, misses-oval, two-faces, face-swap, relit-replay or
    /// cut-out-mask.
    #[arg(long, default_value = "bona-fide", value_parser = parse_species)]
    pub species: Species,

    /// The seed: the same seed gives the same session, byte for byte.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Video size, WIDTHxHEIGHT (default: 640x480 in the studio; in the room, the resolution the
    /// seed draws).
    #[arg(long, value_parser = parse_size)]
    pub size: Option<(u32, u32)>,

    #[command(flatten)]
    pub world: WorldArgs,

    /// Simulate a FaceMovementChallenge (no colours) instead of FaceMovementAndLightChallenge.
    #[arg(long)]
    pub movement_only: bool,

    /// Write the session here (video.webm, chunk-NNN.webm, events.json, recording.json,
    /// contact-sheet.png, and evidence.json with video.bin as a server keeps them).
    #[arg(long, value_name = "DIR", required_unless_present = "endpoint")]
    pub out: Option<PathBuf>,

    /// Also write one row of eight frames from the start to the end, as a small JPEG (the
    /// contact sheets in docs/evaluation/room/).
    #[arg(long, value_name = "FILE", requires = "out")]
    pub strip: Option<PathBuf>,

    /// Play the session against this server (`http://HOST:PORT`) instead: create a session,
    /// stream the response to the challenge it issues over the WebSocket transport, get the
    /// results.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    #[command(flatten)]
    pub keys: crate::play::KeyArgs,

    /// Send the video as fast as possible instead of in real time.
    #[arg(long)]
    pub fast: bool,
}

/// Which simulated world, and the conditions fixed in it.
#[derive(Debug, Clone, clap::Args)]
pub struct WorldArgs {
    /// `studio`: the first simulator's world (a face before a far wall, the screen brighter than
    /// the room, no automatic white balance), where the engine was calibrated; `room`: the whole
    /// person in a room, in physical units, seen by a camera with auto exposure and white balance.
    #[arg(long, default_value = "studio", value_parser = ["studio", "room"])]
    pub world: String,

    /// Draw the room's conditions from the stress ranges (beyond the normal ones on one to
    /// three axes: brighter room, dimmer screen, closer wall, faster white balance, fewer frames).
    #[arg(long)]
    pub stress: bool,

    /// Fix one axis of the room's conditions, AXIS=VALUE (repeatable), e.g. `room_lux=20`,
    /// `device=laptop`, `skin_type=6`, `controls=locked`, `resolution=480x640`.
    #[arg(long = "condition", value_name = "AXIS=VALUE", value_parser = parse_condition)]
    pub conditions: Vec<(String, String)>,
}

impl WorldArgs {
    pub fn world(&self) -> Result<World, String> {
        if self.world == "studio" {
            if self.stress || !self.conditions.is_empty() {
                return Err("--stress and --condition need --world room".to_owned());
            }
            return Ok(World::Studio);
        }
        let ranges = if self.stress {
            Ranges::Stress
        } else {
            Ranges::Normal
        };
        World::room(ranges, self.conditions.clone())
    }
}

fn parse_condition(text: &str) -> Result<(String, String), String> {
    let (axis, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not AXIS=VALUE"))?;
    Ok((axis.trim().to_owned(), value.trim().to_owned()))
}

/// The video's size: the one asked for, else the room's drawn resolution, else 640x480.
pub fn size_of(asked: Option<(u32, u32)>, world: &World, seed: u64) -> (u32, u32) {
    asked
        .or_else(|| {
            world
                .room_conditions(seed)
                .map(|room| (room.width, room.height))
        })
        .unwrap_or((640, 480))
}

pub fn parse_species(text: &str) -> Result<Species, String> {
    Species::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Species::ALL.iter().map(|species| species.name()).collect();
        format!("unknown species {text:?}: one of {}", names.join(", "))
    })
}

pub fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (width, height) = text
        .split_once('x')
        .ok_or_else(|| format!("{text:?} is not WIDTHxHEIGHT"))?;
    let parse = |value: &str| {
        value
            .parse::<u32>()
            .ok()
            .filter(|value| (64..=1920).contains(value) && value % 2 == 0)
            .ok_or_else(|| format!("{value:?} is not an even size from 64 to 1920"))
    };
    Ok((parse(width)?, parse(height)?))
}

pub fn run(args: SimulateArgs) -> ExitCode {
    let world = match args.world.world() {
        Ok(world) => world,
        Err(error) => return crate::fail(&error),
    };
    let size = size_of(args.size, &world, args.seed);
    if let Some(endpoint) = &args.endpoint {
        let pace = if args.fast {
            Pace::AsFastAsPossible
        } else {
            Pace::RealTime
        };
        return match args.keys.client(endpoint) {
            Ok(client) => crate::play::run_one(&client, args.species, args.seed, size, world, pace),
            Err(error) => crate::fail(&error),
        };
    }
    let Some(out) = &args.out else {
        return crate::fail(&"--out or --endpoint is required");
    };
    let (width, height) = size;
    // The challenge the server would issue, so that the evidence written below is what a server
    // keeps (`openliveness analyze` reads it).
    let issued = if args.movement_only {
        openliveness_protocol::challenge::issue(
            openliveness_protocol::ChallengeKind::FaceMovementChallenge,
            openliveness_protocol::ChallengeVersion(1, 0, 0),
            width,
            height,
            &mut openliveness_protocol::challenge::SeededRandom::new(args.seed),
        )
    } else {
        openliveness_sim::issued_challenge(args.seed, width, height)
    };
    let Some(challenge) = ChallengeSpec::from_server(&issued.server_challenge, width, height)
    else {
        return crate::fail(&"the issued challenge has no member");
    };
    let spec = SessionSpec {
        species: args.species,
        seed: args.seed,
        challenge,
        world,
    };
    let recording = match openliveness_sim::simulate(&spec) {
        Ok(recording) => recording,
        Err(error) => return crate::fail(&error),
    };
    let encoded = match openliveness_sim::encode(&recording) {
        Ok(encoded) => encoded,
        Err(error) => return crate::fail(&error),
    };
    let messages = openliveness_sim::client_messages(
        &recording,
        &encoded,
        openliveness_sim::evidence::EPOCH_MS,
        "00000000-0000-4000-8000-000000000000",
    );
    let evidence = match openliveness_sim::evidence_of(&issued, &recording, &encoded) {
        Ok(evidence) => evidence,
        Err(error) => return crate::fail(&error),
    };
    let written = openliveness_sim::session::write_dir(out, &recording, &encoded, &messages)
        .and_then(|()| {
            let json = serde_json::to_vec_pretty(&evidence).map_err(std::io::Error::other)?;
            std::fs::write(out.join("evidence.json"), json)?;
            std::fs::write(out.join("video.bin"), &evidence.video)
        });
    if let Err(error) = written {
        return crate::fail(&format!("cannot write {}: {error}", out.display()));
    }
    if let Some(strip) = &args.strip {
        let row = openliveness_sim::session::contact_sheet(&recording, 8, 1, 160);
        let jpeg = openliveness_engine::images::jpeg(&row, 85);
        if let Err(error) = std::fs::write(strip, jpeg) {
            return crate::fail(&format!("cannot write {}: {error}", strip.display()));
        }
    }
    println!(
        "{} seed {}: {} frames, {} bytes of video in {} chunks, written to {}",
        args.species,
        args.seed,
        recording.frames.len(),
        encoded.video.len(),
        encoded.chunks.len(),
        out.display()
    );
    ExitCode::SUCCESS
}
