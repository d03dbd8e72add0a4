//! Importing accounts from other authenticators' exports and from our own backups.
//!
//! Every format implements [`Importer`]: [`Importer::detect`] says from the file's content
//! (without a password) whether it is that format and whether it is encrypted, and
//! [`Importer::import`] reads it. One bad entry never sinks an import: entries that cannot
//! be read are listed in [`ImportResult::errors`] with the reason, and the rest are returned.
//! Problems with the whole file are `Err`: [`Error::ImportUnrecognized`],
//! [`Error::ImportPasswordRequired`], [`Error::ImportWrongPassword`],
//! [`Error::ImportCorrupt`], [`Error::ImportUnsupported`].
//!
//! Secrets are held as [`SecretBytes`]; decrypted plaintexts, derived keys and the JSON
//! trees entries are read from are wiped when dropped. Error reasons never quote a secret
//! (JSON errors are stripped of the values they would quote).

pub(crate) mod aegis;
mod andotp;
mod bitwarden;
mod countersign;
pub(crate) mod crypto;
mod duplicates;
mod ente;
mod freeotp;
pub(crate) mod google;
mod twofas;
mod uri_list;

pub use aegis::Aegis;
pub use andotp::AndOtp;
pub use bitwarden::Bitwarden;
pub use countersign::CountersignBackup;
pub use duplicates::{Duplicate, find_duplicates};
pub use ente::Ente;
pub use freeotp::FreeOtpPlus;
pub use google::GoogleAuthenticator;
pub use twofas::TwoFas;
pub use uri_list::UriList;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::otp::{self, Algorithm, OtpKind, OtpParams};
use crate::otpauth::OtpAuthUri;
use crate::secret::SecretBytes;

/// Largest file any importer reads: exports of thousands of accounts are a few MiB.
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

/// A file format we import, and whether this file of it is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Format {
    /// Our own encrypted backup (`docs/BACKUP_FORMAT.md`); always encrypted.
    Countersign,
    /// Google Authenticator's "Transfer accounts" QR codes (`otpauth-migration://`), one
    /// per line.
    GoogleAuthenticator,
    Aegis {
        encrypted: bool,
    },
    TwoFas {
        encrypted: bool,
    },
    AndOtp {
        encrypted: bool,
    },
    /// Bitwarden's unencrypted JSON export (the `login.totp` of each item).
    Bitwarden,
    /// FreeOTP+'s JSON export.
    FreeOtpPlus,
    /// Ente Auth's encrypted export; always encrypted.
    Ente,
    /// `otpauth://` (and `steam://`) URIs, one per line.
    UriList,
}

impl Format {
    /// Whether a password is needed to read the file.
    pub fn is_encrypted(self) -> bool {
        match self {
            Format::Countersign | Format::Ente => true,
            Format::Aegis { encrypted }
            | Format::TwoFas { encrypted }
            | Format::AndOtp { encrypted } => encrypted,
            Format::GoogleAuthenticator
            | Format::Bitwarden
            | Format::FreeOtpPlus
            | Format::UriList => false,
        }
    }

    /// The name people know the format by, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Countersign => "Countersign backup",
            Format::GoogleAuthenticator => "Google Authenticator export",
            Format::Aegis { .. } => "Aegis",
            Format::TwoFas { .. } => "2FAS",
            Format::AndOtp { .. } => "andOTP",
            Format::Bitwarden => "Bitwarden",
            Format::FreeOtpPlus => "FreeOTP+",
            Format::Ente => "Ente Auth",
            Format::UriList => "otpauth:// list",
        }
    }

    /// The importer that reads this format.
    pub fn importer(self) -> &'static dyn Importer {
        match self {
            Format::Countersign => &CountersignBackup,
            Format::GoogleAuthenticator => &GoogleAuthenticator,
            Format::Aegis { .. } => &Aegis,
            Format::TwoFas { .. } => &TwoFas,
            Format::AndOtp { .. } => &AndOtp,
            Format::Bitwarden => &Bitwarden,
            Format::FreeOtpPlus => &FreeOtpPlus,
            Format::Ente => &Ente,
            Format::UriList => &UriList,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())?;
        if self.is_encrypted() {
            f.write_str(" (encrypted)")?;
        }
        Ok(())
    }
}

