//! A synthetic corpus of desktop screenshots holding QR codes, generated from a fixed seed so
//! every run sees the same images. Shared by the tests (a small sample) and the benchmark
//! (the full corpus). Each condition is one thing desktop users meet when they scan a code.

#![allow(dead_code)] // the tests and the benchmark each use a different part

use image::imageops::{self, FilterType};
use image::{GrayImage, Luma};
use imageproc::geometric_transformations::{
    Border, Interpolation, Projection, rotate_about_center, warp,
};
use qrcode::{Color, EcLevel, QrCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const SEED: u64 = 0x0051_c0de;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Condition {
    Screenshot1080,
    Screenshot4k,
    HiDpi125,
    HiDpi150,
    HiDpi175,
    HiDpi225,
    DarkMode,
    Jpeg,
    Rotated,
    Perspective,
    Blur,
    Noise,
    LowContrast,
    Several,
    LargeExport,
    /// A screenshot with no QR code: anything found is a false find.
    NoCode,
}

impl Condition {
    pub const ALL: [Condition; 16] = [
        Condition::Screenshot1080,
        Condition::Screenshot4k,
        Condition::HiDpi125,
        Condition::HiDpi150,
        Condition::HiDpi175,
        Condition::HiDpi225,
        Condition::DarkMode,
        Condition::Jpeg,
        Condition::Rotated,
        Condition::Perspective,
        Condition::Blur,
        Condition::Noise,
        Condition::LowContrast,
        Condition::Several,
        Condition::LargeExport,
        Condition::NoCode,
    ];

    fn scale(self) -> f32 {
        match self {
            Condition::HiDpi125 => 1.25,
            Condition::HiDpi150 => 1.5,
            Condition::HiDpi175 => 1.75,
            Condition::HiDpi225 => 2.25,
            Condition::Screenshot4k => 2.0,
            _ => 1.0,
        }
    }
}

pub struct Sample {
    pub condition: Condition,
    pub index: usize,
    pub image: GrayImage,
    pub expected: Vec<String>,
}

/// `per_condition` samples of each condition in `conditions`, always the same for a seed.
pub fn generate(seed: u64, per_condition: usize, conditions: &[Condition]) -> Vec<Sample> {
    let mut samples = Vec::new();
    for &condition in conditions {
        for index in 0..per_condition {
            // One stream per sample: adding samples or conditions never changes the others.
            let mut rng = StdRng::seed_from_u64(seed ^ ((condition as u64) << 32) ^ index as u64);
            samples.push(make_sample(condition, index, &mut rng));
        }
    }
    samples
}

pub fn make_sample(condition: Condition, index: usize, rng: &mut StdRng) -> Sample {
    // A 1920×1080 logical screen; HiDPI and 4K multiply its pixels, as the screenshot would.
    let scale = condition.scale();
    let dark = condition == Condition::DarkMode;
    let (width, height) = (
        (1920.0 * scale).round() as u32,
        (1080.0 * scale).round() as u32,
    );
    let mut screen = desktop(width, height, dark, rng);

    let count = match condition {
        Condition::NoCode => 0,
        Condition::Several => rng.gen_range(2..=4),
        _ => 1,
    };
    let mut expected = Vec::new();
    let mut occupied: Vec<(u32, u32, u32, u32)> = Vec::new();
    for _ in 0..count {
        let payload = match condition {
            Condition::LargeExport => migration_payload(rng),
            _ => random_payload(rng),
        };
        let ec = if condition == Condition::LargeExport {
            EcLevel::M
        } else {
            EcLevel::L
        };
        let Ok(code) = QrCode::with_error_correction_level(payload.as_bytes(), ec) else {
            continue;
        };
        // Module sizes seen on screens at 100 %: web pages show 3..6 px, exports a bit more.
        let base_module = match condition {
            Condition::LargeExport => rng.gen_range(3..=4),
            Condition::Several => rng.gen_range(3..=5),
            Condition::Blur => rng.gen_range(4..=6),
            _ => rng.gen_range(3..=6),
        };
        let tile = render_tile(&code, base_module, condition, scale, rng);
        let Some((x, y)) = place(&tile, width, height, &occupied, rng) else {
            continue;
        };
        occupied.push((x, y, tile.width(), tile.height()));
        imageops::replace(&mut screen, &tile, i64::from(x), i64::from(y));
        expected.push(payload);
    }

    match condition {
        Condition::Noise => {
            let stddev = rng.gen_range(8.0..18.0);
            imageproc::noise::gaussian_noise_mut(&mut screen, 0.0, stddev, rng.r#gen());
        }
        Condition::Jpeg => {
            let quality = rng.gen_range(40..=75);
            screen = jpeg_roundtrip(&screen, quality);
        }
        _ => {}
    }
    Sample {
        condition,
        index,
        image: screen,
        expected,
    }
}

/// A plausible desktop: windows, title bars, buttons and lines of "text" (short dark runs
/// whose edges look a little like finder patterns to a careless detector).
fn desktop(width: u32, height: u32, dark: bool, rng: &mut StdRng) -> GrayImage {
    let (background, window, ink) = if dark {
        (24u8, 40u8, 210u8)
    } else {
        (225u8, 248u8, 30u8)
    };
    let mut screen = GrayImage::from_pixel(width, height, Luma([background]));
    for _ in 0..rng.gen_range(2..6) {
        let w = rng.gen_range(width / 5..width * 3 / 4);
        let h = rng.gen_range(height / 5..height * 3 / 4);
        let x = rng.gen_range(0..width - w);
        let y = rng.gen_range(0..height - h);
        fill(&mut screen, x, y, w, h, window);
        let bar = (height / 36).max(12);
        fill(&mut screen, x, y, w, bar, if dark { 60 } else { 215 });
        // Text lines: words of dark runs, like a rendered font from far away.
        let line = (height / 60).max(10);
        let mut ty = y + bar + line;
        while ty + line < y + h {
            let mut tx = x + 10;
            let end = x + w.saturating_sub(10);
            while tx + 40 < end {
                let word = rng.gen_range(10..60).min(end - tx);
                let glyph_h = line * 6 / 10;
                let mut gx = tx;
                while gx + 2 < tx + word {
                    let gw = rng.gen_range(1..4);
                    fill(&mut screen, gx, ty, gw, glyph_h, ink);
                    gx += gw + rng.gen_range(1..4);
                }
                tx += word + rng.gen_range(6..14);
            }
            ty += line + line / 2;
        }
        // A few buttons and icons: solid squares with frames, the other finder look-alike.
        for _ in 0..rng.gen_range(0..4) {
            let s = rng.gen_range(12..40);
            if w > s + 20 && h > s + 20 {
                let bx = x + rng.gen_range(10..w - s - 10);
                let by = y + rng.gen_range(10..h - s - 10);
                fill(&mut screen, bx, by, s, s, ink);
                fill(&mut screen, bx + 3, by + 3, s - 6, s - 6, window);
                fill(&mut screen, bx + 6, by + 6, s - 12, s - 12, ink);
            }
        }
    }
    screen
}

fn fill(image: &mut GrayImage, x: u32, y: u32, w: u32, h: u32, value: u8) {
    for yy in y..(y + h).min(image.height()) {
        for xx in x..(x + w).min(image.width()) {
            image.put_pixel(xx, yy, Luma([value]));
        }
    }
}

/// A plain code: black modules of `module` px on white, with the quiet zone.
pub fn render_code(payload: &str, module: u32) -> GrayImage {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), EcLevel::M)
        .expect("a payload that fits a QR code");
    let mut rng = StdRng::seed_from_u64(SEED);
    render_tile(&code, module, Condition::Screenshot1080, 1.0, &mut rng)
}

