//! The one error type of the QR crate. Every variant has a stable `code()` that the UI and
//! the CLI branch on. Messages never quote decoded payloads: they may carry OTP secrets.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Refused before decoding, so a tiny file cannot make us allocate gigabytes.
    #[error(
        "the image is {width}×{height} pixels, more than the {max_pixels} pixels a QR scan accepts"
    )]
    ImageTooLarge {
        width: u32,
        height: u32,
        max_pixels: u64,
    },

    #[error("the image file is {bytes} bytes, more than the {max_bytes} bytes a QR scan accepts")]
    FileTooLarge { bytes: u64, max_bytes: u64 },

    /// Not PNG, JPEG, WebP, GIF or BMP, or damaged.
    #[error("cannot read the image: {0}")]
    UnsupportedImage(String),

    #[error("no QR code found in {0}")]
    NoQrFound(String),

    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// No way to take a screenshot here (no display, no portal, unsupported session).
    #[error("screen capture is unavailable: {0}")]
    CaptureUnavailable(String),

    /// The user (or the desktop's policy) refused the screenshot request.
    #[error("screen capture was refused: {0}")]
    CaptureDenied(String),

    /// The clipboard cannot be reached (no display, no clipboard manager).
    #[error("the clipboard is unavailable: {0}")]
    ClipboardUnavailable(String),

    #[error("the clipboard holds no image")]
    ClipboardNoImage,
}

impl Error {
    /// Stable, machine-readable identifier. Never change an existing value: the UI and
    /// scripts rely on it.
    pub fn code(&self) -> &'static str {
        match self {
            Error::ImageTooLarge { .. } => "image_too_large",
            Error::FileTooLarge { .. } => "file_too_large",
            Error::UnsupportedImage(_) => "unsupported_image",
            Error::NoQrFound(_) => "no_qr_found",
            Error::Io { .. } => "io_error",
            Error::CaptureUnavailable(_) => "capture_unavailable",
            Error::CaptureDenied(_) => "capture_denied",
            Error::ClipboardUnavailable(_) => "clipboard_unavailable",
            Error::ClipboardNoImage => "clipboard_no_image",
        }
    }
}
