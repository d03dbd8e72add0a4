//! QR-code scanning for adding accounts: every QR code in an image file, an image in memory,
//! the clipboard or the screen, returned as text payloads (`otpauth://`,
//! `otpauth-migration://offline?data=…`, `countersign://enroll?…`) for the caller to parse.
//!
//! Images are size-checked from their header before decoding ([`MAX_PIXELS`]). The `scan_*`
//! functions fail with [`Error::NoQrFound`] rather than return an empty list, so a caller
//! always has something to tell the user.

mod clipboard;
mod decode;
mod error;
mod load;
mod screen;

use std::path::Path;

pub use clipboard::scan_clipboard;
pub use decode::decode_luma;
#[doc(hidden)]
pub use decode::{Pass, Pipeline, decode_luma_with};
pub use error::{Error, Result};
pub use image::{GrayImage, RgbaImage};
pub use load::{MAX_FILE_BYTES, MAX_PIXELS};
pub use screen::{capture_screens, scan_screens};

/// Every QR payload in an image file (PNG, JPEG, WebP, GIF, BMP).
pub fn scan_file(path: impl AsRef<Path>) -> Result<Vec<String>> {
    let path = path.as_ref();
    let bytes = load::read_file(path)?;
    let image = load::to_luma_on_white(&load::decode_image(&bytes)?);
    non_empty(decode_luma(&image), || path.display().to_string())
}

/// Every QR payload in an encoded image (PNG, JPEG, WebP, GIF, BMP) held in memory.
pub fn scan_bytes(bytes: &[u8]) -> Result<Vec<String>> {
    let image = load::to_luma_on_white(&load::decode_image(bytes)?);
    non_empty(decode_luma(&image), || "the image".to_owned())
}

/// Every QR payload in a raw RGBA8 buffer (row-major, no padding), as clipboards and
/// screen captures deliver them.
pub fn scan_rgba(width: u32, height: u32, rgba: &[u8]) -> Result<Vec<String>> {
    load::check_dimensions(width, height)?;
    if rgba.len() as u64 != u64::from(width) * u64::from(height) * 4 {
        return Err(Error::UnsupportedImage(format!(
            "an RGBA buffer of {width}×{height} needs {} bytes, got {}",
            u64::from(width) * u64::from(height) * 4,
            rgba.len()
        )));
    }
    let image = load::rgba_to_luma(width, height, rgba);
    non_empty(decode_luma(&image), || "the image".to_owned())
}

/// Every QR payload in an [`RgbaImage`].
pub fn scan_image(image: &RgbaImage) -> Result<Vec<String>> {
    scan_rgba(image.width(), image.height(), image.as_raw())
}

pub(crate) fn non_empty(
    found: Vec<String>,
    source: impl FnOnce() -> String,
) -> Result<Vec<String>> {
    if found.is_empty() {
        Err(Error::NoQrFound(source()))
    } else {
        Ok(found)
    }
}
