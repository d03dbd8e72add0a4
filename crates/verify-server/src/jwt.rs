//! ES256 JWTs as the Verify SDKs produce them (PROTOCOL.md §4.3.3):
//! base64url-nopad segments, a 64-byte JOSE `r‖s` signature, verified over
//! the exact received `header.payload` bytes (never re-serialised, because
//! SDK JSON key order and escaping differ).
//!
//! Keys are parsed and validated with `p256` (it accepts every SEC1 point
//! encoding an SPKI may carry); signatures are verified with `ring`, whose
//! assembly P-256 is several times faster and which the TLS stack already
//! builds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use data_encoding::{BASE64, BASE64URL_NOPAD};
use p256::ecdsa::VerifyingKey;
use p256::pkcs8::DecodePublicKey;
use ring::signature::{ECDSA_P256_SHA256_ASN1, ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::{Map, Value};

/// Length of a JOSE ES256 signature (`r‖s`, 32 bytes each).
const ES256_SIGNATURE_LEN: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("malformed JWT")]
    Malformed,
    #[error("unsupported JWT algorithm")]
    Algorithm,
    #[error("bad JWT signature")]
    Signature,
}

/// A validated P-256 public key, held as the uncompressed SEC1 point that
/// `ring` verifies against.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    sec1_uncompressed: Arc<[u8]>,
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PublicKey(P-256)")
    }
}

impl PublicKey {
    /// ES256: fixed-size `r‖s` signature.
    fn verify_fixed(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.sec1_uncompressed)
            .verify(message, signature)
            .is_ok()
    }

    /// DER `ECDSA-Sig-Value` signature.
    fn verify_der(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.sec1_uncompressed)
            .verify(message, signature)
            .is_ok()
    }
}

/// A structurally valid JWT whose signature has not been checked yet.
#[derive(Debug)]
pub struct UnverifiedJwt<'a> {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> UnverifiedJwt<'a> {
    pub fn parse(token: &'a str) -> Result<UnverifiedJwt<'a>, JwtError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header = decode_object(h)?;
        let payload = decode_object(p)?;
        if header.get("alg").and_then(Value::as_str) != Some("ES256") {
            return Err(JwtError::Algorithm);
        }
        let signature = b64url(s)?;
        if signature.len() != ES256_SIGNATURE_LEN {
            return Err(JwtError::Signature);
        }
        Ok(UnverifiedJwt {
            header,
            payload,
            signing_input: &token[..h.len() + 1 + p.len()],
            signature,
        })
    }

    pub fn verify(&self, key: &PublicKey) -> Result<(), JwtError> {
        if key.verify_fixed(self.signing_input.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(JwtError::Signature)
        }
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }
}

/// Tolerates (strips) `=` padding, which some encoders leave in.
fn b64url(s: &str) -> Result<Vec<u8>, JwtError> {
    BASE64URL_NOPAD
        .decode(s.trim_end_matches('=').as_bytes())
        .map_err(|_| JwtError::Malformed)
}

fn decode_object(seg: &str) -> Result<Map<String, Value>, JwtError> {
    match serde_json::from_slice::<Value>(&b64url(seg)?) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(JwtError::Malformed),
    }
}

/// Parse a `Binding.PublicKey`: standard base64 of a P-256
/// SubjectPublicKeyInfo. `None` for anything else.
pub fn parse_public_key(b64: &str) -> Option<PublicKey> {
    let der = BASE64.decode(b64.trim().as_bytes()).ok()?;
    let key = VerifyingKey::from_public_key_der(&der).ok()?;
    Some(PublicKey {
        sec1_uncompressed: key.to_encoded_point(false).as_bytes().into(),
    })
}

/// Verify a standard-base64 DER ECDSA signature over `message` (the factor
/// verification payload of PROTOCOL.md §4.2).
pub fn verify_der_b64(key: &PublicKey, message: &[u8], sig_b64: &str) -> bool {
    let Ok(der) = BASE64.decode(sig_b64.trim().as_bytes()) else {
        return false;
    };
    key.verify_der(message, &der)
}

/// Parsed factor keys by their stored `binding` text, so the hot path (every
/// device request) skips base64 + DER + point validation. Keys are public
/// and immutable per binding string, so a stale entry cannot be wrong; the
/// map is simply emptied when it grows past `MAX_ENTRIES`.
#[derive(Default)]
pub struct KeyCache {
    keys: Mutex<HashMap<String, PublicKey>>,
}