/// One format's reader. Implementations are stateless unit structs.
pub trait Importer: Sync {
    /// `Some(format)` if `bytes` look like this importer's format. Cheap: no key derivation,
    /// and a file it claims may still turn out damaged on [`Importer::import`].
    fn detect(&self, bytes: &[u8]) -> Option<Format>;

    /// Reads every entry. `password` is used only by encrypted files, which fail with
    /// [`Error::ImportPasswordRequired`] without one.
    fn import(&self, bytes: &[u8], password: Option<&str>) -> Result<ImportResult>;
}

/// The accounts read from a file, and the entries that could not be read.
#[derive(Debug, Default)]
pub struct ImportResult {
    pub entries: Vec<OtpAuthUri>,
    pub errors: Vec<ImportEntryError>,
}

/// Why one entry of a file was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportEntryError {
    /// Position of the entry in the file, counting from 1 (for text formats: the line);
    /// `None` when the problem is not one entry (a missing Google Authenticator batch).
    pub index: Option<usize>,
    /// "Issuer: name" of the entry, when it could be read.
    pub label: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for ImportEntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.index, &self.label) {
            (Some(i), Some(l)) => write!(f, "entry {i} ({l}): {}", self.reason),
            (Some(i), None) => write!(f, "entry {i}: {}", self.reason),
            (None, Some(l)) => write!(f, "{l}: {}", self.reason),
            (None, None) => f.write_str(&self.reason),
        }
    }
}

/// What [`crate::vault::Vault::import`] did with each entry.
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub added: Vec<crate::account::Account>,
    pub skipped_duplicates: Vec<SkippedDuplicate>,
    pub failed: Vec<ImportFailure>,
}

/// An entry not added because it would show the same codes as another account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedDuplicate {
    /// How the skipped entry is called ("Issuer (name)").
    pub label: String,
    /// The account (or earlier entry of the import) it duplicates.
    pub duplicate_of: String,
}

/// An entry the vault refused (invalid parameters, keychain refusal).
#[derive(Debug, Serialize)]
pub struct ImportFailure {
    pub label: String,
    pub error: Error,
}

/// "Issuer (name)" or "name", as [`crate::account::Account::display_name`] says it.
pub fn display_name(entry: &OtpAuthUri) -> String {
    match &entry.issuer {
        Some(issuer) => format!("{issuer} ({})", entry.account_name),
        None => entry.account_name.clone(),
    }
}

/// Every importer, most specific first: [`detect`] asks them in this order.
pub fn importers() -> [&'static dyn Importer; 9] {
    [
        &CountersignBackup,
        &Ente,
        &Aegis,
        &TwoFas,
        &Bitwarden,
        &FreeOtpPlus,
        &AndOtp,
        &GoogleAuthenticator,
        &UriList,
    ]
}

/// The format of a file, from its content.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return None;
    }
    importers().into_iter().find_map(|i| i.detect(bytes))
}

/// Reads a file to import, refusing ones larger than [`MAX_IMPORT_BYTES`]. The bytes are
/// wiped when dropped (unencrypted exports hold secrets).
pub fn read_file(path: &std::path::Path) -> Result<Zeroizing<Vec<u8>>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // Sized from the file so reading doesn't regrow the buffer, leaving copies behind.
    let expected = file.metadata().map(|m| m.len()).unwrap_or(0);
    let capacity = usize::try_from(expected)
        .unwrap_or(MAX_IMPORT_BYTES)
        .min(MAX_IMPORT_BYTES);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity + 1));
    file.take(MAX_IMPORT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(Error::ImportUnrecognized(format!(
            "the file is larger than {} MiB",
            MAX_IMPORT_BYTES / 1024 / 1024
        )));
    }
    Ok(bytes)
}

/// The format of a file, or [`Error::ImportUnrecognized`] listing what we read.
pub fn identify(bytes: &[u8]) -> Result<Format> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(Error::ImportUnrecognized(format!(
            "the file is larger than {} MiB",
            MAX_IMPORT_BYTES / 1024 / 1024
        )));
    }
    detect(bytes).ok_or_else(|| {
        Error::ImportUnrecognized(
            "expected an export of Countersign, Aegis, 2FAS, andOTP, Bitwarden, FreeOTP+, \
             Ente Auth, Google Authenticator, or otpauth:// links one per line"
                .into(),
        )
    })
}

