//! Screen capture: every monitor, as RGBA images. X11 is read with `GetImage` on the root
//! window; a Wayland session asks the freedesktop Screenshot portal (the compositor does not
//! let clients read the screen); macOS and Windows go through xcap.
//!
//! These calls block (the portal waits for the desktop, and may show a dialog): call them
//! from a blocking thread, not from async code.

use image::RgbaImage;

use crate::error::{Error, Result};

/// One image per monitor (X11, macOS, Windows) or one of the whole desktop (Wayland portal).
pub fn capture_screens() -> Result<Vec<RgbaImage>> {
    let images = platform::capture()?;
    for image in &images {
        crate::load::check_dimensions(image.width(), image.height())?;
    }
    if images.is_empty() {
        return Err(Error::CaptureUnavailable("no monitor found".to_owned()));
    }
    Ok(images)
}

/// Every QR payload visible on any monitor.
pub fn scan_screens() -> Result<Vec<String>> {
    let mut found = Vec::new();
    for image in capture_screens()? {
        let luma = crate::load::rgba_to_luma(image.width(), image.height(), image.as_raw());
        for text in crate::decode_luma(&luma) {
            if !found.contains(&text) {
                found.push(text);
            }
        }
    }
    crate::non_empty(found, || "the screen".to_owned())
}

#[cfg(all(
    unix,
    not(any(target_os = "macos", target_os = "ios", target_os = "android"))
))]
mod platform {
    use std::ffi::OsStr;

    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    pub(super) enum Backend {
        X11,
        Portal,
    }

    /// A Wayland session also sets DISPLAY (Xwayland), but there X11 only sees X clients'
    /// windows: the portal is the one way to the real screen.
    pub(super) fn choose_backend(
        display: Option<&OsStr>,
        wayland_display: Option<&OsStr>,
        session_type: Option<&OsStr>,
    ) -> Result<Backend> {
        let set = |v: Option<&OsStr>| v.is_some_and(|v| !v.is_empty());
        let wayland_session = session_type.is_some_and(|t| t == "wayland");
        if set(wayland_display) && (wayland_session || !set(display)) {
            Ok(Backend::Portal)
        } else if set(display) {
            Ok(Backend::X11)
        } else {
            Err(Error::CaptureUnavailable(
                "no graphical session (neither DISPLAY nor WAYLAND_DISPLAY is set)".to_owned(),
            ))
        }
    }

    pub(super) fn capture() -> Result<Vec<RgbaImage>> {
        let backend = choose_backend(
            std::env::var_os("DISPLAY").as_deref(),
            std::env::var_os("WAYLAND_DISPLAY").as_deref(),
            std::env::var_os("XDG_SESSION_TYPE").as_deref(),
        )?;
        match backend {
            Backend::X11 => x11::capture(),
            Backend::Portal => portal::capture(),
        }
    }

    mod x11 {
        use x11rb::connection::Connection;
        use x11rb::protocol::randr::ConnectionExt as _;
        use x11rb::protocol::xproto::{ConnectionExt as _, ImageFormat, ImageOrder, VisualClass};

        use super::*;

        fn unavailable(e: impl std::fmt::Display) -> Error {
            Error::CaptureUnavailable(format!("X11: {e}"))
        }

        pub(super) fn capture() -> Result<Vec<RgbaImage>> {
            let (conn, screen_index) = x11rb::connect(None).map_err(unavailable)?;
            let setup = conn.setup();
            let screen = setup
                .roots
                .get(screen_index)
                .ok_or_else(|| unavailable("the display has no such screen"))?;
            let root = screen.root;

            // Each monitor separately, so a QR code's size relative to the image stays as
            // on screen; without RandR, the whole root window.
            let mut areas: Vec<(i16, i16, u16, u16)> = conn
                .randr_get_monitors(root, true)
                .ok()
                .and_then(|cookie| cookie.reply().ok())
                .map(|reply| {
                    reply
                        .monitors
                        .iter()
                        .map(|m| (m.x, m.y, m.width, m.height))
                        .collect()
                })
                .unwrap_or_default();
            if areas.is_empty() {
                areas.push((0, 0, screen.width_in_pixels, screen.height_in_pixels));
            }

            let visual = screen
                .allowed_depths
                .iter()
                .flat_map(|d| d.visuals.iter())
                .find(|v| v.visual_id == screen.root_visual)
                .ok_or_else(|| unavailable("the root visual is not described"))?;
            let bits_per_pixel = setup
                .pixmap_formats
                .iter()
                .find(|f| f.depth == screen.root_depth)
                .map(|f| f.bits_per_pixel);
            // Every desktop X server of this century: 24-bit TrueColor in 32-bit pixels.
            let usual = visual.class == VisualClass::TRUE_COLOR
                && (visual.red_mask, visual.green_mask, visual.blue_mask)
                    == (0xff_0000, 0xff00, 0xff)
                && bits_per_pixel == Some(32)
                && setup.image_byte_order == ImageOrder::LSB_FIRST;
            if !usual {
                return Err(unavailable(format!(
                    "unsupported pixel format (depth {}, {:?} bits per pixel)",
                    screen.root_depth, bits_per_pixel
                )));
            }

            let mut images = Vec::with_capacity(areas.len());
            for (x, y, width, height) in areas {
                crate::load::check_dimensions(u32::from(width), u32::from(height))?;
                let reply = conn
                    .get_image(ImageFormat::Z_PIXMAP, root, x, y, width, height, u32::MAX)
                    .map_err(unavailable)?
                    .reply()
                    .map_err(unavailable)?;
                // Little-endian 0x00RRGGBB pixels are B, G, R, pad in memory.
                let rgba: Vec<u8> = reply
                    .data
                    .chunks_exact(4)
                    .flat_map(|px| [px[2], px[1], px[0], 255])
                    .collect();
                let image = RgbaImage::from_raw(u32::from(width), u32::from(height), rgba)
                    .ok_or_else(|| unavailable("the server sent a short image"))?;
                images.push(image);
            }
            Ok(images)
        }
    }

