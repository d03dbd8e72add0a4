//! The one error type of the core. Every variant has a stable `code()` the UI and the CLI
//! branch on; messages never contain secret material.

use serde::Serialize;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An `otpauth://` URI (or one of its parts) is malformed. `field` names the part.
    #[error("invalid {field}: {reason}")]
    InvalidUri { field: &'static str, reason: String },

    /// A parameter of an account (digits, period, secret...) is out of range.
    #[error("invalid {field}: {reason}")]
    InvalidAccount { field: &'static str, reason: String },

    #[error("no account matches {0:?}")]
    AccountNotFound(String),

    #[error("{0:?} matches more than one account; be more specific")]
    AmbiguousAccount(String),

    /// No Secret Service / Keychain / Credential Manager could be reached.
    #[error("the OS keychain is unavailable: {cause}. {hint}")]
    KeychainUnavailable { cause: String, hint: &'static str },

    /// The keychain is reachable but locked, and unlocking was refused or not possible.
    #[error(
        "the OS keychain is locked: {0}. Unlock it (for example by logging in again) and retry"
    )]
    KeychainLocked(String),

    /// The account exists but its secret is not in the keychain (wiped keychain, reinstall).
    #[error("the secret of account {account} is missing from the OS keychain")]
    SecretMissing { account: String },

    #[error("the OS keychain refused the operation: {0}")]
    Keychain(String),

    /// The metadata file exists but cannot be understood; it is left untouched.
    #[error("the account file {path} is damaged: {reason}")]
    CorruptStore { path: String, reason: String },

    #[error("file system error at {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("no data directory could be determined; pass --data-dir")]
    NoDataDir,

    /// The server could not be reached at all (DNS, refused, TLS handshake, timeout).
    #[error("cannot reach {url}: {reason}")]
    Network { url: String, reason: String },

    /// The server answered with a Twilio error body.
    #[error("server error {status} ({code}): {message}")]
    Api {
        status: u16,
        code: u32,
        message: String,
    },

    #[error("invalid server configuration: {0}")]
    InvalidServerConfig(String),
}

impl Error {
    /// Stable, machine-readable identifier. Never change an existing value: the UI and
    /// scripts rely on it.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidUri { .. } => "invalid_uri",
            Error::InvalidAccount { .. } => "invalid_account",
            Error::AccountNotFound(_) => "account_not_found",
            Error::AmbiguousAccount(_) => "ambiguous_account",
            Error::KeychainUnavailable { .. } => "keychain_unavailable",
            Error::KeychainLocked(_) => "keychain_locked",
            Error::SecretMissing { .. } => "secret_missing",
            Error::Keychain(_) => "keychain_error",
            Error::CorruptStore { .. } => "corrupt_store",
            Error::Io { .. } => "io_error",
            Error::NoDataDir => "no_data_dir",
            Error::Network { .. } => "network_error",
            Error::Api { .. } => "api_error",
            Error::InvalidServerConfig(_) => "invalid_server_config",
        }
    }

    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// What crosses to the front end: `{ "code": "...", "message": "..." }`.
impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("Error", 2)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}
