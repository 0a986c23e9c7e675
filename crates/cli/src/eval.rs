//! `openliveness eval`: N seeded simulated sessions per species, decided by the engine in process
//! (or by a running server), and the ISO/IEC 30107-3 numbers: APCER per attack species and
//! BPCER at the operating thresholds and at the equal-error threshold, a DET curve as a PNG and a
//! markdown table.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use openliveness_client::{Client, Pace};
use openliveness_engine::Engine;
use openliveness_evidence::Evidence;
use openliveness_sim::{
    end_of_approach, evidence_of, issued_challenge, AxisValue, ChallengeSpec, Ranges, SessionSpec,
    Species, World, AXES,
};
use openliveness_vision::RgbImage;

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Sessions per species.
    #[arg(long, default_value_t = 100)]
    pub sessions: u64,

    /// The first seed; session i of species number k uses seed `first_seed + k * 1000000 + i`
    /// (default: 1000000 in the studio, else the --set's).
    #[arg(long)]
    pub first_seed: Option<u64>,

    /// One of the room world's three disjoint seed sets (implies `--world room`): `calibration`
    /// (seeds from 100000000, the only ones thresholds may be fitted on), `evaluation` (from
    /// 200000000) or `stress` (from 300000000, drawn from the stress ranges; never used to fit
    /// anything).
    #[arg(long, value_parser = ["calibration", "evaluation", "stress"])]
    pub set: Option<String>,

    #[command(flatten)]
    pub world: crate::simulate::WorldArgs,

    /// A quick run for CI: 4 sessions per species.
    #[arg(long)]
    pub quick: bool,

    /// Only these species (comma-separated names).
    #[arg(long, value_delimiter = ',', value_parser = crate::simulate::parse_species)]
    pub species: Vec<Species>,

    /// Video size, WIDTHxHEIGHT (default: 640x480 in the studio; in the room, the resolution each
    /// seed draws).
    #[arg(long, value_parser = crate::simulate::parse_size)]
    pub size: Option<(u32, u32)>,

    /// Write the report (report.md, det.png, sessions.jsonl) here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Exit with an error unless, at the operating threshold 50, every attack species' APCER is
    /// 0% and the BPCER at most --max-bpcer (for CI).
    #[arg(long)]
    pub check: bool,

    /// The most BPCER (percent) --check allows at the threshold 50.
    #[arg(long, default_value_t = 0.0, requires = "check")]
    pub max_bpcer: f64,

    /// Play the sessions against this server (`http://HOST:PORT`) over the WebSocket transport
    /// instead of deciding them in process (keys from --access-key-id/--secret-access-key or
    /// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,

    #[command(flatten)]
    pub keys: crate::play::KeyArgs,

    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,

    /// Keep each simulated session here (`<species>-<seed>/evidence.json` and `video.bin`, as a
    /// server stores evidence) and read it back instead of simulating it again: rendering and
    /// encoding cost far more than the analysis, so the same sessions can be decided again by a
    /// changed engine. The sessions depend only on the species, the seed and the size.
    #[arg(long, value_name = "DIR", conflicts_with = "endpoint")]
    pub sessions_dir: Option<PathBuf>,

    /// Only simulate the sessions into --sessions-dir; decide nothing.
    #[arg(long, requires = "sessions_dir")]
    pub simulate_only: bool,

    #[command(flatten)]
    pub detector: crate::DetectorArgs,
}

/// One decided session.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scored {
    pub species: Species,
    pub seed: u64,
    pub confidence: f64,
    pub deciding_check: String,
    pub checks: serde_json::Value,
    /// The room world's axes (none in the studio).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub axes: Vec<AxisValue>,
}

/// The first seed of each of the room world's seed sets.
pub fn set_first_seed(set: &str) -> u64 {
    match set {
        "calibration" => 100_000_000,
        "evaluation" => 200_000_000,
        _ => 300_000_000,
    }
}

/// The seed of session `index` of `species`.
pub fn seed_of(species: Species, first_seed: u64, index: u64) -> u64 {
    let position = Species::ALL.iter().position(|s| *s == species).unwrap_or(0) as u64;
    first_seed + position * 1_000_000 + index
}

