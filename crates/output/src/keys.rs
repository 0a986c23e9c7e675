//! KMS keys: the [`KeyProvider`] trait that makes and unwraps sessions' data keys, the
//! [`LocalKeyring`] (keys in the configuration or generated into the data directory) and
//! [`AwsKms`] (AWS KMS, or any endpoint that speaks its API, through `aws-sdk-kms`).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::aead::{Aad, Nonce, NONCE_LEN};
use base64::Engine as _;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::envelope::{aead_key, random, DataKey};

/// A KMS key as its provider names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedKey {
    /// The key's id (a UUID for AWS KMS).
    pub key_id: String,
    /// The key's ARN.
    pub arn: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No such key, or the server's credentials may not use it.
    #[error("KMS key {0} not found or not usable")]
    NotFound(String),
    /// The key exists but cannot encrypt now (disabled, pending deletion, not symmetric).
    #[error("KMS key {0} cannot be used: {1}")]
    NotUsable(String, String),
    /// The key service could not be reached or failed.
    #[error("KMS unavailable: {0}")]
    Unavailable(String),
    /// A wrapped data key did not unwrap with its key and context.
    #[error("the data key does not unwrap with KMS key {0}")]
    DoesNotUnwrap(String),
}

/// Makes and unwraps data keys with KMS keys.
#[async_trait]
pub trait KeyProvider: Send + Sync + 'static {
    /// Finds a key by id, alias, key ARN or alias ARN.
    async fn describe(&self, key: &str) -> Result<ResolvedKey, KeyError>;
    /// A fresh 256-bit data key, wrapped by `key` and bound to `context`.
    async fn generate_data_key(&self, key: &str, context: &str) -> Result<DataKey, KeyError>;
    /// Unwraps a data key made by [`KeyProvider::generate_data_key`].
    async fn decrypt_data_key(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &str,
    ) -> Result<Zeroizing<[u8; 32]>, KeyError>;
}

/// One key of the local keyring, as configured. `Debug` shows no key material.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalKeyConfig {
    /// The key id; a UUID like AWS's, or any name of letters, digits and `-`.
    pub id: String,
    /// The account in the key's ARN (default `000000000000`).
    #[serde(default)]
    pub account: Option<String>,
    /// The region in the key's ARN (default `us-east-1`).
    #[serde(default)]
    pub region: Option<String>,
    /// Names the key also answers to: `alias/name`.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The 32 bytes of key material in base64; when absent, generated once into
    /// `<data_dir>/kms/<id>.key` (mode 0600) and read from there afterwards.
    #[serde(default)]
    pub material: Option<String>,
}

impl std::fmt::Debug for LocalKeyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyConfig")
            .field("id", &self.id)
            .field("account", &self.account)
            .field("region", &self.region)
            .field("aliases", &self.aliases)
            .field("material", &crate::redacted(&self.material))
            .finish()
    }
}

struct LocalKey {
    resolved: ResolvedKey,
    names: Vec<String>,
    material: Zeroizing<[u8; 32]>,
}

/// Keys held by openliveness itself: data keys are wrapped with AES-256-GCM under the key
/// material, with the key's ARN and the context as associated data.
pub struct LocalKeyring {
    keys: Vec<LocalKey>,
}

impl std::fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|key| &key.resolved.arn))
            .finish()
    }
}

impl LocalKeyring {
    /// A keyring without keys: every `KmsKeyId` is unknown.
    pub fn empty() -> LocalKeyring {
        LocalKeyring { keys: Vec::new() }
    }

