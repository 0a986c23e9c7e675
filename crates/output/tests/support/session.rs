//! Test support: the session records, analysed results and grants that the local and the S3
//! adapter's tests deliver, and the object keys their images must land under.

#![allow(dead_code)] // Each test binary uses its own part of this module.

use openliveness_evidence::{Evidence, ReceivedEvent};
use openliveness_output::Grant;
use openliveness_protocol::{
    AuditImage, Blob, BoundingBox, LivenessSessionStatus, OutputLocation, SessionId,
    SessionSettings,
};
use openliveness_store::{SessionRecord, SessionResult};

use crate::fixtures::tiny_jpeg;

pub const TENANT: &str = "111111111111";
/// The bucket the tenant is granted.
pub const BUCKET: &str = "liveness-out";

/// Output to `bucket` under `liveness/`, sealed with `key`.
pub fn settings(bucket: Option<&str>, key: Option<&str>) -> SessionSettings {
    SessionSettings {
        kms_key_id: key.map(str::to_owned),
        output: bucket.map(|bucket| OutputLocation {
            bucket: bucket.to_owned(),
            key_prefix: "liveness/".to_owned(),
        }),
        ..SessionSettings::default()
    }
}

/// A session of [`TENANT`] being streamed.
pub fn record(settings: SessionSettings) -> SessionRecord {
    SessionRecord {
        id: SessionId::random(),
        tenant: TENANT.to_owned(),
        client_request_token: None,
        settings,
        status: LivenessSessionStatus::InProgress,
        created_at: 0,
        expires_at: 180_000,
        purge_at: 3_780_000,
        result: None,
    }
}

/// A result with a reference image and `audit_images` audit images, each the tiny JPEG.
pub fn analysed(audit_images: usize, bounding_box: Option<BoundingBox>) -> SessionResult {
    let image = || AuditImage {
        bytes: Some(Blob(tiny_jpeg())),
        s3_object: None,
        bounding_box,
    };
    SessionResult {
        confidence: Some(97.5),
        challenge: None,
        reference_image: Some(image()),
        audit_images: (0..audit_images).map(|_| image()).collect(),
        failure_reason: None,
    }
}

/// The evidence of `record`'s session: a face movement challenge for 640x480 (always the same
/// one), the client's `events` and the `video`.
pub fn evidence(record: &SessionRecord, events: Vec<ReceivedEvent>, video: Vec<u8>) -> Evidence {
    Evidence {
        session_id: record.id,
        tenant: record.tenant.clone(),
        challenge: openliveness_protocol::challenge::issue(
            openliveness_protocol::ChallengeKind::FaceMovementChallenge,
            openliveness_protocol::ChallengeVersion(1, 0, 0),
            640,
            480,
            &mut openliveness_protocol::challenge::SeededRandom::new(1),
        ),
        events,
        video,
    }
}

/// [`TENANT`] may use [`BUCKET`] and `kms_key`.
pub fn grants(kms_key: &str) -> Vec<Grant> {
    vec![Grant {
        tenant: TENANT.to_owned(),
        buckets: vec![BUCKET.to_owned()],
        kms_keys: vec![kms_key.to_owned()],
    }]
}

/// The reference image, then the audit images.
pub fn images(result: &SessionResult) -> Vec<&AuditImage> {
    result
        .reference_image
        .iter()
        .chain(result.audit_images.iter())
        .collect()
}

/// The documented object keys of a session's reference image and first two audit images.
pub fn object_keys(record: &SessionRecord) -> [String; 3] {
    let id = record.id.to_string();
    [
        format!("liveness/{id}/reference.jpg"),
        format!("liveness/{id}/audit/1.jpg"),
        format!("liveness/{id}/audit/2.jpg"),
    ]
}
