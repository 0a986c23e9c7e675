//! Any bytes, split into chunks anywhere, must sniff, demux and decode to frames or a clear
//! error, never a panic or a hang: the container input of `openliveness_vision::decode`.
//! The first byte picks the chunk size, as a network would cut the stream.
#![no_main]

use std::ops::ControlFlow;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use openliveness_vision::container::{mp4_layout, sniff};
use openliveness_vision::decode::{
    decode_stream, DecodeLimits, DecodeOptions, DetectorView, ImageOutput,
};

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    let _ = sniff(bytes);
    let _ = mp4_layout(bytes);
    let options = DecodeOptions {
        limits: DecodeLimits {
            max_input_bytes: 1 << 20,
            max_width: 640,
            max_height: 640,
            max_frames: 16,
            max_duration: Duration::from_secs(10),
            max_decode_time: Duration::from_secs(2),
        },
        // The engine's output: the decoder's own picture, read pixel by pixel.
        image: ImageOutput::Yuv,
        detector_view: Some(DetectorView::every_frame()),
        threads: 1,
    };
    let (sender, chunks) = std::sync::mpsc::channel();
    let step = usize::from(split).max(1) * 64;
    for piece in bytes.chunks(step) {
        sender.send(piece.to_vec()).expect("the receiver is alive");
    }
    drop(sender);
    let mut frames = 0u32;
    let result = decode_stream(chunks, &options, &mut |frame| {
        assert_eq!(frame.index, frames);
        let view = frame.detector_view.as_ref().expect("a view was asked for");
        assert!(view.width() <= 128 && view.height() <= 128);
        let picture = frame.yuv.as_ref().expect("a picture was asked for");
        let planes = picture.planes();
        let (w, h) = (picture.width(), picture.height());
        assert_eq!((w, h), (frame.decoded_width, frame.decoded_height));
        let _ = (planes.rgb(0, 0), planes.rgb(w - 1, h - 1), planes.luma_row(h - 1));
        frames += 1;
        ControlFlow::Continue(())
    });
    if let Ok(summary) = result {
        assert_eq!(summary.frames, frames);
        assert!(frames > 0 && frames <= 16);
    }
});
