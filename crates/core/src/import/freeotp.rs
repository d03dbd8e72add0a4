//! FreeOTP+'s JSON export: `{"tokenOrder": [...], "tokens": [{"algo", "counter", "digits",
//! "issuerExt", "label", "period", "secret", "type"}]}` where `secret` is the raw key as an
//! array of signed bytes (Java's `byte[]`). `issuerAlt`/`labelAlt`, when set, are the names
//! the user edited and win.

use super::{
    EntryFields, Format, ImportEntryError, ImportResult, Importer, JsonTree, corrupt, from_json,
    label,
};
use crate::error::Result;
use crate::otp::OtpKind;
use crate::otpauth::OtpAuthUri;
use crate::secret::SecretBytes;

pub struct FreeOtpPlus;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Token {
    #[serde(default)]
    algo: Option<String>,
    #[serde(default)]
    counter: Option<u64>,
    #[serde(default)]
    digits: Option<u64>,
    #[serde(default)]
    issuer_ext: Option<String>,
    #[serde(default)]
    issuer_int: Option<String>,
    #[serde(default)]
    issuer_alt: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    label_alt: Option<String>,
    #[serde(default)]
    period: Option<u64>,
    #[serde(rename = "type", default)]
    kind: Option<String>,
}

fn probe(bytes: &[u8]) -> Option<JsonTree> {
    let tree = JsonTree::parse(bytes)?;
    tree.0.get("tokens")?.as_array()?;
    Some(tree)
}

fn non_empty(text: &Option<String>) -> Option<&str> {
    text.as_deref().filter(|t| !t.trim().is_empty())
}

impl Importer for FreeOtpPlus {
    fn detect(&self, bytes: &[u8]) -> Option<Format> {
        probe(bytes).map(|_| Format::FreeOtpPlus)
    }

    fn import(&self, bytes: &[u8], _password: Option<&str>) -> Result<ImportResult> {
        let tree = probe(bytes)
            .ok_or_else(|| corrupt(Format::FreeOtpPlus, "the file is not a FreeOTP+ export"))?;
        let mut result = ImportResult::default();
        let tokens = tree.0["tokens"].as_array().into_iter().flatten();
        for (index, value) in tokens.enumerate() {
            let text = |key: &str| value.get(key).and_then(|v| v.as_str());
            let entry_label = label(
                text("issuerAlt").or(text("issuerExt")),
                text("labelAlt").or(text("label")),
            );
            match read_token(value) {
                Ok(uri) => result.entries.push(uri),
                Err(reason) => result.errors.push(ImportEntryError {
                    index: Some(index + 1),
                    label: entry_label,
                    reason,
                }),
            }
        }
        Ok(result)
    }
}

fn read_token(value: &serde_json::Value) -> std::result::Result<OtpAuthUri, String> {
    let token: Token = from_json(value)?;
    let kind = match token
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
                "type: {} tokens are not supported",
                super::shorten(other)
            ));
        }
    };
    let secret = read_signed_bytes(value.get("secret"))?;
    EntryFields {
        issuer: non_empty(&token.issuer_alt)
            .or(non_empty(&token.issuer_ext))
            .or(non_empty(&token.issuer_int)),
        name: non_empty(&token.label_alt).or(non_empty(&token.label)),
        kind,
        algorithm: token.algo.as_deref(),
        digits: token.digits,
        period: token.period,
        counter: token.counter,
        secret,
    }
    .build()
}

/// Java's `byte[]` as JSON: numbers in -128..=127 (0..=255 accepted too).
fn read_signed_bytes(
    value: Option<&serde_json::Value>,
) -> std::result::Result<SecretBytes, String> {
    let items = value
        .and_then(|v| v.as_array())
        .ok_or("secret: expected an array of bytes")?;
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(items.len()));
    for item in items {
        let byte = item
            .as_i64()
            .filter(|b| (-128..=255).contains(b))
            .ok_or("secret: an element is not a byte (-128 to 255)")?;
        bytes.push(byte as u8);
    }
    Ok(SecretBytes::new(std::mem::take(&mut *bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::test_support::*;

    #[test]
    fn reads_tokens_with_signed_byte_secrets() {
        let bytes = fixture("freeotp_plus.json");
        assert_eq!(crate::import::detect(&bytes), Some(Format::FreeOtpPlus));
        let result = FreeOtpPlus.import(&bytes, None).unwrap();
        let e = &result.entries;
        assert_eq!(e.len(), 3, "{e:?}");
        assert_first_three_fixture_entries(e);
        assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
        let error = &result.errors[0];
        assert_eq!(error.index, Some(4));
        assert_eq!(error.label.as_deref(), Some("Broken: mallory"));
        assert!(error.reason.contains("not a byte"), "{error}");
    }

    #[test]
    fn edited_names_win() {
        let bytes = br#"{"tokens": [{"issuerExt": "Old", "issuerAlt": "New", "label": "a",
            "labelAlt": "b", "secret": [-1, 0, 127], "type": "TOTP"}]}"#;
        let result = FreeOtpPlus.import(bytes, None).unwrap();
        let u = &result.entries[0];
        assert_eq!(
            (u.issuer.as_deref(), u.account_name.as_str()),
            (Some("New"), "b")
        );
        assert_eq!(u.secret.expose(), &[0xff, 0, 0x7f]);
    }
}
