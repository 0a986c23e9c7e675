//! Encoding as a client's recorder does: VP8 in a live WebM and H.264 in a fragmented MP4, each
//! deterministic, decoded back by the crate's own decoder, and cut into the chunks the recorder
//! hands out.
#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

use openliveness_vision::decode::{decode_all, DecodeOptions, VideoCodec};
use openliveness_vision::encode::{
    encode_mp4_h264, encode_webm_vp8, split_at_clusters, split_at_fragments, EncodeError,
    EncodeOptions,
};
use openliveness_vision::{Container, RgbImage};

/// `count` frames of a colour pattern sliding right, at 15 frames/s with intervals that vary by a
/// few milliseconds, as a camera's do.
fn sliding_pattern(count: usize, width: u32, height: u32) -> (Vec<RgbImage>, Vec<u64>) {
    let frames = (0..count)
        .map(|n| {
            let mut data = Vec::with_capacity((width * height * 3) as usize);
            for y in 0..height {
                for x in 0..width {
                    let sx = x + 3 * n as u32;
                    data.extend_from_slice(&[(sx * 2) as u8, (y * 2) as u8, ((sx ^ y) * 3) as u8]);
                }
            }
            RgbImage::new(width, height, data).unwrap()
        })
        .collect();
    let timestamps = (0..count as u64).map(|n| n * 1000 / 15 + n % 3).collect();
    (frames, timestamps)
}

/// The top-level box types of an MP4, in order.
fn top_level_boxes(mp4: &[u8]) -> Vec<String> {
    let mut kinds = Vec::new();
    let mut offset = 0;
    while offset + 8 <= mp4.len() {
        let size = u32::from_be_bytes(mp4[offset..offset + 4].try_into().unwrap()) as usize;
        kinds.push(String::from_utf8_lossy(&mp4[offset + 4..offset + 8]).into_owned());
        assert!(size >= 8, "box {kinds:?} of size {size}");
        offset += size;
    }
    assert_eq!(offset, mp4.len());
    kinds
}

#[test]
fn h264_encode_is_deterministic_and_a_fragmented_mp4() {
    let (frames, timestamps) = sliding_pattern(45, 160, 120);
    let options = EncodeOptions::default();
    let first = encode_mp4_h264(&frames, &timestamps, &options).unwrap();
    let second = encode_mp4_h264(&frames, &timestamps, &options).unwrap();
    assert!(first == second, "two encodings of the same frames differ");
    assert_eq!(&first[4..8], b"ftyp");
    let boxes = top_level_boxes(&first);
    assert_eq!(boxes[..2], ["ftyp", "moov"]);
    assert!(
        boxes[2..].chunks(2).all(|pair| pair == ["moof", "mdat"]),
        "{boxes:?}"
    );
    // No version string of FFmpeg's or x264's is written.
    for needle in [&b"Lavf"[..], b"x264", b"Lavc"] {
        assert!(
            !first.windows(needle.len()).any(|window| window == needle),
            "{} in the output",
            String::from_utf8_lossy(needle)
        );
    }
    // Another bit rate gives another video.
    let lower = EncodeOptions {
        bits_per_second: 200_000,
        ..options
    };
    assert_ne!(
        encode_mp4_h264(&frames, &timestamps, &lower).unwrap(),
        first
    );
}

#[test]
fn h264_encode_decodes_back_to_the_frames_and_their_times() {
    let (frames, timestamps) = sliding_pattern(30, 160, 120);
    let mp4 = encode_mp4_h264(&frames, &timestamps, &EncodeOptions::default()).unwrap();
    let (decoded, summary) = decode_all(&mp4, &DecodeOptions::default()).unwrap();
    assert_eq!(summary.container, Container::Mp4);
    assert_eq!(summary.codec, VideoCodec::H264);
    assert_eq!(decoded.len(), frames.len());
    for (frame, &ms) in decoded.iter().zip(&timestamps) {
        assert_eq!((frame.decoded_width, frame.decoded_height), (160, 120));
        assert_eq!(frame.timestamp_us, Some(ms as i64 * 1000));
        let image = frame.image.as_ref().unwrap();
        assert_eq!((image.width(), image.height()), (160, 120));
    }
    // The pixels come back close to the pattern (mean error per channel).
    let (source, got) = (
        frames[20].data(),
        decoded[20].image.as_ref().unwrap().data(),
    );
    let error = source
        .iter()
        .zip(got)
        .map(|(a, b)| f64::from(a.abs_diff(*b)))
        .sum::<f64>()
        / source.len() as f64;
    assert!(error < 12.0, "mean error {error:.1}");
}