/// Detects the format and imports the file.
pub fn import(bytes: &[u8], password: Option<&str>) -> Result<ImportResult> {
    identify(bytes)?.importer().import(bytes, password)
}

// ---- Helpers shared by the formats ----

/// The password, or `ImportPasswordRequired`.
pub(crate) fn require_password(password: Option<&str>, format: Format) -> Result<&str> {
    password.ok_or(Error::ImportPasswordRequired {
        format: format.name(),
    })
}

pub(crate) fn corrupt(format: Format, reason: impl Into<String>) -> Error {
    Error::ImportCorrupt {
        format: format.name(),
        reason: reason.into(),
    }
}

pub(crate) fn unsupported(format: Format, reason: impl Into<String>) -> Error {
    Error::ImportUnsupported {
        format: format.name(),
        reason: reason.into(),
    }
}

/// The file as UTF-8 text without a byte-order mark, or `None`.
pub(crate) fn text(bytes: &[u8]) -> Option<&str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).ok()
}

/// A parsed JSON document whose strings are wiped on drop: files are parsed into this
/// first, so that each entry can be read (and fail) on its own, and the secrets in it
/// don't linger in freed memory.
pub(crate) struct JsonTree(pub(crate) serde_json::Value);

impl JsonTree {
    pub(crate) fn parse(bytes: &[u8]) -> Option<JsonTree> {
        let text = text(bytes)?;
        serde_json::from_str(text).ok().map(JsonTree)
    }
}

impl Drop for JsonTree {
    fn drop(&mut self) {
        fn wipe(value: &mut serde_json::Value) {
            match value {
                serde_json::Value::String(s) => s.zeroize(),
                serde_json::Value::Array(items) => items.iter_mut().for_each(wipe),
                serde_json::Value::Object(map) => map.values_mut().for_each(wipe),
                _ => {}
            }
        }
        wipe(&mut self.0);
    }
}

/// Reads a typed value out of a JSON tree, with an error that quotes no value.
pub(crate) fn from_json<'a, T: Deserialize<'a>>(
    value: &'a serde_json::Value,
) -> std::result::Result<T, String> {
    T::deserialize(value).map_err(|e| describe_json_error(&e))
}

/// serde_json's message without the values it quotes (`invalid type: string "JBSW..."`):
/// the value may be a secret in the wrong place.
pub(crate) fn describe_json_error(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None if c == '"' || c == '`' => {
                out.push(c);
                quote = Some(c);
            }
            None => out.push(c),
        }
    }
    out
}

/// A secret read from a file as text (base32 in most formats); wiped on drop.
#[derive(Default)]
pub(crate) struct SecretText(pub(crate) Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| SecretText(Zeroizing::new(s)))
    }
}

impl SecretText {
    /// Decodes base32 (see [`otp::decode_secret`]).
    pub(crate) fn decode_base32(&self) -> std::result::Result<SecretBytes, String> {
        otp::decode_secret(&self.0).map_err(reason)
    }
}

/// The reason of an error, for an entry error (the field is in the reason already or the
/// entry's context makes it clear).
pub(crate) fn reason(error: Error) -> String {
    match error {
        Error::InvalidAccount { field, reason } | Error::InvalidUri { field, reason } => {
            format!("{field}: {reason}")
        }
        other => other.to_string(),
    }
}

/// The fields of one entry as most formats carry them, before validation.
pub(crate) struct EntryFields<'a> {
    pub issuer: Option<&'a str>,
    pub name: Option<&'a str>,
    pub kind: OtpKind,
    /// "SHA1", "SHA256", "SHA512" in any case, with or without a dash; `None` is SHA1.
    pub algorithm: Option<&'a str>,
    pub digits: Option<u64>,
    pub period: Option<u64>,
    pub counter: Option<u64>,
    pub secret: SecretBytes,
}

