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

    /// The system clipboard could not be used (no display, no clipboard owner...).
    #[error("the clipboard is unavailable: {0}")]
    ClipboardUnavailable(String),

    #[error("invalid server configuration: {0}")]
    InvalidServerConfig(String),

    /// The server did not answer in time.
    #[error("{url} did not answer in time; check the connection and retry")]
    NetworkTimeout { url: String },

    /// No connection could be made (offline, DNS, refused).
    #[error("cannot reach {url}: {reason}")]
    NetworkUnreachable { url: String, reason: String },

    /// The TLS handshake failed (untrusted or invalid certificate, protocol mismatch).
    #[error("secure connection to {url} failed: {reason}")]
    Tls { url: String, reason: String },

    /// The server kept asking us to slow down.
    #[error("the server is busy; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },

    /// The device's signed requests are refused even after correcting the clock: the factor
    /// was deleted on the server, or its key no longer matches.
    #[error("the server no longer accepts this device for {factor}; remove it and enroll again")]
    DeviceUnauthorized { factor: String },

    /// A `countersign://enroll` link is malformed.
    #[error("invalid enrollment link: {0}")]
    InvalidEnrollLink(String),

    #[error("no push enrollment matches {0:?}")]
    EnrollmentNotFound(String),

    #[error("{0:?} matches more than one push enrollment; use its id")]
    AmbiguousEnrollment(String),

    /// The enrollment has not finished (or is being removed), so it cannot answer challenges.
    #[error("the push enrollment {0} is not finished")]
    EnrollmentIncomplete(String),

    /// The private key of an enrollment is not in the keychain (wiped keychain, reinstall).
    #[error("the key of push enrollment {0} is missing from the OS keychain; enroll again")]
    PushKeyMissing(String),

    /// The keychain holds another key than the one enrolled (restored or tampered keychain).
    #[error("the keychain key of push enrollment {0} is not the enrolled one; enroll again")]
    PushKeyMismatch(String),

    /// The keychain entry of an enrollment's key exists but is not a usable P-256 key.
    #[error("the keychain key of push enrollment {0} cannot be read; enroll again")]
    PushKeyUnreadable(String),

    /// The server no longer has the factor (404, 60390, 20404): deleted or purged there.
    #[error("the service no longer has factor {factor}; re-enroll this device")]
    FactorUnknown { factor: String },

    /// The server says the factor is not verified (60318).
    #[error("the service says factor {factor} is not verified; re-enroll this device")]
    FactorUnverified { factor: String },

    /// The server says the factor is in a state that cannot be used (60383).
    #[error("the service says factor {factor} cannot be used (it expired or was never completed)")]
    FactorIllegalStatus { factor: String },

    /// A re-enrollment cannot start, be cancelled or finish as asked.
    #[error("cannot re-enroll: {0}")]
    Reenrollment(String),

    #[error("no challenge {0} for this device")]
    ChallengeNotFound(String),

    /// The challenge belongs to another factor than the one asked to answer it.
    #[error("challenge {0} is for another device; it was not answered")]
    ChallengeWrongFactor(String),

    #[error("this request has expired; ask for a new one")]
    ChallengeExpired,

    #[error("this request was already {status}")]
    ChallengeAlreadyAnswered { status: String },

    /// The server refused our signature (its copy of the request differs from ours, or the
    /// key does not match).
    #[error("the server rejected the answer: the request may have been altered")]
    ChallengeVerificationFailed,

    /// The fetched challenge cannot be signed as the server asks.
    #[error("the request cannot be answered: {0}")]
    ChallengeUnsignable(String),

    /// The server's copy of the request is not the one the user saw (another request, or
    /// changed details): nothing was signed.
    #[error("this request changed since it was shown ({0}); nothing was signed, look at it again")]
    ChallengeChanged(String),

    /// The server answered with more than a Verify reply can reasonably be.
    #[error("the server at {url} sent more than {limit_bytes} bytes; the reply was not read")]
    ResponseTooLarge { url: String, limit_bytes: usize },

    /// The server answered with a redirect, which a device never follows (it would resend
    /// its credentials and its answer to another address).
    #[error("the server at {url} redirected the request (HTTP {status}); it was not followed")]
    Redirected { url: String, status: u16 },

    /// The server accepted the answer but the challenge shows another status afterwards.
    #[error("the answer was sent but the request still shows {status}")]
    ChallengeNotUpdated { status: String },

    /// The file is none of the formats Countersign imports.
    #[error("this file is not a format Countersign can import: {0}")]
    ImportUnrecognized(String),

    /// The file is encrypted and no password was given.
    #[error("this {format} file is encrypted; a password is needed to import it")]
    ImportPasswordRequired { format: &'static str },

    /// The password does not open the file (or the file was altered).
    #[error("the password does not open this {format} file (or the file was altered)")]
    ImportWrongPassword { format: &'static str },

    /// The file is of a known format but damaged or truncated as a whole.
    #[error("this {format} file is damaged: {reason}")]
    ImportCorrupt {
        format: &'static str,
        reason: String,
    },

    /// The file is of a known format but in a variant that cannot be imported.
    #[error("this {format} file cannot be imported: {reason}")]
    ImportUnsupported {
        format: &'static str,
        reason: String,
    },

    /// An export was refused (empty password, plain export not acknowledged) or its
    /// encryption failed (no randomness from the OS).
    #[error("cannot export: {0}")]
    ExportFailed(String),
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
            Error::ClipboardUnavailable(_) => "clipboard_unavailable",
            Error::InvalidServerConfig(_) => "invalid_server_config",
            Error::NetworkTimeout { .. } => "network_timeout",
            Error::NetworkUnreachable { .. } => "network_unreachable",
            Error::Tls { .. } => "tls_error",
            Error::RateLimited { .. } => "rate_limited",
            Error::DeviceUnauthorized { .. } => "device_unauthorized",
            Error::InvalidEnrollLink(_) => "invalid_enroll_link",
            Error::EnrollmentNotFound(_) => "enrollment_not_found",
            Error::AmbiguousEnrollment(_) => "ambiguous_enrollment",
            Error::EnrollmentIncomplete(_) => "enrollment_incomplete",
            Error::PushKeyMissing(_) => "push_key_missing",
            Error::PushKeyMismatch(_) => "push_key_mismatch",
            Error::PushKeyUnreadable(_) => "push_key_unreadable",
            Error::FactorUnknown { .. } => "factor_unknown",
            Error::FactorUnverified { .. } => "factor_unverified",
            Error::FactorIllegalStatus { .. } => "factor_illegal_status",
            Error::Reenrollment(_) => "reenrollment_refused",
            Error::ChallengeNotFound(_) => "challenge_not_found",
            Error::ChallengeWrongFactor(_) => "challenge_wrong_factor",
            Error::ChallengeExpired => "challenge_expired",
            Error::ChallengeAlreadyAnswered { .. } => "challenge_already_answered",
            Error::ChallengeVerificationFailed => "challenge_verification_failed",
            Error::ChallengeUnsignable(_) => "challenge_unsignable",
            Error::ChallengeNotUpdated { .. } => "challenge_not_updated",
            Error::ChallengeChanged(_) => "challenge_changed",
            Error::ResponseTooLarge { .. } => "response_too_large",
            Error::Redirected { .. } => "redirected",
            Error::ImportUnrecognized(_) => "import_unrecognized",
            Error::ImportPasswordRequired { .. } => "import_password_required",
            Error::ImportWrongPassword { .. } => "import_wrong_password",
            Error::ImportCorrupt { .. } => "import_corrupt",
            Error::ImportUnsupported { .. } => "import_unsupported",
            Error::ExportFailed(_) => "export_failed",
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
