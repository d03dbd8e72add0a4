//! ES256 JWTs as the Verify SDKs produce them (PROTOCOL.md §4.3.3):
//! base64url-nopad segments, a 64-byte JOSE `r‖s` signature, verified over
//! the exact received `header.payload` bytes (never re-serialised, because
//! SDK JSON key order and escaping differ).

use data_encoding::{BASE64, BASE64URL_NOPAD};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("malformed JWT")]
    Malformed,
    #[error("unsupported JWT algorithm")]
    Algorithm,
    #[error("bad JWT signature")]
    Signature,
}

/// A structurally valid JWT whose signature has not been checked yet.
#[derive(Debug)]
pub struct UnverifiedJwt<'a> {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    signing_input: &'a str,
    signature: Signature,
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
        let sig = b64url(s)?;
        let signature = Signature::from_slice(&sig).map_err(|_| JwtError::Signature)?;
        Ok(UnverifiedJwt {
            header,
            payload,
            signing_input: &token[..h.len() + 1 + p.len()],
            signature,
        })
    }

    pub fn verify(&self, key: &VerifyingKey) -> Result<(), JwtError> {
        key.verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwtError::Signature)
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
pub fn parse_public_key(b64: &str) -> Option<VerifyingKey> {
    let der = BASE64.decode(b64.trim().as_bytes()).ok()?;
    VerifyingKey::from_public_key_der(&der).ok()
}

/// Verify a standard-base64 DER ECDSA signature over `message` (the factor
/// verification payload of PROTOCOL.md §4.2).
pub fn verify_der_b64(key: &VerifyingKey, message: &[u8], sig_b64: &str) -> bool {
    let Ok(der) = BASE64.decode(sig_b64.trim().as_bytes()) else {
        return false;
    };
    let Ok(sig) = Signature::from_der(&der) else {
        return false;
    };
    key.verify(message, &sig).is_ok()
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
    }
}
