//! Countersign's encrypted backup, as specified in `docs/BACKUP_FORMAT.md`: a JSON header
//! recording the Argon2id parameters, salt and nonce, and the XChaCha20-Poly1305 ciphertext
//! of a JSON list of accounts. The associated data binds every header value (and a purpose
//! tag), so a header edited to weaken or confuse decryption fails authentication.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::import::crypto;
use crate::import::{
    EntryFields, Format, ImportEntryError, ImportResult, JsonTree, SecretText, corrupt, from_json,
    label, unsupported,
};
use crate::otp::{self, OtpKind};
use crate::otpauth::OtpAuthUri;

/// The `format` value that identifies the file.
pub const FORMAT_NAME: &str = "countersign-backup";
pub const VERSION: u32 = 1;
/// Prefix of the associated data: names the purpose so a key or ciphertext made for
/// something else never authenticates as a backup.
const PURPOSE: &[u8] = b"countersign-backup/v1\0";
const SALT_LEN: usize = 16;

/// Argon2id cost. Import accepts any value within [`KdfParams::is_acceptable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// 64 MiB, 3 passes, 4 lanes: above OWASP's Argon2id recommendations (19-46 MiB).
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 4,
    };

    /// What import accepts: at least 8 MiB, at most 1 GiB, 1-16 passes, 1-16 lanes, and
    /// memory × passes at most 4 GiB (Argon2's time is proportional to it; the default is
    /// 192 MiB). The key is derived before a wrong password can be told, so a crafted file
    /// must not be able to ask for unbounded memory or time.
    pub fn is_acceptable(&self) -> bool {
        /// 4 GiB·pass, in KiB.
        const MAX_WORK_KIB: u64 = 4 * 1024 * 1024;
        (8 * 1024..=1024 * 1024).contains(&self.memory_kib)
            && (1..=16).contains(&self.iterations)
            && (1..=16).contains(&self.parallelism)
            && u64::from(self.memory_kib) * u64::from(self.iterations) <= MAX_WORK_KIB
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    kdf: Kdf,
    cipher: Cipher,
    /// Base64 of ciphertext || 16-byte tag.
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
struct Kdf {
    algorithm: String,
    /// Argon2 version: 19 (0x13).
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
    salt: String,
}

#[derive(Serialize, Deserialize)]
struct Cipher {
    algorithm: String,
    nonce: String,
}

/// The plaintext: `{"version": 1, "exported_at": UNIX_SECONDS, "accounts": [...]}`.
#[derive(Serialize)]
struct Content<'a> {
    version: u32,
    exported_at: u64,
    accounts: Vec<Account<'a>>,
}

#[derive(Serialize)]
struct Account<'a> {
    issuer: Option<&'a str>,
    name: &'a str,
    #[serde(rename = "type")]
    kind: OtpKind,
    algorithm: otp::Algorithm,
    digits: u8,
    period: u32,
    counter: u64,
    /// Base32 without padding.
    secret: &'a str,
}

/// The lenient reading of an account, so that one damaged entry is reported on its own.
#[derive(Deserialize)]
struct StoredAccount {
    #[serde(default)]
    issuer: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    algorithm: Option<String>,
    #[serde(default)]
    digits: Option<u64>,
    #[serde(default)]
    period: Option<u64>,
    #[serde(default)]
    counter: Option<u64>,
    secret: SecretText,
}

fn associated_data(params: &KdfParams, salt: &[u8], nonce: &[u8; 24]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(PURPOSE.len() + 13 + salt.len() + nonce.len());
    aad.extend_from_slice(PURPOSE);
    aad.extend_from_slice(&params.memory_kib.to_be_bytes());
    aad.extend_from_slice(&params.iterations.to_be_bytes());
    aad.extend_from_slice(&params.parallelism.to_be_bytes());
    // Salts are 16..=64 bytes: the length fits one byte.
    aad.push(salt.len() as u8);
    aad.extend_from_slice(salt);
    aad.extend_from_slice(nonce);
    aad
}

