//! `openliveness`: the command-line program. `openliveness serve` runs the server.
//!
//! Configuration comes from a TOML file (`--config`), then environment variables, then flags;
//! later ones win. `serve`'s flags are declared with the settings, in
//! `openliveness_server::config`; `openliveness serve --help` lists them.

mod analyze;
mod decrypt;
mod eval;
mod play;
mod simulate;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use openliveness_server::clock::SystemClock;
use openliveness_server::config::{Config, FileConfig, LogFormat, ServeArgs};

#[derive(Debug, Parser)]
#[command(
    name = "openliveness",
    version,
    about = "A self-hosted face liveness service that speaks the Amazon Rekognition Face Liveness API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)] // Parsed once per process.
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Print what the face detector sees in a video, frame by frame (JSON lines), and
    /// optionally draw it on a contact sheet.
    Inspect(InspectArgs),
    /// Render a simulated liveness session (a live person or an attack) to a directory, or play
    /// it against a running server.
    Simulate(simulate::SimulateArgs),
    /// Open a file openliveness sealed under a KMS key (an image written by the local output,
    /// an evidence video.bin or evidence.json), with the configuration's [kms] keys.
    Decrypt(decrypt::DecryptArgs),
    /// Measure the engine on simulated sessions: APCER per attack species and BPCER at the
    /// operating thresholds, a DET curve and a markdown table.
    Eval(eval::EvalArgs),
    /// Run the liveness engine on a stored or simulated session's evidence and print the
    /// decision with every check's score and reason.
    Analyze(analyze::AnalyzeArgs),
}

/// What runs the face detector (`eval`, `analyze`; `serve` has it among its settings).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DetectorArgs {
    #[command(flatten)]
    detector: openliveness_server::config::DetectorSettings,
}

impl DetectorArgs {
    /// The engine on the backend asked for (without a configuration file: `eval`, `analyze`).
    pub(crate) fn engine(&self) -> Result<openliveness_engine::Engine, String> {
        let backend = self
            .detector
            .clone()
            .resolve(None, None)
            .map_err(|error| error.to_string())?;
        openliveness_engine::Engine::load(&openliveness_cli::engine_analyzer::engine_backend(
            &backend,
        )?)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Inspect(args) => inspect(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Decrypt(args) => decrypt::run(args),
    }
}

fn init_logging(args: &ServeArgs) {
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal: a log file or collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    init_logging(&args);
    let file = match &args.config {
        Some(path) => match FileConfig::load(path) {
            Ok(file) => file,
            Err(error) => return fail(&error),
        },
        None => FileConfig::default(),
    };
    let config = match Config::resolve(file, args.settings) {
        Ok(config) => config,
        Err(error) => return fail(&error),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error),
    };
    runtime.block_on(async move {
        let listen = config.listen;
        let (state, notice) =
            match openliveness_cli::engine_analyzer::prepare(config, Arc::new(SystemClock)) {
                Ok(prepared) => prepared,
                Err(error) => return fail(&error),
            };
        let tls = match openliveness_server::listener::configured_tls(&state.config) {
            Ok(tls) => tls,
            Err(error) => return fail(&error),
        };
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(error) => return fail(&format!("cannot listen on {listen}: {error}")),
        };
        let address = match listener.local_addr() {
            Ok(address) => address,
            Err(error) => return fail(&error),
        };
        for line in notice.0 {
            println!("{line}");
        }
        let plain_url = openliveness_server::local_url(address);
        let server_config = match tls {
            None => {
                println!("openliveness listening on {plain_url}");
                None
            }
            Some(tls) => {
                if let Some((path, generated)) = &tls.dev_certificate {
                    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
                    if *generated {
                        tracing::info!(path = %path.display(), "generated a dev TLS certificate");
                    }
                    println!("openliveness dev TLS certificate: {}", path.display());
                }
                println!("openliveness listening on https://{address}");
                println!("openliveness also serving plain HTTP on {plain_url}");
                Some(tls.server_config)
            }
        };
        tracing::info!(%address, tls = server_config.is_some(), "listening");
        match openliveness_server::serve(listener, state, server_config, shutdown_signal()).await {
            Ok(()) => {
                tracing::info!("stopped");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        }
    })
}

pub(crate) fn fail(error: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("openliveness: {error}");
    ExitCode::FAILURE
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}

// --- `openliveness inspect` (crates/vision) ---------------------------------------------------

#[derive(Debug, clap::Args)]
struct InspectArgs {
    /// The video file: WebM (VP8 or VP9) or MP4 (H.264), as a browser records it.
    #[arg(value_name = "VIDEO")]
    video: PathBuf,

    /// The BlazeFace model. Default: $OPENLIVENESS_BLAZEFACE_MODEL, else
    /// models/face_detection_front_128x128_barracuda.onnx (scripts/setup-vision.sh installs it).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,

    /// Run the detector on every n-th frame; the face is carried in between.
    #[arg(long, default_value_t = std::num::NonZeroU32::MIN, value_name = "N")]
    detect_every: std::num::NonZeroU32,

    /// Also draw frames spread over the video, with their face boxes (green: detected, yellow:
    /// carried) and keypoints, into this PNG file.
    #[arg(long, value_name = "PNG")]
    contact_sheet: Option<PathBuf>,

    /// How many frames the contact sheet shows at most.
    #[arg(long, default_value_t = 24, value_name = "N")]
    sheet_frames: u32,
}

fn inspect(args: InspectArgs) -> ExitCode {
    use openliveness_vision::detect::{default_model_path, BlazeFace, DetectorConfig};
    use openliveness_vision::inspect::{inspect, ContactSheetOptions, InspectOptions};
    use std::io::Write;

    let video = match std::fs::read(&args.video) {
        Ok(video) => video,
        Err(error) => return fail(&format!("cannot read {}: {error}", args.video.display())),
    };
    let model = args.model.unwrap_or_else(default_model_path);
    let detector = match BlazeFace::load(&model, DetectorConfig::default()) {
        Ok(detector) => detector,
        Err(error) => return fail(&error),
    };
    let mut options = InspectOptions {
        detect_every: args.detect_every,
        contact_sheet: args.contact_sheet.map(|path| ContactSheetOptions {
            max_frames: args.sheet_frames,
            ..ContactSheetOptions::new(path)
        }),
        ..InspectOptions::default()
    };
    // A local file of the user's own: the server's input size limit does not apply.
    let length = u64::try_from(video.len()).unwrap_or(u64::MAX);
    options.decode.limits.max_input_bytes = options.decode.limits.max_input_bytes.max(length);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let result = inspect(&video, &detector, &options, &mut out);
    let flushed = out.flush();
    match (result, flushed) {
        (Ok(_), Ok(())) => ExitCode::SUCCESS,
        (Err(error), _) => fail(&error),
        (_, Err(error)) => fail(&error),
    }
}
