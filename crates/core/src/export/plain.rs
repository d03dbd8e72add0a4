//! Unencrypted export: one canonical `otpauth://` URI per line (what most authenticators
//! import, and what [`crate::import::UriList`] reads back).

use zeroize::Zeroizing;

use crate::otpauth::OtpAuthUri;

/// Proof that the caller (and through it, the user) acknowledged that a plain export
/// holds every secret in the clear. Built only by the deliberately named constructor.
#[derive(Debug, Clone, Copy)]
pub struct PlainExportAcknowledged(());

impl PlainExportAcknowledged {
    /// Call only after the user explicitly agreed to write their secrets unencrypted.
    pub fn user_accepted_unencrypted_export() -> Self {
        PlainExportAcknowledged(())
    }
}

pub(crate) fn export(
    entries: &[OtpAuthUri],
    _acknowledged: PlainExportAcknowledged,
) -> Zeroizing<String> {
    let uris: Vec<Zeroizing<String>> = entries.iter().map(|e| Zeroizing::new(e.to_uri())).collect();
    // Sized up front so growing never leaves copies of secrets in freed memory.
    let mut out = Zeroizing::new(String::with_capacity(
        uris.iter().map(|u| u.len() + 1).sum(),
    ));
    for uri in &uris {
        out.push_str(uri);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{Format, Importer, UriList};

    #[test]
    fn round_trips_through_the_uri_list_importer() {
        let entries = crate::export::countersign::tests::sample_entries();
        let text = export(
            &entries,
            PlainExportAcknowledged::user_accepted_unencrypted_export(),
        );
        assert_eq!(
            crate::import::detect(text.as_bytes()),
            Some(Format::UriList)
        );
        let back = UriList.import(text.as_bytes(), None).unwrap();
        assert!(back.errors.is_empty(), "{:?}", back.errors);
        assert_eq!(back.entries, entries);
    }
}
