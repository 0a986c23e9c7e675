//! The server's configuration. Every setting is declared once, in [`settings`]; it comes from
//! four layers, each winning over the one before: the defaults, the TOML file, the
//! environment, the flags. The file is read into a [`Settings`] ([`FileConfig`]), the
//! environment and the flags into another ([`Overrides`]: clap gives a flag precedence over its
//! variable), and [`Config::resolve`] lays the second over the first, fills in the defaults and
//! checks the result.

mod settings;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::analysis::DetectorBackend;
use openliveness_auth::{ClientCredentialKey, Credential, TenantId};
use serde::Deserialize;

pub use settings::{
    AnonymousSettings, CredentialFlags, DetectorSettings, FileCredential, Key, LimitSettings,
    LogFormat, ServeArgs, Settings, StoreSettings, WebSettings,
};

/// The file's layer: the settings the configuration file sets.
pub type FileConfig = Settings;

/// The environment's and the flags' layer, which wins over the file.
pub type Overrides = Settings;

/// `[detector]`.
pub type FileDetector = DetectorSettings;

/// Everything the server needs to run, resolved.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// How long a session lives after it is created (AWS: 3 minutes).
    pub session_ttl: Duration,
    /// How long an expired session still answers `EXPIRED` before it is forgotten.
    pub expired_retention: Duration,
    /// How often expired sessions are swept.
    pub sweep_interval: Duration,
    /// A stream with no data from the client for this long is ended (`ValidationException`,
    /// WebSocket close 4001).
    pub stream_idle_timeout: Duration,
    pub limits: Limits,
    pub credentials: Vec<Credential>,
    /// Unsigned requests are served for this tenant; `None` refuses them (the default).
    pub anonymous_tenant: Option<TenantId>,
    /// TLS: the certificate chain (PEM); with `tls_key`. The port serves plain HTTP too.
    pub tls_cert: Option<PathBuf>,
    /// TLS: the private key (PEM) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// TLS with a self-signed certificate generated in `<data_dir>/tls/`.
    pub dev_tls: bool,
    /// Plain HTTP and h2c refused on the port (TLS only).
    pub require_tls: bool,
    /// Where sessions are kept.
    pub store: StoreConfig,
    /// The key that signs session-scoped client credentials; `None`: the one generated in
    /// `<data_dir>/client-credentials.key`. Servers sharing Redis need the same key.
    pub client_credentials_key: Option<ClientCredentialKey>,
    /// The browser client and the demo routes.
    pub web: WebConfig,
    /// `[output]`: where images go when a session names an output bucket, and who may use which.
    pub output: openliveness_output::OutputConfig,
    /// `[kms]`: the KMS keys sessions may name with `KmsKeyId`.
    pub kms: openliveness_output::KmsConfig,
    /// `[detector]`: what runs the face detector (tract unless ONNX Runtime is asked for).
    pub detector: DetectorBackend,
}

/// `[web]`: the browser client's files and the demo routes.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Served at `/`.
    pub root: PathBuf,
    /// `POST /demo/session` and its results route, unauthenticated (off by default).
    pub demo: bool,
}

pub const DEFAULT_WEB_ROOT: &str = "web/dist";

impl DetectorSettings {
    /// Flags and environment variables win over the file, field by field.
    pub fn resolve(
        self,
        backend: Option<String>,
        library: Option<PathBuf>,
    ) -> Result<DetectorBackend, ConfigError> {
        let backend = backend.or(self.backend);
        let library = library.or(self.onnxruntime_library);
        let name = backend.as_deref().unwrap_or("tract");
        if name != "onnxruntime" && library.is_some() {
            return Err(ConfigError::Invalid(format!(
                "[detector] onnxruntime_library (--onnxruntime-library) is for backend \"onnxruntime\", not {name:?}"
            )));
        }
        DetectorBackend::from_name(name, library)
            .map_err(|error| ConfigError::Invalid(format!("[detector] backend: {error}")))
    }
}

// --- Session store selection (scale-out with Redis) ---

/// Where sessions are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// The embedded store in the data directory: one server.
    Embedded,
    /// Redis, shared by every server behind a load balancer.
    Redis {
        url: RedisUrl,
        /// Every key starts with `<key_prefix>:`.
        key_prefix: String,
    },
}

