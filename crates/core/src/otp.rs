//! One-time codes: TOTP (RFC 6238), HOTP (RFC 4226) and Steam Guard, plus the base32
//! encoding secrets are exchanged in.
//!
//! The HMAC and truncation are totp-rs's; this module owns parameter validation and the
//! decoding of what users paste, so that every refusal names its field and says why.

use data_encoding::BASE32_NOPAD;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::SecretBytes;

/// The HMAC hash of an account's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Algorithm {
    #[default]
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The name used in `otpauth://` URIs and the metadata file: "SHA1", "SHA256", "SHA512".
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// Parses "SHA1" / "SHA256" / "SHA512", case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }

    fn to_totp_rs(self) -> totp_rs::Algorithm {
        match self {
            Algorithm::Sha1 => totp_rs::Algorithm::SHA1,
            Algorithm::Sha256 => totp_rs::Algorithm::SHA256,
            Algorithm::Sha512 => totp_rs::Algorithm::SHA512,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How codes are derived from the secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtpKind {
    /// Time-based, RFC 6238.
    Totp,
    /// Counter-based, RFC 4226.
    Hotp,
    /// Steam Guard: TOTP with HMAC-SHA1, 30 s, and 5 characters from Steam's own alphabet.
    Steam,
}

impl OtpKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OtpKind::Totp => "totp",
            OtpKind::Hotp => "hotp",
            OtpKind::Steam => "steam",
        }
    }
}

impl std::fmt::Display for OtpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Code length of TOTP/HOTP accounts (RFC 4226 §5.3 allows 6 to 8; more overflows the
/// 31-bit truncated value's meaningful range and totp-rs panics at 10).
pub const DIGITS_RANGE: std::ops::RangeInclusive<u8> = 6..=8;
/// Steam Guard codes always have 5 characters.
pub const STEAM_DIGITS: u8 = 5;
/// Steam Guard codes always change every 30 seconds.
pub const STEAM_PERIOD: u32 = 30;
/// Longest accepted TOTP period: one day. Nothing real uses more; a larger value is far
/// more likely a typo (or milliseconds) than intent.
pub const MAX_PERIOD: u32 = 86_400;

/// Non-secret parameters of an account's codes (stored in the metadata file).
///
/// `period` only matters for TOTP/Steam and `counter` only for HOTP; the unused one is
/// kept at its default (30 / 0) by [`crate::otpauth::OtpAuthUri::parse`] and ignored by
/// [`OtpParams::validate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtpParams {
    pub kind: OtpKind,
    pub algorithm: Algorithm,
    pub digits: u8,
    /// Seconds per TOTP/Steam step.
    pub period: u32,
    /// HOTP: the counter of the next code to show.
    pub counter: u64,
}

impl OtpParams {
    /// TOTP, SHA1, 6 digits, 30 s: what nearly every service uses.
    pub fn totp_default() -> Self {
        OtpParams {
            kind: OtpKind::Totp,
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
            counter: 0,
        }
    }

    /// HOTP, SHA1, 6 digits, starting at `counter`.
    pub fn hotp(counter: u64) -> Self {
        OtpParams {
            kind: OtpKind::Hotp,
            counter,
            ..Self::totp_default()
        }
    }

    /// Steam Guard: its parameters are fixed.
    pub fn steam() -> Self {
        OtpParams {
            kind: OtpKind::Steam,
            algorithm: Algorithm::Sha1,
            digits: STEAM_DIGITS,
            period: STEAM_PERIOD,
            counter: 0,
        }
    }