    /// Loads the configured keys, generating the material of those without any into
    /// `<data_dir>/kms/`.
    pub fn open(keys: &[LocalKeyConfig], data_dir: &Path) -> Result<LocalKeyring, String> {
        let mut loaded = Vec::with_capacity(keys.len());
        for key in keys {
            if key.id.is_empty()
                || !key
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(format!(
                    "kms key id {:?}: use letters, digits and '-'",
                    key.id
                ));
            }
            let material = match &key.material {
                Some(text) => decode_material(text).ok_or_else(|| {
                    format!("kms key {}: material must be 32 bytes in base64", key.id)
                })?,
                None => material_file(&data_dir.join("kms").join(format!("{}.key", key.id)))
                    .map_err(|error| format!("kms key {}: {error}", key.id))?,
            };
            let region = key.region.as_deref().unwrap_or("us-east-1");
            let account = key.account.as_deref().unwrap_or("000000000000");
            let arn = format!("arn:aws:kms:{region}:{account}:key/{}", key.id);
            let mut names = vec![key.id.clone(), arn.clone()];
            for alias in &key.aliases {
                if !alias.starts_with("alias/") {
                    return Err(format!("kms key {}: aliases start with alias/", key.id));
                }
                names.push(alias.clone());
                names.push(format!("arn:aws:kms:{region}:{account}:{alias}"));
            }
            loaded.push(LocalKey {
                resolved: ResolvedKey {
                    key_id: key.id.clone(),
                    arn,
                },
                names,
                material,
            });
        }
        Ok(LocalKeyring { keys: loaded })
    }

    fn find(&self, name: &str) -> Result<&LocalKey, KeyError> {
        self.keys
            .iter()
            .find(|key| key.names.iter().any(|known| known == name))
            .ok_or_else(|| KeyError::NotFound(name.to_owned()))
    }
}

/// `bytes` as a 256-bit key, when they are 32 bytes; the copy is zeroized on drop.
fn key_of(bytes: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    if bytes.len() != 32 {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(bytes);
    Some(key)
}

fn decode_material(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()?,
    );
    key_of(&bytes)
}

/// Reads a key file, or makes one with fresh material (readable by its owner only).
fn material_file(path: &Path) -> Result<Zeroizing<[u8; 32]>, String> {
    match std::fs::read(path) {
        Ok(bytes) => key_of(&Zeroizing::new(bytes))
            .ok_or_else(|| format!("{} is not 32 bytes", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            use std::io::Write as _;
            #[cfg(unix)]
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut material = Zeroizing::new([0u8; 32]);
            random(material.as_mut()).map_err(|error| error.to_string())?;
            if let Some(dir) = path.parent() {
                openliveness_store::private::create_dir_all(dir)
                    .map_err(|error| error.to_string())?;
            }
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            options.mode(0o600);
            let mut file = options
                .open(path)
                .map_err(|error| format!("{}: {error}", path.display()))?;
            file.write_all(material.as_ref())
                .and_then(|()| file.sync_all())
                .map_err(|error| format!("{}: {error}", path.display()))?;
            tracing::info!(path = %path.display(), "generated KMS key material");
            Ok(material)
        }
        Err(error) => Err(format!("{}: {error}", path.display())),
    }
}

fn wrapping_aad(arn: &str, context: &str) -> Vec<u8> {
    let mut aad = arn.as_bytes().to_vec();
    aad.push(0);
    aad.extend_from_slice(context.as_bytes());
    aad
}

#[async_trait]
impl KeyProvider for LocalKeyring {
    async fn describe(&self, key: &str) -> Result<ResolvedKey, KeyError> {
        Ok(self.find(key)?.resolved.clone())
    }

    async fn generate_data_key(&self, key: &str, context: &str) -> Result<DataKey, KeyError> {
        let key = self.find(key)?;
        let fail = |error: crate::envelope::EnvelopeError| KeyError::Unavailable(error.to_string());
        let mut plaintext = Zeroizing::new([0u8; 32]);
        random(plaintext.as_mut()).map_err(fail)?;
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce).map_err(fail)?;
        let mut sealed = plaintext.to_vec();
        aead_key(&key.material)
            .map_err(fail)?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(wrapping_aad(&key.resolved.arn, context)),
                &mut sealed,
            )
            .map_err(|_| KeyError::Unavailable("could not wrap the data key".to_owned()))?;
        let mut wrapped = nonce.to_vec();
        wrapped.extend_from_slice(&sealed);
        Ok(DataKey {
            plaintext,
            key_id: key.resolved.arn.clone(),
            wrapped,
            context: context.to_owned(),
        })
    }

    async fn decrypt_data_key(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &str,
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let key = self.find(key_id)?;
        let unwraps = || KeyError::DoesNotUnwrap(key_id.to_owned());
        if wrapped.len() < NONCE_LEN {
            return Err(unwraps());
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unwraps())?;
        let mut sealed = Zeroizing::new(sealed.to_vec());
        let opened = aead_key(&key.material)
            .map_err(|_| unwraps())?
            .open_in_place(
                nonce,
                Aad::from(wrapping_aad(&key.resolved.arn, context)),
                &mut sealed,
            )
            .map_err(|_| unwraps())?;
        key_of(opened).ok_or_else(unwraps)
    }
}

