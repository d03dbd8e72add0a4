//! `otpauth://` (and `steam://`) URIs, one per line: what most apps can export, what our
//! plain export writes, and the decrypted content of an Ente Auth export.

use super::{Format, ImportEntryError, ImportResult, Importer, text};
use crate::error::Result;
use crate::otpauth::OtpAuthUri;

pub struct UriList;

fn is_uri_line(line: &str) -> bool {
    let lower = line
        .trim_start()
        .get(..10)
        .unwrap_or("")
        .to_ascii_lowercase();
    lower.starts_with("otpauth://") || lower.starts_with("steam://")
}

impl Importer for UriList {
    fn detect(&self, bytes: &[u8]) -> Option<Format> {
        let text = text(bytes)?;
        text.lines().any(is_uri_line).then_some(Format::UriList)
    }

    fn import(&self, bytes: &[u8], _password: Option<&str>) -> Result<ImportResult> {
        let text = text(bytes)
            .ok_or_else(|| super::corrupt(Format::UriList, "the file is not UTF-8 text"))?;
        Ok(parse_lines(text))
    }
}

/// Each non-empty line that is not a `#` comment is one URI; `index` is the line number.
pub(crate) fn parse_lines(text: &str) -> ImportResult {
    let mut result = ImportResult::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match OtpAuthUri::parse(line) {
            Ok(uri) => result.entries.push(uri),
            Err(e) => result.errors.push(ImportEntryError {
                index: Some(number + 1),
                label: None,
                reason: super::reason(e),
            }),
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::test_support::*;
    use crate::otp::OtpParams;

    #[test]
    fn reads_every_line_and_reports_bad_ones() {
        let bytes = fixture("uri_list.txt");
        assert_eq!(super::super::detect(&bytes), Some(Format::UriList));
        let result = UriList.import(&bytes, None).unwrap();
        assert_eq!(result.entries.len(), 4, "{:?}", result.entries);
        let e = &result.entries;
        assert_first_three_fixture_entries(e);
        assert_entry(
            &e[3],
            Some("Steam"),
            "Steam Guard",
            OtpParams::steam(),
            "KRSXG5BNKN2GKYLN",
        );
        let lines: Vec<_> = result.errors.iter().map(|e| e.index).collect();
        assert_eq!(lines, [Some(5), Some(6)]);
        assert!(
            result.errors[0].reason.starts_with("secret:"),
            "{}",
            result.errors[0]
        );
        assert!(
            result.errors[1].reason.starts_with("digits:"),
            "{}",
            result.errors[1]
        );
        // No error message quotes the secret of the bad line.
        assert!(
            !result.errors[0].reason.contains("NOTBASE"),
            "{}",
            result.errors[0]
        );
    }
}
