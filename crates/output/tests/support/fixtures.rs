//! Test support: a tiny valid JPEG (8x8 grey, made by FFmpeg) for the images a session returns.

#![allow(dead_code)] // Each test binary uses its own part of this module.

const TINY_JPEG_HEX: &str = "ffd8ffe000104a46494600010200000100010000fffe00104c61766335392e33372e31303000ffdb004300083e3e493e49555555555555645d6468686864646464686868707070838383707070686870707c7c83838f938f8787838793939b9b9bbabab2b2d9d9e0ffffffffc4004a000100000000000000000000000000000000010100000000000000000000000000000000100100000000000000000000000000000000110100000000000000000000000000000000ffc00011080008000803012200021100031100ffda000c03010002110311003f00000fffd9";

/// The JPEG's bytes.
pub fn tiny_jpeg() -> Vec<u8> {
    (0..TINY_JPEG_HEX.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&TINY_JPEG_HEX[at..at + 2], 16).expect("hex"))
        .collect()
}

/// Whether `bytes` hold a JPEG (FF D8 FF) or WebM/Matroska (1A 45 DF A3) signature anywhere.
pub fn has_image_or_video_signature(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|w| w == [0xFF, 0xD8, 0xFF])
        || bytes.windows(4).any(|w| w == [0x1A, 0x45, 0xDF, 0xA3])
}
