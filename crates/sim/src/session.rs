//! A rendered session as the client sends it: the video encoded as its recorder encodes it (VP8
//! WebM as a browser's MediaRecorder, or H.264 fragmented MP4 as Safari and phones, in
//! one-second chunks) and the client's events with their times (PROTOCOL.md 4.5: InitialFace and
//! VideoStartTimestamp first, a ColorDisplayed event per colour stage, then TargetFace and
//! VideoEndTimestamp, then the empty VideoEvent that ends the input).

use std::path::Path;

use openliveness_vision::encode::{
    encode_mp4_h264, encode_webm_vp8, split_at_clusters, split_at_fragments, EncodeError,
    EncodeOptions,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::scenario::Recording;

/// The video codec (and with it the container) a client records in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VideoCodec {
    /// VP8 in a live WebM, as Chrome's and Firefox's MediaRecorder.
    Vp8,
    /// H.264 in a fragmented MP4, as Safari's MediaRecorder and phones.
    H264,
}

impl VideoCodec {
    pub const ALL: [VideoCodec; 2] = [VideoCodec::Vp8, VideoCodec::H264];

    pub fn name(self) -> &'static str {
        match self {
            VideoCodec::Vp8 => "vp8",
            VideoCodec::H264 => "h264",
        }
    }

    pub fn parse(name: &str) -> Option<VideoCodec> {
        VideoCodec::ALL
            .into_iter()
            .find(|codec| codec.name() == name)
    }
}

/// The video as the client sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct Encoded {
    /// The whole video (WebM or MP4).
    pub video: Vec<u8>,
    /// The chunks and when the recorder hands each out (ms from the start of the video).
    pub chunks: Vec<(f64, Vec<u8>)>,
}

/// Encodes the recording as its client does: in the studio as a browser's MediaRecorder does
/// by default (VP8 at 1 Mbit/s); in the room in the session's codec at its bit rate.
pub fn encode(recording: &Recording) -> Result<Encoded, EncodeError> {
    match &recording.room {
        Some(room) => encode_as(
            recording,
            room.codec,
            (room.video_kbps * 1000.0).round() as usize,
        ),
        None => encode_as(
            recording,
            VideoCodec::Vp8,
            EncodeOptions::default().bits_per_second,
        ),
    }
}

/// Encodes the recording in `codec` at `bits_per_second`, cut into a chunk a second (a WebM at
/// its clusters, an MP4 at its fragments).
pub fn encode_as(
    recording: &Recording,
    codec: VideoCodec,
    bits_per_second: usize,
) -> Result<Encoded, EncodeError> {
    let options = EncodeOptions {
        bits_per_second,
        ..EncodeOptions::default()
    };
    let (frames, frame_ms) = (&recording.frames, &recording.frame_ms);
    let (video, pieces) = match codec {
        VideoCodec::Vp8 => {
            let video = encode_webm_vp8(frames, frame_ms, &options)?;
            let pieces = split_at_clusters(&video);
            (video, pieces)
        }
        VideoCodec::H264 => {
            let video = encode_mp4_h264(frames, frame_ms, &options)?;
            let pieces = split_at_fragments(&video);
            (video, pieces)
        }
    };
    let count = pieces.len();
    let end = recording.timeline.video_end_ms;
    let chunks = pieces
        .into_iter()
        .enumerate()
        .map(|(index, bytes)| {
            let at = if index + 1 == count {
                end + 5.0
            } else {
                (1000.0 * (index + 1) as f64).min(end)
            };
            (at, bytes)
        })
        .collect();
    Ok(Encoded { video, chunks })
}

/// One message from the client, in the order it sends them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind")]
pub enum ClientMessage {
    /// A VideoEvent with this chunk of the video (`chunk` indexes [`Encoded::chunks`]).
    Video { at_ms: f64, chunk: usize },
    /// A ClientSessionInformationEvent with this JSON body.
    Info { at_ms: f64, body: Value },
    /// The empty VideoEvent that ends the input.
    End { at_ms: f64 },
}

impl ClientMessage {
    pub fn at_ms(&self) -> f64 {
        match self {
            ClientMessage::Video { at_ms, .. }
            | ClientMessage::Info { at_ms, .. }
            | ClientMessage::End { at_ms } => *at_ms,
        }
    }
}

fn ratio_box(recording: &Recording, frame: usize) -> Value {
    let (w, h) = (
        f64::from(recording.challenge.width),
        f64::from(recording.challenge.height),
    );
    let face = recording.truth.get(frame).and_then(|faces| faces.last());
    let [left, top, width, height] = face.map(|face| face.bounding_box).unwrap_or([0.0; 4]);
    json!({
        "Width": (width / w).clamp(0.0, 1.0),
        "Height": (height / h).clamp(0.0, 1.0),
        "Left": (left / w).clamp(-1.0, 1.0),
        "Top": (top / h).clamp(-1.0, 1.0),
    })
}

