//! Encoding RGB frames into the video a recording client sends.
//!
//! - [`encode_webm_vp8`]: a WebM as a browser's MediaRecorder writes it: VP8 through FFmpeg's
//!   libvpx in real-time mode, about 1 Mbit/s, and a live WebM (no cues, no seeking back to write
//!   sizes) with a cluster about every second.
//! - [`encode_mp4_h264`]: a fragmented MP4 as Safari's MediaRecorder and phones write it: H.264
//!   (constrained baseline, no B-frames, no lookahead) through FFmpeg's libx264, a keyframe about
//!   every second and a fragment (`moof` + `mdat`) starting at each.
//!
//! Used by the simulator to make the video a client would send; [`split_at_clusters`] and
//! [`split_at_fragments`] cut it into the chunks the recorder hands out.
//!
//! Deterministic: the encoders run on one thread with fixed settings (libvpx's automatic speed
//! selection measures wall-clock time; x264's threads and lookahead are off), and the muxers
//! write no version strings or dates (`bitexact`; x264's own version and settings, which it puts
//! in an SEI message, are taken out), so the same frames give the same bytes.

use std::path::Path;

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::util::picture;
use ffmpeg::{codec, encoder, format, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::container::{box_header, BoxHeader};
use crate::decode::init_ffmpeg;
use crate::image::RgbImage;

/// How to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Target bit rate (MediaRecorder as Amplify configures it: 1,000,000).
    pub bits_per_second: usize,
    /// The longest a WebM cluster may last, in milliseconds; in an MP4, how often a keyframe, and
    /// with it a fragment, starts.
    pub cluster_ms: u32,
}

impl Default for EncodeOptions {
    fn default() -> Self {
        Self {
            bits_per_second: 1_000_000,
            cluster_ms: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("no frames to encode")]
    NoFrames,
    #[error("frame {0} differs in size from the first frame")]
    SizeMismatch(usize),
    #[error("frame timestamps must increase (frame {0})")]
    Timestamps(usize),
    #[error(
        "FFmpeg has no libvpx VP8 encoder: install FFmpeg with libvpx (scripts/setup-vision.sh)"
    )]
    NoEncoder,
    #[error(
        "FFmpeg has no libx264 H.264 encoder: install FFmpeg with libx264 (scripts/setup-vision.sh)"
    )]
    NoH264Encoder,
    #[error("FFmpeg failed: {0}")]
    Ffmpeg(String),
    #[error("writing the temporary file failed: {0}")]
    Io(String),
}

fn ff(error: ffmpeg::Error) -> EncodeError {
    EncodeError::Ffmpeg(error.to_string())
}

