//! The server's configuration: a TOML file, then environment variables and flags (which the
//! command line parses and lays over the file), then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::analysis::DetectorBackend;
use openliveness_auth::{ClientCredentialKey, Credential, SecretKey, TenantId};
use serde::Deserialize;

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

/// `[detector]` in the file: what runs the face detector.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDetector {
    /// `tract` (the default) or `onnxruntime`.
    pub backend: Option<String>,
    /// ONNX Runtime's shared library, for `backend = "onnxruntime"` (default:
    /// `models/libonnxruntime.so.1.31.1`, as `scripts/setup-vision.sh --onnxruntime` installs it).
    pub onnxruntime_library: Option<PathBuf>,
}

impl FileDetector {
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

/// `[web]` in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWeb {
    pub root: Option<PathBuf>,
    pub demo: Option<bool>,
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

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

pub const DEFAULT_REDIS_KEY_PREFIX: &str = "ol";

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileStore {
    /// `embedded` (the default) or `redis`.
    pub kind: Option<StoreKind>,
    /// `redis://[user:password@]host:port/db`, for `kind = "redis"`.
    pub redis_url: Option<RedisUrl>,
    /// Every Redis key starts with `<prefix>:` (default `ol`).
    pub redis_key_prefix: Option<String>,
}

impl StoreConfig {
    /// The flag or environment variable's URL selects Redis; else the file's `kind`.
    fn resolve(
        file: FileStore,
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
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 64 * 1024,
            tenant_requests_per_second: 0.0,
            tenant_burst: 0.0,
            max_in_flight: 4096,
        }
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./openliveness-data";
pub const DEFAULT_SESSION_TTL_SECS: u64 = 180;
pub const DEFAULT_EXPIRED_RETENTION_SECS: u64 = 3600;
pub const DEFAULT_SWEEP_INTERVAL_SECS: u64 = 5;
pub const DEFAULT_STREAM_IDLE_TIMEOUT_MS: u64 = 15_000;

/// The configuration file, as written. Every member is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub session_ttl_secs: Option<u64>,
    pub expired_retention_secs: Option<u64>,
    pub sweep_interval_secs: Option<u64>,
    pub stream_idle_timeout_ms: Option<u64>,
    #[serde(default)]
    pub limits: FileLimits,
    #[serde(default)]
    pub credentials: Vec<FileCredential>,
    pub anonymous: Option<FileAnonymous>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub dev_tls: Option<bool>,
    #[serde(default)]
    pub store: FileStore,
    /// 64 hexadecimal digits (32 random bytes).
    pub client_credentials_key: Option<SecretKey>,
    #[serde(default)]
    pub web: FileWeb,
    #[serde(default)]
    pub output: openliveness_output::OutputConfig,
    #[serde(default)]
    pub kms: openliveness_output::KmsConfig,
    #[serde(default)]
    pub detector: FileDetector,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub max_body_bytes: Option<usize>,
    pub tenant_requests_per_second: Option<f64>,
    pub tenant_burst: Option<f64>,
    pub max_in_flight: Option<usize>,
}

/// One `[[credentials]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCredential {
    pub access_key_id: String,
    pub secret_access_key: SecretKey,
    pub tenant: String,
    /// Temporary credentials: the `X-Amz-Security-Token` requests must carry.
    pub session_token: Option<SecretKey>,
    /// Temporary credentials: seconds since the Unix epoch after which they stop working.
    pub expires_at_unix: Option<u64>,
    /// The actions this key may perform, e.g. `["rekognition:GetFaceLivenessSessionResults"]`;
    /// all when absent. Anything else gets `AccessDeniedException`.
    pub actions: Option<Vec<String>>,
}

/// `[anonymous]`: serve unsigned requests for one tenant.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileAnonymous {
    pub tenant: String,
}