/// `[store] kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Embedded,
    Redis,
}

/// A Redis URL; it may hold a password, so `Debug` shows only its scheme and host.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct RedisUrl(String);

impl RedisUrl {
    pub fn new(url: impl Into<String>) -> RedisUrl {
        RedisUrl(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL without its user and password.
    pub fn redacted(&self) -> String {
        match self.0.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://<redacted>@{host}"),
                None => self.0.clone(),
            },
            None => "<redacted>".to_owned(),
        }
    }
}

/// For `--store-redis-url`: any text; the store checks it when it connects.
impl std::str::FromStr for RedisUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<RedisUrl, std::convert::Infallible> {
        Ok(RedisUrl::new(url))
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

pub const DEFAULT_REDIS_KEY_PREFIX: &str = "ol";

impl StoreConfig {
    /// The flag or environment variable's URL selects Redis; else the file's `kind`.
    fn resolve(
        file: StoreSettings,
        url_override: Option<RedisUrl>,
    ) -> Result<StoreConfig, ConfigError> {
        let kind = if url_override.is_some() {
            StoreKind::Redis
        } else {
            file.kind.unwrap_or(StoreKind::Embedded)
        };
        match kind {
            StoreKind::Embedded => Ok(StoreConfig::Embedded),
            StoreKind::Redis => {
                let url = url_override.or(file.redis_url).ok_or_else(|| {
                    ConfigError::Invalid(
                        "[store] kind = \"redis\" needs redis_url (or --store-redis-url)".into(),
                    )
                })?;
                let key_prefix = file
                    .redis_key_prefix
                    .unwrap_or_else(|| DEFAULT_REDIS_KEY_PREFIX.to_owned());
                if key_prefix.is_empty() || key_prefix.contains(['{', '}']) {
                    return Err(ConfigError::Invalid(
                        "[store] redis_key_prefix must be non-empty and without { or }".into(),
                    ));
                }
                Ok(StoreConfig::Redis { url, key_prefix })
            }
        }
    }
}

// --- End of session store selection ---

/// Request limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The largest control-plane request body, in bytes.
    pub max_body_bytes: usize,
    /// Requests a tenant may make per second on the control plane (0: no quota).
    pub tenant_requests_per_second: f64,
    /// How many requests a tenant may make at once above its rate.
    pub tenant_burst: f64,
    /// Control-plane requests served at once; more get `ThrottlingException`.
    pub max_in_flight: usize,
    /// Streams a tenant may have open at once (0: no limit).
    pub max_streams_per_tenant: usize,
    /// Streams the server keeps open at once (0: no limit).
    pub max_streams: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 64 * 1024,
            tenant_requests_per_second: 0.0,
            tenant_burst: 0.0,
            max_in_flight: 4096,
            max_streams_per_tenant: 75,
            max_streams: 200,
        }
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./openliveness-data";
pub const DEFAULT_SESSION_TTL_SECS: u64 = 180;
pub const DEFAULT_EXPIRED_RETENTION_SECS: u64 = 3600;
pub const DEFAULT_SWEEP_INTERVAL_SECS: u64 = 5;
pub const DEFAULT_STREAM_IDLE_TIMEOUT_MS: u64 = 15_000;

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            message: error.to_string(),
        })
    }
}

impl FileCredential {
    pub fn into_credential(self) -> Credential {
        Credential {
            access_key_id: self.access_key_id,
            secret_access_key: self.secret_access_key,
            tenant: TenantId::new(self.tenant),
            session_token: self.session_token,
            expires_at: self
                .expires_at_unix
                .map(|seconds| std::time::UNIX_EPOCH + Duration::from_secs(seconds)),
            allowed_actions: self.actions,
            session_id: None,
        }
    }
}

