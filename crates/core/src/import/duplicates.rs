//! Which imported entries are accounts the user already has, so the UI can offer to skip
//! them.
//!
//! Two entries are the same account when they would show the same codes: same secret,
//! kind, algorithm, digits and (TOTP) period. Names don't matter (the user may have renamed
//! it) and neither does an HOTP counter (it moves on with use).

use crate::otp::{OtpKind, OtpParams};
use crate::otpauth::OtpAuthUri;

/// What an imported entry duplicates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "of", content = "index", rename_all = "snake_case")]
pub enum Duplicate {
    /// `existing[i]`: an account already in the vault.
    Existing(usize),
    /// `imported[i]` (an earlier entry of the same import).
    Imported(usize),
}

fn same_codes(a: &OtpAuthUri, b: &OtpAuthUri) -> bool {
    let key = |p: &OtpParams| {
        (
            p.kind,
            p.algorithm,
            p.digits,
            if p.kind == OtpKind::Hotp { 0 } else { p.period },
        )
    };
    // Plain equality: both sides are the user's own secrets, timing reveals nothing new.
    key(&a.params) == key(&b.params) && a.secret == b.secret
}

/// For each of `imported`, the first account of `existing` or earlier imported entry it
/// duplicates, if any.
pub fn find_duplicates(existing: &[OtpAuthUri], imported: &[OtpAuthUri]) -> Vec<Option<Duplicate>> {
    imported
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            existing
                .iter()
                .position(|e| same_codes(e, entry))
                .map(Duplicate::Existing)
                .or_else(|| {
                    imported[..i]
                        .iter()
                        .position(|e| same_codes(e, entry))
                        .map(Duplicate::Imported)
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::countersign::tests::sample_entries;
    use crate::secret::SecretBytes;

    #[test]
    fn same_codes_are_duplicates_whatever_the_names() {
        let existing = sample_entries();
        let mut renamed = existing[0].clone();
        renamed.issuer = Some("GitHub (work)".into());
        renamed.account_name = "alice".into();
        let mut counter_moved = existing[2].clone();
        counter_moved.params.counter += 10;
        let mut other_period = existing[0].clone();
        other_period.params.period = 60;
        let mut other_secret = existing[1].clone();
        other_secret.secret = SecretBytes::new(b"another secret".to_vec());
        let imported = vec![
            renamed,
            counter_moved,
            other_period.clone(),
            other_secret,
            other_period,
        ];
        assert_eq!(
            find_duplicates(&existing, &imported),
            [
                Some(Duplicate::Existing(0)),
                Some(Duplicate::Existing(2)),
                None,
                None,
                Some(Duplicate::Imported(2)),
            ]
        );
        assert_eq!(find_duplicates(&[], &[]), []);
    }
}
