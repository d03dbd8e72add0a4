//! Decoder benchmark over the synthetic corpus: share of codes found, false finds and decode
//! time per image, per condition and per candidate pipeline.
//!
//! Run: `cargo bench -p countersign-qr --bench decode` (add `-- --per-condition N` to change
//! the corpus size, `-- --compare` to measure the alternative pipelines too).

#[path = "../tests/corpus/mod.rs"]
mod corpus;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use corpus::{Condition, Sample};
use countersign_qr::{Pass, Pipeline, decode_luma, decode_luma_with};

struct Tally {
    expected: usize,
    found: usize,
    false_finds: usize,
    times: Vec<Duration>,
}

impl Tally {
    fn new() -> Self {
        Tally {
            expected: 0,
            found: 0,
            false_finds: 0,
            times: Vec::new(),
        }
    }

    fn add(&mut self, other: &Tally) {
        self.expected += other.expected;
        self.found += other.found;
        self.false_finds += other.false_finds;
        self.times.extend_from_slice(&other.times);
    }

    fn found_share(&self) -> f64 {
        if self.expected == 0 {
            100.0
        } else {
            100.0 * self.found as f64 / self.expected as f64
        }
    }

    fn percentile(&self, share: f64) -> Duration {
        let mut times = self.times.clone();
        times.sort();
        let index = ((times.len() as f64 - 1.0) * share).round() as usize;
        times.get(index).copied().unwrap_or_default()
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn measure(
    samples: &[Sample],
    decode: &dyn Fn(&image::GrayImage) -> Vec<String>,
) -> BTreeMap<Condition, Tally> {
    let mut by_condition: BTreeMap<Condition, Tally> = BTreeMap::new();
    for sample in samples {
        let start = Instant::now();
        let found = decode(&sample.image);
        let elapsed = start.elapsed();
        let tally = by_condition
            .entry(sample.condition)
            .or_insert_with(Tally::new);
        tally.expected += sample.expected.len();
        tally.found += sample.expected.iter().filter(|e| found.contains(e)).count();
        tally.false_finds += found
            .iter()
            .filter(|f| !sample.expected.contains(f))
            .count();
        tally.times.push(elapsed);
        if std::env::var_os("QR_BENCH_MISSES").is_some() && found.len() != sample.expected.len() {
            println!(
                "miss: {:?}-{} found {}/{}",
                sample.condition,
                sample.index,
                found.len(),
                sample.expected.len()
            );
        }
    }
    by_condition
}

fn report(name: &str, by_condition: &BTreeMap<Condition, Tally>, detail: bool) {
    let mut total = Tally::new();
    for tally in by_condition.values() {
        total.add(tally);
    }
    println!(
        "\n### {name}: found {}/{} ({:.1} %), false finds {}, median {} ms, p95 {} ms",
        total.found,
        total.expected,
        total.found_share(),
        total.false_finds,
        ms(total.percentile(0.5)),
        ms(total.percentile(0.95)),
    );
    if detail {
        println!("\n| condition | images | codes found | false finds | median ms | p95 ms |");
        println!("|---|---|---|---|---|---|");
        for (condition, tally) in by_condition {
            println!(
                "| {condition:?} | {} | {}/{} ({:.1} %) | {} | {} | {} |",
                tally.times.len(),
                tally.found,
                tally.expected,
                tally.found_share(),
                tally.false_finds,
                ms(tally.percentile(0.5)),
                ms(tally.percentile(0.95)),
            );
        }
    }
}

/// rqrr, both polarities: measured as an alternative and as a fallback.
fn decode_rqrr(image: &image::GrayImage) -> Vec<String> {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let pixels = image.as_raw();
    let mut found: Vec<String> = Vec::new();
    for inverted in [false, true] {
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            let value = pixels[y * width + x];
            if inverted { 255 - value } else { value }
        });
        for grid in prepared.detect_grids() {
            if let Ok((_meta, text)) = grid.decode()
                && !found.contains(&text)
            {
                found.push(text);
            }
        }
    }
    found
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let per_condition = args
        .iter()
        .position(|a| a == "--per-condition")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(25);
    let compare = args.iter().any(|a| a == "--compare");

    let start = Instant::now();
    let samples = corpus::generate(corpus::SEED, per_condition, &Condition::ALL);
    println!(
        "corpus: {} images ({per_condition} per condition, seed {:#x}), generated in {:.1} s",
        samples.len(),
        corpus::SEED,
        start.elapsed().as_secs_f64()
    );

    // For looking at what the decoder sees: QR_BENCH_DUMP=DIR writes every image as PNG.
    if let Some(dir) = std::env::var_os("QR_BENCH_DUMP") {
        for sample in &samples {
            let path = std::path::Path::new(&dir)
                .join(format!("{:?}-{}.png", sample.condition, sample.index));
            if let Err(e) = sample.image.save(&path) {
                eprintln!("cannot write {}: {e}", path.display());
            }
        }
    }

    report(
        "chosen pipeline (decode_luma)",
        &measure(&samples, &|img| decode_luma(img)),
        true,
    );

    if compare {
        let candidates: [(&str, Pipeline<'static>); 4] = [
            (
                "rxing-cpp only",
                Pipeline {
                    always: &[Pass::RxingCpp],
                    fallbacks: &[],
                },
            ),
            (
                "rxing-zxing only",
                Pipeline {
                    always: &[Pass::RxingZxing],
                    fallbacks: &[],
                },
            ),
            (
                "rxing-zxing, then faint bands",
                Pipeline {
                    always: &[Pass::RxingZxing],
                    fallbacks: &[Pass::FaintBands],
                },
            ),
            (
                "rxing-cpp and rxing-zxing always",
                Pipeline {
                    always: &[Pass::RxingCpp, Pass::RxingZxing],
                    fallbacks: &[],
                },
            ),
        ];
        for (name, pipeline) in candidates {
            report(
                name,
                &measure(&samples, &|img| decode_luma_with(img, pipeline)),
                true,
            );
        }
        report("rqrr only", &measure(&samples, &decode_rqrr), true);
        report(
            "chosen pipeline, then rqrr",
            &measure(&samples, &|img| {
                let found = decode_luma(img);
                if found.is_empty() {
                    decode_rqrr(img)
                } else {
                    found
                }
            }),
            true,
        );
    }
}