impl Config {
    /// Lays the overrides (the environment and the flags) over the file, setting by setting,
    /// and fills in the defaults. A few settings combine instead: the credential of
    /// `--access-key-id` is added to the file's; `--tls-cert`, `--tls-key` or `--dev-tls`
    /// replace the file's TLS settings as a whole; `--store-redis-url` selects Redis; `--dev-tls`
    /// and `--demo` can only turn their setting on.
    pub fn resolve(file: FileConfig, overrides: Overrides) -> Result<Config, ConfigError> {
        let default_listen: SocketAddr = DEFAULT_LISTEN
            .parse()
            .map_err(|_| ConfigError::Invalid("default listen".into()))?;
        let session_ttl_secs = overrides
            .session_ttl_secs
            .or(file.session_ttl_secs)
            .unwrap_or(DEFAULT_SESSION_TTL_SECS);
        if session_ttl_secs == 0 {
            return Err(ConfigError::Invalid(
                "session_ttl_secs must be at least 1".into(),
            ));
        }
        let defaults = Limits::default();
        // Each limit: the flag or environment, else the file, else the default.
        let (over, from_file) = (&overrides.limits, &file.limits);
        let limits = Limits {
            max_body_bytes: over
                .max_body_bytes
                .or(from_file.max_body_bytes)
                .unwrap_or(defaults.max_body_bytes),
            tenant_requests_per_second: over
                .tenant_requests_per_second
                .or(from_file.tenant_requests_per_second)
                .unwrap_or(defaults.tenant_requests_per_second),
            tenant_burst: over
                .tenant_burst
                .or(from_file.tenant_burst)
                .unwrap_or(defaults.tenant_burst),
            max_in_flight: over
                .max_in_flight
                .or(from_file.max_in_flight)
                .unwrap_or(defaults.max_in_flight),
            max_streams_per_tenant: over
                .max_streams_per_tenant
                .or(from_file.max_streams_per_tenant)
                .unwrap_or(defaults.max_streams_per_tenant),
            max_streams: over
                .max_streams
                .or(from_file.max_streams)
                .unwrap_or(defaults.max_streams),
        };
        if limits.tenant_requests_per_second < 0.0 || limits.tenant_burst < 0.0 {
            return Err(ConfigError::Invalid("limits must not be negative".into()));
        }
        let mut credentials: Vec<Credential> = file
            .credentials
            .into_iter()
            .chain(overrides.credentials)
            .map(FileCredential::into_credential)
            .collect();
        // Clap lets the three flags come only together.
        if let CredentialFlags {
            access_key_id: Some(access_key_id),
            secret_access_key: Some(secret_access_key),
            tenant: Some(tenant),
        } = overrides.credential
        {
            credentials.push(Credential {
                access_key_id,
                secret_access_key,
                tenant: TenantId::new(tenant),
                session_token: None,
                expires_at: None,
                allowed_actions: None,
                session_id: None,
            });
        }
        let mut seen = std::collections::HashSet::new();
        for credential in &credentials {
            if credential.access_key_id.is_empty()
                || credential.secret_access_key.expose().is_empty()
            {
                return Err(ConfigError::Invalid(
                    "a credential has an empty key id or secret".into(),
                ));
            }
            if !seen.insert(credential.access_key_id.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "access key id {} is configured twice",
                    credential.access_key_id
                )));
            }
        }
        // TLS set by flags or the environment replaces the file's TLS settings as a whole.
        let (tls_cert, tls_key, dev_tls) =
            if overrides.tls_cert.is_some() || overrides.tls_key.is_some() || overrides.dev_tls {
                (overrides.tls_cert, overrides.tls_key, overrides.dev_tls)
            } else {
                (file.tls_cert, file.tls_key, file.dev_tls)
            };
        if tls_cert.is_some() != tls_key.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert and tls_key go together".into(),
            ));
        }
        if dev_tls && tls_cert.is_some() {
            return Err(ConfigError::Invalid(
                "dev_tls and tls_cert/tls_key exclude each other".into(),
            ));
        }
        let require_tls = overrides.require_tls || file.require_tls;
        if require_tls && !dev_tls && tls_cert.is_none() {
            return Err(ConfigError::Invalid(
                "require_tls needs TLS: tls_cert and tls_key, or dev_tls".into(),
            ));
        }
        let store = StoreConfig::resolve(file.store, overrides.store.redis_url)?;
        let client_credentials_key = match overrides
            .client_credentials_key
            .or(file.client_credentials_key)
        {
            Some(text) => Some(ClientCredentialKey::from_hex(text.expose()).ok_or_else(|| {
                ConfigError::Invalid("client_credentials_key must be 64 hexadecimal digits".into())
            })?),
            None => None,
        };
        let detector = file.detector.resolve(
            overrides.detector.backend,
            overrides.detector.onnxruntime_library,
        )?;
        let web = WebConfig {
            root: overrides
                .web
                .root
                .or(file.web.root)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_WEB_ROOT)),
            demo: overrides.web.demo || file.web.demo,
        };
        Ok(Config {
            listen: overrides.listen.or(file.listen).unwrap_or(default_listen),
            data_dir: overrides
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            session_ttl: Duration::from_secs(session_ttl_secs),
            expired_retention: Duration::from_secs(
                overrides
                    .expired_retention_secs
                    .or(file.expired_retention_secs)
                    .unwrap_or(DEFAULT_EXPIRED_RETENTION_SECS),
            ),
            sweep_interval: Duration::from_secs(
                overrides
                    .sweep_interval_secs
                    .or(file.sweep_interval_secs)
                    .unwrap_or(DEFAULT_SWEEP_INTERVAL_SECS)
                    .max(1),
            ),
            stream_idle_timeout: Duration::from_millis(
                overrides
                    .stream_idle_timeout_ms
                    .or(file.stream_idle_timeout_ms)
                    .unwrap_or(DEFAULT_STREAM_IDLE_TIMEOUT_MS)
                    .max(1),
            ),
            limits,
            credentials,
            anonymous_tenant: overrides
                .anonymous
                .tenant
                .or(file.anonymous.tenant)
                .map(TenantId::new),
            tls_cert,
            tls_key,
            dev_tls,
            require_tls,
            store,
            client_credentials_key,
            web,
            output: file.output,
            kms: file.kms,
            detector,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_and_defaults_fill_the_rest() {
        let file: FileConfig = toml::from_str(
            r#"
            listen = "0.0.0.0:9000"
            session_ttl_secs = 60
            [limits]
            max_body_bytes = 1000
            [[credentials]]
            access_key_id = "AKID"
            secret_access_key = "secret"
            tenant = "111111111111"
            [anonymous]
            tenant = "111111111111"
            "#,
        )
        .unwrap();
        let overrides = Overrides {
            session_ttl_secs: Some(30),
            ..Overrides::default()
        };
        let config = Config::resolve(file, overrides).unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.session_ttl, Duration::from_secs(30));
        assert_eq!(config.limits.max_body_bytes, 1000);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(config.credentials.len(), 1);
        assert_eq!(config.anonymous_tenant, Some(TenantId::new("111111111111")));
        assert!(
            !format!("{config:?}").contains("secret\""),
            "secrets must not be printed"
        );
    }

    #[test]
    fn require_tls_needs_tls() {
        let file: FileConfig = toml::from_str("require_tls = true").unwrap();
        let error = Config::resolve(file, Overrides::default()).unwrap_err();
        assert!(
            error.to_string().contains("require_tls needs TLS"),
            "{error}"
        );
        let file: FileConfig = toml::from_str("require_tls = true\ndev_tls = true").unwrap();
        let config = Config::resolve(file, Overrides::default()).unwrap();
        assert!(config.require_tls && config.dev_tls);
        let overrides = Overrides {
            require_tls: true,
            dev_tls: true,
            ..Overrides::default()
        };
        assert!(
            Config::resolve(FileConfig::default(), overrides)
                .unwrap()
                .require_tls
        );
    }

    #[test]
    fn tls_keys_come_in_pairs_and_exclude_dev_tls() {
        let file: FileConfig =
            toml::from_str("tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n").unwrap();
        let config = Config::resolve(file, Overrides::default()).unwrap();
        assert_eq!(config.tls_cert, Some(PathBuf::from("cert.pem")));
        assert_eq!(config.tls_key, Some(PathBuf::from("key.pem")));
        assert!(!config.dev_tls);

        let file: FileConfig = toml::from_str("tls_cert = \"cert.pem\"\n").unwrap();
        assert!(matches!(
            Config::resolve(file, Overrides::default()),
            Err(ConfigError::Invalid(_))
        ));

        let file: FileConfig =
            toml::from_str("tls_cert = \"a.pem\"\ntls_key = \"b.pem\"\ndev_tls = true\n").unwrap();
        assert!(matches!(
            Config::resolve(file, Overrides::default()),
            Err(ConfigError::Invalid(_))
        ));

        // --dev-tls replaces the file's certificate.
        let file: FileConfig =
            toml::from_str("tls_cert = \"a.pem\"\ntls_key = \"b.pem\"\n").unwrap();
        let overrides = Overrides {
            dev_tls: true,
            ..Overrides::default()
        };
        let config = Config::resolve(file, overrides).unwrap();
        assert!(config.dev_tls);
        assert_eq!(config.tls_cert, None);

        let file: FileConfig = toml::from_str("dev_tls = true").unwrap();
        assert!(Config::resolve(file, Overrides::default()).unwrap().dev_tls);
    }

    #[test]
    fn the_store_is_embedded_unless_redis_is_asked_for() {
        let resolve = |text: &str, flag: Option<&str>| {
            let file: FileConfig = toml::from_str(text).unwrap();
            let overrides = Overrides {
                store: StoreSettings {
                    redis_url: flag.map(RedisUrl::new),
                    ..StoreSettings::default()
                },
                ..Overrides::default()
            };
            Config::resolve(file, overrides).map(|config| config.store)
        };
        assert_eq!(resolve("", None).unwrap(), StoreConfig::Embedded);
        let redis = |url: &str, prefix: &str| StoreConfig::Redis {
            url: RedisUrl::new(url),
            key_prefix: prefix.to_owned(),
        };
        assert_eq!(
            resolve(
                "[store]\nkind = \"redis\"\nredis_url = \"redis://r:6379/0\"\n",
                None
            )
            .unwrap(),
            redis("redis://r:6379/0", "ol")
        );
        // The flag (or OPENLIVENESS_REDIS_URL) selects Redis and wins over the file.
        assert_eq!(
            resolve(
                "[store]\nkind = \"embedded\"\nredis_key_prefix = \"a\"\n",
                Some("redis://f/1")
            )
            .unwrap(),
            redis("redis://f/1", "a")
        );
        assert!(resolve("[store]\nkind = \"redis\"\n", None).is_err());
        assert!(resolve(
            "[store]\nkind = \"redis\"\nredis_url = \"redis://r\"\nredis_key_prefix = \"{x}\"\n",
            None
        )
        .is_err());
        assert!(toml::from_str::<FileConfig>("[store]\nkind = \"etcd\"\n").is_err());
        // A password in the URL is never printed.
        let url = RedisUrl::new("redis://user:hunter2@redis.internal:6379/0");
        assert_eq!(
            format!("{url:?}"),
            "redis://<redacted>@redis.internal:6379/0"
        );
    }

    #[test]
    fn the_detector_runs_on_tract_unless_onnxruntime_is_asked_for() {
        let resolve = |text: &str, backend: Option<&str>, library: Option<&str>| {
            let file: FileConfig = toml::from_str(text).unwrap();
            let overrides = Overrides {
                detector: DetectorSettings {
                    backend: backend.map(str::to_owned),
                    onnxruntime_library: library.map(PathBuf::from),
                },
                ..Overrides::default()
            };
            Config::resolve(file, overrides).map(|config| config.detector)
        };
        assert_eq!(resolve("", None, None).unwrap(), DetectorBackend::Tract);
        let onnxruntime = |library: &str| DetectorBackend::OnnxRuntime {
            library: Some(PathBuf::from(library)),
        };
        assert_eq!(
            resolve(
                "[detector]\nbackend = \"onnxruntime\"\nonnxruntime_library = \"/opt/ort.so\"\n",
                None,
                None
            )
            .unwrap(),
            onnxruntime("/opt/ort.so")
        );
        // Flags win over the file, field by field.
        assert_eq!(
            resolve(
                "[detector]\nonnxruntime_library = \"/opt/ort.so\"\n",
                Some("onnxruntime"),
                None
            )
            .unwrap(),
            onnxruntime("/opt/ort.so")
        );
        assert_eq!(
            resolve(
                "[detector]\nbackend = \"onnxruntime\"\n",
                Some("tract"),
                None
            )
            .unwrap(),
            DetectorBackend::Tract
        );
        // Without a path, ONNX Runtime is looked for where scripts/setup-vision.sh puts it
        // (the program resolves it when it loads the engine).
        assert_eq!(
            resolve("", Some("onnxruntime"), None).unwrap(),
            DetectorBackend::OnnxRuntime { library: None }
        );
        // A library for tract is a mistake, and unknown backends are refused by name.
        assert!(resolve("", None, Some("/opt/ort.so")).is_err());
        let error = resolve("[detector]\nbackend = \"cuda\"\n", None, None)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("cuda") && error.contains("tract, onnxruntime"),
            "{error}"
        );
        assert!(toml::from_str::<FileConfig>("[detector]\nthreads = 2\n").is_err());
    }

    /// Every key of the file, each away from its default, reaches the configuration.
    #[test]
    fn every_key_of_the_file_is_read() {
        let file: FileConfig = toml::from_str(
            r#"
            listen = "0.0.0.0:9000"
            data_dir = "/var/lib/openliveness"
            session_ttl_secs = 60
            expired_retention_secs = 600
            sweep_interval_secs = 2
            stream_idle_timeout_ms = 3000
            dev_tls = true
            client_credentials_key = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
            [limits]
            max_body_bytes = 1000
            tenant_requests_per_second = 50.0
            tenant_burst = 100.0
            max_in_flight = 10
            max_streams_per_tenant = 5
            max_streams = 20
            [[credentials]]
            access_key_id = "ASIATEMPORARY"
            secret_access_key = "temporary-secret"
            tenant = "222222222222"
            session_token = "the-token"
            expires_at_unix = 1798761600
            actions = ["rekognition:GetFaceLivenessSessionResults"]
            [anonymous]
            tenant = "111111111111"
            [store]
            kind = "redis"
            redis_url = "redis://r:6379/0"
            redis_key_prefix = "ol2"
            [web]
            root = "/srv/web"
            demo = true
            [output]
            kind = "s3"
            [kms]
            kind = "aws"
            [detector]
            backend = "onnxruntime"
            onnxruntime_library = "/opt/ort.so"
            "#,
        )
        .unwrap();
        let config = Config::resolve(file, Overrides::default()).unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/openliveness"));
        assert_eq!(config.session_ttl, Duration::from_secs(60));
        assert_eq!(config.expired_retention, Duration::from_secs(600));
        assert_eq!(config.sweep_interval, Duration::from_secs(2));
        assert_eq!(config.stream_idle_timeout, Duration::from_millis(3000));
        assert!(config.dev_tls);
        assert!(config.client_credentials_key.is_some());
        assert_eq!(
            config.limits,
            Limits {
                max_body_bytes: 1000,
                tenant_requests_per_second: 50.0,
                tenant_burst: 100.0,
                max_in_flight: 10,
                max_streams_per_tenant: 5,
                max_streams: 20,
            }
        );
        let [credential] = &config.credentials[..] else {
            panic!("{:?}", config.credentials);
        };
        assert_eq!(credential.access_key_id, "ASIATEMPORARY");
        assert_eq!(credential.secret_access_key.expose(), "temporary-secret");
        assert_eq!(credential.tenant, TenantId::new("222222222222"));
        assert_eq!(
            credential
                .session_token
                .as_ref()
                .map(|token| token.expose()),
            Some("the-token")
        );
        assert_eq!(
            credential.expires_at,
            Some(std::time::UNIX_EPOCH + Duration::from_secs(1_798_761_600))
        );
        assert_eq!(
            credential.allowed_actions,
            Some(vec!["rekognition:GetFaceLivenessSessionResults".to_owned()])
        );
        assert_eq!(config.anonymous_tenant, Some(TenantId::new("111111111111")));
        assert_eq!(
            config.store,
            StoreConfig::Redis {
                url: RedisUrl::new("redis://r:6379/0"),
                key_prefix: "ol2".to_owned(),
            }
        );
        assert_eq!(config.web.root, PathBuf::from("/srv/web"));
        assert!(config.web.demo);
        assert_eq!(config.output.kind, openliveness_output::OutputKind::S3);
        assert_eq!(config.kms.kind, openliveness_output::KmsKind::Aws);
        assert_eq!(
            config.detector,
            DetectorBackend::OnnxRuntime {
                library: Some(PathBuf::from("/opt/ort.so"))
            }
        );
        // A table must say what it is for.
        assert!(toml::from_str::<FileConfig>("[anonymous]\n").is_err());
        assert!(
            toml::from_str::<FileConfig>("client_credentials_key = \"00\"\n")
                .map(|file| Config::resolve(file, Overrides::default()))
                .unwrap()
                .is_err()
        );
    }

    /// `serve`'s command line, as clap reads it (with no variable set that a test does not).
    fn command_line(arguments: &[&str]) -> Result<ServeArgs, clap::Error> {
        use clap::{Args, FromArgMatches};
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        let matches = command
            .try_get_matches_from(std::iter::once("serve").chain(arguments.iter().copied()))?;
        ServeArgs::from_arg_matches(&matches)
    }

    /// Every flag wins over the file's key of the same setting.
    #[test]
    fn every_flag_wins_over_the_file() {
        let file: FileConfig = toml::from_str(
            r#"
            listen = "0.0.0.0:9000"
            data_dir = "/var/lib/openliveness"
            session_ttl_secs = 60
            [limits]
            max_body_bytes = 1000
            [anonymous]
            tenant = "111111111111"
            [store]
            redis_url = "redis://file:6379/0"
            [web]
            root = "/srv/web"
            [detector]
            backend = "onnxruntime"
            "#,
        )
        .unwrap();
        let args = command_line(&[
            "--config",
            "openliveness.toml",
            "--listen",
            "127.0.0.1:7000",
            "--data-dir",
            "/tmp/data",
            "--session-ttl-secs",
            "30",
            "--max-body-bytes",
            "2000",
            "--anonymous-tenant",
            "333333333333",
            "--access-key-id",
            "AKIDFLAG",
            "--secret-access-key",
            "flag-secret",
            "--tenant",
            "444444444444",
            "--dev-tls",
            "--store-redis-url",
            "redis://flag:6379/1",
            "--demo",
            "--web-root",
            "/srv/other",
            "--detector-backend",
            "tract",
            "--log-format",
            "json",
            "--log",
            "debug",
        ])
        .unwrap();
        assert_eq!(args.config, Some(PathBuf::from("openliveness.toml")));
        assert_eq!(args.log_format, LogFormat::Json);
        assert_eq!(args.log, "debug");
        let config = Config::resolve(file, args.settings).unwrap();
        assert_eq!(config.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(config.data_dir, PathBuf::from("/tmp/data"));
        assert_eq!(config.session_ttl, Duration::from_secs(30));
        assert_eq!(config.limits.max_body_bytes, 2000);
        assert_eq!(config.anonymous_tenant, Some(TenantId::new("333333333333")));
        let [credential] = &config.credentials[..] else {
            panic!("{:?}", config.credentials);
        };
        assert_eq!(credential.access_key_id, "AKIDFLAG");
        assert_eq!(credential.secret_access_key.expose(), "flag-secret");
        assert_eq!(credential.tenant, TenantId::new("444444444444"));
        assert!(config.dev_tls);
        assert_eq!(
            config.store,
            StoreConfig::Redis {
                url: RedisUrl::new("redis://flag:6379/1"),
                key_prefix: DEFAULT_REDIS_KEY_PREFIX.to_owned(),
            }
        );
        assert!(config.web.demo);
        assert_eq!(config.web.root, PathBuf::from("/srv/other"));
        assert_eq!(config.detector, DetectorBackend::Tract);

        let library = command_line(&[
            "--detector-backend",
            "onnxruntime",
            "--onnxruntime-library",
            "/opt/ort.so",
        ])
        .unwrap();
        assert_eq!(
            Config::resolve(FileConfig::default(), library.settings)
                .unwrap()
                .detector,
            DetectorBackend::OnnxRuntime {
                library: Some(PathBuf::from("/opt/ort.so"))
            }
        );
        // The credential's flags come together; so do the certificate's.
        assert!(command_line(&["--access-key-id", "AKID"]).is_err());
        assert!(command_line(&["--tls-cert", "cert.pem"]).is_err());
        let tls = command_line(&["--tls-cert", "cert.pem", "--tls-key", "key.pem"]).unwrap();
        let config = Config::resolve(FileConfig::default(), tls.settings).unwrap();
        assert_eq!(config.tls_cert, Some(PathBuf::from("cert.pem")));
        assert_eq!(config.tls_key, Some(PathBuf::from("key.pem")));
        // Without flags, the file's values stay, and `--dev-tls` and `--demo` do not turn the
        // file's off.
        let none = command_line(&[]).unwrap();
        assert_eq!(none.log_format, LogFormat::Text);
        assert_eq!(none.log, "info");
        let file: FileConfig = toml::from_str("dev_tls = true\n[web]\ndemo = true\n").unwrap();
        let config = Config::resolve(file, none.settings).unwrap();
        assert!(config.dev_tls && config.web.demo);
    }

    /// The defaults the reference shows are the ones the configuration gets.
    #[test]
    fn the_declared_defaults_are_the_defaults() {
        let config = Config::resolve(FileConfig::default(), Overrides::default()).unwrap();
        let default = |keys: &[Key], name: &str| {
            keys.iter()
                .find(|key| key.name == name)
                .and_then(|key| key.default)
                .unwrap_or_else(|| panic!("{name} has no default"))
        };
        assert_eq!(default(Settings::KEYS, "listen"), config.listen.to_string());
        assert_eq!(
            default(Settings::KEYS, "data_dir"),
            config.data_dir.display().to_string()
        );
        for (name, value) in [
            ("session_ttl_secs", config.session_ttl.as_secs()),
            ("expired_retention_secs", config.expired_retention.as_secs()),
            ("sweep_interval_secs", config.sweep_interval.as_secs()),
            (
                "stream_idle_timeout_ms",
                config.stream_idle_timeout.as_millis() as u64,
            ),
        ] {
            assert_eq!(default(Settings::KEYS, name), value.to_string(), "{name}");
        }
        let limits = config.limits;
        for (name, value) in [
            ("max_body_bytes", limits.max_body_bytes.to_string()),
            (
                "tenant_requests_per_second",
                limits.tenant_requests_per_second.to_string(),
            ),
            ("tenant_burst", limits.tenant_burst.to_string()),
            ("max_in_flight", limits.max_in_flight.to_string()),
        ] {
            assert_eq!(default(LimitSettings::KEYS, name), value, "{name}");
        }
        assert_eq!(config.store, StoreConfig::Embedded);
        assert_eq!(default(StoreSettings::KEYS, "kind"), "embedded");
        assert_eq!(
            default(StoreSettings::KEYS, "redis_key_prefix"),
            DEFAULT_REDIS_KEY_PREFIX
        );
        assert_eq!(
            default(WebSettings::KEYS, "root"),
            config.web.root.display().to_string()
        );
        assert!(!config.web.demo && !config.dev_tls);
        assert_eq!(
            default(DetectorSettings::KEYS, "backend"),
            config.detector.name()
        );
        let library = command_line(&["--detector-backend", "onnxruntime"]).unwrap();
        let DetectorBackend::OnnxRuntime { library } =
            Config::resolve(FileConfig::default(), library.settings)
                .unwrap()
                .detector
        else {
            panic!("not onnxruntime");
        };
        // Without a library the composition root (the cli) loads its default one, which the
        // declaration names.
        assert_eq!(library, None);
        assert!(default(DetectorSettings::KEYS, "onnxruntime_library").starts_with("models/"));
        let args = command_line(&[]).unwrap();
        assert_eq!(default(ServeArgs::KEYS, "log"), args.log);
        assert_eq!(
            default(ServeArgs::KEYS, "log_format"),
            format!("{:?}", args.log_format).to_lowercase()
        );
    }

    #[test]
    fn unknown_keys_and_duplicate_credentials_are_refused() {
        assert!(toml::from_str::<FileConfig>("listn = \"127.0.0.1:1\"").is_err());
        let file: FileConfig = toml::from_str(
            r#"
            [[credentials]]
            access_key_id = "AKID"
            secret_access_key = "a"
            tenant = "1"
            [[credentials]]
            access_key_id = "AKID"
            secret_access_key = "b"
            tenant = "2"
            "#,
        )
        .unwrap();
        assert!(matches!(
            Config::resolve(file, Overrides::default()),
            Err(ConfigError::Invalid(_))
        ));
    }
}
