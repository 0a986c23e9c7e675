//! The official AWS SDK for Rust (`aws-sdk-rekognition`) against the real `openliveness` binary:
//! what an app backend does after changing only its endpoint and credentials.

#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use aws_sdk_rekognition::error::ProvideErrorMetadata;
use aws_sdk_rekognition::types::{
    ChallengePreference, ChallengeType, CreateFaceLivenessSessionRequestSettings,
    LivenessOutputConfig, LivenessSessionStatus, Versions,
};
use common::sdk_calls::{
    create_session, create_session_error, create_session_with_token, results, results_error,
};
use common::{is_uuid_v4, sdk_client, Key, Options, Server, READ_ONLY_A, TENANT_A, TENANT_B};

fn every_setting() -> CreateFaceLivenessSessionRequestSettings {
    CreateFaceLivenessSessionRequestSettings::builder()
        .output_config(
            LivenessOutputConfig::builder()
                .s3_bucket("my-bucket")
                .s3_key_prefix("liveness/")
                .build()
                .unwrap(),
        )
        .audit_images_limit(2)
        .challenge_preferences(
            ChallengePreference::builder()
                .r#type(ChallengeType::FaceMovementChallenge)
                .versions(
                    Versions::builder()
                        .minimum("1.0.0")
                        .maximum("1.0.0")
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .challenge_preferences(
            ChallengePreference::builder()
                .r#type(ChallengeType::FaceMovementAndLightChallenge)
                .build()
                .unwrap(),
        )
        .build()
}

#[tokio::test]
async fn create_with_every_setting_then_get() {
    // The KMS key it names, in the local keyring.
    let server = Server::start(Options::with_config(
        "[[kms.keys]]\nid = \"1234abcd-12ab-34cd-56ef-1234567890ab\"\naccount = \"111111111111\"\n",
    ));
    let client = sdk_client(&server, TENANT_A);
    let created = client
        .create_face_liveness_session()
        .kms_key_id("arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        .settings(every_setting())
        .client_request_token("request-1")
        .send()
        .await
        .unwrap();
    assert!(is_uuid_v4(&created.session_id), "{}", created.session_id);

    let results = results(&client, &created.session_id).await;
    assert_eq!(results.session_id, created.session_id);
    assert_eq!(results.status, LivenessSessionStatus::Created);
    assert_eq!(results.confidence, None);
    assert!(results.reference_image.is_none());
}

#[tokio::test]
async fn client_request_token_returns_the_same_session_to_the_same_tenant_only() {
    let server = Server::start(Options::default());
    let a = sdk_client(&server, TENANT_A);
    let first = create_session_with_token(&a, "token-1").await;
    assert_eq!(create_session_with_token(&a, "token-1").await, first);
    assert_ne!(create_session_with_token(&a, "token-2").await, first);
    let b = sdk_client(&server, TENANT_B);
    assert_ne!(create_session_with_token(&b, "token-1").await, first);
    assert_ne!(create_session(&a).await, first);
}

#[tokio::test]
async fn invalid_parameter_arrives_as_the_typed_error() {
    let server = Server::start(Options::default());
    let error = sdk_client(&server, TENANT_A)
        .create_face_liveness_session()
        .client_request_token("not a valid token!")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_invalid_parameter_exception(), "{error:?}");
    assert!(
        error
            .message()
            .unwrap_or_default()
            .contains("clientRequestToken"),
        "{error:?}"
    );
}

#[tokio::test]
async fn unknown_and_other_tenants_sessions_are_not_found() {
    let server = Server::start(Options::default());
    let session_id = create_session(&sdk_client(&server, TENANT_A)).await;
    for (key, id) in [
        (TENANT_B, session_id.as_str()),
        (TENANT_A, "0f7c5ad4-5c4e-4b7a-9d0c-3b4f0d6a2e11"),
    ] {
        let error = results_error(&sdk_client(&server, key), id).await;
        assert!(error.is_session_not_found_exception(), "{error:?}");
    }
}

#[tokio::test]
async fn a_key_without_the_permission_gets_access_denied() {
    let server = Server::start(Options::default());
    let client = sdk_client(&server, READ_ONLY_A);
    let error = create_session_error(&client).await;
    assert!(error.is_access_denied_exception(), "{error:?}");
    // The same key may read tenant A's results.
    let session_id = create_session(&sdk_client(&server, TENANT_A)).await;
    assert_eq!(
        results(&client, &session_id).await.status,
        LivenessSessionStatus::Created
    );
}

#[tokio::test]
async fn a_tenant_over_its_quota_gets_provisioned_throughput_exceeded() {
    // Two requests, then one more every 1000 seconds.
    let server = Server::start(Options::with_config(
        "[limits]\ntenant_requests_per_second = 0.001\ntenant_burst = 2\n",
    ));
    let client = sdk_client(&server, TENANT_A);
    create_session(&client).await;
    create_session(&client).await;
    let error = create_session_error(&client).await;
    assert!(
        error.is_provisioned_throughput_exceeded_exception(),
        "{error:?}"
    );
    // Another tenant has its own quota.
    create_session(&sdk_client(&server, TENANT_B)).await;
}

#[tokio::test]
async fn authentication_failures_carry_the_front_door_codes() {
    let server = Server::start(Options::default());
    let cases = [
        (
            Key {
                access_key_id: "AKIDUNKNOWN",
                ..TENANT_A
            },
            "UnrecognizedClientException",
        ),
        (
            Key {
                secret: "not-the-secret",
                ..TENANT_A
            },
            "InvalidSignatureException",
        ),
    ];
    for (key, code) in cases {
        let error = create_session_error(&sdk_client(&server, key)).await;
        assert_eq!(error.code(), Some(code), "{error:?}");
    }
}

#[tokio::test]
async fn sessions_survive_a_hard_restart() {
    let mut server = Server::start(Options::default());
    let session_id = create_session_with_token(&sdk_client(&server, TENANT_A), "durable").await;
    let data_dir = server.data_dir.clone();
    // SIGKILL: the server gets no chance to flush; what it acknowledged must already be on disk.
    server.kill();
    let restarted = Server::start(Options {
        data_dir: Some(data_dir),
        ..Options::default()
    });
    let client = sdk_client(&restarted, TENANT_A);
    assert_eq!(
        results(&client, &session_id).await.status,
        LivenessSessionStatus::Created
    );
    assert_eq!(
        create_session_with_token(&client, "durable").await,
        session_id
    );
}

/// Issue 22: the data directory was created readable by every local user, and the session
/// database in it too. Started on a directory that does not exist yet, the server makes both
/// its owner's only.
#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_the_server_creates_is_its_owners_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let parent = tempfile::tempdir().unwrap();
    let data_dir = parent.path().join("data");
    let server = Server::start(Options {
        data_dir: Some(data_dir.clone()),
        ..Options::default()
    });
    create_session(&sdk_client(&server, TENANT_A)).await;
    assert_eq!(mode(&data_dir), 0o700);
    assert_eq!(mode(&data_dir.join("sessions.redb")), 0o600);
}
