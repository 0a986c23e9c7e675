//! Video bytes in, RGB frames with presentation timestamps out, with FFmpeg's libraries, from
//! memory, as the chunks arrive.
//!
//! [`decode_stream`] runs on the caller's thread and blocks on the channel of chunks: run it on a
//! blocking thread (`tokio::task::spawn_blocking`, `std::thread::spawn`) and close the sender at
//! the end of the input.
//! It first holds the bytes back only until [`crate::container`] has recognised the container
//! (4 bytes of WebM; the `moov` of an MP4), then hands FFmpeg a custom `AVIOContext` (ffmpeg-next's
//! `StreamIo`) whose reads take the next chunk off the channel.
//! A whole (non-fragmented) MP4 is read to its end first and demuxed from the complete buffer,
//! seekable; see the crate documentation for why.
//!
//! Every frame goes through swscale once into RGB at the size asked for (or, with
//! [`ImageOutput::Yuv`], is handed over in the decoder's own YUV with no conversion), and once more
//! into the small view the detector needs, straight from the decoder's YUV.
//!
//! Limits bound the input size, the resolution, the frame count, the duration (by timestamp)
//! and the time spent decoding (waiting for chunks and the caller's own work on each frame do not
//! count).
//! Broken input ends in a [`DecodeError`]; the frames handed to the callback before it are the
//! partial result.
//! Packets the demuxer or decoder refuse are skipped and counted.

use std::io::{Cursor, Read};
use std::num::NonZeroU32;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ffmpeg::format::context::StreamIo;
use ffmpeg::software::scaling;
use ffmpeg_next as ffmpeg;
use serde::Serialize;

use crate::container::{self, Container, Mp4Layout, Sniff};
use crate::image::RgbImage;
use crate::yuv::YuvImage;

/// Bounds on what one video may cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Input bytes, all chunks together.
    pub max_input_bytes: u64,
    pub max_width: u32,
    pub max_height: u32,
    pub max_frames: u32,
    /// From the first frame's timestamp to the last one's.
    pub max_duration: Duration,
    /// Time spent demuxing, decoding and converting, not waiting for input nor in the callback.
    pub max_decode_time: Duration,
}

impl Default for DecodeLimits {
    /// 10 MB (the most video the server keeps per stream), 1920x1920, 1800 frames (a minute at
    /// 30 frames/s), 60 s, 30 s of decoding.
    fn default() -> Self {
        Self {
            max_input_bytes: 10_000_000,
            max_width: 1920,
            max_height: 1920,
            max_frames: 1800,
            max_duration: Duration::from_secs(60),
            max_decode_time: Duration::from_secs(30),
        }
    }
}

/// The size of the RGB image each [`Frame`] carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageOutput {
    /// The size the decoder produced.
    Decoded,
    /// Scaled down (aspect kept) to fit within the box; never scaled up.
    FitWithin { width: u32, height: u32 },
    /// No RGB image (only the detector view, if asked for).
    Omitted,
    /// No RGB image but the decoder's own picture ([`Frame::yuv`]): 8-bit YUV 4:2:0, taken
    /// without a copy, converted (by swscale) only when the decoder made another format.
    Yuv,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    pub limits: DecodeLimits,
    pub image: ImageOutput,
    /// When set, frames also carry the view the face detector takes
    /// ([`DetectorView`]).
    pub detector_view: Option<DetectorView>,
    /// Decoder threads (1: the frames come out with no delay, and one core is used).
    pub threads: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            limits: DecodeLimits::default(),
            image: ImageOutput::Decoded,
            detector_view: Some(DetectorView::every_frame()),
            threads: 1,
        }
    }
}

/// The frame fitted within a square (aspect kept, scaled up or down), scaled by swscale straight
/// from the decoder's picture: what the face detector takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectorView {
    /// The side of the square ([`crate::detect::BlazeFace::INPUT_SIDE`]).
    pub side: u32,
    /// Only frames 0, n, 2n, … carry it: the frames the detector runs on
    /// ([`crate::track::Tracker::should_detect`] with the same stride).
    pub every: NonZeroU32,
}

