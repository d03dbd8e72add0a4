//! An account as stored in the metadata file: everything but the secret.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::otp::OtpParams;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: Uuid,
    /// Service name shown above the account ("GitHub"); empty when the URI had none.
    #[serde(default)]
    pub issuer: String,
    /// The user's name at that service ("alice@example.com").
    pub name: String,
    pub otp: OtpParams,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    #[serde(default)]
    pub pinned: bool,
    /// Icon chosen by the user (an icon-set slug such as "github"); `None` = derive from the
    /// issuer, with a lettered fallback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

/// A change the user makes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccountEdit {
    pub issuer: Option<String>,
    pub name: Option<String>,
    pub pinned: Option<bool>,
    /// `Some("")` clears a chosen icon.
    pub icon: Option<String>,
    /// New code parameters (a service that changed its digits or period, a typo at entry).
    pub otp: Option<OtpParams>,
}

impl AccountEdit {
    /// Applies the edit; refuses an empty name (every account needs something to call it).
    pub fn apply(&self, account: &mut Account) -> crate::Result<()> {
        if let Some(name) = &self.name {
            let name = name.trim();
            if name.is_empty() {
                return Err(crate::Error::InvalidAccount {
                    field: "name",
                    reason: "the account name cannot be empty".into(),
                });
            }
            account.name = name.to_string();
        }
        if let Some(issuer) = &self.issuer {
            account.issuer = issuer.trim().to_string();
        }
        if let Some(pinned) = self.pinned {
            account.pinned = pinned;
        }
        if let Some(icon) = &self.icon {
            let icon = icon.trim();
            account.icon = (!icon.is_empty()).then(|| icon.to_string());
        }
        if let Some(otp) = &self.otp {
            otp.validate()?;
            account.otp = otp.clone();
        }
        Ok(())
    }
}

impl Account {
    /// "Issuer (name)" or just the name: how the account is called in messages and labels.
    pub fn display_name(&self) -> String {
        if self.issuer.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.issuer, self.name)
        }
    }

    /// Whether `query` names this account: its id (or an id prefix of 8+ chars),
    /// `issuer:name`, the issuer or the name, case-insensitively.
    pub fn matches(&self, query: &str) -> bool {
        let q = query.trim().to_lowercase();
        if q.is_empty() {
            return false;
        }
        let id = self.id.to_string();
        (q.len() >= 8 && id.starts_with(&q))
            || self.name.to_lowercase() == q
            || self.issuer.to_lowercase() == q
            || format!("{}:{}", self.issuer, self.name).to_lowercase() == q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Account {
        Account {
            id: Uuid::new_v4(),
            issuer: "Example".into(),
            name: "alice".into(),
            otp: OtpParams::totp_default(),
            created_at: 0,
            pinned: false,
            icon: None,
        }
    }

    #[test]
    fn code_settings_are_edited_only_when_valid() {
        let mut edited = account();
        let mut otp = OtpParams::totp_default();
        otp.digits = 8;
        otp.period = 60;
        let edit = AccountEdit {
            otp: Some(otp.clone()),
            ..AccountEdit::default()
        };
        edit.apply(&mut edited).expect("valid");
        assert_eq!(edited.otp, otp);
        assert_eq!(edited.name, "alice", "other fields stay");

        let mut refused = account();
        otp.digits = 4;
        let edit = AccountEdit {
            otp: Some(otp),
            ..AccountEdit::default()
        };
        let err = edit.apply(&mut refused).expect_err("four digits");
        assert!(err.to_string().starts_with("invalid digits"), "{err}");
        assert_eq!(refused.otp, OtpParams::totp_default(), "nothing changed");
    }
}
