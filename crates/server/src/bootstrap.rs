//! Start-up: the session store (embedded in the data directory, or Redis), a first-run
//! credential pair when the configuration names none, and the analyzer the composition root
//! hands over.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openliveness_auth::{ClientCredentialKey, Credential, StaticCredentials};
use openliveness_store::{RedbStore, RedbStoreConfig, RedisStore, RedisStoreConfig, SessionStore};

use crate::analysis::Analyzer;
use crate::clock::Clock;
use crate::config::{Config, FileConfig, StoreConfig};
use crate::AppState;

/// The file in the data directory that holds generated credentials.
pub const GENERATED_CREDENTIALS_FILE: &str = "credentials.toml";
/// The file in the data directory that holds the generated client-credentials key.
pub const CLIENT_CREDENTIALS_KEY_FILE: &str = "client-credentials.key";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot prepare data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Store(#[from] openliveness_store::StoreError),
    #[error("the liveness engine cannot start: {0}")]
    Engine(String),
}

/// What start-up tells the operator on the console (never through the logs: it may hold a
/// freshly generated secret).
#[derive(Debug, Default)]
pub struct Notice(pub Vec<String>);

/// Opens the store and the credentials, and builds the state the server runs with, deciding
/// sessions with the analyzer `analyzer` makes from the configuration (the composition root
/// loads the engine there; its error is [`StartError::Engine`]).
pub fn prepare(
    mut config: Config,
    clock: Arc<dyn Clock>,
    analyzer: impl FnOnce(&Config) -> Result<Arc<dyn Analyzer>, String>,
) -> Result<(Arc<AppState>, Notice), StartError> {
    let data_dir = config.data_dir.clone();
    openliveness_store::private::create_dir_all(&data_dir).map_err(|source| {
        StartError::DataDir {
            path: data_dir.clone(),
            source,
        }
    })?;
    let mut notice = Notice::default();
    if config.credentials.is_empty() {
        let (credential, lines) = first_run_credentials(&data_dir)?;
        config.credentials.push(credential);
        notice.0.extend(lines);
    }
    let store = open_store(&config.store, &data_dir)?;
    let key = match config.client_credentials_key.clone() {
        Some(key) => key,
        None => generated_client_credentials_key(&data_dir)?,
    };
    let output = openliveness_output::Output::configured(&config.output, &config.kms, &data_dir)
        .map_err(|error| crate::config::ConfigError::Invalid(format!("[output]/[kms]: {error}")))?;
    let credentials = StaticCredentials::new(config.credentials.iter().cloned());
    let analyzer = analyzer(&config).map_err(StartError::Engine)?;
    let state = AppState::new(config, store, Arc::new(credentials), clock)
        .with_analyzer(analyzer)
        .with_client_credential_key(key)
        .with_output(Arc::new(output));
    Ok((Arc::new(state), notice))
}

/// Opens the configured session store. Redis is connected to lazily: the server starts while
/// Redis is down, reports not ready (`/readyz`) and answers 5xx until it is back.
fn open_store(store: &StoreConfig, data_dir: &Path) -> Result<Arc<dyn SessionStore>, StartError> {
    Ok(match store {
        StoreConfig::Embedded => Arc::new(RedbStore::open(RedbStoreConfig::in_dir(data_dir))?),
        StoreConfig::Redis { url, key_prefix } => {
            tracing::info!(url = %url.redacted(), %key_prefix, "session store: Redis");
            Arc::new(RedisStore::open(RedisStoreConfig {
                key_prefix: key_prefix.clone(),
                ..RedisStoreConfig::new(url.expose())
            })?)
        }
    })
}

/// Reads the client-credentials key from the data directory, or generates it on first run.
fn generated_client_credentials_key(data_dir: &Path) -> Result<ClientCredentialKey, StartError> {
    let path = data_dir.join(CLIENT_CREDENTIALS_KEY_FILE);
    let io_error = |source| StartError::DataDir {
        path: path.clone(),
        source,
    };
    let invalid = || {
        crate::config::ConfigError::Invalid(format!(
            "{} must hold 64 hexadecimal digits",
            path.display()
        ))
    };
    if path.exists() {
        let text = zeroize::Zeroizing::new(std::fs::read_to_string(&path).map_err(io_error)?);
        return Ok(ClientCredentialKey::from_hex(&text).ok_or_else(invalid)?);
    }
    let mut bytes = [0u8; ClientCredentialKey::LEN];
    getrandom::fill(&mut bytes).map_err(|error| io_error(std::io::Error::other(error)))?;
    let key = ClientCredentialKey::from_bytes(bytes);
    bytes.fill(0);
    let text = format!("{}\n", key.expose_hex().as_str());
    write_private(&path, text.as_bytes()).map_err(io_error)?;
    Ok(key)
}

