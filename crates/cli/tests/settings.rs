//! The command line against the declaration of the settings (`openliveness_server::config`),
//! and the two bugs of issue 17: `eval` refused to run with AWS keys exported, and the quick
//! start's data directory was not ignored by git.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::{Args, Command as ClapCommand};
use openliveness_server::config::{ServeArgs, DEFAULT_DATA_DIR};

fn openliveness() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_openliveness"));
    // Only what a test sets: nothing of the shell's OPENLIVENESS_* or AWS_* leaks in.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("OPENLIVENESS_") || name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `serve`'s flags and variables before the settings were declared once; none may be lost.
const FLAGS: [(&str, &str); 20] = [
    ("config", "OPENLIVENESS_CONFIG"),
    ("listen", "OPENLIVENESS_LISTEN"),
    ("data-dir", "OPENLIVENESS_DATA_DIR"),
    ("session-ttl-secs", "OPENLIVENESS_SESSION_TTL_SECS"),
    ("max-body-bytes", "OPENLIVENESS_MAX_BODY_BYTES"),
    ("anonymous-tenant", "OPENLIVENESS_ANONYMOUS_TENANT"),
    ("access-key-id", "OPENLIVENESS_ACCESS_KEY_ID"),
    ("secret-access-key", "OPENLIVENESS_SECRET_ACCESS_KEY"),
    ("tenant", "OPENLIVENESS_TENANT"),
    ("tls-cert", "OPENLIVENESS_TLS_CERT"),
    ("tls-key", "OPENLIVENESS_TLS_KEY"),
    ("dev-tls", "OPENLIVENESS_DEV_TLS"),
    ("require-tls", "OPENLIVENESS_REQUIRE_TLS"),
    ("store-redis-url", "OPENLIVENESS_REDIS_URL"),
    ("demo", "OPENLIVENESS_DEMO"),
    ("web-root", "OPENLIVENESS_WEB_ROOT"),
    ("detector-backend", "OPENLIVENESS_DETECTOR_BACKEND"),
    ("onnxruntime-library", "OPENLIVENESS_ONNXRUNTIME_LIBRARY"),
    ("log-format", "OPENLIVENESS_LOG_FORMAT"),
    ("log", "OPENLIVENESS_LOG"),
];

#[test]
fn serve_help_lists_every_flag_and_environment_variable_of_the_declaration() {
    let output = run(openliveness().args(["serve", "--help"]));
    assert!(output.status.success(), "{}", stderr(&output));
    let help = String::from_utf8(output.stdout).unwrap();
    let declared: Vec<(String, String)> = ServeArgs::augment_args(ClapCommand::new("serve"))
        .get_arguments()
        .map(|arg| {
            let long = arg.get_long().unwrap_or_default().to_owned();
            let env = arg
                .get_env()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (long, env)
        })
        .collect();
    for (long, env) in &declared {
        assert!(
            help.contains(&format!("--{long}")),
            "--{long} missing:\n{help}"
        );
        assert!(
            help.contains(&format!("[env: {env}")),
            "{env} missing:\n{help}"
        );
    }
    let before: Vec<(String, String)> = FLAGS
        .iter()
        .map(|(long, env)| ((*long).to_owned(), (*env).to_owned()))
        .collect();
    assert_eq!(declared, before);
}

/// The flag `serve` reads `variable` for, by the declaration before it ([`FLAGS`]).
fn flag_of(variable: &str) -> &'static str {
    FLAGS
        .iter()
        .find(|(_, env)| *env == variable)
        .map(|(long, _)| *long)
        .unwrap_or_else(|| panic!("{variable} is not a variable of serve"))
}

