//! The two JWTs a push device signs (PROTOCOL.md §4.3 and §4.5.1), plus the factor-verify
//! signature (§4.2). ES256 with P-256 keys; `p256`'s `SigningKey` signs deterministically
//! (RFC 6979), so the Appendix A vectors are reproduced byte for byte.
//!
//! JSON is written by hand rather than through a map so the key order is exactly the one the
//! Android SDK sends (and the one Appendix A was computed with).

use std::collections::HashMap;

use data_encoding::{BASE64, BASE64URL_NOPAD};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// How long a device JWT is valid (`exp − nbf`), as in both SDKs.
pub const DEVICE_JWT_LIFETIME_SECS: i64 = 600;

/// A push factor's private key. `Debug` never shows it; the scalar is zeroized on drop by
/// `SigningKey` itself.
#[derive(Clone)]
pub struct PushKey(SigningKey);

impl std::fmt::Debug for PushKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushKey(<redacted>)")
    }
}

impl PushKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        PushKey(SigningKey::random(&mut rand::rngs::OsRng))
    }

    /// The key as stored in the keychain: PKCS#8 DER.
    pub fn to_pkcs8_der(&self) -> Result<SecretBytes> {
        let doc = self
            .0
            .to_pkcs8_der()
            .map_err(|_| Error::Keychain("the push key could not be encoded".into()))?;
        Ok(SecretBytes::new(doc.as_bytes().to_vec()))
    }

    pub fn from_pkcs8_der(der: &SecretBytes) -> Result<Self> {
        SigningKey::from_pkcs8_der(der.expose())
            .map(PushKey)
            .map_err(|_| Error::Keychain("a push key in the keychain is not a P-256 key".into()))
    }

    #[cfg(test)]
    fn from_scalar_hex(hex: &str) -> Self {
        let bytes = data_encoding::HEXUPPER.decode(hex.as_bytes()).expect("hex");
        PushKey(SigningKey::from_slice(&bytes).expect("valid scalar"))
    }

    /// `Binding.PublicKey`: standard base64 (padded) of the DER SubjectPublicKeyInfo.
    pub fn public_key_spki_b64(&self) -> Result<String> {
        let der = self
            .0
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| Error::InvalidServerConfig(format!("public key encoding: {e}")))?;
        Ok(BASE64.encode(der.as_bytes()))
    }

    /// Factor-verify `AuthPayload`: standard base64 of the DER ECDSA signature over the
    /// UTF-8 bytes of the factor SID (DER here, not the JOSE form).
    pub fn sign_factor_sid(&self, factor_sid: &str) -> String {
        let signature: Signature = self.0.sign(factor_sid.as_bytes());
        BASE64.encode(signature.to_der().as_bytes())
    }

    /// `header_b64.payload_b64.sig_b64` with a JOSE `r‖s` signature.
    fn sign_jwt(&self, header_json: &str, payload_json: &str) -> String {
        let signing_input = format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(header_json.as_bytes()),
            BASE64URL_NOPAD.encode(payload_json.as_bytes())
        );
        let signature: Signature = self.0.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            BASE64URL_NOPAD.encode(&signature.to_bytes())
        )
    }

    /// The device JWT of every post-enrollment request (§4.3): `kid` is the factor's
    /// credential SID, `sub` its account SID, valid from `now` for ten minutes.
    pub fn device_jwt(&self, credential_sid: &str, account_sid: &str, now: i64) -> String {
        let header = format!(
            r#"{{"cty":"twilio-pba;v=1","kid":{},"typ":"JWT","alg":"ES256"}}"#,
            json_string(credential_sid)
        );
        let payload = format!(
            r#"{{"sub":{},"exp":{},"nbf":{now}}}"#,
            json_string(account_sid),
            now + DEVICE_JWT_LIFETIME_SECS
        );
        self.sign_jwt(&header, &payload)
    }

    /// The `AuthPayload` that approves or denies a challenge (§4.5.1 steps 3–4): the fields
    /// the server named in `Twilio-Verify-Signature-Fields`, copied verbatim from the fetched
    /// body in header order, then `status`.
    pub fn approval_jwt(
        &self,
        body: &HashMap<String, Box<RawValue>>,
        signature_fields: &str,
        status: &str,
    ) -> Result<String> {
        let payload = approval_payload(body, signature_fields, status)?;
        Ok(self.sign_jwt(r#"{"typ":"JWT","alg":"ES256"}"#, &payload))
    }
}

/// Builds the approval payload JSON. Fails when the header is empty or names a field the body
/// lacks (the SDKs' "signature fields" error): signing a partial list would be refused anyway.
pub fn approval_payload(
    body: &HashMap<String, Box<RawValue>>,
    signature_fields: &str,
    status: &str,
) -> Result<String> {
    if signature_fields.is_empty() {
        return Err(Error::ChallengeUnsignable(
            "the server did not say which fields to sign".into(),
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut members: Vec<String> = Vec::new();
    // Split on "," without trimming, as both SDKs do.
    for field in signature_fields.split(',') {
        if seen.contains(&field) {
            continue;
        }
        seen.push(field);
        let value = if field == "status" {
            // Overwritten in place: the new status is what gets signed.
            json_string(status)
        } else {
            body.get(field)
                .ok_or_else(|| {
                    Error::ChallengeUnsignable(format!(
                        "the server asked to sign {field:?}, which the challenge does not have"
                    ))
                })?
                .get()
                .to_string()
        };
        members.push(format!("{}:{value}", json_string(field)));
    }
    if !seen.contains(&"status") {
        members.push(format!(r#""status":{}"#, json_string(status)));
    }
    Ok(format!("{{{}}}", members.join(",")))
}

/// `Authorization` header value for `user:password` Basic auth (standard base64, padded).
pub fn basic_header(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        BASE64.encode(format!("{user}:{password}").as_bytes())
    )
}

fn json_string(text: &str) -> String {
    // Serialising a &str cannot fail.
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    // PROTOCOL.md Appendix A.
    const D: &str = "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";
    const SPKI: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEYP7UuiVanTHJYet0xjVtaMBJuJI7Yfps5mliLmDyn7Z5A/4QCLi8maQa6elWKLxk8vGyDC1+n1F3o8KU1EYimQ==";
    const FACTOR_SID: &str = "YF0123456789abcdef0123456789abcdef";
    const VERIFY_PAYLOAD: &str = "MEQCIHY8Idr5k7eVJ0r5/qKurqgztYe3O17R5Fs1sOVgI9WvAiBtrgyXLUiZGRb53Tyjj7TDYvHKvUFVp1fwASkTc11jJA==";
    const DEVICE_JWT: &str = "eyJjdHkiOiJ0d2lsaW8tcGJhO3Y9MSIsImtpZCI6ImNyZWRlbnRpYWxfc2lkX2V4YW1wbGUiLCJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJBQ2FhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhIiwiZXhwIjoxNzAwMDAwNjAwLCJuYmYiOjE3MDAwMDAwMDB9.sZ--MjcwK_Ld-4WGOVeyOPpRSmHOxMwkXv1W0ur73kmoSGBtXsBOMgoEfya2QS-F8bSaN7jlEuIEj4ggs6D1_w";
    const BASIC: &str = "Basic dG9rZW46ZXlKamRIa2lPaUowZDJsc2FXOHRjR0poTzNZOU1TSXNJbXRwWkNJNkltTnlaV1JsYm5ScFlXeGZjMmxrWDJWNFlXMXdiR1VpTENKMGVYQWlPaUpLVjFRaUxDSmhiR2NpT2lKRlV6STFOaUo5LmV5SnpkV0lpT2lKQlEyRmhZV0ZoWVdGaFlXRmhZV0ZoWVdGaFlXRmhZV0ZoWVdGaFlXRmhZV0ZoSWl3aVpYaHdJam94TnpBd01EQXdOakF3TENKdVltWWlPakUzTURBd01EQXdNREI5LnNaLS1NamN3S19MZC00V0dPVmV5T1BwUlNtSE94TXdrWHYxVzB1cjcza21vU0dCdFhzQk9NZ29FZnlhMlFTLUY4YlNhTjdqbEV1SUVqNGdnczZEMV93";
    const APPROVAL_JWT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiJ9.eyJzaWQiOiJZQzExMTExMTExMTExMTExMTExMTExMTExMTExMTExMTExIiwiZmFjdG9yX3NpZCI6IllGMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYiLCJzdGF0dXMiOiJhcHByb3ZlZCJ9.M9FhKbc6kR9HnskeiMA7JWylURv2WmNv3iDXIzGu828NHrl3R-joWkamCY-h4myPm-SnlE98VNIJ9cTLbWjD-w";

    fn body(json: &str) -> HashMap<String, Box<RawValue>> {
        serde_json::from_str(json).expect("body")
    }

    fn decode_part(part: &str) -> String {
        String::from_utf8(BASE64URL_NOPAD.decode(part.as_bytes()).expect("b64url")).expect("utf8")
    }

    #[test]
    fn public_key_matches_appendix_a() {
        assert_eq!(
            PushKey::from_scalar_hex(D).public_key_spki_b64().unwrap(),
            SPKI
        );
    }

    #[test]
    fn factor_verify_signature_matches_appendix_a() {
        assert_eq!(
            PushKey::from_scalar_hex(D).sign_factor_sid(FACTOR_SID),
            VERIFY_PAYLOAD
        );
    }

    #[test]
    fn device_jwt_and_basic_header_match_appendix_a() {
        let jwt = PushKey::from_scalar_hex(D).device_jwt(
            "credential_sid_example",
            "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            1_700_000_000,
        );
        assert_eq!(jwt, DEVICE_JWT);
        assert_eq!(basic_header("token", &jwt), BASIC);
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(
            decode_part(parts[0]),
            r#"{"cty":"twilio-pba;v=1","kid":"credential_sid_example","typ":"JWT","alg":"ES256"}"#
        );
        assert_eq!(
            decode_part(parts[1]),
            r#"{"sub":"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","exp":1700000600,"nbf":1700000000}"#
        );
    }

    #[test]
    fn approval_jwt_matches_appendix_a() {
        let challenge = body(
            r#"{"status":"pending","factor_sid":"YF0123456789abcdef0123456789abcdef",
                "sid":"YC11111111111111111111111111111111","details":{"message":"hi"}}"#,
        );
        let jwt = PushKey::from_scalar_hex(D)
            .approval_jwt(&challenge, "sid,factor_sid", "approved")
            .unwrap();
        assert_eq!(jwt, APPROVAL_JWT);
    }

    #[test]
    fn approval_payload_copies_values_verbatim_and_overwrites_status_in_place() {
        let challenge = body(
            r#"{"sid":"YC1","status":"pending","details":{"message":"Log in?","fields":[{"label":"IP","value":"10.0.0.1"}]},"hidden_details":null,"n":1.50}"#,
        );
        let payload = approval_payload(
            &challenge,
            "sid,status,details,hidden_details,n,sid",
            "denied",
        )
        .unwrap();
        assert_eq!(
            payload,
            r#"{"sid":"YC1","status":"denied","details":{"message":"Log in?","fields":[{"label":"IP","value":"10.0.0.1"}]},"hidden_details":null,"n":1.50}"#
        );
    }

    #[test]
    fn approval_payload_refuses_missing_or_empty_fields() {
        let challenge = body(r#"{"sid":"YC1"}"#);
        let err = approval_payload(&challenge, "sid,factor_sid", "approved").unwrap_err();
        assert_eq!(err.code(), "challenge_unsignable");
        // No trimming: " factor_sid" is a different (absent) key.
        let challenge = body(r#"{"sid":"YC1","factor_sid":"YF1"}"#);
        let err = approval_payload(&challenge, "sid, factor_sid", "approved").unwrap_err();
        assert_eq!(err.code(), "challenge_unsignable");
        let err = approval_payload(&challenge, "", "approved").unwrap_err();
        assert_eq!(err.code(), "challenge_unsignable");
    }

    #[test]
    fn keys_round_trip_through_pkcs8_and_debug_hides_them() {
        let key = PushKey::generate();
        let der = key.to_pkcs8_der().unwrap();
        let again = PushKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(
            key.public_key_spki_b64().unwrap(),
            again.public_key_spki_b64().unwrap()
        );
        assert_eq!(format!("{key:?}"), "PushKey(<redacted>)");
        assert!(PushKey::from_pkcs8_der(&SecretBytes::new(vec![1, 2, 3])).is_err());
    }

    #[test]
    fn generated_keys_differ() {
        assert_ne!(
            PushKey::generate().public_key_spki_b64().unwrap(),
            PushKey::generate().public_key_spki_b64().unwrap()
        );
    }
}
