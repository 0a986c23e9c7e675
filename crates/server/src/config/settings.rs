//! Every setting, declared once: one struct per table of the configuration file, one field per
//! setting. From that declaration come
//! - the file's layer: serde reads the file into [`Settings`] (the field is the key, in its
//!   table; `#[serde(skip)]` for a setting the file cannot set);
//! - the environment's and the flags' layer: clap reads them into [`Settings`] too (`#[arg]`
//!   names the flag and the environment variable; `#[arg(skip)]` for a file-only key);
//! - `openliveness serve --help`, from the same doc comments and `#[arg]`s;
//! - the reference in `docs/configuration.md`, rendered by [`reference`] from each field's doc
//!   comment (its meaning), the literal after its `=` (its default, also appended to its help)
//!   and its `#[arg]`, and checked against the file by a test.
//!
//! [`Config::resolve`](super::Config::resolve) lays the layers over each other and over the
//! defaults. Adding a setting: a field here (doc comment, `#[arg]`, default), then its use in
//! `Config::resolve`; `OPENLIVENESS_UPDATE_DOCS=1 cargo test -p openliveness-server --lib
//! config` rewrites the reference.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use openliveness_auth::SecretKey;
use openliveness_output::{KmsConfig, OutputConfig};
use serde::Deserialize;

use super::RedisUrl;

/// One setting as the reference shows it.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// The key in its table (the field's name).
    pub name: &'static str,
    /// The default as the reference shows it; `None` for a field that is a table or a group of
    /// flags, whose keys are listed with their own struct.
    pub default: Option<&'static str>,
    /// The doc comment, one line per line.
    pub meaning: &'static str,
}

/// One line of a doc comment, for [`Key::meaning`]; other attributes give nothing.
macro_rules! doc_line {
    (doc = $line:literal) => {
        concat!($line, "\n")
    };
    ($($other:tt)*) => {
        ""
    };
}

/// `Some(default)`, or `None` when a field has none.
macro_rules! default_of {
    () => {
        None
    };
    ($default:tt) => {
        Some($default)
    };
}

/// Declares one table of settings: the struct as written, with each field's default appended
/// to its doc comment (so to its `--help`), and its [`Key`]s in `KEYS`. A setting is written
/// `pub name: Type = "default",`; a field that is a table or a group of flags has no default.
macro_rules! settings {
    (
        $(#[$($meta:tt)*])*
        pub struct $name:ident {
            $(
                $(#[$($attr:tt)*])*
                pub $field:ident: $ty:ty $(= $default:tt)?,
            )*
        }
    ) => {
        $(#[$($meta)*])*
        pub struct $name {
            $(
                $(#[$($attr)*])*
                $(#[doc = " Default:"] #[doc = $default])?
                pub $field: $ty,
            )*
        }

        impl $name {
            /// Every field: its key, default and meaning.
            pub const KEYS: &'static [Key] = &[$(Key {
                name: stringify!($field),
                default: default_of!($($default)?),
                meaning: concat!($(doc_line!($($attr)*)),*),
            }),*];
        }
    };
}

settings! {
    /// `openliveness serve`'s command line: the configuration file, the log, and the settings.
    #[derive(Debug, Args)]
    pub struct ServeArgs {
        /// A TOML configuration file; docs/configuration.md lists its keys.
        #[arg(long, env = "OPENLIVENESS_CONFIG", value_name = "FILE")]
        pub config: Option<PathBuf> = "none",

        #[command(flatten)]
        pub settings: Settings,

        /// Log format.
        #[arg(
            long,
            env = "OPENLIVENESS_LOG_FORMAT",
            value_enum,
            default_value_t = LogFormat::Text,
            hide_default_value = true
        )]
        pub log_format: LogFormat = "text",

        /// Log filter, in `tracing` directives (e.g. `info`, `openliveness_server=debug`).
        #[arg(
            long,
            env = "OPENLIVENESS_LOG",
            default_value = "info",
            hide_default_value = true
        )]
        pub log: String = "info",
    }
}

/// How the log is written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

