//! Where the images go: the [`ImageOutput`] trait and its adapter over the `object_store` crate,
//! for a local directory (a folder per bucket) or S3-compatible storage.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt as _, RetryConfig};
use serde::Deserialize;

use crate::envelope::{self, DataKey};

/// How to reach S3 or a service that speaks its API. `Debug` shows no secret.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// For example `http://127.0.0.1:9000`; AWS's own endpoint for the region when absent.
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
    /// `http://endpoint/bucket/key` instead of `http://bucket.endpoint/key` (MinIO, moto,
    /// Garage and most self-hosted stores want this).
    #[serde(default)]
    pub path_style: bool,
}

crate::access::access_of!(S3Config);

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut debug = f.debug_struct("S3Config");
        self.access().debug_fields(&mut debug);
        debug.field("path_style", &self.path_style).finish()
    }
}

/// Why an image could not be written or read.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ImageError(pub String);

/// A store of objects in buckets.
#[async_trait]
pub trait ImageOutput: Send + Sync + 'static {
    /// Writes one object, encrypted with `key` when given (the local directory seals it in an
    /// envelope; S3 is asked for SSE-KMS with the key). Returns the object's version when the
    /// store versions objects.
    async fn put(
        &self,
        bucket: &str,
        name: &str,
        bytes: Vec<u8>,
        key: Option<&DataKey>,
    ) -> Result<Option<String>, ImageError>;
    /// Reads one object as stored.
    async fn get(&self, bucket: &str, name: &str) -> Result<Vec<u8>, ImageError>;
    /// Deletes one object; deleting what is not there is not an error.
    async fn delete(&self, bucket: &str, name: &str) -> Result<(), ImageError>;
}

enum Backend {
    Local { root: PathBuf },
    S3(S3Config),
}

/// [`ImageOutput`] over `object_store`: one client per bucket (and KMS key, for S3, since
/// SSE-KMS is set per client), made on first use and kept.
pub struct ObjectStoreOutput {
    backend: Backend,
    clients: Mutex<HashMap<ClientKey, Arc<dyn ObjectStore>>>,
}

/// A bucket, and the KMS key its objects are written with (S3).
type ClientKey = (String, Option<String>);

impl std::fmt::Debug for ObjectStoreOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            Backend::Local { root } => write!(f, "ObjectStoreOutput(local {})", root.display()),
            Backend::S3(config) => write!(f, "ObjectStoreOutput(s3 {:?})", config.endpoint),
        }
    }
}

impl ObjectStoreOutput {
    /// Objects as files: bucket `b`, key `k` is `<root>/b/k`.
    pub fn local(root: impl Into<PathBuf>) -> ObjectStoreOutput {
        ObjectStoreOutput {
            backend: Backend::Local { root: root.into() },
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// S3-compatible storage.
    pub fn s3(config: S3Config) -> ObjectStoreOutput {
        ObjectStoreOutput {
            backend: Backend::S3(config),
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn client(
        &self,
        bucket: &str,
        kms_key: Option<&str>,
    ) -> Result<Arc<dyn ObjectStore>, ImageError> {
        let cache_key = (bucket.to_owned(), kms_key.map(str::to_owned));
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| ImageError("image output lock poisoned".to_owned()))?;
        if let Some(client) = clients.get(&cache_key) {
            return Ok(Arc::clone(client));
        }
        let client: Arc<dyn ObjectStore> = match &self.backend {
            Backend::Local { root } => {
                let dir = root.join(bucket);
                // The files inside take object_store's modes; the folders keep them from other
                // users.
                openliveness_store::private::create_dir_all(&dir)
                    .map_err(|error| ImageError(format!("{}: {error}", dir.display())))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(&dir)
                        .map_err(|error| ImageError(error.to_string()))?,
                )
            }
            Backend::S3(config) => Arc::new(s3_client(config, bucket, kms_key)?),
        };
        clients.insert(cache_key, Arc::clone(&client));
        Ok(client)
    }

    fn is_local(&self) -> bool {
        matches!(self.backend, Backend::Local { .. })
    }
}

fn s3_client(
    config: &S3Config,
    bucket: &str,
    kms_key: Option<&str>,
) -> Result<object_store::aws::AmazonS3, ImageError> {
    let access = config.access();
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(access.region())
        .with_virtual_hosted_style_request(!config.path_style)
        .with_client_options(
            ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(2))
                .with_timeout(Duration::from_secs(10))
                .with_allow_http(
                    config
                        .endpoint
                        .as_deref()
                        .is_some_and(|endpoint| endpoint.starts_with("http://")),
                ),
        )
        // Bounded: a failing store fails the session within about 10 seconds.
        .with_retry(RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(10),
            ..RetryConfig::default()
        });
    if let Some(endpoint) = &config.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(id) = access.access_key_id() {
        builder = builder.with_access_key_id(id);
    }
    if let Some(secret) = access.secret_access_key() {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(token) = access.session_token() {
        builder = builder.with_token(token);
    }
    if let Some(key) = kms_key {
        builder = builder.with_sse_kms_encryption(key);
    }
    builder
        .build()
        .map_err(|error| ImageError(format!("S3 configuration: {error}")))
}

fn object_path(name: &str) -> Result<ObjectPath, ImageError> {
    ObjectPath::parse(name).map_err(|error| ImageError(format!("object key {name:?}: {error}")))
}

#[async_trait]
impl ImageOutput for ObjectStoreOutput {
    async fn put(
        &self,
        bucket: &str,
        name: &str,
        bytes: Vec<u8>,
        key: Option<&DataKey>,
    ) -> Result<Option<String>, ImageError> {
        let (client, bytes) = if self.is_local() {
            let bytes = match key {
                Some(key) => {
                    envelope::seal(key, &bytes).map_err(|error| ImageError(error.to_string()))?
                }
                None => bytes,
            };
            (self.client(bucket, None)?, bytes)
        } else {
            (
                self.client(bucket, key.map(|key| key.key_id.as_str()))?,
                bytes,
            )
        };
        let written = client
            .put(&object_path(name)?, bytes.into())
            .await
            .map_err(|error| ImageError(format!("writing s3://{bucket}/{name}: {error}")))?;
        Ok(written.version)
    }

    async fn get(&self, bucket: &str, name: &str) -> Result<Vec<u8>, ImageError> {
        let client = self.client(bucket, None)?;
        let read = client
            .get(&object_path(name)?)
            .await
            .map_err(|error| ImageError(format!("reading s3://{bucket}/{name}: {error}")))?;
        read.bytes()
            .await
            .map(|bytes| bytes.to_vec())
            .map_err(|error| ImageError(format!("reading s3://{bucket}/{name}: {error}")))
    }

    async fn delete(&self, bucket: &str, name: &str) -> Result<(), ImageError> {
        let client = self.client(bucket, None)?;
        match client.delete(&object_path(name)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(ImageError(format!(
                "deleting s3://{bucket}/{name}: {error}"
            ))),
        }
    }
}