impl DetectorView {
    /// BlazeFace's view, on every frame.
    pub fn every_frame() -> Self {
        Self::every(NonZeroU32::MIN)
    }

    /// BlazeFace's view, on every n-th frame.
    pub fn every(every: NonZeroU32) -> Self {
        Self {
            side: crate::detect::BlazeFace::INPUT_SIDE,
            every,
        }
    }
}

/// One decoded frame, in presentation order.
#[derive(Debug, Clone)]
pub struct Frame {
    /// 0 for the first frame handed out, then 1, 2, …
    pub index: u32,
    /// Presentation time in microseconds, as the container stamped it (the first frame of a
    /// MediaRecorder stream is at or near 0); `None` when the frame carried none.
    pub timestamp_us: Option<i64>,
    /// The size the decoder produced (the image may be smaller; see [`ImageOutput`]).
    pub decoded_width: u32,
    pub decoded_height: u32,
    pub image: Option<RgbImage>,
    /// The picture in YUV, with [`ImageOutput::Yuv`].
    pub yuv: Option<YuvImage>,
    pub detector_view: Option<RgbImage>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoCodec {
    Vp8,
    Vp9,
    H264,
}

impl VideoCodec {
    fn decoder_name(self) -> &'static str {
        match self {
            Self::Vp8 => "vp8",
            Self::Vp9 => "vp9",
            Self::H264 => "h264",
        }
    }

    fn from_id(id: ffmpeg::codec::Id) -> Option<Self> {
        match id {
            ffmpeg::codec::Id::VP8 => Some(Self::Vp8),
            ffmpeg::codec::Id::VP9 => Some(Self::Vp9),
            ffmpeg::codec::Id::H264 => Some(Self::H264),
            _ => None,
        }
    }
}

/// How the input reached FFmpeg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputReading {
    /// Chunk by chunk as it arrived, not seekable (WebM, fragmented MP4).
    Streamed,
    /// Whole and seekable, once complete (a non-fragmented MP4).
    Buffered,
}

/// Why decoding ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecodeEnd {
    EndOfInput,
    /// The callback returned `ControlFlow::Break`.
    StoppedByCaller,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecodeSummary {
    pub container: Container,
    pub codec: VideoCodec,
    pub reading: InputReading,
    pub frames: u32,
    pub input_bytes: u64,
    /// Packets the demuxer or the decoder refused (corrupt data), skipped.
    pub skipped_packets: u32,
    pub end: DecodeEnd,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the input is empty")]
    Empty,
    #[error("the input is not a WebM or MP4 video")]
    NotAVideo,
    #[error("the {container} container cannot be read: {detail}")]
    Container {
        container: Container,
        detail: String,
    },
    #[error("the {0} file has no video stream")]
    NoVideoStream(Container),
    #[error("the video codec {0} is not supported (VP8, VP9 or H.264 are)")]
    UnsupportedCodec(String),
    #[error("the video is {width}x{height}, over the limit of {max_width}x{max_height}")]
    ResolutionTooLarge {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
    },
    #[error("the input is over the limit of {0} bytes")]
    TooLarge(u64),
    #[error("the video has more than the limit of {0} frames")]
    TooManyFrames(u32),
    #[error("the video is longer than the limit of {0:?}")]
    TooLong(Duration),
    #[error("decoding took longer than the limit of {0:?}")]
    TooSlow(Duration),
    #[error("no frame could be decoded from the {0} video")]
    NoFrames(Container),
    #[error("FFmpeg failed: {0}")]
    Internal(String),
}

/// Decodes the bytes of one whole video (one chunk through the same path as a stream).
pub fn decode_bytes(
    bytes: &[u8],
    options: &DecodeOptions,
    on_frame: &mut dyn FnMut(Frame) -> ControlFlow<()>,
) -> Result<DecodeSummary, DecodeError> {
    let (sender, chunks) = std::sync::mpsc::channel();
    if !bytes.is_empty() && sender.send(bytes.to_vec()).is_err() {
        return Err(DecodeError::Internal("the chunk channel closed".into()));
    }
    drop(sender);
    decode_stream(chunks, options, on_frame)
}

