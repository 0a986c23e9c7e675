//! The local adapter and the local keyring: objects under the documented keys in a folder per
//! bucket, sealed under the session's KMS key and opened again; grants refuse other buckets and
//! keys at creation.

#![allow(clippy::unwrap_used)]

#[path = "support/fixtures.rs"]
mod fixtures;
#[path = "support/session.rs"]
mod session;

use std::sync::Arc;

use fixtures::{has_image_or_video_signature, tiny_jpeg};
use openliveness_evidence::{ClientEvent, ReceivedEvent, StoredEvidence, VideoChunk};
use openliveness_output::{KeyProvider, LocalKeyConfig, LocalKeyring, ObjectStoreOutput, Output};
use openliveness_protocol::{BoundingBox, ErrorCode, OutputLocation, SessionId};
use openliveness_store::SessionResult;
use session::{grants, images, object_keys, record, settings, TENANT};

fn keyring(dir: &std::path::Path) -> Arc<LocalKeyring> {
    Arc::new(
        LocalKeyring::open(
            &[
                LocalKeyConfig {
                    id: "liveness-key".to_owned(),
                    account: Some(TENANT.to_owned()),
                    aliases: vec!["alias/liveness".to_owned()],
                    ..LocalKeyConfig::default()
                },
                LocalKeyConfig {
                    id: "someone-elses".to_owned(),
                    ..LocalKeyConfig::default()
                },
            ],
            dir,
        )
        .unwrap(),
    )
}

/// Output into `<dir>/output` with the keyring above; tenant A may use the bucket and
/// `alias/liveness`.
fn output(dir: &std::path::Path) -> Output {
    Output::new(
        Arc::new(ObjectStoreOutput::local(dir.join("output"))),
        keyring(dir),
        grants("alias/liveness"),
    )
}

fn analysed() -> SessionResult {
    session::analysed(
        2,
        Some(BoundingBox {
            width: 0.4,
            height: 0.5,
            left: 0.3,
            top: 0.2,
        }),
    )
}

#[tokio::test]
async fn other_buckets_and_keys_are_refused_at_creation_with_access_denied() {
    let dir = tempfile::tempdir().unwrap();
    let output = output(dir.path());
    let check = |bucket, key| {
        let settings = settings(bucket, key);
        let output = &output;
        async move { output.check_create(TENANT, &settings).await }
    };
    check(Some("liveness-out"), Some("alias/liveness"))
        .await
        .unwrap();
    check(
        None,
        Some("arn:aws:kms:us-east-1:111111111111:key/liveness-key"),
    )
    .await
    .unwrap();
    check(None, None).await.unwrap();
    for (bucket, key) in [
        (Some("another-bucket"), None),
        (None, Some("alias/unknown")),
        (None, Some("someone-elses")),
        (
            Some("liveness-out"),
            Some("arn:aws:kms:us-east-1:222222222222:key/liveness-key"),
        ),
    ] {
        let error = check(bucket, key).await.unwrap_err();
        assert_eq!(
            error.code,
            ErrorCode::AccessDeniedException,
            "{bucket:?} {key:?}"
        );
    }
    // Another tenant may use neither the bucket nor the key.
    let error = output
        .check_create("222222222222", &settings(Some("liveness-out"), None))
        .await
        .unwrap_err();
    assert_eq!(error.code, ErrorCode::AccessDeniedException);
}

#[tokio::test]
async fn images_land_under_the_documented_keys_and_results_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let output = output(dir.path());
    let record = record(settings(Some("liveness-out"), None));
    let delivered = output.deliver(&record, None, analysed()).await.unwrap();
    for (image, name) in images(&delivered).iter().zip(&object_keys(&record)) {
        assert_eq!(image.bytes, None);
        let object = image.s3_object.as_ref().unwrap();
        assert_eq!(object.bucket.as_deref(), Some("liveness-out"));
        assert_eq!(object.name.as_deref(), Some(name.as_str()));
        assert_eq!(object.version, None, "a directory does not version");
        assert!(image.bounding_box.is_some());
        let file = dir.path().join("output/liveness-out").join(name);
        assert_eq!(std::fs::read(file).unwrap(), tiny_jpeg());
    }
    // Faces: the folders are their owner's only, so no other user of the machine reads them.
    #[cfg(unix)]
    for folder in ["output", "output/liveness-out"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join(folder))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{folder}");
    }
}

