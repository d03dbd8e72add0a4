//! Bitwarden's unencrypted JSON export: `{"encrypted": false, "items": [...]}` where login
//! items may carry `login.totp` as an `otpauth://` URI, a `steam://` URI or a bare base32
//! secret (then the item's name is the issuer and its username the account). Items without
//! a TOTP are passwords, not accounts for us, and are skipped silently.
//!
//! Password-protected and account-restricted exports (`"encrypted": true`) are refused:
//! export again as unencrypted JSON.

use super::{
    EntryFields, Format, ImportEntryError, ImportResult, Importer, JsonTree, corrupt, label,
    unsupported,
};
use crate::error::Result;
use crate::otp::OtpKind;
use crate::otpauth::OtpAuthUri;
use crate::secret::SecretBytes;
use zeroize::Zeroizing;

pub struct Bitwarden;

fn probe(bytes: &[u8]) -> Option<JsonTree> {
    let tree = JsonTree::parse(bytes)?;
    let object = tree.0.as_object()?;
    (object.get("items").is_some_and(|i| i.is_array())
        || object.get("encrypted").is_some_and(|e| e.is_boolean()))
    .then_some(tree)
}

impl Importer for Bitwarden {
    fn detect(&self, bytes: &[u8]) -> Option<Format> {
        probe(bytes).map(|_| Format::Bitwarden)
    }

    fn import(&self, bytes: &[u8], _password: Option<&str>) -> Result<ImportResult> {
        let format = Format::Bitwarden;
        let tree =
            probe(bytes).ok_or_else(|| corrupt(format, "the file is not a Bitwarden export"))?;
        if tree.0.get("encrypted").and_then(|e| e.as_bool()) == Some(true) {
            return Err(unsupported(
                format,
                "it is encrypted; export the vault again as \".json\" (not \".json (Encrypted)\")",
            ));
        }
        let mut result = ImportResult::default();
        let items = tree.0.get("items").and_then(|i| i.as_array());
        for (index, item) in items.into_iter().flatten().enumerate() {
            fn text(value: Option<&serde_json::Value>) -> Option<&str> {
                value.and_then(|v| v.as_str())
            }
            let login = item.get("login");
            let Some(totp) =
                text(login.and_then(|l| l.get("totp"))).filter(|t| !t.trim().is_empty())
            else {
                continue;
            };
            let name = text(item.get("name"));
            let username = text(login.and_then(|l| l.get("username")));
            match read_totp(totp, name, username) {
                Ok(uri) => result.entries.push(uri),
                Err(reason) => result.errors.push(ImportEntryError {
                    index: Some(index + 1),
                    label: label(name, username),
                    reason,
                }),
            }
        }
        Ok(result)
    }
}

fn read_totp(
    totp: &str,
    item_name: Option<&str>,
    username: Option<&str>,
) -> std::result::Result<OtpAuthUri, String> {
    let totp = totp.trim();
    let lower = totp.get(..10).unwrap_or(totp).to_ascii_lowercase();
    if lower.starts_with("otpauth://") || lower.starts_with("steam://") {
        let mut uri = OtpAuthUri::parse(totp).map_err(super::reason)?;
        // steam:// carries no account; the login's username is the better name.
        if lower.starts_with("steam://")
            && let Some(user) = username.map(str::trim).filter(|u| !u.is_empty())
        {
            uri.account_name = user.to_string();
        }
        // A URI without an issuer gets the item's name, unless that is just the account.
        if uri.issuer.is_none()
            && let Some(name) = item_name.map(str::trim).filter(|n| !n.is_empty())
            && !name.eq_ignore_ascii_case(&uri.account_name)
        {
            uri.issuer = Some(name.to_string());
        }
        return Ok(uri);
    }
    // A bare secret, as Bitwarden's "Authenticator key" field also accepts.
    let secret: SecretBytes =
        crate::otp::decode_secret(&Zeroizing::new(totp.to_string())).map_err(super::reason)?;
    EntryFields {
        issuer: item_name,
        name: username,
        kind: OtpKind::Totp,
        algorithm: None,
        digits: None,
        period: None,
        counter: None,
        secret,
    }
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::test_support::*;

    #[test]
    fn reads_totp_fields_in_every_form() {
        let bytes = fixture("bitwarden.json");
        assert_eq!(crate::import::detect(&bytes), Some(Format::Bitwarden));
        let result = Bitwarden.import(&bytes, None).unwrap();
        let e = &result.entries;
        assert_eq!(e.len(), 4, "{e:?}");
        assert_shared_fixture_entries(e);
        // Items 5 (a login without TOTP) and 6 (a note) are skipped, not errors.
        assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
        let error = &result.errors[0];
        assert_eq!(error.index, Some(7));
        assert_eq!(error.label.as_deref(), Some("Broken: mallory"));
        assert!(error.reason.starts_with("secret:"), "{error}");
        assert!(!error.reason.contains("NOT0BASE32"), "{error}");
    }

    #[test]
    fn encrypted_exports_are_refused() {
        let bytes = br#"{"encrypted": true, "passwordProtected": true, "salt": "x", "data": "y"}"#;
        assert_eq!(crate::import::detect(bytes), Some(Format::Bitwarden));
        assert_eq!(
            Bitwarden.import(bytes, None).unwrap_err().code(),
            "import_unsupported"
        );
    }
}