impl EntryFields<'_> {
    /// Validates the fields into an account, or says why not. Control characters in names
    /// become spaces; an empty name falls back to the issuer.
    pub(crate) fn build(self) -> std::result::Result<OtpAuthUri, String> {
        let issuer = self.issuer.map(clean_name).filter(|i| !i.is_empty());
        let name = self.name.map(clean_name).filter(|n| !n.is_empty());
        let (issuer, account_name) = match (issuer, name) {
            (issuer, Some(name)) => (issuer, name),
            (Some(issuer), None) => (None, issuer),
            (None, None) => return Err("the entry has neither a name nor an issuer".into()),
        };
        if self.secret.is_empty() {
            return Err("secret: the secret is empty".into());
        }
        let params = match self.kind {
            OtpKind::Steam => OtpParams::steam(),
            kind => {
                let algorithm = match self.algorithm.map(str::trim).filter(|a| !a.is_empty()) {
                    None => Algorithm::Sha1,
                    Some(name) => {
                        Algorithm::from_name(&name.replace('-', "")).ok_or_else(|| {
                            format!(
                                "algorithm: {:?} is not supported; expected SHA1, SHA256 or SHA512",
                                shorten(name)
                            )
                        })?
                    }
                };
                let digits = self.digits.unwrap_or(6);
                let digits = u8::try_from(digits)
                    .map_err(|_| format!("digits: {digits} digits is not supported"))?;
                let period = match kind {
                    OtpKind::Hotp => 30,
                    _ => {
                        let period = self.period.unwrap_or(30);
                        u32::try_from(period)
                            .map_err(|_| format!("period: {period} seconds is not supported"))?
                    }
                };
                let counter = match kind {
                    OtpKind::Hotp => self.counter.unwrap_or(0),
                    _ => 0,
                };
                OtpParams {
                    kind,
                    algorithm,
                    digits,
                    period,
                    counter,
                }
            }
        };
        params.validate().map_err(reason)?;
        Ok(OtpAuthUri {
            issuer,
            account_name,
            params,
            secret: self.secret,
        })
    }
}

/// "Issuer: name", "name" or "issuer", for entry errors.
pub(crate) fn label(issuer: Option<&str>, name: Option<&str>) -> Option<String> {
    let issuer = issuer.map(clean_name).filter(|s| !s.is_empty());
    let name = name.map(clean_name).filter(|s| !s.is_empty());
    match (issuer, name) {
        (Some(i), Some(n)) => Some(format!("{i}: {n}")),
        (Some(s), None) | (None, Some(s)) => Some(s),
        (None, None) => None,
    }
}

/// Trimmed, with control characters (which would reach terminals and window titles) as
/// spaces.
fn clean_name(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// At most 24 characters of `text`, for messages about values that are not secrets.
pub(crate) fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(24).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

/// Base64 as found in the wild: standard or URL-safe alphabet, padded or not, with line
/// breaks. Returns `None` on anything else.
pub(crate) fn decode_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let cleaned: Zeroizing<String> = Zeroizing::new(
        text.chars()
            .filter(|c| !c.is_ascii_whitespace() && *c != '=')
            .map(|c| match c {
                '-' => '+',
                '_' => '/',
                c => c,
            })
            .collect(),
    );
    data_encoding::BASE64_NOPAD
        .decode(cleaned.as_bytes())
        .ok()
        .map(Zeroizing::new)
}

/// Hexadecimal, either case.
pub(crate) fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(text.trim().as_bytes())
        .ok()
        .map(Zeroizing::new)
}

/// Fixed-size bytes from a decoded field, or an `ImportCorrupt` naming the field.
pub(crate) fn fixed<const N: usize>(
    format: Format,
    field: &str,
    bytes: Option<Zeroizing<Vec<u8>>>,
) -> Result<[u8; N]> {
    bytes
        .and_then(|b| <[u8; N]>::try_from(b.as_slice()).ok())
        .ok_or_else(|| {
            corrupt(
                format,
                format!("{field} is not {N} bytes of the expected encoding"),
            )
        })
}

