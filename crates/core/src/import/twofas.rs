//! 2FAS backups (`.2fas`), plain or encrypted.
//!
//! Plain: `{"services": [{"name", "secret", "otp": {"account", "issuer", "digits",
//! "period", "algorithm", "counter", "tokenType"}}], "schemaVersion", ...}`. Encrypted: the
//! same with `services` empty and `servicesEncrypted` = `base64(ciphertext || tag) ":"
//! base64(salt) ":" base64(iv)`: AES-256-GCM of the services JSON array under
//! PBKDF2-HMAC-SHA256(password, salt, 10 000 iterations).

use super::crypto::{self, Pbkdf2Hash};
use super::{
    EntryFields, Format, ImportEntryError, ImportResult, Importer, JsonTree, SecretText, corrupt,
    from_json, label, require_password,
};
use crate::error::{Error, Result};
use crate::otp::OtpKind;
use crate::otpauth::OtpAuthUri;

pub struct TwoFas;

const ITERATIONS: u32 = 10_000;

#[derive(serde::Deserialize)]
struct Service {
    #[serde(default)]
    name: Option<String>,
    secret: SecretText,
    #[serde(default)]
    otp: Otp,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Otp {
    account: Option<String>,
    issuer: Option<String>,
    label: Option<String>,
    digits: Option<u64>,
    period: Option<u64>,
    algorithm: Option<String>,
    counter: Option<u64>,
    token_type: Option<String>,
}

fn probe(bytes: &[u8]) -> Option<(JsonTree, bool)> {
    let tree = JsonTree::parse(bytes)?;
    let object = tree.0.as_object()?;
    let encrypted = object
        .get("servicesEncrypted")
        .is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()));
    let services = object.get("services").is_some_and(|v| v.is_array());
    (object.contains_key("schemaVersion") && (encrypted || services)).then_some(())?;
    Some((tree, encrypted))
}

impl Importer for TwoFas {
    fn detect(&self, bytes: &[u8]) -> Option<Format> {
        probe(bytes).map(|(_, encrypted)| Format::TwoFas { encrypted })
    }

    fn import(&self, bytes: &[u8], password: Option<&str>) -> Result<ImportResult> {
        let format = Format::TwoFas { encrypted: true };
        let (tree, encrypted) =
            probe(bytes).ok_or_else(|| corrupt(format, "the file is not a 2FAS backup"))?;
        if !encrypted {
            return Ok(read_services(&tree.0["services"]));
        }
        let password = require_password(password, format)?;
        let sealed = tree.0["servicesEncrypted"].as_str().unwrap_or_default();
        let mut parts = sealed.split(':');
        let (Some(ciphertext), Some(salt), Some(iv), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(corrupt(
                format,
                "servicesEncrypted is not three base64 parts separated by ':'",
            ));
        };
        let ciphertext = super::decode_base64(ciphertext)
            .ok_or_else(|| corrupt(format, "the encrypted services are not base64"))?;
        let salt =
            super::decode_base64(salt).ok_or_else(|| corrupt(format, "the salt is not base64"))?;
        let iv = super::fixed::<12>(format, "the IV", super::decode_base64(iv))?;
        let key = crypto::pbkdf2(Pbkdf2Hash::Sha256, password.as_bytes(), &salt, ITERATIONS)
            .ok_or_else(|| corrupt(format, "key derivation failed"))?;
        let plaintext = crypto::aes_gcm_open(&key, &iv, b"", &ciphertext).ok_or(
            Error::ImportWrongPassword {
                format: format.name(),
            },
        )?;
        let services = JsonTree::parse(&plaintext)
            .ok_or_else(|| corrupt(format, "the decrypted services are not JSON"))?;
        Ok(read_services(&services.0))
    }
}

fn read_services(services: &serde_json::Value) -> ImportResult {
    let mut result = ImportResult::default();
    let Some(services) = services.as_array() else {
        result.errors.push(ImportEntryError {
            index: None,
            label: None,
            reason: "the backup has no services list".into(),
        });
        return result;
    };
    for (index, value) in services.iter().enumerate() {
        let text = |key: &str| {
            value
                .get("otp")
                .and_then(|o| o.get(key))
                .and_then(|v| v.as_str())
        };
        let entry_label = label(
            text("issuer").or_else(|| value.get("name").and_then(|v| v.as_str())),
            text("account"),
        );
        match read_service(value) {
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

fn read_service(value: &serde_json::Value) -> std::result::Result<OtpAuthUri, String> {
    let service: Service = from_json(value)?;
    let otp = &service.otp;
    let kind = match otp
        .token_type
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
    // 2FAS's service name is what it shows as the issuer; `otp.issuer` is the one from the
    // QR code, when there was one.
    let issuer = otp
        .issuer
        .as_deref()
        .filter(|i| !i.trim().is_empty())
        .or(service.name.as_deref());
    // The account, or the label's part after "Issuer:" for entries added by hand.
    let name = otp
        .account
        .as_deref()
        .filter(|a| !a.trim().is_empty())
        .or_else(|| {
            otp.label
                .as_deref()
                .map(|l| l.split_once(':').map(|(_, a)| a).unwrap_or(l))
        });
    EntryFields {
        issuer,
        name,
        kind,
        algorithm: otp.algorithm.as_deref(),
        digits: otp.digits,
        period: otp.period,
        counter: otp.counter,
        secret: service.secret.decode_base32()?,
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
        assert!(error.reason.starts_with("algorithm:"), "{error}");
    }

    #[test]
    fn plain_backup() {
        let bytes = fixture("twofas_plain.2fas");
        assert_eq!(
            crate::import::detect(&bytes),
            Some(Format::TwoFas { encrypted: false })
        );
        assert_fixture_entries(&TwoFas.import(&bytes, None).unwrap());
    }

    #[test]
    fn encrypted_backup() {
        let bytes = fixture("twofas_encrypted.2fas");
        assert_eq!(
            crate::import::detect(&bytes),
            Some(Format::TwoFas { encrypted: true })
        );
        assert_fixture_entries(&TwoFas.import(&bytes, Some("2fas-test-password")).unwrap());
        let e = TwoFas
            .import(&bytes, Some("2fas-test-passwore"))
            .unwrap_err();
        assert_eq!(e.code(), "import_wrong_password");
        assert_eq!(
            TwoFas.import(&bytes, None).unwrap_err().code(),
            "import_password_required"
        );
        let text = String::from_utf8(bytes).unwrap();
        let cut = text.replacen(
            "\"servicesEncrypted\": \"",
            "\"servicesEncrypted\": \"x:",
            1,
        );
        assert_eq!(
            TwoFas.import(cut.as_bytes(), Some("x")).unwrap_err().code(),
            "import_corrupt"
        );
    }
}
