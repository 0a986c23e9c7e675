//! Where a session's images go and how they are encrypted: `Settings.OutputConfig` (the
//! caller's bucket) and `KmsKeyId` (the caller's key).
//!
//! The key decisions:
//! - Two small traits, each with a local default and the real service: [`ImageOutput`] (a folder
//!   per bucket under the data directory, or S3-compatible storage, both over `object_store`)
//!   and [`KeyProvider`] (a local keyring, or AWS KMS).
//! - Which buckets and keys a tenant may use is configuration ([`Grant`]); anything else is
//!   refused at `CreateFaceLivenessSession` with `AccessDeniedException`, before a session exists.
//! - With a KMS key, nothing of the session rests in plain text inside openliveness: a fresh
//!   data key per session (wrapped by the KMS key, bound to the session id) seals its evidence
//!   and, without an output bucket, the images kept in the session store ([`envelope`]). Objects
//!   written to S3 ask S3 for SSE-KMS with that key; the local directory seals its files.
//! - Delivery is all or nothing: every image is written, or the session fails and the objects
//!   already written are deleted (best effort); only then is the result stored.

mod access;
pub mod envelope;
pub mod images;
pub mod keys;

use std::path::Path;
use std::sync::Arc;

use openliveness_evidence::{Evidence, SealedDetails, SealedEvidence, StoredEvidence};
use openliveness_protocol::{ApiError, AuditImage, Blob, ErrorCode, S3Object, SessionSettings};
use openliveness_store::{SessionRecord, SessionResult};
use serde::Deserialize;

pub use envelope::DataKey;
pub use images::{ImageError, ImageOutput, ObjectStoreOutput, S3Config};
pub use keys::{AwsKms, AwsKmsConfig, KeyError, KeyProvider, LocalKeyConfig, LocalKeyring};

/// `[output]`: where images go when a session names an output bucket.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// `local` (the default) or `s3`.
    #[serde(default)]
    pub kind: OutputKind,
    /// `local`: the folder that holds a folder per bucket (default `<data_dir>/output`).
    #[serde(default)]
    pub dir: Option<std::path::PathBuf>,
    /// `s3`: the endpoint, region, credentials and addressing style.
    #[serde(default)]
    pub s3: S3Config,
    /// Which buckets and KMS keys each tenant may use. None configured: every tenant may name
    /// any bucket and any key that exists.
    #[serde(default)]
    pub grants: Vec<Grant>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    #[default]
    Local,
    S3,
}

/// `[[output.grants]]`: what one tenant (or `*`, every tenant) may use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    pub tenant: String,
    /// Bucket names, or `*`.
    #[serde(default)]
    pub buckets: Vec<String>,
    /// KMS keys by id, key ARN or the name the caller gives (an alias), or `*`.
    #[serde(default)]
    pub kms_keys: Vec<String>,
}

/// `[kms]`: where KMS keys are.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmsConfig {
    /// `local` (the default: the keys below) or `aws`.
    #[serde(default)]
    pub kind: KmsKind,
    /// `local`: the keyring.
    #[serde(default)]
    pub keys: Vec<LocalKeyConfig>,
    /// `aws`: the endpoint, region and credentials.
    #[serde(default)]
    pub aws: AwsKmsConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KmsKind {
    #[default]
    Local,
    Aws,
}

/// What `Debug` shows of a secret in the configuration.
fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "<redacted>")
}

/// The object key of a session's reference image.
pub fn reference_key(prefix: &str, session_id: &str) -> String {
    format!("{prefix}{session_id}/reference.jpg")
}

/// The object key of a session's `n`-th audit image (from 1).
pub fn audit_key(prefix: &str, session_id: &str, n: usize) -> String {
    format!("{prefix}{session_id}/audit/{n}.jpg")
}

/// Images out, keys in: everything the server asks of this crate.
pub struct Output {
    images: Arc<dyn ImageOutput>,
    keys: Arc<dyn KeyProvider>,
    grants: Vec<Grant>,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("grants", &self.grants)
            .finish_non_exhaustive()
    }
}

impl Output {
    pub fn new(
        images: Arc<dyn ImageOutput>,
        keys: Arc<dyn KeyProvider>,
        grants: Vec<Grant>,
    ) -> Output {
        Output {
            images,
            keys,
            grants,
        }
    }

    /// The default: a folder per bucket under `<data_dir>/output`, no KMS keys, every bucket
    /// allowed.
    pub fn local_default(data_dir: &Path) -> Output {
        Output::new(
            Arc::new(ObjectStoreOutput::local(data_dir.join("output"))),
            Arc::new(LocalKeyring::empty()),
            Vec::new(),
        )
    }