/// How to reach AWS KMS or a service that speaks its API. `Debug` shows no secret.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsKmsConfig {
    /// For example `http://127.0.0.1:5000`; AWS's own endpoint for the region when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// Credentials; when absent, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
    /// `AWS_SESSION_TOKEN` from the environment.
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
    #[serde(default)]
    pub session_token: Option<String>,
}

crate::access::access_of!(AwsKmsConfig);

impl std::fmt::Debug for AwsKmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("AwsKmsConfig");
        self.access().debug_fields(&mut debug);
        debug.finish()
    }
}

/// AWS KMS through `aws-sdk-kms`: `DescribeKey`, `GenerateDataKey` and `Decrypt`, each call with
/// the SDK's standard retries (3 attempts) and a 10-second deadline.
#[derive(Debug, Clone)]
pub struct AwsKms {
    client: aws_sdk_kms::Client,
}

impl AwsKms {
    pub fn new(config: &AwsKmsConfig) -> AwsKms {
        let access = config.access();
        let credentials = aws_credential_types::Credentials::new(
            access.access_key_id().unwrap_or_default(),
            access.secret_access_key().unwrap_or_default(),
            access.session_token(),
            None,
            "openliveness-config",
        );
        let mut builder = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(access.region().to_owned()))
            .credentials_provider(credentials)
            .timeout_config(
                aws_sdk_kms::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(4))
                    .operation_timeout(Duration::from_secs(10))
                    .build(),
            )
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::standard().with_max_attempts(3));
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        AwsKms {
            client: aws_sdk_kms::Client::from_conf(builder.build()),
        }
    }
}

/// Sorts an SDK error: the key is missing or refused, or KMS failed.
fn kms_error<E, R>(key: &str, error: aws_sdk_kms::error::SdkError<E, R>) -> KeyError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &error {
        aws_sdk_kms::error::SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown");
            match code {
                "NotFoundException" | "AccessDeniedException" | "NotAuthorizedException" => {
                    KeyError::NotFound(key.to_owned())
                }
                "DisabledException" | "KMSInvalidStateException" | "InvalidKeyUsageException" => {
                    KeyError::NotUsable(key.to_owned(), code.to_owned())
                }
                "InvalidCiphertextException" | "IncorrectKeyException" => {
                    KeyError::DoesNotUnwrap(key.to_owned())
                }
                _ => KeyError::Unavailable(format!(
                    "{code}: {}",
                    service.err().message().unwrap_or("")
                )),
            }
        }
        _ => KeyError::Unavailable(aws_sdk_kms::error::DisplayErrorContext(&error).to_string()),
    }
}

fn context_map(context: &str) -> HashMap<String, String> {
    let (name, value) = context.split_once('=').unwrap_or(("context", context));
    HashMap::from([(name.to_owned(), value.to_owned())])
}