    /// Checks the parameters that matter for `kind`. Errors are
    /// `Error::InvalidAccount { field: "digits" | "period" | "algorithm", .. }`.
    pub fn validate(&self) -> Result<()> {
        let invalid =
            |field: &'static str, reason: String| Err(Error::InvalidAccount { field, reason });
        match self.kind {
            OtpKind::Totp | OtpKind::Hotp => {
                if !DIGITS_RANGE.contains(&self.digits) {
                    return invalid(
                        "digits",
                        format!(
                            "{} digits is not supported; codes have {} to {} digits",
                            self.digits,
                            DIGITS_RANGE.start(),
                            DIGITS_RANGE.end()
                        ),
                    );
                }
            }
            OtpKind::Steam => {
                if self.digits != STEAM_DIGITS {
                    return invalid(
                        "digits",
                        format!(
                            "Steam Guard codes have {STEAM_DIGITS} characters, not {}",
                            self.digits
                        ),
                    );
                }
                // Steam's algorithm is fixed; accepting another would silently be ignored.
                if self.algorithm != Algorithm::Sha1 {
                    return invalid(
                        "algorithm",
                        format!("Steam Guard uses SHA1, not {}", self.algorithm),
                    );
                }
            }
        }
        if self.kind != OtpKind::Hotp && !(1..=MAX_PERIOD).contains(&self.period) {
            return invalid(
                "period",
                format!(
                    "{} seconds is not supported; the period must be 1 to {MAX_PERIOD} seconds",
                    self.period
                ),
            );
        }
        Ok(())
    }
}

/// The code valid at `unix_time` (TOTP/Steam) or at `params.counter` (HOTP).
///
/// Any non-empty secret is accepted. RFC 4226 asks for at least 128 bits, but many real
/// services hand out 80-bit secrets (16 base32 characters) and a few older ones shorter,
/// and refusing them would only lock the user out of their account: the secret's strength
/// is the issuer's choice, not ours.
pub fn generate(params: &OtpParams, secret: &SecretBytes, unix_time: u64) -> Result<String> {
    params.validate()?;
    if secret.is_empty() {
        return Err(Error::InvalidAccount {
            field: "secret",
            reason: "the secret is empty".into(),
        });
    }
    let (algorithm, step, time) = match params.kind {
        OtpKind::Totp => (
            params.algorithm.to_totp_rs(),
            u64::from(params.period),
            unix_time,
        ),
        // HOTP is TOTP with a 1-second step at "time" = counter: T = floor(counter / 1), and
        // the HMAC input is then exactly the RFC 4226 counter.
        OtpKind::Hotp => (params.algorithm.to_totp_rs(), 1, params.counter),
        OtpKind::Steam => (
            totp_rs::Algorithm::Steam,
            u64::from(params.period),
            unix_time,
        ),
    };
    // `build_noncompliant` skips totp-rs's 128-bit minimum (see above); digits and step
    // were validated, so nothing it could panic on reaches `generate`. The copy of the
    // secret inside `Totp` is zeroized on drop (totp-rs `zeroize` feature).
    let totp = totp_rs::Builder::new()
        .with_algorithm(algorithm)
        .with_digits(params.digits)
        .with_step_duration(step)
        .with_secret(secret.expose())
        .build_noncompliant();
    Ok(totp.generate(time).to_string())
}

/// Seconds until the current TOTP/Steam code changes, in `1..=period` (HOTP: `None`; also
/// `None` for a zero period, which [`OtpParams::validate`] refuses).
pub fn seconds_remaining(params: &OtpParams, unix_time: u64) -> Option<u32> {
    match params.kind {
        OtpKind::Hotp => None,
        OtpKind::Totp | OtpKind::Steam => {
            let period = u64::from(params.period);
            if period == 0 {
                return None;
            }
            u32::try_from(period - unix_time % period).ok()
        }
    }
}