settings! {
    /// The settings of one layer: the file's ([`FileConfig`](super::FileConfig)), or the
    /// environment's and the flags' ([`Overrides`](super::Overrides)).
    #[derive(Debug, Default, Args, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Settings {
        /// The address to listen on (port 0 picks a free port).
        #[arg(long, env = "OPENLIVENESS_LISTEN", value_name = "ADDR:PORT")]
        pub listen: Option<SocketAddr> = "127.0.0.1:8080",

        /// Where sessions, evidence and generated credentials and keys are kept.
        #[arg(long, env = "OPENLIVENESS_DATA_DIR", value_name = "DIR")]
        pub data_dir: Option<PathBuf> = "./openliveness-data",

        /// How long a session lives after it is created, in seconds (AWS: 3 minutes).
        #[arg(long, env = "OPENLIVENESS_SESSION_TTL_SECS", value_name = "SECONDS")]
        pub session_ttl_secs: Option<u64> = "180",

        /// How long an expired session still answers `EXPIRED` before it is forgotten
        /// (`SessionNotFoundException`), in seconds.
        #[arg(skip)]
        pub expired_retention_secs: Option<u64> = "3600",

        /// How often expired sessions' data is deleted, in seconds.
        #[arg(skip)]
        pub sweep_interval_secs: Option<u64> = "5",

        /// A stream with no data from the client for this long is ended (`ValidationException`,
        /// WebSocket close 4001), in milliseconds.
        #[arg(skip)]
        pub stream_idle_timeout_ms: Option<u64> = "15000",

        #[command(flatten)]
        #[serde(default)]
        pub limits: LimitSettings,

        #[arg(skip)]
        #[serde(default)]
        pub credentials: Vec<FileCredential>,

        #[command(flatten)]
        #[serde(default)]
        pub anonymous: AnonymousSettings,

        #[command(flatten)]
        #[serde(skip)]
        pub credential: CredentialFlags,

        /// Serve TLS with this certificate chain (PEM), with `tls_key`. The port then answers
        /// HTTPS (HTTP/2 or HTTP/1.1 by ALPN) and, on the same port, plain HTTP and h2c (unless
        /// `require_tls`). Set by
        /// a flag or the environment, TLS replaces the file's `tls_cert`, `tls_key` and
        /// `dev_tls` as a whole.
        #[arg(
            long,
            env = "OPENLIVENESS_TLS_CERT",
            value_name = "FILE",
            requires = "tls_key"
        )]
        pub tls_cert: Option<PathBuf> = "none: plain HTTP only",

        /// The private key (PEM: PKCS#8, PKCS#1 or SEC1) of `tls_cert`.
        #[arg(
            long,
            env = "OPENLIVENESS_TLS_KEY",
            value_name = "FILE",
            requires = "tls_cert"
        )]
        pub tls_key: Option<PathBuf> = "none",

        /// Serve TLS with a self-signed certificate for localhost, 127.0.0.1 and ::1, generated
        /// once into `<data_dir>/tls/` and reused (renewed when it nears expiry). Its path is
        /// printed at start-up: make clients trust that file. For development only; excludes
        /// `tls_cert`.
        #[arg(
            long,
            env = "OPENLIVENESS_DEV_TLS",
            value_parser = clap::builder::BoolishValueParser::new()
        )]
        #[serde(default)]
        pub dev_tls: bool = "off",

        /// With TLS (`tls_cert` or `dev_tls`): refuse plain HTTP and h2c on the port (the
        /// connection is closed unanswered), so that no client sends signed requests or face
        /// video in the clear. Without TLS the server refuses to start.
        #[arg(
            long,
            env = "OPENLIVENESS_REQUIRE_TLS",
            value_parser = clap::builder::BoolishValueParser::new()
        )]
        #[serde(default)]
        pub require_tls: bool = "off",

        #[command(flatten)]
        #[serde(default)]
        pub store: StoreSettings,

        /// The key that signs session-scoped client credentials, 64 hexadecimal digits (32
        /// random bytes). Servers sharing Redis need the same key.
        #[arg(skip)]
        pub client_credentials_key: Option<SecretKey> =
            "generated into `<data_dir>/client-credentials.key`",

        #[command(flatten)]
        #[serde(default)]
        pub web: WebSettings,

        /// `[output]`: where images go when a session names an output bucket, and which
        /// buckets and KMS keys each tenant may use (`kind`, `dir`, `[output.s3]`,
        /// `[[output.grants]]`): see docs/output-and-kms.md.
        #[arg(skip)]
        #[serde(default)]
        pub output: OutputConfig = "a folder per bucket under `<data_dir>/output`, any bucket",

        /// `[kms]`: the KMS keys sessions may name with `KmsKeyId` (`kind`, `[[kms.keys]]`,
        /// `[kms.aws]`): see docs/output-and-kms.md.
        #[arg(skip)]
        #[serde(default)]
        pub kms: KmsConfig = "a local keyring without keys",

        #[command(flatten)]
        #[serde(default)]
        pub detector: DetectorSettings,
    }
}

