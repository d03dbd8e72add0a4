//! Finding every QR code in a grey image. rxing's port of zxing-cpp's QR reader does the
//! work; a contrast-banded retry is the fallback for faint codes it misses. Chosen by
//! measurement (`benches/decode.rs`): zxing's Java-derived reader and rqrr found fewer codes,
//! and rqrr as a further fallback found none that these missed, at 10× the time.

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
    /// Bands of grey around the most common greys stretched to full contrast, each then
    /// read as `RxingCpp` does.
    FaintBands,
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
    fallbacks: &[Pass::FaintBands],
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
        Pass::FaintBands => {
            band_passes(image, found);
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

/// How many of the most common greys of faint areas are tried as a code's background.
const BAND_PEAKS: usize = 2;
/// Width of the grey band stretched to full contrast: faint codes differ by 25..60 levels.
const BAND_WIDTH: u8 = 60;
/// Head-room above (or below) the background grey, for noise and JPEG ringing.
const BAND_MARGIN: u8 = 4;
/// Blocks whose grey range lies in this span are "faint": neither flat nor crisp.
const FAINT_RANGE: std::ops::RangeInclusive<u8> = 12..=80;
const FAINT_BLOCK: usize = 8;
/// Fewer faint blocks than this cannot hold a code (21×21 modules of at least 2 px).
const MIN_FAINT_BLOCKS: u32 = 24;

/// Brings out a code with little contrast (greyed out, faded, on a dim screen). The
/// binariser treats contrast below a fixed floor as flat, and stretching the whole image
/// does nothing when it also holds black text on white. Instead one band of greys is
/// stretched to full contrast, with everything outside it clipped: the band ends at the
/// code's background grey, so its quiet zone becomes pure white (or black) like the page
/// around it. That grey is found as the most common one in the image's faint blocks; an
/// image without faint blocks costs one pass over its pixels.
fn band_passes(image: &GrayImage, found: &mut Vec<String>) {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let pixels = image.as_raw();
    let mut histogram = [0u32; 256];
    let mut faint_blocks = 0;
    for by in (0..height.saturating_sub(FAINT_BLOCK - 1)).step_by(FAINT_BLOCK) {
        for bx in (0..width.saturating_sub(FAINT_BLOCK - 1)).step_by(FAINT_BLOCK) {
            let rows = (by..by + FAINT_BLOCK)
                .map(|y| &pixels[y * width + bx..y * width + bx + FAINT_BLOCK]);
            let (lo, hi) = rows
                .clone()
                .flatten()
                .fold((u8::MAX, u8::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            if FAINT_RANGE.contains(&(hi - lo)) {
                faint_blocks += 1;
                for &value in rows.flatten() {
                    histogram[usize::from(value)] += 1;
                }
            }
        }
    }
    if faint_blocks < MIN_FAINT_BLOCKS {
        return;
    }
    // Peaks of a lightly smoothed histogram: anti-aliasing spreads each flat grey a little.
    let smoothed: Vec<u32> = (0..256)
        .map(|level: usize| {
            histogram[level.saturating_sub(1)..(level + 2).min(256)]
                .iter()
                .sum()
        })
        .collect();
    let mut peaks: Vec<usize> = (0..256)
        .filter(|&level| {
            (level == 0 || smoothed[level] >= smoothed[level - 1])
                && (level == 255 || smoothed[level] > smoothed[level + 1])
        })
        .collect();
    peaks.sort_by_key(|&level| std::cmp::Reverse(smoothed[level]));
    for &peak in peaks.iter().take(BAND_PEAKS) {
        let peak = peak as u8;
        // Light background (dark modules below it), then dark background (light modules).
        let bands = [
            (
                peak.saturating_sub(BAND_WIDTH),
                peak.saturating_add(BAND_MARGIN),
            ),
            (
                peak.saturating_sub(BAND_MARGIN),
                peak.saturating_add(BAND_WIDTH),
            ),
        ];
        for (low, high) in bands {
            if high - low < BAND_WIDTH {
                continue; // at the end of the range: nothing beyond it to bring out
            }
            rxing_pass(&stretch_band(image, low, high), Reader::Cpp, found);
            if !found.is_empty() {
                return;
            }
        }
    }
}

fn stretch_band(image: &GrayImage, low: u8, high: u8) -> GrayImage {
    let span = u32::from(high - low);
    let table: Vec<u8> = (0..=255u8)
        .map(|v| (u32::from(v.clamp(low, high) - low) * 255 / span) as u8)
        .collect();
    let mut banded = image.clone();
    for value in banded.iter_mut() {
        *value = table[usize::from(*value)];
    }
    banded
}
