//! Screen capture and clipboard against a real X server: starts its own Xvfb, shows a QR
//! code on the root window with ImageMagick's `display`, and scans it back. One test in
//! this file, because it points DISPLAY at that server for the whole process.

#[path = "corpus/mod.rs"]
mod corpus;

use std::borrow::Cow;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Xvfb {
    child: Child,
    display: String,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Starts Xvfb on the first free display number from :90, waiting for its socket.
fn start_xvfb() -> Xvfb {
    let number = (90..190)
        .find(|n| {
            !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
        })
        .expect("a free X display number");
    let display = format!(":{number}");
    let child = Command::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts");
    let server = Xvfb { child, display };
    let socket = format!("/tmp/.X11-unix/X{number}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !Path::new(&socket).exists() {
        assert!(
            Instant::now() < deadline,
            "Xvfb did not come up on {socket}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

#[test]
fn screen_and_clipboard_under_xvfb() {
    if !on_path("Xvfb") || !on_path("display") {
        eprintln!(
            "SKIPPED: Xvfb or ImageMagick's display is not installed (apt: xvfb imagemagick)"
        );
        return;
    }
    let server = start_xvfb();
    // SAFETY: this file holds a single test, so no other thread reads the environment.
    unsafe {
        std::env::set_var("DISPLAY", &server.display);
        std::env::remove_var("WAYLAND_DISPLAY");
        std::env::remove_var("XDG_SESSION_TYPE");
    }

    // A fresh server shows no code.
    let empty = countersign_qr::scan_screens().expect_err("nothing on screen yet");
    assert_eq!(empty.code(), "no_qr_found", "{empty}");

    let screens = countersign_qr::capture_screens().expect("capture the Xvfb screen");
    assert_eq!(screens.len(), 1);
    assert_eq!((screens[0].width(), screens[0].height()), (1280, 800));

    // Draw a known code on the root window.
    let payload = "otpauth://totp/Xvfb:screen%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Xvfb";
    let dir = tempfile::tempdir().expect("temp dir");
    let png = dir.path().join("code.png");
    corpus::render_code(payload, 5)
        .save(&png)
        .expect("write the code");
    // `display -window root` paints the root window and exits with status 1 even when it
    // worked, so the scan below is the check.
    let status = Command::new("display")
        .args(["-display", &server.display, "-window", "root"])
        .arg(&png)
        .status()
        .expect("run display");
    let found = countersign_qr::scan_screens();
    assert!(
        matches!(&found, Ok(payloads) if payloads == &[payload.to_owned()]),
        "scan after `display` ({status}): {found:?}"
    );

    // The clipboard: text only is "no image"; an image with two codes gives both.
    let mut clipboard = arboard::Clipboard::new().expect("X11 clipboard");
    clipboard.set_text("not an image").expect("set text");
    let no_image = countersign_qr::scan_clipboard().expect_err("text is not an image");
    assert_eq!(no_image.code(), "clipboard_no_image", "{no_image}");

    let first = "otpauth://totp/Clip:one?secret=GEZDGNBVGY3TQOJQ&issuer=Clip";
    let second = "countersign://enroll?server=https%3A%2F%2Fverify.example.com&factor=YFclip";
    let (a, b) = (
        corpus::render_code(first, 4),
        corpus::render_code(second, 4),
    );
    let mut both = image::GrayImage::from_pixel(
        a.width() + b.width() + 40,
        a.height().max(b.height()) + 40,
        image::Luma([255]),
    );
    image::imageops::replace(&mut both, &a, 20, 20);
    image::imageops::replace(&mut both, &b, i64::from(a.width()) + 20, 20);
    let rgba = image::DynamicImage::ImageLuma8(both).to_rgba8();
    clipboard
        .set_image(arboard::ImageData {
            width: rgba.width() as usize,
            height: rgba.height() as usize,
            bytes: Cow::Borrowed(rgba.as_raw()),
        })
        .expect("set image");
    let mut found = countersign_qr::scan_clipboard().expect("codes on the clipboard");
    found.sort();
    let mut expected = vec![first.to_owned(), second.to_owned()];
    expected.sort();
    assert_eq!(found, expected);
}