settings! {
    /// Request limits.
    #[derive(Debug, Default, Clone, Args, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct LimitSettings {
        /// The largest control-plane request body, in bytes.
        #[arg(long, env = "OPENLIVENESS_MAX_BODY_BYTES", value_name = "BYTES")]
        pub max_body_bytes: Option<usize> = "65536",

        /// Requests a tenant may make per second on the control plane (0: no quota).
        #[arg(skip)]
        pub tenant_requests_per_second: Option<f64> = "0",

        /// How many requests a tenant may make at once above its rate.
        #[arg(skip)]
        pub tenant_burst: Option<f64> = "0",

        /// Control-plane requests served at once; more get `ThrottlingException`.
        #[arg(skip)]
        pub max_in_flight: Option<usize> = "4096",

        /// Streams (StartFaceLivenessSession) a tenant may have open at once; one more is
        /// refused at its start with `ServiceQuotaExceededException` (AWS's default quota is 75
        /// concurrent sessions; 0: no limit).
        #[arg(skip)]
        pub max_streams_per_tenant: Option<usize> = "75",

        /// Streams this server keeps open at once, all tenants together; one more is refused at
        /// its start with `ThrottlingException`, rather than accepted and left to fall behind
        /// (0: no limit).
        #[arg(skip)]
        pub max_streams: Option<usize> = "200",
    }
}

settings! {
    /// An access key and what it may do; as many as wanted. Without any, a key pair is
    /// generated on first run into `<data_dir>/credentials.toml`.
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct FileCredential {
        /// The access key id.
        pub access_key_id: String = "required",

        /// Its secret.
        pub secret_access_key: SecretKey = "required",

        /// The tenant (account) it acts for.
        pub tenant: String = "required",

        /// Temporary credentials: the `X-Amz-Security-Token` requests must carry.
        pub session_token: Option<SecretKey> = "none",

        /// Temporary credentials: seconds since the Unix epoch after which they stop working
        /// (`ExpiredTokenException`).
        pub expires_at_unix: Option<u64> = "none",

        /// The actions this key may perform, e.g.
        /// `["rekognition:GetFaceLivenessSessionResults"]`; anything else gets
        /// `AccessDeniedException`.
        pub actions: Option<Vec<String>> = "all",
    }
}

settings! {
    /// Unsigned requests.
    #[derive(Debug, Default, Clone, Args, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct AnonymousSettings {
        /// Serve unsigned requests (what `aws --no-sign-request` sends) for this tenant.
        #[arg(
            id = "anonymous_tenant",
            long = "anonymous-tenant",
            env = "OPENLIVENESS_ANONYMOUS_TENANT",
            value_name = "TENANT"
        )]
        #[serde(deserialize_with = "present")]
        pub tenant: Option<String> = "off: unsigned requests are refused",
    }
}

/// A key that must be there when its table is, though the flag that also sets it is optional.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

settings! {
    /// One credential given by flags or the environment, added to the file's.
    #[derive(Debug, Default, Clone, Args)]
    pub struct CredentialFlags {
        /// An access key id to accept, with `--secret-access-key` and `--tenant` (added to the
        /// file's `[[credentials]]`).
        #[arg(long, env = "OPENLIVENESS_ACCESS_KEY_ID", requires_all = ["secret_access_key", "tenant"])]
        pub access_key_id: Option<String> = "none",

        /// The secret of `--access-key-id`. Prefer the environment variable to the flag, which
        /// other users of the machine can see.
        #[arg(
            long,
            env = "OPENLIVENESS_SECRET_ACCESS_KEY",
            hide_env_values = true,
            requires = "access_key_id",
            value_parser = |secret: &str| Ok::<_, std::convert::Infallible>(SecretKey::new(secret))
        )]
        pub secret_access_key: Option<SecretKey> = "none",

        /// The tenant (account) of `--access-key-id`.
        #[arg(long, env = "OPENLIVENESS_TENANT", requires = "access_key_id")]
        pub tenant: Option<String> = "none",
    }
}