/// The code with its quiet zone, scaled and distorted as the condition asks.
fn render_tile(
    code: &QrCode,
    module: u32,
    condition: Condition,
    scale: f32,
    rng: &mut StdRng,
) -> GrayImage {
    let (mut dark_px, mut light_px) = (0u8, 255u8);
    match condition {
        Condition::DarkMode => (dark_px, light_px) = (230, 30),
        Condition::LowContrast => {
            let low = rng.gen_range(90..140);
            (dark_px, light_px) = (low, low + rng.gen_range(28..45));
        }
        _ => {}
    }
    let quiet = 4;
    let modules = code.width() as u32;
    let colors = code.to_colors();
    let side = (modules + 2 * quiet) * module;
    let mut tile = GrayImage::from_pixel(side, side, Luma([light_px]));
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let mx = (i as u32 % modules + quiet) * module;
            let my = (i as u32 / modules + quiet) * module;
            fill(&mut tile, mx, my, module, module, dark_px);
        }
    }
    if scale != 1.0 {
        // What a compositor or browser does at a fractional scale: resampled module edges.
        let scaled = (side as f32 * scale).round() as u32;
        tile = imageops::resize(&tile, scaled, scaled, FilterType::Triangle);
    }
    match condition {
        Condition::Rotated => {
            let padded = pad(&tile, tile.width() / 4, light_px);
            let angle = rng.gen_range(5.0f32..355.0).to_radians();
            tile = rotate_about_center(
                &padded,
                angle,
                Interpolation::Bilinear,
                Border::Constant(Luma([light_px])),
            );
        }
        Condition::Perspective => {
            let padded = pad(&tile, tile.width() / 8, light_px);
            let s = padded.width() as f32;
            let m = tile.width() as f32 / 8.0;
            let mut jitter = || rng.gen_range(-0.07f32..0.07) * s;
            let from = [(m, m), (s - m, m), (s - m, s - m), (m, s - m)];
            let to = from.map(|(x, y)| (x + jitter(), y + jitter()));
            if let Some(projection) = Projection::from_control_points(from, to) {
                tile = warp(
                    &padded,
                    projection,
                    Interpolation::Bilinear,
                    Border::Constant(Luma([light_px])),
                );
            }
        }
        Condition::Blur => {
            let sigma = rng.gen_range(0.7f32..1.4) * module as f32 / 4.0;
            tile = imageproc::filter::gaussian_blur_f32(&tile, sigma);
        }
        _ => {}
    }
    tile
}

