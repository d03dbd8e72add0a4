// temporary experiment; deleted before handing over
fn main() {
    for path in std::env::args().skip(1) {
        let img = image::open(&path).unwrap().to_luma8();
        let t = std::time::Instant::now();
        let r = countersign_qr::decode_luma_with(&img, countersign_qr::Pipeline { always: &[countersign_qr::Pass::RxingCpp], fallbacks: &[] });
        println!("{path}: {} found in {:?}", r.len(), t.elapsed());
    }
}
