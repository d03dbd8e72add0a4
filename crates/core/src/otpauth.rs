//! `otpauth://` key URIs (Google Authenticator's "Key Uri Format"), as real QR codes and
//! exporters emit them, plus Steam's `steam://SECRET`.
//!
//! Parsing is hand-written rather than delegated to a URL parser so that each refusal
//! names the part that is wrong, and so that `+` and `%3A` get the meaning authenticator
//! apps give them (see [`OtpAuthUri::parse`]). Error messages never quote the secret.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::otp::{self, Algorithm, OtpKind, OtpParams};
use crate::secret::SecretBytes;

/// One account as carried by a key URI.
#[derive(Clone, PartialEq, Eq)]
pub struct OtpAuthUri {
    /// The service ("GitHub"); trimmed, never `Some("")`.
    pub issuer: Option<String>,
    /// The user's name at the service ("alice@example.com"); trimmed, never empty.
    pub account_name: String,
    pub params: OtpParams,
    pub secret: SecretBytes,
}

/// Issuer and account name given to a bare `steam://SECRET`, which carries neither.
pub const STEAM_ISSUER: &str = "Steam";
pub const STEAM_ACCOUNT: &str = "Steam Guard";

/// Label parts: everything but unreserved characters and `@` (kept readable for e-mail
/// addresses) is escaped, notably `:` (the issuer separator), `+` (which some apps read as
/// a space), `%`, `?`, `#`, `/` and spaces (as `%20`, as Google's format asks).
const LABEL_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');
/// Query values: everything but unreserved characters.
const VALUE_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidUri {
        field,
        reason: reason.into(),
    }
}

/// The raw (still percent-encoded) values of the parameters we understand; the first
/// occurrence of each wins, as in Google Authenticator (Android's `getQueryParameter`), so
/// a URI yields the same codes here as in the app that most QR codes are made for.
#[derive(Default)]
struct RawQuery<'a> {
    secret: Option<&'a str>,
    issuer: Option<&'a str>,
    algorithm: Option<&'a str>,
    digits: Option<&'a str>,
    period: Option<&'a str>,
    counter: Option<&'a str>,
    encoder: Option<&'a str>,
}

