//! `Settings.OutputConfig` and `KmsKeyId` through the whole server: the official SDK creates
//! sessions and reads results, a signed WebSocket client streams them, the server delivers the
//! images to a real S3 and KMS peer (`moto_server`) or to the local directory, and keeps
//! nothing in plain text at rest under a KMS key. Faults: S3 or KMS unreachable during a
//! session.
//!
//! The liveness engine is not wired in yet, so these tests use an analyzer that returns a fixed
//! result with a small real JPEG as the reference and audit images.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

#[path = "../../output/tests/support/fixtures.rs"]
mod fixtures;
#[path = "support/loopback.rs"]
mod loopback;
#[path = "../../output/tests/support/moto_server.rs"]
mod moto_server;
#[path = "support/sdk_calls.rs"]
mod sdk_calls;
#[path = "support/sdk_client.rs"]
mod sdk_client;
#[path = "../../output/tests/support/session.rs"]
mod session;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_rekognition::error::ProvideErrorMetadata as _;
use aws_sdk_rekognition::operation::get_face_liveness_session_results::GetFaceLivenessSessionResultsOutput;
use aws_sdk_rekognition::types::{
    CreateFaceLivenessSessionRequestSettings, LivenessOutputConfig, LivenessSessionStatus,
};
use fixtures::{has_image_or_video_signature, tiny_jpeg};
use moto_server::{free_port, MotoServer};
use openliveness_auth::{Credential, StaticCredentials};
use openliveness_client::{Client, Endpoint, Keys};
use openliveness_evidence::Evidence;
use openliveness_protocol::SessionId;
use openliveness_server::analysis::{Analyzer, SessionObserver};
use openliveness_server::clock::{Clock, ManualClock};
use openliveness_server::config::{Config, FileConfig, Overrides};
use openliveness_server::AppState;
use openliveness_store::{RedbStore, RedbStoreConfig, SessionResult};

const KEY: &str = "AKIDOUTPUT";
const SECRET: &str = "output-secret";
const TENANT: &str = "111111111111";

/// A WebM header, then filler: what the evidence keeps of the stream.
fn video() -> Vec<u8> {
    let mut video = vec![0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42, 0x86, 0x81, 0x01];
    video.extend((0..3000u32).map(|i| (i % 200) as u8));
    video
}

/// Until the engine lands: every session succeeds with a reference and two audit images.
struct FixedAnalyzer;

impl Analyzer for FixedAnalyzer {
    fn begin(&self) -> Box<dyn SessionObserver> {
        Box::new(FixedAnalyzer)
    }
}

impl SessionObserver for FixedAnalyzer {
    fn video(&mut self, _chunk: &[u8]) {}

    fn conclude(
        self: Box<Self>,
        _evidence: &Evidence,
        _audit_images_limit: usize,
    ) -> Result<SessionResult, String> {
        Ok(session::analysed(2, None))
    }
}

struct Harness {
    state: Arc<AppState>,
    clock: Arc<ManualClock>,
    address: String,
    dir: tempfile::TempDir,
}

/// The server in process with `[output]` and `[kms]` from `toml`, as the binary reads them.
async fn start(toml: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let file: FileConfig = toml::from_str(toml).unwrap();
    let overrides = Overrides {
        data_dir: Some(dir.path().to_owned()),
        ..Overrides::default()
    };
    let mut config = Config::resolve(file, overrides).unwrap();
    config
        .credentials
        .push(Credential::new(KEY, SECRET, TENANT));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let clock = Arc::new(ManualClock::starting_at(
        UNIX_EPOCH + Duration::from_secs(now),
    ));
    let store = Arc::new(RedbStore::open(RedbStoreConfig::in_dir(dir.path())).unwrap());
    let credentials = Arc::new(StaticCredentials::new(config.credentials.clone()));
    let state = Arc::new(
        AppState::new(
            config,
            store,
            credentials,
            Arc::clone(&clock) as Arc<dyn Clock>,
        )
        .with_analyzer(Arc::new(FixedAnalyzer)),
    );
    let address = loopback::serve(&state).await.to_string();
    Harness {
        state,
        clock,
        address,
        dir,
    }
}

