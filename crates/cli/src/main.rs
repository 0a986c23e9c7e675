//! `openliveness`: the command-line program. `openliveness serve` runs the server.
//!
//! Configuration comes from a TOML file (`--config`), then environment variables, then flags;
//! later ones win. `openliveness serve --help` lists every option.

mod analyze;
mod decrypt;
mod eval;
mod play;
mod simulate;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use openliveness_server::clock::SystemClock;
use openliveness_server::config::{Config, FileConfig, Overrides};

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

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// A TOML configuration file (listen, data_dir, session_ttl_secs, expired_retention_secs,
    /// sweep_interval_secs, tls_cert, tls_key, dev_tls, [limits], [[credentials]], [anonymous],
    /// [store]); see the README.
    #[arg(long, env = "OPENLIVENESS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// The address to listen on (port 0 picks a free port). Default: 127.0.0.1:8080.
    #[arg(long, env = "OPENLIVENESS_LISTEN", value_name = "ADDR:PORT")]
    listen: Option<SocketAddr>,

    /// Where sessions and generated credentials are kept. Default: ./openliveness-data.
    #[arg(long, env = "OPENLIVENESS_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// How long a session lives after it is created, in seconds. Default: 180 (as AWS).
    #[arg(long, env = "OPENLIVENESS_SESSION_TTL_SECS", value_name = "SECONDS")]
    session_ttl_secs: Option<u64>,

    /// The largest control-plane request body, in bytes. Default: 65536.
    #[arg(long, env = "OPENLIVENESS_MAX_BODY_BYTES", value_name = "BYTES")]
    max_body_bytes: Option<usize>,

    /// Serve unsigned requests (what `aws --no-sign-request` sends) for this tenant.
    /// Off unless set.
    #[arg(long, env = "OPENLIVENESS_ANONYMOUS_TENANT", value_name = "TENANT")]
    anonymous_tenant: Option<String>,

    /// An access key id to accept, with --secret-access-key and --tenant (added to the file's
    /// credentials).
    #[arg(long, env = "OPENLIVENESS_ACCESS_KEY_ID", requires_all = ["secret_access_key", "tenant"])]
    access_key_id: Option<String>,

    /// The secret of --access-key-id. Prefer the environment variable to the flag, which other
    /// users of the machine can see.
    #[arg(
        long,
        env = "OPENLIVENESS_SECRET_ACCESS_KEY",
        hide_env_values = true,
        requires = "access_key_id"
    )]
    secret_access_key: Option<String>,

    /// The tenant (account) of --access-key-id.
    #[arg(long, env = "OPENLIVENESS_TENANT", requires = "access_key_id")]
    tenant: Option<String>,

    /// Serve TLS with this certificate chain (PEM), with --tls-key. The port then answers HTTPS
    /// (HTTP/2 or HTTP/1.1 by ALPN) and, on the same port, plain HTTP and h2c.
    #[arg(
        long,
        env = "OPENLIVENESS_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,

    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) of --tls-cert.
    #[arg(
        long,
        env = "OPENLIVENESS_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,

    /// Serve TLS with a self-signed certificate for localhost, 127.0.0.1 and ::1, generated once
    /// into <data_dir>/tls/ and reused (renewed when it nears expiry). Its path is printed at
    /// start-up: make clients trust that file. For development only.
    #[arg(
        long,
        env = "OPENLIVENESS_DEV_TLS",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    dev_tls: bool,

    /// Keep sessions in Redis at this URL (`redis://[user:password@]host:port/db`), shared by
    /// every server behind a load balancer, instead of the embedded store in the data directory.
    /// Same as `[store] kind = "redis"` with `redis_url` in the file.
    #[arg(
        long,
        env = "OPENLIVENESS_REDIS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    store_redis_url: Option<String>,

    /// Enable the demo routes (`POST /demo/session`, unauthenticated: they create sessions and
    /// client credentials for the first configured tenant). For trying the page at `/` only.
    #[arg(
        long,
        env = "OPENLIVENESS_DEMO",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    demo: bool,

    /// Serve the browser client from this directory at `/` (default: web/dist).
    #[arg(long, env = "OPENLIVENESS_WEB_ROOT", value_name = "DIR")]
    web_root: Option<PathBuf>,

    #[command(flatten)]
    detector: DetectorArgs,

    /// Log format.
    #[arg(long, env = "OPENLIVENESS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Log filter, in `tracing` directives (e.g. `info`, `openliveness_server=debug`).
    #[arg(long, env = "OPENLIVENESS_LOG", default_value = "info")]
    log: String,
}

/// What runs the face detector (`serve`, `eval`, `analyze`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DetectorArgs {
    /// What runs the face detector: `tract` (built in, the default) or `onnxruntime` (about four
    /// times faster; needs a build with `--features onnxruntime` and ONNX Runtime's library,
    /// which scripts/setup-vision.sh --onnxruntime installs). Same as `[detector] backend`.
    #[arg(
        long,
        env = "OPENLIVENESS_DETECTOR_BACKEND",
        value_name = "BACKEND",
        value_parser = clap::builder::PossibleValuesParser::new(openliveness_engine::DetectorBackend::NAMES)
    )]
    detector_backend: Option<String>,

    /// ONNX Runtime's shared library, for --detector-backend onnxruntime. Default:
    /// models/libonnxruntime.so.1.31.1 (where scripts/setup-vision.sh --onnxruntime puts it).
    /// Same as `[detector] onnxruntime_library`.
    #[arg(long, env = "OPENLIVENESS_ONNXRUNTIME_LIBRARY", value_name = "FILE")]
    onnxruntime_library: Option<PathBuf>,
}

impl DetectorArgs {
    /// The engine on the backend asked for (without a configuration file: `eval`, `analyze`).
    pub(crate) fn engine(&self) -> Result<openliveness_engine::Engine, String> {
        let file = openliveness_server::config::FileDetector {
            backend: self.detector_backend.clone(),
            onnxruntime_library: self.onnxruntime_library.clone(),
        };
        let backend = file
            .resolve(None, None)
            .map_err(|error| error.to_string())?;
        openliveness_engine::Engine::load(&openliveness_cli::engine_analyzer::engine_backend(
            &backend,
        )?)
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
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
    let overrides = Overrides {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        session_ttl_secs: args.session_ttl_secs,
        max_body_bytes: args.max_body_bytes,
        anonymous_tenant: args.anonymous_tenant.clone(),
        credential: match (&args.access_key_id, &args.secret_access_key, &args.tenant) {
            (Some(id), Some(secret), Some(tenant)) => Some((
                id.clone(),
                openliveness_auth::SecretKey::new(secret.clone()),
                tenant.clone(),
            )),
            _ => None,
        },
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        dev_tls: args.dev_tls.then_some(true),
        store_redis_url: args
            .store_redis_url
            .clone()
            .map(openliveness_server::config::RedisUrl::new),
        demo: args.demo.then_some(true),
        web_root: args.web_root.clone(),
        detector_backend: args.detector.detector_backend.clone(),
        onnxruntime_library: args.detector.onnxruntime_library.clone(),
    };
    let config = match Config::resolve(file, overrides) {
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