/// Decodes every frame of one whole video into a vector.
pub fn decode_all(
    bytes: &[u8],
    options: &DecodeOptions,
) -> Result<(Vec<Frame>, DecodeSummary), DecodeError> {
    let mut frames = Vec::new();
    let summary = decode_bytes(bytes, options, &mut |frame| {
        frames.push(frame);
        ControlFlow::Continue(())
    })?;
    Ok((frames, summary))
}

/// Decodes a video whose bytes arrive as chunks on `chunks`, until the senders are dropped.
/// Blocks; run it on a blocking thread.
pub fn decode_stream(
    chunks: Receiver<Vec<u8>>,
    options: &DecodeOptions,
    on_frame: &mut dyn FnMut(Frame) -> ControlFlow<()>,
) -> Result<DecodeSummary, DecodeError> {
    init_ffmpeg();
    let meter = Arc::new(Meter::new(&options.limits));
    let mut input = Input::new(chunks, Arc::clone(&meter));

    let container = loop {
        match container::sniff(input.prefix()) {
            Sniff::Known(container) => break container,
            Sniff::Unknown => return Err(DecodeError::NotAVideo),
            Sniff::NeedMoreData => {
                if !input.receive()? {
                    return Err(if input.prefix().is_empty() {
                        DecodeError::Empty
                    } else {
                        DecodeError::NotAVideo
                    });
                }
            }
        }
    };
    let reading = match container {
        Container::WebM => InputReading::Streamed,
        Container::Mp4 => loop {
            match container::mp4_layout(input.prefix()) {
                Mp4Layout::Fragmented => break InputReading::Streamed,
                Mp4Layout::Whole => break InputReading::Buffered,
                Mp4Layout::NeedMoreData => {
                    if !input.receive()? {
                        break InputReading::Buffered;
                    }
                }
            }
        },
    };
    let io = match reading {
        InputReading::Streamed => StreamIo::from_read_with_capacity(input.into_reader(), 32 * 1024),
        InputReading::Buffered => StreamIo::from_read_seek(Cursor::new(input.into_whole()?)),
    }
    .map_err(|error| DecodeError::Internal(format!("cannot make the AVIOContext: {error}")))?;

    let mut demuxer = open_demuxer(io, container, &meter)?;
    let (stream_index, codec, time_base, mut decoder) = open_decoder(&demuxer, container, options)?;

    let mut state = FrameState {
        options,
        meter: &meter,
        time_base,
        next_index: 0,
        first_timestamp: None,
        image_scaler: Scaler::default(),
        view_scaler: Scaler::default(),
    };
    let mut skipped_packets = 0u32;
    let mut consecutive_refusals = 0u32;
    let mut end = DecodeEnd::EndOfInput;
    'packets: loop {
        meter.check_time()?;
        // A fresh packet each time: `av_read_frame` does not release what a packet held.
        let mut packet = ffmpeg::Packet::empty();
        match packet.read(&mut demuxer) {
            Ok(()) => consecutive_refusals = 0,
            Err(ffmpeg::Error::Eof) => break,
            Err(ffmpeg::Error::InvalidData) => {
                // A demuxer can resync past corrupt data; a bounded number of refusals in a row
                // keeps a demuxer that makes no progress from spinning.
                skipped_packets += 1;
                consecutive_refusals += 1;
                if consecutive_refusals > 100 {
                    return Err(meter.failure().unwrap_or(DecodeError::Container {
                        container,
                        detail: "too much corrupt data in a row".into(),
                    }));
                }
                continue;
            }
            Err(error) => {
                return Err(meter.failure().unwrap_or(DecodeError::Container {
                    container,
                    detail: error.to_string(),
                }));
            }
        }
        if packet.stream() != stream_index {
            continue;
        }
        if decoder.send_packet(&packet).is_err() {
            skipped_packets += 1;
            continue;
        }
        if state.drain(&mut decoder, on_frame)?.is_break() {
            end = DecodeEnd::StoppedByCaller;
            break 'packets;
        }
    }
    if end == DecodeEnd::EndOfInput {
        // Flushing after a refused packet still yields the frames the decoder holds.
        let _ = decoder.send_eof();
        if state.drain(&mut decoder, on_frame)?.is_break() {
            end = DecodeEnd::StoppedByCaller;
        }
    }
    if state.next_index == 0 && end == DecodeEnd::EndOfInput {
        return Err(DecodeError::NoFrames(container));
    }
    Ok(DecodeSummary {
        container,
        codec,
        reading,
        frames: state.next_index,
        input_bytes: meter.input_bytes.load(Ordering::Relaxed),
        skipped_packets,
        end,
    })
}

