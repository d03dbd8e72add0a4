//! The user's preferences (`settings.json` in the profile): nothing secret, all optional,
//! unknown or missing fields fall back to defaults so old and new versions can share a file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::atomic_file;
use crate::error::{Error, Result};

const FILE_NAME: &str = "settings.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Seconds before a copied code is cleared from the clipboard (if still there); 0 = never.
    pub clipboard_clear_secs: u32,
    /// Hide codes until the account is clicked (for screen sharing).
    pub hide_codes: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            clipboard_clear_secs: 30,
            hide_codes: false,
        }
    }
}

impl Settings {
    pub fn clipboard_clear_after(&self) -> Option<Duration> {
        (self.clipboard_clear_secs > 0)
            .then(|| Duration::from_secs(self.clipboard_clear_secs.into()))
    }

    pub fn validate(&self) -> Result<()> {
        if self.clipboard_clear_secs > 3600 {
            return Err(Error::InvalidAccount {
                field: "clipboard_clear_secs",
                reason: "at most one hour (3600 s)".into(),
            });
        }
        Ok(())
    }

    /// The profile's settings; defaults when the file doesn't exist yet.
    pub fn load(dir: &Path) -> Result<Settings> {
        let path = path(dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::CorruptStore {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Settings::default()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        self.validate()?;
        let path = path(dir);
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::CorruptStore {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        atomic_file::write(dir, &path, &json)
    }
}

fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_until_saved_then_what_was_saved() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            Settings::load(dir.path()).expect("load"),
            Settings::default()
        );
        let changed = Settings {
            clipboard_clear_secs: 10,
            hide_codes: true,
        };
        changed.save(dir.path()).expect("save");
        assert_eq!(Settings::load(dir.path()).expect("load"), changed);
    }

    #[test]
    fn missing_fields_take_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(FILE_NAME), br#"{"hide_codes": true}"#).expect("write");
        let settings = Settings::load(dir.path()).expect("load");
        assert!(settings.hide_codes);
        assert_eq!(settings.clipboard_clear_secs, 30);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bad = Settings {
            clipboard_clear_secs: 99_999,
            ..Settings::default()
        };
        assert_eq!(
            bad.save(dir.path()).expect_err("refused").code(),
            "invalid_account"
        );
        assert!(!dir.path().join(FILE_NAME).exists());
    }

    #[test]
    fn zero_means_never_clear() {
        let never = Settings {
            clipboard_clear_secs: 0,
            ..Settings::default()
        };
        assert_eq!(never.clipboard_clear_after(), None);
    }
}