#[async_trait]
impl KeyProvider for AwsKms {
    async fn describe(&self, key: &str) -> Result<ResolvedKey, KeyError> {
        let described = self
            .client
            .describe_key()
            .key_id(key)
            .send()
            .await
            .map_err(|error| kms_error(key, error))?;
        let metadata = described
            .key_metadata()
            .ok_or_else(|| KeyError::Unavailable("DescribeKey without KeyMetadata".to_owned()))?;
        if !metadata.enabled() {
            return Err(KeyError::NotUsable(key.to_owned(), "disabled".to_owned()));
        }
        // A symmetric encryption key; a service that leaves a member out is taken at its word.
        let usage_ok = metadata
            .key_usage()
            .is_none_or(|usage| *usage == aws_sdk_kms::types::KeyUsageType::EncryptDecrypt);
        let spec_ok = metadata
            .key_spec()
            .is_none_or(|spec| *spec == aws_sdk_kms::types::KeySpec::SymmetricDefault);
        if !usage_ok || !spec_ok {
            return Err(KeyError::NotUsable(
                key.to_owned(),
                "not a symmetric encryption key".to_owned(),
            ));
        }
        Ok(ResolvedKey {
            key_id: metadata.key_id().to_owned(),
            arn: metadata.arn().unwrap_or(metadata.key_id()).to_owned(),
        })
    }

    async fn generate_data_key(&self, key: &str, context: &str) -> Result<DataKey, KeyError> {
        let generated = self
            .client
            .generate_data_key()
            .key_id(key)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(|error| kms_error(key, error))?;
        let plaintext = generated
            .plaintext()
            .and_then(|blob| key_of(blob.as_ref()))
            .ok_or_else(|| {
                KeyError::Unavailable("GenerateDataKey without a 256-bit key".to_owned())
            })?;
        Ok(DataKey {
            plaintext,
            key_id: generated.key_id().unwrap_or(key).to_owned(),
            wrapped: generated
                .ciphertext_blob()
                .map(|blob| blob.as_ref().to_vec())
                .ok_or_else(|| {
                    KeyError::Unavailable("GenerateDataKey without CiphertextBlob".to_owned())
                })?,
            context: context.to_owned(),
        })
    }

    async fn decrypt_data_key(
        &self,
        key_id: &str,
        wrapped: &[u8],
        context: &str,
    ) -> Result<Zeroizing<[u8; 32]>, KeyError> {
        let decrypted = self
            .client
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(wrapped.to_vec()))
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(|error| kms_error(key_id, error))?;
        decrypted
            .plaintext()
            .and_then(|blob| key_of(blob.as_ref()))
            .ok_or_else(|| KeyError::DoesNotUnwrap(key_id.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn the_local_keyring_names_keys_by_id_alias_and_arn_and_wraps_per_context() {
        let dir = tempfile::tempdir().unwrap();
        let keyring = LocalKeyring::open(
            &[LocalKeyConfig {
                id: "k1".to_owned(),
                account: Some("111111111111".to_owned()),
                aliases: vec!["alias/liveness".to_owned()],
                ..LocalKeyConfig::default()
            }],
            dir.path(),
        )
        .unwrap();
        let arn = "arn:aws:kms:us-east-1:111111111111:key/k1";
        for name in [
            "k1",
            arn,
            "alias/liveness",
            "arn:aws:kms:us-east-1:111111111111:alias/liveness",
        ] {
            assert_eq!(keyring.describe(name).await.unwrap().arn, arn, "{name}");
        }
        assert!(matches!(
            keyring.describe("alias/other").await,
            Err(KeyError::NotFound(_))
        ));
        let key = keyring
            .generate_data_key("alias/liveness", "session=a")
            .await
            .unwrap();
        assert_eq!(key.key_id, arn);
        let unwrapped = keyring
            .decrypt_data_key(arn, &key.wrapped, "session=a")
            .await
            .unwrap();
        assert_eq!(*unwrapped, *key.plaintext);
        assert!(keyring
            .decrypt_data_key(arn, &key.wrapped, "session=b")
            .await
            .is_err());

        // The generated material is kept in the data directory and used again.
        let material = std::fs::read(dir.path().join("kms/k1.key")).unwrap();
        assert_eq!(material.len(), 32);
        let again = LocalKeyring::open(
            &[LocalKeyConfig {
                id: "k1".to_owned(),
                account: Some("111111111111".to_owned()),
                ..LocalKeyConfig::default()
            }],
            dir.path(),
        )
        .unwrap();
        let unwrapped = again
            .decrypt_data_key(arn, &key.wrapped, "session=a")
            .await
            .unwrap();
        assert_eq!(*unwrapped, *key.plaintext);
    }
}
