//! Scaling a still RGB image with swscale (the video path scales straight from the decoder's
//! YUV in [`crate::decode`]; this is for photographs and the contact sheet).

use ffmpeg::software::scaling;
use ffmpeg_next as ffmpeg;

use crate::decode::{copy_rgb, fitted_size, DecodeError};
use crate::image::RgbImage;

/// `image` scaled to `width` x `height` (area averaging down, bilinear up).
pub fn resize(image: &RgbImage, width: u32, height: u32) -> Result<RgbImage, DecodeError> {
    if (width, height) == (image.width(), image.height()) {
        return Ok(image.clone());
    }
    crate::decode::init_ffmpeg();
    let mut input =
        ffmpeg::frame::Video::new(ffmpeg::format::Pixel::RGB24, image.width(), image.height());
    let row_bytes = image.width() as usize * 3;
    let stride = input.stride(0);
    let plane = input.data_mut(0);
    for y in 0..image.height() {
        let start = y as usize * stride;
        plane[start..start + row_bytes].copy_from_slice(image.row(y));
    }
    let flags = if width < image.width() {
        scaling::Flags::AREA
    } else {
        scaling::Flags::BILINEAR
    };
    let mut context = scaling::Context::get(
        ffmpeg::format::Pixel::RGB24,
        image.width(),
        image.height(),
        ffmpeg::format::Pixel::RGB24,
        width,
        height,
        flags,
    )
    .map_err(|error| DecodeError::Internal(format!("swscale: {error}")))?;
    let mut output = ffmpeg::frame::Video::empty();
    context
        .run(&input, &mut output)
        .map_err(|error| DecodeError::Internal(format!("swscale: {error}")))?;
    copy_rgb(&output)
}

/// `image` scaled (aspect kept, up or down) to fit within `box_width` x `box_height`.
pub fn fit_within(
    image: &RgbImage,
    box_width: u32,
    box_height: u32,
) -> Result<RgbImage, DecodeError> {
    let (width, height) = fitted_size(image.width(), image.height(), box_width, box_height);
    resize(image, width, height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_image_stays_flat_at_any_size() {
        let image = RgbImage::filled(640, 480, [200, 100, 50]).unwrap();
        let small = fit_within(&image, 128, 128).unwrap();
        assert_eq!((small.width(), small.height()), (128, 96));
        for y in 0..small.height() {
            for x in 0..small.width() {
                let [r, g, b] = small.pixel(x, y);
                assert!(r.abs_diff(200) <= 1 && g.abs_diff(100) <= 1 && b.abs_diff(50) <= 1);
            }
        }
        let large = resize(&small, 300, 200).unwrap();
        assert_eq!((large.width(), large.height()), (300, 200));
    }
}
