//! A decoded picture as the decoder made it: 8-bit YUV 4:2:0 (BT.601, limited range), each pixel
//! converted to RGB only when it is read.
//!
//! The engine reads a few thousand pixels of each frame (the face's regions and appearance, the
//! background's sides, a fingerprint) and needs the whole picture in RGB only for the few frames
//! it encodes as JPEG. Converting every frame to RGB cost more than the measures themselves
//! (BENCHMARKS.md); a [`YuvImage`] holds the decoder's own picture, by reference, with no copy.

use ffmpeg::format::Pixel;
use ffmpeg_next as ffmpeg;

use crate::image::{ImageError, RgbImage};

/// One picture in 8-bit planar YUV 4:2:0 (chroma at half the width and height, rounded up).
#[derive(Clone)]
pub struct YuvImage {
    frame: ffmpeg::frame::Video,
}

impl std::fmt::Debug for YuvImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YuvImage")
            .field("width", &self.width())
            .field("height", &self.height())
            .finish_non_exhaustive()
    }
}

impl PartialEq for YuvImage {
    /// The same size and the same visible samples (row padding aside).
    fn eq(&self, other: &Self) -> bool {
        if self.width() != other.width() || self.height() != other.height() {
            return false;
        }
        let (a, b) = (self.planes(), other.planes());
        let (_, ch) = chroma_size(self.width(), self.height());
        (0..self.height()).all(|y| a.luma_row(y) == b.luma_row(y))
            && (0..ch).all(|y| a.chroma_rows(y) == b.chroma_rows(y))
    }
}

fn chroma_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(2), height.div_ceil(2))
}

impl YuvImage {
    /// Takes a decoded 8-bit YUV 4:2:0 frame (the caller checked its format).
    pub(crate) fn from_decoded(frame: ffmpeg::frame::Video) -> Self {
        debug_assert_eq!(frame.format(), Pixel::YUV420P);
        Self { frame }
    }

    /// A picture from packed planes: `y` of `width * height` samples, `u` and `v` of
    /// `ceil(width / 2) * ceil(height / 2)` each.
    pub fn from_planes(
        width: u32,
        height: u32,
        y: &[u8],
        u: &[u8],
        v: &[u8],
    ) -> Result<Self, ImageError> {
        let (cw, ch) = chroma_size(width, height);
        let luma = width as usize * height as usize;
        let chroma = cw as usize * ch as usize;
        if width == 0 || height == 0 {
            return Err(ImageError::Empty);
        }
        if y.len() != luma || u.len() != chroma || v.len() != chroma {
            return Err(ImageError::WrongLength {
                width,
                height,
                expected: luma + 2 * chroma,
                got: y.len() + u.len() + v.len(),
            });
        }
        let mut frame = ffmpeg::frame::Video::new(Pixel::YUV420P, width, height);
        for (plane, (source, row_bytes)) in [(y, width), (u, cw), (v, cw)].into_iter().enumerate() {
            let stride = frame.stride(plane);
            let data = frame.data_mut(plane);
            for (row, line) in source.chunks_exact(row_bytes as usize).enumerate() {
                data[row * stride..row * stride + line.len()].copy_from_slice(line);
            }
        }
        Ok(Self { frame })
    }

    pub fn width(&self) -> u32 {
        self.frame.width()
    }

    pub fn height(&self) -> u32 {
        self.frame.height()
    }

    /// The planes, to read pixels from.
    pub fn planes(&self) -> Planes<'_> {
        Planes {
            width: self.width(),
            height: self.height(),
            y: self.frame.data(0),
            u: self.frame.data(1),
            v: self.frame.data(2),
            luma_stride: self.frame.stride(0),
            chroma_stride: self.frame.stride(1),
        }
    }

    /// The whole picture in RGB (each pixel as [`yuv_to_rgb`] converts it).
    pub fn to_rgb(&self) -> RgbImage {
        let planes = self.planes();
        let mut data = Vec::with_capacity(self.width() as usize * self.height() as usize * 3);
        for y in 0..self.height() {
            for x in 0..self.width() {
                data.extend_from_slice(&planes.rgb(x, y));
            }
        }
        RgbImage::new(self.width(), self.height(), data)
            .unwrap_or_else(|_| unreachable!("the size is the picture's"))
    }
}

/// The planes of a [`YuvImage`], borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Planes<'a> {
    width: u32,
    height: u32,
    y: &'a [u8],
    u: &'a [u8],
    v: &'a [u8],
    luma_stride: usize,
    chroma_stride: usize,
}