#[cfg(test)]
mod robustness_tests;

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A fixture from `testdata/`.
    pub(crate) fn fixture(name: &str) -> Vec<u8> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/import/testdata")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Asserts every field of an imported entry.
    #[track_caller]
    pub(crate) fn assert_entry(
        entry: &OtpAuthUri,
        issuer: Option<&str>,
        name: &str,
        params: OtpParams,
        secret_base32: &str,
    ) {
        assert_eq!(entry.issuer.as_deref(), issuer, "issuer of {entry:?}");
        assert_eq!(entry.account_name, name, "name of {entry:?}");
        assert_eq!(entry.params, params, "params of {entry:?}");
        assert_eq!(
            otp::encode_secret(&entry.secret),
            secret_base32,
            "secret of {entry:?}"
        );
    }

    /// The four accounts every format's fixture starts with (see
    /// `testdata/generate_fixtures.py`): TOTP SHA1, TOTP SHA256/8/60, HOTP SHA512, Steam.
    #[track_caller]
    pub(crate) fn assert_shared_fixture_entries(entries: &[OtpAuthUri]) {
        assert!(entries.len() >= 4, "{entries:?}");
        assert_first_three_fixture_entries(entries);
        assert_entry(
            &entries[3],
            Some("Steam"),
            "gaben",
            OtpParams::steam(),
            "KRSXG5BNKN2GKYLN",
        );
    }

    /// The three accounts every format's fixture starts with (formats without Steam
    /// support stop there).
    pub(crate) fn assert_first_three_fixture_entries(entries: &[OtpAuthUri]) {
        assert!(entries.len() >= 3, "{entries:?}");
        assert_entry(
            &entries[0],
            Some("GitHub"),
            "alice@example.com",
            totp(Algorithm::Sha1, 6, 30),
            "JBSWY3DPEHPK3PXP",
        );
        assert_entry(
            &entries[1],
            Some("ACME Co"),
            "bob",
            totp(Algorithm::Sha256, 8, 60),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        );
        assert_entry(
            &entries[2],
            None,
            "carol",
            hotp(Algorithm::Sha512, 6, 42),
            "MZXW6YTB",
        );
    }

    pub(crate) fn totp(algorithm: Algorithm, digits: u8, period: u32) -> OtpParams {
        OtpParams {
            kind: OtpKind::Totp,
            algorithm,
            digits,
            period,
            counter: 0,
        }
    }

    pub(crate) fn hotp(algorithm: Algorithm, digits: u8, counter: u64) -> OtpParams {
        OtpParams {
            algorithm,
            digits,
            ..OtpParams::hotp(counter)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_errors_quote_no_value() {
        let e = serde_json::from_str::<u32>("\"JBSWY3DPEHPK3PXP\"").unwrap_err();
        let shown = describe_json_error(&e);
        assert!(!shown.contains("JBSW"), "{shown}");
        assert!(shown.contains("invalid type"), "{shown}");
    }

    #[test]
    fn names_are_cleaned_and_fall_back_to_the_issuer() {
        let fields = |issuer, name| EntryFields {
            issuer,
            name,
            kind: OtpKind::Totp,
            algorithm: Some("sha-256"),
            digits: Some(8),
            period: Some(60),
            counter: Some(5),
            secret: SecretBytes::new(b"12345".to_vec()),
        };
        let u = fields(Some(" ACME\n"), Some("a\tb ")).build().unwrap();
        assert_eq!(u.issuer.as_deref(), Some("ACME"));
        assert_eq!(u.account_name, "a b");
        assert_eq!(u.params.algorithm, Algorithm::Sha256);
        assert_eq!(
            (u.params.digits, u.params.period, u.params.counter),
            (8, 60, 0)
        );
        let u = fields(Some("ACME"), Some("  ")).build().unwrap();
        assert_eq!((u.issuer, u.account_name.as_str()), (None, "ACME"));
        assert!(fields(None, None).build().unwrap_err().contains("neither"));
    }

    #[test]
    fn unknown_content_is_unrecognized() {
        for bytes in [
            &b""[..],
            b"hello",
            b"{\"a\": 1}",
            b"[1, 2]",
            b"\x00\x01\x02",
        ] {
            assert_eq!(detect(bytes), None);
            assert_eq!(
                import(bytes, None).unwrap_err().code(),
                "import_unrecognized"
            );
        }
    }
}