impl Harness {
    fn client(&self) -> aws_sdk_rekognition::Client {
        sdk_client::client(
            &format!("http://{}", self.address),
            KEY,
            SECRET,
            &self.clock,
        )
    }

    async fn create(
        &self,
        bucket: Option<&str>,
        kms_key: Option<&str>,
    ) -> Result<String, (String, String)> {
        let mut request = self
            .client()
            .create_face_liveness_session()
            .set_kms_key_id(kms_key.map(str::to_owned));
        if let Some(bucket) = bucket {
            request = request.settings(
                CreateFaceLivenessSessionRequestSettings::builder()
                    .output_config(
                        LivenessOutputConfig::builder()
                            .s3_bucket(bucket)
                            .s3_key_prefix("liveness/")
                            .build()
                            .unwrap(),
                    )
                    .audit_images_limit(2)
                    .build(),
            );
        }
        request
            .send()
            .await
            .map(|created| created.session_id)
            .map_err(|error| {
                let error = error.into_service_error();
                (
                    error.code().unwrap_or("").to_owned(),
                    error.message().unwrap_or("").to_owned(),
                )
            })
    }

    /// Streams a whole session; returns the server's messages and its close code.
    async fn stream(&self, session: &str) -> (Vec<String>, Option<u16>) {
        let clock = Arc::clone(&self.clock);
        let client = Client::new(Endpoint::at(&self.address), Keys::new(KEY, SECRET))
            .with_clock(Arc::new(move || clock.now()));
        let mut stream = client.start(session, (640, 480)).await.unwrap();
        stream.stream_video(&video()).await.unwrap()
    }

    async fn results(&self, session: &str) -> GetFaceLivenessSessionResultsOutput {
        sdk_calls::results(&self.client(), session).await
    }

    async fn failure_reason(&self, session: &str) -> Option<String> {
        match self
            .state
            .store
            .get(
                TENANT,
                SessionId::parse(session).unwrap(),
                self.clock.now_millis(),
            )
            .await
            .unwrap()
        {
            openliveness_store::Lookup::Found(record) => {
                record.result.and_then(|r| r.failure_reason)
            }
            other => panic!("{other:?}"),
        }
    }
}

/// Every file under `dir`, with its bytes.
fn files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue; // Not made (yet): nothing written there.
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                found.push((path, bytes));
            }
        }
    }
    found
}

/// A `[table]` that reaches moto at `endpoint` with its credentials (`[output.s3]`, `[kms.aws]`).
fn moto_access(table: &str, endpoint: &str) -> String {
    format!(
        r#"
        [{table}]
        endpoint = "{endpoint}"
        region = "us-east-1"
        access_key_id = "test"
        secret_access_key = "test"
        "#
    )
}

/// `[output]` to S3 at `endpoint`, path-style.
fn s3_output(endpoint: &str) -> String {
    let s3 = moto_access("output.s3", endpoint);
    format!("[output]\nkind = \"s3\"\n{s3}path_style = true\n")
}

/// `[kms]` from AWS KMS at `endpoint`.
fn aws_kms(endpoint: &str) -> String {
    let aws = moto_access("kms.aws", endpoint);
    format!("[kms]\nkind = \"aws\"\n{aws}")
}

/// S3 and KMS from `moto`; the tenant may use `liveness-out` and `alias/liveness`.
fn s3_kms_config(moto: &MotoServer) -> String {
    let endpoint = moto.endpoint();
    let grants = format!(
        r#"
        [[output.grants]]
        tenant = "{TENANT}"
        buckets = ["liveness-out"]
        kms_keys = ["alias/liveness"]
        "#
    );
    format!("{}{grants}{}", s3_output(&endpoint), aws_kms(&endpoint))
}