/// The evidence of one simulated session: read from `cache` when it holds it, else simulated
/// (and written there).
pub fn session_evidence(
    species: Species,
    seed: u64,
    size: (u32, u32),
    world: &World,
    cache: Option<&std::path::Path>,
) -> Result<Evidence, String> {
    let name = match world {
        World::Studio => format!("{species}-{seed}-{}x{}", size.0, size.1),
        room => format!("{species}-{seed}-{}x{}-{}", size.0, size.1, room.label()),
    };
    let dir = cache.map(|cache| cache.join(name));
    if let Some(dir) = &dir {
        if dir.join("video.bin").exists() {
            let json = std::fs::read(dir.join("evidence.json")).map_err(|e| e.to_string())?;
            let mut evidence: Evidence =
                serde_json::from_slice(&json).map_err(|e| e.to_string())?;
            evidence.video = std::fs::read(dir.join("video.bin")).map_err(|e| e.to_string())?;
            return Ok(evidence);
        }
    }
    let evidence = simulate_evidence(species, seed, size, world)?;
    if let Some(dir) = &dir {
        // Written aside and renamed, so that a reader sees a whole session or none (and two
        // runs filling the same directory do not meet).
        let partial = dir.with_extension(format!("partial-{}", std::process::id()));
        let written = std::fs::create_dir_all(&partial)
            .and_then(|()| {
                std::fs::write(
                    partial.join("evidence.json"),
                    serde_json::to_vec(&evidence).unwrap_or_default(),
                )
            })
            .and_then(|()| std::fs::write(partial.join("video.bin"), &evidence.video))
            .and_then(|()| std::fs::rename(&partial, dir));
        if let Err(error) = written {
            let _ = std::fs::remove_dir_all(&partial);
            // Another run wrote the same session first: the same bytes.
            if !dir.join("video.bin").exists() {
                return Err(format!("{}: {error}", dir.display()));
            }
        }
    }
    Ok(evidence)
}

/// The spec of a simulated session: the challenge the server would issue for its seed.
fn spec_of(
    species: Species,
    seed: u64,
    size: (u32, u32),
    world: &World,
) -> Result<
    (
        openliveness_protocol::challenge::IssuedChallenge,
        SessionSpec,
    ),
    String,
> {
    let issued = issued_challenge(seed, size.0, size.1);
    let challenge = ChallengeSpec::from_server(&issued.server_challenge, size.0, size.1)
        .ok_or("the issued challenge has no member")?;
    let spec = SessionSpec {
        species,
        seed,
        challenge,
        world: world.clone(),
    };
    Ok((issued, spec))
}

/// The room's axes of a session (none in the studio), drawn without rendering it.
pub fn axes_of(species: Species, seed: u64, size: (u32, u32), world: &World) -> Vec<AxisValue> {
    let (Some(room), Ok((_, spec))) = (
        world.room_conditions(seed),
        spec_of(species, seed, size, world),
    ) else {
        return Vec::new();
    };
    let (distance, share) = end_of_approach(&spec);
    room.axes(distance, share)
}

fn simulate_evidence(
    species: Species,
    seed: u64,
    size: (u32, u32),
    world: &World,
) -> Result<Evidence, String> {
    let (issued, spec) = spec_of(species, seed, size, world)?;
    let recording = openliveness_sim::simulate(&spec).map_err(|e| e.to_string())?;
    let encoded = openliveness_sim::encode(&recording).map_err(|e| e.to_string())?;
    evidence_of(&issued, &recording, &encoded)
}

/// Simulates (or reads from `cache`) and decides one session in process.
pub fn score_one(
    engine: &Engine,
    species: Species,
    seed: u64,
    size: (u32, u32),
    world: &World,
    cache: Option<&std::path::Path>,
) -> Result<Scored, String> {
    let evidence = session_evidence(species, seed, size, world, cache)?;
    let outcome = engine.analyze(&evidence, 0)?;
    Ok(Scored {
        species,
        seed,
        confidence: outcome.report.confidence,
        deciding_check: outcome.report.deciding_check.to_owned(),
        checks: serde_json::to_value(&outcome.report.checks).unwrap_or_default(),
        axes: axes_of(species, seed, size, world),
    })
}

/// Plays one session against a server and reads its confidence from the results.
fn play_one(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    species: Species,
    seed: u64,
    size: (u32, u32),
    world: &World,
) -> Result<Scored, String> {
    let played = runtime.block_on(crate::play::play_in(
        client,
        species,
        seed,
        size,
        world.clone(),
        Pace::AsFastAsPossible,
    ))?;
    let results = &played.results;
    if results["Status"] != "SUCCEEDED" {
        return Err(format!(
            "session {} ended {}",
            played.session_id, results["Status"]
        ));
    }
    Ok(Scored {
        species,
        seed,
        confidence: results["Confidence"]
            .as_f64()
            .ok_or("no Confidence in the results")?,
        deciding_check: "(server)".to_owned(),
        checks: serde_json::Value::Null,
        axes: axes_of(species, seed, size, world),
    })
}

