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