impl<'a> RawQuery<'a> {
    fn parse(query: &'a str) -> Self {
        let mut raw = RawQuery::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // A key we cannot even decode is not one of ours: ignore it like any unknown one.
            let Ok(key) = percent_decode(key, true) else {
                continue;
            };
            let slot = match key.to_ascii_lowercase().as_str() {
                "secret" => &mut raw.secret,
                "issuer" => &mut raw.issuer,
                "algorithm" => &mut raw.algorithm,
                "digits" => &mut raw.digits,
                "period" => &mut raw.period,
                "counter" => &mut raw.counter,
                "encoder" => &mut raw.encoder,
                // image, color, icon, lock, ...: presentation hints we don't use.
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        raw
    }
}

impl OtpAuthUri {
    /// Parses `otpauth://TYPE/LABEL?PARAMETERS` or `steam://SECRET`.
    ///
    /// - Scheme `otpauth` or `steam`, type `totp`, `hotp` or `steam` (Aegis's type for
    ///   Steam), all case-insensitive. A `totp` URI with `encoder=steam` (KeePassXC) or
    ///   issuer `Steam` is Steam Guard too. Steam's parameters are fixed (SHA1, 5
    ///   characters, 30 s), so its `algorithm`, `digits` and `period` are ignored.
    /// - Label: percent-decoded UTF-8, `issuer:account` or just `account`; `%3A` separates
    ///   like `:`, and spaces around the separator are trimmed. A `+` in the label is a
    ///   literal plus (plus-addressed e-mails are common; Google Authenticator agrees).
    /// - Query values are form-decoded: `+` is a space (some generators encode spaces that
    ///   way and Google Authenticator decodes them so), `%2B` a plus.
    /// - The `issuer` parameter wins over the label prefix; if the label starts with the
    ///   parameter's value and a colon, the account is what follows (so issuers containing
    ///   `:` survive), otherwise it is what follows the label's first colon. An empty
    ///   issuer parameter counts as absent.
    /// - `secret` is required (see [`otp::decode_secret`] for what is accepted);
    ///   `algorithm` defaults to SHA1, `digits` to 6, `period` to 30; HOTP requires
    ///   `counter`, TOTP ignores it (stored as 0) and HOTP ignores `period` (stored as 30).
    /// - Unknown parameters are ignored; of a repeated parameter the first one counts.
    /// - Control characters in the label or issuer are refused (they would reach terminals
    ///   and window titles).
    ///
    /// Errors are `Error::InvalidUri { field, reason }`, `field` being one of "scheme",
    /// "type", "label", "secret", "algorithm", "digits", "period", "counter", "issuer".
    pub fn parse(uri: &str) -> Result<Self> {
        // QR scanners and clipboards often add a trailing newline.
        let uri = uri.trim();
        let Some((scheme, rest)) = uri.split_once("://") else {
            return Err(invalid(
                "scheme",
                "not a key URI: expected it to start with otpauth:// (or steam://)",
            ));
        };
        if scheme.eq_ignore_ascii_case("steam") {
            return Self::parse_steam(rest);
        }
        if !scheme.eq_ignore_ascii_case("otpauth") {
            return Err(invalid(
                "scheme",
                "expected the URI to start with otpauth:// (or steam://)",
            ));
        }

        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (kind_text, label) = path.split_once('/').unwrap_or((path, ""));
        let type_kind = match kind_text.to_ascii_lowercase().as_str() {
            "totp" => OtpKind::Totp,
            "hotp" => OtpKind::Hotp,
            "steam" => OtpKind::Steam,
            _ => {
                return Err(invalid(
                    "type",
                    format!(
                        "expected totp or hotp after otpauth://, found {:?}",
                        shorten(kind_text)
                    ),
                ));
            }
        };

        let label = percent_decode(label, false).map_err(|r| invalid("label", r))?;
        if label.chars().any(char::is_control) {
            return Err(invalid("label", "contains a control character"));
        }
        let raw = RawQuery::parse(query);

        let issuer_param = match raw.issuer {
            Some(v) => {
                let v = percent_decode(v, true).map_err(|r| invalid("issuer", r))?;
                if v.chars().any(char::is_control) {
                    return Err(invalid("issuer", "contains a control character"));
                }
                Some(v.trim().to_string()).filter(|v| !v.is_empty())
            }
            None => None,
        };
        let (label_issuer, account) = split_label(&label, issuer_param.as_deref());
        let account_name = account.trim().to_string();
        if account_name.is_empty() {
            return Err(invalid("label", "the account name is empty"));
        }
        let issuer = issuer_param.or_else(|| {
            label_issuer
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(str::to_string)
        });

        let secret = match raw.secret {
            Some(v) => {
                let text =
                    Zeroizing::new(percent_decode(v, true).map_err(|r| invalid("secret", r))?);
                otp::decode_secret(&text).map_err(|e| match e {
                    Error::InvalidAccount { reason, .. } => invalid("secret", reason),
                    other => other,
                })?
            }
            None => return Err(invalid("secret", "the secret parameter is missing")),
        };

        let is_steam = type_kind == OtpKind::Steam
            || (type_kind == OtpKind::Totp
                && (raw
                    .encoder
                    .is_some_and(|e| e.trim().eq_ignore_ascii_case("steam"))
                    || issuer
                        .as_deref()
                        .is_some_and(|i| i.eq_ignore_ascii_case(STEAM_ISSUER))));
        let params = if is_steam {
            OtpParams::steam()
        } else {
            let algorithm = match raw.algorithm {
                Some(v) => {
                    let v = percent_decode(v, true).map_err(|r| invalid("algorithm", r))?;
                    Algorithm::from_name(v.trim()).ok_or_else(|| {
                        invalid(
                            "algorithm",
                            format!("expected SHA1, SHA256 or SHA512, found {:?}", shorten(&v)),
                        )
                    })?
                }
                None => Algorithm::Sha1,
            };
            let digits = match raw.digits {
                Some(v) => {
                    let n = parse_number("digits", v)?;
                    u8::try_from(n).map_err(|_| {
                        invalid(
                            "digits",
                            format!("{n} digits is not supported; codes have 6 to 8 digits"),
                        )
                    })?
                }
                None => 6,
            };
            let mut params = OtpParams {
                kind: type_kind,
                algorithm,
                digits,
                ..OtpParams::totp_default()
            };
            match type_kind {
                OtpKind::Hotp => {
                    let Some(v) = raw.counter else {
                        return Err(invalid("counter", "an HOTP URI needs a counter parameter"));
                    };
                    params.counter = parse_number("counter", v)?;
                }
                _ => {
                    if let Some(v) = raw.period {
                        let n = parse_number("period", v)?;
                        params.period = u32::try_from(n).map_err(|_| {
                            invalid(
                                "period",
                                format!(
                                    "{n} seconds is not supported; the period must be 1 to {} seconds",
                                    otp::MAX_PERIOD
                                ),
                            )
                        })?;
                    }
                }
            }
            params
        };
        params.validate().map_err(|e| match e {
            Error::InvalidAccount { field, reason } => invalid(field, reason),
            other => other,
        })?;

        Ok(OtpAuthUri {
            issuer,
            account_name,
            params,
            secret,
        })
    }

