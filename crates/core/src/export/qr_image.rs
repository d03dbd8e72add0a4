//! Texts that hold secrets (an `otpauth://` URI, a migration code) drawn as a QR code, as
//! SVG markup the window shows inline. Drawn here rather than in the window so no
//! JavaScript QR library sees the secret, and the markup is wiped when dropped.

use qrcode::{EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The QR code of `text` as a standalone SVG document, black on white with the quiet zone
/// scanners need, at least `min_pixels` wide. Medium error correction: a screen shown to a
/// phone camera is clean, and lower density scans from farther away.
pub fn svg(text: &str, min_pixels: u32) -> Result<Zeroizing<String>> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
        .map_err(|e| Error::ExportFailed(format!("cannot draw the QR code: {e}")))?;
    Ok(Zeroizing::new(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(min_pixels, min_pixels)
            .dark_color(qrcode::render::svg::Color("#000000"))
            .light_color(qrcode::render::svg::Color("#ffffff"))
            .quiet_zone(true)
            .build(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_document_and_refuses_text_too_long_for_a_qr_code() {
        let drawn = svg("otpauth://totp/A:b?secret=JBSWY3DPEHPK3PXP&issuer=A", 200).unwrap();
        assert!(drawn.starts_with("<?xml"), "{}", &drawn[..40]);
        assert!(drawn.contains("<svg"));
        assert!(
            !drawn.contains("JBSWY3DPEHPK3PXP"),
            "the text is drawn, not embedded"
        );
        let too_long = "x".repeat(8000);
        assert_eq!(svg(&too_long, 200).unwrap_err().code(), "export_failed");
    }
}