impl Planes<'_> {
    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The visible luma samples of row `y`.
    pub fn luma_row(&self, y: u32) -> &[u8] {
        let start = y as usize * self.luma_stride;
        &self.y[start..start + self.width as usize]
    }

    /// The visible U and V samples of chroma row `y` (picture rows `2y` and `2y + 1`).
    fn chroma_rows(&self, y: u32) -> (&[u8], &[u8]) {
        let start = y as usize * self.chroma_stride;
        let end = start + self.width.div_ceil(2) as usize;
        (&self.u[start..end], &self.v[start..end])
    }

    /// The RGB of the pixel at (`x`, `y`), which must be inside the picture; each chroma sample
    /// serves the 2x2 pixels it covers, as swscale's unscaled conversion takes it.
    #[inline]
    pub fn rgb(&self, x: u32, y: u32) -> [u8; 3] {
        let (x, y) = (x as usize, y as usize);
        let chroma = (y / 2) * self.chroma_stride + x / 2;
        yuv_to_rgb(
            self.y[y * self.luma_stride + x],
            self.u[chroma],
            self.v[chroma],
        )
    }
}

/// BT.601 limited-range YUV to RGB, in 8-bit fixed point (the integer form of
/// R = 1.164 (Y - 16) + 1.596 (V - 128), G = 1.164 (Y - 16) - 0.391 (U - 128) - 0.813 (V - 128),
/// B = 1.164 (Y - 16) + 2.018 (U - 128), rounded and clamped): what a browser's VP8 or H.264
/// picture means. swscale's exact path agrees on average; its fast 4:2:0 path (SIMD) rounds
/// down, about one step darker.
#[inline]
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = 298 * (i32::from(y) - 16) + 128;
    let (d, e) = (i32::from(u) - 128, i32::from(v) - 128);
    let clamp = |value: i32| (value >> 8).clamp(0, 255) as u8;
    [
        clamp(c + 409 * e),
        clamp(c - 100 * d - 208 * e),
        clamp(c + 516 * d),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_black_white_and_the_primaries_convert_as_bt601_says() {
        assert_eq!(yuv_to_rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(yuv_to_rgb(235, 128, 128), [255, 255, 255]);
        assert_eq!(yuv_to_rgb(126, 128, 128), [128, 128, 128]);
        // BT.601 limited-range codes of pure red, green and blue.
        assert_eq!(yuv_to_rgb(81, 90, 240), [255, 0, 0]);
        assert_eq!(yuv_to_rgb(145, 54, 34), [0, 255, 1]);
        assert_eq!(yuv_to_rgb(41, 240, 110), [0, 0, 255]);
        // Out-of-range codes clamp.
        assert_eq!(yuv_to_rgb(0, 0, 0), [0, 135, 0]);
        assert_eq!(yuv_to_rgb(255, 255, 255), [255, 125, 255]);
    }

    #[test]
    fn odd_sizes_share_chroma_by_2x2_blocks_and_round_trip_to_rgb() {
        let (w, h) = (5u32, 3u32);
        let y: Vec<u8> = (0..w * h).map(|i| 16 + (i * 13 % 200) as u8).collect();
        let u: Vec<u8> = (0..6).map(|i| 100 + i * 5).collect();
        let v: Vec<u8> = (0..6).map(|i| 150 - i * 4).collect();
        let image = YuvImage::from_planes(w, h, &y, &u, &v).unwrap();
        let planes = image.planes();
        for py in 0..h {
            assert_eq!(
                planes.luma_row(py),
                &y[(py * w) as usize..((py + 1) * w) as usize]
            );
            for px in 0..w {
                let c = ((py / 2) * 3 + px / 2) as usize;
                assert_eq!(
                    planes.rgb(px, py),
                    yuv_to_rgb(y[(py * w + px) as usize], u[c], v[c])
                );
            }
        }
        let rgb = image.to_rgb();
        assert_eq!((rgb.width(), rgb.height()), (w, h));
        assert_eq!(rgb.pixel(4, 2), planes.rgb(4, 2));
        assert_eq!(image.clone(), image);
        let mut other = y.clone();
        other[7] ^= 1;
        assert_ne!(YuvImage::from_planes(w, h, &other, &u, &v).unwrap(), image);
        assert!(YuvImage::from_planes(w, h, &y[1..], &u, &v).is_err());
        assert!(YuvImage::from_planes(0, 0, &[], &[], &[]).is_err());
    }
}