    /// `steam://SECRET` (Bitwarden, some Steam Guard exporters): only a base32 secret.
    fn parse_steam(rest: &str) -> Result<Self> {
        let secret_text = rest.split(['?', '#']).next().unwrap_or_default();
        let secret_text = secret_text.trim_end_matches('/');
        let text =
            Zeroizing::new(percent_decode(secret_text, false).map_err(|r| invalid("secret", r))?);
        let secret = otp::decode_secret(&text).map_err(|e| match e {
            Error::InvalidAccount { reason, .. } => invalid("secret", reason),
            other => other,
        })?;
        Ok(OtpAuthUri {
            issuer: Some(STEAM_ISSUER.to_string()),
            account_name: STEAM_ACCOUNT.to_string(),
            params: OtpParams::steam(),
            secret,
        })
    }

    /// The canonical URI:
    ///
    /// - TOTP: `otpauth://totp/ISSUER:ACCOUNT?secret=S&issuer=ISSUER&algorithm=SHA1&digits=6&period=30`
    /// - HOTP: the same with `hotp` and `counter=N` instead of `period`.
    /// - Steam: `otpauth://totp/ISSUER:ACCOUNT?secret=S&issuer=ISSUER&encoder=steam&algorithm=SHA1&digits=5&period=30`
    ///   (KeePassXC's form: apps that know `encoder=steam` show Steam codes, others at
    ///   least get the right secret and period).
    ///
    /// Label parts and the issuer are UTF-8 percent-encoded (space as `%20`, `:` as `%3A`);
    /// the secret is upper-case base32 without padding. Without an issuer the label is the
    /// account alone, prefixed with `:` when the account contains a colon so that it is not
    /// read back as an issuer. `parse(to_uri())` gives back an equal value for any value
    /// `parse` can produce. (A TOTP account whose issuer is "Steam" comes back as Steam.)
    pub fn to_uri(&self) -> String {
        let issuer = self.issuer.as_deref().filter(|i| !i.is_empty());
        let mut uri = String::from("otpauth://");
        uri.push_str(match self.params.kind {
            OtpKind::Hotp => "hotp",
            OtpKind::Totp | OtpKind::Steam => "totp",
        });
        uri.push('/');
        match issuer {
            Some(i) => {
                uri.extend(utf8_percent_encode(i, LABEL_SET));
                uri.push(':');
            }
            None if self.account_name.contains(':') => uri.push(':'),
            None => {}
        }
        uri.extend(utf8_percent_encode(&self.account_name, LABEL_SET));

        uri.push_str("?secret=");
        uri.push_str(&otp::encode_secret(&self.secret));
        if let Some(i) = issuer {
            uri.push_str("&issuer=");
            uri.extend(utf8_percent_encode(i, VALUE_SET));
        }
        let p = &self.params;
        if p.kind == OtpKind::Steam {
            uri.push_str("&encoder=steam");
        }
        uri.push_str("&algorithm=");
        uri.push_str(p.algorithm.as_str());
        uri.push_str(&format!("&digits={}", p.digits));
        match p.kind {
            OtpKind::Hotp => uri.push_str(&format!("&counter={}", p.counter)),
            OtpKind::Totp | OtpKind::Steam => uri.push_str(&format!("&period={}", p.period)),
        }
        uri
    }
}

impl std::str::FromStr for OtpAuthUri {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl std::fmt::Debug for OtpAuthUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtpAuthUri")
            .field("issuer", &self.issuer)
            .field("account_name", &self.account_name)
            .field("params", &self.params)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Splits a decoded label into (issuer prefix, account); see [`OtpAuthUri::parse`].
fn split_label<'a>(label: &'a str, issuer_param: Option<&str>) -> (Option<&'a str>, &'a str) {
    if let Some(param) = issuer_param
        && let Some(after) = label.trim_start().strip_prefix(param)
        && let Some(account) = after.trim_start().strip_prefix(':')
    {
        let prefix_len = label.len() - after.len();
        return (Some(&label[..prefix_len]), account);
    }
    match label.split_once(':') {
        Some((issuer, account)) => (Some(issuer), account),
        None => (None, label),
    }
}

/// Strict percent-decoding to UTF-8: a `%` must start a two-digit hex escape. With
/// `plus_is_space`, `+` decodes to a space (form encoding, used in query values).
/// Errors give the reason; the caller names the field. The reason never quotes the input.
fn percent_decode(text: &str, plus_is_space: bool) -> std::result::Result<String, String> {
    let bytes = text.as_bytes();
    // Never longer than the input: no reallocation leaves copies of a secret behind.
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
                let (Some(high), Some(low)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                    return Err(format!(
                        "invalid percent-encoding at byte {}: '%' must be followed by two hex digits",
                        i + 1
                    ));
                };
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| {
        let mut bytes = e.into_bytes();
        zeroize::Zeroize::zeroize(&mut bytes);
        "not valid UTF-8 once percent-decoded".to_string()
    })
}