impl KeyCache {
    const MAX_ENTRIES: usize = 10_000;

    pub fn get(&self, binding: &str) -> Option<PublicKey> {
        // A panic while holding this lock cannot leave the map inconsistent
        // (insert/clear are the only writes), so a poisoned lock is reused.
        if let Some(k) = self
            .keys
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(binding)
        {
            return Some(k.clone());
        }
        let key = parse_public_key(binding)?;
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if keys.len() >= Self::MAX_ENTRIES {
            keys.clear();
        }
        keys.insert(binding.to_string(), key.clone());
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // PROTOCOL.md Appendix A.
    const PK: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ==";
    const DEVICE_JWT: &str = "eyJjdHkiOiJ0d2lsaW8tcGJhO3Y9MSIsImtpZCI6ImNyZWRlbnRpYWxfc2lkX2V4YW1wbGUiLCJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJBQ2FhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhIiwiZXhwIjoxNzAwMDAwNjAwLCJuYmYiOjE3MDAwMDAwMDB9.sZ--MjcwK_Ld-4WGOVeyOPpRSmHOxMwkXv1W0ur73kmoSGBtXsBOMgoEfya2QS-F8bSaN7jlEuIEj4ggs6D1_w";

    #[test]
    fn appendix_a_vectors_verify() {
        let key = parse_public_key(PK).unwrap();
        let jwt = UnverifiedJwt::parse(DEVICE_JWT).unwrap();
        jwt.verify(&key).unwrap();
        assert_eq!(jwt.header_str("kid"), Some("credential_sid_example"));
        assert_eq!(jwt.payload["exp"], 1700000600);
        assert!(verify_der_b64(
            &key,
            b"YF0123456789abcdef0123456789abcdef",
            "MEQCIHY8Idr5k7eVJ0r5/qKurqgztYe3O17R5Fs1sOVgI9WvAiBtrgyXLUiZGRb53Tyjj7TDYvHKvUFVp1fwASkTc11jJA=="
        ));
        assert!(!verify_der_b64(
            &key,
            b"YF0123456789abcdef0123456789abcdee",
            "MEQCIHY8Idr5k7eVJ0r5/qKurqgztYe3O17R5Fs1sOVgI9WvAiBtrgyXLUiZGRb53Tyjj7TDYvHKvUFVp1fwASkTc11jJA=="
        ));
    }

    #[test]
    fn rejects_tampering_and_garbage() {
        let key = parse_public_key(PK).unwrap();
        let mut t = DEVICE_JWT.to_string();
        t.replace_range(40..41, "A");
        assert!(
            UnverifiedJwt::parse(&t)
                .and_then(|j| j.verify(&key))
                .is_err()
        );
        assert_eq!(
            UnverifiedJwt::parse("a.b").unwrap_err(),
            JwtError::Malformed
        );
        assert_eq!(
            UnverifiedJwt::parse("a.b.c.d").unwrap_err(),
            JwtError::Malformed
        );
        assert!(parse_public_key("not base64!").is_none());
        assert!(parse_public_key("AAAA").is_none());
        // A signature of the wrong length never reaches verification.
        let short = format!("{}.AAAA", &DEVICE_JWT[..DEVICE_JWT.rfind('.').unwrap()]);
        assert_eq!(
            UnverifiedJwt::parse(&short).unwrap_err(),
            JwtError::Signature
        );
        // DER verification rejects a JOSE-format signature and vice versa.
        let jose_sig = DEVICE_JWT.rsplit('.').next().unwrap();
        let jose_as_b64 = BASE64.encode(&b64url(jose_sig).unwrap());
        let input = &DEVICE_JWT[..DEVICE_JWT.rfind('.').unwrap()];
        assert!(!verify_der_b64(&key, input.as_bytes(), &jose_as_b64));
    }

    #[test]
    fn key_cache_returns_the_parsed_key_and_rejects_garbage() {
        let cache = KeyCache::default();
        let first = cache.get(PK).unwrap();
        assert_eq!(first, parse_public_key(PK).unwrap());
        assert_eq!(cache.get(PK).unwrap(), first);
        let jwt = UnverifiedJwt::parse(DEVICE_JWT).unwrap();
        jwt.verify(&cache.get(PK).unwrap()).unwrap();
        assert!(cache.get("AAAA").is_none());
        assert_eq!(cache.keys.lock().unwrap().len(), 1);
    }
}
