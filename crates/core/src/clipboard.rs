//! Copying codes: marked so clipboard managers and history skip them, and cleared after a
//! while — but only if the clipboard still holds what we put there, so a user's own copy
//! made in between is never wiped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};

pub const DEFAULT_CLEAR_AFTER: Duration = Duration::from_secs(30);

/// What the clipboard logic needs from a clipboard: the system one in the app, a fake in
/// the tests (which run without a display).
pub trait ClipboardBackend: Send + 'static {
    /// Puts `text` on the clipboard, marked so clipboard managers and history skip it.
    fn set_sensitive_text(&mut self, text: &str) -> Result<()>;
    fn text(&mut self) -> Option<String>;
    fn clear(&mut self);
}

/// The platform clipboard (arboard).
pub struct SystemClipboard(arboard::Clipboard);

impl ClipboardBackend for SystemClipboard {
    fn set_sensitive_text(&mut self, text: &str) -> Result<()> {
        set_sensitive_text(&mut self.0, text)
    }

    fn text(&mut self) -> Option<String> {
        self.0.get_text().ok()
    }

    fn clear(&mut self) {
        let _ = self.0.clear();
    }
}

/// The clipboard and the number of the latest copy, behind one lock: a copy sets the text
/// and takes its number in one step, so two near-simultaneous copies can never leave the
/// older copy's timer owning the newer copy's text (nor the newer text with no timer).
struct Shared<B> {
    backend: B,
    generation: u64,
}

/// The app's one clipboard handle. On X11 and Wayland the copying process must keep serving
/// the content, so this lives as long as the app.
pub struct CodeClipboard<B: ClipboardBackend = SystemClipboard> {
    shared: Arc<Mutex<Shared<B>>>,
}

impl CodeClipboard<SystemClipboard> {
    pub fn open() -> Result<Self> {
        let clipboard =
            arboard::Clipboard::new().map_err(|e| Error::ClipboardUnavailable(e.to_string()))?;
        Ok(Self::with_backend(SystemClipboard(clipboard)))
    }
}

impl<B: ClipboardBackend> CodeClipboard<B> {
    pub fn with_backend(backend: B) -> Self {
        CodeClipboard {
            shared: Arc::new(Mutex::new(Shared {
                backend,
                generation: 0,
            })),
        }
    }

    /// Puts `code` on the clipboard and, with `clear_after`, clears it then if it is still
    /// there and no later copy was made.
    pub fn copy_code(&self, code: &str, clear_after: Option<Duration>) -> Result<()> {
        let generation = {
            let mut shared = lock(&self.shared);
            shared.backend.set_sensitive_text(code)?;
            shared.generation += 1;
            shared.generation
        };
        let Some(clear_after) = clear_after else {
            return Ok(());
        };
        let shared = Arc::clone(&self.shared);
        let code = code.to_string();
        std::thread::Builder::new()
            .name("clipboard-clear".into())
            .spawn(move || {
                std::thread::sleep(clear_after);
                let mut shared = lock(&shared);
                if shared.generation != generation {
                    return; // a newer copy owns the timer now
                }
                if shared.backend.text().as_deref() == Some(code.as_str()) {
                    shared.backend.clear();
                }
            })
            .map_err(|e| Error::ClipboardUnavailable(e.to_string()))?;
        Ok(())
    }

    /// The clipboard's text now (used by tests and the "copied" indicator).
    pub fn text(&self) -> Option<String> {
        lock(&self.shared).backend.text()
    }
}

fn lock<B>(m: &Mutex<Shared<B>>) -> std::sync::MutexGuard<'_, Shared<B>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    /// A clipboard in memory; clones share it, so a test can act as another application.
    #[derive(Clone, Default)]
    struct FakeClipboard(Arc<Mutex<Option<String>>>);

    impl FakeClipboard {
        fn contents(&self) -> Option<String> {
            self.0.lock().unwrap().clone()
        }

        fn copy_from_another_app(&self, text: &str) {
            *self.0.lock().unwrap() = Some(text.to_string());
        }
    }

    impl ClipboardBackend for FakeClipboard {
        fn set_sensitive_text(&mut self, text: &str) -> Result<()> {
            *self.0.lock().unwrap() = Some(text.to_string());
            Ok(())
        }

        fn text(&mut self) -> Option<String> {
            self.contents()
        }

        fn clear(&mut self) {
            *self.0.lock().unwrap() = None;
        }
    }

    const SHORT: Duration = Duration::from_millis(40);
    /// Long enough for every clear timer of a test to have run.
    const SETTLE: Duration = Duration::from_millis(250);

    #[test]
    fn a_copied_code_is_cleared_after_the_delay() {
        let fake = FakeClipboard::default();
        let clipboard = CodeClipboard::with_backend(fake.clone());
        clipboard.copy_code("123456", Some(SHORT)).unwrap();
        assert_eq!(fake.contents().as_deref(), Some("123456"));
        std::thread::sleep(SETTLE);
        assert_eq!(fake.contents(), None);

        clipboard.copy_code("654321", None).unwrap();
        std::thread::sleep(SETTLE);
        assert_eq!(
            fake.contents().as_deref(),
            Some("654321"),
            "no delay, no clearing"
        );
    }

    #[test]
    fn what_another_app_copied_meanwhile_is_never_wiped() {
        let fake = FakeClipboard::default();
        let clipboard = CodeClipboard::with_backend(fake.clone());
        clipboard.copy_code("123456", Some(SHORT)).unwrap();
        fake.copy_from_another_app("my own text");
        std::thread::sleep(SETTLE);
        assert_eq!(fake.contents().as_deref(), Some("my own text"));
    }

    #[test]
    fn an_earlier_copys_timer_leaves_a_later_code_to_its_own_timer() {
        let fake = FakeClipboard::default();
        let clipboard = CodeClipboard::with_backend(fake.clone());
        clipboard.copy_code("111111", Some(SHORT)).unwrap();
        clipboard
            .copy_code("222222", Some(Duration::from_millis(400)))
            .unwrap();
        std::thread::sleep(SETTLE);
        assert_eq!(fake.contents().as_deref(), Some("222222"));
        std::thread::sleep(SETTLE);
        assert_eq!(fake.contents(), None);
    }

    #[test]
    fn two_near_simultaneous_copies_always_end_cleared() {
        let fake = FakeClipboard::default();
        let clipboard = Arc::new(CodeClipboard::with_backend(fake.clone()));
        for round in 0..50 {
            let start = Arc::new(Barrier::new(2));
            let copies: Vec<_> = ["111111", "222222"]
                .into_iter()
                .map(|code| {
                    let (clipboard, start) = (Arc::clone(&clipboard), Arc::clone(&start));
                    std::thread::spawn(move || {
                        start.wait();
                        clipboard
                            .copy_code(code, Some(Duration::from_millis(5)))
                            .unwrap();
                    })
                })
                .collect();
            for copy in copies {
                copy.join().unwrap();
            }
            // Whichever copy landed last, its timer is the one that clears.
            let deadline = std::time::Instant::now() + SETTLE;
            while fake.contents().is_some() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            assert_eq!(
                fake.contents(),
                None,
                "round {round}: a code stayed on the clipboard"
            );
        }
    }
}
