//! Against a real S3 and KMS protocol peer (`moto_server`, started per test on a free loopback
//! port): objects under the documented keys with SSE-KMS and versions, keys found by alias and
//! ARN in KMS, refusals at creation, and faults (S3 or KMS unreachable or failing) that fail the
//! delivery with a clear reason and leave nothing half-written.

#![allow(clippy::unwrap_used)]

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/moto_server.rs"]
mod moto_server;
#[path = "support/session.rs"]
mod session;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use fixtures::{has_image_or_video_signature, tiny_jpeg};
use moto_server::{free_port, MotoServer};
use openliveness_output::{
    AwsKms, AwsKmsConfig, DataKey, ImageError, ImageOutput, ObjectStoreOutput, Output, S3Config,
};
use openliveness_protocol::ErrorCode;
use openliveness_store::{SessionRecord, SessionResult};
use session::{grants, images, object_keys, settings, BUCKET, TENANT};

fn s3(endpoint: &str) -> S3Config {
    S3Config {
        endpoint: Some(endpoint.to_owned()),
        region: Some("us-east-1".to_owned()),
        access_key_id: Some("test".to_owned()),
        secret_access_key: Some("test".to_owned()),
        session_token: None,
        path_style: true,
    }
}

fn kms(endpoint: &str) -> AwsKmsConfig {
    AwsKmsConfig {
        endpoint: Some(endpoint.to_owned()),
        region: Some("us-east-1".to_owned()),
        access_key_id: Some("test".to_owned()),
        secret_access_key: Some("test".to_owned()),
        session_token: None,
    }
}

fn record(bucket: Option<&str>, key: Option<&str>) -> SessionRecord {
    session::record(settings(bucket, key))
}

fn analysed(audit_images: usize) -> SessionResult {
    session::analysed(audit_images, None)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[tokio::test]
async fn objects_land_under_the_documented_keys_with_sse_kms_and_versions() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    moto.enable_versioning(BUCKET);
    let arn = moto.create_kms_key("alias/liveness").await;
    let output = Output::new(
        Arc::new(ObjectStoreOutput::s3(s3(&moto.endpoint()))),
        Arc::new(AwsKms::new(&kms(&moto.endpoint()))),
        grants("alias/liveness"),
    );

    let record = record(Some(BUCKET), Some("alias/liveness"));
    output.check_create(TENANT, &record.settings).await.unwrap();
    let key = output.session_key(&record).await.unwrap().unwrap();
    assert_eq!(key.key_id, arn, "GenerateDataKey names the key by its ARN");
    let delivered = output
        .deliver(&record, Some(&key), analysed(2))
        .await
        .unwrap();

    let expected = object_keys(&record);
    let images = images(&delivered);
    assert_eq!(images.len(), 3);
    for (image, name) in images.into_iter().zip(&expected) {
        assert_eq!(image.bytes, None, "S3Object instead of Bytes");
        let object = image.s3_object.as_ref().unwrap();
        assert_eq!(object.bucket.as_deref(), Some(BUCKET));
        assert_eq!(object.name.as_deref(), Some(name.as_str()));
        let (status, headers) = moto.head(BUCKET, name);
        assert_eq!(status, 200, "{name}");
        assert_eq!(
            header(&headers, "x-amz-server-side-encryption"),
            Some("aws:kms")
        );
        assert_eq!(
            header(&headers, "x-amz-server-side-encryption-aws-kms-key-id"),
            Some(arn.as_str())
        );
        assert_eq!(
            object.version.as_deref(),
            header(&headers, "x-amz-version-id"),
            "the version S3 gave"
        );
        assert!(object.version.is_some());
        // S3 holds the JPEG itself (encrypted by S3 with the key, not by us).
        assert_eq!(
            output.images().get(BUCKET, name).await.unwrap(),
            tiny_jpeg()
        );
    }
    let mut listed = moto.list(BUCKET, "liveness/");
    listed.sort();
    let mut wanted = expected.to_vec();
    wanted.sort();
    assert_eq!(listed, wanted);

    // The evidence sealed under a data key from KMS opens again through KMS's Decrypt.
    let evidence = session::evidence(&record, Vec::new(), vec![0x1A, 0x45, 0xDF, 0xA3, 1, 2, 3]);
    let sealed = Output::seal_evidence(&key, &evidence).unwrap();
    assert!(!has_image_or_video_signature(&sealed.video));
    assert_eq!(
        output.open_file(&sealed.video).await.unwrap(),
        evidence.video
    );
}

