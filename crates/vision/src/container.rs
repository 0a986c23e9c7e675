//! Which container a stream is, from its first bytes, and whether an MP4 can be demuxed as it
//! arrives.
//!
//! MediaRecorder writes WebM (an EBML document: it starts with the EBML magic `1A 45 DF A3`) in
//! Chrome and Firefox, and MP4 (an ISO BMFF file: it starts with an `ftyp` box) in Safari.
//! Safari's MP4 is fragmented: `ftyp`, a `moov` that announces fragments with an `mvex` box, then
//! `moof` + `mdat` pairs, so it can be demuxed as it arrives.
//! A whole MP4 (`moov` without `mvex`, or `mdat` before `moov`) can only be demuxed with seeking,
//! so it is decoded once complete.
//! Everything here is pure and bounded by the bytes given.

use serde::Serialize;

/// The containers the service accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Container {
    /// WebM (Matroska), as Chrome and Firefox record it.
    WebM,
    /// MP4 (ISO BMFF), as Safari records it.
    Mp4,
}

impl Container {
    pub fn name(self) -> &'static str {
        match self {
            Container::WebM => "WebM",
            Container::Mp4 => "MP4",
        }
    }
}

impl std::fmt::Display for Container {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the first bytes of a stream say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniff {
    /// Too few bytes to tell; give more (or, at the end of the input, it is not a video).
    NeedMoreData,
    Known(Container),
    /// Neither WebM nor MP4.
    Unknown,
}

const EBML_MAGIC: [u8; 4] = [0x1A, 0x45, 0xDF, 0xA3];

/// Tells the container from the first bytes of a stream (4 for WebM, 8 for MP4).
pub fn sniff(prefix: &[u8]) -> Sniff {
    let webm_possible = prefix.iter().zip(EBML_MAGIC).all(|(a, b)| *a == b);
    if webm_possible && prefix.len() >= EBML_MAGIC.len() {
        return Sniff::Known(Container::WebM);
    }
    let mp4_possible = prefix
        .get(4..)
        .is_none_or(|tail| tail.iter().zip(b"ftyp").all(|(a, b)| a == b));
    if mp4_possible && prefix.len() >= 8 {
        // The box size covers at least its own 8-byte header and the major brand and version.
        let size = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        return if size >= 16 || size == 1 {
            Sniff::Known(Container::Mp4)
        } else {
            Sniff::Unknown
        };
    }
    if webm_possible || mp4_possible {
        Sniff::NeedMoreData
    } else {
        Sniff::Unknown
    }
}

/// How an MP4 is laid out, as far as demuxing from a stream is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mp4Layout {
    /// The top-level boxes seen so far do not decide it yet.
    NeedMoreData,
    /// `moov` announces movie fragments (`mvex`), or a `moof` came: demux as it arrives.
    Fragmented,
    /// `mdat` before `moov`, a `moov` without `mvex`, or boxes that make no sense: demux only
    /// from the complete, seekable input.
    Whole,
}

/// Walks the top-level boxes of an MP4 prefix to tell a fragmented file from a whole one.
pub fn mp4_layout(prefix: &[u8]) -> Mp4Layout {
    let mut offset = 0usize;
    loop {
        let Some(BoxHeader {
            kind,
            size,
            header_len,
        }) = box_header(prefix, offset)
        else {
            return Mp4Layout::NeedMoreData;
        };
        // Size 0 (the box runs to the end of the file: only a whole file ends like that), or a
        // box shorter than its header.
        if size < header_len {
            return Mp4Layout::Whole;
        }
        match &kind {
            b"moof" => return Mp4Layout::Fragmented,
            b"mdat" => return Mp4Layout::Whole,
            b"moov" => {
                let Ok(size) = usize::try_from(size) else {
                    return Mp4Layout::Whole;
                };
                let Some(moov) = offset
                    .checked_add(header_len as usize)
                    .and_then(|at| bytes_at(prefix, at, size - header_len as usize))
                else {
                    return Mp4Layout::NeedMoreData;
                };
                return if has_child(moov, b"mvex") {
                    Mp4Layout::Fragmented
                } else {
                    Mp4Layout::Whole
                };
            }
            _ => {}
        }
        let Some(next) = usize::try_from(size)
            .ok()
            .and_then(|s| offset.checked_add(s))
        else {
            return Mp4Layout::Whole;
        };
        offset = next;
    }
}

/// The header of an ISO BMFF box: its type, its size with the header (0: it runs to the end of
/// the file) and the header's length (8, or 16 with a 64-bit size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BoxHeader {
    pub kind: [u8; 4],
    pub size: u64,
    pub header_len: u64,
}

/// The header of the box at `offset` of `bytes`, if all of it is there.
pub(crate) fn box_header(bytes: &[u8], offset: usize) -> Option<BoxHeader> {
    let header = bytes_at(bytes, offset, 8)?;
    let size = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
    let kind = [header[4], header[5], header[6], header[7]];
    if size != 1 {
        return Some(BoxHeader {
            kind,
            size: u64::from(size),
            header_len: 8,
        });
    }
    let large = bytes_at(bytes, offset.checked_add(8)?, 8)?;
    let mut size = [0u8; 8];
    size.copy_from_slice(large);
    Some(BoxHeader {
        kind,
        size: u64::from_be_bytes(size),
        header_len: 16,
    })
}

/// `length` bytes of `bytes` from `start`, if they are all there (no overflow on the way).
fn bytes_at(bytes: &[u8], start: usize, length: usize) -> Option<&[u8]> {
    bytes.get(start..start.checked_add(length)?)
}

