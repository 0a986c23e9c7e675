//! Decoding real FFmpeg-encoded videos from memory: every container and codec a browser's
//! MediaRecorder produces, chunked however the network cut it, truncated, corrupted, over the
//! limits.
#![allow(clippy::unwrap_used)] // Tests stop at the first failed step.

mod common;

use std::ops::ControlFlow;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Encoding;
use openliveness_vision::decode::{
    self, DecodeEnd, DecodeError, DecodeLimits, DecodeOptions, DecodeSummary, Frame, ImageOutput,
    InputReading, VideoCodec,
};
use openliveness_vision::Container;
use proptest::prelude::*;

fn expected_kind(encoding: Encoding) -> (Container, VideoCodec, InputReading) {
    match encoding {
        Encoding::WebmVp8 => (Container::WebM, VideoCodec::Vp8, InputReading::Streamed),
        Encoding::WebmVp9 => (Container::WebM, VideoCodec::Vp9, InputReading::Streamed),
        Encoding::FragmentedMp4 => (Container::Mp4, VideoCodec::H264, InputReading::Streamed),
        Encoding::FaststartMp4 | Encoding::PlainMp4 => {
            (Container::Mp4, VideoCodec::H264, InputReading::Buffered)
        }
    }
}

/// Mean absolute difference per channel between two images of the same size.
fn mean_difference(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(x.abs_diff(*y)))
        .sum::<f64>()
        / a.len() as f64
}

#[test]
fn decodes_every_encoding_into_the_frames_that_were_encoded() {
    let photo = common::photo("astronaut.png");
    let sources = common::zoom_pan_frames(&photo);
    for encoding in Encoding::ALL {
        let video = common::zoom_pan_video(encoding);
        let (frames, summary) = decode::decode_all(video, &DecodeOptions::default())
            .unwrap_or_else(|e| panic!("{encoding:?}: {e}"));
        let (container, codec, reading) = expected_kind(encoding);
        assert_eq!(
            (
                summary.container,
                summary.codec,
                summary.reading,
                summary.frames,
                summary.end
            ),
            (
                container,
                codec,
                reading,
                common::FRAMES,
                DecodeEnd::EndOfInput
            ),
            "{encoding:?}"
        );
        assert_eq!(summary.input_bytes, video.len() as u64);
        assert_eq!(summary.skipped_packets, 0);
        let mut previous: Option<i64> = None;
        for (frame, source) in frames.iter().zip(&sources) {
            let image = frame.image.as_ref().unwrap();
            assert_eq!((frame.decoded_width, frame.decoded_height), (640, 480));
            assert_eq!((image.width(), image.height()), (640, 480));
            let view = frame.detector_view.as_ref().unwrap();
            assert_eq!((view.width(), view.height()), (128, 96));
            // Lossy, but the same picture: colours and orientation survive the round trip.
            let difference = mean_difference(image.data(), source.data());
            assert!(
                difference < 6.0,
                "{encoding:?} frame {}: mean difference {difference}",
                frame.index
            );
            // 15 frames/s; WebM stamps whole milliseconds. The first frame is at 0, or, in the
            // fragmented MP4, two frames later (the B-frame delay, no edit list).
            let timestamp = frame.timestamp_us.unwrap();
            let start = frames[0].timestamp_us.unwrap();
            assert!(
                start == 0 || (encoding == Encoding::FragmentedMp4 && start == 133_333),
                "{encoding:?} starts at {start} µs"
            );
            let expected = start + i64::from(frame.index) * 1_000_000 / 15;
            assert!(
                (timestamp - expected).abs() <= 1_000,
                "{encoding:?} frame {}: {timestamp} µs",
                frame.index
            );
            if let Some(previous) = previous {
                assert!(timestamp > previous);
            }
            previous = Some(timestamp);
        }
    }
}

