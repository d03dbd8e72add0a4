//! Google Authenticator's "Transfer accounts" QR codes: `otpauth-migration://offline?data=`
//! with a protobuf `MigrationPayload` (the messages are declared once, in
//! [`crate::import::google`]). Accounts are split over several codes of one batch (same
//! random `batch_id`, `batch_size` codes, `batch_index` from 0), at most
//! [`MAX_ACCOUNTS_PER_CODE`] accounts and about [`MAX_PAYLOAD_BYTES`] per code so each QR
//! stays scannable by a phone camera, as Google's own export does (about ten per code).
//!
//! Google's format has no period and knows only 6 or 8 digits, TOTP and HOTP: accounts it
//! cannot carry are listed in [`MigrationExport::skipped`], never silently changed.

use prost::Message;
use zeroize::Zeroizing;

use crate::import::google::{MigrationPayload, OtpParameters};
use crate::otp::{Algorithm, OtpKind};
use crate::otpauth::OtpAuthUri;

/// Google Authenticator puts ten accounts in one code.
pub const MAX_ACCOUNTS_PER_CODE: usize = 10;
/// Protobuf bytes per code: base64 and the URI prefix make about 1.4 times as many
/// characters, a QR code of version ~25 at medium error correction, still easy to scan
/// from a laptop screen.
pub const MAX_PAYLOAD_BYTES: usize = 700;
/// The `version` Google Authenticator writes.
const PAYLOAD_VERSION: i32 = 1;

/// The codes of one transfer, in order, and the accounts the format cannot carry.
pub struct MigrationExport {
    pub batch_id: i32,
    /// `otpauth-migration://offline?data=...`, one per QR code. They hold secrets.
    pub codes: Vec<Zeroizing<String>>,
    pub skipped: Vec<SkippedAccount>,
}

impl std::fmt::Debug for MigrationExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrationExport")
            .field("batch_id", &self.batch_id)
            .field("codes", &self.codes.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

/// An account left out of a migration export, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SkippedAccount {
    /// "Issuer (name)".
    pub label: String,
    pub reason: String,
}

/// Splits `entries` into migration codes of a new batch.
pub fn export(entries: &[OtpAuthUri]) -> MigrationExport {
    export_with_batch_id(entries, rand::random::<i32>().wrapping_abs())
}

pub(crate) fn export_with_batch_id(entries: &[OtpAuthUri], batch_id: i32) -> MigrationExport {
    let mut skipped = Vec::new();
    let mut pages: Vec<Vec<OtpParameters>> = Vec::new();
    let mut page_bytes = 0;
    for entry in entries {
        let params = match parameters(entry) {
            Ok(params) => params,
            Err(reason) => {
                skipped.push(SkippedAccount {
                    label: crate::import::display_name(entry),
                    reason,
                });
                continue;
            }
        };
        // Field 1 of the payload: tag, length and the message.
        let size = params.encoded_len();
        let size = size + prost::length_delimiter_len(size) + 1;
        match pages.last_mut() {
            Some(page)
                if page.len() < MAX_ACCOUNTS_PER_CODE && page_bytes + size <= MAX_PAYLOAD_BYTES =>
            {
                page.push(params);
                page_bytes += size;
            }
            _ => {
                pages.push(vec![params]);
                page_bytes = size;
            }
        }
    }
    let batch_size = i32::try_from(pages.len()).unwrap_or(i32::MAX);
    let codes = pages
        .into_iter()
        .enumerate()
        .map(|(index, otp_parameters)| {
            let payload = MigrationPayload {
                otp_parameters,
                version: PAYLOAD_VERSION,
                batch_size,
                batch_index: i32::try_from(index).unwrap_or(i32::MAX),
                batch_id,
            };
            let bytes = Zeroizing::new(payload.encode_to_vec());
            let base64 = Zeroizing::new(data_encoding::BASE64.encode(&bytes));
            let mut uri = Zeroizing::new(String::with_capacity(base64.len() * 3 / 2 + 40));
            uri.push_str("otpauth-migration://offline?data=");
            // Base64's `+`, `/` and `=` are the only characters that need escaping.
            uri.extend(percent_encoding::utf8_percent_encode(
                &base64,
                percent_encoding::NON_ALPHANUMERIC,
            ));
            uri
        })
        .collect();
    MigrationExport {
        batch_id,
        codes,
        skipped,
    }
}