/// The largest single block FFmpeg may allocate: far above any legitimate need here (a
/// 1920x1920 picture is under 6 MB, a packet at most the 10 MB input), far below what a forged
/// header can ask for (the MOV demuxer sizes sample tables from entry counts: 2 GB was seen).
const FFMPEG_MAX_ALLOCATION: usize = 64 << 20;

pub(crate) fn init_ffmpeg() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        // Registers nothing in FFmpeg 5 (everything is registered statically); kept for older
        // libraries. Its error cannot happen there.
        let _ = ffmpeg::init();
        // FFmpeg logs to stderr; corrupt input is reported through `DecodeError` instead.
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Quiet);
        limit_ffmpeg_allocations();
    });
}

#[allow(unsafe_code)]
fn limit_ffmpeg_allocations() {
    // SAFETY: `av_max_alloc` only stores the limit in libavutil's global (an atomic in FFmpeg 5);
    // it takes no pointer and has no precondition. An allocation over it fails with ENOMEM,
    // which FFmpeg reports as an error of the call that needed it.
    unsafe { ffmpeg::ffi::av_max_alloc(FFMPEG_MAX_ALLOCATION) };
}

fn open_demuxer(
    io: StreamIo,
    container: Container,
    meter: &Arc<Meter>,
) -> Result<ffmpeg::format::context::Input, DecodeError> {
    let mut options = ffmpeg::Dictionary::new();
    // Read as little as possible before the first packet comes out: the codec parameters are
    // all in the header (WebM's track entry, MP4's sample description).
    options.set("probesize", "32");
    options.set("analyzeduration", "1");
    options.set("fpsprobesize", "0");
    let interrupt_meter = Arc::clone(meter);
    let demuxer =
        ffmpeg::format::input_from_stream_with_interrupt(io, None, Some(options), move || {
            interrupt_meter.time_exceeded()
        })
        .map_err(|error| {
            meter.failure().unwrap_or(DecodeError::Container {
                container,
                detail: error.to_string(),
            })
        })?;
    // Only the demuxer of the container that was recognised reads the bytes.
    let name = demuxer.format().name().to_owned();
    let expected = match container {
        Container::WebM => "matroska",
        Container::Mp4 => "mov",
    };
    if !name.split(',').any(|n| n == expected) {
        return Err(DecodeError::Container {
            container,
            detail: format!("FFmpeg took it for {name}"),
        });
    }
    Ok(demuxer)
}

fn open_decoder(
    demuxer: &ffmpeg::format::context::Input,
    container: Container,
    options: &DecodeOptions,
) -> Result<(usize, VideoCodec, ffmpeg::Rational, ffmpeg::decoder::Video), DecodeError> {
    let stream = demuxer
        .streams()
        .best(ffmpeg::media::Type::Video)
        .ok_or(DecodeError::NoVideoStream(container))?;
    let parameters = stream.parameters();
    let id = parameters.id();
    let codec =
        VideoCodec::from_id(id).ok_or_else(|| DecodeError::UnsupportedCodec(format!("{id:?}")))?;
    let mut context = ffmpeg::codec::context::Context::from_parameters(parameters)
        .map_err(|error| DecodeError::Internal(format!("codec parameters: {error}")))?;
    context.set_threading(ffmpeg::threading::Config {
        kind: ffmpeg::threading::Type::Frame,
        count: options.threads.max(1),
        ..Default::default()
    });
    // FFmpeg's own decoders, by name (not a wrapped library that may also be registered), and
    // no picture over the resolution limit is ever allocated, whatever the container said.
    let implementation = ffmpeg::decoder::find_by_name(codec.decoder_name()).ok_or_else(|| {
        DecodeError::Internal(format!("FFmpeg has no {} decoder", codec.decoder_name()))
    })?;
    let mut decoder_options = ffmpeg::Dictionary::new();
    let max_pixels = u64::from(options.limits.max_width) * u64::from(options.limits.max_height);
    decoder_options.set("max_pixels", &max_pixels.min(i32::MAX as u64).to_string());
    let decoder = context
        .decoder()
        .open_as_with(implementation, decoder_options)
        .and_then(|opened| opened.video())
        .map_err(|error| DecodeError::Container {
            container,
            detail: format!("cannot open the {codec:?} decoder: {error}"),
        })?;
    check_resolution(decoder.width(), decoder.height(), &options.limits)?;
    Ok((stream.index(), codec, stream.time_base(), decoder))
}