#[tokio::test]
async fn a_session_with_an_output_bucket_and_a_kms_key_returns_s3_objects_with_sse_kms() {
    let moto = MotoServer::start();
    moto.create_bucket("liveness-out");
    let arn = moto.create_kms_key("alias/liveness").await;
    let harness = start(&s3_kms_config(&moto)).await;

    // Refused at creation: another bucket, an unknown key, a key not granted.
    moto.create_kms_key("alias/not-granted").await;
    for (bucket, key) in [
        (Some("another-bucket"), None),
        (None, Some("alias/unknown")),
        (Some("liveness-out"), Some("alias/not-granted")),
    ] {
        let (code, _) = harness.create(bucket, key).await.unwrap_err();
        assert_eq!(code, "AccessDeniedException", "{bucket:?} {key:?}");
    }

    let session = harness
        .create(Some("liveness-out"), Some("alias/liveness"))
        .await
        .unwrap();
    let (kinds, code) = harness.stream(&session).await;
    assert_eq!(kinds.last().map(String::as_str), Some("DisconnectionEvent"));
    assert_eq!(code, Some(1000));

    let results = harness.results(&session).await;
    assert_eq!(results.status, LivenessSessionStatus::Succeeded);
    let reference = results.reference_image.unwrap();
    assert_eq!(reference.bytes, None);
    let object = reference.s3_object.unwrap();
    assert_eq!(object.bucket.as_deref(), Some("liveness-out"));
    assert_eq!(
        object.name.as_deref(),
        Some(format!("liveness/{session}/reference.jpg").as_str())
    );
    let audit: Vec<String> = results
        .audit_images
        .unwrap()
        .into_iter()
        .map(|image| image.s3_object.unwrap().name.unwrap())
        .collect();
    assert_eq!(
        audit,
        [
            format!("liveness/{session}/audit/1.jpg"),
            format!("liveness/{session}/audit/2.jpg")
        ]
    );
    for name in audit.iter().chain([object.name.as_ref().unwrap()]) {
        let (status, headers) = moto.head("liveness-out", name);
        assert_eq!(status, 200, "{name}");
        let header = |wanted: &str| {
            headers
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, value)| value.clone())
        };
        assert_eq!(
            header("x-amz-server-side-encryption").as_deref(),
            Some("aws:kms")
        );
        assert_eq!(
            header("x-amz-server-side-encryption-aws-kms-key-id").as_deref(),
            Some(arn.as_str())
        );
    }
    // The evidence inside openliveness is sealed with a data key from KMS.
    for (path, bytes) in files(&harness.dir.path().join("evidence")) {
        assert!(!has_image_or_video_signature(&bytes), "{}", path.display());
    }
}

#[tokio::test]
async fn nothing_of_a_kms_session_rests_in_plain_text_and_expiry_keeps_only_the_callers_objects() {
    let harness = start(&format!(
        r#"
        [[kms.keys]]
        id = "liveness-key"
        account = "{TENANT}"
        aliases = ["alias/liveness"]
        "#
    ))
    .await;
    // One session with the images kept in the result, one with a (local) output bucket.
    let kept = harness.create(None, Some("alias/liveness")).await.unwrap();
    let delivered = harness
        .create(Some("liveness-out"), Some("alias/liveness"))
        .await
        .unwrap();
    for session in [&kept, &delivered] {
        let (kinds, _) = harness.stream(session).await;
        assert_eq!(kinds.last().map(String::as_str), Some("DisconnectionEvent"));
    }

    // Every byte openliveness wrote: the session store, the evidence, the bucket's folder.
    let written = files(harness.dir.path());
    assert!(written.iter().any(|(path, _)| path.ends_with("video.bin")));
    assert!(written
        .iter()
        .any(|(path, _)| path.ends_with("reference.jpg")));
    for (path, bytes) in &written {
        assert!(!has_image_or_video_signature(bytes), "{}", path.display());
    }

    // The caller still gets the images.
    let results = harness.results(&kept).await;
    assert_eq!(results.status, LivenessSessionStatus::Succeeded);
    assert_eq!(
        results.reference_image.unwrap().bytes.unwrap().into_inner(),
        tiny_jpeg()
    );
    let name = harness
        .results(&delivered)
        .await
        .reference_image
        .unwrap()
        .s3_object
        .unwrap()
        .name
        .unwrap();
    let file = harness.dir.path().join("output/liveness-out").join(&name);
    assert_eq!(
        harness
            .state
            .output
            .open_file(&std::fs::read(&file).unwrap())
            .await
            .unwrap(),
        tiny_jpeg()
    );

    // Expiry deletes the evidence and the kept images; the bucket's objects are the caller's.
    harness.clock.advance(Duration::from_secs(181));
    openliveness_server::sweep_once(&harness.state)
        .await
        .unwrap();
    assert!(files(&harness.dir.path().join("evidence")).is_empty());
    for session in [&kept, &delivered] {
        assert_eq!(
            harness.results(session).await.status,
            LivenessSessionStatus::Expired
        );
    }
    assert!(file.exists());
}

