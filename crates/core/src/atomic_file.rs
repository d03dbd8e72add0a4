//! Small JSON files shared by the app and the CLI: an advisory lock file next to the data,
//! and atomic replacement (temp file in the same directory, fsync, rename, fsync of the
//! directory), so a reader sees the old file or the new one, never a mix.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::crash_point;
use crate::error::{Error, Result};

/// Opens (creating) `path` and takes an advisory lock on it; released when the file drops.
pub(crate) fn lock(path: &Path, exclusive: bool) -> Result<File> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    let locked = if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    };
    locked.map_err(|e| Error::io(path, e))?;
    Ok(file)
}

/// Replaces `path` (inside `dir`) with `bytes` atomically and durably.
pub(crate) fn write(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let prefix = temp_prefix(path);
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    temp.write_all(bytes)
        .map_err(|e| Error::io(temp.path(), e))?;
    crash_point::reached(crash_point::TEMP_FILE_WRITTEN);
    temp.as_file()
        .sync_all()
        .map_err(|e| Error::io(temp.path(), e))?;
    crash_point::reached(crash_point::BEFORE_RENAME);
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    crash_point::reached(crash_point::AFTER_RENAME);
    // The rename is only durable once the directory entry is.
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))?;
    Ok(())
}

/// Deletes the temp files a [`write`] of `path` left behind when its process was killed
/// before the rename. Only safe while holding the lock every writer of `path` takes: then no
/// write is in progress, so any such file is a leftover. Returns how many were removed.
pub(crate) fn remove_stale_temp_files(dir: &Path, path: &Path) -> Result<usize> {
    let prefix = temp_prefix(path);
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(TEMP_SUFFIX) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                // Another cleaner got there first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(entry.path(), e)),
            }
        }
    }
    Ok(removed)
}

const TEMP_SUFFIX: &str = ".tmp";

/// Temp files of `path` are `.<stem>.<random>.tmp`: hidden, and next to it so the rename
/// stays on one file system.
fn temp_prefix(path: &Path) -> String {
    format!(
        ".{}.",
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.json");
        write(dir.path(), &path, b"one").expect("write");
        write(dir.path(), &path, b"two").expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("readdir")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["data.json".to_string()]);
    }

    #[test]
    fn stale_temp_files_of_the_file_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data.json");
        write(dir.path(), &path, b"one").expect("write");
        // What a writer killed between creating its temp file and the rename leaves.
        let stale = dir.path().join(".data.a1B2c3.tmp");
        std::fs::write(&stale, b"half a fi").expect("write stale");
        let other = dir.path().join(".other.x9Y8z7.tmp");
        std::fs::write(&other, b"not ours").expect("write other");

        assert_eq!(
            remove_stale_temp_files(dir.path(), &path).expect("clean"),
            1
        );
        assert!(!stale.exists());
        assert!(other.exists(), "another file's temp file was removed");
        assert_eq!(std::fs::read(&path).expect("read"), b"one");
        assert_eq!(
            remove_stale_temp_files(dir.path(), &path).expect("clean"),
            0
        );
    }

    #[test]
    fn an_exclusive_lock_excludes_others_until_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.lock");
        let held = lock(&path, true).expect("lock");
        let other = File::options().write(true).open(&path).expect("open");
        assert!(other.try_lock().is_err());
        drop(held);
        assert!(other.try_lock().is_ok());
    }
}