fn parameters(entry: &OtpAuthUri) -> Result<OtpParameters, String> {
    let p = &entry.params;
    let r#type = match p.kind {
        OtpKind::Totp => 2,
        OtpKind::Hotp => 1,
        OtpKind::Steam => return Err("Google Authenticator has no Steam codes".into()),
    };
    if p.kind == OtpKind::Totp && p.period != 30 {
        return Err(format!(
            "Google Authenticator's transfer has only 30-second codes (this one: {} s)",
            p.period
        ));
    }
    let digits = match p.digits {
        6 => 1,
        8 => 2,
        other => {
            return Err(format!(
                "Google Authenticator's transfer has only 6 or 8 digits (this one: {other})"
            ));
        }
    };
    let algorithm = match p.algorithm {
        Algorithm::Sha1 => 1,
        Algorithm::Sha256 => 2,
        Algorithm::Sha512 => 3,
    };
    let counter = i64::try_from(p.counter)
        .map_err(|_| "the HOTP counter is too large for the format".to_string())?;
    Ok(OtpParameters {
        secret: entry.secret.expose().to_vec(),
        name: entry.account_name.clone(),
        issuer: entry.issuer.clone().unwrap_or_default(),
        algorithm,
        digits,
        r#type,
        counter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Format, GoogleAuthenticator, Importer};
    use crate::otp::OtpParams;
    use crate::secret::SecretBytes;

    fn account(n: usize, params: OtpParams) -> OtpAuthUri {
        OtpAuthUri {
            issuer: Some(format!("Issuer {n}")),
            account_name: format!("user{n}@example.com"),
            params,
            secret: SecretBytes::new(format!("secret-{n:04}-0123456789").into_bytes()),
        }
    }

    #[test]
    fn every_batch_reads_back_to_the_same_accounts() {
        let mut entries: Vec<OtpAuthUri> = (0..23)
            .map(|n| account(n, OtpParams::totp_default()))
            .collect();
        entries[3].params.algorithm = Algorithm::Sha256;
        entries[4].params.digits = 8;
        entries[5].params = OtpParams {
            algorithm: Algorithm::Sha512,
            ..OtpParams::hotp(42)
        };
        entries[6].issuer = None;
        let export = export_with_batch_id(&entries, 77);
        assert_eq!(export.codes.len(), 3, "23 accounts, ten per code");
        assert!(export.skipped.is_empty(), "{:?}", export.skipped);

        let mut back = Vec::new();
        for (index, code) in export.codes.iter().enumerate() {
            assert_eq!(
                crate::import::detect(code.as_bytes()),
                Some(Format::GoogleAuthenticator)
            );
            let payload = crate::import::google::decode_payload(code).unwrap();
            assert_eq!(
                (
                    payload.version,
                    payload.batch_size,
                    payload.batch_index,
                    payload.batch_id
                ),
                (1, 3, index as i32, 77)
            );
            back.extend(
                GoogleAuthenticator
                    .import(code.as_bytes(), None)
                    .unwrap()
                    .entries,
            );
        }
        assert_eq!(back, entries);

        // All codes in one file: no code reported missing.
        let joined: String = export.codes.iter().map(|c| format!("{}\n", **c)).collect();
        let all = GoogleAuthenticator.import(joined.as_bytes(), None).unwrap();
        assert!(all.errors.is_empty(), "{:?}", all.errors);
        assert_eq!(all.entries, entries);
    }

    #[test]
    fn long_names_make_smaller_pages_so_each_code_stays_scannable() {
        let entries: Vec<OtpAuthUri> = (0..6)
            .map(|n| OtpAuthUri {
                account_name: format!("{n}{}", "x".repeat(200)),
                ..account(n, OtpParams::totp_default())
            })
            .collect();
        let export = export_with_batch_id(&entries, 1);
        assert!(export.codes.len() >= 2, "{export:?}");
        for code in &export.codes {
            let payload = crate::import::google::decode_payload(code).unwrap();
            assert!(payload.encoded_len() <= MAX_PAYLOAD_BYTES, "{}", code.len());
        }
    }

    #[test]
    fn accounts_the_format_cannot_carry_are_listed_not_changed() {
        let entries = vec![
            account(0, OtpParams::totp_default()),
            account(1, OtpParams::steam()),
            account(
                2,
                OtpParams {
                    period: 60,
                    ..OtpParams::totp_default()
                },
            ),
            account(
                3,
                OtpParams {
                    digits: 7,
                    ..OtpParams::totp_default()
                },
            ),
        ];
        let export = export_with_batch_id(&entries, 5);
        assert_eq!(export.codes.len(), 1);
        let reasons: Vec<&str> = export.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("Steam"));
        assert!(reasons[1].contains("60 s"));
        assert!(reasons[2].contains("6 or 8"));
        assert_eq!(export.skipped[0].label, "Issuer 1 (user1@example.com)");
    }

    #[test]
    fn nothing_to_export_is_no_code() {
        assert!(export(&[]).codes.is_empty());
    }
}
