//! Encoding RGB frames into a WebM as a browser's MediaRecorder writes it: VP8 through FFmpeg's
//! libvpx in real-time mode, about 1 Mbit/s, and a live WebM (no cues, no seeking back to write
//! sizes) with a cluster about every second. Used by the simulator to make the video a web
//! client would send.
//!
//! Deterministic: libvpx runs on one thread with a fixed speed (its automatic speed selection
//! measures wall-clock time), and the muxer writes no version strings (`bitexact`), so the same
//! frames give the same bytes.

use std::path::Path;

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::{codec, encoder, format, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::decode::init_ffmpeg;
use crate::image::RgbImage;

/// How to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeOptions {
    /// Target bit rate (MediaRecorder as Amplify configures it: 1,000,000).
    pub bits_per_second: usize,
    /// The longest a WebM cluster may last, in milliseconds.
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
    #[error("FFmpeg failed: {0}")]
    Ffmpeg(String),
    #[error("writing the temporary file failed: {0}")]
    Io(String),
}

fn ff(error: ffmpeg::Error) -> EncodeError {
    EncodeError::Ffmpeg(error.to_string())
}

/// Encodes `frames`, shown at `timestamps_ms` (milliseconds from the start, increasing), into
/// the bytes of a live VP8 WebM.
pub fn encode_webm_vp8(
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
    // The muxer writes to a path; a private temporary directory keeps it to this call.
    let dir = tempfile_dir()?;
    let path = dir.join("video.webm");
    let result = encode_to(&path, frames, timestamps_ms, options)
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

fn encode_to(
    path: &Path,
    frames: &[RgbImage],
    timestamps_ms: &[u64],
    options: &EncodeOptions,
) -> Result<(), EncodeError> {
    let (width, height) = (frames[0].width(), frames[0].height());
    let millis = Rational::new(1, 1000);
    let mut output = format::output_as(path, "webm").map_err(ff)?;
    let vp8 = encoder::find_by_name("libvpx").ok_or(EncodeError::NoEncoder)?;
    let mut stream = output.add_stream(vp8).map_err(ff)?;
    let mut video = codec::context::Context::new_with_codec(vp8)
        .encoder()
        .video()
        .map_err(ff)?;
    video.set_width(width);
    video.set_height(height);
    video.set_format(Pixel::YUV420P);
    video.set_time_base(millis);
    video.set_bit_rate(options.bits_per_second);
    video.set_gop(9999);
    video.set_flags(codec::Flags::BITEXACT);
    let mut settings = Dictionary::new();
    settings.set("deadline", "realtime");
    // Negative: this fixed speed; positive would let libvpx pick a speed from measured time.
    settings.set("cpu-used", "-8");
    settings.set("threads", "1");
    settings.set("lag-in-frames", "0");
    let mut video = video.open_as_with(vp8, settings).map_err(ff)?;
    stream.set_parameters(&video);
    stream.set_time_base(millis);
    let stream_index = stream.index();

    let mut muxer = Dictionary::new();
    muxer.set("live", "1");
    muxer.set("cluster_time_limit", &options.cluster_ms.to_string());
    // Live output would otherwise start a cluster every 32 KiB.
    muxer.set("cluster_size_limit", "8000000");
    muxer.set("fflags", "+bitexact");
    output.write_header_with(muxer).map_err(ff)?;
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
            packet.set_stream(stream_index);
            packet.rescale_ts(millis, stream_time_base);
            packet.write_interleaved(output).map_err(ff)?;
        }
        Ok(())
    };
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
        video.send_frame(&yuv).map_err(ff)?;
        write_packets(&mut video, &mut output)?;
    }
    video.send_eof().map_err(ff)?;
    write_packets(&mut video, &mut output)?;
    output.write_trailer().map_err(ff)?;
    Ok(())
}

/// Cuts a live WebM into chunks as MediaRecorder with a time slice hands them out: the first
/// chunk holds the header and the first cluster, each further chunk starts at a cluster.
pub fn split_at_clusters(webm: &[u8]) -> Vec<Vec<u8>> {
    const CLUSTER: [u8; 4] = [0x1F, 0x43, 0xB6, 0x75];
    let mut starts: Vec<usize> = webm
        .windows(4)
        .enumerate()
        .filter(|(_, window)| *window == CLUSTER)
        .map(|(offset, _)| offset)
        .collect();
    // The first cluster stays with the header.
    if !starts.is_empty() {
        starts.remove(0);
    }
    let mut chunks = Vec::new();
    let mut from = 0;
    for start in starts {
        chunks.push(webm[from..start].to_vec());
        from = start;
    }
    chunks.push(webm[from..].to_vec());
    chunks
}