/// Whether the boxes packed in `body` include one of type `kind` (one level, no recursion).
fn has_child(body: &[u8], kind: &[u8; 4]) -> bool {
    let mut offset = 0usize;
    while let Some(header) = bytes_at(body, offset, 8) {
        if &header[4..8] == kind {
            return true;
        }
        let Some(next) = box_header(body, offset)
            .and_then(|header| usize::try_from(header.size).ok())
            .filter(|&size| size >= 8)
            .and_then(|size| offset.checked_add(size))
        else {
            return false;
        };
        offset = next;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    }

    fn check_sniff(input: &[u8], expected: Sniff) {
        assert_eq!(sniff(input), expected, "sniff({input:02x?})");
    }

    #[test]
    fn sniffs_webm_mp4_and_the_rest() {
        let ftyp = mp4_box(b"ftyp", b"isom\0\0\x02\0");
        check_sniff(&[], Sniff::NeedMoreData);
        check_sniff(&[0x1A, 0x45], Sniff::NeedMoreData);
        check_sniff(&[0x1A, 0x45, 0xDF, 0xA3], Sniff::Known(Container::WebM));
        check_sniff(
            &[0x1A, 0x45, 0xDF, 0xA3, 0x9F, 0x42],
            Sniff::Known(Container::WebM),
        );
        check_sniff(&ftyp[..6], Sniff::NeedMoreData);
        check_sniff(&ftyp, Sniff::Known(Container::Mp4));
        check_sniff(&ftyp[..8], Sniff::Known(Container::Mp4));
        check_sniff(b"\0\0\0\x04ftyp", Sniff::Unknown);
        check_sniff(b"\x89PNG\r\n\x1a\n", Sniff::Unknown);
        check_sniff(b"GIF89a", Sniff::Unknown);
        check_sniff(b"\0\0\0\x18mdat", Sniff::Unknown);
        check_sniff(&[0x1A, 0x45, 0xDF, 0x00], Sniff::NeedMoreData);
        check_sniff(&[0x1A, 0x45, 0xDF, 0x00, 0, 0, 0, 0], Sniff::Unknown);
    }

    #[test]
    fn tells_fragmented_from_whole_mp4() {
        let ftyp = mp4_box(b"ftyp", b"isom\0\0\x02\0");
        let mvhd = mp4_box(b"mvhd", &[0; 20]);
        let mvex = mp4_box(b"mvex", &mp4_box(b"trex", &[0; 24]));
        let fragmented_moov = mp4_box(b"moov", &[mvhd.clone(), mvex].concat());
        let whole_moov = mp4_box(b"moov", &mvhd);
        let mdat = mp4_box(b"mdat", &[1, 2, 3]);
        let moof = mp4_box(b"moof", &[0; 8]);

        let fragmented = [
            ftyp.clone(),
            fragmented_moov.clone(),
            moof.clone(),
            mdat.clone(),
        ]
        .concat();
        assert_eq!(mp4_layout(&fragmented), Mp4Layout::Fragmented);
        // Every prefix that ends before the moov does is undecided.
        let moov_end = ftyp.len() + fragmented_moov.len();
        for cut in 0..moov_end {
            assert_eq!(
                mp4_layout(&fragmented[..cut]),
                Mp4Layout::NeedMoreData,
                "cut at {cut}"
            );
        }
        assert_eq!(mp4_layout(&fragmented[..moov_end]), Mp4Layout::Fragmented);

        let faststart = [ftyp.clone(), whole_moov.clone(), mdat.clone()].concat();
        assert_eq!(mp4_layout(&faststart), Mp4Layout::Whole);
        let moov_last = [ftyp.clone(), mdat.clone(), whole_moov].concat();
        assert_eq!(mp4_layout(&moov_last), Mp4Layout::Whole);
        let styp_free = [ftyp.clone(), mp4_box(b"free", &[0; 4]), moof].concat();
        assert_eq!(mp4_layout(&styp_free), Mp4Layout::Fragmented);
        // Nonsense sizes end in "whole" (FFmpeg then judges the complete input).
        assert_eq!(
            mp4_layout(&[ftyp.clone(), b"\0\0\0\x03abcd".to_vec()].concat()),
            Mp4Layout::Whole
        );
        assert_eq!(
            mp4_layout(&[ftyp.clone(), b"\0\0\0\0mdat".to_vec()].concat()),
            Mp4Layout::Whole
        );
        let mut large = ftyp.clone();
        large.extend_from_slice(b"\0\0\0\x01free\xff\xff\xff\xff\xff\xff\xff\xff");
        assert_eq!(mp4_layout(&large), Mp4Layout::Whole);
    }

    /// Found by the `video_container` fuzz target: a box size that takes the offset to the end
    /// of the address space overflowed the next header's bounds.
    #[test]
    fn a_box_size_near_the_end_of_the_address_space_does_not_overflow() {
        let mut bytes = b"\0\0\0\x01ft\xff\xff".to_vec();
        bytes.extend_from_slice(&[0xff; 120]);
        bytes.push(b'y');
        // The next box would start past any input: more data never comes, and the decoder then
        // hands what it has to FFmpeg as a whole file.
        assert_eq!(mp4_layout(&bytes), Mp4Layout::NeedMoreData);
        let mut large = b"\0\0\0\x10ftypisom\0\0\0\0\0\0\0\x01free".to_vec();
        large.extend_from_slice(&(u64::MAX - 8).to_be_bytes());
        assert_eq!(mp4_layout(&large), Mp4Layout::Whole);
        assert!(!has_child(
            &[0, 0, 0, 1, b'a', b'b', b'c', b'd', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0],
            b"mvex"
        ));
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for length in 0..400 {
            let bytes: Vec<u8> = (0..length)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect();
            let _ = sniff(&bytes);
            let _ = mp4_layout(&bytes);
        }
    }
}