settings! {
    /// Where sessions are kept.
    #[derive(Debug, Default, Clone, Args, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct StoreSettings {
        /// `embedded` (in the data directory: one server) or `redis` (shared by every server
        /// behind a load balancer): see docs/scale-out.md.
        #[arg(skip)]
        pub kind: Option<super::StoreKind> = "embedded",

        /// Keep sessions in Redis at this URL (`redis://[user:password@]host:port/db`). Set by
        /// a flag or the environment, it selects Redis whatever `kind` says.
        #[arg(
            long = "store-redis-url",
            env = "OPENLIVENESS_REDIS_URL",
            hide_env_values = true,
            value_name = "URL"
        )]
        pub redis_url: Option<RedisUrl> = "none",

        /// Every Redis key starts with `<redis_key_prefix>:`; non-empty, without `{` or `}`.
        #[arg(skip)]
        pub redis_key_prefix: Option<String> = "ol",
    }
}

settings! {
    /// The browser client and the demo routes.
    #[derive(Debug, Default, Clone, Args, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct WebSettings {
        /// Enable the demo routes (`POST /demo/session` and its results route, unauthenticated:
        /// they create sessions and client credentials for the first configured tenant). For
        /// trying the page at `/` only.
        #[arg(
            long,
            env = "OPENLIVENESS_DEMO",
            value_parser = clap::builder::BoolishValueParser::new()
        )]
        #[serde(default)]
        pub demo: bool = "off",

        /// Serve the browser client from this directory at `/`.
        #[arg(long = "web-root", env = "OPENLIVENESS_WEB_ROOT", value_name = "DIR")]
        pub root: Option<PathBuf> = "web/dist",
    }
}

settings! {
    /// What runs the face detector (`serve`, `eval`, `analyze`).
    #[derive(Debug, Default, Clone, Args, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct DetectorSettings {
        /// What runs the face detector: `tract` (built in) or `onnxruntime` (about four times
        /// faster; needs a build with `--features onnxruntime` and ONNX Runtime's library, which
        /// scripts/setup-vision.sh --onnxruntime installs).
        #[arg(
            long = "detector-backend",
            env = "OPENLIVENESS_DETECTOR_BACKEND",
            value_name = "BACKEND",
            value_parser = clap::builder::PossibleValuesParser::new(crate::analysis::DetectorBackend::NAMES)
        )]
        pub backend: Option<String> = "tract",

        /// ONNX Runtime's shared library, for the backend `onnxruntime`.
        #[arg(long, env = "OPENLIVENESS_ONNXRUNTIME_LIBRARY", value_name = "FILE")]
        pub onnxruntime_library: Option<PathBuf> =
            "models/libonnxruntime.so.1.31.1 (where scripts/setup-vision.sh --onnxruntime puts it)",
    }
}

/// The reference table of docs/configuration.md, rendered from the declaration above.
#[cfg(test)]
pub(crate) mod reference {
    use clap::{Args, Command};

    use super::*;

    /// A field without a default: a table of the file or a group of flags, whose keys the
    /// reference lists where the field is declared.
    struct Group {
        field: &'static str,
        /// How the file writes its keys: `""` at the top, `[limits]`, `[[credentials]]`; `None`
        /// for flags the file cannot set.
        file: Option<&'static str>,
        keys: &'static [Key],
        /// Its flags and environment variables.
        args: Option<fn(Command) -> Command>,
    }

    const ROOT: Group = Group {
        field: "",
        file: None,
        keys: ServeArgs::KEYS,
        args: Some(ServeArgs::augment_args),
    };

    const GROUPS: &[Group] = &[
        Group {
            field: "settings",
            file: Some(""),
            keys: Settings::KEYS,
            args: Some(Settings::augment_args),
        },
        Group {
            field: "limits",
            file: Some("[limits]"),
            keys: LimitSettings::KEYS,
            args: Some(LimitSettings::augment_args),
        },
        Group {
            field: "credentials",
            file: Some("[[credentials]]"),
            keys: FileCredential::KEYS,
            args: None,
        },
        Group {
            field: "anonymous",
            file: Some("[anonymous]"),
            keys: AnonymousSettings::KEYS,
            args: Some(AnonymousSettings::augment_args),
        },
        Group {
            field: "credential",
            file: None,
            keys: CredentialFlags::KEYS,
            args: Some(CredentialFlags::augment_args),
        },
        Group {
            field: "store",
            file: Some("[store]"),
            keys: StoreSettings::KEYS,
            args: Some(StoreSettings::augment_args),
        },
        Group {
            field: "web",
            file: Some("[web]"),
            keys: WebSettings::KEYS,
            args: Some(WebSettings::augment_args),
        },
        Group {
            field: "detector",
            file: Some("[detector]"),
            keys: DetectorSettings::KEYS,
            args: Some(DetectorSettings::augment_args),
        },
    ];

