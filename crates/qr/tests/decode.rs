//! Decoding: a sample of the synthetic corpus (every condition), each accepted file format,
//! and the refusals (oversized images, unknown formats).

#[path = "corpus/mod.rs"]
mod corpus;

use std::io::Cursor;

use corpus::Condition;
use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgba, RgbaImage};

const PAYLOAD: &str = "otpauth://totp/ACME:alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME";

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).expect("encode");
    bytes.into_inner()
}

#[test]
fn corpus_sample_finds_every_code_and_nothing_else() {
    let samples = corpus::generate(corpus::SEED, 1, &Condition::ALL);
    let (mut expected, mut found, mut false_finds) = (0, 0, Vec::new());
    let mut missed = Vec::new();
    for sample in &samples {
        let decoded = countersign_qr::decode_luma(&sample.image);
        expected += sample.expected.len();
        for payload in &sample.expected {
            if decoded.contains(payload) {
                found += 1;
            } else {
                missed.push(format!("{:?}-{}", sample.condition, sample.index));
            }
        }
        false_finds.extend(
            decoded
                .iter()
                .filter(|d| !sample.expected.contains(d))
                .map(|_| format!("{:?}-{}", sample.condition, sample.index)),
        );
    }
    assert!(
        expected >= samples.len(),
        "every condition but NoCode has codes"
    );
    assert!(false_finds.is_empty(), "false finds in {false_finds:?}");
    // The full corpus (benches/decode.rs) measures the share; here one miss is allowed so a
    // new rxing release cannot fail the suite on a single hard image.
    assert!(
        found + 1 >= expected,
        "found {found}/{expected}, missed {missed:?}"
    );
}

#[test]
fn every_accepted_format_is_read() {
    let code = DynamicImage::ImageLuma8(corpus::render_code(PAYLOAD, 4));
    for format in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::WebP,
        ImageFormat::Gif,
        ImageFormat::Bmp,
    ] {
        let image = match format {
            // JPEG and GIF encoders want RGB(A); the others take grey as is.
            ImageFormat::Jpeg => DynamicImage::ImageRgb8(code.to_rgb8()),
            ImageFormat::Gif => DynamicImage::ImageRgba8(code.to_rgba8()),
            _ => code.clone(),
        };
        let bytes = encode(&image, format);
        let found = countersign_qr::scan_bytes(&bytes).map_err(|e| e.code());
        assert_eq!(found, Ok(vec![PAYLOAD.to_owned()]), "{format:?}");
    }
}

#[test]
fn scan_file_reads_from_disk_and_reports_missing_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("code.png");
    corpus::render_code(PAYLOAD, 3).save(&path).expect("write");
    assert_eq!(
        countersign_qr::scan_file(&path).map_err(|e| e.code()),
        Ok(vec![PAYLOAD.to_owned()])
    );

    let missing = countersign_qr::scan_file(dir.path().join("nope.png")).unwrap_err();
    assert_eq!(missing.code(), "io_error");

    // A file far beyond any screenshot is refused before it is read whole.
    let huge = dir.path().join("huge.png");
    let file = std::fs::File::create(&huge).expect("create");
    file.set_len(countersign_qr::MAX_FILE_BYTES + 1)
        .expect("sparse file");
    assert_eq!(
        countersign_qr::scan_file(&huge).unwrap_err().code(),
        "file_too_large"
    );
}

/// A PNG whose header claims `width`×`height` but whose data is one pixel: a decompression
/// bomb in miniature, since only the header is needed to refuse it.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = encode(
        &DynamicImage::ImageLuma8(GrayImage::from_pixel(1, 1, Luma([255]))),
        ImageFormat::Png,
    );
    // IHDR: length (4) type (4) at offset 8, width and height at 16..24, CRC at 29..33.
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn oversized_images_are_refused_from_the_header() {
    let bomb = png_claiming(100_000, 100_000);
    assert!(bomb.len() < 200);
    let err = countersign_qr::scan_bytes(&bomb).unwrap_err();
    assert_eq!(err.code(), "image_too_large", "{err}");
    assert!(err.to_string().contains("100000×100000"), "{err}");

    // Just inside the limit the header passes and the (truncated) data is what fails.
    let inside = png_claiming(4000, 4000);
    assert_eq!(
        countersign_qr::scan_bytes(&inside).unwrap_err().code(),
        "unsupported_image"
    );

    let rgba = countersign_qr::scan_rgba(10_000, 5_000, &[]).unwrap_err();
    assert_eq!(rgba.code(), "image_too_large");
}

#[test]
fn unknown_or_damaged_data_is_unsupported() {
    for bytes in [
        &b"this is not an image at all"[..],
        b"II*\0\x08\0\0\0", // TIFF: a real format, but not one people scan codes from
        b"\x89PNG\r\n\x1a\n\0\0",
    ] {
        assert_eq!(
            countersign_qr::scan_bytes(bytes).unwrap_err().code(),
            "unsupported_image"
        );
    }
    let short = countersign_qr::scan_rgba(4, 4, &[0; 10]).unwrap_err();
    assert_eq!(short.code(), "unsupported_image");
}

#[test]
fn transparent_background_counts_as_white() {
    let code = corpus::render_code(PAYLOAD, 4);
    // Black modules on a fully transparent background whose colour is also black.
    let rgba = RgbaImage::from_fn(code.width(), code.height(), |x, y| {
        if code.get_pixel(x, y)[0] < 128 {
            Rgba([0, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    let png = encode(&DynamicImage::ImageRgba8(rgba.clone()), ImageFormat::Png);
    assert_eq!(
        countersign_qr::scan_bytes(&png).map_err(|e| e.code()),
        Ok(vec![PAYLOAD.to_owned()])
    );
    assert_eq!(
        countersign_qr::scan_image(&rgba).map_err(|e| e.code()),
        Ok(vec![PAYLOAD.to_owned()])
    );
}

#[test]
fn an_image_without_a_code_is_an_error_with_its_code() {
    let blank = encode(
        &DynamicImage::ImageLuma8(GrayImage::from_pixel(64, 64, Luma([200]))),
        ImageFormat::Png,
    );
    let err = countersign_qr::scan_bytes(&blank).unwrap_err();
    assert_eq!(err.code(), "no_qr_found");
}