/// Sends `video` in chunks of the given sizes (cycled) from another thread while it decodes.
fn decode_chunked(
    video: &[u8],
    sizes: &[usize],
    options: &DecodeOptions,
) -> (Vec<Frame>, Result<DecodeSummary, DecodeError>) {
    let (sender, chunks) = mpsc::sync_channel::<Vec<u8>>(4);
    let video = video.to_vec();
    let sizes = sizes.to_vec();
    let producer = std::thread::spawn(move || {
        let mut offset = 0;
        for size in sizes.iter().cycle() {
            if offset >= video.len() {
                break;
            }
            let end = (offset + size).min(video.len());
            if sender.send(video[offset..end].to_vec()).is_err() {
                break;
            }
            offset = end;
        }
    });
    let mut frames = Vec::new();
    let result = decode::decode_stream(chunks, options, &mut |frame| {
        frames.push(frame);
        ControlFlow::Continue(())
    });
    producer.join().unwrap();
    (frames, result)
}

fn assert_same_frames(a: &[Frame], b: &[Frame], context: &str) {
    assert_eq!(a.len(), b.len(), "{context}: frame counts");
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.index, y.index, "{context}");
        assert_eq!(
            x.timestamp_us, y.timestamp_us,
            "{context}: frame {}",
            x.index
        );
        assert!(
            x.image == y.image,
            "{context}: frame {} image differs",
            x.index
        );
        assert!(
            x.detector_view == y.detector_view,
            "{context}: frame {} view differs",
            x.index
        );
    }
}

fn whole(encoding: Encoding) -> &'static (Vec<Frame>, DecodeSummary) {
    static WHOLE: [std::sync::OnceLock<(Vec<Frame>, DecodeSummary)>; 5] =
        [const { std::sync::OnceLock::new() }; 5];
    let index = Encoding::ALL.iter().position(|e| *e == encoding).unwrap();
    WHOLE[index].get_or_init(|| {
        decode::decode_all(common::zoom_pan_video(encoding), &DecodeOptions::default()).unwrap()
    })
}

