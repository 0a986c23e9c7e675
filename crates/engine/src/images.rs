//! The reference image and the audit images: JPEG frames with the face's box.

use openliveness_protocol::{AuditImage, Blob, BoundingBox};
use openliveness_vision::RgbImage;

use crate::observe::{Candidate, Observations};

/// The most a returned image may weigh (docs/decision.md: 200 KiB).
pub const MAX_IMAGE_BYTES: usize = 200 * 1024;

/// Encodes a frame as JPEG at `quality`, lowering the quality until it fits in
/// [`MAX_IMAGE_BYTES`].
pub fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut quality = quality.clamp(30, 95);
    loop {
        let mut out = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
        let written = encoder
            .encode(
                image.data(),
                image.width(),
                image.height(),
                image::ExtendedColorType::Rgb8,
            )
            .is_ok();
        if !written {
            return Vec::new();
        }
        if out.len() <= MAX_IMAGE_BYTES || quality <= 30 {
            return out;
        }
        quality -= 10;
    }
}

/// The JPEG quality images start at.
pub const JPEG_QUALITY: u8 = 85;

fn audit_image(candidate: &Candidate) -> AuditImage {
    let [left, top, width, height] = candidate.face;
    AuditImage {
        bytes: Some(Blob(jpeg(&candidate.image.to_rgb(), JPEG_QUALITY))),
        s3_object: None,
        bounding_box: Some(BoundingBox {
            width: width.clamp(0.0, 1.0),
            height: height.clamp(0.0, 1.0),
            left: left.clamp(-1.0, 1.0),
            top: top.clamp(-1.0, 1.0),
        }),
    }
}

/// Picks the reference image (the face at its largest, sharp, lit by the page rather than a
/// strong colour: `colour_window` is the time the colours were on, in video ms) and up to
/// `audit_limit` audit images spread over the rest of the session.
pub fn select(
    observations: &Observations,
    colour_window: Option<(f64, f64)>,
    audit_limit: usize,
) -> (Option<AuditImage>, Vec<AuditImage>) {
    let candidates: Vec<&Candidate> = observations.candidates.iter().collect();
    let largest = candidates.iter().map(|c| c.face[2]).fold(0.0f32, f32::max);
    let in_colours =
        |c: &Candidate| colour_window.is_some_and(|(from, to)| c.t_ms >= from && c.t_ms <= to);
    let score = |c: &Candidate| {
        let size = c.face[2] / largest.max(1e-6);
        let lit = if in_colours(c) { 0.5 } else { 1.0 };
        f64::from(size.powi(4)) * lit * f64::from(c.sharpness.max(1.0)).ln()
    };
    let reference = candidates
        .iter()
        .copied()
        .max_by(|a, b| score(a).total_cmp(&score(b)));
    let Some(reference) = reference else {
        return (None, Vec::new());
    };
    let others: Vec<&Candidate> = candidates
        .iter()
        .copied()
        .filter(|c| c.frame != reference.frame)
        .collect();
    let audit = if audit_limit == 0 || others.is_empty() {
        Vec::new()
    } else {
        let take = audit_limit.min(others.len());
        (0..take)
            .map(|i| others[i * others.len() / take])
            .map(audit_image)
            .collect()
    };
    (Some(audit_image(reference)), audit)
}
