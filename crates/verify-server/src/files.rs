//! Files the server writes into its data dir: whole or not at all, and
//! private from the first byte when they hold secrets.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::StartError;

/// Write `data` to `path` atomically: into a temporary file beside it
/// (created 0600 when `secret`, so no reader ever sees the key with looser
/// permissions), flushed to disk, then renamed over `path`. A crash leaves
/// either the old file or the new one, never half of either.
pub fn write_atomic(path: &Path, data: &[u8], secret: bool) -> Result<(), StartError> {
    let tmp = temp_path(path);
    let result = write_new(&tmp, data, secret).and_then(|()| {
        std::fs::rename(&tmp, path).map_err(|e| StartError::io(path, e))?;
        sync_dir(path);
        Ok(())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Make an existing secret file private (files from older versions, or
/// ones a user copied in).
pub fn make_private(path: &Path) -> Result<(), StartError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| StartError::io(path, e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StartError::io(path, e))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    let mut bytes = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut bytes);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.{}.tmp",
        data_encoding::HEXLOWER.encode(&bytes)
    ))
}

fn write_new(path: &Path, data: &[u8], secret: bool) -> Result<(), StartError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts.open(path).map_err(|e| StartError::io(path, e))?;
    f.write_all(data).map_err(|e| StartError::io(path, e))?;
    f.sync_all().map_err(|e| StartError::io(path, e))
}

/// Persist the rename itself (best effort: not every platform can open a
/// directory for syncing).
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent()
        && let Ok(d) = std::fs::File::open(dir)
    {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        write_atomic(&path, b"first", true).unwrap();
        write_atomic(&path, b"second", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("key.pem")]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