/// The client's messages for this recording, in the order it sends them. Timestamps in the events
/// are `epoch_ms` plus the time from the start of the video.
pub fn client_messages(
    recording: &Recording,
    encoded: &Encoded,
    epoch_ms: u64,
    challenge_id: &str,
) -> Vec<ClientMessage> {
    let member = if recording.challenge.colours.is_empty() {
        "FaceMovementChallenge"
    } else {
        "FaceMovementAndLightChallenge"
    };
    let at = |ms: f64| epoch_ms + ms.round().max(0.0) as u64;
    let timeline = &recording.timeline;
    let initial_frame = recording
        .frame_ms
        .iter()
        .position(|&ms| ms as f64 >= timeline.initial_face_ms)
        .unwrap_or(0);
    let initial_face = json!({
        "BoundingBox": ratio_box(recording, initial_frame),
        "InitialFaceDetectedTimestamp": at(timeline.initial_face_ms),
    });
    let mut messages = vec![ClientMessage::Info {
        at_ms: timeline.initial_face_ms + 20.0,
        body: json!({"Challenge": {member: {
            "ChallengeId": challenge_id,
            "VideoStartTimestamp": at(0.0),
            "InitialFace": initial_face,
        }}}),
    }];
    for stage in &timeline.stages {
        messages.push(ClientMessage::Info {
            at_ms: stage.start_ms + 1.0,
            body: json!({"Challenge": {member: {
                "ChallengeId": challenge_id,
                "ColorDisplayed": {
                    "CurrentColor": {"RGB": stage.current},
                    "PreviousColor": {"RGB": stage.previous},
                    "SequenceNumber": stage.sequence_number,
                    "CurrentColorStartTimestamp": at(stage.start_ms),
                },
            }}}),
        });
    }
    for (index, (at_ms, _)) in encoded.chunks.iter().enumerate() {
        messages.push(ClientMessage::Video {
            at_ms: *at_ms,
            chunk: index,
        });
    }
    let [cx, cy, ow, oh] = recording.challenge.oval;
    let (w, h) = (
        f64::from(recording.challenge.width),
        f64::from(recording.challenge.height),
    );
    messages.push(ClientMessage::Info {
        at_ms: timeline.video_end_ms + 10.0,
        body: json!({"Challenge": {member: {
            "ChallengeId": challenge_id,
            "InitialFace": initial_face,
            "TargetFace": {
                "BoundingBox": {
                    "Width": (ow / w).min(1.0),
                    "Height": (oh / h).min(1.0),
                    "Left": ((cx - ow / 2.0) / w).clamp(-1.0, 1.0),
                    "Top": ((cy - oh / 2.0) / h).clamp(-1.0, 1.0),
                },
                "FaceDetectedInTargetPositionStartTimestamp": at(timeline.target_start_ms),
                "FaceDetectedInTargetPositionEndTimestamp": at(timeline.target_end_ms),
            },
            "VideoEndTimestamp": at(timeline.video_end_ms),
        }}}),
    });
    messages.push(ClientMessage::End {
        at_ms: timeline.video_end_ms + 12.0,
    });
    // Stable: equal times keep the order above.
    messages.sort_by(|a, b| a.at_ms().total_cmp(&b.at_ms()));
    messages
}

/// Writes a session to a directory: `video.webm`, `chunk-NNN.webm`, `events.json` (the client's
/// messages), `recording.json` (species, seed, challenge, conditions, timeline, rendered face
/// positions) and `contact-sheet.png` (every few frames, for a person to look at). The video
/// files keep their names whatever the codec (an H.264 session's hold MP4 bytes: the decoder
/// tells the container from the bytes).
pub fn write_dir(
    dir: &Path,
    recording: &Recording,
    encoded: &Encoded,
    messages: &[ClientMessage],
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("video.webm"), &encoded.video)?;
    for (index, (_, bytes)) in encoded.chunks.iter().enumerate() {
        std::fs::write(dir.join(format!("chunk-{index:03}.webm")), bytes)?;
    }
    let events = serde_json::to_vec_pretty(messages).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("events.json"), events)?;
    let description = json!({
        "species": recording.species,
        "seed": recording.seed,
        "challenge": recording.challenge,
        "conditions": recording.conditions,
        "room": recording.room,
        "timeline": recording.timeline,
        "frame_ms": recording.frame_ms,
        "truth": recording.truth,
    });
    let description = serde_json::to_vec_pretty(&description).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("recording.json"), description)?;
    let sheet = contact_sheet(recording, 6, 4, 160);
    write_png(&dir.join("contact-sheet.png"), &sheet)
}

/// Thumbnails of evenly spaced frames, `columns` to a row and `rows` rows, each `thumb_width`
/// wide.
pub fn contact_sheet(
    recording: &Recording,
    columns: usize,
    rows: usize,
    thumb_width: u32,
) -> openliveness_vision::RgbImage {
    let count = (columns * rows).min(recording.frames.len()).max(1);
    let first = &recording.frames[0];
    let thumb_height = thumb_width * first.height() / first.width().max(1);
    let rows = count.div_ceil(columns);
    let (sheet_w, sheet_h) = (thumb_width as usize * columns, thumb_height as usize * rows);
    let mut data = vec![32u8; sheet_w * sheet_h * 3];
    for slot in 0..count {
        let frame = &recording.frames[slot * (recording.frames.len() - 1) / (count - 1).max(1)];
        let (ox, oy) = (
            (slot % columns) * thumb_width as usize,
            (slot / columns) * thumb_height as usize,
        );
        for y in 0..thumb_height {
            for x in 0..thumb_width {
                let sx = x * frame.width() / thumb_width;
                let sy = y * frame.height() / thumb_height;
                let p = frame.pixel(sx, sy);
                let at = ((oy + y as usize) * sheet_w + ox + x as usize) * 3;
                data[at..at + 3].copy_from_slice(&p);
            }
        }
    }
    openliveness_vision::RgbImage::new(sheet_w as u32, sheet_h as u32, data)
        .unwrap_or_else(|_| first.clone())
}

/// Writes an RGB image as PNG.
pub fn write_png(path: &Path, image: &openliveness_vision::RgbImage) -> std::io::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, image.width(), image.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer
        .write_image_data(image.data())
        .map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}