/// Reads the generated credentials from the data directory, or generates them on first run.
fn first_run_credentials(data_dir: &Path) -> Result<(Credential, Vec<String>), StartError> {
    let path = data_dir.join(GENERATED_CREDENTIALS_FILE);
    let io_error = |source| StartError::DataDir {
        path: path.clone(),
        source,
    };
    if path.exists() {
        let file = FileConfig::load(&path)?;
        if let Some(credential) = file.credentials.into_iter().next() {
            let credential = credential.into_credential();
            let line = format!(
                "Using the generated credentials in {} (access key id {}, tenant {}).",
                path.display(),
                credential.access_key_id,
                credential.tenant
            );
            return Ok((credential, vec![line]));
        }
    }
    let access_key_id = format!(
        "OLAK{}",
        random_string(16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567").map_err(io_error)?
    );
    let secret = random_string(
        40,
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    )
    .map_err(io_error)?;
    let tenant = random_string(12, b"0123456789").map_err(io_error)?;
    let text = format!(
        "# Generated by openliveness on first run. Keep this file secret.\n\
         [[credentials]]\naccess_key_id = \"{access_key_id}\"\nsecret_access_key = \"{secret}\"\ntenant = \"{tenant}\"\n"
    );
    write_private(&path, text.as_bytes()).map_err(io_error)?;
    let file = FileConfig::load(&path)?;
    let credential = file
        .credentials
        .into_iter()
        .next()
        .map(|credential| credential.into_credential())
        .ok_or_else(|| {
            crate::config::ConfigError::Invalid("generated credentials unreadable".into())
        })?;
    let lines = vec![
        format!(
            "No credentials configured: generated a key pair for tenant {tenant}, kept in {}.",
            path.display()
        ),
        "Use it with the AWS CLI or SDKs:".to_owned(),
        format!("export AWS_ACCESS_KEY_ID={access_key_id}"),
        format!("export AWS_SECRET_ACCESS_KEY={secret}"),
        "export AWS_DEFAULT_REGION=us-east-1".to_owned(),
    ];
    Ok((credential, lines))
}

/// `length` characters drawn uniformly from `alphabet` with the operating system's CSPRNG.
fn random_string(length: usize, alphabet: &[u8]) -> std::io::Result<String> {
    // Rejection sampling keeps the draw uniform: only bytes below the largest multiple count.
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(length);
    let mut buffer = [0u8; 64];
    while out.len() < length {
        getrandom::fill(&mut buffer).map_err(|error| std::io::Error::other(error.to_string()))?;
        for byte in buffer {
            if usize::from(byte) < limit && out.len() < length {
                out.push(char::from(alphabet[usize::from(byte) % alphabet.len()]));
            }
        }
    }
    Ok(out)
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_strings_use_only_the_alphabet() {
        let text = random_string(1000, b"ab").unwrap();
        assert_eq!(text.len(), 1000);
        assert!(text.bytes().all(|b| b == b'a' || b == b'b'));
        assert!(text.contains('a') && text.contains('b'));
    }

    #[test]
    fn first_run_generates_once_and_keeps_the_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (first, lines) = first_run_credentials(dir.path()).unwrap();
        assert!(lines
            .iter()
            .any(|line| line.contains(first.secret_access_key.expose())));
        let (second, lines) = first_run_credentials(dir.path()).unwrap();
        assert_eq!(first.access_key_id, second.access_key_id);
        assert_eq!(
            first.secret_access_key.expose(),
            second.secret_access_key.expose()
        );
        assert!(lines
            .iter()
            .all(|line| !line.contains(second.secret_access_key.expose())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(GENERATED_CREDENTIALS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
