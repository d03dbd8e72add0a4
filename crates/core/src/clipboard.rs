//! Copying codes: marked so clipboard managers and history skip them, and cleared after a
//! while — but only if the clipboard still holds what we put there, so a user's own copy
//! made in between is never wiped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};

pub const DEFAULT_CLEAR_AFTER: Duration = Duration::from_secs(30);

/// The app's one clipboard handle. On X11 and Wayland the copying process must keep serving
/// the content, so this lives as long as the app.
pub struct CodeClipboard {
    inner: Arc<Mutex<arboard::Clipboard>>,
    /// Bumped on every copy, so only the latest copy's timer may clear.
    generation: Arc<AtomicU64>,
}

impl CodeClipboard {
    pub fn open() -> Result<Self> {
        let clipboard =
            arboard::Clipboard::new().map_err(|e| Error::ClipboardUnavailable(e.to_string()))?;
        Ok(CodeClipboard {
            inner: Arc::new(Mutex::new(clipboard)),
            generation: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Puts `code` on the clipboard and, with `clear_after`, clears it then if it is still
    /// there.
    pub fn copy_code(&self, code: &str, clear_after: Option<Duration>) -> Result<()> {
        // Set the text and bump the generation under one lock, so two near-simultaneous
        // copies cannot leave the first copy's timer owning the second copy's text.
        let generation = {
            let mut clipboard = lock(&self.inner);
            set_sensitive_text(&mut clipboard, code)?;
            self.generation.fetch_add(1, Ordering::SeqCst) + 1
        };
        let Some(clear_after) = clear_after else {
            return Ok(());
        };
        let inner = Arc::clone(&self.inner);
        let latest = Arc::clone(&self.generation);
        let code = code.to_string();
        std::thread::Builder::new()
            .name("clipboard-clear".into())
            .spawn(move || {
                std::thread::sleep(clear_after);
                let mut clipboard = lock(&inner);
                // Checked under the lock: a copy bumps the generation while holding it.
                if latest.load(Ordering::SeqCst) != generation {
                    return; // a newer copy owns the timer now
                }
                if clipboard.get_text().ok().as_deref() == Some(code.as_str()) {
                    let _ = clipboard.clear();
                }
            })
            .map_err(|e| Error::ClipboardUnavailable(e.to_string()))?;
        Ok(())
    }

    /// The clipboard's text now (used by tests and the "copied" indicator).
    pub fn text(&self) -> Option<String> {
        lock(&self.inner).get_text().ok()
    }
}

fn lock(m: &Mutex<arboard::Clipboard>) -> std::sync::MutexGuard<'_, arboard::Clipboard> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(target_os = "linux")]
fn set_sensitive_text(clipboard: &mut arboard::Clipboard, text: &str) -> Result<()> {
    use arboard::SetExtLinux;
    // Adds the `x-kde-passwordManagerHint: secret` target that KDE's Klipper, GNOME
    // extensions and most clipboard managers honour.
    clipboard
        .set()
        .exclude_from_history()
        .text(text)
        .map_err(|e| Error::ClipboardUnavailable(e.to_string()))
}

#[cfg(target_os = "windows")]
fn set_sensitive_text(clipboard: &mut arboard::Clipboard, text: &str) -> Result<()> {
    use arboard::SetExtWindows;
    // Keeps the code out of Windows' clipboard history and cloud clipboard.
    clipboard
        .set()
        .exclude_from_history()
        .exclude_from_cloud()
        .text(text)
        .map_err(|e| Error::ClipboardUnavailable(e.to_string()))
}

#[cfg(target_os = "macos")]
fn set_sensitive_text(clipboard: &mut arboard::Clipboard, text: &str) -> Result<()> {
    use arboard::SetExtApple;
    // Marks the item concealed/transient (nspasteboard.org), which clipboard managers skip.
    clipboard
        .set()
        .exclude_from_history()
        .text(text)
        .map_err(|e| Error::ClipboardUnavailable(e.to_string()))
}

#[cfg(not(any(target_os = "linux", target_os = "windows", target_os = "macos")))]
fn set_sensitive_text(clipboard: &mut arboard::Clipboard, text: &str) -> Result<()> {
    clipboard
        .set_text(text)
        .map_err(|e| Error::ClipboardUnavailable(e.to_string()))
}
