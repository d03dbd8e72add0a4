//! Shared per-server state handed to every request handler.

use std::sync::Arc;

use crate::clock::Clock;
use crate::db::Db;
use crate::jwt::KeyCache;
use crate::webhooks::Dispatcher;

/// Limits from PROTOCOL.md §6. Tests lower them to trigger the errors.
#[derive(Debug, Clone)]
pub struct Limits {
    /// 60315 above this many push factors per entity (Twilio: 20).
    pub max_push_factors_per_entity: u32,
    /// 60315 above this many TOTP factors per entity (Twilio: 100).
    pub max_totp_factors_per_entity: u32,
    /// 60326 above this many factor creations per entity per 24 h (Twilio: 100).
    pub max_factor_creations_per_day: u32,
    /// Enforce the TOTP challenge creation limits (60312).
    pub challenge_rate_limit: bool,
    /// Wrong TOTP codes allowed before 60310 / 60308 (Twilio: 5).
    pub max_totp_attempts: u32,
    /// Pending (unanswered, unexpired) push challenges per entity before
    /// 60312: a backend bug or a hostile caller cannot pile up prompts on a
    /// device. Twilio documents no such limit; 20 is far above any real
    /// sign-in flow.
    pub max_pending_push_challenges_per_entity: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_push_factors_per_entity: 20,
            max_totp_factors_per_entity: 100,
            max_factor_creations_per_day: 100,
            challenge_rate_limit: true,
            max_totp_attempts: 5,
            max_pending_push_challenges_per_entity: 20,
        }
    }
}

pub struct AppState {
    pub db: Db,
    pub clock: Clock,
    pub account_sid: String,
    pub auth_token: String,
    /// `https://127.0.0.1:PORT` (no trailing slash); prefix of every `url`.
    pub base_url: String,
    pub unverified_lifetime_secs: i64,
    pub limits: Limits,
    pub webhooks: Dispatcher,
    pub demo_service_sid: Option<String>,
    /// Parsed push factor public keys (JWT and approval verification).
    pub keys: KeyCache,
    /// Deliver webhooks to loopback and private addresses too (tests, local
    /// receivers); see `webhook_target`.
    pub allow_private_webhooks: bool,
    /// How long a request body may take to arrive (`form::BodyDeadline`).
    pub body_timeout: std::time::Duration,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    pub fn service_url(&self, service_sid: &str) -> String {
        format!("{}/v2/Services/{service_sid}", self.base_url)
    }

    pub fn entity_url(&self, service_sid: &str, identity: &str) -> String {
        format!("{}/Entities/{identity}", self.service_url(service_sid))
    }
}
