//! RFC 6238 TOTP codes and Google-Authenticator `otpauth://` URIs.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    Sha1,
    Sha256,
    Sha512,
}

impl Alg {
    pub fn parse(s: &str) -> Option<Alg> {
        match s {
            "sha1" => Some(Alg::Sha1),
            "sha256" => Some(Alg::Sha256),
            "sha512" => Some(Alg::Sha512),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Sha1 => "sha1",
            Alg::Sha256 => "sha256",
            Alg::Sha512 => "sha512",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Params {
    pub alg: Alg,
    pub digits: u32,
    pub step: u64,
    pub skew: u64,
}

fn hmac_digest(alg: Alg, key: &[u8], msg: &[u8]) -> Vec<u8> {
    macro_rules! run {
        ($d:ty) => {{
            match Hmac::<$d>::new_from_slice(key) {
                Ok(mut m) => {
                    m.update(msg);
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }};
    }
    match alg {
        Alg::Sha1 => run!(sha1::Sha1),
        Alg::Sha256 => run!(sha2::Sha256),
        Alg::Sha512 => run!(sha2::Sha512),
    }
}

/// The code for time-step counter `counter`.
pub fn code_at(secret: &[u8], p: &Params, counter: u64) -> String {
    let digest = hmac_digest(p.alg, secret, &counter.to_be_bytes());
    let Some(last) = digest.last() else {
        return String::new();
    };
    let off = (last & 0x0f) as usize;
    let bin = u32::from_be_bytes([
        digest[off] & 0x7f,
        digest[off + 1],
        digest[off + 2],
        digest[off + 3],
    ]);
    let modulo = 10u64.pow(p.digits);
    format!(
        "{:0width$}",
        u64::from(bin) % modulo,
        width = p.digits as usize
    )
}

/// The time step (counter) at which `code` is valid at Unix time `now`,
/// allowing `skew` steps either way, and later than `after` when given: a
/// code is accepted once (RFC 6238 §5.2), so the caller passes the last
/// step it accepted. The earliest qualifying step wins.
pub fn matching_step(
    secret: &[u8],
    p: &Params,
    now: i64,
    code: &str,
    after: Option<u64>,
) -> Option<u64> {
    if now < 0 || p.step == 0 {
        return None;
    }
    let current = now as u64 / p.step;
    let mut found = None;
    // Compare all candidates without early exit.
    for c in (current.saturating_sub(p.skew)..=current + p.skew).rev() {
        let candidate = code_at(secret, p, c);
        let matches = bool::from(subtle::ConstantTimeEq::ct_eq(
            candidate.as_bytes(),
            code.as_bytes(),
        ));
        if matches && after.is_none_or(|a| c > a) {
            found = Some(c);
        }
    }
    found
}

/// Key-URI label/query escaping: everything but unreserved characters, so a
/// space becomes `%20` as in Twilio's example.
const URI_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=…&digits=…&period=…`
/// in the parameter order of Twilio's example (PROTOCOL.md §5.1).
pub fn otpauth_uri(issuer: &str, account: &str, secret_b32: &str, p: &Params) -> String {
    let issuer_enc = utf8_percent_encode(issuer, URI_ESCAPE).to_string();
    let account_enc = utf8_percent_encode(account, URI_ESCAPE).to_string();
    format!(
        "otpauth://totp/{issuer_enc}:{account_enc}?secret={secret_b32}&issuer={issuer_enc}&algorithm={}&digits={}&period={}",
        p.alg.as_str().to_ascii_uppercase(),
        p.digits,
        p.step
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vectors() {
        let p = |alg, _| Params {
            alg,
            digits: 8,
            step: 30,
            skew: 0,
        };
        let s1 = b"12345678901234567890";
        let s256 = b"12345678901234567890123456789012";
        let s512 = b"1234567890123456789012345678901234567890123456789012345678901234";
        assert_eq!(code_at(s1, &p(Alg::Sha1, 0), 59 / 30), "94287082");
        assert_eq!(code_at(s256, &p(Alg::Sha256, 0), 59 / 30), "46119246");
        assert_eq!(code_at(s512, &p(Alg::Sha512, 0), 59 / 30), "90693936");
        assert_eq!(code_at(s1, &p(Alg::Sha1, 0), 1111111109 / 30), "07081804");
        assert_eq!(
            matching_step(s1, &p(Alg::Sha1, 0), 59, "94287082", None),
            Some(1)
        );
        assert_eq!(
            matching_step(s1, &p(Alg::Sha1, 0), 89, "94287082", None),
            None
        );
        let skewed = Params {
            skew: 1,
            ..p(Alg::Sha1, 0)
        };
        assert_eq!(matching_step(s1, &skewed, 89, "94287082", None), Some(1));
    }

    #[test]
    fn a_step_is_accepted_only_after_the_last_one() {
        let s1 = b"12345678901234567890";
        let p = Params {
            alg: Alg::Sha1,
            digits: 8,
            step: 30,
            skew: 1,
        };
        let code = code_at(s1, &p, 1);
        assert_eq!(matching_step(s1, &p, 59, &code, Some(0)), Some(1));
        assert_eq!(matching_step(s1, &p, 59, &code, Some(1)), None);
        assert_eq!(matching_step(s1, &p, 59, &code, Some(2)), None);
    }

    #[test]
    fn uri_matches_twilio_example() {
        let p = Params {
            alg: Alg::Sha1,
            digits: 6,
            step: 30,
            skew: 1,
        };
        assert_eq!(
            otpauth_uri(
                "test-issuer",
                "John\u{2019}s Account Name",
                "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
                &p
            ),
            "otpauth://totp/test-issuer:John%E2%80%99s%20Account%20Name?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=test-issuer&algorithm=SHA1&digits=6&period=30"
        );
    }
}
