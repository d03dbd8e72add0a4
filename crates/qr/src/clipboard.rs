//! The image on the clipboard (a screenshot the user just took, a copied image).

use crate::error::{Error, Result};

/// Every QR payload in the image on the clipboard.
pub fn scan_clipboard() -> Result<Vec<String>> {
    let mut clipboard =
        arboard::Clipboard::new().map_err(|e| Error::ClipboardUnavailable(e.to_string()))?;
    let image = clipboard.get_image().map_err(|e| match e {
        arboard::Error::ContentNotAvailable => Error::ClipboardNoImage,
        arboard::Error::ConversionFailure => {
            Error::UnsupportedImage("the clipboard image is in a format that cannot be read".into())
        }
        other => Error::ClipboardUnavailable(other.to_string()),
    })?;
    let (width, height) = (
        u32::try_from(image.width).unwrap_or(u32::MAX),
        u32::try_from(image.height).unwrap_or(u32::MAX),
    );
    crate::scan_rgba(width, height, &image.bytes).map_err(|e| match e {
        Error::NoQrFound(_) => Error::NoQrFound("the clipboard image".to_owned()),
        other => other,
    })
}