#[tokio::test]
async fn a_control_session_without_a_key_does_show_the_signatures() {
    // The check above can see what it looks for: without a KMS key the video rests as it came.
    let harness = start("").await;
    let session = harness.create(Some("liveness-out"), None).await.unwrap();
    harness.stream(&session).await;
    let written = files(harness.dir.path());
    assert!(written
        .iter()
        .any(|(path, bytes)| path.ends_with("video.bin") && has_image_or_video_signature(bytes)));
    assert!(written
        .iter()
        .any(|(path, bytes)| path.ends_with("reference.jpg") && bytes == &tiny_jpeg()));
}

#[tokio::test]
async fn s3_unreachable_during_a_session_fails_it_with_a_reason_and_the_server_serves_on() {
    let unreachable = format!("http://127.0.0.1:{}", free_port());
    let harness = start(&s3_output(&unreachable)).await;
    let session = harness.create(Some("liveness-out"), None).await.unwrap();
    let other = harness.create(None, None).await.unwrap();
    let (kinds, code) = harness.stream(&session).await;
    assert_eq!(kinds.last().map(String::as_str), Some("DisconnectionEvent"));
    assert_eq!(code, Some(1000));
    let results = harness.results(&session).await;
    assert_eq!(results.status, LivenessSessionStatus::Failed);
    assert!(results.reference_image.is_none() && results.confidence.is_none());
    let reason = harness.failure_reason(&session).await.unwrap();
    assert!(
        reason.contains("could not write the images to bucket liveness-out"),
        "{reason}"
    );

    // Other sessions go on: one without an output bucket succeeds.
    harness.stream(&other).await;
    assert_eq!(
        harness.results(&other).await.status,
        LivenessSessionStatus::Succeeded
    );
}

#[tokio::test]
async fn kms_gone_during_a_session_fails_it_with_a_reason_and_the_server_serves_on() {
    let mut moto = Some(MotoServer::start());
    let endpoint = moto.as_ref().unwrap().endpoint();
    moto.as_ref()
        .unwrap()
        .create_kms_key("alias/liveness")
        .await;
    let harness = start(&aws_kms(&endpoint)).await;
    let session = harness.create(None, Some("alias/liveness")).await.unwrap();
    let other = harness.create(None, None).await.unwrap();
    moto.take(); // KMS goes away between creation and the end of the stream.
    let (kinds, _) = harness.stream(&session).await;
    assert_eq!(kinds.last().map(String::as_str), Some("DisconnectionEvent"));
    assert_eq!(
        harness.results(&session).await.status,
        LivenessSessionStatus::Failed
    );
    let reason = harness.failure_reason(&session).await.unwrap();
    assert!(
        reason.contains("could not make the session's data key"),
        "{reason}"
    );
    // Nothing of it was kept unsealed.
    assert!(files(&harness.dir.path().join("evidence")).is_empty());

    // Creating with the key now fails as an internal error; sessions without a key go on.
    let (code, _) = harness
        .create(None, Some("alias/liveness"))
        .await
        .unwrap_err();
    assert_eq!(code, "InternalServerError");
    harness.stream(&other).await;
    assert_eq!(
        harness.results(&other).await.status,
        LivenessSessionStatus::Succeeded
    );
}