    mod portal {
        use ashpd::desktop::ResponseError;
        use ashpd::desktop::screenshot::Screenshot;

        use super::*;

        pub(super) fn capture() -> Result<Vec<RgbaImage>> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::CaptureUnavailable(e.to_string()))?;
            let uri = runtime.block_on(async {
                Screenshot::request()
                    .interactive(false)
                    .modal(true)
                    .send()
                    .await?
                    .response()
            });
            let uri = uri.map_err(|e| match e {
                ashpd::Error::Response(ResponseError::Cancelled) => {
                    Error::CaptureDenied("the screenshot request was cancelled".to_owned())
                }
                ashpd::Error::Response(ResponseError::Other) => {
                    Error::CaptureDenied("the desktop refused the screenshot request".to_owned())
                }
                other => Error::CaptureUnavailable(format!("screenshot portal: {other}")),
            })?;
            let path = url::Url::parse(uri.uri().as_str())
                .ok()
                .and_then(|url| url.to_file_path().ok())
                .ok_or_else(|| {
                    Error::CaptureUnavailable("the portal returned no local file".to_owned())
                })?;
            let bytes = crate::load::read_file(&path);
            // The file is ours alone and may show a secret: it must not stay in Pictures.
            let _ = std::fs::remove_file(&path);
            let image = crate::load::decode_image(&bytes?)?;
            Ok(vec![image.to_rgba8()])
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn wayland_session_uses_the_portal_even_with_xwayland() {
            let pick = |d: Option<&str>, w: Option<&str>, s: Option<&str>| {
                choose_backend(d.map(OsStr::new), w.map(OsStr::new), s.map(OsStr::new))
                    .map_err(|e| e.code())
            };
            assert_eq!(
                pick(Some(":0"), Some("wayland-0"), Some("wayland")),
                Ok(Backend::Portal)
            );
            assert_eq!(pick(None, Some("wayland-0"), None), Ok(Backend::Portal));
            assert_eq!(
                pick(Some(":0"), Some("wayland-0"), Some("x11")),
                Ok(Backend::X11)
            );
            assert_eq!(pick(Some(":1"), None, Some("tty")), Ok(Backend::X11));
            assert_eq!(pick(Some(""), Some(""), None), Err("capture_unavailable"));
            assert_eq!(pick(None, None, None), Err("capture_unavailable"));
        }
    }
}

#[cfg(any(target_os = "macos", target_os = "windows"))]
mod platform {
    use super::*;

    pub(super) fn capture() -> Result<Vec<RgbaImage>> {
        let unavailable = |e: xcap::XCapError| Error::CaptureUnavailable(e.to_string());
        let monitors = xcap::Monitor::all().map_err(unavailable)?;
        monitors
            .iter()
            .map(|monitor| monitor.capture_image().map_err(unavailable))
            .collect()
    }
}

#[cfg(not(any(
    target_os = "macos",
    target_os = "windows",
    all(
        unix,
        not(any(target_os = "macos", target_os = "ios", target_os = "android"))
    )
)))]
mod platform {
    use super::*;

    pub(super) fn capture() -> Result<Vec<RgbaImage>> {
        Err(Error::CaptureUnavailable(
            "screen capture is not supported on this platform".to_owned(),
        ))
    }
}