/// The error rates at one threshold: BPCER and APCER per attack species (ratios).
pub fn rates(scores: &[Scored], threshold: f64) -> (f64, BTreeMap<Species, f64>) {
    let bona: Vec<&Scored> = scores.iter().filter(|s| !s.species.is_attack()).collect();
    let bpcer =
        bona.iter().filter(|s| s.confidence < threshold).count() as f64 / bona.len().max(1) as f64;
    let mut apcer = BTreeMap::new();
    for species in Species::ATTACKS {
        let attacks: Vec<&Scored> = scores.iter().filter(|s| s.species == species).collect();
        if attacks.is_empty() {
            continue;
        }
        let accepted = attacks.iter().filter(|s| s.confidence >= threshold).count();
        apcer.insert(species, accepted as f64 / attacks.len() as f64);
    }
    (bpcer, apcer)
}

fn worst(apcer: &BTreeMap<Species, f64>) -> f64 {
    apcer.values().copied().fold(0.0, f64::max)
}

/// Thresholds from 0 to 100 in steps of 0.5.
fn thresholds() -> impl Iterator<Item = f64> {
    (0..=200).map(|i| f64::from(i) * 0.5)
}

/// The report as markdown.
pub fn markdown(scores: &[Scored], command: &str) -> String {
    let mut out = String::new();
    let count = |species: Species| scores.iter().filter(|s| s.species == species).count();
    let eer_threshold = thresholds()
        .min_by(|a, b| {
            let gap = |t: f64| {
                let (bpcer, apcer) = rates(scores, t);
                (bpcer - worst(&apcer)).abs()
            };
            gap(*a).total_cmp(&gap(*b))
        })
        .unwrap_or(50.0);
    let zero_apcer = thresholds().find(|t| worst(&rates(scores, *t).1) == 0.0);
    let mut rows: Vec<(String, f64)> = vec![
        ("50 (operating point)".to_owned(), 50.0),
        ("90 (operating point)".to_owned(), 90.0),
        (format!("{eer_threshold:.1} (equal error)"), eer_threshold),
    ];
    if let Some(t) = zero_apcer {
        rows.push((format!("{t:.1} (lowest with every APCER 0%)"), t));
    }
    out.push_str(&format!("Command: `{command}`\n\n"));
    out.push_str("| threshold | BPCER |");
    for species in Species::ATTACKS {
        if count(species) > 0 {
            out.push_str(&format!(" APCER {species} |"));
        }
    }
    out.push_str("\n|---|---:|");
    for species in Species::ATTACKS {
        if count(species) > 0 {
            out.push_str("---:|");
        }
    }
    out.push('\n');
    for (label, threshold) in rows {
        let (bpcer, apcer) = rates(scores, threshold);
        out.push_str(&format!("| {label} | {:.1}% |", bpcer * 100.0));
        for value in apcer.values() {
            out.push_str(&format!(" {:.1}% |", value * 100.0));
        }
        out.push('\n');
    }
    out.push_str("\n| species | sessions | min confidence | median | max | deciding check (most often) |\n|---|---:|---:|---:|---:|---|\n");
    for species in Species::ALL {
        let mut values: Vec<f64> = scores
            .iter()
            .filter(|s| s.species == species)
            .map(|s| s.confidence)
            .collect();
        if values.is_empty() {
            continue;
        }
        values.sort_by(f64::total_cmp);
        let mut deciding: BTreeMap<&str, usize> = BTreeMap::new();
        for s in scores.iter().filter(|s| s.species == species) {
            *deciding.entry(s.deciding_check.as_str()).or_default() += 1;
        }
        let most = deciding
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(name, n)| format!("{name} ({n})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "| {species} | {} | {:.1} | {:.1} | {:.1} | {most} |\n",
            values.len(),
            values[0],
            values[values.len() / 2],
            values[values.len() - 1]
        ));
    }
    if scores.iter().any(|s| !s.axes.is_empty()) {
        out.push_str(&axis_tables(scores));
    }
    out
}

