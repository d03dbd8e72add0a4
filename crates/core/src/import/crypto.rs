//! The primitives the import and export formats are built from, behind small functions so
//! each format reads as its documentation does. Keys and plaintexts are `Zeroizing`.
//!
//! PBKDF2, AES-256-GCM and randomness come from ring (already built for TLS); scrypt,
//! Argon2id and XChaCha20-Poly1305 from RustCrypto; libsodium's secretstream from dryoc.

use std::num::NonZeroU32;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

pub(crate) type Key32 = Zeroizing<[u8; 32]>;

/// The hash of a PBKDF2 derivation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pbkdf2Hash {
    Sha1,
    Sha256,
}

/// PBKDF2-HMAC with a 256-bit output. `None` for zero iterations.
pub(crate) fn pbkdf2(
    hash: Pbkdf2Hash,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
) -> Option<Key32> {
    let iterations = NonZeroU32::new(iterations)?;
    let algorithm = match hash {
        Pbkdf2Hash::Sha1 => ring::pbkdf2::PBKDF2_HMAC_SHA1,
        Pbkdf2Hash::Sha256 => ring::pbkdf2::PBKDF2_HMAC_SHA256,
    };
    let mut key = Zeroizing::new([0u8; 32]);
    ring::pbkdf2::derive(algorithm, iterations, salt, password, key.as_mut_slice());
    Some(key)
}

/// scrypt with a 256-bit output. `None` for parameters scrypt refuses.
pub(crate) fn scrypt(password: &[u8], salt: &[u8], log_n: u8, r: u32, p: u32) -> Option<Key32> {
    let params = scrypt::Params::new(log_n, r, p).ok()?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password, salt, &params, key.as_mut_slice()).ok()?;
    Some(key)
}

/// Argon2id (version 0x13) with a 256-bit output; `memory_kib` is in KiB. `None` for
/// parameters Argon2 refuses.
pub(crate) fn argon2id(
    password: &[u8],
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Option<Key32> {
    let params = argon2::Params::new(memory_kib, iterations, parallelism, Some(32)).ok()?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(password, salt, key.as_mut_slice())
        .ok()?;
    Some(key)
}

/// AES-256-GCM decryption of `ciphertext || tag`. `None` when the tag does not verify
/// (wrong key or altered data) or the nonce is not 96 bits.
pub(crate) fn aes_gcm_open(
    key: &[u8; 32],
    nonce: &[u8],
    aad: &[u8],
    ciphertext_and_tag: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buffer = Zeroizing::new(ciphertext_and_tag.to_vec());
    let plain_len = key
        .open_in_place(nonce, Aad::from(aad), buffer.as_mut_slice())
        .ok()?
        .len();
    buffer.truncate(plain_len);
    Some(buffer)
}

/// AES-256-GCM encryption: returns `(ciphertext, tag)` separately, as Aegis stores them.
pub(crate) fn aes_gcm_seal(
    key: &[u8; 32],
    nonce: &[u8; 12],
    plaintext: &[u8],
) -> Result<(Vec<u8>, [u8; 16])> {
    let failed = || Error::ExportFailed("AES-GCM encryption failed".into());
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).map_err(|_| failed())?);
    let mut buffer = plaintext.to_vec();
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::empty(),
            &mut buffer,
        )
        .map_err(|_| failed())?;
    let mut tag_bytes = [0u8; 16];
    tag_bytes.copy_from_slice(tag.as_ref());
    Ok((buffer, tag_bytes))
}

/// XChaCha20-Poly1305 decryption of `ciphertext || tag`; `None` when the tag does not verify.
pub(crate) fn xchacha_open(
    key: &[u8; 32],
    nonce: &[u8; 24],
    aad: &[u8],
    ciphertext_and_tag: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    use chacha20poly1305::aead::AeadInOut;
    use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    let mut buffer = Zeroizing::new(ciphertext_and_tag.to_vec());
    cipher
        .decrypt_in_place(&(*nonce).into(), aad, &mut *buffer)
        .ok()?;
    Some(buffer)
}

/// XChaCha20-Poly1305 encryption; returns `ciphertext || tag`.
pub(crate) fn xchacha_seal(
    key: &[u8; 32],
    nonce: &[u8; 24],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>> {
    use chacha20poly1305::aead::AeadInOut;
    use chacha20poly1305::{KeyInit, XChaCha20Poly1305};
    let cipher = XChaCha20Poly1305::new(&(*key).into());
    let mut buffer = plaintext.to_vec();
    cipher
        .encrypt_in_place(&(*nonce).into(), aad, &mut buffer)
        .map_err(|_| Error::ExportFailed("XChaCha20-Poly1305 encryption failed".into()))?;
    Ok(buffer)
}

/// `N` bytes from the operating system's CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::ExportFailed("the operating system gave no random bytes".into()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6070 test vector 2 (PBKDF2-HMAC-SHA1, 2 iterations), first 20 bytes.
    #[test]
    fn pbkdf2_sha1_matches_rfc6070() {
        let key = pbkdf2(Pbkdf2Hash::Sha1, b"password", b"salt", 2).unwrap();
        assert_eq!(
            data_encoding::HEXLOWER.encode(&key[..20]),
            "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"
        );
        assert!(pbkdf2(Pbkdf2Hash::Sha1, b"password", b"salt", 0).is_none());
    }

    #[test]
    fn aead_round_trips_and_rejects_tampering() {
        let key = [7u8; 32];
        let (mut ciphertext, tag) = aes_gcm_seal(&key, &[1u8; 12], b"hello").unwrap();
        let mut joined = ciphertext.clone();
        joined.extend_from_slice(&tag);
        assert_eq!(
            aes_gcm_open(&key, &[1u8; 12], b"", &joined)
                .unwrap()
                .as_slice(),
            b"hello"
        );
        assert!(aes_gcm_open(&[8u8; 32], &[1u8; 12], b"", &joined).is_none());
        ciphertext[0] ^= 1;
        ciphertext.extend_from_slice(&tag);
        assert!(aes_gcm_open(&key, &[1u8; 12], b"", &ciphertext).is_none());

        let sealed = xchacha_seal(&key, &[2u8; 24], b"header", b"hello").unwrap();
        assert_eq!(
            xchacha_open(&key, &[2u8; 24], b"header", &sealed)
                .unwrap()
                .as_slice(),
            b"hello"
        );
        assert!(xchacha_open(&key, &[2u8; 24], b"other", &sealed).is_none());
    }
}