    /// The table: one row per setting, in the order of the declaration.
    pub(crate) fn table() -> Result<String, String> {
        let mut out = String::from(
            "| file key | flag | environment variable | default | meaning |\n|---|---|---|---|---|\n",
        );
        rows(&mut out, &ROOT)?;
        Ok(out)
    }

    fn rows(out: &mut String, group: &Group) -> Result<(), String> {
        let command = group
            .args
            .map(|augment| augment(Command::new("openliveness")));
        for key in group.keys {
            let Some(default) = key.default else {
                let inner = GROUPS
                    .iter()
                    .find(|inner| inner.field == key.name)
                    .ok_or_else(|| {
                        format!(
                            "{} has no default and is not a table or group the reference knows",
                            key.name
                        )
                    })?;
                rows(out, inner)?;
                continue;
            };
            // A flag's id is its field's name, or `<group>_<name>` where that would clash.
            let qualified = format!("{}_{}", group.field, key.name);
            let arg = command.as_ref().and_then(|command| {
                command
                    .get_arguments()
                    .find(|arg| arg.get_id() == key.name || arg.get_id() == qualified.as_str())
            });
            let file_key = match group.file {
                None => String::new(),
                Some("") => format!("`{}`", key.name),
                Some(table) => format!("`{table} {}`", key.name),
            };
            let (flag, env) = match arg {
                Some(arg) => (flag_of(arg), env_of(arg)),
                None => (String::new(), String::new()),
            };
            let meaning = key
                .meaning
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let row = [file_key, flag, env, default.to_owned(), meaning].map(|text| cell(&text));
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        Ok(())
    }

    /// `--name VALUE`, `--name a|b` or `--name`.
    fn flag_of(arg: &clap::Arg) -> String {
        let Some(long) = arg.get_long() else {
            return String::new();
        };
        let value = if !arg.get_action().takes_values() {
            String::new()
        } else {
            let choices: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|value| value.get_name().to_owned())
                .collect();
            match (choices.is_empty(), arg.get_value_names()) {
                (false, _) => format!(" {}", choices.join("|")),
                (true, Some(names)) => format!(
                    " {}",
                    names
                        .iter()
                        .map(|name| name.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                (true, None) => String::new(),
            }
        };
        format!("`--{long}{value}`")
    }

    fn env_of(arg: &clap::Arg) -> String {
        arg.get_env()
            .map(|env| format!("`{}`", env.to_string_lossy()))
            .unwrap_or_default()
    }

    /// Text that may sit in a markdown table's cell.
    fn cell(text: &str) -> String {
        text.replace('|', "\\|")
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    const BEGIN: &str = "<!-- The table is generated from crates/server/src/config/settings.rs: \
        OPENLIVENESS_UPDATE_DOCS=1 cargo test -p openliveness-server --lib config -->\n";
    const END: &str = "<!-- End of the generated table. -->\n";

    /// docs/configuration.md's table is the one the declaration renders; with
    /// `OPENLIVENESS_UPDATE_DOCS=1` this test writes it there.
    #[test]
    fn the_reference_in_the_docs_is_the_declaration() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
            panic!("{}: {error}", path.display());
        });
        let (before, rest) = text
            .split_once(BEGIN)
            .unwrap_or_else(|| panic!("docs/configuration.md lacks the line {BEGIN:?}"));
        let (_, after) = rest
            .split_once(END)
            .unwrap_or_else(|| panic!("docs/configuration.md lacks the line {END:?}"));
        let table = super::reference::table().unwrap_or_else(|error| panic!("{error}"));
        let rendered = format!("{before}{BEGIN}{table}{END}{after}");
        if std::env::var_os("OPENLIVENESS_UPDATE_DOCS").is_some() {
            std::fs::write(&path, &rendered).unwrap_or_else(|error| {
                panic!("{}: {error}", path.display());
            });
            return;
        }
        assert!(
            text == rendered,
            "docs/configuration.md's table is not what crates/server/src/config/settings.rs \
             declares; regenerate it with\n  OPENLIVENESS_UPDATE_DOCS=1 cargo test -p \
             openliveness-server --lib config\nThe table as declared:\n{table}"
        );
    }
}