/// Per axis of the room world, per bucket: the sessions, BPCER at 50 and the worst attack
/// species' APCER at 50; then each numeric axis' drawn distribution.
pub fn axis_tables(scores: &[Scored]) -> String {
    let mut out = String::from("\n## By condition (threshold 50)\n");
    for axis in AXES {
        // Bucket -> (the smallest value in it, for the order; the sessions).
        let mut buckets: BTreeMap<&str, (f64, Vec<&Scored>)> = BTreeMap::new();
        let mut values = Vec::new();
        for scored in scores {
            let Some(found) = scored.axes.iter().find(|a| a.axis == axis) else {
                continue;
            };
            let value = found.value.parse::<f64>().ok();
            values.extend(value);
            let entry = buckets
                .entry(found.bucket.as_str())
                .or_insert((f64::INFINITY, Vec::new()));
            entry.0 = entry.0.min(value.unwrap_or(f64::INFINITY));
            entry.1.push(scored);
        }
        if buckets.is_empty() {
            continue;
        }
        let mut rows: Vec<(&str, (f64, Vec<&Scored>))> = buckets.into_iter().collect();
        rows.sort_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(a.0.cmp(b.0)));
        out.push_str(&format!(
            "\n### {axis}\n\n| bucket | live | BPCER | attacks | worst APCER |\n|---|---:|---:|---:|---|\n"
        ));
        for (bucket, (_, sessions)) in rows {
            let live: Vec<&&Scored> = sessions.iter().filter(|s| !s.species.is_attack()).collect();
            let rejected = live.iter().filter(|s| s.confidence < 50.0).count();
            let attacks = sessions.len() - live.len();
            let mut worst: Option<(f64, Species, usize, usize)> = None;
            for species in Species::ATTACKS {
                let of: Vec<&&Scored> = sessions.iter().filter(|s| s.species == species).collect();
                if of.is_empty() {
                    continue;
                }
                let accepted = of.iter().filter(|s| s.confidence >= 50.0).count();
                let rate = accepted as f64 / of.len() as f64;
                if worst.is_none_or(|(w, ..)| rate > w) {
                    worst = Some((rate, species, accepted, of.len()));
                }
            }
            let bpcer = if live.is_empty() {
                "-".to_owned()
            } else {
                format!(
                    "{:.1}% ({rejected}/{})",
                    rejected as f64 * 100.0 / live.len() as f64,
                    live.len()
                )
            };
            let apcer = match worst {
                Some((rate, species, accepted, of)) => {
                    format!("{:.1}% {species} ({accepted}/{of})", rate * 100.0)
                }
                None => "-".to_owned(),
            };
            out.push_str(&format!(
                "| {bucket} | {} | {bpcer} | {attacks} | {apcer} |\n",
                live.len()
            ));
        }
        if values.len() == scores.len() && !values.is_empty() {
            values.sort_by(f64::total_cmp);
            let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
            out.push_str(&format!(
                "\nDrawn over {} sessions: min {:.3}, 10th percentile {:.3}, median {:.3}, 90th percentile {:.3}, max {:.3}.\n",
                values.len(),
                at(0.0),
                at(0.1),
                at(0.5),
                at(0.9),
                at(1.0)
            ));
        }
    }
    out
}

/// The DET curve (worst-species APCER against BPCER over all thresholds) as an image.
pub fn det_curve(scores: &[Scored]) -> RgbImage {
    let (w, h) = (480u32, 480u32);
    let margin = 40.0;
    let mut data = vec![255u8; (w * h * 3) as usize];
    let mut plot = |x: f64, y: f64, rgb: [u8; 3]| {
        let px = (margin + x * (f64::from(w) - 2.0 * margin)).round() as i64;
        let py = (f64::from(h) - margin - y * (f64::from(h) - 2.0 * margin)).round() as i64;
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (xx, yy) = (px + dx, py + dy);
                if xx >= 0 && yy >= 0 && xx < i64::from(w) && yy < i64::from(h) {
                    let at = ((yy as u32 * w + xx as u32) * 3) as usize;
                    data[at..at + 3].copy_from_slice(&rgb);
                }
            }
        }
    };
    // Axes: BPCER (x) and APCER (y) from 0 to 1, with ticks every 10%.
    for i in 0..=100 {
        let t = f64::from(i) / 100.0;
        plot(t, 0.0, [0, 0, 0]);
        plot(0.0, t, [0, 0, 0]);
        if i % 10 == 0 {
            for k in 0..5 {
                plot(t, f64::from(k) * 0.004, [0, 0, 0]);
                plot(f64::from(k) * 0.004, t, [0, 0, 0]);
            }
        }
    }
    let mut previous: Option<(f64, f64)> = None;
    for threshold in thresholds() {
        let (bpcer, apcer) = rates(scores, threshold);
        let point = (bpcer, worst(&apcer));
        if let Some(from) = previous {
            for step in 0..=50 {
                let s = f64::from(step) / 50.0;
                plot(
                    from.0 + (point.0 - from.0) * s,
                    from.1 + (point.1 - from.1) * s,
                    [200, 30, 30],
                );
            }
        }
        previous = Some(point);
    }
    RgbImage::new(w, h, data)
        .unwrap_or_else(|_| RgbImage::filled(1, 1, [255; 3]).unwrap_or_else(|e| panic!("{e}")))
}