/// A non-negative decimal number; `field` names it in errors.
fn parse_number(field: &'static str, raw: &str) -> Result<u64> {
    let text = percent_decode(raw, true).map_err(|r| invalid(field, r))?;
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            field,
            format!("expected a whole number, found {:?}", shorten(text)),
        ));
    }
    text.parse::<u64>()
        .map_err(|_| invalid(field, format!("{} is too large", shorten(text))))
}

/// Keeps quoted input in messages short.
fn shorten(text: &str) -> String {
    const MAX: usize = 24;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO: &[u8] = b"Hello!\xde\xad\xbe\xef"; // JBSWY3DPEHPK3PXP

    fn parse(uri: &str) -> OtpAuthUri {
        match OtpAuthUri::parse(uri) {
            Ok(p) => p,
            Err(e) => panic!("{uri}: {e}"),
        }
    }

    /// The field a refusal names.
    fn refused(uri: &str) -> &'static str {
        match OtpAuthUri::parse(uri) {
            Err(Error::InvalidUri { field, reason }) => {
                assert!(!reason.is_empty());
                assert!(
                    !reason.contains("JBSWY3DP"),
                    "{uri}: the reason quotes the secret: {reason}"
                );
                field
            }
            other => panic!("{uri}: expected InvalidUri, got {other:?}"),
        }
    }

    #[test]
    fn google_example() {
        let u =
            parse("otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example");
        assert_eq!(u.issuer.as_deref(), Some("Example"));
        assert_eq!(u.account_name, "alice@google.com");
        assert_eq!(u.params, OtpParams::totp_default());
        assert_eq!(u.secret.expose(), HELLO);
    }

    #[test]
    fn all_parameters() {
        let u = parse(
            "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\
             &issuer=ACME%20Co&algorithm=SHA256&digits=8&period=60",
        );
        assert_eq!(u.issuer.as_deref(), Some("ACME Co"));
        assert_eq!(u.account_name, "john.doe@email.com");
        assert_eq!(u.params.algorithm, Algorithm::Sha256);
        assert_eq!(u.params.digits, 8);
        assert_eq!(u.params.period, 60);
        assert_eq!(u.secret.len(), 20);
        assert_eq!(u.params.kind, OtpKind::Totp);
    }

    #[test]
    fn case_insensitive_scheme_type_keys_and_algorithm() {
        let u = parse("OTPAUTH://TOTP/x?SECRET=JBSWY3DPEHPK3PXP&Algorithm=sha512&DIGITS=7");
        assert_eq!(u.params.kind, OtpKind::Totp);
        assert_eq!(u.params.algorithm, Algorithm::Sha512);
        assert_eq!(u.params.digits, 7);
        assert_eq!(u.secret.expose(), HELLO);
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let u = parse("  otpauth://totp/x?secret=JBSWY3DPEHPK3PXP\n");
        assert_eq!(u.secret.expose(), HELLO);
    }

    #[test]
    fn unicode_labels() {
        let u = parse(
            "otpauth://totp/Caf%C3%A9%20%26%20Co:John%E2%80%99s%20Account?secret=JBSWY3DPEHPK3PXP",
        );
        assert_eq!(u.issuer.as_deref(), Some("Café & Co"));
        assert_eq!(u.account_name, "John’s Account");
        // Raw (unencoded) UTF-8 and spaces, as some generators emit, are taken as they are.
        let u = parse("otpauth://totp/Café:John’s Account?secret=JBSWY3DPEHPK3PXP");
        assert_eq!(u.issuer.as_deref(), Some("Café"));
        assert_eq!(u.account_name, "John’s Account");
        let u = parse(
            "otpauth://totp/%E6%97%A5%E6%9C%AC?secret=JBSWY3DPEHPK3PXP&issuer=%E6%9D%B1%E4%BA%AC",
        );
        assert_eq!(u.issuer.as_deref(), Some("東京"));
        assert_eq!(u.account_name, "日本");
    }

    #[test]
    fn encoded_colon_and_spaces_around_it() {
        let u = parse("otpauth://totp/ACME%3Ajohn?secret=JBSWY3DPEHPK3PXP");
        assert_eq!(u.issuer.as_deref(), Some("ACME"));
        assert_eq!(u.account_name, "john");
        let u = parse("otpauth://totp/ACME%20Co%20:%20%20john@example.com?secret=JBSWY3DPEHPK3PXP");
        assert_eq!(u.issuer.as_deref(), Some("ACME Co"));
        assert_eq!(u.account_name, "john@example.com");
        // Only the first colon separates.
        let u = parse("otpauth://totp/A:b:c?secret=JBSWY3DPEHPK3PXP");
        assert_eq!(u.issuer.as_deref(), Some("A"));
        assert_eq!(u.account_name, "b:c");
        // An empty prefix is no issuer.
        let u = parse("otpauth://totp/:b:c?secret=JBSWY3DPEHPK3PXP");
        assert_eq!(u.issuer, None);
        assert_eq!(u.account_name, "b:c");
    }

    #[test]
    fn label_without_issuer() {
        let u = parse("otpauth://totp/alice@example.com?secret=JBSWY3DPEHPK3PXP");
        assert_eq!(u.issuer, None);
        assert_eq!(u.account_name, "alice@example.com");
        let u = parse("otpauth://totp/alice?secret=JBSWY3DPEHPK3PXP&issuer=GitHub");
        assert_eq!(u.issuer.as_deref(), Some("GitHub"));
        assert_eq!(u.account_name, "alice");
    }

    #[test]
    fn issuer_parameter_wins() {
        let u = parse("otpauth://totp/Old%20Name:alice?secret=JBSWY3DPEHPK3PXP&issuer=New%20Name");
        assert_eq!(u.issuer.as_deref(), Some("New Name"));
        assert_eq!(u.account_name, "alice");
        // An issuer containing a colon, repeated as the label prefix.
        let u =
            parse("otpauth://totp/Corp%3A%20EU:alice?secret=JBSWY3DPEHPK3PXP&issuer=Corp%3A%20EU");
        assert_eq!(u.issuer.as_deref(), Some("Corp: EU"));
        assert_eq!(u.account_name, "alice");
        // An empty issuer parameter counts as absent.
        let u = parse("otpauth://totp/Label:alice?secret=JBSWY3DPEHPK3PXP&issuer=");
        assert_eq!(u.issuer.as_deref(), Some("Label"));
    }

    #[test]
    fn plus_is_a_space_in_query_values_only() {
        let u = parse(
            "otpauth://totp/ACME+Co:john+work@example.com?secret=JBSWY3DPEHPK3PXP&issuer=ACME+Co",
        );
        assert_eq!(u.issuer.as_deref(), Some("ACME Co"));
        assert_eq!(u.account_name, "john+work@example.com");
        let u = parse("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=Disney%2B");
        assert_eq!(u.issuer.as_deref(), Some("Disney+"));
    }

    #[test]
    fn lenient_secrets() {
        for secret in [
            "jbswy3dpehpk3pxp",
            "JBSW%20Y3DP%20EHPK%203PXP",
            "jbsw+y3dp+ehpk+3pxp",
            "JBSWY3DPEHPK3PXP%3D%3D%3D",
            "JBSWY3DPEHPK3PXP===",
            "jbsw-y3dp-ehpk-3pxp",
        ] {
            let u = parse(&format!("otpauth://totp/x?secret={secret}"));
            assert_eq!(u.secret.expose(), HELLO, "{secret}");
        }
        let u = parse("otpauth://totp/x?secret=mzxw6%3d%3d%3d");
        assert_eq!(u.secret.expose(), b"foo");
    }

    #[test]
    fn unknown_and_repeated_parameters() {
        let u = parse(
            "otpauth://totp/x?image=https%3A%2F%2Fexample.com%2Flogo.png&secret=JBSWY3DPEHPK3PXP\
             &color=ff0000&&lock=false&secret=MZXW6===&digits=8&digits=6&%zz=1&flag",
        );
        assert_eq!(u.secret.expose(), HELLO, "the first secret counts");
        assert_eq!(u.params.digits, 8, "the first digits counts");
    }

    #[test]
    fn hotp() {
        let u = parse(
            "otpauth://hotp/Corp:bob?secret=JBSWY3DPEHPK3PXP&issuer=Corp&counter=42&period=0",
        );
        assert_eq!(u.params.kind, OtpKind::Hotp);
        assert_eq!(u.params.counter, 42);
        assert_eq!(u.params.period, 30, "HOTP ignores period");
        let u = parse(&format!(
            "otpauth://hotp/bob?secret=JBSWY3DPEHPK3PXP&counter={}",
            u64::MAX
        ));
        assert_eq!(u.params.counter, u64::MAX);
        // TOTP ignores counter, even a malformed one.
        let u = parse("otpauth://totp/bob?secret=JBSWY3DPEHPK3PXP&counter=abc");
        assert_eq!(u.params.counter, 0);
    }

    #[test]
    fn steam_forms() {
        let u = parse("steam://JBSWY3DPEHPK3PXP");
        assert_eq!(u.params, OtpParams::steam());
        assert_eq!(u.issuer.as_deref(), Some(STEAM_ISSUER));
        assert_eq!(u.account_name, STEAM_ACCOUNT);
        assert_eq!(u.secret.expose(), HELLO);
        let u = parse("STEAM://jbswy3dpehpk3pxp/");
        assert_eq!(u.secret.expose(), HELLO);

        // KeePassXC.
        let u = parse(
            "otpauth://totp/Steam:gaben?secret=JBSWY3DPEHPK3PXP&period=30&digits=5&issuer=Steam&encoder=steam",
        );
        assert_eq!(u.params, OtpParams::steam());
        assert_eq!(u.account_name, "gaben");
        // encoder=steam under another issuer name.
        let u = parse("otpauth://totp/My%20Steam:gaben?secret=JBSWY3DPEHPK3PXP&encoder=Steam");
        assert_eq!(u.params.kind, OtpKind::Steam);
        assert_eq!(u.issuer.as_deref(), Some("My Steam"));
        // issuer=Steam alone, with the digits a generic exporter would write.
        let u = parse("otpauth://totp/gaben?secret=JBSWY3DPEHPK3PXP&issuer=steam&digits=6");
        assert_eq!(u.params, OtpParams::steam());
        // The label prefix alone counts too.
        let u = parse("otpauth://totp/Steam:gaben?secret=JBSWY3DPEHPK3PXP");
        assert_eq!(u.params.kind, OtpKind::Steam);
        // Aegis's type.
        let u = parse("otpauth://steam/Steam:gaben?secret=JBSWY3DPEHPK3PXP&issuer=Steam&digits=5");
        assert_eq!(u.params, OtpParams::steam());
        // An HOTP account is never Steam.
        let u = parse("otpauth://hotp/Steam:gaben?secret=JBSWY3DPEHPK3PXP&counter=1");
        assert_eq!(u.params.kind, OtpKind::Hotp);
    }

    #[test]
    fn every_refusal_names_its_field() {
        let cases: &[(&str, &str)] = &[
            ("JBSWY3DPEHPK3PXP", "scheme"),
            ("https://example.com/totp?secret=JBSWY3DPEHPK3PXP", "scheme"),
            ("otpauth:totp/x?secret=JBSWY3DPEHPK3PXP", "scheme"),
            ("otpauth://motp/x?secret=JBSWY3DPEHPK3PXP", "type"),
            ("otpauth:///x?secret=JBSWY3DPEHPK3PXP", "type"),
            ("otpauth://totp?secret=JBSWY3DPEHPK3PXP", "label"),
            ("otpauth://totp/?secret=JBSWY3DPEHPK3PXP", "label"),
            ("otpauth://totp/ACME:?secret=JBSWY3DPEHPK3PXP", "label"),
            (
                "otpauth://totp/ACME:%20%20?secret=JBSWY3DPEHPK3PXP",
                "label",
            ),
            ("otpauth://totp/a%zzb?secret=JBSWY3DPEHPK3PXP", "label"),
            ("otpauth://totp/a%4?secret=JBSWY3DPEHPK3PXP", "label"),
            ("otpauth://totp/a%FF%FE?secret=JBSWY3DPEHPK3PXP", "label"),
            ("otpauth://totp/a%0Ab?secret=JBSWY3DPEHPK3PXP", "label"),
            ("otpauth://totp/x", "secret"),
            ("otpauth://totp/x?issuer=ACME", "secret"),
            ("otpauth://totp/x?secret=", "secret"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PX1", "secret"),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP%", "secret"),
            ("otpauth://totp/x?secret=JBSWY3DPE", "secret"),
            ("steam://", "secret"),
            ("steam://JBSWY3DP0", "secret"),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
                "algorithm",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=%ZZ",
                "algorithm",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=5",
                "digits",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=9",
                "digits",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=256",
                "digits",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=six",
                "digits",
            ),
            ("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=", "digits"),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=-6",
                "digits",
            ),
            (
                "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=1&digits=10",
                "digits",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=0",
                "period",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=-30",
                "period",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=30s",
                "period",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=86401",
                "period",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&period=99999999999",
                "period",
            ),
            ("otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP", "counter"),
            (
                "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=",
                "counter",
            ),
            (
                "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=-1",
                "counter",
            ),
            (
                "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP&counter=18446744073709551616",
                "counter",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=%E2%28",
                "issuer",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=a%1Bb",
                "issuer",
            ),
            (
                "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=%",
                "issuer",
            ),
        ];
        for (uri, field) in cases {
            assert_eq!(refused(uri), *field, "{uri}");
        }
    }

    #[test]
    fn secret_errors_say_why() {
        let reason = match OtpAuthUri::parse("otpauth://totp/x?secret=JBSWY3DPEHPK3P8P") {
            Err(Error::InvalidUri {
                field: "secret",
                reason,
            }) => reason,
            other => panic!("{other:?}"),
        };
        assert!(
            reason.contains("'8'") && reason.contains("position 15"),
            "{reason}"
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let u = parse("otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP");
        let shown = format!("{u:?}");
        assert!(
            !shown.contains("JBSW") && !shown.contains("Hello"),
            "{shown}"
        );
        assert!(
            shown.contains("redacted") && shown.contains("alice"),
            "{shown}"
        );
        let shown = format!("{u:#?}");
        assert!(!shown.contains("JBSW"), "{shown}");
    }

    #[test]
    fn canonical_forms() {
        let totp = OtpAuthUri {
            issuer: Some("ACME Co".into()),
            account_name: "John’s Account".into(),
            params: OtpParams::totp_default(),
            secret: SecretBytes::new(HELLO.to_vec()),
        };
        assert_eq!(
            totp.to_uri(),
            "otpauth://totp/ACME%20Co:John%E2%80%99s%20Account?secret=JBSWY3DPEHPK3PXP\
             &issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
        );
        let hotp = OtpAuthUri {
            issuer: None,
            account_name: "bob+2fa@example.com".into(),
            params: OtpParams {
                algorithm: Algorithm::Sha512,
                digits: 8,
                ..OtpParams::hotp(7)
            },
            secret: SecretBytes::new(b"foo".to_vec()),
        };
        assert_eq!(
            hotp.to_uri(),
            "otpauth://hotp/bob%2B2fa@example.com?secret=MZXW6&algorithm=SHA512&digits=8&counter=7"
        );
        let steam = parse("steam://JBSWY3DPEHPK3PXP");
        assert_eq!(
            steam.to_uri(),
            "otpauth://totp/Steam:Steam%20Guard?secret=JBSWY3DPEHPK3PXP&issuer=Steam\
             &encoder=steam&algorithm=SHA1&digits=5&period=30"
        );
        let colon = OtpAuthUri {
            issuer: None,
            account_name: "a:b".into(),
            ..totp.clone()
        };
        assert_eq!(
            colon.to_uri(),
            "otpauth://totp/:a%3Ab?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30"
        );
        for u in [totp, hotp, steam, colon] {
            assert_eq!(parse(&u.to_uri()), u);
        }
    }

    #[test]
    fn parsed_uris_generate_the_expected_codes() {
        // RFC 6238's SHA1 seed in base32, 8 digits, at t = 59.
        let u = parse("otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8");
        assert_eq!(otp::generate(&u.params, &u.secret, 59).unwrap(), "94287082");
        // RFC 4226 counter 9.
        let u = parse("otpauth://hotp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&counter=9");
        assert_eq!(otp::generate(&u.params, &u.secret, 0).unwrap(), "520489");
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Trimmed, non-empty, control-free text: what `parse` can produce for names. Mixes
    /// arbitrary printable Unicode with the characters that matter to the format.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof!["\\PC{1,16}", "[a-zA-Z0-9 :%+&=?#/@.~'’éß東-]{1,16}",]
            .prop_map(|s| s.trim().to_string())
            .prop_filter("non-empty after trimming", |s| !s.is_empty())
    }

    fn params() -> impl Strategy<Value = OtpParams> {
        let algorithm = prop_oneof![
            Just(Algorithm::Sha1),
            Just(Algorithm::Sha256),
            Just(Algorithm::Sha512)
        ];
        prop_oneof![
            (algorithm.clone(), 6u8..=8, 1u32..=otp::MAX_PERIOD).prop_map(
                |(algorithm, digits, period)| OtpParams {
                    kind: OtpKind::Totp,
                    algorithm,
                    digits,
                    period,
                    counter: 0,
                }
            ),
            (algorithm, 6u8..=8, any::<u64>()).prop_map(|(algorithm, digits, counter)| {
                OtpParams {
                    algorithm,
                    digits,
                    ..OtpParams::hotp(counter)
                }
            }),
            Just(OtpParams::steam()),
        ]
    }

    fn uri() -> impl Strategy<Value = OtpAuthUri> {
        (
            proptest::option::of(name()),
            name(),
            params(),
            proptest::collection::vec(any::<u8>(), 1..64),
        )
            .prop_map(|(issuer, account_name, params, secret)| OtpAuthUri {
                issuer,
                account_name,
                params,
                secret: SecretBytes::new(secret),
            })
            // An issuer named Steam turns a TOTP account into a Steam one (documented).
            .prop_filter("TOTP issuer is not Steam", |u| {
                u.params.kind != OtpKind::Totp
                    || !u
                        .issuer
                        .as_deref()
                        .is_some_and(|i| i.eq_ignore_ascii_case(STEAM_ISSUER))
            })
    }

    proptest! {
        #[test]
        fn format_then_parse_is_identity(u in uri()) {
            let text = u.to_uri();
            let back = OtpAuthUri::parse(&text);
            prop_assert!(back.is_ok(), "{text}: {back:?}");
            let back = back.unwrap();
            prop_assert_eq!(&back, &u, "{}", text);
            // The canonical form is a fixed point.
            prop_assert_eq!(back.to_uri(), text);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = OtpAuthUri::parse(&s);
            let _ = OtpAuthUri::parse(&format!("otpauth://totp/{s}"));
            let _ = OtpAuthUri::parse(&format!("otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&{s}"));
        }

        #[test]
        fn parse_never_panics_on_format_characters(s in "[%:/?&=+#a-zA-Z2-7 ]{0,60}") {
            let _ = OtpAuthUri::parse(&format!("otpauth://totp/{s}"));
            let _ = OtpAuthUri::parse(&format!("steam://{s}"));
        }

        #[test]
        fn secrets_round_trip(bytes in proptest::collection::vec(any::<u8>(), 1..100)) {
            let secret = SecretBytes::new(bytes);
            let text = otp::encode_secret(&secret);
            prop_assert_eq!(otp::decode_secret(&text).ok(), Some(secret.clone()));
            prop_assert_eq!(otp::decode_secret(&text.to_lowercase()).ok(), Some(secret));
        }
    }
}