fn check_resolution(width: u32, height: u32, limits: &DecodeLimits) -> Result<(), DecodeError> {
    if width > limits.max_width || height > limits.max_height {
        return Err(DecodeError::ResolutionTooLarge {
            width,
            height,
            max_width: limits.max_width,
            max_height: limits.max_height,
        });
    }
    Ok(())
}

/// What turning decoded frames into [`Frame`]s needs between frames.
struct FrameState<'a> {
    options: &'a DecodeOptions,
    meter: &'a Meter,
    time_base: ffmpeg::Rational,
    next_index: u32,
    first_timestamp: Option<i64>,
    image_scaler: Scaler,
    view_scaler: Scaler,
}

impl FrameState<'_> {
    /// Hands every frame the decoder has ready to the callback.
    fn drain(
        &mut self,
        decoder: &mut ffmpeg::decoder::Video,
        on_frame: &mut dyn FnMut(Frame) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, DecodeError> {
        let mut decoded = ffmpeg::frame::Video::empty();
        while decoder.receive_frame(&mut decoded).is_ok() {
            let frame = self.convert(&mut decoded)?;
            let flow = self.meter.outside(|| on_frame(frame));
            if flow.is_break() {
                return Ok(flow);
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// The frame out of `decoded` (which [`ImageOutput::Yuv`] takes, leaving it empty).
    fn convert(&mut self, decoded: &mut ffmpeg::frame::Video) -> Result<Frame, DecodeError> {
        let limits = &self.options.limits;
        if self.next_index >= limits.max_frames {
            return Err(DecodeError::TooManyFrames(limits.max_frames));
        }
        let (width, height) = (decoded.width(), decoded.height());
        check_resolution(width, height, limits)?;
        let timestamp_us = decoded
            .timestamp()
            .and_then(|t| to_microseconds(t, self.time_base));
        if let Some(timestamp) = timestamp_us {
            let first = *self.first_timestamp.get_or_insert(timestamp);
            let elapsed = u64::try_from(timestamp.saturating_sub(first)).unwrap_or(0);
            if Duration::from_micros(elapsed) > limits.max_duration {
                return Err(DecodeError::TooLong(limits.max_duration));
            }
        }
        let detector_view = match self.options.detector_view {
            Some(view) if self.next_index.is_multiple_of(view.every.get()) => {
                let size = fitted_size(width, height, view.side, view.side);
                Some(self.view_scaler.rgb(decoded, size)?)
            }
            _ => None,
        };
        let (image, yuv) = match self.options.image {
            ImageOutput::Decoded => (Some(self.image_scaler.rgb(decoded, (width, height))?), None),
            ImageOutput::FitWithin {
                width: box_width,
                height: box_height,
            } => {
                let size = if width <= box_width && height <= box_height {
                    (width, height)
                } else {
                    fitted_size(width, height, box_width, box_height)
                };
                (Some(self.image_scaler.rgb(decoded, size)?), None)
            }
            ImageOutput::Omitted => (None, None),
            ImageOutput::Yuv => {
                let picture = if decoded.format() == ffmpeg::format::Pixel::YUV420P {
                    std::mem::replace(decoded, ffmpeg::frame::Video::empty())
                } else {
                    self.image_scaler.take(
                        decoded,
                        ffmpeg::format::Pixel::YUV420P,
                        (width, height),
                    )?
                };
                (None, Some(YuvImage::from_decoded(picture)))
            }
        };
        let index = self.next_index;
        self.next_index += 1;
        Ok(Frame {
            index,
            timestamp_us,
            decoded_width: width,
            decoded_height: height,
            image,
            yuv,
            detector_view,
        })
    }
}

/// The size of a `width` x `height` image scaled, aspect kept, to fit a `box_width` x
/// `box_height` box (up or down); at least 1x1.
pub fn fitted_size(width: u32, height: u32, box_width: u32, box_height: u32) -> (u32, u32) {
    let scale = (f64::from(box_width) / f64::from(width.max(1)))
        .min(f64::from(box_height) / f64::from(height.max(1)));
    let fit = |n: u32, limit: u32| ((f64::from(n) * scale).round() as u32).clamp(1, limit.max(1));
    (fit(width, box_width), fit(height, box_height))
}

fn to_microseconds(timestamp: i64, time_base: ffmpeg::Rational) -> Option<i64> {
    let (numerator, denominator) = (
        i128::from(time_base.numerator()),
        i128::from(time_base.denominator()),
    );
    if denominator == 0 {
        return None;
    }
    let scaled = i128::from(timestamp) * numerator * 1_000_000;
    // Round half away from zero.
    let rounded = (scaled + scaled.signum() * denominator.abs() / 2) / denominator;
    i64::try_from(rounded).ok()
}

/// One swscale context (into RGB24, or YUV 4:2:0 from another format), rebuilt when the input or
/// output size or format changes (VP8 and VP9 streams may change resolution mid-stream).
#[derive(Default)]
struct Scaler {
    context: Option<scaling::Context>,
    output: Option<ffmpeg::frame::Video>,
}

impl Scaler {
    /// `decoded` in RGB at `size`.
    fn rgb(
        &mut self,
        decoded: &ffmpeg::frame::Video,
        size: (u32, u32),
    ) -> Result<RgbImage, DecodeError> {
        copy_rgb(self.run(decoded, ffmpeg::format::Pixel::RGB24, size)?)
    }

    /// `decoded` in `format` at `size`, in a frame of its own.
    fn take(
        &mut self,
        decoded: &ffmpeg::frame::Video,
        format: ffmpeg::format::Pixel,
        size: (u32, u32),
    ) -> Result<ffmpeg::frame::Video, DecodeError> {
        let output = self.run(decoded, format, size)?;
        Ok(std::mem::replace(output, ffmpeg::frame::Video::empty()))
    }

    fn run(
        &mut self,
        decoded: &ffmpeg::frame::Video,
        format: ffmpeg::format::Pixel,
        (width, height): (u32, u32),
    ) -> Result<&mut ffmpeg::frame::Video, DecodeError> {
        let reusable = self.context.as_ref().is_some_and(|context| {
            let (input, output) = (context.input(), context.output());
            input.format == decoded.format()
                && input.width == decoded.width()
                && input.height == decoded.height()
                && output.format == format
                && output.width == width
                && output.height == height
        });
        if !reusable {
            // Same size: a plain conversion; smaller: area averaging (no aliasing on the way down
            // to the detector's view); larger: bilinear.
            let flags = if width < decoded.width() {
                scaling::Flags::AREA
            } else {
                scaling::Flags::BILINEAR
            };
            let context = scaling::Context::get(
                decoded.format(),
                decoded.width(),
                decoded.height(),
                format,
                width,
                height,
                flags,
            )
            .map_err(|error| {
                DecodeError::Internal(format!("swscale from {:?}: {error}", decoded.format()))
            })?;
            self.context = Some(context);
            self.output = Some(ffmpeg::frame::Video::empty());
        }
        let (Some(context), Some(output)) = (self.context.as_mut(), self.output.as_mut()) else {
            return Err(DecodeError::Internal("no swscale context".into()));
        };
        context
            .run(decoded, output)
            .map_err(|error| DecodeError::Internal(format!("swscale: {error}")))?;
        Ok(output)
    }
}

/// The packed RGB rows of an RGB24 frame (FFmpeg pads its rows).
pub(crate) fn copy_rgb(frame: &ffmpeg::frame::Video) -> Result<RgbImage, DecodeError> {
    let (width, height) = (frame.width(), frame.height());
    let row_bytes = width as usize * 3;
    let stride = frame.stride(0);
    let data = frame.data(0);
    let mut rgb = Vec::with_capacity(row_bytes * height as usize);
    for row in 0..height as usize {
        let start = row * stride;
        let Some(line) = data.get(start..start + row_bytes) else {
            return Err(DecodeError::Internal(
                "swscale output shorter than its size".into(),
            ));
        };
        rgb.extend_from_slice(line);
    }
    RgbImage::new(width, height, rgb).map_err(|error| DecodeError::Internal(error.to_string()))
}

/// Accounting shared by the decoding loop, the read callback and FFmpeg's interrupt callback:
/// input bytes against their limit, and decoding time (wall time less the time spent waiting for
/// chunks or in the caller's callback) against its limit.
struct Meter {
    started: Instant,
    /// Nanoseconds not spent decoding.
    outside_ns: AtomicU64,
    input_bytes: AtomicU64,
    max_input_bytes: u64,
    max_decode_time: Duration,
    /// Why the input was cut off, if it was ([`Failure`]).
    failure: AtomicU8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Failure {
    None = 0,
    TooLarge = 1,
    TooSlow = 2,
}

impl Meter {
    fn new(limits: &DecodeLimits) -> Self {
        Self {
            started: Instant::now(),
            outside_ns: AtomicU64::new(0),
            input_bytes: AtomicU64::new(0),
            max_input_bytes: limits.max_input_bytes,
            max_decode_time: limits.max_decode_time,
            failure: AtomicU8::new(Failure::None as u8),
        }
    }

    /// Runs `work` without counting its time as decoding time.
    fn outside<T>(&self, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let result = work();
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.outside_ns.fetch_add(nanos, Ordering::Relaxed);
        result
    }

    fn decode_time(&self) -> Duration {
        let outside = Duration::from_nanos(self.outside_ns.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(outside)
    }

    fn time_exceeded(&self) -> bool {
        if self.decode_time() > self.max_decode_time {
            self.fail(Failure::TooSlow);
            return true;
        }
        false
    }

    fn check_time(&self) -> Result<(), DecodeError> {
        if self.time_exceeded() {
            return Err(DecodeError::TooSlow(self.max_decode_time));
        }
        Ok(())
    }

    /// Counts a chunk; false when the input is now over its limit.
    fn add_input(&self, bytes: usize) -> bool {
        let total = self.input_bytes.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
        if total > self.max_input_bytes {
            self.fail(Failure::TooLarge);
            return false;
        }
        true
    }

    fn fail(&self, failure: Failure) {
        let _ = self.failure.compare_exchange(
            Failure::None as u8,
            failure as u8,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// The limit that cut the input off, if one did: it explains any FFmpeg error that follows.
    fn failure(&self) -> Option<DecodeError> {
        match self.failure.load(Ordering::Relaxed) {
            1 => Some(DecodeError::TooLarge(self.max_input_bytes)),
            2 => Some(DecodeError::TooSlow(self.max_decode_time)),
            _ => None,
        }
    }
}

/// The input before FFmpeg gets it: the bytes held back while the container is recognised,
/// then the rest of the channel.
struct Input {
    prefix: Vec<u8>,
    chunks: Receiver<Vec<u8>>,
    meter: Arc<Meter>,
}

impl Input {
    fn new(chunks: Receiver<Vec<u8>>, meter: Arc<Meter>) -> Self {
        Self {
            prefix: Vec::new(),
            chunks,
            meter,
        }
    }

    fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Appends the next chunk to the prefix; false at the end of the input.
    fn receive(&mut self) -> Result<bool, DecodeError> {
        match self.meter.outside(|| self.chunks.recv()) {
            Ok(chunk) => {
                if !self.meter.add_input(chunk.len()) {
                    return Err(DecodeError::TooLarge(self.meter.max_input_bytes));
                }
                self.prefix.extend_from_slice(&chunk);
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }

    /// Reads the input to its end.
    fn into_whole(mut self) -> Result<Vec<u8>, DecodeError> {
        while self.receive()? {}
        Ok(self.prefix)
    }

    fn into_reader(self) -> ChunkReader {
        ChunkReader {
            current: self.prefix,
            position: 0,
            chunks: self.chunks,
            meter: self.meter,
        }
    }
}

/// The `Read` behind the `AVIOContext` of a streamed input: the held-back prefix, then each
/// chunk as it arrives; end of file when the senders are gone.
struct ChunkReader {
    current: Vec<u8>,
    position: usize,
    chunks: Receiver<Vec<u8>>,
    meter: Arc<Meter>,
}

impl Read for ChunkReader {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let available = &self.current[self.position.min(self.current.len())..];
            if !available.is_empty() {
                let n = available.len().min(buffer.len());
                buffer[..n].copy_from_slice(&available[..n]);
                self.position += n;
                return Ok(n);
            }
            if self.meter.time_exceeded() {
                return Err(std::io::Error::other("decode time limit"));
            }
            match self.meter.outside(|| self.chunks.recv()) {
                Ok(chunk) => {
                    if !self.meter.add_input(chunk.len()) {
                        return Err(std::io::Error::other("input size limit"));
                    }
                    self.current = chunk;
                    self.position = 0;
                }
                Err(_) => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_sizes_keep_the_aspect() {
        assert_eq!(fitted_size(640, 480, 128, 128), (128, 96));
        assert_eq!(fitted_size(480, 640, 128, 128), (96, 128));
        assert_eq!(fitted_size(1280, 720, 128, 128), (128, 72));
        assert_eq!(fitted_size(64, 64, 128, 128), (128, 128));
        assert_eq!(fitted_size(10_000, 1, 128, 128), (128, 1));
    }

    #[test]
    fn timestamps_convert_to_microseconds() {
        assert_eq!(
            to_microseconds(1500, ffmpeg::Rational::new(1, 1000)),
            Some(1_500_000)
        );
        assert_eq!(
            to_microseconds(1, ffmpeg::Rational::new(1, 90_000)),
            Some(11)
        );
        assert_eq!(
            to_microseconds(-3, ffmpeg::Rational::new(1, 1000)),
            Some(-3000)
        );
        assert_eq!(to_microseconds(5, ffmpeg::Rational::new(1, 0)), None);
    }

    fn check(bytes: &[u8], expected: DecodeError) {
        let result = decode_all(bytes, &DecodeOptions::default());
        assert_eq!(
            result.err(),
            Some(expected),
            "input {:02x?}",
            &bytes[..bytes.len().min(16)]
        );
    }

    #[test]
    fn non_video_input_gets_a_clear_error() {
        check(b"", DecodeError::Empty);
        check(b"\x1a\x45", DecodeError::NotAVideo);
        check(b"hello, world", DecodeError::NotAVideo);
        check(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", DecodeError::NotAVideo);
    }

    #[test]
    fn a_bare_header_is_a_container_error() {
        let result = decode_all(&[0x1A, 0x45, 0xDF, 0xA3, 0x80], &DecodeOptions::default());
        assert!(
            matches!(
                result,
                Err(DecodeError::Container {
                    container: Container::WebM,
                    ..
                })
            ),
            "{result:?}"
        );
        let result = decode_all(b"\0\0\0\x10ftypisom\0\0\0\0", &DecodeOptions::default());
        assert!(
            matches!(
                result,
                Err(DecodeError::Container { .. } | DecodeError::NoVideoStream(_))
            ),
            "{result:?}"
        );
    }

    #[test]
    fn the_input_size_limit_holds_before_ffmpeg_runs() {
        let options = DecodeOptions {
            limits: DecodeLimits {
                max_input_bytes: 100,
                ..DecodeLimits::default()
            },
            ..DecodeOptions::default()
        };
        let mut bytes = b"\0\0\0\x10ftypisom\0\0\0\0".to_vec();
        bytes.extend_from_slice(&[0; 200]);
        let result = decode_all(&bytes, &options);
        assert_eq!(result.err(), Some(DecodeError::TooLarge(100)));
    }
}
