//! `openliveness decrypt` on what the output sealed: an image the local output wrote under a
//! session's KMS key opens with the configuration's keyring, and nothing else opens.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

use std::process::Command;

use openliveness_output::{KmsConfig, LocalKeyConfig, Output, OutputConfig};
use openliveness_protocol::{
    AuditImage, Blob, LivenessSessionStatus, OutputLocation, SessionId, SessionSettings,
};
use openliveness_store::{SessionRecord, SessionResult};

const CONFIG: &str = r#"
[[kms.keys]]
id = "decrypt-test"
account = "111111111111"
aliases = ["alias/liveness"]
"#;

#[tokio::test]
async fn decrypt_opens_a_sealed_image_with_the_configured_key() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let config_path = dir.path().join("openliveness.toml");
    std::fs::write(&config_path, CONFIG).unwrap();

    // Seal an image as the server does, with the key generated into the data directory.
    let output = Output::configured(
        &OutputConfig::default(),
        &KmsConfig {
            keys: vec![LocalKeyConfig {
                id: "decrypt-test".to_owned(),
                account: Some("111111111111".to_owned()),
                aliases: vec!["alias/liveness".to_owned()],
                ..LocalKeyConfig::default()
            }],
            ..KmsConfig::default()
        },
        &data_dir,
    )
    .unwrap();
    let record = SessionRecord {
        id: SessionId::random(),
        tenant: "111111111111".to_owned(),
        client_request_token: None,
        settings: SessionSettings {
            kms_key_id: Some("alias/liveness".to_owned()),
            output: Some(OutputLocation {
                bucket: "liveness-out".to_owned(),
                key_prefix: String::new(),
            }),
            ..SessionSettings::default()
        },
        status: LivenessSessionStatus::InProgress,
        created_at: 0,
        expires_at: 1,
        purge_at: 2,
        result: None,
    };
    let image = b"\xff\xd8\xff\xe0 an image \xff\xd9".to_vec();
    let key = output.session_key(&record).await.unwrap();
    output
        .deliver(
            &record,
            key.as_ref(),
            SessionResult {
                confidence: Some(90.0),
                challenge: None,
                reference_image: Some(AuditImage {
                    bytes: Some(Blob(image.clone())),
                    s3_object: None,
                    bounding_box: None,
                }),
                audit_images: Vec::new(),
                failure_reason: None,
            },
        )
        .await
        .unwrap();
    let sealed = data_dir
        .join("output/liveness-out")
        .join(record.id.to_string())
        .join("reference.jpg");
    assert_ne!(std::fs::read(&sealed).unwrap(), image);

    let opened = dir.path().join("opened.jpg");
    let status = Command::new(env!("CARGO_BIN_EXE_openliveness"))
        .arg("decrypt")
        .arg("--config")
        .arg(&config_path)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("-o")
        .arg(&opened)
        .arg(&sealed)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read(&opened).unwrap(), image);

    // Without the key's material (another data directory) it does not open.
    let output = Command::new(env!("CARGO_BIN_EXE_openliveness"))
        .arg("decrypt")
        .arg("--config")
        .arg(&config_path)
        .arg("--data-dir")
        .arg(dir.path().join("another"))
        .arg(&sealed)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not unwrap"));
}
