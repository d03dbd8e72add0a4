//! Aegis vault files (`docs/vault.md` of Aegis), plain or encrypted.
//!
//! `{"version": 1, "header": {"slots", "params"}, "db"}`: `db` is the content object when
//! plain, or base64 of its AES-256-GCM ciphertext under a random master key when encrypted.
//! The master key is wrapped once per slot; password slots (type 1) wrap it with
//! scrypt(password, salt, n, r, p). We try every password slot, never assuming the first
//! slot is one (a biometric slot usually comes first).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::crypto;
use super::{
    EntryFields, Format, ImportEntryError, ImportResult, Importer, JsonTree, SecretText, corrupt,
    from_json, label, require_password, unsupported,
};
use crate::error::{Error, Result};
use crate::otp::OtpKind;

pub struct Aegis;

/// Slot type of a password-derived key.
pub(crate) const PASSWORD_SLOT: u8 = 1;

/// Bounds on a file's scrypt parameters: the key must be derived before a wrong password
/// can be told, so a crafted file could otherwise ask for any amount of memory and time.
/// Aegis uses n = 2^15, r = 8, p = 1 (32 MiB, work n·r·p = 2^18). All are checked for every
/// password slot before any scrypt runs.
const MAX_SCRYPT_LOG_N: u32 = 20;
const MAX_SCRYPT_R: u32 = 16;
const MAX_SCRYPT_P: u32 = 16;
/// 128·n·r bytes.
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
/// n·r·p of one slot (scrypt's time is proportional to it): 32 times Aegis's default, about
/// a second or two here, e.g. n = 2^20, r = 8, p = 1.
const MAX_SCRYPT_WORK: u64 = 1 << 23;
/// n·r·p summed over all the password slots of a file: two slots at the per-slot maximum,
/// or 64 at Aegis's default.
const MAX_TOTAL_SCRYPT_WORK: u64 = 1 << 24;
/// Password slots a file may list. Aegis writes one per password (usually one); a file
/// with more is refused (`ImportCorrupt`) rather than partly tried.
const MAX_PASSWORD_SLOTS: usize = 8;

#[derive(Serialize, Deserialize)]
pub(crate) struct Header {
    pub slots: Option<Vec<Slot>>,
    pub params: Option<KeyParams>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Slot {
    #[serde(rename = "type")]
    pub kind: u8,
    pub uuid: Option<String>,
    /// Hex of the wrapped master key.
    pub key: String,
    pub key_params: KeyParams,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<u32>,
    /// Hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repaired: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_backup: Option<bool>,
}

/// AES-GCM nonce and tag, hex.
#[derive(Serialize, Deserialize)]
pub(crate) struct KeyParams {
    pub nonce: String,
    pub tag: String,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    issuer: Option<String>,
    info: Info,
}

#[derive(Deserialize)]
struct Info {
    secret: SecretText,
    #[serde(default)]
    algo: Option<String>,
    #[serde(default)]
    digits: Option<u64>,
    #[serde(default)]
    period: Option<u64>,
    #[serde(default)]
    counter: Option<u64>,
}

fn probe(bytes: &[u8]) -> Option<(JsonTree, bool)> {
    let tree = JsonTree::parse(bytes)?;
    let object = tree.0.as_object()?;
    if !object.contains_key("header") {
        return None;
    }
    let encrypted = match object.get("db")? {
        serde_json::Value::String(_) => true,
        serde_json::Value::Object(_) => false,
        _ => return None,
    };
    Some((tree, encrypted))
}

impl Importer for Aegis {
    fn detect(&self, bytes: &[u8]) -> Option<Format> {
        probe(bytes).map(|(_, encrypted)| Format::Aegis { encrypted })
    }

