//! Small JSON files shared by the app and the CLI: an advisory lock file next to the data,
//! and atomic replacement (temp file in the same directory, fsync, rename, fsync of the
//! directory), so a reader sees the old file or the new one, never a mix.

use std::fs::File;
use std::io::Write;
use std::path::Path;

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
    let prefix = format!(
        ".{}.",
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    );
    let mut temp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, e))?;
    temp.write_all(bytes)
        .map_err(|e| Error::io(temp.path(), e))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| Error::io(temp.path(), e))?;
    temp.persist(path).map_err(|e| Error::io(path, e.error))?;
    // The rename is only durable once the directory entry is.
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))?;
    Ok(())
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
