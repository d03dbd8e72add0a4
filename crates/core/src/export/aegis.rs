//! An encrypted Aegis vault (Aegis's `docs/vault.md`), so accounts can move to Aegis: vault
//! version 1, one password slot (type 1) wrapping a random master key with
//! scrypt(password, n = 2^15, r = 8, p = 1), and the content (version 3, as current Aegis
//! writes it) encrypted with the master key under AES-256-GCM.

use serde::Serialize;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::import::aegis::{Header, KeyParams, PASSWORD_SLOT, Slot};
use crate::import::crypto;
use crate::otp::{self, OtpKind};
use crate::otpauth::OtpAuthUri;

/// scrypt cost of the password slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptParams {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

impl ScryptParams {
    /// What Aegis itself writes: n = 32768, r = 8, p = 1.
    pub const AEGIS_DEFAULT: ScryptParams = ScryptParams {
        log_n: 15,
        r: 8,
        p: 1,
    };
}

#[derive(Serialize)]
struct VaultFile {
    version: u32,
    header: Header,
    db: String,
}

#[derive(Serialize)]
struct Content<'a> {
    version: u32,
    entries: Vec<Entry<'a>>,
    groups: [(); 0],
    icons_optimized: bool,
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    uuid: String,
    name: &'a str,
    /// Aegis requires the field; "" when there is no issuer.
    issuer: &'a str,
    note: &'static str,
    favorite: bool,
    icon: Option<()>,
    info: Info<'a>,
    groups: [(); 0],
}

#[derive(Serialize)]
struct Info<'a> {
    secret: &'a str,
    algo: &'static str,
    digits: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    period: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    counter: Option<u64>,
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Encrypts `entries` into an Aegis vault file.
pub fn encrypt(entries: &[OtpAuthUri], password: &str, params: &ScryptParams) -> Result<Vec<u8>> {
    super::check_password(password)?;
    let secrets: Vec<Zeroizing<String>> = entries
        .iter()
        .map(|e| Zeroizing::new(otp::encode_secret(&e.secret)))
        .collect();
    let content = Content {
        version: 3,
        entries: entries
            .iter()
            .zip(&secrets)
            .map(|(e, secret)| {
                let p = &e.params;
                Entry {
                    kind: p.kind.as_str(),
                    uuid: Uuid::new_v4().to_string(),
                    name: &e.account_name,
                    issuer: e.issuer.as_deref().unwrap_or(""),
                    note: "",
                    favorite: false,
                    icon: None,
                    info: Info {
                        secret,
                        algo: p.algorithm.as_str(),
                        digits: p.digits,
                        period: (p.kind != OtpKind::Hotp).then_some(p.period),
                        counter: (p.kind == OtpKind::Hotp).then_some(p.counter),
                    },
                    groups: [],
                }
            })
            .collect(),
        groups: [],
        icons_optimized: true,
    };
    let estimate = 256
        + entries
            .iter()
            .map(|e| 384 + e.account_name.len() * 6)
            .sum::<usize>();
    let mut plaintext = Zeroizing::new(Vec::with_capacity(estimate));
    serde_json::to_writer(&mut *plaintext, &content)
        .map_err(|e| Error::ExportFailed(format!("serialising the accounts failed: {e}")))?;

    let master_key: Zeroizing<[u8; 32]> = Zeroizing::new(crypto::random_bytes()?);
    let salt: [u8; 32] = crypto::random_bytes()?;
    let slot_nonce: [u8; 12] = crypto::random_bytes()?;
    let db_nonce: [u8; 12] = crypto::random_bytes()?;
    let slot_key = crypto::scrypt(password.as_bytes(), &salt, params.log_n, params.r, params.p)
        .ok_or_else(|| Error::ExportFailed("scrypt refused the parameters".into()))?;
    let (wrapped_key, slot_tag) =
        crypto::aes_gcm_seal(&slot_key, &slot_nonce, master_key.as_slice())?;
    let (db, db_tag) = crypto::aes_gcm_seal(&master_key, &db_nonce, &plaintext)?;
    let vault = VaultFile {
        version: 1,
        header: Header {
            slots: Some(vec![Slot {
                kind: PASSWORD_SLOT,
                uuid: Some(Uuid::new_v4().to_string()),
                key: hex(&wrapped_key),
                key_params: KeyParams {
                    nonce: hex(&slot_nonce),
                    tag: hex(&slot_tag),
                },
                n: Some(1u64 << params.log_n),
                r: Some(params.r),
                p: Some(params.p),
                salt: Some(hex(&salt)),
                repaired: Some(true),
                is_backup: Some(false),
            }]),
            params: Some(KeyParams {
                nonce: hex(&db_nonce),
                tag: hex(&db_tag),
            }),
        },
        db: data_encoding::BASE64.encode(&db),
    };
    let mut file = serde_json::to_vec_pretty(&vault)
        .map_err(|e| Error::ExportFailed(format!("serialising the vault failed: {e}")))?;
    file.push(b'\n');
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Aegis, Format, Importer, JsonTree};

    const TEST_PARAMS: ScryptParams = ScryptParams {
        log_n: 10,
        r: 8,
        p: 1,
    };

    #[test]
    fn round_trips_through_the_aegis_importer() {
        let entries = crate::export::countersign::tests::sample_entries();
        let file = encrypt(&entries, "aegis pw", &TEST_PARAMS).unwrap();
        assert_eq!(
            crate::import::detect(&file),
            Some(Format::Aegis { encrypted: true })
        );
        let back = Aegis.import(&file, Some("aegis pw")).unwrap();
        assert!(back.errors.is_empty(), "{:?}", back.errors);
        assert_eq!(back.entries, entries);
        assert_eq!(
            Aegis.import(&file, Some("aegis PW")).unwrap_err().code(),
            "import_wrong_password"
        );
    }

    /// The structure Aegis's own reader requires, checked on the file itself.
    #[test]
    fn has_the_structure_aegis_expects() {
        let entries = crate::export::countersign::tests::sample_entries();
        let file = encrypt(&entries, "aegis pw", &TEST_PARAMS).unwrap();
        let tree = JsonTree::parse(&file).unwrap();
        let v = &tree.0;
        assert_eq!(v["version"], 1);
        assert!(v["db"].is_string());
        let slots = v["header"]["slots"].as_array().unwrap();
        assert_eq!(slots.len(), 1);
        let slot = &slots[0];
        assert_eq!(slot["type"], 1);
        assert_eq!(slot["n"], 1024);
        assert_eq!((slot["r"].as_u64(), slot["p"].as_u64()), (Some(8), Some(1)));
        assert_eq!(slot["salt"].as_str().unwrap().len(), 64);
        assert_eq!(
            slot["key"].as_str().unwrap().len(),
            64,
            "a wrapped 256-bit key"
        );
        assert_eq!(slot["key_params"]["nonce"].as_str().unwrap().len(), 24);
        assert_eq!(slot["key_params"]["tag"].as_str().unwrap().len(), 32);
        assert!(Uuid::parse_str(slot["uuid"].as_str().unwrap()).is_ok());
        assert_eq!(v["header"]["params"]["nonce"].as_str().unwrap().len(), 24);
        assert_eq!(v["header"]["params"]["tag"].as_str().unwrap().len(), 32);
    }

    #[test]
    fn the_default_cost_is_aegis_own() {
        assert_eq!(
            ScryptParams::AEGIS_DEFAULT,
            ScryptParams {
                log_n: 15,
                r: 8,
                p: 1
            }
        );
        assert_eq!(
            encrypt(&[], "", &TEST_PARAMS).unwrap_err().code(),
            "export_failed"
        );
    }
}
