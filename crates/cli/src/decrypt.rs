//! `openliveness decrypt FILE`: opens what openliveness sealed under a KMS key (an image the
//! local output wrote, an evidence `video.bin` or `evidence.json`), with the keys of the
//! configuration's `[kms]`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use openliveness_server::config::{Config, FileConfig, Overrides};

#[derive(Debug, clap::Args)]
pub struct DecryptArgs {
    /// The configuration file whose `[kms]` holds the key (as given to `serve`).
    #[arg(long, env = "OPENLIVENESS_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// The data directory (where generated key material is). Default: the file's, or
    /// ./openliveness-data.
    #[arg(long, env = "OPENLIVENESS_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// Where to write the plain text. Default: standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,

    /// The sealed file.
    input: PathBuf,
}

pub fn run(args: DecryptArgs) -> ExitCode {
    match decrypt(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("openliveness decrypt: {error}");
            ExitCode::FAILURE
        }
    }
}

fn decrypt(args: DecryptArgs) -> Result<(), String> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path).map_err(|error| error.to_string())?,
        None => FileConfig::default(),
    };
    let overrides = Overrides {
        data_dir: args.data_dir,
        ..Overrides::default()
    };
    let config = Config::resolve(file, overrides).map_err(|error| error.to_string())?;
    let output =
        openliveness_output::Output::configured(&config.output, &config.kms, &config.data_dir)?;
    let sealed =
        std::fs::read(&args.input).map_err(|error| format!("{}: {error}", args.input.display()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let plain = runtime.block_on(output.open_file(&sealed))?;
    match &args.output {
        Some(path) => std::fs::write(path, plain),
        None => std::io::stdout().lock().write_all(&plain),
    }
    .map_err(|error| error.to_string())
}