/// Encrypts `entries` into a backup file.
pub fn encrypt(entries: &[OtpAuthUri], password: &str, params: &KdfParams) -> Result<Vec<u8>> {
    super::check_password(password)?;
    if !params.is_acceptable() {
        return Err(Error::ExportFailed(
            "the key derivation parameters are outside what import accepts".into(),
        ));
    }
    let secrets: Vec<Zeroizing<String>> = entries
        .iter()
        .map(|e| Zeroizing::new(otp::encode_secret(&e.secret)))
        .collect();
    let content = Content {
        version: VERSION,
        exported_at: crate::vault::unix_now(),
        accounts: entries
            .iter()
            .zip(&secrets)
            .map(|(e, secret)| Account {
                issuer: e.issuer.as_deref(),
                name: &e.account_name,
                kind: e.params.kind,
                algorithm: e.params.algorithm,
                digits: e.params.digits,
                period: e.params.period,
                counter: e.params.counter,
                secret,
            })
            .collect(),
    };
    // Sized generously up front so growing never leaves plaintext copies in freed memory.
    let estimate = 256
        + entries
            .iter()
            .map(|e| 256 + e.account_name.len() * 6)
            .sum::<usize>();
    let mut plaintext = Zeroizing::new(Vec::with_capacity(estimate));
    serde_json::to_writer(&mut *plaintext, &content)
        .map_err(|e| Error::ExportFailed(format!("serialising the accounts failed: {e}")))?;

    let salt: [u8; SALT_LEN] = crypto::random_bytes()?;
    let nonce: [u8; 24] = crypto::random_bytes()?;
    let key = crypto::argon2id(
        password.as_bytes(),
        &salt,
        params.memory_kib,
        params.iterations,
        params.parallelism,
    )
    .ok_or_else(|| Error::ExportFailed("Argon2id refused the parameters".into()))?;
    let aad = associated_data(params, &salt, &nonce);
    let ciphertext = crypto::xchacha_seal(&key, &nonce, &aad, &plaintext)?;
    let b64 = |bytes: &[u8]| data_encoding::BASE64.encode(bytes);
    let header = Header {
        format: FORMAT_NAME.into(),
        version: VERSION,
        kdf: Kdf {
            algorithm: "argon2id".into(),
            version: 19,
            memory_kib: params.memory_kib,
            iterations: params.iterations,
            parallelism: params.parallelism,
            salt: b64(&salt),
        },
        cipher: Cipher {
            algorithm: "xchacha20poly1305".into(),
            nonce: b64(&nonce),
        },
        ciphertext: b64(&ciphertext),
    };
    let mut file = serde_json::to_vec_pretty(&header)
        .map_err(|e| Error::ExportFailed(format!("serialising the header failed: {e}")))?;
    file.push(b'\n');
    Ok(file)
}

/// Whether `bytes` is one of our backups (by its `format` field).
pub(crate) fn is_backup(bytes: &[u8]) -> bool {
    JsonTree::parse(bytes)
        .is_some_and(|tree| tree.0.get("format").and_then(|f| f.as_str()) == Some(FORMAT_NAME))
}