/// Values from flags and environment variables, which win over the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub session_ttl_secs: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub anonymous_tenant: Option<String>,
    /// One credential given on the command line or in the environment.
    pub credential: Option<(String, SecretKey, String)>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub dev_tls: Option<bool>,
    /// Keep sessions in Redis at this URL (`--store-redis-url`, `OPENLIVENESS_REDIS_URL`).
    pub store_redis_url: Option<RedisUrl>,
    /// `--demo`: enable the demo routes.
    pub demo: Option<bool>,
    /// `--web-root DIR`: where the browser client's files are.
    pub web_root: Option<PathBuf>,
    /// `--detector-backend tract|onnxruntime`.
    pub detector_backend: Option<String>,
    /// `--onnxruntime-library FILE`.
    pub onnxruntime_library: Option<PathBuf>,
}

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

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
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
    /// Lays the overrides over the file and fills in defaults.
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
        let limits = Limits {
            max_body_bytes: overrides
                .max_body_bytes
                .or(file.limits.max_body_bytes)
                .unwrap_or(defaults.max_body_bytes),
            tenant_requests_per_second: file
                .limits
                .tenant_requests_per_second
                .unwrap_or(defaults.tenant_requests_per_second),
            tenant_burst: file.limits.tenant_burst.unwrap_or(defaults.tenant_burst),
            max_in_flight: file.limits.max_in_flight.unwrap_or(defaults.max_in_flight),
        };
        if limits.tenant_requests_per_second < 0.0 || limits.tenant_burst < 0.0 {
            return Err(ConfigError::Invalid("limits must not be negative".into()));
        }
        let mut credentials: Vec<Credential> = file
            .credentials
            .into_iter()
            .map(FileCredential::into_credential)
            .collect();
        if let Some((access_key_id, secret_access_key, tenant)) = overrides.credential {
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
        let (tls_cert, tls_key, dev_tls) = if overrides.tls_cert.is_some()
            || overrides.tls_key.is_some()
            || overrides.dev_tls.is_some()
        {
            (
                overrides.tls_cert,
                overrides.tls_key,
                overrides.dev_tls.unwrap_or(false),
            )
        } else {
            (file.tls_cert, file.tls_key, file.dev_tls.unwrap_or(false))
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
        let store = StoreConfig::resolve(file.store, overrides.store_redis_url)?;
        let client_credentials_key = match &file.client_credentials_key {
            Some(text) => Some(ClientCredentialKey::from_hex(text.expose()).ok_or_else(|| {
                ConfigError::Invalid("client_credentials_key must be 64 hexadecimal digits".into())
            })?),
            None => None,
        };
        let detector = file
            .detector
            .resolve(overrides.detector_backend, overrides.onnxruntime_library)?;
        let web = WebConfig {
            root: overrides
                .web_root
                .or(file.web.root)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_WEB_ROOT)),
            demo: overrides.demo.or(file.web.demo).unwrap_or(false),
        };
        Ok(Config {
            listen: overrides.listen.or(file.listen).unwrap_or(default_listen),
            data_dir: overrides
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            session_ttl: Duration::from_secs(session_ttl_secs),
            expired_retention: Duration::from_secs(
                file.expired_retention_secs
                    .unwrap_or(DEFAULT_EXPIRED_RETENTION_SECS),
            ),
            sweep_interval: Duration::from_secs(
                file.sweep_interval_secs
                    .unwrap_or(DEFAULT_SWEEP_INTERVAL_SECS)
                    .max(1),
            ),
            stream_idle_timeout: Duration::from_millis(
                file.stream_idle_timeout_ms
                    .unwrap_or(DEFAULT_STREAM_IDLE_TIMEOUT_MS)
                    .max(1),
            ),
            limits,
            credentials,
            anonymous_tenant: overrides
                .anonymous_tenant
                .or(file.anonymous.map(|anonymous| anonymous.tenant))
                .map(TenantId::new),
            tls_cert,
            tls_key,
            dev_tls,
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
            dev_tls: Some(true),
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
                store_redis_url: flag.map(RedisUrl::new),
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
                detector_backend: backend.map(str::to_owned),
                onnxruntime_library: library.map(PathBuf::from),
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
