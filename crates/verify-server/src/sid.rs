//! Twilio-style SIDs: a two-letter prefix plus 32 lower-case hex digits.

use rand::RngCore;

pub const ACCOUNT: &str = "AC";
pub const SERVICE: &str = "VA";
pub const ENTITY: &str = "YE";
pub const FACTOR: &str = "YF";
pub const CHALLENGE: &str = "YC";
pub const ACCESS_TOKEN: &str = "YK";
pub const NOTIFICATION: &str = "NT";
pub const WEBHOOK: &str = "YW";

/// A fresh random SID with the given prefix (34 chars).
pub fn new_sid(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", data_encoding::HEXLOWER.encode(&bytes))
}

/// Whether `s` is a well-formed SID with this prefix (hex case-insensitive,
/// as in the spec's `^VA[0-9a-fA-F]{32}$` patterns).
pub fn is_sid(s: &str, prefix: &str) -> bool {
    s.len() == 34 && s.starts_with(prefix) && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// A random opaque secret, base64url without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    data_encoding::BASE64URL_NOPAD.encode(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_have_prefix_and_length() {
        for p in [
            ACCOUNT,
            SERVICE,
            ENTITY,
            FACTOR,
            CHALLENGE,
            ACCESS_TOKEN,
            NOTIFICATION,
            WEBHOOK,
        ] {
            let s = new_sid(p);
            assert_eq!(s.len(), 34);
            assert!(is_sid(&s, p), "{s}");
        }
        assert!(!is_sid("VAxyz", SERVICE));
        assert!(!is_sid(&new_sid(FACTOR), SERVICE));
    }
}