#[test]
fn h264_encode_splits_into_fragments_a_second_apart_each_starting_with_a_keyframe() {
    // 3 s at 15 frames/s.
    let (frames, timestamps) = sliding_pattern(45, 160, 120);
    let mp4 = encode_mp4_h264(&frames, &timestamps, &EncodeOptions::default()).unwrap();
    let pieces = split_at_fragments(&mp4);
    assert_eq!(pieces.len(), 3);
    assert_eq!(pieces.concat(), mp4);
    assert_eq!(
        top_level_boxes(&pieces[0]),
        ["ftyp", "moov", "moof", "mdat"]
    );
    for piece in &pieces[1..] {
        assert_eq!(top_level_boxes(piece), ["moof", "mdat"]);
    }
    // Each piece decodes on its own after the first one's header: every fragment starts with a
    // keyframe.
    for count in 1..=pieces.len() {
        let (decoded, _) = decode_all(
            &[&pieces[..1], &pieces[count - 1..count]].concat().concat(),
            &DecodeOptions::default(),
        )
        .unwrap();
        let expected = if count == 1 { 15 } else { 30 };
        assert_eq!(decoded.len(), expected, "piece {count}");
    }
}

#[test]
fn splitting_a_truncated_or_garbage_encode_gives_the_bytes_back_whole() {
    let (frames, timestamps) = sliding_pattern(45, 96, 64);
    let mp4 = encode_mp4_h264(&frames, &timestamps, &EncodeOptions::default()).unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut random = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut inputs: Vec<Vec<u8>> = (0..mp4.len())
        .step_by(97)
        .map(|cut| mp4[..cut].to_vec())
        .collect();
    for _ in 0..200 {
        let mut corrupted = mp4.clone();
        for _ in 0..4 {
            let at = random() as usize % corrupted.len();
            corrupted[at] = random() as u8;
        }
        inputs.push(corrupted);
    }
    inputs.extend((0..64).map(|length| (0..length).map(|_| random() as u8).collect()));
    inputs.push(b"\0\0\0\x01moof\xff\xff\xff\xff\xff\xff\xff\xf0".to_vec());
    inputs.push(b"\0\0\0\0moof\0\0\0\x08moof".to_vec());
    inputs.push(b"\0\0\0\x08moof\0\0\0\x08moof\0\0\0\x04moof\0\0".to_vec());
    for input in &inputs {
        let pieces = split_at_fragments(input);
        assert!(!pieces.is_empty());
        assert_eq!(&pieces.concat(), input);
    }
    // A truncated last fragment stays in the last piece.
    let whole = split_at_fragments(&mp4);
    let cut = split_at_fragments(&mp4[..mp4.len() - 10]);
    assert_eq!(cut.len(), whole.len());
    assert_eq!(cut[..cut.len() - 1], whole[..whole.len() - 1]);
}

#[test]
fn vp8_encode_is_deterministic_and_splits_at_clusters() {
    let (frames, timestamps) = sliding_pattern(45, 160, 120);
    let first = encode_webm_vp8(&frames, &timestamps, &EncodeOptions::default()).unwrap();
    assert!(first == encode_webm_vp8(&frames, &timestamps, &EncodeOptions::default()).unwrap());
    let pieces = split_at_clusters(&first);
    assert_eq!(pieces.len(), 3);
    assert_eq!(pieces.concat(), first);
    let (decoded, summary) = decode_all(&first, &DecodeOptions::default()).unwrap();
    assert_eq!(
        (summary.container, summary.codec),
        (Container::WebM, VideoCodec::Vp8)
    );
    assert_eq!(decoded.len(), frames.len());
}

#[test]
fn both_encoders_refuse_the_same_bad_input() {
    let (frames, timestamps) = sliding_pattern(3, 32, 32);
    let options = EncodeOptions::default();
    let (_, other_size) = (0, sliding_pattern(1, 64, 32).0);
    let mixed = vec![frames[0].clone(), other_size[0].clone()];
    for encode in [encode_webm_vp8, encode_mp4_h264] {
        assert_eq!(encode(&[], &[], &options), Err(EncodeError::NoFrames));
        assert_eq!(
            encode(&frames, &timestamps[..2], &options),
            Err(EncodeError::Timestamps(2))
        );
        assert_eq!(
            encode(&frames, &[0, 40, 40], &options),
            Err(EncodeError::Timestamps(2))
        );
        assert_eq!(
            encode(&mixed, &[0, 40], &options),
            Err(EncodeError::SizeMismatch(1))
        );
    }
}