    /// As configured.
    pub fn configured(
        output: &OutputConfig,
        kms: &KmsConfig,
        data_dir: &Path,
    ) -> Result<Output, String> {
        let images: Arc<dyn ImageOutput> = match output.kind {
            OutputKind::Local => Arc::new(ObjectStoreOutput::local(
                output
                    .dir
                    .clone()
                    .unwrap_or_else(|| data_dir.join("output")),
            )),
            OutputKind::S3 => Arc::new(ObjectStoreOutput::s3(output.s3.clone())),
        };
        let keys: Arc<dyn KeyProvider> = match kms.kind {
            KmsKind::Local => Arc::new(LocalKeyring::open(&kms.keys, data_dir)?),
            KmsKind::Aws => {
                if !kms.keys.is_empty() {
                    return Err("[[kms.keys]] are for kind = \"local\"".to_owned());
                }
                Arc::new(AwsKms::new(&kms.aws))
            }
        };
        Ok(Output::new(images, keys, output.grants.clone()))
    }

    pub fn images(&self) -> &Arc<dyn ImageOutput> {
        &self.images
    }

    pub fn keys(&self) -> &Arc<dyn KeyProvider> {
        &self.keys
    }

    fn granted(&self, tenant: &str, pick: impl Fn(&Grant) -> &Vec<String>, names: &[&str]) -> bool {
        if self.grants.is_empty() {
            return true;
        }
        self.grants
            .iter()
            .filter(|grant| grant.tenant == tenant || grant.tenant == "*")
            .flat_map(|grant| pick(grant).iter())
            .any(|allowed| allowed == "*" || names.contains(&allowed.as_str()))
    }

    /// Whether one of the tenant's granted aliases names `key` (the caller named it otherwise).
    async fn granted_by_alias(&self, tenant: &str, key: &keys::ResolvedKey) -> bool {
        let aliases = self
            .grants
            .iter()
            .filter(|grant| grant.tenant == tenant || grant.tenant == "*")
            .flat_map(|grant| grant.kms_keys.iter())
            .filter(|name| name.starts_with("alias/") || name.contains(":alias/"));
        for alias in aliases {
            if let Ok(resolved) = self.keys.describe(alias).await {
                if resolved.arn == key.arn {
                    return true;
                }
            }
        }
        false
    }

    /// `CreateFaceLivenessSession`: the output bucket and the KMS key must be the tenant's.
    pub async fn check_create(
        &self,
        tenant: &str,
        settings: &SessionSettings,
    ) -> Result<(), ApiError> {
        if let Some(output) = &settings.output {
            if !self.granted(tenant, |grant| &grant.buckets, &[output.bucket.as_str()]) {
                return Err(ApiError::new(
                    ErrorCode::AccessDeniedException,
                    format!("Access denied to the S3 bucket {}", output.bucket),
                ));
            }
        }
        if let Some(key) = &settings.kms_key_id {
            let refused = || {
                ApiError::new(
                    ErrorCode::AccessDeniedException,
                    format!("The KMS key {key} does not exist or is not accessible"),
                )
            };
            let resolved = match self.keys.describe(key).await {
                Ok(resolved) => resolved,
                Err(KeyError::NotFound(_) | KeyError::NotUsable(..)) => return Err(refused()),
                Err(error) => {
                    tracing::error!(%error, "KMS unavailable at session creation");
                    return Err(ApiError::of(ErrorCode::InternalServerError));
                }
            };
            let names = [
                key.as_str(),
                resolved.key_id.as_str(),
                resolved.arn.as_str(),
            ];
            if !self.granted(tenant, |grant| &grant.kms_keys, &names)
                && !self.granted_by_alias(tenant, &resolved).await
            {
                return Err(refused());
            }
        }
        Ok(())
    }

    /// A fresh data key for a session with a KMS key.
    pub async fn session_key(&self, record: &SessionRecord) -> Result<Option<DataKey>, String> {
        let Some(key) = &record.settings.kms_key_id else {
            return Ok(None);
        };
        self.keys
            .generate_data_key(key, &envelope::session_context(&record.id.to_string()))
            .await
            .map(Some)
            .map_err(|error| format!("could not make the session's data key: {error}"))
    }

    /// The evidence as it may rest: its challenge and events sealed together, and its video.
    pub fn seal_evidence(key: &DataKey, evidence: &Evidence) -> Result<SealedEvidence, String> {
        let details =
            serde_json::to_vec(&SealedDetails::of(evidence)).map_err(|error| error.to_string())?;
        Ok(SealedEvidence {
            session_id: evidence.session_id,
            tenant: evidence.tenant.clone(),
            details: envelope::seal(key, &details).map_err(|error| error.to_string())?,
            video: envelope::seal(key, &evidence.video).map_err(|error| error.to_string())?,
        })
    }