#[tokio::test]
async fn with_a_kms_key_files_evidence_and_kept_images_are_sealed_and_open_again() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keyring(dir.path());
    let output = Output::new(
        Arc::new(ObjectStoreOutput::local(dir.path().join("output"))),
        keys.clone(),
        grants("alias/liveness"),
    );

    // Into the bucket: each file an envelope that `open_file` (`openliveness decrypt`) opens.
    let record = record(settings(Some("liveness-out"), Some("alias/liveness")));
    let key = output.session_key(&record).await.unwrap().unwrap();
    assert_eq!(
        key.key_id,
        "arn:aws:kms:us-east-1:111111111111:key/liveness-key"
    );
    let delivered = output
        .deliver(&record, Some(&key), analysed())
        .await
        .unwrap();
    for image in images(&delivered) {
        let name = image.s3_object.as_ref().unwrap().name.as_deref().unwrap();
        let file = std::fs::read(dir.path().join("output/liveness-out").join(name)).unwrap();
        assert!(!has_image_or_video_signature(&file), "{name}");
        assert_eq!(output.open_file(&file).await.unwrap(), tiny_jpeg());
        let stored = output.images().get("liveness-out", name).await.unwrap();
        assert_eq!(stored, file);
    }

    // Without a bucket the images stay in the result, sealed, and open for Get.
    let record_kept = {
        let mut kept = record.clone();
        kept.settings.output = None;
        kept
    };
    let mut kept = output
        .deliver(&record_kept, Some(&key), analysed())
        .await
        .unwrap();
    let sealed = kept
        .reference_image
        .as_ref()
        .unwrap()
        .bytes
        .clone()
        .unwrap()
        .0;
    assert!(!has_image_or_video_signature(&sealed));
    output
        .open_images(
            kept.reference_image
                .iter_mut()
                .chain(kept.audit_images.iter_mut())
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(kept.reference_image.unwrap().bytes.unwrap().0, tiny_jpeg());
    assert_eq!(kept.audit_images[1].bytes.as_ref().unwrap().0, tiny_jpeg());

    // The evidence: the video and the events sealed, both open again.
    let mut video = vec![0x1A, 0x45, 0xDF, 0xA3];
    video.extend(std::iter::repeat_n(7u8, 1000));
    let events = vec![ReceivedEvent {
        arrived_at: 1,
        event: ClientEvent::VideoEvent(VideoChunk {
            offset: 0,
            length: 1004,
            timestamp_millis: None,
        }),
    }];
    let evidence = session::evidence(&record, events, video.clone());
    let sealed = Output::seal_evidence(&key, &evidence).unwrap();
    assert!(!has_image_or_video_signature(&sealed.video));
    assert_eq!(output.open_file(&sealed.video).await.unwrap(), video);
    // `evidence.json` as it rests holds the session, the tenant and the sealed details only.
    let json = serde_json::to_vec(&sealed).unwrap();
    let details: serde_json::Value =
        serde_json::from_slice(&output.open_file(&json).await.unwrap()).unwrap();
    assert_eq!(details["challenge"]["kind"], "FaceMovementChallenge");
    assert_eq!(details["events"][0]["event_type"], "VideoEvent");
    // The server opens it whole again (the operator's report); plain evidence stays as it is.
    assert_eq!(
        output
            .open_evidence(StoredEvidence::Sealed(sealed.clone()))
            .await
            .unwrap(),
        evidence
    );
    assert_eq!(
        output
            .open_evidence(StoredEvidence::Plain(Box::new(evidence.clone())))
            .await
            .unwrap(),
        evidence
    );
    // Sealed files moved under another session's id do not open as that session's.
    let mut moved = sealed.clone();
    moved.session_id = SessionId::random();
    assert!(output
        .open_evidence(StoredEvidence::Sealed(moved))
        .await
        .is_err());

    // The data key is bound to its session: another session's context does not unwrap it.
    assert!(keys
        .decrypt_data_key(&key.key_id, &key.wrapped, "session=another")
        .await
        .is_err());
}

#[tokio::test]
async fn a_key_prefix_cannot_climb_out_of_the_buckets_folder() {
    let dir = tempfile::tempdir().unwrap();
    let output = output(dir.path());
    let mut record = record(settings(Some("liveness-out"), None));
    record.settings.output = Some(OutputLocation {
        bucket: "liveness-out".to_owned(),
        key_prefix: "../../escaped/".to_owned(),
    });
    let reason = output.deliver(&record, None, analysed()).await.unwrap_err();
    assert!(reason.contains("could not write the images"), "{reason}");
    assert!(!dir.path().join("escaped").exists());
    assert!(!dir.path().join("output/escaped").exists());
}
