//! Finding every QR code in a grey image. rxing's port of zxing-cpp's QR reader does the
//! work; rqrr and a contrast-stretched retry are fallbacks for images it misses. Which
//! passes run, and in what order, was chosen by measurement (see `benches/decode.rs`).

use std::collections::HashSet;

use image::GrayImage;
use rxing::common::HybridBinarizer;
use rxing::multi::MultipleBarcodeReader;
use rxing::{BarcodeFormat, BinaryBitmap, DecodeHints, Luma8Source};

/// One way of looking at the image. Public (hidden) only so the benchmark can compare them.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// rxing's zxing-cpp QR reader, dark-on-light then light-on-dark on the same binarisation.
    RxingCpp,
    /// rxing's port of zxing's (Java) multi-QR reader, both polarities.
    RxingZxing,
    /// rqrr, both polarities.
    Rqrr,
    /// The image's contrast stretched to the full range, then `RxingCpp`: the binariser
    /// ignores areas whose contrast is below a fixed floor.
    Stretched,
}

/// A pass runs only if all passes before it found nothing, except those in `always`.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Pipeline<'a> {
    pub always: &'a [Pass],
    pub fallbacks: &'a [Pass],
}

/// The combination that met the targets at the lowest time.
pub(crate) const CHOSEN: Pipeline<'static> = Pipeline {
    always: &[Pass::RxingCpp],
    fallbacks: &[Pass::Rqrr, Pass::Stretched],
};

/// Every distinct QR payload in the image, in the order found.
pub fn decode_luma(image: &GrayImage) -> Vec<String> {
    decode_luma_with(image, CHOSEN)
}

#[doc(hidden)]
pub fn decode_luma_with(image: &GrayImage, pipeline: Pipeline<'_>) -> Vec<String> {
    let mut found = Vec::new();
    if image.width() == 0 || image.height() == 0 {
        return found;
    }
    for pass in pipeline.always {
        run_pass(*pass, image, &mut found);
    }
    for pass in pipeline.fallbacks {
        if !found.is_empty() {
            break;
        }
        run_pass(*pass, image, &mut found);
    }
    let mut seen = HashSet::new();
    found.retain(|text| seen.insert(text.clone()));
    found
}

fn run_pass(pass: Pass, image: &GrayImage, found: &mut Vec<String>) {
    match pass {
        Pass::RxingCpp => rxing_pass(image, Reader::Cpp, found),
        Pass::RxingZxing => rxing_pass(image, Reader::Zxing, found),
        Pass::Rqrr => rqrr_pass(image, found),
        Pass::Stretched => {
            if let Some(stretched) = stretch_contrast(image) {
                rxing_pass(&stretched, Reader::Cpp, found);
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Reader {
    Cpp,
    Zxing,
}

fn rxing_pass(image: &GrayImage, reader: Reader, found: &mut Vec<String>) {
    let Ok(source) = Luma8Source::new_with_slice(image.as_raw(), image.width(), image.height())
    else {
        return;
    };
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    let hints = DecodeHints {
        TryHarder: Some(true),
        PossibleFormats: Some(HashSet::from([BarcodeFormat::QR_CODE])),
        ..DecodeHints::default()
    };
    // Dark mode shows light modules on a dark background: the inverted bitmap reuses the
    // binarisation, so the second look is cheap.
    for _polarity in 0..2 {
        let results = match reader {
            Reader::Cpp => {
                rxing::qrcode::cpp_port::QrReader.decode_multiple_with_hints(&mut bitmap, &hints)
            }
            Reader::Zxing => rxing::multi::qrcode::QRCodeMultiReader::default()
                .decode_multiple_with_hints(&mut bitmap, &hints),
        };
        found.extend(
            results
                .into_iter()
                .flatten()
                .map(|result| result.getText().to_owned())
                .filter(|text| !text.is_empty()),
        );
        bitmap.invert();
    }
}

fn rqrr_pass(image: &GrayImage, found: &mut Vec<String>) {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let pixels = image.as_raw();
    for inverted in [false, true] {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            let value = pixels[y * width + x];
            if inverted { 255 - value } else { value }
        });
        for grid in prepared.detect_grids() {
            if let Ok((_meta, text)) = grid.decode()
                && !text.is_empty()
            {
                found.push(text);
            }
        }
    }
}

/// Maps the 1st..99th percentile of the image's grey levels onto 0..255; `None` when the
/// image is flat (nothing to find) or already uses the full range (nothing to gain).
fn stretch_contrast(image: &GrayImage) -> Option<GrayImage> {
    let mut histogram = [0u64; 256];
    for &value in image.as_raw() {
        histogram[usize::from(value)] += 1;
    }
    let total: u64 = histogram.iter().sum();
    let percentile = |share: u64| {
        let target = total * share / 100;
        let mut seen = 0;
        for (level, count) in histogram.iter().enumerate() {
            seen += count;
            if seen > target {
                return level as u8;
            }
        }
        255
    };
    let (low, high) = (percentile(1), percentile(99));
    if high <= low || (low == 0 && high == 255) {
        return None;
    }
    let span = f32::from(high - low);
    let table: Vec<u8> = (0..=255u8)
        .map(|v| ((f32::from(v.clamp(low, high) - low) / span) * 255.0).round() as u8)
        .collect();
    let mut stretched = image.clone();
    for value in stretched.iter_mut() {
        *value = table[usize::from(*value)];
    }
    Some(stretched)
}