pub fn run(args: EvalArgs) -> ExitCode {
    let remote = match args.endpoint.as_deref().map(|url| args.keys.client(url)) {
        Some(Ok(client)) => Some(client),
        Some(Err(error)) => return crate::fail(&error),
        None => None,
    };
    let engine = match (&remote, args.detector.engine()) {
        (None, Err(error)) => return crate::fail(&error),
        (_, engine) => engine.ok(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return crate::fail(&error),
    };
    // A seed set is the room world's: the stress set draws from the stress ranges.
    let world = match args.set.as_deref() {
        None => args.world.world(),
        Some(set) => {
            let ranges = if set == "stress" || args.world.stress {
                Ranges::Stress
            } else {
                Ranges::Normal
            };
            World::room(ranges, args.world.conditions.clone())
        }
    };
    let world = match world {
        Ok(world) => world,
        Err(error) => return crate::fail(&error),
    };
    let first_seed = args
        .first_seed
        .or_else(|| args.set.as_deref().map(set_first_seed))
        .unwrap_or(1_000_000);
    let per_species = if args.quick { 4 } else { args.sessions };
    let species: Vec<Species> = if args.species.is_empty() {
        Species::ALL.to_vec()
    } else {
        args.species.clone()
    };
    let jobs: Vec<(Species, u64)> = species
        .iter()
        .flat_map(|s| (0..per_species).map(move |i| (*s, seed_of(*s, first_seed, i))))
        .collect();
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(species, seed)) = jobs.get(index) else {
                    break;
                };
                let cache = args.sessions_dir.as_deref();
                let size = crate::simulate::size_of(args.size, &world, seed);
                let scored = match (&remote, &engine) {
                    _ if args.simulate_only => {
                        session_evidence(species, seed, size, &world, cache).map(|_| None)
                    }
                    (Some(client), _) => {
                        play_one(&runtime, client, species, seed, size, &world).map(Some)
                    }
                    (None, Some(engine)) => {
                        score_one(engine, species, seed, size, &world, cache).map(Some)
                    }
                    (None, None) => Err("no engine".to_owned()),
                };
                match scored {
                    Ok(None) => {}
                    Ok(Some(scored)) => results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(scored),
                    Err(error) => failures
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(format!("{species} seed {seed}: {error}")),
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                let width = 40;
                let filled = finished * width / jobs.len().max(1);
                eprint!(
                    "\r[{}{}] {finished}/{}",
                    "#".repeat(filled),
                    " ".repeat(width - filled),
                    jobs.len()
                );
                let _ = std::io::stderr().flush();
            });
        }
    });
    eprintln!();
    let mut scores = results.into_inner().unwrap_or_else(|e| e.into_inner());
    scores.sort_by_key(|s| (s.species, s.seed));
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    for failure in &failures {
        eprintln!("could not evaluate {failure}");
    }
    if args.simulate_only {
        return if failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let report = markdown(&scores, &command);
    println!("{report}");
    if let Some(dir) = &args.out {
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(dir.join("report.md"), &report))
            .and_then(|()| {
                let lines: Vec<String> = scores
                    .iter()
                    .filter_map(|s| serde_json::to_string(s).ok())
                    .collect();
                std::fs::write(dir.join("sessions.jsonl"), lines.join("\n") + "\n")
            })
            .and_then(|()| {
                openliveness_sim::session::write_png(&dir.join("det.png"), &det_curve(&scores))
            });
        if let Err(error) = written {
            return crate::fail(&format!("cannot write {}: {error}", dir.display()));
        }
    }
    if !failures.is_empty() {
        return ExitCode::FAILURE;
    }
    if args.check {
        let (bpcer, apcer) = rates(&scores, 50.0);
        if bpcer * 100.0 > args.max_bpcer || worst(&apcer) > 0.0 {
            return crate::fail(&format!(
                "at threshold 50: BPCER {:.1}% (at most {:.1}% allowed), worst APCER {:.1}% (must be 0%)",
                bpcer * 100.0,
                args.max_bpcer,
                worst(&apcer) * 100.0
            ));
        }
    }
    ExitCode::SUCCESS
}
