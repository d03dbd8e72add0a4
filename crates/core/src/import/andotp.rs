//! andOTP backups: a JSON array of entries, plain or encrypted.
//!
//! Encrypted (`.json.aes`, andOTP 0.6.3+): `iterations` (4 bytes, big-endian) || salt (12)
//! || nonce (12) || AES-256-GCM ciphertext || tag (16), with the key
//! PBKDF2-HMAC-SHA1(password, salt, iterations). andOTP draws the iterations from
//! 140 000..160 000. The file has no magic number: it is recognised by that header.

use super::crypto::{self, Pbkdf2Hash};
use super::{
    EntryFields, Format, ImportEntryError, ImportResult, Importer, JsonTree, SecretText, corrupt,
    from_json, label, require_password,
};
use crate::error::{Error, Result};
use crate::otp::OtpKind;
use crate::otpauth::OtpAuthUri;

pub struct AndOtp;

const HEADER_LEN: usize = 4 + 12 + 12;
const TAG_LEN: usize = 16;
/// Iteration counts accepted. andOTP writes 140 000..160 000; the bounds leave room for
/// other writers while keeping a crafted file from stalling us (and detection honest:
/// random binary rarely starts with a count in this range).
const ITERATIONS: std::ops::RangeInclusive<u32> = 1_000..=10_000_000;

#[derive(serde::Deserialize)]
struct Entry {
    secret: SecretText,
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    digits: Option<u64>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    algorithm: Option<String>,
    #[serde(default)]
    period: Option<u64>,
    #[serde(default)]
    counter: Option<u64>,
}

/// A JSON array whose items are objects with a `secret` and a `type`.
fn is_plain(tree: &JsonTree) -> bool {
    tree.0.as_array().is_some_and(|items| {
        items
            .first()
            .is_some_and(|first| first.get("secret").is_some() && first.get("type").is_some())
    })
}

fn encrypted_iterations(bytes: &[u8]) -> Option<u32> {
    if bytes.len() < HEADER_LEN + TAG_LEN {
        return None;
    }
    let iterations = u32::from_be_bytes(bytes[..4].try_into().ok()?);
    ITERATIONS.contains(&iterations).then_some(iterations)
}

impl Importer for AndOtp {
    fn detect(&self, bytes: &[u8]) -> Option<Format> {
        if let Some(tree) = JsonTree::parse(bytes) {
            return is_plain(&tree).then_some(Format::AndOtp { encrypted: false });
        }
        encrypted_iterations(bytes).map(|_| Format::AndOtp { encrypted: true })
    }

    fn import(&self, bytes: &[u8], password: Option<&str>) -> Result<ImportResult> {
        let format = Format::AndOtp { encrypted: true };
        if let Some(tree) = JsonTree::parse(bytes) {
            if !is_plain(&tree) {
                return Err(corrupt(format, "the file is not an andOTP backup"));
            }
            return Ok(read_entries(&tree.0));
        }
        let iterations = encrypted_iterations(bytes).ok_or_else(|| {
            corrupt(
                format,
                "the file is neither an andOTP JSON backup nor an encrypted one",
            )
        })?;
        let password = require_password(password, format)?;
        let salt = &bytes[4..16];
        let nonce = &bytes[16..28];
        let key = crypto::pbkdf2(Pbkdf2Hash::Sha1, password.as_bytes(), salt, iterations)
            .ok_or_else(|| corrupt(format, "key derivation failed"))?;
        let plaintext = crypto::aes_gcm_open(&key, nonce, b"", &bytes[HEADER_LEN..]).ok_or(
            Error::ImportWrongPassword {
                format: format.name(),
            },
        )?;
        let tree = JsonTree::parse(&plaintext)
            .ok_or_else(|| corrupt(format, "the decrypted backup is not JSON"))?;
        Ok(read_entries(&tree.0))
    }
}

fn read_entries(entries: &serde_json::Value) -> ImportResult {
    let mut result = ImportResult::default();
    for (index, value) in entries.as_array().into_iter().flatten().enumerate() {
        let entry_label = label(
            value.get("issuer").and_then(|v| v.as_str()),
            value.get("label").and_then(|v| v.as_str()),
        );
        match read_entry(value) {
            Ok(uri) => result.entries.push(uri),
            Err(reason) => result.errors.push(ImportEntryError {
                index: Some(index + 1),
                label: entry_label,
                reason,
            }),
        }
    }
    result
}

fn read_entry(value: &serde_json::Value) -> std::result::Result<OtpAuthUri, String> {
    let entry: Entry = from_json(value)?;
    let kind = match entry
        .kind
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("TOTP") => OtpKind::Totp,
        Some("HOTP") => OtpKind::Hotp,
        Some("STEAM") => OtpKind::Steam,
        Some(other) => {
            return Err(format!(
                "type: {} entries are not supported",
                super::shorten(other)
            ));
        }
    };
    // Entries from before andOTP had an issuer field carry "Issuer - name" in the label.
    let (issuer, name) = match (entry.issuer.as_deref(), entry.label.as_deref()) {
        (Some(i), name) if !i.trim().is_empty() => (Some(i), name),
        (_, Some(l)) => match l.split_once(" - ") {
            Some((i, n)) => (Some(i), Some(n)),
            None => (None, Some(l)),
        },
        (_, None) => (None, None),
    };
    EntryFields {
        issuer,
        name,
        kind,
        algorithm: entry.algorithm.as_deref(),
        digits: entry.digits,
        period: entry.period,
        counter: entry.counter,
        secret: entry.secret.decode_base32()?,
    }
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::test_support::*;

    fn assert_fixture_entries(result: &ImportResult) {
        let e = &result.entries;
        assert_eq!(e.len(), 4, "{e:?}");
        assert_shared_fixture_entries(e);
        assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
        let error = &result.errors[0];
        assert_eq!(error.index, Some(5));
        assert_eq!(error.label.as_deref(), Some("Broken: mallory"));
        assert!(
            error.reason.contains("MOTP entries are not supported"),
            "{error}"
        );
    }

    #[test]
    fn plain_backup() {
        let bytes = fixture("andotp_plain.json");
        assert_eq!(
            crate::import::detect(&bytes),
            Some(Format::AndOtp { encrypted: false })
        );
        assert_fixture_entries(&AndOtp.import(&bytes, None).unwrap());
    }

    #[test]
    fn encrypted_backup() {
        let bytes = fixture("andotp_encrypted.json.aes");
        assert_eq!(
            crate::import::detect(&bytes),
            Some(Format::AndOtp { encrypted: true })
        );
        assert_fixture_entries(&AndOtp.import(&bytes, Some("andotp-test-password")).unwrap());
        let e = AndOtp
            .import(&bytes, Some("andotp-test-passwor"))
            .unwrap_err();
        assert_eq!(e.code(), "import_wrong_password");
        assert_eq!(
            AndOtp.import(&bytes, None).unwrap_err().code(),
            "import_password_required"
        );
        // Truncated below the header: not andOTP at all.
        assert_eq!(crate::import::detect(&bytes[..30]), None);
    }
}