    fn import(&self, bytes: &[u8], password: Option<&str>) -> Result<ImportResult> {
        let format = Format::Aegis { encrypted: true };
        let (tree, encrypted) =
            probe(bytes).ok_or_else(|| corrupt(format, "the file is not an Aegis vault"))?;
        let db = &tree.0["db"];
        if !encrypted {
            return Ok(read_content(db));
        }
        let password = require_password(password, format)?;
        let header: Header =
            from_json(&tree.0["header"]).map_err(|r| corrupt(format, format!("header: {r}")))?;
        let ciphertext = db
            .as_str()
            .and_then(super::decode_base64)
            .ok_or_else(|| corrupt(format, "db is not base64"))?;
        let plaintext = decrypt(&header, &ciphertext, password)?;
        let content = JsonTree::parse(&plaintext)
            .ok_or_else(|| corrupt(format, "the decrypted content is not JSON"))?;
        Ok(read_content(&content.0))
    }
}

/// The decrypted content of an encrypted vault.
fn decrypt(header: &Header, ciphertext: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>> {
    let format = Format::Aegis { encrypted: true };
    let params = header
        .params
        .as_ref()
        .ok_or_else(|| corrupt(format, "the header has no params"))?;
    let nonce = super::fixed::<12>(
        format,
        "header.params.nonce",
        super::decode_hex(&params.nonce),
    )?;
    let tag = super::fixed::<16>(format, "header.params.tag", super::decode_hex(&params.tag))?;
    let slots = header.slots.as_deref().unwrap_or_default();
    let password_slots: Vec<&Slot> = slots.iter().filter(|s| s.kind == PASSWORD_SLOT).collect();
    if password_slots.is_empty() {
        return Err(unsupported(
            format,
            "it has no password slot (only biometric or raw keys); add a password in Aegis and export again",
        ));
    }
    if password_slots.len() > MAX_PASSWORD_SLOTS {
        return Err(corrupt(
            format,
            format!(
                "it lists {} password slots; at most {MAX_PASSWORD_SLOTS} are accepted",
                password_slots.len()
            ),
        ));
    }
    // Every slot's parameters are checked, and their total work bounded, before any
    // scrypt runs: a file cannot make us spend the budget and then fail.
    let mut total_work: u64 = 0;
    for slot in &password_slots {
        total_work = total_work.saturating_add(scrypt_params(slot)?.work);
    }
    if total_work > MAX_TOTAL_SCRYPT_WORK {
        return Err(corrupt(
            format,
            "its password slots together ask for more scrypt work than accepted",
        ));
    }
    for slot in password_slots {
        let Some(master_key) = unwrap_master_key(slot, password.as_bytes())? else {
            continue;
        };
        let mut sealed = ciphertext.to_vec();
        sealed.extend_from_slice(&tag);
        return crypto::aes_gcm_open(&master_key, &nonce, b"", &sealed)
            .ok_or_else(|| corrupt(format, "the vault content does not match its master key"));
    }
    Err(Error::ImportWrongPassword {
        format: format.name(),
    })
}

/// A password slot's scrypt parameters, checked against the bounds above.
struct ScryptParams {
    log_n: u8,
    r: u32,
    p: u32,
    /// n·r·p.
    work: u64,
}

fn bad_slot(what: &str) -> Error {
    corrupt(
        Format::Aegis { encrypted: true },
        format!("a password slot has {what}"),
    )
}

fn scrypt_params(slot: &Slot) -> Result<ScryptParams> {
    let (Some(n), Some(r), Some(p)) = (slot.n, slot.r, slot.p) else {
        return Err(bad_slot("no scrypt parameters"));
    };
    if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 {
        return Err(bad_slot("invalid scrypt parameters"));
    }
    let log_n = n.trailing_zeros();
    if log_n > MAX_SCRYPT_LOG_N || r > MAX_SCRYPT_R || p > MAX_SCRYPT_P {
        return Err(bad_slot(&format!(
            "scrypt parameters above the accepted n ≤ 2^{MAX_SCRYPT_LOG_N}, \
             r ≤ {MAX_SCRYPT_R}, p ≤ {MAX_SCRYPT_P}"
        )));
    }
    // In range now: n ≤ 2^20 and r, p ≤ 16 cannot overflow.
    if 128 * n * u64::from(r) > MAX_SCRYPT_MEMORY {
        return Err(bad_slot(
            "scrypt parameters asking for more than 1 GiB of memory",
        ));
    }
    let work = n * u64::from(r) * u64::from(p);
    if work > MAX_SCRYPT_WORK {
        return Err(bad_slot(
            "scrypt parameters asking for more work than accepted (n·r·p ≤ 2^23)",
        ));
    }
    Ok(ScryptParams {
        log_n: log_n as u8,
        r,
        p,
        work,
    })
}

/// The master key if `password` opens `slot`, `None` if it does not.
fn unwrap_master_key(slot: &Slot, password: &[u8]) -> Result<Option<crypto::Key32>> {
    let format = Format::Aegis { encrypted: true };
    let bad = bad_slot;
    let ScryptParams { log_n, r, p, .. } = scrypt_params(slot)?;
    let salt = slot
        .salt
        .as_deref()
        .ok_or_else(|| bad("no scrypt parameters"))?;
    let salt = super::decode_hex(salt).ok_or_else(|| bad("a salt that is not hex"))?;
    let wrapped = super::decode_hex(&slot.key).ok_or_else(|| bad("a key that is not hex"))?;
    let nonce = super::fixed::<12>(
        format,
        "slot nonce",
        super::decode_hex(&slot.key_params.nonce),
    )?;
    let tag = super::fixed::<16>(format, "slot tag", super::decode_hex(&slot.key_params.tag))?;
    let slot_key = crypto::scrypt(password, &salt, log_n, r, p)
        .ok_or_else(|| bad("scrypt parameters scrypt refuses"))?;
    let mut sealed = wrapped.to_vec();
    sealed.extend_from_slice(&tag);
    let Some(master) = crypto::aes_gcm_open(&slot_key, &nonce, b"", &sealed) else {
        return Ok(None);
    };
    let master = <[u8; 32]>::try_from(master.as_slice())
        .map_err(|_| bad("a master key that is not 256 bits"))?;
    Ok(Some(Zeroizing::new(master)))
}

/// The entries of the (decrypted) content object `{"version", "entries": [...]}`.
fn read_content(content: &serde_json::Value) -> ImportResult {
    let mut result = ImportResult::default();
    let Some(entries) = content.get("entries").and_then(|e| e.as_array()) else {
        result.errors.push(ImportEntryError {
            index: None,
            label: None,
            reason: "the vault has no entries list".into(),
        });
        return result;
    };
    for (index, value) in entries.iter().enumerate() {
        let entry_label = label(
            value.get("issuer").and_then(|v| v.as_str()),
            value.get("name").and_then(|v| v.as_str()),
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

fn read_entry(
    value: &serde_json::Value,
) -> std::result::Result<crate::otpauth::OtpAuthUri, String> {
    let entry: Entry = from_json(value)?;
    let kind = match entry.kind.to_ascii_lowercase().as_str() {
        "totp" => OtpKind::Totp,
        "hotp" => OtpKind::Hotp,
        "steam" => OtpKind::Steam,
        other => {
            return Err(format!(
                "type: {} accounts are not supported",
                super::shorten(other)
            ));
        }
    };
    let info = entry.info;
    EntryFields {
        issuer: entry.issuer.as_deref(),
        name: entry.name.as_deref(),
        kind,
        algorithm: info.algo.as_deref(),
        digits: info.digits,
        period: info.period,
        counter: info.counter,
        secret: info.secret.decode_base32()?,
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
        let errors: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(result.errors[0].index, Some(5));
        assert_eq!(result.errors[0].label.as_deref(), Some("Yandex: ivan"));
        assert!(
            errors[0].contains("yandex accounts are not supported"),
            "{errors:?}"
        );
        assert_eq!(result.errors[1].index, Some(6));
        assert_eq!(result.errors[1].label.as_deref(), Some("Broken: mallory"));
        assert!(errors[1].contains("secret:"), "{errors:?}");
        assert!(!errors[1].contains("NOT0BASE32"), "{errors:?}");
    }

    #[test]
    fn plain_vault() {
        let bytes = fixture("aegis_plain.json");
        assert_eq!(
            crate::import::detect(&bytes),
            Some(Format::Aegis { encrypted: false })
        );
        assert_fixture_entries(&Aegis.import(&bytes, None).unwrap());
    }

    #[test]
    fn encrypted_vault_uses_the_password_slot_not_the_first() {
        let bytes = fixture("aegis_encrypted.json");
        assert_eq!(
            crate::import::detect(&bytes),
            Some(Format::Aegis { encrypted: true })
        );
        // The fixture's first slot is a biometric one holding the master key under a
        // random key: trying it with the password would fail.
        let tree = JsonTree::parse(&bytes).unwrap();
        assert_eq!(tree.0["header"]["slots"][0]["type"], 2);
        assert_fixture_entries(&Aegis.import(&bytes, Some("aegis-test-password")).unwrap());
    }

    #[test]
    fn wrong_or_missing_password() {
        let bytes = fixture("aegis_encrypted.json");
        let e = Aegis.import(&bytes, Some("wrong")).unwrap_err();
        assert_eq!(e.code(), "import_wrong_password");
        let e = Aegis.import(&bytes, None).unwrap_err();
        assert_eq!(e.code(), "import_password_required");
    }

    /// The fixture with its password slot (scrypt n = 1024) changed by `edit` and repeated
    /// `copies` times.
    fn with_password_slots(copies: usize, edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
        let mut vault: serde_json::Value =
            serde_json::from_slice(&fixture("aegis_encrypted.json")).unwrap();
        let slots = vault["header"]["slots"].as_array_mut().unwrap();
        let mut password_slot = slots.iter().find(|s| s["type"] == 1).unwrap().clone();
        edit(&mut password_slot);
        slots.retain(|s| s["type"] != 1);
        slots.extend(std::iter::repeat_n(password_slot, copies));
        serde_json::to_vec(&vault).unwrap()
    }

    #[test]
    fn at_most_eight_password_slots() {
        let eight = with_password_slots(MAX_PASSWORD_SLOTS, |_| {});
        assert_fixture_entries(&Aegis.import(&eight, Some("aegis-test-password")).unwrap());
        let nine = with_password_slots(MAX_PASSWORD_SLOTS + 1, |_| {});
        let e = Aegis
            .import(&nine, Some("aegis-test-password"))
            .unwrap_err();
        assert_eq!(e.code(), "import_corrupt", "{e}");
        assert!(e.to_string().contains("9 password slots"), "{e}");
        let many = with_password_slots(10_000, |_| {});
        let e = Aegis.import(&many, Some("x")).unwrap_err();
        assert_eq!(e.code(), "import_corrupt", "{e}");
    }

    #[test]
    fn scrypt_parameters_are_bounded_before_any_scrypt_runs() {
        let refused = |edit: &dyn Fn(&mut serde_json::Value), copies: usize| {
            let bytes = with_password_slots(copies, edit);
            let start = std::time::Instant::now();
            let e = Aegis
                .import(&bytes, Some("aegis-test-password"))
                .unwrap_err();
            // Refused from the header alone: no scrypt of that size ran.
            assert!(start.elapsed() < std::time::Duration::from_secs(1), "{e}");
            assert_eq!(e.code(), "import_corrupt", "{e}");
            e.to_string()
        };
        // n = 2^30 (128 GiB at the fixture's r = 8): the bound on n, checked first.
        let e = refused(&|s| s["n"] = (1u64 << 30).into(), 1);
        assert!(e.contains("n ≤ 2^20"), "{e}");
        let e = refused(&|s| s["r"] = 17.into(), 1);
        assert!(e.contains("r ≤ 16"), "{e}");
        let e = refused(&|s| s["p"] = 17.into(), 1);
        assert!(e.contains("p ≤ 16"), "{e}");
        // 2^20 · 16 · 128 B = 2 GiB.
        let e = refused(
            &|s| {
                s["n"] = (1u64 << 20).into();
                s["r"] = 16.into();
            },
            1,
        );
        assert!(e.contains("1 GiB"), "{e}");
        // 1 GiB of memory, p = 16: 16 times the per-slot work.
        let e = refused(
            &|s| {
                s["n"] = (1u64 << 20).into();
                s["p"] = 16.into();
            },
            1,
        );
        assert!(e.contains("more work"), "{e}");
        // Each slot within bounds (2^22 work), five of them over the total (2^24).
        let e = refused(
            &|s| {
                s["n"] = (1u64 << 19).into();
                s["r"] = 8.into();
            },
            5,
        );
        assert!(e.contains("together"), "{e}");
        // A slot listed later is checked before an earlier one is tried.
        let mut vault: serde_json::Value =
            serde_json::from_slice(&with_password_slots(2, |_| {})).unwrap();
        let slots = vault["header"]["slots"].as_array_mut().unwrap();
        slots.last_mut().unwrap()["n"] = (1u64 << 30).into();
        let e = Aegis
            .import(
                &serde_json::to_vec(&vault).unwrap(),
                Some("aegis-test-password"),
            )
            .unwrap_err();
        assert_eq!(e.code(), "import_corrupt", "{e}");
    }

    #[test]
    fn hostile_or_damaged_headers() {
        let bytes = fixture("aegis_encrypted.json");
        let text = String::from_utf8(bytes).unwrap();
        let huge = text.replace("\"n\": 1024", "\"n\": 4294967296");
        assert_ne!(huge, text);
        let e = Aegis.import(huge.as_bytes(), Some("x")).unwrap_err();
        assert_eq!(e.code(), "import_corrupt", "{e}");
        let no_password_slot = text.replace("\"type\": 1", "\"type\": 2");
        let e = Aegis
            .import(no_password_slot.as_bytes(), Some("x"))
            .unwrap_err();
        assert_eq!(e.code(), "import_unsupported", "{e}");
    }
}