/// Decrypts and reads a backup.
pub(crate) fn decrypt(bytes: &[u8], password: &str) -> Result<ImportResult> {
    let format = Format::Countersign;
    let tree = JsonTree::parse(bytes).ok_or_else(|| corrupt(format, "the file is not JSON"))?;
    let header: Header = from_json(&tree.0).map_err(|r| corrupt(format, format!("header: {r}")))?;
    if header.format != FORMAT_NAME {
        return Err(corrupt(format, "the file is not a Countersign backup"));
    }
    if header.version != VERSION {
        return Err(unsupported(
            format,
            format!(
                "backup version {} is newer than this app knows",
                header.version
            ),
        ));
    }
    if header.kdf.algorithm != "argon2id"
        || header.kdf.version != 19
        || header.cipher.algorithm != "xchacha20poly1305"
    {
        return Err(unsupported(
            format,
            "it uses a key derivation or cipher this app does not know",
        ));
    }
    let params = KdfParams {
        memory_kib: header.kdf.memory_kib,
        iterations: header.kdf.iterations,
        parallelism: header.kdf.parallelism,
    };
    if !params.is_acceptable() {
        return Err(corrupt(
            format,
            "its key derivation parameters are out of range",
        ));
    }
    let salt = crate::import::decode_base64(&header.kdf.salt)
        .filter(|s| (16..=64).contains(&s.len()))
        .ok_or_else(|| corrupt(format, "the salt is not 16 to 64 bytes of base64"))?;
    let nonce = crate::import::fixed::<24>(
        format,
        "the nonce",
        crate::import::decode_base64(&header.cipher.nonce),
    )?;
    let ciphertext = crate::import::decode_base64(&header.ciphertext)
        .ok_or_else(|| corrupt(format, "the ciphertext is not base64"))?;
    let key = crypto::argon2id(
        password.as_bytes(),
        &salt,
        params.memory_kib,
        params.iterations,
        params.parallelism,
    )
    .ok_or_else(|| corrupt(format, "its key derivation parameters are invalid"))?;
    let aad = associated_data(&params, &salt, &nonce);
    let plaintext = crypto::xchacha_open(&key, &nonce, &aad, &ciphertext).ok_or(
        Error::ImportWrongPassword {
            format: format.name(),
        },
    )?;
    let content = JsonTree::parse(&plaintext)
        .ok_or_else(|| corrupt(format, "the decrypted content is not JSON"))?;
    let Some(accounts) = content.0.get("accounts").and_then(|a| a.as_array()) else {
        return Err(corrupt(
            format,
            "the decrypted content has no accounts list",
        ));
    };
    let mut result = ImportResult::default();
    for (index, value) in accounts.iter().enumerate() {
        let entry_label = label(
            value.get("issuer").and_then(|v| v.as_str()),
            value.get("name").and_then(|v| v.as_str()),
        );
        match read_account(value) {
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

fn read_account(value: &serde_json::Value) -> std::result::Result<OtpAuthUri, String> {
    let account: StoredAccount = from_json(value)?;
    let kind = match account.kind.as_str() {
        "totp" => OtpKind::Totp,
        "hotp" => OtpKind::Hotp,
        "steam" => OtpKind::Steam,
        other => {
            return Err(format!(
                "type: unknown type {}",
                crate::import::shorten(other)
            ));
        }
    };
    EntryFields {
        issuer: account.issuer.as_deref(),
        name: account.name.as_deref(),
        kind,
        algorithm: account.algorithm.as_deref(),
        digits: account.digits,
        period: account.period,
        counter: account.counter,
        secret: account.secret.decode_base32()?,
    }
    .build()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::import::test_support::*;
    use crate::import::{CountersignBackup, Importer};
    use crate::otp::{Algorithm, OtpParams};
    use crate::secret::SecretBytes;

    /// Cheap parameters for debug-build tests; the format records them.
    pub(crate) const TEST_PARAMS: KdfParams = KdfParams {
        memory_kib: 8 * 1024,
        iterations: 1,
        parallelism: 1,
    };

    /// Accounts exercising every kind, parameter and awkward name.
    pub(crate) fn sample_entries() -> Vec<OtpAuthUri> {
        let uri = |issuer: Option<&str>, name: &str, params: OtpParams, secret: &[u8]| OtpAuthUri {
            issuer: issuer.map(str::to_string),
            account_name: name.to_string(),
            params,
            secret: SecretBytes::new(secret.to_vec()),
        };
        vec![
            uri(
                Some("GitHub"),
                "alice@example.com",
                totp(Algorithm::Sha1, 6, 30),
                b"Hello!\xde\xad\xbe\xef",
            ),
            uri(
                Some("ACME Co"),
                "bob",
                totp(Algorithm::Sha256, 8, 60),
                b"12345678901234567890123456789012",
            ),
            uri(None, "carol", hotp(Algorithm::Sha512, 7, 42), b"fooba"),
            uri(Some("Steam"), "gaben", OtpParams::steam(), b"Test-Steam"),
            uri(
                Some("Corp: EU"),
                "Zoë’s account+2fa@example.com",
                totp(Algorithm::Sha1, 6, 15),
                &[0u8, 255, 1],
            ),
        ]
    }

    #[test]
    fn reads_the_independently_generated_fixture() {
        let bytes = fixture("countersign_backup.json");
        assert_eq!(crate::import::detect(&bytes), Some(Format::Countersign));
        let result = CountersignBackup
            .import(&bytes, Some("countersign-test-password"))
            .unwrap();
        let e = &result.entries;
        assert_eq!(e.len(), 4, "{e:?}");
        assert_shared_fixture_entries(e);
        assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
        assert_eq!(result.errors[0].index, Some(5));
        assert_eq!(result.errors[0].label.as_deref(), Some("Broken: mallory"));
        assert!(
            result.errors[0].reason.starts_with("digits:"),
            "{}",
            result.errors[0]
        );
    }

    #[test]
    fn round_trip_gives_identical_accounts() {
        let entries = sample_entries();
        let file = encrypt(&entries, "correct horse", &TEST_PARAMS).unwrap();
        let back = CountersignBackup
            .import(&file, Some("correct horse"))
            .unwrap();
        assert!(back.errors.is_empty(), "{:?}", back.errors);
        assert_eq!(back.entries, entries);
        // Fresh salt and nonce each time: two exports of the same accounts differ.
        assert_ne!(
            file,
            encrypt(&entries, "correct horse", &TEST_PARAMS).unwrap()
        );
        // No secret appears in the file.
        let text = String::from_utf8(file).unwrap();
        assert!(
            !text.contains(&otp::encode_secret(&entries[0].secret)),
            "{text}"
        );
    }

    #[test]
    fn wrong_password_and_edited_headers_fail() {
        let file = encrypt(&sample_entries(), "correct horse", &TEST_PARAMS).unwrap();
        let e = CountersignBackup
            .import(&file, Some("correct horsE"))
            .unwrap_err();
        assert_eq!(e.code(), "import_wrong_password");
        assert_eq!(
            CountersignBackup.import(&file, None).unwrap_err().code(),
            "import_password_required"
        );
        // Each header value is bound by the associated data: changing one (to a value the
        // reader still accepts) makes authentication fail even with the right password.
        let text = String::from_utf8(file).unwrap();
        for (from, to) in [
            ("\"iterations\": 1", "\"iterations\": 2"),
            ("\"parallelism\": 1", "\"parallelism\": 2"),
            ("\"memory_kib\": 8192", "\"memory_kib\": 9216"),
        ] {
            let edited = text.replace(from, to);
            assert_ne!(edited, text, "{from}");
            let e = CountersignBackup
                .import(edited.as_bytes(), Some("correct horse"))
                .unwrap_err();
            assert_eq!(e.code(), "import_wrong_password", "{from}: {e}");
        }
        let greedy = text.replace("\"memory_kib\": 8192", "\"memory_kib\": 4194304");
        let e = CountersignBackup
            .import(greedy.as_bytes(), Some("correct horse"))
            .unwrap_err();
        assert_eq!(e.code(), "import_corrupt");
        let newer = text.replace("\"version\": 1,\n  \"kdf\"", "\"version\": 2,\n  \"kdf\"");
        assert_ne!(newer, text);
        let e = CountersignBackup
            .import(newer.as_bytes(), Some("correct horse"))
            .unwrap_err();
        assert_eq!(e.code(), "import_unsupported");
    }

    #[test]
    fn empty_password_and_weak_parameters_are_refused() {
        assert_eq!(
            encrypt(&sample_entries(), "", &TEST_PARAMS)
                .unwrap_err()
                .code(),
            "export_failed"
        );
        let weak = KdfParams {
            memory_kib: 1024,
            ..TEST_PARAMS
        };
        assert_eq!(
            encrypt(&sample_entries(), "pw", &weak).unwrap_err().code(),
            "export_failed"
        );
    }

    #[test]
    fn kdf_work_is_bounded() {
        assert!(KdfParams::DEFAULT.is_acceptable());
        let at_cap = KdfParams {
            memory_kib: 1024 * 1024,
            iterations: 4,
            parallelism: 4,
        };
        assert!(at_cap.is_acceptable());
        // Each value in range, their product (16 GiB·pass) not.
        let slow = KdfParams {
            iterations: 16,
            ..at_cap
        };
        assert!(!slow.is_acceptable());
        let file = encrypt(&sample_entries(), "correct horse", &TEST_PARAMS).unwrap();
        let text = String::from_utf8(file).unwrap();
        let slow_file = text
            .replace("\"memory_kib\": 8192", "\"memory_kib\": 1048576")
            .replace("\"iterations\": 1", "\"iterations\": 16");
        assert_ne!(slow_file, text);
        let start = std::time::Instant::now();
        let e = CountersignBackup
            .import(slow_file.as_bytes(), Some("correct horse"))
            .unwrap_err();
        assert_eq!(e.code(), "import_corrupt", "{e}");
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