    /// The evidence as [`Output::seal_evidence`] took it, from what rests: evidence that is not
    /// sealed comes back as it is. Each envelope must have been sealed for this evidence's
    /// session (its encryption context), so sealed files moved under another session's id do
    /// not open as that session's.
    pub async fn open_evidence(&self, evidence: StoredEvidence) -> Result<Evidence, String> {
        let sealed = match evidence {
            StoredEvidence::Plain(evidence) => return Ok(*evidence),
            StoredEvidence::Sealed(sealed) => sealed,
        };
        let context = envelope::session_context(&sealed.session_id.to_string());
        for envelope in [sealed.details.as_slice(), sealed.video.as_slice()] {
            let (header, _) = envelope::header(envelope).map_err(|error| error.to_string())?;
            if header.context != context {
                return Err("the evidence was sealed for another session".to_owned());
            }
        }
        let details: SealedDetails = serde_json::from_slice(&self.open(&sealed.details).await?)
            .map_err(|error| format!("evidence.json: the sealed details: {error}"))?;
        let video = self.open(&sealed.video).await?;
        Ok(details.into_evidence(sealed.session_id, sealed.tenant, video))
    }

    /// Puts an analysed session's images where its settings say: the output bucket (then the
    /// result names `S3Object`s), or sealed in the result when only a KMS key is given, or as
    /// they are. All or nothing: on an error, objects written so far are deleted.
    pub async fn deliver(
        &self,
        record: &SessionRecord,
        key: Option<&DataKey>,
        mut result: SessionResult,
    ) -> Result<SessionResult, String> {
        let id = record.id.to_string();
        let Some(output) = &record.settings.output else {
            if let Some(key) = key {
                for image in result
                    .reference_image
                    .iter_mut()
                    .chain(result.audit_images.iter_mut())
                {
                    if let Some(bytes) = &mut image.bytes {
                        bytes.0 =
                            envelope::seal(key, &bytes.0).map_err(|error| error.to_string())?;
                    }
                }
            }
            return Ok(result);
        };
        let mut written: Vec<String> = Vec::new();
        let mut outcome = Ok(());
        let slots = result
            .reference_image
            .iter_mut()
            .map(|image| (reference_key(&output.key_prefix, &id), image))
            .chain(
                result
                    .audit_images
                    .iter_mut()
                    .enumerate()
                    .map(|(n, image)| (audit_key(&output.key_prefix, &id, n + 1), image)),
            );
        for (name, image) in slots {
            let Some(bytes) = image.bytes.take() else {
                continue;
            };
            match self.images.put(&output.bucket, &name, bytes.0, key).await {
                Ok(version) => {
                    image.s3_object = Some(S3Object {
                        bucket: Some(output.bucket.clone()),
                        name: Some(name.clone()),
                        version,
                    });
                    written.push(name);
                }
                Err(error) => {
                    outcome = Err(format!(
                        "could not write the images to bucket {}: {error}",
                        output.bucket
                    ));
                    break;
                }
            }
        }
        if let Err(reason) = outcome {
            for name in &written {
                if let Err(error) = self.images.delete(&output.bucket, name).await {
                    tracing::warn!(%error, "could not delete a partly delivered image");
                }
            }
            return Err(reason);
        }
        Ok(result)
    }

    /// `GetFaceLivenessSessionResults`: images sealed in the result, opened.
    pub async fn open_images(&self, mut images: Vec<&mut AuditImage>) -> Result<(), String> {
        for image in images.iter_mut() {
            if let Some(Blob(bytes)) = &mut image.bytes {
                if envelope::is_envelope(bytes) {
                    *bytes = self.open(bytes).await?;
                }
            }
        }
        Ok(())
    }

    /// Opens a sealed file: an envelope (an image, an evidence `video.bin`), or an evidence
    /// `evidence.json` whose challenge and events are sealed (then the JSON they were).
    pub async fn open_file(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        if envelope::is_envelope(bytes) {
            return self.open(bytes).await;
        }
        match serde_json::from_slice::<StoredEvidence>(bytes) {
            Ok(StoredEvidence::Sealed(sealed)) => self.open(&sealed.details).await,
            _ => Err("not a sealed openliveness file".to_owned()),
        }
    }

    /// Opens any envelope this crate sealed, unwrapping its data key with its KMS key.
    pub async fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        let (header, _) = envelope::header(sealed).map_err(|error| error.to_string())?;
        let key = self
            .keys
            .decrypt_data_key(&header.key_id, &header.wrapped, &header.context)
            .await
            .map_err(|error| error.to_string())?;
        envelope::open(&key, sealed).map_err(|error| error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret_of_the_configuration() {
        let output = OutputConfig {
            s3: S3Config {
                secret_access_key: Some("s3-secret-value".to_owned()),
                session_token: Some("s3-token-value".to_owned()),
                ..S3Config::default()
            },
            ..OutputConfig::default()
        };
        let kms = KmsConfig {
            keys: vec![LocalKeyConfig {
                id: "k".to_owned(),
                material: Some("a2V5LW1hdGVyaWFsLXZhbHVl".to_owned()),
                ..LocalKeyConfig::default()
            }],
            aws: AwsKmsConfig {
                secret_access_key: Some("kms-secret-value".to_owned()),
                ..AwsKmsConfig::default()
            },
            ..KmsConfig::default()
        };
        let shown = format!("{output:?} {kms:?}");
        for secret in [
            "s3-secret-value",
            "s3-token-value",
            "a2V5LW1hdGVyaWFsLXZhbHVl",
            "kms-secret-value",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("<redacted>"));
    }
}
