//! A device-side test client that signs exactly as the Verify SDKs do
//! (PROTOCOL.md §4): SPKI public key, DER factor-verification signature,
//! ES256 device JWTs and challenge-approval JWTs with JOSE r‖s signatures.

use data_encoding::{BASE64, BASE64URL_NOPAD};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::EncodePublicKey;
use serde_json::Value;

pub struct Device {
    pub key: SigningKey,
    pub account_sid: String,
    pub factor_sid: String,
    pub credential_sid: String,
}

impl Device {
    pub fn random(account_sid: &str) -> Device {
        Device::from_key(SigningKey::random(&mut rand::rngs::OsRng), account_sid)
    }

    pub fn from_key(key: SigningKey, account_sid: &str) -> Device {
        Device {
            key,
            account_sid: account_sid.to_string(),
            factor_sid: String::new(),
            credential_sid: String::new(),
        }
    }

    /// `Binding.PublicKey`: standard base64 of the DER SubjectPublicKeyInfo.
    pub fn public_key_b64(&self) -> String {
        let der = self.key.verifying_key().to_public_key_der().unwrap();
        BASE64.encode(der.as_bytes())
    }

    /// Factor verification `AuthPayload`: base64 DER signature of the SID.
    pub fn sign_der_b64(&self, message: &str) -> String {
        let sig: Signature = self.key.sign(message.as_bytes());
        BASE64.encode(sig.to_der().as_bytes())
    }

    /// `header_b64.payload_b64.sig_b64` over the given JSON texts.
    pub fn jws(&self, header_json: &str, payload_json: &str) -> String {
        let input = format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(header_json.as_bytes()),
            BASE64URL_NOPAD.encode(payload_json.as_bytes())
        );
        let sig: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", BASE64URL_NOPAD.encode(&sig.to_bytes()))
    }

    /// Device auth JWT (Android key order: cty, kid, typ, alg).
    pub fn device_jwt_at(&self, now: i64) -> String {
        self.jws(
            &format!(
                r#"{{"cty":"twilio-pba;v=1","kid":"{}","typ":"JWT","alg":"ES256"}}"#,
                self.credential_sid
            ),
            &format!(
                r#"{{"sub":"{}","exp":{},"nbf":{}}}"#,
                self.account_sid,
                now + 600,
                now
            ),
        )
    }

    pub fn device_jwt(&self) -> String {
        self.device_jwt_at(now())
    }

    /// Approval JWT: each advertised field copied verbatim from the fetched
    /// body (in header order), then `status` set to the answer.
    pub fn approval_jwt(&self, body: &Value, fields_header: &str, status: &str) -> String {
        let mut parts = Vec::new();
        for field in fields_header.split(',') {
            if field == "status" {
                continue;
            }
            let v = body
                .get(field)
                .unwrap_or_else(|| panic!("field {field} missing"));
            parts.push(format!("{}:{}", serde_json::to_string(field).unwrap(), v));
        }
        parts.push(format!(r#""status":"{status}""#));
        self.jws(
            r#"{"typ":"JWT","alg":"ES256"}"#,
            &format!("{{{}}}", parts.join(",")),
        )
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
