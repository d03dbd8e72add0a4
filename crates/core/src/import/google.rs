//! Google Authenticator's "Transfer accounts" export: QR codes holding
//! `otpauth-migration://offline?data=BASE64`, where `data` is a protobuf `MigrationPayload`.
//! A large export is split over several QR codes (a batch: same `batch_id`, `batch_size`
//! codes numbered by `batch_index`); the file holds one URI per line, and missing codes of
//! a batch are reported. Plain `otpauth://` lines in the same file are read too. Entry
//! errors carry the line number of the QR code and the entry's label.
//!
//! The messages are declared by hand (no protoc), after the payload's published shape.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;
use zeroize::Zeroize;

use super::{EntryFields, Format, ImportEntryError, ImportResult, Importer, label, text};
use crate::error::Result;
use crate::otp::OtpKind;
use crate::otpauth::OtpAuthUri;
use crate::secret::SecretBytes;

pub struct GoogleAuthenticator;

const SCHEME: &str = "otpauth-migration://";
/// More QR codes than any transfer is split into.
const MAX_BATCH_SIZE: i32 = 100;

#[derive(Clone, PartialEq, Message)]
pub(crate) struct MigrationPayload {
    #[prost(message, repeated, tag = "1")]
    pub otp_parameters: Vec<OtpParameters>,
    #[prost(int32, tag = "2")]
    pub version: i32,
    #[prost(int32, tag = "3")]
    pub batch_size: i32,
    #[prost(int32, tag = "4")]
    pub batch_index: i32,
    #[prost(int32, tag = "5")]
    pub batch_id: i32,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct OtpParameters {
    #[prost(bytes = "vec", tag = "1")]
    pub secret: Vec<u8>,
    #[prost(string, tag = "2")]
    pub name: String,
    #[prost(string, tag = "3")]
    pub issuer: String,
    /// 0 unspecified, 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5.
    #[prost(int32, tag = "4")]
    pub algorithm: i32,
    /// 0 unspecified, 1 six, 2 eight.
    #[prost(int32, tag = "5")]
    pub digits: i32,
    /// 0 unspecified, 1 HOTP, 2 TOTP.
    #[prost(int32, tag = "6")]
    pub r#type: i32,
    #[prost(int64, tag = "7")]
    pub counter: i64,
}

impl Drop for OtpParameters {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

fn is_migration_line(line: &str) -> bool {
    line.trim_start()
        .get(..SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
}

impl Importer for GoogleAuthenticator {
    fn detect(&self, bytes: &[u8]) -> Option<Format> {
        let text = text(bytes)?;
        text.lines()
            .any(is_migration_line)
            .then_some(Format::GoogleAuthenticator)
    }

    fn import(&self, bytes: &[u8], _password: Option<&str>) -> Result<ImportResult> {
        let text = text(bytes).ok_or_else(|| {
            super::corrupt(Format::GoogleAuthenticator, "the file is not UTF-8 text")
        })?;
        let mut result = ImportResult::default();
        // batch id -> (batch size, indexes seen)
        let mut batches: BTreeMap<i32, (i32, BTreeSet<i32>)> = BTreeMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let line_error = |reason: String| ImportEntryError {
                index: Some(number + 1),
                label: None,
                reason,
            };
            if !is_migration_line(line) {
                match OtpAuthUri::parse(line) {
                    Ok(uri) => result.entries.push(uri),
                    Err(e) => result.errors.push(line_error(super::reason(e))),
                }
                continue;
            }
            let payload = match decode_payload(line) {
                Ok(payload) => payload,
                Err(reason) => {
                    result.errors.push(line_error(reason));
                    continue;
                }
            };
            let (size, seen) = batches
                .entry(payload.batch_id)
                .or_insert_with(|| (payload.batch_size.max(1), BTreeSet::new()));
            if !seen.insert(payload.batch_index) {
                // The same QR code scanned twice: its accounts are already in.
                continue;
            }
            *size = (*size).max(payload.batch_size);
            read_entries(&payload, Some(number + 1), &mut result);
        }
        for (id, (size, seen)) in batches {
            // A transfer is a handful of QR codes; a huge size is a damaged payload, and
            // listing every "missing" code of it would only flood the report.
            if size > MAX_BATCH_SIZE {
                result.errors.push(ImportEntryError {
                    index: None,
                    label: Some(format!("batch {id}")),
                    reason: format!(
                        "claims {size} QR codes, which no export has; {} were read",
                        seen.len()
                    ),
                });
                continue;
            }
            for missing in (0..size).filter(|i| !seen.contains(i)) {
                result.errors.push(ImportEntryError {
                    index: None,
                    label: Some(format!("QR code {} of {size}", missing + 1)),
                    reason: format!(
                        "missing from this file (batch {id}): its accounts were not imported; \
                         export or scan every code of the transfer"
                    ),
                });
            }
        }
        Ok(result)
    }
}

/// The accounts of one payload, into `result`; entry errors carry `index`.
fn read_entries(payload: &MigrationPayload, index: Option<usize>, result: &mut ImportResult) {
    for params in &payload.otp_parameters {
        match entry(params) {
            Ok(uri) => result.entries.push(uri),
            Err(reason) => result.errors.push(ImportEntryError {
                index,
                label: label(Some(&params.issuer), Some(&params.name)),
                reason,
            }),
        }
    }
}

/// One QR code of a transfer, read on its own (a scan shows one code at a time).
pub(crate) struct MigrationCode {
    pub batch_id: i32,
    /// How many codes the transfer has (at least 1).
    pub batch_size: i32,
    pub batch_index: i32,
    pub accounts: ImportResult,
}

/// Reads one `otpauth-migration://` payload, or says why it can't be read.
pub(crate) fn read_code(text: &str) -> std::result::Result<MigrationCode, String> {
    if !is_migration_line(text) {
        return Err("not an otpauth-migration:// link".into());
    }
    let payload = decode_payload(text.trim())?;
    if payload.batch_size > MAX_BATCH_SIZE {
        return Err(format!(
            "claims {} QR codes, which no export has",
            payload.batch_size
        ));
    }
    let batch_size = payload.batch_size.max(1);
    if !(0..batch_size).contains(&payload.batch_index) {
        return Err(format!(
            "claims to be code {} of {batch_size}",
            i64::from(payload.batch_index) + 1
        ));
    }
    let mut accounts = ImportResult::default();
    read_entries(&payload, None, &mut accounts);
    Ok(MigrationCode {
        batch_id: payload.batch_id,
        batch_size,
        batch_index: payload.batch_index,
        accounts,
    })
}

/// The protobuf payload of one `otpauth-migration://offline?data=...` line.
pub(crate) fn decode_payload(line: &str) -> std::result::Result<MigrationPayload, String> {
    let query = line.split_once('?').map(|(_, q)| q).unwrap_or("");
    let data = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("data="))
        .ok_or("the migration link has no data parameter")?;
    let data = percent_encoding::percent_decode_str(data)
        .decode_utf8()
        .map_err(|_| "the data parameter is not valid percent-encoded text")?;
    let bytes = super::decode_base64(&data).ok_or("the data parameter is not base64")?;
    MigrationPayload::decode(bytes.as_slice())
        .map_err(|_| "the data parameter is not a Google Authenticator payload".to_string())
}

fn entry(params: &OtpParameters) -> std::result::Result<OtpAuthUri, String> {
    let kind = match params.r#type {
        1 => OtpKind::Hotp,
        0 | 2 => OtpKind::Totp,
        other => return Err(format!("type: unknown OTP type {other}")),
    };
    let algorithm = match params.algorithm {
        0 | 1 => "SHA1",
        2 => "SHA256",
        3 => "SHA512",
        4 => return Err("algorithm: MD5 is not supported".into()),
        other => return Err(format!("algorithm: unknown algorithm {other}")),
    };
    let digits = match params.digits {
        0 | 1 => 6,
        2 => 8,
        other => return Err(format!("digits: unknown digit count {other}")),
    };
    let counter = u64::try_from(params.counter)
        .map_err(|_| "counter: the counter is negative".to_string())?;
    // Google writes "Issuer:account" into name when the QR code it scanned had that label.
    let issuer = Some(params.issuer.trim()).filter(|i| !i.is_empty());
    let name = params.name.trim();
    let (issuer, name) = match (issuer, name.split_once(':')) {
        (Some(i), Some((prefix, rest))) if prefix.trim() == i => (Some(i), rest),
        (None, Some((prefix, rest))) if !rest.trim().is_empty() => (Some(prefix), rest),
        _ => (issuer, name),
    };
    EntryFields {
        issuer,
        name: Some(name),
        kind,
        algorithm: Some(algorithm),
        digits: Some(digits),
        period: None,
        counter: Some(counter),
        secret: SecretBytes::new(params.secret.clone()),
    }
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::test_support::*;
    use crate::otp::Algorithm;

