//! Named places where the crash test stops the process on purpose (debug builds only):
//! between the keychain write and the metadata write, and inside the atomic file write.
//!
//! With `COUNTERSIGN_CRASH_AT=<name>` the process aborts when it reaches that point, after
//! appending the name to the file `COUNTERSIGN_CRASH_LOG` names, so the test can tell the
//! point was reached rather than the process dying elsewhere. Release builds compile every
//! point to nothing.

/// A secret is in the keychain; the account file does not list it yet.
pub(crate) const AFTER_KEYCHAIN_WRITE: &str = "after-keychain-write";
/// The new contents are in a temp file next to the target, not yet synced.
pub(crate) const TEMP_FILE_WRITTEN: &str = "temp-file-written";
/// The temp file is synced but not renamed over the target.
pub(crate) const BEFORE_RENAME: &str = "before-rename";
/// Renamed, but the directory entry is not yet synced.
pub(crate) const AFTER_RENAME: &str = "after-rename";

/// Every point, for the test to go through.
pub const ALL: [&str; 4] = [
    AFTER_KEYCHAIN_WRITE,
    TEMP_FILE_WRITTEN,
    BEFORE_RENAME,
    AFTER_RENAME,
];

#[cfg(debug_assertions)]
pub(crate) fn reached(name: &str) {
    if std::env::var_os("COUNTERSIGN_CRASH_AT").is_none_or(|at| at != name) {
        return;
    }
    if let Some(log) = std::env::var_os("COUNTERSIGN_CRASH_LOG") {
        use std::io::Write;
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = writeln!(file, "{name}");
            let _ = file.sync_all();
        }
    }
    std::process::abort();
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub(crate) fn reached(_name: &str) {}