fn check_chunking(encoding: Encoding, sizes: &[usize]) {
    let (expected, expected_summary) = whole(encoding);
    let (frames, result) = decode_chunked(
        common::zoom_pan_video(encoding),
        sizes,
        &DecodeOptions::default(),
    );
    let summary = result.unwrap_or_else(|e| panic!("{encoding:?} in chunks of {sizes:?}: {e}"));
    assert_eq!(
        &summary, expected_summary,
        "{encoding:?} in chunks of {sizes:?}"
    );
    assert_same_frames(
        &frames,
        expected,
        &format!("{encoding:?} in chunks of {sizes:?}"),
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_webm_split_anywhere_decodes_to_the_same_frames(sizes in proptest::collection::vec(1usize..40_000, 1..12)) {
        check_chunking(Encoding::WebmVp8, &sizes);
    }

    #[test]
    fn a_fragmented_mp4_split_anywhere_decodes_to_the_same_frames(sizes in proptest::collection::vec(1usize..40_000, 1..12)) {
        check_chunking(Encoding::FragmentedMp4, &sizes);
    }

    #[test]
    fn a_whole_mp4_split_anywhere_decodes_to_the_same_frames(sizes in proptest::collection::vec(1usize..40_000, 1..12)) {
        check_chunking(Encoding::PlainMp4, &sizes);
    }
}

#[test]
fn byte_by_byte_headers_and_tiny_chunks_decode_to_the_same_frames() {
    for encoding in Encoding::ALL {
        check_chunking(encoding, &[1]);
        check_chunking(encoding, &[1, 2, 3, 5, 7, 11, 13, 4096]);
    }
}

/// The first frame comes out while the rest of the video has not arrived yet.
#[test]
fn the_first_frame_is_not_held_back() {
    for encoding in [
        Encoding::WebmVp8,
        Encoding::WebmVp9,
        Encoding::FragmentedMp4,
    ] {
        let video = common::zoom_pan_video(encoding).to_vec();
        let (sender, chunks) = mpsc::channel::<Vec<u8>>();
        let (first_frame, first_frame_seen) = mpsc::channel::<()>();
        let producer = std::thread::spawn(move || {
            // The first second (MediaRecorder's first chunk), then nothing until a frame is out.
            let first = video.len() / 2;
            sender.send(video[..first].to_vec()).unwrap();
            let early = first_frame_seen
                .recv_timeout(Duration::from_secs(20))
                .is_ok();
            sender.send(video[first..].to_vec()).unwrap();
            early
        });
        let mut frames = 0;
        decode::decode_stream(chunks, &DecodeOptions::default(), &mut |_| {
            if frames == 0 {
                let _ = first_frame.send(());
            }
            frames += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert!(
            producer.join().unwrap(),
            "{encoding:?}: no frame before the second half was sent"
        );
        assert_eq!(frames, common::FRAMES);
    }
}

/// A whole MP4 fed as a stream is recognised and decoded from the complete buffer: FFmpeg's MOV
/// demuxer spun at full CPU when it was handed such a file as a non-seekable stream.
#[test]
fn a_whole_mp4_fed_as_a_stream_is_buffered_not_spun_on() {
    for encoding in [Encoding::PlainMp4, Encoding::FaststartMp4] {
        let started = Instant::now();
        let (frames, result) = decode_chunked(
            common::zoom_pan_video(encoding),
            &[1000],
            &DecodeOptions::default(),
        );
        let summary = result.unwrap();
        assert_eq!(summary.reading, InputReading::Buffered);
        assert_eq!(frames.len(), common::FRAMES as usize);
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{encoding:?} took {:?}",
            started.elapsed()
        );
    }
}

/// Decoding may end in an error or with fewer frames, but it ends, soon, without a panic.
fn check_ends_cleanly(bytes: &[u8], context: &str) -> Result<u32, DecodeError> {
    let options = DecodeOptions {
        limits: DecodeLimits {
            max_decode_time: Duration::from_secs(10),
            ..DecodeLimits::default()
        },
        ..DecodeOptions::default()
    };
    let started = Instant::now();
    let mut frames = 0;
    let result = decode::decode_bytes(bytes, &options, &mut |_| {
        frames += 1;
        ControlFlow::Continue(())
    });
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{context}: took {:?}",
        started.elapsed()
    );
    match result {
        Ok(summary) => {
            assert_eq!(summary.frames, frames, "{context}");
            assert!(frames <= common::FRAMES, "{context}: {frames} frames");
            Ok(frames)
        }
        Err(error) => {
            assert!(!error.to_string().is_empty());
            Err(error)
        }
    }
}

#[test]
fn truncated_videos_give_a_clear_error_or_the_frames_before_the_cut() {
    for encoding in Encoding::ALL {
        let video = common::zoom_pan_video(encoding);
        for cut in [
            1,
            3,
            4,
            7,
            8,
            20,
            100,
            1_000,
            5_000,
            video.len() / 3,
            video.len() / 2,
            video.len() - 1,
        ] {
            let result = check_ends_cleanly(&video[..cut], &format!("{encoding:?} cut at {cut}"));
            if cut <= 3 {
                assert_eq!(
                    result,
                    Err(DecodeError::NotAVideo),
                    "{encoding:?} cut at {cut}"
                );
            }
        }
        // A stream cut in its middle keeps the frames before the cut.
        if expected_kind(encoding).2 == InputReading::Streamed {
            let frames = check_ends_cleanly(&video[..video.len() / 2], "half").unwrap();
            assert!(
                frames > 5 && frames < common::FRAMES,
                "{encoding:?}: {frames} frames from half the video"
            );
        }
    }
}

#[test]
fn corrupted_videos_give_a_clear_error_or_frames() {
    let mut random = common::Xorshift(0x9e37_79b9_7f4a_7c15);
    for encoding in Encoding::ALL {
        let video = common::zoom_pan_video(encoding);
        for round in 0..12 {
            let mut bytes = video.to_vec();
            // Keep the first 8 bytes (so it is still taken for what it is), damage the rest.
            let damage = 1 + (random.next() % 64) as usize;
            for _ in 0..damage {
                let at = 8 + (random.next() as usize) % (bytes.len() - 8);
                bytes[at] = random.next() as u8;
            }
            if round % 3 == 0 {
                // A run of zeros, as a lost network segment.
                let at = 8 + (random.next() as usize) % (bytes.len() - 8);
                let end = (at + 2_000).min(bytes.len());
                bytes[at..end].fill(0);
            }
            let _ = check_ends_cleanly(&bytes, &format!("{encoding:?} round {round}"));
        }
    }
}

#[test]
fn non_video_input_is_refused_clearly() {
    let png = std::fs::read(common::testdata_dir().join("coffee.png")).unwrap();
    assert_eq!(check_ends_cleanly(&png, "png"), Err(DecodeError::NotAVideo));
    assert_eq!(check_ends_cleanly(b"", "empty"), Err(DecodeError::Empty));
    assert_eq!(
        check_ends_cleanly(b"<html><body>hi</body></html>", "html"),
        Err(DecodeError::NotAVideo)
    );
    let mut random = common::Xorshift(3);
    let noise: Vec<u8> = (0..100_000).map(|_| random.next() as u8).collect();
    assert_eq!(
        check_ends_cleanly(&noise, "noise"),
        Err(DecodeError::NotAVideo)
    );
    // Container magic followed by noise.
    for magic in [&[0x1A, 0x45, 0xDF, 0xA3][..], b"\0\0\0\x20ftypisom"] {
        let mut bytes = magic.to_vec();
        bytes.extend_from_slice(&noise);
        let error = check_ends_cleanly(&bytes, "magic and noise").unwrap_err();
        assert!(
            matches!(
                error,
                DecodeError::Container { .. }
                    | DecodeError::NoVideoStream(_)
                    | DecodeError::NoFrames(_)
            ),
            "{error:?}"
        );
    }
    // A WebM with the video track's codec id changed to one not accepted.
    let video = common::zoom_pan_video(Encoding::WebmVp8);
    let at = video.windows(5).position(|w| w == b"V_VP8").unwrap();
    let mut bytes = video.to_vec();
    bytes[at..at + 5].copy_from_slice(b"V_VP6");
    assert!(matches!(
        check_ends_cleanly(&bytes, "codec"),
        Err(DecodeError::UnsupportedCodec(_) | DecodeError::NoVideoStream(_))
    ));
}

fn with_limits(limits: DecodeLimits) -> DecodeOptions {
    DecodeOptions {
        limits,
        ..DecodeOptions::default()
    }
}

#[test]
fn limits_stop_decoding_with_their_error() {
    let video = common::zoom_pan_video(Encoding::WebmVp8);
    let mut delivered = 0;
    let result = decode::decode_bytes(
        video,
        &with_limits(DecodeLimits {
            max_frames: 10,
            ..DecodeLimits::default()
        }),
        &mut |_| {
            delivered += 1;
            ControlFlow::Continue(())
        },
    );
    assert_eq!(result, Err(DecodeError::TooManyFrames(10)));
    assert_eq!(delivered, 10, "the frames before the limit are delivered");

    let result = decode::decode_all(
        video,
        &with_limits(DecodeLimits {
            max_width: 320,
            ..DecodeLimits::default()
        }),
    );
    assert!(
        matches!(
            result,
            Err(DecodeError::ResolutionTooLarge {
                width: 640,
                height: 480,
                ..
            })
        ),
        "{result:?}"
    );

    let result = decode::decode_all(
        video,
        &with_limits(DecodeLimits {
            max_duration: Duration::from_secs(1),
            ..DecodeLimits::default()
        }),
    );
    assert_eq!(
        result.err(),
        Some(DecodeError::TooLong(Duration::from_secs(1)))
    );

    let result = decode::decode_all(
        video,
        &with_limits(DecodeLimits {
            max_input_bytes: 10_000,
            ..DecodeLimits::default()
        }),
    );
    assert_eq!(result.err(), Some(DecodeError::TooLarge(10_000)));
    let (_, result) = decode_chunked(
        video,
        &[3_000],
        &with_limits(DecodeLimits {
            max_input_bytes: 10_000,
            ..DecodeLimits::default()
        }),
    );
    assert_eq!(result.err(), Some(DecodeError::TooLarge(10_000)));

    let result = decode::decode_all(
        video,
        &with_limits(DecodeLimits {
            max_decode_time: Duration::ZERO,
            ..DecodeLimits::default()
        }),
    );
    assert_eq!(result.err(), Some(DecodeError::TooSlow(Duration::ZERO)));
}

#[test]
fn the_caller_can_stop_and_choose_the_outputs() {
    let video = common::zoom_pan_video(Encoding::FragmentedMp4);
    let mut seen = 0;
    let summary = decode::decode_bytes(video, &DecodeOptions::default(), &mut |_| {
        seen += 1;
        if seen == 4 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .unwrap();
    assert_eq!(
        (summary.frames, summary.end, seen),
        (4, DecodeEnd::StoppedByCaller, 4)
    );

    let options = DecodeOptions {
        image: ImageOutput::FitWithin {
            width: 320,
            height: 320,
        },
        detector_view: None,
        ..DecodeOptions::default()
    };
    let (frames, _) = decode::decode_all(video, &options).unwrap();
    let image = frames[0].image.as_ref().unwrap();
    assert_eq!(
        (
            image.width(),
            image.height(),
            frames[0].detector_view.is_none()
        ),
        (320, 240, true)
    );

    let options = DecodeOptions {
        image: ImageOutput::Omitted,
        ..DecodeOptions::default()
    };
    let (frames, _) = decode::decode_all(video, &options).unwrap();
    assert!(frames[0].image.is_none() && frames[0].detector_view.is_some());
}

/// The decoder's own picture (`ImageOutput::Yuv`) is the picture swscale converts to RGB, to
/// within a step of rounding, in every encoding; a picture in another format (VP9 in 4:4:4) comes converted
/// to 4:2:0.
#[test]
fn the_yuv_picture_is_the_picture_in_rgb() {
    let rgb_options = DecodeOptions {
        detector_view: None,
        ..DecodeOptions::default()
    };
    let yuv_options = DecodeOptions {
        image: ImageOutput::Yuv,
        ..rgb_options.clone()
    };
    let photo = common::photo("astronaut.png");
    let full_chroma = common::encode_as(
        &common::zoom_pan_frames(&photo)[..4],
        Encoding::WebmVp9,
        "yuv444p",
    );
    let videos = Encoding::ALL
        .iter()
        .map(|&encoding| (format!("{encoding:?}"), common::zoom_pan_video(encoding)))
        .chain([("VP9 4:4:4".to_owned(), full_chroma.as_slice())]);
    for (name, video) in videos {
        let (in_rgb, _) = decode::decode_all(video, &rgb_options).unwrap();
        let (in_yuv, summary) = decode::decode_all(video, &yuv_options).unwrap();
        assert_eq!(in_rgb.len(), in_yuv.len(), "{name}");
        assert_eq!(summary.frames, in_yuv.len() as u32, "{name}");
        for (a, b) in in_rgb.iter().zip(&in_yuv) {
            assert!(b.image.is_none() && b.detector_view.is_none(), "{name}");
            let picture = b.yuv.as_ref().unwrap();
            assert_eq!((picture.width(), picture.height()), (640, 480), "{name}");
            let converted = picture.to_rgb();
            let difference = mean_difference(a.image.as_ref().unwrap().data(), converted.data());
            // swscale's fast 4:2:0 path rounds down, about one step below the exact conversion.
            assert!(difference < 1.5, "{name} frame {}: {difference}", b.index);
        }
    }
}

/// Found by the `video_container` fuzz target: a 2 KB MP4 whose header made FFmpeg's MOV
/// demuxer ask for a 2 GB table. FFmpeg's allocations are capped (`av_max_alloc`): the request
/// fails and so does the open, with a clear error.
#[test]
fn a_header_asking_for_gigabytes_is_an_error() {
    let bytes = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz-mov-2gb-table.mp4"),
    )
    .unwrap();
    let error = check_ends_cleanly(&bytes, "fuzz-mov-2gb-table").unwrap_err();
    assert!(
        matches!(
            error,
            DecodeError::Container {
                container: Container::Mp4,
                ..
            }
        ),
        "{error:?}"
    );
}
