// temporary experiment; deleted before handing over
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let img = image::open(&path).unwrap().to_luma8();
    for (name, p) in [
        ("cpp", countersign_qr::Pipeline { always: &[countersign_qr::Pass::RxingCpp], fallbacks: &[] }),
        ("zx", countersign_qr::Pipeline { always: &[countersign_qr::Pass::RxingZxing], fallbacks: &[] }),
        ("rqrr", countersign_qr::Pipeline { always: &[countersign_qr::Pass::Rqrr], fallbacks: &[] }),
        ("str", countersign_qr::Pipeline { always: &[countersign_qr::Pass::Stretched], fallbacks: &[] }),
    ] {
        let t = std::time::Instant::now();
        let r = countersign_qr::decode_luma_with(&img, p);
        println!("{name}: {} found in {:?}", r.len(), t.elapsed());
    }
}