fn pad(tile: &GrayImage, by: u32, value: u8) -> GrayImage {
    let mut padded =
        GrayImage::from_pixel(tile.width() + 2 * by, tile.height() + 2 * by, Luma([value]));
    imageops::replace(&mut padded, tile, i64::from(by), i64::from(by));
    padded
}

fn place(
    tile: &GrayImage,
    width: u32,
    height: u32,
    occupied: &[(u32, u32, u32, u32)],
    rng: &mut StdRng,
) -> Option<(u32, u32)> {
    if tile.width() >= width || tile.height() >= height {
        return None;
    }
    for _ in 0..200 {
        let x = rng.gen_range(0..width - tile.width());
        let y = rng.gen_range(0..height - tile.height());
        let clear = occupied.iter().all(|&(ox, oy, ow, oh)| {
            x + tile.width() <= ox || ox + ow <= x || y + tile.height() <= oy || oy + oh <= y
        });
        if clear {
            return Some((x, y));
        }
    }
    None
}

fn jpeg_roundtrip(image: &GrayImage, quality: u8) -> GrayImage {
    let mut bytes = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality);
    image
        .write_with_encoder(encoder)
        .expect("encoding a generated image");
    image::load_from_memory(&bytes)
        .expect("decoding what we just encoded")
        .to_luma8()
}

const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const ISSUERS: [&str; 6] = [
    "GitHub",
    "Example Corp",
    "ACME",
    "Fastmail",
    "Bank",
    "Cloud",
];

fn random_chars(rng: &mut StdRng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// An `otpauth://` or `countersign://enroll` URI as sites and our server print them.
pub fn random_payload(rng: &mut StdRng) -> String {
    let issuer = ISSUERS[rng.gen_range(0..ISSUERS.len())];
    let user_len = rng.gen_range(4..12);
    let user = random_chars(rng, b"abcdefghijklmnopqrstuvwxyz", user_len);
    if rng.gen_bool(0.2) {
        let factor = random_chars(rng, b"0123456789abcdef", 32);
        let token = random_chars(rng, BASE32, 26);
        return format!(
            "countersign://enroll?server=https%3A%2F%2Fverify.example.com&identity={user}&factor=YF{factor}&token={token}"
        );
    }
    let secret_len = [16, 26, 32][rng.gen_range(0..3)];
    let secret = random_chars(rng, BASE32, secret_len);
    let encoded_issuer = issuer.replace(' ', "%20");
    format!(
        "otpauth://totp/{encoded_issuer}:{user}%40example.com?secret={secret}&issuer={encoded_issuer}&algorithm=SHA1&digits=6&period=30"
    )
}

/// A Google Authenticator export of several accounts: long enough for version 17..22.
pub fn migration_payload(rng: &mut StdRng) -> String {
    let len = rng.gen_range(420..520) / 4 * 4;
    let data = random_chars(rng, BASE64, len)
        .replace('+', "%2B")
        .replace('/', "%2F");
    format!("otpauth-migration://offline?data={data}%3D%3D")
}
