//! A profile is one data directory. The app and the CLI resolve it the same way, so they
//! always see the same accounts: `--data-dir`, else `COUNTERSIGN_DATA_DIR`, else the
//! platform's application data directory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const DATA_DIR_ENV: &str = "COUNTERSIGN_DATA_DIR";

#[derive(Debug, Clone)]
pub struct Profile {
    data_dir: PathBuf,
}

impl Profile {
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Profile> {
        let data_dir = match explicit {
            Some(dir) => dir,
            None => match std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir),
                None => directories::ProjectDirs::from("dev", "Countersign", "countersign")
                    .ok_or(Error::NoDataDir)?
                    .data_dir()
                    .to_path_buf(),
            },
        };
        Ok(Profile { data_dir })
    }

    pub fn at(data_dir: impl Into<PathBuf>) -> Profile {
        Profile {
            data_dir: data_dir.into(),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Creates the directory, readable by the user only.
    pub fn ensure_exists(&self) -> Result<()> {
        std::fs::create_dir_all(&self.data_dir).map_err(|e| Error::io(&self.data_dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.data_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::io(&self.data_dir, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_directory_wins() {
        let profile = Profile::resolve(Some(PathBuf::from("/tmp/x"))).expect("resolves");
        assert_eq!(profile.data_dir(), Path::new("/tmp/x"));
    }
}