/// Decodes a user-supplied base32 secret (RFC 4648 alphabet).
///
/// Lenient where real input varies: case-insensitive; spaces, tabs, newlines and dashes
/// (as in "JBSW Y3DP" or "jbsw-y3dp") are ignored; trailing `=` padding is optional;
/// unused low bits of the last character are ignored, as Google Authenticator does, since
/// some services generate random base32 strings rather than encoding bytes.
///
/// Strict where the input is surely wrong: any other character, and lengths no encoder
/// produces (1, 3 or 6 characters modulo 8: a character is missing or extra), are refused
/// with `Error::InvalidAccount { field: "secret", .. }` saying where. Positions count
/// characters of `text` from 1. Any non-empty secret is accepted (see [`generate`]).
pub fn decode_secret(text: &str) -> Result<SecretBytes> {
    let invalid = |reason: String| Error::InvalidAccount {
        field: "secret",
        reason,
    };
    // Normalise what people type or paste; check each character here so a refusal can say
    // where, then let data-encoding do the decoding itself.
    let mut symbols = Zeroizing::new(String::with_capacity(text.len()));
    let mut padding = false;
    for (index, c) in text.chars().enumerate() {
        let position = index + 1;
        if c.is_whitespace() || c == '-' {
            continue;
        }
        if c == '=' {
            padding = true;
            continue;
        }
        let upper = c.to_ascii_uppercase();
        if !matches!(upper, 'A'..='Z' | '2'..='7') {
            let hint = match c {
                '0' | '1' | '8' | '9' => {
                    " (base32 uses only the letters A-Z and the digits 2-7: 0 may be an O, 1 an I or L, 8 a B)"
                }
                _ => " (base32 uses only the letters A-Z and the digits 2-7)",
            };
            return Err(invalid(format!(
                "bad character {c:?} at position {position}{hint}"
            )));
        }
        if padding {
            return Err(invalid(format!(
                "character at position {position} follows '=' padding, which may only end the secret"
            )));
        }
        symbols.push(upper);
    }
    if symbols.is_empty() {
        return Err(invalid("the secret is empty".into()));
    }
    let count = symbols.len();
    if matches!(count % 8, 1 | 3 | 6) {
        return Err(invalid(format!(
            "{count} base32 characters cannot encode whole bytes: a character is probably missing or extra"
        )));
    }
    LENIENT_BASE32
        .decode(symbols.as_bytes())
        .map(SecretBytes::new)
        .map_err(|e| invalid(format!("not valid base32: {}", e.kind)))
}

/// A secret typed as hexadecimal (some sites and hardware tokens print it so): spaces,
/// dashes and colons between digits are ignored, any case. Errors as for
/// [`decode_secret`], with the position of the first bad character.
pub fn decode_hex_secret(text: &str) -> Result<SecretBytes> {
    let invalid = |reason: String| Error::InvalidAccount {
        field: "secret",
        reason,
    };
    let mut digits = Zeroizing::new(String::with_capacity(text.len()));
    for (index, c) in text.chars().enumerate() {
        if c.is_whitespace() || c == '-' || c == ':' {
            continue;
        }
        if !c.is_ascii_hexdigit() {
            return Err(invalid(format!(
                "bad character {c:?} at position {} (hexadecimal uses only 0-9 and A-F)",
                index + 1
            )));
        }
        digits.push(c.to_ascii_lowercase());
    }
    if digits.is_empty() {
        return Err(invalid("the secret is empty".into()));
    }
    if digits.len() % 2 == 1 {
        return Err(invalid(format!(
            "{} hexadecimal digits cannot encode whole bytes: a digit is probably missing or extra",
            digits.len()
        )));
    }
    data_encoding::HEXLOWER
        .decode(digits.as_bytes())
        .map(SecretBytes::new)
        .map_err(|e| invalid(format!("not valid hexadecimal: {}", e.kind)))
}

/// RFC 4648 base32 without padding that ignores unused low bits of the last character, as
/// Google Authenticator does: some services generate random base32 strings rather than
/// encoding bytes.
static LENIENT_BASE32: std::sync::LazyLock<data_encoding::Encoding> =
    std::sync::LazyLock::new(|| {
        let mut spec = data_encoding::Specification::new();
        spec.symbols.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
        spec.check_trailing_bits = false;
        spec.encoding()
            .expect("constant base32 specification is valid")
    });