/// What differs between the encodings; the frames, the conversion to YUV and the muxing loop are
/// the same.
struct Recipe {
    /// FFmpeg's name of the muxer.
    muxer: &'static str,
    /// FFmpeg's name of the encoder, and the error when it is missing.
    encoder: &'static str,
    missing: EncodeError,
    codec_flags: codec::Flags,
    /// The encoder's options (`threads` and the encoder's private ones).
    codec_options: Vec<(&'static str, String)>,
    muxer_options: Vec<(&'static str, String)>,
    /// Whether the encoder is told the mean frame rate: x264's rate control goes by it (without
    /// it, x264 takes the 1/1000 time base for 1000 frames/s and falls well short of the bit
    /// rate). libvpx is not told, so its output stays as it was.
    frame_rate: bool,
    /// Forces a keyframe on the first frame of each period of this many milliseconds from the
    /// first frame (`None`: only the first frame is one).
    keyframe_every_ms: Option<u64>,
    /// Whether SEI NAL units are taken out of the H.264 packets.
    strip_sei: bool,
}

/// Encodes `frames`, shown at `timestamps_ms` (milliseconds from the start, increasing), into
/// the bytes of a live VP8 WebM.
pub fn encode_webm_vp8(
    frames: &[RgbImage],
    timestamps_ms: &[u64],
    options: &EncodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    let recipe = Recipe {
        muxer: "webm",
        encoder: "libvpx",
        missing: EncodeError::NoEncoder,
        codec_flags: codec::Flags::BITEXACT,
        codec_options: vec![
            ("deadline", "realtime".to_owned()),
            // Negative: this fixed speed; positive would let libvpx pick a speed from measured
            // time.
            ("cpu-used", "-8".to_owned()),
            ("threads", "1".to_owned()),
            ("lag-in-frames", "0".to_owned()),
        ],
        muxer_options: vec![
            ("live", "1".to_owned()),
            ("cluster_time_limit", options.cluster_ms.to_string()),
            // Live output would otherwise start a cluster every 32 KiB.
            ("cluster_size_limit", "8000000".to_owned()),
            ("fflags", "+bitexact".to_owned()),
        ],
        frame_rate: false,
        keyframe_every_ms: None,
        strip_sei: false,
    };
    encode_with(&recipe, frames, timestamps_ms, options)
}

/// Encodes `frames`, shown at `timestamps_ms` (milliseconds from the start, increasing), into
/// the bytes of a fragmented H.264 MP4 as a live recorder writes it: `ftyp` and an empty `moov`,
/// then a `moof` + `mdat` fragment per keyframe, a keyframe every `options.cluster_ms`.
pub fn encode_mp4_h264(
    frames: &[RgbImage],
    timestamps_ms: &[u64],
    options: &EncodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    let recipe = Recipe {
        muxer: "mp4",
        encoder: "libx264",
        missing: EncodeError::NoH264Encoder,
        // The `moov` written before any frame needs the SPS and PPS up front.
        codec_flags: codec::Flags::BITEXACT | codec::Flags::GLOBAL_HEADER,
        codec_options: vec![
            ("threads", "1".to_owned()),
            // Fast, as a phone's hardware encoder is; the options below override its B-frames
            // and lookahead.
            ("preset", "veryfast".to_owned()),
            // As a phone's real-time encoder: no B-frames, CAVLC.
            ("profile", "baseline".to_owned()),
            // Keyframes only where forced, each an IDR frame.
            ("sc_threshold", "0".to_owned()),
            ("forced-idr", "1".to_owned()),
            // Nothing waits for frames to come: no rate-control lookahead (and so no
            // macroblock-tree) and no threaded lookahead buffer.
            ("rc-lookahead", "0".to_owned()),
            ("mbtree", "0".to_owned()),
            (
                "x264-params",
                "sliced-threads=0:lookahead-threads=1:sync-lookahead=0".to_owned(),
            ),
            // Peak rate and buffer at the bit rate: x264's constant bit rate with a one-second
            // buffer, as steady as a recorder's.
            ("maxrate", options.bits_per_second.to_string()),
            ("bufsize", options.bits_per_second.to_string()),
        ],
        muxer_options: vec![
            (
                "movflags",
                "+frag_keyframe+empty_moov+default_base_moof+skip_trailer".to_owned(),
            ),
            ("fflags", "+bitexact".to_owned()),
        ],
        frame_rate: true,
        keyframe_every_ms: Some(u64::from(options.cluster_ms.max(1))),
        strip_sei: true,
    };
    encode_with(&recipe, frames, timestamps_ms, options)
}

/// Checks the input, then has FFmpeg write the video to a private temporary file (the muxers
/// write to a path) and returns its bytes.
fn encode_with(
    recipe: &Recipe,
    frames: &[RgbImage],
    timestamps_ms: &[u64],
    options: &EncodeOptions,
) -> Result<Vec<u8>, EncodeError> {
    let first = frames.first().ok_or(EncodeError::NoFrames)?;
    if timestamps_ms.len() != frames.len() {
        return Err(EncodeError::Timestamps(
            timestamps_ms.len().min(frames.len()),
        ));
    }
    for (index, frame) in frames.iter().enumerate() {
        if frame.width() != first.width() || frame.height() != first.height() {
            return Err(EncodeError::SizeMismatch(index));
        }
        if index > 0 && timestamps_ms[index] <= timestamps_ms[index - 1] {
            return Err(EncodeError::Timestamps(index));
        }
    }
    init_ffmpeg();
    let dir = tempfile_dir()?;
    let path = dir.join(format!("video.{}", recipe.muxer));
    let result = encode_to(&path, recipe, frames, timestamps_ms, options)
        .and_then(|()| std::fs::read(&path).map_err(|error| EncodeError::Io(error.to_string())));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> Result<std::path::PathBuf, EncodeError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "openliveness-encode-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).map_err(|error| EncodeError::Io(error.to_string()))?;
    Ok(dir)
}

fn dictionary(options: &[(&'static str, String)]) -> Dictionary<'static> {
    let mut dictionary = Dictionary::new();
    for (key, value) in options {
        dictionary.set(key, value);
    }
    dictionary
}

/// The frame rate the timestamps average, in whole frames per second (30 for a single frame).
fn mean_frame_rate(timestamps_ms: &[u64]) -> i32 {
    match (timestamps_ms.first(), timestamps_ms.last()) {
        (Some(&first), Some(&last)) if last > first => {
            let intervals = (timestamps_ms.len() - 1) as f64;
            (intervals * 1000.0 / (last - first) as f64)
                .round()
                .clamp(1.0, 1000.0) as i32
        }
        _ => 30,
    }
}

fn encode_to(
    path: &Path,
    recipe: &Recipe,
    frames: &[RgbImage],
    timestamps_ms: &[u64],
    options: &EncodeOptions,
) -> Result<(), EncodeError> {
    let (width, height) = (frames[0].width(), frames[0].height());
    let millis = Rational::new(1, 1000);
    let mut output = format::output_as(path, recipe.muxer).map_err(ff)?;
    let codec = encoder::find_by_name(recipe.encoder).ok_or_else(|| recipe.missing.clone())?;
    let mut stream = output.add_stream(codec).map_err(ff)?;
    let mut video = codec::context::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(ff)?;
    video.set_width(width);
    video.set_height(height);
    video.set_format(Pixel::YUV420P);
    video.set_time_base(millis);
    if recipe.frame_rate {
        video.set_frame_rate(Some(Rational::new(mean_frame_rate(timestamps_ms), 1)));
    }
    video.set_bit_rate(options.bits_per_second);
    video.set_gop(9999);
    video.set_flags(recipe.codec_flags);
    let mut video = video
        .open_as_with(codec, dictionary(&recipe.codec_options))
        .map_err(ff)?;
    stream.set_parameters(&video);
    stream.set_time_base(millis);
    let stream_index = stream.index();

    output
        .write_header_with(dictionary(&recipe.muxer_options))
        .map_err(ff)?;
    let stream_time_base = output
        .stream(stream_index)
        .map(|stream| stream.time_base())
        .unwrap_or(millis);

    let mut scaler = scaling::Context::get(
        Pixel::RGB24,
        width,
        height,
        Pixel::YUV420P,
        width,
        height,
        scaling::Flags::BILINEAR | scaling::Flags::ACCURATE_RND | scaling::Flags::BITEXACT,
    )
    .map_err(ff)?;
    let mut rgb = frame::Video::new(Pixel::RGB24, width, height);
    let mut yuv = frame::Video::empty();
    let write_packets = |video: &mut encoder::Video,
                         output: &mut format::context::Output|
     -> Result<(), EncodeError> {
        let mut packet = Packet::empty();
        while video.receive_packet(&mut packet).is_ok() {
            if recipe.strip_sei {
                strip_sei(&mut packet);
            }
            packet.set_stream(stream_index);
            packet.rescale_ts(millis, stream_time_base);
            packet.write_interleaved(output).map_err(ff)?;
        }
        Ok(())
    };
    let first_ms = timestamps_ms[0];
    let mut last_key_period = None;
    for (image, &timestamp) in frames.iter().zip(timestamps_ms) {
        let stride = rgb.stride(0);
        let row_bytes = width as usize * 3;
        let data = rgb.data_mut(0);
        for y in 0..height {
            let start = y as usize * stride;
            data[start..start + row_bytes].copy_from_slice(image.row(y));
        }
        scaler.run(&rgb, &mut yuv).map_err(ff)?;
        yuv.set_pts(Some(i64::try_from(timestamp).unwrap_or(i64::MAX)));
        if let Some(every) = recipe.keyframe_every_ms {
            let period = Some((timestamp - first_ms) / every);
            let key = period != last_key_period;
            last_key_period = period;
            yuv.set_kind(if key {
                picture::Type::I
            } else {
                picture::Type::None
            });
        }
        video.send_frame(&yuv).map_err(ff)?;
        write_packets(&mut video, &mut output)?;
    }
    video.send_eof().map_err(ff)?;
    write_packets(&mut video, &mut output)?;
    output.write_trailer().map_err(ff)?;
    Ok(())
}

/// Takes the SEI NAL units out of an H.264 packet (Annex B, as libx264 gives it): x264 puts its
/// version and settings in one before the first frame, which a phone's encoder does not, and
/// which would tie the bytes to the x264 build.
fn strip_sei(packet: &mut Packet) {
    let Some(data) = packet.data_mut() else {
        return;
    };
    let kept = without_sei(data);
    if kept.len() < data.len() {
        data[..kept.len()].copy_from_slice(&kept);
        packet.shrink(kept.len());
    }
}

/// The NAL units of an Annex B stream, each with its start code, but the SEI ones (type 6).
fn without_sei(annex_b: &[u8]) -> Vec<u8> {
    // Where each start code begins (its leading zero byte included, for a 4-byte one) and where
    // its NAL unit's header byte is.
    let mut units = Vec::new();
    let mut at = 0;
    while let Some(window) = annex_b.get(at..at + 3) {
        if window == [0, 0, 1] {
            let code = if at > 0 && annex_b[at - 1] == 0 {
                at - 1
            } else {
                at
            };
            units.push((code, at + 3));
            at += 3;
        } else {
            at += 1;
        }
    }
    let mut kept = annex_b[..units.first().map_or(annex_b.len(), |&(code, _)| code)].to_vec();
    for (index, &(code, header)) in units.iter().enumerate() {
        let end = units
            .get(index + 1)
            .map_or(annex_b.len(), |&(next, _)| next);
        let is_sei = annex_b.get(header).is_some_and(|byte| byte & 0x1F == 6);
        if !is_sei {
            kept.extend_from_slice(&annex_b[code..end]);
        }
    }
    kept
}

/// Cuts a live WebM into chunks as MediaRecorder with a time slice hands them out: the first
/// chunk holds the header and the first cluster, each further chunk starts at a cluster.
pub fn split_at_clusters(webm: &[u8]) -> Vec<Vec<u8>> {
    const CLUSTER: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];
    let starts: Vec<usize> = webm
        .windows(4)
        .enumerate()
        .filter(|(_, window)| *window == CLUSTER)
        .map(|(offset, _)| offset)
        .collect();
    split_at(webm, &starts)
}

/// Cuts a fragmented MP4 into chunks as a recorder hands them out: the first chunk holds `ftyp`,
/// `moov` and the first fragment, each further chunk one `moof` + `mdat` fragment. Walks the
/// top-level boxes; from a box that is cut short or makes no sense, everything goes in the last
/// chunk.
pub fn split_at_fragments(mp4: &[u8]) -> Vec<Vec<u8>> {
    let mut starts = Vec::new();
    let mut offset = 0usize;
    while let Some(BoxHeader {
        kind,
        size,
        header_len,
    }) = box_header(mp4, offset)
    {
        if &kind == b"moof" {
            starts.push(offset);
        }
        // Size 0: the box runs to the end.
        let Some(next) = Some(size)
            .filter(|&size| size >= header_len)
            .and_then(|size| usize::try_from(size).ok())
            .and_then(|size| offset.checked_add(size))
        else {
            break;
        };
        offset = next;
    }
    split_at(mp4, &starts)
}

/// Cuts `bytes` at each of `starts` (increasing) but the first, which stays with the header.
fn split_at(bytes: &[u8], starts: &[usize]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut from = 0;
    for &start in starts.iter().skip(1) {
        chunks.push(bytes[from..start].to_vec());
        from = start;
    }
    chunks.push(bytes[from..].to_vec());
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sei_units_are_taken_out_of_an_annex_b_packet() {
        let sps = [0, 0, 0, 1, 0x67, 1, 2];
        let sei = [0, 0, 0, 1, 0x06, 5, 9, 9, 0x80];
        let idr = [0, 0, 1, 0x65, 7, 0, 0, 3, 1];
        assert_eq!(without_sei(&[sei.as_slice(), &idr].concat()), idr.to_vec());
        assert_eq!(
            without_sei(&[sps.as_slice(), &sei, &idr].concat()),
            [sps.as_slice(), &idr].concat()
        );
        for bytes in [
            &[][..],
            &[0, 0],
            &[0, 0, 1],
            &[0, 0, 1, 6],
            &[7, 0, 0, 1, 0x41, 2],
        ] {
            let kept = without_sei(bytes);
            assert!(kept.len() <= bytes.len(), "{bytes:?}");
        }
        assert_eq!(
            without_sei(&[7, 0, 0, 1, 0x41, 2]),
            vec![7, 0, 0, 1, 0x41, 2]
        );
    }
}
