//! Bounded image loading: the size is checked from the header before any pixel is decoded,
//! and the decoder itself is capped too, so a decompression bomb fails fast and cheaply.

use std::io::{Cursor, Read};
use std::path::Path;

use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, Limits};

use crate::error::{Error, Result};

/// 40 megapixels: an 8K screen (33 MP) or three 4K monitors side by side still fit.
pub const MAX_PIXELS: u64 = 40_000_000;

/// Compressed images of 40 MP stay far below this; anything larger is not a screenshot.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The formats a desktop user pastes or saves screenshots in; the `image` crate is built
/// with exactly these.
const ACCEPTED_FORMATS: [ImageFormat; 5] = [
    ImageFormat::Png,
    ImageFormat::Jpeg,
    ImageFormat::WebP,
    ImageFormat::Gif,
    ImageFormat::Bmp,
];

pub(crate) fn check_dimensions(width: u32, height: u32) -> Result<()> {
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Error::ImageTooLarge {
            width,
            height,
            max_pixels: MAX_PIXELS,
        });
    }
    Ok(())
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    let io_error = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut bytes = Vec::new();
    // Read one byte past the cap so an oversized file is detected without reading it whole.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        let size = std::fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(bytes.len() as u64);
        return Err(Error::FileTooLarge {
            bytes: size,
            max_bytes: MAX_FILE_BYTES,
        });
    }
    Ok(bytes)
}

/// Decodes an encoded image (PNG, JPEG, WebP, GIF, BMP), refusing oversized ones.
pub(crate) fn decode_image(bytes: &[u8]) -> Result<DynamicImage> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::FileTooLarge {
            bytes: bytes.len() as u64,
            max_bytes: MAX_FILE_BYTES,
        });
    }
    let unreadable = |e: image::ImageError| Error::UnsupportedImage(e.to_string());
    let probe = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::UnsupportedImage(e.to_string()))?;
    let format = probe
        .format()
        .filter(|f| ACCEPTED_FORMATS.contains(f))
        .ok_or_else(|| {
            Error::UnsupportedImage("not a PNG, JPEG, WebP, GIF or BMP image".to_owned())
        })?;
    let (width, height) = probe.into_dimensions().map_err(unreadable)?;
    check_dimensions(width, height)?;

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    // RGBA8 of the checked size plus room for the decoders' own buffers.
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    reader.decode().map_err(unreadable)
}

/// Luma with transparency flattened onto white, as an image viewer shows it: QR codes saved
/// as black modules on a transparent background are common, and dropping alpha would turn
/// them into a black square.
pub(crate) fn to_luma_on_white(image: &DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.to_luma8();
    }
    let rgba = image.to_rgba8();
    rgba_to_luma(rgba.width(), rgba.height(), rgba.as_raw())
}

/// RGBA8 (row-major, no padding) to luma, transparency flattened onto white.
pub(crate) fn rgba_to_luma(width: u32, height: u32, rgba: &[u8]) -> GrayImage {
    let luma = rgba
        .chunks_exact(4)
        .map(|px| {
            // Rec. 601 weights in fixed point (sum 256), as the image crate uses.
            let l = (u32::from(px[0]) * 77 + u32::from(px[1]) * 150 + u32::from(px[2]) * 29) >> 8;
            let a = u32::from(px[3]);
            ((l * a + 255 * (255 - a)) / 255) as u8
        })
        .collect();
    GrayImage::from_raw(width, height, luma).unwrap_or_else(|| GrayImage::new(0, 0))
}
