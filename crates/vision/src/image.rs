//! A tightly packed 8-bit RGB image, PNG in and out, and the few drawing primitives the contact
//! sheet needs.

use std::io::{BufRead, Seek, Write};

/// Rows of `width` pixels, 3 bytes each (R, G, B), no padding, top row first.
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RgbImage")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("an RGB image of {width}x{height} needs {expected} bytes, got {got}")]
    WrongLength {
        width: u32,
        height: u32,
        expected: usize,
        got: usize,
    },
    #[error("the image has no pixels")]
    Empty,
    #[error("cannot read the PNG image: {0}")]
    PngDecode(#[from] png::DecodingError),
    #[error("cannot write the PNG image: {0}")]
    PngEncode(#[from] png::EncodingError),
    #[error("unsupported PNG pixel layout {0:?}")]
    PngLayout(png::ColorType),
    #[error("cannot open {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl RgbImage {
    /// An image from packed RGB rows; `data` must hold exactly `width * height * 3` bytes.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Result<Self, ImageError> {
        if width == 0 || height == 0 {
            return Err(ImageError::Empty);
        }
        let expected = width as usize * height as usize * 3;
        if data.len() != expected {
            return Err(ImageError::WrongLength {
                width,
                height,
                expected,
                got: data.len(),
            });
        }
        Ok(Self {
            width,
            height,
            data,
        })
    }

    /// An image of one colour.
    pub fn filled(width: u32, height: u32, rgb: [u8; 3]) -> Result<Self, ImageError> {
        let pixels = width as usize * height as usize;
        Self::new(width, height, rgb.repeat(pixels))
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The packed RGB bytes, top row first.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// One row of `width * 3` bytes.
    pub fn row(&self, y: u32) -> &[u8] {
        let stride = self.width as usize * 3;
        let start = y as usize * stride;
        &self.data[start..start + stride]
    }

    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Sets a pixel; coordinates outside the image are ignored (drawing clips).
    pub fn put(&mut self, x: i64, y: i64, rgb: [u8; 3]) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        self.data[i..i + 3].copy_from_slice(&rgb);
    }

    /// Copies `source` with its top-left corner at (`x`, `y`), clipped to this image.
    pub fn paste(&mut self, source: &RgbImage, x: u32, y: u32) {
        if x >= self.width || y >= self.height {
            return;
        }
        let columns = source.width.min(self.width - x) as usize;
        let rows = source.height.min(self.height - y);
        let stride = self.width as usize * 3;
        for row in 0..rows {
            let target = (y + row) as usize * stride + x as usize * 3;
            self.data[target..target + columns * 3]
                .copy_from_slice(&source.row(row)[..columns * 3]);
        }
    }

    /// The outline of a rectangle, `thickness` pixels wide, inside the given bounds.
    pub fn draw_rectangle(
        &mut self,
        (left, top, right, bottom): (f32, f32, f32, f32),
        thickness: u32,
        rgb: [u8; 3],
    ) {
        let (left, top) = (left.round() as i64, top.round() as i64);
        let (right, bottom) = (right.round() as i64, bottom.round() as i64);
        for t in 0..i64::from(thickness) {
            for x in left..=right {
                self.put(x, top + t, rgb);
                self.put(x, bottom - t, rgb);
            }
            for y in top..=bottom {
                self.put(left + t, y, rgb);
                self.put(right - t, y, rgb);
            }
        }
    }

    /// A filled disc of the given radius.
    pub fn draw_disc(&mut self, (cx, cy): (f32, f32), radius: f32, rgb: [u8; 3]) {
        let r = radius.ceil() as i64;
        let (x0, y0) = (cx.round() as i64, cy.round() as i64);
        for dy in -r..=r {
            for dx in -r..=r {
                if ((dx * dx + dy * dy) as f32) <= radius * radius {
                    self.put(x0 + dx, y0 + dy, rgb);
                }
            }
        }
    }

    /// Reads a PNG (8- or 16-bit; grey, grey with alpha, RGB, RGBA or palette), dropping alpha.
    pub fn read_png(reader: impl BufRead + Seek) -> Result<Self, ImageError> {
        let mut decoder = png::Decoder::new(reader);
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info()?;
        let size = reader.output_buffer_size().ok_or(ImageError::Empty)?;
        let mut buffer = vec![0; size];
        let info = reader.next_frame(&mut buffer)?;
        buffer.truncate(info.buffer_size());
        let channels = match info.color_type {
            png::ColorType::Grayscale => 1,
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => return Err(ImageError::PngLayout(other)),
        };
        let (width, height) = (info.width, info.height);
        let row_bytes = info.line_size;
        let mut rgb = Vec::with_capacity(width as usize * height as usize * 3);
        for row in buffer.chunks_exact(row_bytes) {
            for pixel in row[..width as usize * channels].chunks_exact(channels) {
                match channels {
                    1 | 2 => rgb.extend_from_slice(&[pixel[0]; 3]),
                    _ => rgb.extend_from_slice(&pixel[..3]),
                }
            }
        }
        Self::new(width, height, rgb)
    }

    /// Reads a PNG file.
    pub fn open_png(path: &std::path::Path) -> Result<Self, ImageError> {
        let file = std::fs::File::open(path).map_err(|source| ImageError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::read_png(std::io::BufReader::new(file))
    }

    /// Writes the image as an 8-bit RGB PNG.
    pub fn write_png(&self, writer: impl Write) -> Result<(), ImageError> {
        let mut encoder = png::Encoder::new(writer, self.width, self.height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&self.data)?;
        writer.finish()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trip_keeps_every_pixel() {
        let data: Vec<u8> = (0..5 * 3 * 3).map(|i| (i * 7) as u8).collect();
        let image = RgbImage::new(5, 3, data).unwrap();
        let mut bytes = Vec::new();
        image.write_png(&mut bytes).unwrap();
        let back = RgbImage::read_png(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(back, image);
    }

    #[test]
    fn wrong_length_and_empty_images_are_refused() {
        assert!(matches!(
            RgbImage::new(2, 2, vec![0; 11]),
            Err(ImageError::WrongLength { expected: 12, .. })
        ));
        assert!(matches!(
            RgbImage::new(0, 2, vec![]),
            Err(ImageError::Empty)
        ));
    }

    #[test]
    fn drawing_clips_at_the_edges() {
        let mut image = RgbImage::filled(4, 4, [0, 0, 0]).unwrap();
        image.draw_rectangle((-2.0, -2.0, 10.0, 10.0), 1, [255, 0, 0]);
        image.draw_disc((0.0, 0.0), 3.0, [0, 255, 0]);
        assert_eq!(image.pixel(0, 0), [0, 255, 0]);
        let mut small = RgbImage::filled(2, 2, [9, 9, 9]).unwrap();
        small.paste(&image, 1, 1);
        assert_eq!(small.pixel(1, 1), [0, 255, 0]);
        assert_eq!(small.pixel(0, 0), [9, 9, 9]);
    }

    #[test]
    fn garbage_is_not_a_png() {
        assert!(RgbImage::read_png(std::io::Cursor::new(b"not a png".to_vec())).is_err());
    }
}