/// A bad value in each variable is refused by the name of its flag: the variable sets it.
#[test]
fn each_environment_variable_sets_its_flag() {
    // Whatever gets past the configuration stops at the data directory, which is a file.
    let dir = tempfile::tempdir().unwrap();
    let not_a_directory = dir.path().join("file");
    std::fs::write(&not_a_directory, "").unwrap();
    let file = not_a_directory.to_str().unwrap();
    // A value the flag refuses: the message names the variable's own flag.
    let refused_by_its_flag = [
        ("OPENLIVENESS_LISTEN", "not-an-address"),
        ("OPENLIVENESS_SESSION_TTL_SECS", "soon"),
        ("OPENLIVENESS_MAX_BODY_BYTES", "-1"),
        ("OPENLIVENESS_DEV_TLS", "maybe"),
        ("OPENLIVENESS_DEMO", "maybe"),
        ("OPENLIVENESS_DETECTOR_BACKEND", "cuda"),
        ("OPENLIVENESS_LOG_FORMAT", "xml"),
    ]
    .map(|(variable, value)| (variable, value, format!("--{}", flag_of(variable))));
    // A value the flag takes: the message names what it leads to (the flag it needs, the
    // file it names, the data directory).
    let refused_further = [
        ("OPENLIVENESS_DATA_DIR", file, file),
        ("OPENLIVENESS_TLS_CERT", "cert.pem", "--tls-key"),
        ("OPENLIVENESS_TLS_KEY", "key.pem", "--tls-cert"),
        ("OPENLIVENESS_ACCESS_KEY_ID", "AKID", "--secret-access-key"),
        (
            "OPENLIVENESS_SECRET_ACCESS_KEY",
            "secret",
            "--access-key-id",
        ),
        ("OPENLIVENESS_TENANT", "111111111111", "--access-key-id"),
        (
            "OPENLIVENESS_CONFIG",
            "/nonexistent/openliveness.toml",
            "/nonexistent/",
        ),
        (
            "OPENLIVENESS_ONNXRUNTIME_LIBRARY",
            "/opt/ort.so",
            "onnxruntime_library (--onnxruntime-library)",
        ),
    ]
    .map(|(variable, value, expected)| (variable, value, expected.to_owned()));
    for (variable, value, expected) in refused_by_its_flag.into_iter().chain(refused_further) {
        let output = run(openliveness()
            .arg("serve")
            .current_dir(dir.path())
            .env("OPENLIVENESS_DATA_DIR", &not_a_directory)
            .env(variable, value));
        assert!(!output.status.success(), "{variable}={value} was accepted");
        let message = stderr(&output);
        assert!(message.contains(&expected), "{variable}={value}: {message}");
    }
}

/// Defaults < file < environment < flags, shown with one setting: a session time to live of 0
/// is refused when configuration is resolved; any other value gets past it, to the data
/// directory, which here is a file.
#[test]
fn the_environment_wins_over_the_file_and_a_flag_over_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_directory = dir.path().join("file");
    std::fs::write(&not_a_directory, "").unwrap();
    let config = |ttl: u64| {
        let path = dir.path().join(format!("ttl-{ttl}.toml"));
        std::fs::write(&path, format!("session_ttl_secs = {ttl}\n")).unwrap();
        path
    };
    let refused = "session_ttl_secs must be at least 1";
    let serve = |file: Option<u64>, env: Option<u64>, flag: Option<u64>| {
        let mut command = openliveness();
        command
            .args(["serve", "--data-dir"])
            .arg(&not_a_directory)
            .current_dir(dir.path());
        if let Some(ttl) = file {
            command.arg("--config").arg(config(ttl));
        }
        if let Some(ttl) = env {
            command.env("OPENLIVENESS_SESSION_TTL_SECS", ttl.to_string());
        }
        if let Some(ttl) = flag {
            command.args(["--session-ttl-secs", &ttl.to_string()]);
        }
        let output = run(&mut command);
        assert!(!output.status.success());
        stderr(&output)
    };
    assert!(serve(Some(0), None, None).contains(refused));
    assert!(!serve(Some(0), Some(5), None).contains(refused));
    assert!(serve(Some(5), Some(0), None).contains(refused));
    assert!(!serve(None, Some(0), Some(5)).contains(refused));
    assert!(serve(Some(5), Some(5), Some(0)).contains(refused));
    let past = serve(None, None, None);
    assert!(
        past.contains(&not_a_directory.display().to_string()),
        "{past}"
    );
}

/// Issue 17: with AWS_ACCESS_KEY_ID exported (as the README says to, for the AWS CLI), `eval`
/// in process failed with "required arguments were not provided: --endpoint".
#[test]
fn eval_in_process_runs_with_aws_keys_exported() {
    let out = tempfile::tempdir().unwrap();
    let output = run(openliveness()
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "example-secret")
        .args([
            "eval",
            "--sessions",
            "1",
            "--species",
            "static-image",
            "--size",
            "128x96",
            "--first-seed",
            "9000000",
            "--threads",
            "1",
            "--out",
        ])
        .arg(out.path()));
    assert!(output.status.success(), "{}", stderr(&output));
    let sessions = std::fs::read_to_string(out.path().join("sessions.jsonl")).unwrap();
    assert_eq!(sessions.lines().count(), 1, "{sessions}");
}

/// Issue 17: `scripts/serve.sh` runs the server in the repository with the default data
/// directory, which git must not offer to commit.
#[test]
fn the_default_data_directory_is_ignored_by_git() {
    let data_dir = Path::new(DEFAULT_DATA_DIR);
    assert_eq!(data_dir, Path::new("./openliveness-data"));
    for path in [
        data_dir.join("sessions.redb"),
        data_dir.join("credentials.toml"),
    ] {
        let output = run(Command::new("git")
            .arg("check-ignore")
            .arg("--verbose")
            .arg(&path)
            .current_dir(repository()));
        assert!(
            output.status.success(),
            "{} is not ignored: {}",
            path.display(),
            stderr(&output)
        );
    }
}