/// Upper-case base32 (RFC 4648) without padding: the form `otpauth://` URIs use.
pub fn encode_secret(secret: &SecretBytes) -> String {
    BASE32_NOPAD.encode(secret.expose())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_secrets_are_read_with_separators_in_any_case() {
        let secret = decode_hex_secret("3132 3334-3536:3738 3930 ab").expect("hex");
        assert_eq!(secret.expose(), b"1234567890\xab");
        assert_eq!(
            decode_hex_secret("AbCd").expect("hex").expose(),
            [0xab, 0xcd]
        );
        for (text, says) in [
            ("", "empty"),
            ("abc", "3 hexadecimal digits"),
            ("12g4", "'g' at position 3"),
        ] {
            let err = decode_hex_secret(text).expect_err(text);
            assert_eq!(err.code(), "invalid_account");
            assert!(err.to_string().contains(says), "{text}: {err}");
            assert!(err.to_string().starts_with("invalid secret"), "{err}");
        }
    }

    fn params(kind: OtpKind, algorithm: Algorithm, digits: u8) -> OtpParams {
        OtpParams {
            kind,
            algorithm,
            digits,
            period: 30,
            counter: 0,
        }
    }

    fn secret(bytes: &[u8]) -> SecretBytes {
        SecretBytes::new(bytes.to_vec())
    }

    /// RFC 6238 Appendix B: the seeds are ASCII "1234567890" repeated to 20, 32 and 64 bytes.
    #[test]
    fn rfc6238_appendix_b() {
        let sha1 = secret(b"12345678901234567890");
        let sha256 = secret(b"12345678901234567890123456789012");
        let sha512 = secret(b"1234567890123456789012345678901234567890123456789012345678901234");
        let vectors: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        for (time, c1, c256, c512) in vectors {
            for (algorithm, seed, expected) in [
                (Algorithm::Sha1, &sha1, c1),
                (Algorithm::Sha256, &sha256, c256),
                (Algorithm::Sha512, &sha512, c512),
            ] {
                let p = params(OtpKind::Totp, algorithm, 8);
                assert_eq!(
                    generate(&p, seed, time).unwrap(),
                    expected,
                    "{algorithm} at {time}"
                );
            }
        }
    }

    /// RFC 4226 Appendix D: secret "12345678901234567890", counters 0..=9, 6 digits.
    #[test]
    fn rfc4226_appendix_d() {
        let seed = secret(b"12345678901234567890");
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            let p = OtpParams::hotp(counter as u64);
            // HOTP ignores the time entirely.
            assert_eq!(
                generate(&p, &seed, 1_700_000_000).unwrap(),
                *code,
                "counter {counter}"
            );
        }
    }

    /// Steam Guard, computed independently of totp-rs with Python's standard library:
    ///
    /// ```python
    /// import hmac, hashlib, struct
    /// def steam(key, t):
    ///     h = hmac.new(key, struct.pack(">Q", t // 30), hashlib.sha1).digest()
    ///     o = h[-1] & 15
    ///     v = struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF
    ///     out = ""
    ///     for _ in range(5):
    ///         out += "23456789BCDFGHJKMNPQRTVWXY"[v % 26]; v //= 26
    ///     return out
    /// ```
    /// (the algorithm of SteamDesktopAuthenticator / node-steam-totp).
    #[test]
    fn steam_guard_vectors() {
        let seed = secret(b"12345678901234567890");
        let p = OtpParams::steam();
        for (time, expected) in [
            (59, "PV9M4"),
            (1111111109, "PY4YB"),
            (1234567890, "VHHQY"),
            (2000000000, "9N776"),
        ] {
            assert_eq!(generate(&p, &seed, time).unwrap(), expected, "at {time}");
        }
        let code = generate(&p, &seed, 1_700_000_000).unwrap();
        assert_eq!(code.len(), 5);
        assert!(
            code.chars()
                .all(|c| "23456789BCDFGHJKMNPQRTVWXY".contains(c))
        );
    }

    #[test]
    fn eighty_bit_secret_is_accepted() {
        let s = decode_secret("JBSWY3DPEHPK3PXP").unwrap();
        assert_eq!(s.len(), 10);
        assert_eq!(s.expose(), b"Hello!\xde\xad\xbe\xef");
        let code = generate(&OtpParams::totp_default(), &s, 0).unwrap();
        // Independently computed with Python's hmac/hashlib (RFC 6238 at t = 0).
        assert_eq!(code, "282760");
    }

    #[test]
    fn very_short_secret_still_generates() {
        let code = generate(&OtpParams::totp_default(), &secret(b"k"), 30).unwrap();
        assert_eq!(code.len(), 6);
    }

    #[test]
    fn empty_secret_is_refused() {
        let err = generate(&OtpParams::totp_default(), &secret(b""), 30).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidAccount {
                    field: "secret",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn generate_refuses_invalid_params() {
        let mut p = OtpParams::totp_default();
        p.digits = 9;
        let err = generate(&p, &secret(b"12345678901234567890"), 0).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidAccount {
                    field: "digits",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn totp_digits_and_period() {
        let seed = secret(b"12345678901234567890");
        // RFC 6238 SHA1 at 59 is 94287082; 6 and 7 digits are its suffixes.
        let mut p = params(OtpKind::Totp, Algorithm::Sha1, 6);
        assert_eq!(generate(&p, &seed, 59).unwrap(), "287082");
        p.digits = 7;
        assert_eq!(generate(&p, &seed, 59).unwrap(), "4287082");
        // A 60 s period at t = 119 is step 1, the same as 30 s at t = 59.
        p.digits = 8;
        p.period = 60;
        assert_eq!(generate(&p, &seed, 119).unwrap(), "94287082");
    }

    #[test]
    fn validate_rules() {
        assert!(OtpParams::totp_default().validate().is_ok());
        assert!(OtpParams::hotp(5).validate().is_ok());
        assert!(OtpParams::steam().validate().is_ok());
        let field = |p: OtpParams| match p.validate() {
            Err(Error::InvalidAccount { field, .. }) => field,
            other => panic!("expected InvalidAccount, got {other:?}"),
        };
        for digits in [0, 5, 9, 10, 255] {
            let p = OtpParams {
                digits,
                ..OtpParams::totp_default()
            };
            assert_eq!(field(p), "digits", "{digits}");
        }
        for digits in 6..=8 {
            let p = OtpParams {
                digits,
                ..OtpParams::hotp(0)
            };
            assert!(p.validate().is_ok());
        }
        assert_eq!(
            field(OtpParams {
                digits: 6,
                ..OtpParams::steam()
            }),
            "digits"
        );
        assert_eq!(
            field(OtpParams {
                algorithm: Algorithm::Sha256,
                ..OtpParams::steam()
            }),
            "algorithm"
        );
        for period in [0, MAX_PERIOD + 1, u32::MAX] {
            assert_eq!(
                field(OtpParams {
                    period,
                    ..OtpParams::totp_default()
                }),
                "period"
            );
            assert_eq!(
                field(OtpParams {
                    period,
                    ..OtpParams::steam()
                }),
                "period"
            );
        }
        // HOTP has no period: whatever is stored there is irrelevant.
        assert!(
            OtpParams {
                period: 0,
                ..OtpParams::hotp(1)
            }
            .validate()
            .is_ok()
        );
        assert!(
            OtpParams {
                period: MAX_PERIOD,
                ..OtpParams::totp_default()
            }
            .validate()
            .is_ok()
        );
        assert!(
            OtpParams {
                period: 1,
                ..OtpParams::totp_default()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn seconds_remaining_counts_down_to_the_next_step() {
        let p = OtpParams::totp_default();
        assert_eq!(seconds_remaining(&p, 0), Some(30));
        assert_eq!(seconds_remaining(&p, 1), Some(29));
        assert_eq!(seconds_remaining(&p, 29), Some(1));
        assert_eq!(seconds_remaining(&p, 30), Some(30));
        assert_eq!(seconds_remaining(&p, 1_111_111_109), Some(1));
        assert_eq!(
            seconds_remaining(&p, u64::MAX),
            Some(30 - (u64::MAX % 30) as u32)
        );
        let p60 = OtpParams {
            period: 60,
            ..p.clone()
        };
        assert_eq!(seconds_remaining(&p60, 59), Some(1));
        assert_eq!(seconds_remaining(&OtpParams::steam(), 45), Some(15));
        assert_eq!(seconds_remaining(&OtpParams::hotp(3), 45), None);
        assert_eq!(seconds_remaining(&OtpParams { period: 0, ..p }, 45), None);
    }

    #[test]
    fn decode_secret_is_lenient_about_form() {
        let expected = b"Hello!\xde\xad\xbe\xef";
        for text in [
            "JBSWY3DPEHPK3PXP",
            "jbswy3dpehpk3pxp",
            "jbsw y3dp ehpk 3pxp",
            "JBSW-Y3DP-EHPK-3PXP",
            "  JBSWY3DP\tEHPK3PXP\n",
            "JBSWY3DPEHPK3PXP======",
        ] {
            assert_eq!(decode_secret(text).unwrap().expose(), expected, "{text:?}");
        }
        // Padded and unpadded forms of a length that needs padding.
        assert_eq!(decode_secret("MZXW6===").unwrap().expose(), b"foo");
        assert_eq!(decode_secret("mzxw6").unwrap().expose(), b"foo");
        assert_eq!(decode_secret("MY").unwrap().expose(), b"f");
        // Non-zero unused trailing bits are ignored (Google Authenticator does the same).
        assert_eq!(decode_secret("MZ").unwrap().expose(), b"f");
    }

    #[test]
    fn decode_secret_explains_refusals() {
        let reason = |text: &str| match decode_secret(text) {
            Err(Error::InvalidAccount {
                field: "secret",
                reason,
            }) => reason,
            other => panic!("{text:?}: expected a secret error, got {other:?}"),
        };
        assert!(reason("").contains("empty"));
        assert!(reason("  - = ").contains("empty"));
        let r = reason("JBSWY3DPEHPK3PX1");
        assert!(r.contains("'1'") && r.contains("position 16"), "{r}");
        let r = reason("JBSW Y3DØ");
        assert!(r.contains("'Ø'") && r.contains("position 9"), "{r}");
        let r = reason("JBSW=Y3DP");
        assert!(r.contains("position 6") && r.contains("padding"), "{r}");
        // 1, 3 or 6 characters modulo 8 cannot come from any byte string.
        for text in ["A", "ABC", "ABCDEF", "JBSWY3DPE"] {
            assert!(reason(text).contains("missing or extra"), "{text}");
        }
    }

    #[test]
    fn encode_round_trips() {
        let s = secret(b"Hello!\xde\xad\xbe\xef");
        assert_eq!(encode_secret(&s), "JBSWY3DPEHPK3PXP");
        assert_eq!(encode_secret(&secret(b"foo")), "MZXW6");
        for len in 1..=64usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let s = secret(&bytes);
            assert_eq!(decode_secret(&encode_secret(&s)).unwrap(), s, "{len}");
        }
    }

    #[test]
    fn serde_names() {
        let json = serde_json::to_string(&OtpParams::totp_default()).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"totp","algorithm":"SHA1","digits":6,"period":30,"counter":0}"#
        );
        let p: OtpParams = serde_json::from_str(
            r#"{"kind":"steam","algorithm":"SHA1","digits":5,"period":30,"counter":0}"#,
        )
        .unwrap();
        assert_eq!(p, OtpParams::steam());
        let a: Algorithm = serde_json::from_str(r#""SHA512""#).unwrap();
        assert_eq!(a, Algorithm::Sha512);
        assert_eq!(serde_json::to_string(&OtpKind::Hotp).unwrap(), r#""hotp""#);
    }

    #[test]
    fn algorithm_names() {
        assert_eq!(Algorithm::from_name("sha256"), Some(Algorithm::Sha256));
        assert_eq!(Algorithm::from_name("SHA1"), Some(Algorithm::Sha1));
        assert_eq!(Algorithm::from_name("MD5"), None);
        assert_eq!(Algorithm::default(), Algorithm::Sha1);
    }
}