#[tokio::test]
async fn a_wrong_bucket_an_unknown_key_or_a_key_not_granted_is_refused() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let granted = moto.create_kms_key("alias/liveness").await;
    moto.create_kms_key("alias/other").await;
    let output = Output::new(
        Arc::new(ObjectStoreOutput::s3(s3(&moto.endpoint()))),
        Arc::new(AwsKms::new(&kms(&moto.endpoint()))),
        grants(&granted),
    );
    // The granted key by its ARN, its alias or its id.
    for name in [
        granted.clone(),
        "alias/liveness".to_owned(),
        granted.rsplit('/').next().unwrap().to_owned(),
    ] {
        let settings = record(Some(BUCKET), Some(&name)).settings;
        output.check_create(TENANT, &settings).await.unwrap();
    }
    for (bucket, key) in [
        (Some("not-my-bucket"), None),
        (None, Some("alias/does-not-exist")),
        (
            None,
            Some("arn:aws:kms:us-east-1:123456789012:key/8f2d3c4b-0000-4000-8000-000000000000"),
        ),
        (None, Some("alias/other")),
    ] {
        let error = output
            .check_create(TENANT, &record(bucket, key).settings)
            .await
            .unwrap_err();
        assert_eq!(
            error.code,
            ErrorCode::AccessDeniedException,
            "{bucket:?} {key:?}"
        );
    }
}

#[tokio::test]
async fn s3_unreachable_fails_the_delivery_within_bounded_retries() {
    let output = Output::new(
        Arc::new(ObjectStoreOutput::s3(s3(&format!(
            "http://127.0.0.1:{}",
            free_port()
        )))),
        Arc::new(openliveness_output::LocalKeyring::empty()),
        Vec::new(),
    );
    let started = Instant::now();
    let reason = output
        .deliver(&record(Some(BUCKET), None), None, analysed(1))
        .await
        .unwrap_err();
    assert!(
        reason.contains("could not write the images to bucket liveness-out"),
        "{reason}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn kms_unreachable_refuses_creation_as_an_internal_error_and_fails_the_data_key() {
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let output = Output::new(
        Arc::new(ObjectStoreOutput::s3(s3(&endpoint))),
        Arc::new(AwsKms::new(&kms(&endpoint))),
        Vec::new(),
    );
    let record = record(None, Some("alias/liveness"));
    let error = output
        .check_create(TENANT, &record.settings)
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::InternalServerError);
    let reason = output.session_key(&record).await.unwrap_err();
    assert!(
        reason.contains("could not make the session's data key"),
        "{reason}"
    );
}

/// Writes through to S3, failing every put after the first `succeed`.
struct FailingAfter {
    inner: ObjectStoreOutput,
    succeed: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl ImageOutput for FailingAfter {
    async fn put(
        &self,
        bucket: &str,
        name: &str,
        bytes: Vec<u8>,
        key: Option<&DataKey>,
    ) -> Result<Option<String>, ImageError> {
        use std::sync::atomic::Ordering;
        if self
            .succeed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_err()
        {
            return Err(ImageError("injected failure: 503 SlowDown".to_owned()));
        }
        self.inner.put(bucket, name, bytes, key).await
    }

    async fn get(&self, bucket: &str, name: &str) -> Result<Vec<u8>, ImageError> {
        self.inner.get(bucket, name).await
    }

    async fn delete(&self, bucket: &str, name: &str) -> Result<(), ImageError> {
        self.inner.delete(bucket, name).await
    }
}

#[tokio::test]
async fn a_store_failing_mid_delivery_leaves_no_half_written_session() {
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let output = Output::new(
        Arc::new(FailingAfter {
            inner: ObjectStoreOutput::s3(s3(&moto.endpoint())),
            succeed: 2.into(),
        }),
        Arc::new(openliveness_output::LocalKeyring::empty()),
        Vec::new(),
    );
    let reason = output
        .deliver(&record(Some(BUCKET), None), None, analysed(3))
        .await
        .unwrap_err();
    assert!(reason.contains("injected failure"), "{reason}");
    assert_eq!(moto.list(BUCKET, "liveness/"), Vec::<String>::new());

    // A bucket that does not exist fails the same way.
    let output = Output::new(
        Arc::new(ObjectStoreOutput::s3(s3(&moto.endpoint()))),
        Arc::new(openliveness_output::LocalKeyring::empty()),
        Vec::new(),
    );
    let reason = output
        .deliver(&record(Some("no-such-bucket"), None), None, analysed(1))
        .await
        .unwrap_err();
    assert!(reason.contains("no-such-bucket"), "{reason}");
}
