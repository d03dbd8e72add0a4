//! An account typed in by hand: the "can't scan? enter this key" path of the window's form
//! and of `countersign-cli add --name`. Every problem is reported against its field, so the
//! form can show each one beside its input, and a preview code is shown before saving.

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::error::Error;
use crate::otp::{self, OtpKind, OtpParams};
use crate::otpauth::OtpAuthUri;

/// What the form (or the CLI's flags and stdin) holds.
#[derive(Debug, Clone, Deserialize)]
pub struct ManualEntry {
    #[serde(default)]
    pub issuer: String,
    pub name: String,
    /// As typed: base32 (spaces, dashes and any case allowed) or, with `hex`, hexadecimal.
    pub secret: String,
    #[serde(default)]
    pub hex: bool,
    pub params: OtpParams,
}

impl Drop for ManualEntry {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

/// A problem with one field of the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// `issuer`, `name`, `secret`, `digits`, `period`, `algorithm` or `counter`.
    pub field: &'static str,
    pub message: String,
}

/// The live preview under the form: the code the account would show now, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManualPreview {
    pub code: Option<String>,
    /// Seconds until the code changes (TOTP/Steam).
    pub seconds_remaining: Option<u32>,
    pub errors: Vec<FieldError>,
}

impl ManualEntry {
    /// The account to add, or every problem found, by field.
    pub fn check(&self) -> Result<OtpAuthUri, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() {
            errors.push(FieldError {
                field: "name",
                message: "the account name is empty (the user name or e-mail at the service)"
                    .into(),
            });
        }
        let mut params = self.params.clone();
        if params.kind != OtpKind::Hotp {
            // The counter is only shown for HOTP; whatever it holds otherwise means nothing.
            params.counter = 0;
        }
        if let Err(e) = params.validate() {
            errors.push(field_error(e));
        }
        let secret = if self.hex {
            otp::decode_hex_secret(&self.secret)
        } else {
            otp::decode_secret(&self.secret)
        };
        let secret = match secret {
            Ok(secret) => Some(secret),
            Err(e) => {
                errors.push(field_error(e));
                None
            }
        };
        match secret {
            Some(secret) if errors.is_empty() => Ok(OtpAuthUri {
                issuer: Some(self.issuer.trim().to_string()).filter(|i| !i.is_empty()),
                account_name: name.to_string(),
                params,
                secret,
            }),
            _ => Err(errors),
        }
    }

    /// As [`Self::check`], with the first problem as `Error::InvalidAccount` (what callers
    /// that report one error show: "invalid secret: …").
    pub fn to_uri(&self) -> crate::Result<OtpAuthUri> {
        self.check()
            .map_err(|errors| match errors.into_iter().next() {
                Some(first) => Error::InvalidAccount {
                    field: first.field,
                    reason: first.message,
                },
                None => Error::InvalidAccount {
                    field: "secret",
                    reason: "the entry was refused".into(),
                },
            })
    }

    /// The code the entry would show at `unix_time`, or its field errors.
    pub fn preview(&self, unix_time: u64) -> ManualPreview {
        match self.check() {
            Ok(entry) => preview_with_secret(&entry.params, &entry.secret, unix_time),
            Err(errors) => ManualPreview {
                code: None,
                seconds_remaining: None,
                errors,
            },
        }
    }
}

/// The code `params` give with `secret` at `unix_time`, or why they are refused.
pub fn preview_with_secret(
    params: &OtpParams,
    secret: &crate::secret::SecretBytes,
    unix_time: u64,
) -> ManualPreview {
    let generated = params
        .validate()
        .and_then(|()| otp::generate(params, secret, unix_time));
    match generated {
        Ok(code) => ManualPreview {
            code: Some(code),
            seconds_remaining: otp::seconds_remaining(params, unix_time),
            errors: Vec::new(),
        },
        Err(e) => ManualPreview {
            code: None,
            seconds_remaining: None,
            errors: vec![field_error(e)],
        },
    }
}

fn field_error(error: Error) -> FieldError {
    match error {
        Error::InvalidAccount { field, reason } => FieldError {
            field,
            message: reason,
        },
        other => FieldError {
            field: "secret",
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::Algorithm;

    fn entry(name: &str, secret: &str) -> ManualEntry {
        ManualEntry {
            issuer: " Example ".into(),
            name: name.into(),
            secret: secret.into(),
            hex: false,
            params: OtpParams::totp_default(),
        }
    }

    #[test]
    fn a_typed_key_previews_the_rfc_6238_code() {
        // RFC 6238's SHA1 seed, typed in groups and lower case.
        let typed = entry("alice", "gezd gnbv-gy3t qojq gezd gnbv gy3t qojq");
        let preview = typed.preview(59);
        assert_eq!(preview.errors, vec![]);
        assert_eq!(preview.code.as_deref(), Some("287082"));
        assert_eq!(preview.seconds_remaining, Some(1));
        let uri = typed.check().expect("valid");
        assert_eq!(uri.issuer.as_deref(), Some("Example"));
        assert_eq!(uri.secret.expose(), b"12345678901234567890");

        let mut hex = entry("alice", "3132333435363738393031323334353637383930");
        hex.hex = true;
        hex.params.digits = 8;
        assert_eq!(hex.preview(59).code.as_deref(), Some("94287082"));
    }

    #[test]
    fn every_problem_is_reported_against_its_field() {
        let mut bad = entry("  ", "GEZDGNBVGY3TQOJ0");
        bad.params.digits = 9;
        let errors = bad.check().expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["name", "digits", "secret"]);
        assert!(
            errors[2].message.contains("'0' at position 16"),
            "{}",
            errors[2].message
        );
        let preview = bad.preview(59);
        assert_eq!(preview.code, None);
        assert_eq!(preview.errors, errors);
        let first = bad.to_uri().expect_err("invalid");
        assert_eq!(first.code(), "invalid_account");
        assert!(first.to_string().starts_with("invalid name: "), "{first}");
    }

    #[test]
    fn steam_and_hotp_take_their_own_parameters() {
        let mut steam = entry("gaben", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        steam.params = OtpParams::steam();
        steam.params.algorithm = Algorithm::Sha256;
        let errors = steam.check().expect_err("steam is sha1");
        assert_eq!(errors[0].field, "algorithm");

        let mut hotp = entry("bob", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        hotp.params = OtpParams::hotp(1);
        // RFC 4226 Appendix D, count 1.
        assert_eq!(hotp.preview(0).code.as_deref(), Some("287082"));
        let mut totp = entry("carol", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        totp.params.counter = 7;
        assert_eq!(totp.check().expect("valid").params.counter, 0);
    }
}
