//! Test support: the real `openliveness` binary started on a free loopback port with a
//! configuration of known credentials, and clients for it.

#![allow(dead_code)] // Each test binary uses its own part of this module.

pub mod node;
pub mod raw;
#[path = "../../../store/tests/support/redis_server.rs"]
pub mod redis_server;
#[path = "../../../server/tests/support/sdk_calls.rs"]
pub mod sdk_calls;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A known credential of the test configuration.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub access_key_id: &'static str,
    pub secret: &'static str,
    pub tenant: &'static str,
}

pub const TENANT_A: Key = Key {
    access_key_id: "AKIDTESTTENANTA",
    secret: "secret-a",
    tenant: "111111111111",
};
pub const TENANT_B: Key = Key {
    access_key_id: "AKIDTESTTENANTB",
    secret: "secret-b",
    tenant: "222222222222",
};
/// A key of tenant A that may only read results.
pub const READ_ONLY_A: Key = Key {
    access_key_id: "AKIDTESTREADONLY",
    secret: "secret-r",
    tenant: "111111111111",
};

/// How to start a server.
#[derive(Debug, Default, Clone)]
pub struct Options {
    /// Serve unsigned requests for tenant A.
    pub anonymous: bool,
    /// More TOML appended to the configuration file (top-level keys must come first, so this
    /// goes before the tables).
    pub extra_top_level: String,
    /// Reuse this data directory (for restarts) instead of a fresh one.
    pub data_dir: Option<PathBuf>,
    /// Serve TLS with a generated development certificate (`--dev-tls`).
    pub dev_tls: bool,
}

impl Options {
    /// The default options with `toml` in the configuration (see `extra_top_level`).
    pub fn with_config(toml: impl Into<String>) -> Options {
        Options {
            extra_top_level: toml.into(),
            ..Options::default()
        }
    }
}

/// A running server process; killed when dropped.
pub struct Server {
    child: Child,
    /// The first URL the server prints: `https://` with TLS, else `http://`.
    pub url: String,
    /// `http://` on the same port (the server answers plain HTTP next to TLS).
    pub plain_url: String,
    /// The development certificate, with `dev_tls`.
    pub certificate: Option<PathBuf>,
    pub data_dir: PathBuf,
    _dirs: Vec<tempfile::TempDir>,
}

impl Server {
    pub fn start(options: Options) -> Server {
        let mut dirs = Vec::new();
        let config_dir = tempfile::tempdir().expect("temp dir");
        let data_dir = match options.data_dir {
            Some(dir) => dir,
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let path = dir.path().to_owned();
                dirs.push(dir);
                path
            }
        };
        let mut config = options.extra_top_level.clone();
        config.push('\n');
        for (key, actions) in [
            (TENANT_A, None),
            (TENANT_B, None),
            (
                READ_ONLY_A,
                Some("rekognition:GetFaceLivenessSessionResults"),
            ),
        ] {
            config.push_str(&format!(
                "[[credentials]]\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"\ntenant = \"{}\"\n",
                key.access_key_id, key.secret, key.tenant
            ));
            if let Some(action) = actions {
                config.push_str(&format!("actions = [\"{action}\"]\n"));
            }
        }
        if options.anonymous {
            config.push_str(&format!("[anonymous]\ntenant = \"{}\"\n", TENANT_A.tenant));
        }
        let config_path = config_dir.path().join("openliveness.toml");
        std::fs::write(&config_path, config).expect("write config");
        dirs.push(config_dir);
        Server::spawn(&config_path, &data_dir, dirs, options.dev_tls)
    }

    fn spawn(
        config_path: &Path,
        data_dir: &Path,
        dirs: Vec<tempfile::TempDir>,
        dev_tls: bool,
    ) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_openliveness"));
        command.args(["serve", "--listen", "127.0.0.1:0", "--log", "warn"]);
        if dev_tls {
            command.arg("--dev-tls");
        }
        let mut child = command
            .arg("--config")
            .arg(config_path)
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("OPENLIVENESS_ACCESS_KEY_ID")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start openliveness");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut next_line = || {
            lines
                .next()
                .expect("openliveness exited before listening")
                .expect("read openliveness stdout")
        };
        let mut certificate = None;
        let url = loop {
            let line = next_line();
            if let Some(path) = line.strip_prefix("openliveness dev TLS certificate: ") {
                certificate = Some(PathBuf::from(path.trim()));
            }
            if let Some(url) = line.strip_prefix("openliveness listening on ") {
                break url.trim().to_owned();
            }
        };
        let plain_url = if url.starts_with("https://") {
            let line = next_line();
            line.strip_prefix("openliveness also serving plain HTTP on ")
                .expect("plain HTTP line")
                .trim()
                .to_owned()
        } else {
            url.clone()
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server {
            child,
            url,
            plain_url,
            certificate,
            data_dir: data_dir.to_owned(),
            _dirs: dirs,
        }
    }

    /// `host:port` of the server.
    pub fn authority(&self) -> &str {
        self.plain_url.trim_start_matches("http://")
    }

    /// Kills the process at once (SIGKILL): nothing gets a chance to flush.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An official AWS SDK client for the server, with static credentials and no retries.
pub fn sdk_client(server: &Server, key: Key) -> aws_sdk_rekognition::Client {
    let credentials =
        aws_credential_types::Credentials::new(key.access_key_id, key.secret, None, None, "test");
    let config = aws_sdk_rekognition::Config::builder()
        .behavior_version(aws_sdk_rekognition::config::BehaviorVersion::latest())
        .endpoint_url(&server.plain_url)
        .region(aws_sdk_rekognition::config::Region::new("us-east-1"))
        .credentials_provider(credentials)
        .retry_config(aws_sdk_rekognition::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_rekognition::Client::from_conf(config)
}

/// Whether `id` has the shape of a lower-case UUID v4.
pub fn is_uuid_v4(id: &str) -> bool {
    id.len() == 36
        && id.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            14 => b == b'4',
            19 => b"89ab".contains(&b),
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}