    #[test]
    fn reads_every_batch_and_reports_the_missing_one() {
        let bytes = fixture("google_authenticator.txt");
        assert_eq!(
            crate::import::detect(&bytes),
            Some(Format::GoogleAuthenticator)
        );
        let result = GoogleAuthenticator.import(&bytes, None).unwrap();
        let e = &result.entries;
        assert_eq!(e.len(), 4, "{e:?}");
        assert_entry(
            &e[0],
            Some("GitHub"),
            "alice@example.com",
            totp(Algorithm::Sha1, 6, 30),
            "JBSWY3DPEHPK3PXP",
        );
        assert_entry(
            &e[1],
            Some("ACME Co"),
            "bob",
            totp(Algorithm::Sha256, 8, 30),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
        );
        assert_entry(
            &e[2],
            None,
            "carol",
            hotp(Algorithm::Sha512, 6, 42),
            "MZXW6YTB",
        );
        // Batch 2: an "Issuer:account" name with the issuer repeated.
        assert_entry(
            &e[3],
            Some("Example"),
            "dave",
            totp(Algorithm::Sha1, 6, 30),
            "NBSWY3DP",
        );
        let errors: Vec<String> = result.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert_eq!(result.errors[0].index, Some(1));
        assert_eq!(result.errors[0].label.as_deref(), Some("Broken: md5"));
        assert!(errors[0].contains("MD5"), "{errors:?}");
        assert_eq!(result.errors[1].index, Some(4));
        assert!(errors[1].contains("data parameter is not"), "{errors:?}");
        assert_eq!(result.errors[2].index, None);
        assert!(errors[2].starts_with("QR code 3 of 3"), "{errors:?}");
    }

