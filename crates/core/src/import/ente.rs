//! Ente Auth's encrypted export (`docs/auth/migration/export.md` of Ente):
//! `{"version": 1, "kdfParams": {"memLimit", "opsLimit", "salt"}, "encryptedData",
//! "encryptionNonce"}`. The key is libsodium's `crypto_pwhash` (Argon2id v1.3, memLimit in
//! bytes, opsLimit passes, one lane) of the password; the data is a libsodium
//! `crypto_secretstream_xchacha20poly1305` stream whose header is `encryptionNonce`; the
//! plaintext is `otpauth://` URIs, one per line.

use dryoc::dryocstream::{DryocStream, Tag};

use super::crypto;
use super::{Format, ImportResult, Importer, JsonTree, corrupt, require_password, unsupported};
use crate::error::{Error, Result};

pub struct Ente;

/// libsodium's largest "sensitive" preset, which Ente starts from: a crafted file could
/// otherwise ask for any amount of memory before the password can be checked.
const MAX_MEM_LIMIT: u64 = 1 << 30;
/// Ente lowers memLimit and raises opsLimit on small devices; memory × passes stays
/// around 4 GiB there. Allow twice that.
const MAX_WORK: u64 = 8 << 30;
/// Passes: Ente doubles opsLimit (from 4) each time it halves memLimit (from 1 GiB), so
/// 1024 is reached only below 4 MiB; more is refused even where memory × passes fits.
const MAX_OPS_LIMIT: u32 = 1024;
/// One secretstream message: Ente's chunk size plus the stream's overhead.
const CHUNK: usize =
    4 * 1024 * 1024 + dryoc::constants::CRYPTO_SECRETSTREAM_XCHACHA20POLY1305_ABYTES;

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Export {
    version: u32,
    kdf_params: KdfParams,
    encrypted_data: String,
    encryption_nonce: String,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct KdfParams {
    mem_limit: u64,
    ops_limit: u32,
    salt: String,
}

fn probe(bytes: &[u8]) -> Option<JsonTree> {
    let tree = JsonTree::parse(bytes)?;
    let object = tree.0.as_object()?;
    (object.contains_key("kdfParams") && object.contains_key("encryptedData")).then_some(tree)
}

impl Importer for Ente {
    fn detect(&self, bytes: &[u8]) -> Option<Format> {
        probe(bytes).map(|_| Format::Ente)
    }

    fn import(&self, bytes: &[u8], password: Option<&str>) -> Result<ImportResult> {
        let format = Format::Ente;
        let tree = probe(bytes).ok_or_else(|| corrupt(format, "the file is not an Ente export"))?;
        let export: Export = super::from_json(&tree.0).map_err(|r| corrupt(format, r))?;
        if export.version != 1 {
            return Err(unsupported(
                format,
                format!(
                    "export version {} is newer than this app knows",
                    export.version
                ),
            ));
        }
        let password = require_password(password, format)?;
        let kdf = &export.kdf_params;
        if kdf.mem_limit < 8 * 1024
            || kdf.mem_limit > MAX_MEM_LIMIT
            || kdf.ops_limit == 0
            || kdf.ops_limit > MAX_OPS_LIMIT
            || kdf.mem_limit.saturating_mul(u64::from(kdf.ops_limit)) > MAX_WORK
        {
            return Err(corrupt(
                format,
                "its key derivation parameters are out of range",
            ));
        }
        let salt = super::decode_base64(&kdf.salt)
            .filter(|s| s.len() == 16)
            .ok_or_else(|| corrupt(format, "the salt is not 16 bytes of base64"))?;
        let header = super::fixed::<24>(
            format,
            "encryptionNonce",
            super::decode_base64(&export.encryption_nonce),
        )?;
        let ciphertext = super::decode_base64(&export.encrypted_data)
            .ok_or_else(|| corrupt(format, "encryptedData is not base64"))?;
        let memory_kib = u32::try_from(kdf.mem_limit / 1024)
            .map_err(|_| corrupt(format, "memLimit is out of range"))?;
        let key = crypto::argon2id(password.as_bytes(), &salt, memory_kib, kdf.ops_limit, 1)
            .ok_or_else(|| corrupt(format, "its key derivation parameters are invalid"))?;
        let plaintext = open_stream(&key, &header, &ciphertext)?;
        let text = std::str::from_utf8(&plaintext)
            .map_err(|_| corrupt(format, "the decrypted export is not text"))?;
        Ok(super::uri_list::parse_lines(text))
    }
}

/// Decrypts a whole secretstream, which must end with a final-tagged message.
fn open_stream(
    key: &[u8; 32],
    header: &[u8; 24],
    ciphertext: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    let format = Format::Ente;
    let mut stream = DryocStream::init_pull(key, header);
    let mut plaintext = zeroize::Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    let mut chunks = ciphertext.chunks(CHUNK).peekable();
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let (message, tag): (Vec<u8>, Tag) = match stream.pull_to_vec(chunk, None) {
            Ok(pulled) => pulled,
            // Only the first message tells a wrong password from damage; later ones fail
            // only if the file was altered.
            Err(_) if first => {
                return Err(Error::ImportWrongPassword {
                    format: format.name(),
                });
            }
            Err(_) => return Err(corrupt(format, "the encrypted data was altered")),
        };
        let message = zeroize::Zeroizing::new(message);
        first = false;
        plaintext.extend_from_slice(&message);
        match (tag, chunks.peek().is_some()) {
            (Tag::Final, false) => return Ok(plaintext),
            (Tag::Final, true) => {
                return Err(corrupt(format, "data follows the end of the stream"));
            }
            (_, false) => return Err(corrupt(format, "the encrypted data is truncated")),
            (_, true) => {}
        }
    }
    Err(corrupt(format, "the encrypted data is empty"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::test_support::*;

    #[test]
    fn encrypted_export() {
        let bytes = fixture("ente_encrypted.json");
        assert_eq!(crate::import::detect(&bytes), Some(Format::Ente));
        let result = Ente.import(&bytes, Some("ente-test-password")).unwrap();
        let e = &result.entries;
        assert_eq!(e.len(), 4, "{e:?}");
        assert_shared_fixture_entries(e);
        assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
        assert_eq!(result.errors[0].index, Some(5));
        assert!(
            result.errors[0].reason.starts_with("secret:"),
            "{}",
            result.errors[0]
        );
    }

    #[test]
    fn wrong_password_and_damage() {
        let bytes = fixture("ente_encrypted.json");
        assert_eq!(
            Ente.import(&bytes, Some("ente-test-passworD"))
                .unwrap_err()
                .code(),
            "import_wrong_password"
        );
        assert_eq!(
            Ente.import(&bytes, None).unwrap_err().code(),
            "import_password_required"
        );
        let text = String::from_utf8(bytes).unwrap();
        let greedy = text.replace("\"memLimit\": 8388608", "\"memLimit\": 4294967296");
        assert_ne!(greedy, text);
        assert_eq!(
            Ente.import(greedy.as_bytes(), Some("x"))
                .unwrap_err()
                .code(),
            "import_corrupt"
        );
        // 8 KiB × 1025 passes is far within the memory × passes bound, but too many
        // passes: refused before Argon2 runs. 1024 passes are tried.
        let passes = |ops: u32| {
            text.replace("\"memLimit\": 8388608", "\"memLimit\": 8192")
                .replace("\"opsLimit\": 2", &format!("\"opsLimit\": {ops}"))
        };
        assert_eq!(
            Ente.import(passes(1024).as_bytes(), Some("x"))
                .unwrap_err()
                .code(),
            "import_wrong_password"
        );
        assert_eq!(
            Ente.import(passes(1025).as_bytes(), Some("x"))
                .unwrap_err()
                .code(),
            "import_corrupt"
        );
        let newer = text.replace("\"version\": 1", "\"version\": 2");
        assert_eq!(
            Ente.import(newer.as_bytes(), Some("x")).unwrap_err().code(),
            "import_unsupported"
        );
    }
}