    #[test]
    fn an_implausible_batch_size_is_one_error() {
        let payload = MigrationPayload {
            otp_parameters: Vec::new(),
            version: 1,
            batch_size: i32::MAX,
            batch_index: 0,
            batch_id: 1,
        };
        let data = data_encoding::BASE64.encode(&payload.encode_to_vec());
        let line = format!(
            "otpauth-migration://offline?data={}",
            data.replace('+', "%2B")
        );
        let result = GoogleAuthenticator.import(line.as_bytes(), None).unwrap();
        assert_eq!(result.errors.len(), 1, "{:?}", result.errors);
        assert!(
            result.errors[0].reason.contains("2147483647 QR codes"),
            "{}",
            result.errors[0]
        );
    }

    #[test]
    fn payload_shape_matches_the_published_one() {
        // Hand-encoded: field 1 (message) { 1: bytes "hi", 2: "n", 6: varint 2 }, 3: 1.
        let bytes = [
            0x0a, 0x09, 0x0a, 0x02, b'h', b'i', 0x12, 0x01, b'n', 0x30, 0x02, 0x18, 0x01,
        ];
        let payload = MigrationPayload::decode(&bytes[..]).unwrap();
        assert_eq!(payload.batch_size, 1);
        let p = &payload.otp_parameters[0];
        assert_eq!(
            (p.secret.as_slice(), p.name.as_str(), p.r#type),
            (&b"hi"[..], "n", 2)
        );
    }
}
