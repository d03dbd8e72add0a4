//! Stored resources, their loaders and their Twilio JSON rendering.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::fmt_ts;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const PUSH: &str = "push";
pub const TOTP: &str = "totp";

pub const UNVERIFIED: &str = "unverified";
pub const VERIFIED: &str = "verified";

pub const PENDING: &str = "pending";
pub const EXPIRED: &str = "expired";
pub const APPROVED: &str = "approved";
pub const DENIED: &str = "denied";

fn parse_json_col(s: Option<String>) -> Option<Value> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

/// One row or none, through the connection's prepared-statement cache (the
/// loaders below run several times per request; re-parsing their SQL each
/// time cost more than running it).
fn query_opt<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> ApiResult<Option<T>> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params, map)
        .optional()?)
}

/// The row `sql` selects (ending in [`in_entity!`]) for `(service SID,
/// identity, SID)`: one indexed statement when everything exists, as on
/// every request that succeeds. Only when nothing matched do the
/// step-by-step lookups run, to pick the error: service (20404), entity
/// (60392), else `missing`.
fn load_in_entity<T>(
    conn: &Connection,
    sql: &str,
    (service_sid, identity, sid): (&str, &str, &str),
    map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    missing: ApiError,
) -> ApiResult<T> {
    match query_opt(conn, sql, params![sid, service_sid, identity], map)? {
        Some(row) => Ok(row),
        None => {
            Entity::load(conn, service_sid, identity)?;
            Err(missing)
        }
    }
}

// Column lists as macros so `concat!` can build constant SQL from them.
macro_rules! service_columns {
    () => {
        "sid, friendly_name, settings, date_created, date_updated"
    };
}
macro_rules! entity_columns {
    () => {
        "sid, service_sid, identity, date_created, date_updated"
    };
}
macro_rules! factor_columns {
    () => {
        "sid, service_sid, entity_sid, identity, friendly_name, factor_type, status, \
         credential_sid, binding, config, metadata, failed_attempts, date_created, date_updated"
    };
}
/// `WHERE` clause of [`load_in_entity`]: the resource by SID (`?1`),
/// within the entity of service `?2` and identity `?3`.
macro_rules! in_entity {
    () => {
        " WHERE sid = ?1 AND entity_sid =
            (SELECT sid FROM entities WHERE service_sid = ?2 AND identity = ?3)"
    };
}
macro_rules! challenge_columns {
    () => {
        "sid, service_sid, entity_sid, identity, factor_sid, factor_type, status, \
         responded_reason, details, hidden_details, metadata, failed_attempts, date_created, \
         date_updated, date_responded, expiration_date"
    };
}

// ---------------------------------------------------------------- services

fn not_found(service_sid: &str) -> ApiError {
    ApiError::NotFound(format!("/v2/Services/{service_sid}"))
}

/// Service settings kept as one JSON column: only a few influence behaviour
/// (`totp_*`, `push_include_date`); the rest are stored and echoed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceSettings {
    pub code_length: i64,
    pub lookup_enabled: bool,
    pub psd2_enabled: bool,
    pub skip_sms_to_landlines: bool,
    pub dtmf_input_required: bool,
    pub tts_name: Option<String>,
    pub do_not_share_warning_enabled: bool,
    pub custom_code_enabled: bool,
    pub push_include_date: bool,
    pub push_apn_credential_sid: Option<String>,
    pub push_fcm_credential_sid: Option<String>,
    pub totp_issuer: Option<String>,
    pub totp_time_step: i64,
    pub totp_code_length: i64,
    pub totp_skew: i64,
    pub default_template_sid: Option<String>,
    pub verify_event_subscription_enabled: bool,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            code_length: 6,
            lookup_enabled: false,
            psd2_enabled: false,
            skip_sms_to_landlines: false,
            dtmf_input_required: true,
            tts_name: None,
            do_not_share_warning_enabled: false,
            custom_code_enabled: true,
            push_include_date: false,
            push_apn_credential_sid: None,
            push_fcm_credential_sid: None,
            totp_issuer: None,
            totp_time_step: 30,
            totp_code_length: 6,
            totp_skew: 1,
            default_template_sid: None,
            verify_event_subscription_enabled: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Service {
    pub sid: String,
    pub friendly_name: String,
    pub settings: ServiceSettings,
    pub date_created: i64,
    pub date_updated: i64,
}

impl Service {
    pub const COLUMNS: &'static str = service_columns!();

    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<Service> {
        let settings: String = r.get(2)?;
        Ok(Service {
            sid: r.get(0)?,
            friendly_name: r.get(1)?,
            settings: serde_json::from_str(&settings).unwrap_or_default(),
            date_created: r.get(3)?,
            date_updated: r.get(4)?,
        })
    }

    pub fn find(conn: &Connection, sid: &str) -> ApiResult<Option<Service>> {
        query_opt(
            conn,
            concat!(
                "SELECT ",
                service_columns!(),
                " FROM services WHERE sid = ?1"
            ),
            [sid],
            Self::from_row,
        )
    }

    /// The service or 404/20404.
    pub fn load(conn: &Connection, sid: &str) -> ApiResult<Service> {
        Self::find(conn, sid)?.ok_or_else(|| not_found(sid))
    }

    /// 404/20404 unless the service exists (without decoding its settings).
    pub fn ensure_exists(conn: &Connection, sid: &str) -> ApiResult<()> {
        query_opt(conn, "SELECT 1 FROM services WHERE sid = ?1", [sid], |_| {
            Ok(())
        })?
        .ok_or_else(|| not_found(sid))
    }

    /// TOTP issuer: the explicit setting, else the friendly name.
    pub fn totp_issuer(&self) -> &str {
        self.settings
            .totp_issuer
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.friendly_name)
    }

    pub fn to_json(&self, st: &AppState) -> Value {
        let s = &self.settings;
        let url = st.service_url(&self.sid);
        json!({
            "sid": self.sid,
            "account_sid": st.account_sid,
            "friendly_name": self.friendly_name,
            "code_length": s.code_length,
            "lookup_enabled": s.lookup_enabled,
            "psd2_enabled": s.psd2_enabled,
            "skip_sms_to_landlines": s.skip_sms_to_landlines,
            "dtmf_input_required": s.dtmf_input_required,
            "tts_name": s.tts_name,
            "do_not_share_warning_enabled": s.do_not_share_warning_enabled,
            "custom_code_enabled": s.custom_code_enabled,
            "push": {
                "include_date": s.push_include_date,
                "apn_credential_sid": s.push_apn_credential_sid,
                "fcm_credential_sid": s.push_fcm_credential_sid,
            },
            "totp": {
                "issuer": self.totp_issuer(),
                "time_step": s.totp_time_step,
                "code_length": s.totp_code_length,
                "skew": s.totp_skew,
            },
            "default_template_sid": s.default_template_sid,
            "whatsapp": {"msg_service_sid": null, "from": null},
            "passkeys": null,
            "verify_event_subscription_enabled": s.verify_event_subscription_enabled,
            "date_created": fmt_ts(self.date_created),
            "date_updated": fmt_ts(self.date_updated),
            "url": url,
            "links": {
                "verification_checks": format!("{url}/VerificationCheck"),
                "verifications": format!("{url}/Verifications"),
                "rate_limits": format!("{url}/RateLimits"),
                "messaging_configurations": format!("{url}/MessagingConfigurations"),
                "entities": format!("{url}/Entities"),
                "webhooks": format!("{url}/Webhooks"),
                "access_tokens": format!("{url}/AccessTokens"),
            },
        })
    }
}

// ---------------------------------------------------------------- entities

#[derive(Debug, Clone)]
pub struct Entity {
    pub sid: String,
    pub service_sid: String,
    pub identity: String,
    pub date_created: i64,
    pub date_updated: i64,
}

impl Entity {
    pub const COLUMNS: &'static str = entity_columns!();

    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<Entity> {
        Ok(Entity {
            sid: r.get(0)?,
            service_sid: r.get(1)?,
            identity: r.get(2)?,
            date_created: r.get(3)?,
            date_updated: r.get(4)?,
        })
    }

    /// Identities match case-insensitively (column is COLLATE NOCASE).
    pub fn find(conn: &Connection, service_sid: &str, identity: &str) -> ApiResult<Option<Entity>> {
        query_opt(
            conn,
            concat!(
                "SELECT ",
                entity_columns!(),
                " FROM entities WHERE service_sid = ?1 AND identity = ?2"
            ),
            params![service_sid, identity],
            Self::from_row,
        )
    }

    /// Service must exist (20404), then the entity (60392).
    pub fn load(conn: &Connection, service_sid: &str, identity: &str) -> ApiResult<Entity> {
        Service::ensure_exists(conn, service_sid)?;
        Self::find(conn, service_sid, identity)?.ok_or(ApiError::EntityNotFound)
    }

    pub fn to_json(&self, st: &AppState) -> Value {
        let url = st.entity_url(&self.service_sid, &self.identity);
        json!({
            "sid": self.sid,
            "identity": self.identity,
            "account_sid": st.account_sid,
            "service_sid": self.service_sid,
            "date_created": fmt_ts(self.date_created),
            "date_updated": fmt_ts(self.date_updated),
            "url": url,
            "links": {
                "factors": format!("{url}/Factors"),
                "new_factors": format!("{url}/Factors"),
                "challenges": format!("{url}/Challenges"),
            },
        })
    }
}

// ----------------------------------------------------------------- factors

#[derive(Debug, Clone)]
pub struct Factor {
    pub sid: String,
    pub service_sid: String,
    pub entity_sid: String,
    pub identity: String,
    pub friendly_name: String,
    pub factor_type: String,
    pub status: String,
    pub credential_sid: Option<String>,
    /// push: base64 SPKI public key; totp: base32 secret.
    pub binding: String,
    /// The `config` object as served (push: without `credential_sid`).
    pub config: Value,
    pub metadata: Option<Value>,
    pub failed_attempts: i64,
    pub date_created: i64,
    pub date_updated: i64,
}

impl Factor {
    pub const COLUMNS: &'static str = factor_columns!();

    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<Factor> {
        let config: String = r.get(9)?;
        Ok(Factor {
            sid: r.get(0)?,
            service_sid: r.get(1)?,
            entity_sid: r.get(2)?,
            identity: r.get(3)?,
            friendly_name: r.get(4)?,
            factor_type: r.get(5)?,
            status: r.get(6)?,
            credential_sid: r.get(7)?,
            binding: r.get(8)?,
            config: serde_json::from_str(&config).unwrap_or(Value::Null),
            metadata: parse_json_col(r.get(10)?),
            failed_attempts: r.get(11)?,
            date_created: r.get(12)?,
            date_updated: r.get(13)?,
        })
    }

    pub fn find_by_sid(conn: &Connection, sid: &str) -> ApiResult<Option<Factor>> {
        query_opt(
            conn,
            concat!("SELECT ", factor_columns!(), " FROM factors WHERE sid = ?1"),
            [sid],
            Self::from_row,
        )
    }

    pub fn find_by_credential(
        conn: &Connection,
        credential_sid: &str,
    ) -> ApiResult<Option<Factor>> {
        query_opt(
            conn,
            concat!(
                "SELECT ",
                factor_columns!(),
                " FROM factors WHERE credential_sid = ?1"
            ),
            [credential_sid],
            Self::from_row,
        )
    }

    /// Service (20404) → entity (60392) → factor of that entity (60390).
    pub fn load(
        conn: &Connection,
        service_sid: &str,
        identity: &str,
        sid: &str,
    ) -> ApiResult<Factor> {
        load_in_entity(
            conn,
            concat!("SELECT ", factor_columns!(), " FROM factors", in_entity!()),
            (service_sid, identity, sid),
            Self::from_row,
            ApiError::FactorNotFound,
        )
    }

    pub fn is_push(&self) -> bool {
        self.factor_type == PUSH
    }

    pub fn is_verified(&self) -> bool {
        self.status == VERIFIED
    }

    /// An unverified factor older than the configured lifetime can no longer
    /// be verified or used (60383) and is purged later.
    pub fn is_stale(&self, st: &AppState) -> bool {
        self.status == UNVERIFIED && st.now() - self.date_created >= st.unverified_lifetime_secs
    }

    pub fn url(&self, st: &AppState) -> String {
        format!(
            "{}/Factors/{}",
            st.entity_url(&self.service_sid, &self.identity),
            self.sid
        )
    }

    /// Config as served: push factors carry `credential_sid`, which the
    /// SDKs require on create and update (PROTOCOL.md §3.4).
    pub fn config_json(&self) -> Value {
        let mut config = self.config.clone();
        if let (Some(cred), Value::Object(map)) = (&self.credential_sid, &mut config) {
            map.insert("credential_sid".into(), Value::String(cred.clone()));
        }
        config
    }

    pub fn to_json(&self, st: &AppState) -> Value {
        json!({
            "sid": self.sid,
            "account_sid": st.account_sid,
            "service_sid": self.service_sid,
            "entity_sid": self.entity_sid,
            "identity": self.identity,
            "date_created": fmt_ts(self.date_created),
            "date_updated": fmt_ts(self.date_updated),
            "friendly_name": self.friendly_name,
            "status": self.status,
            "factor_type": self.factor_type,
            "config": self.config_json(),
            "metadata": self.metadata,
            "url": self.url(st),
        })
    }
}

// -------------------------------------------------------------- challenges

#[derive(Debug, Clone)]
pub struct Challenge {
    pub sid: String,
    pub service_sid: String,
    pub entity_sid: String,
    pub identity: String,
    pub factor_sid: String,
    pub factor_type: String,
    pub status: String,
    pub responded_reason: String,
    pub details: Value,
    pub hidden_details: Option<Value>,
    pub metadata: Option<Value>,
    pub failed_attempts: i64,
    pub date_created: i64,
    pub date_updated: i64,
    pub date_responded: Option<i64>,
    pub expiration_date: i64,
}

impl Challenge {
    pub const COLUMNS: &'static str = challenge_columns!();

    pub fn from_row(r: &Row<'_>) -> rusqlite::Result<Challenge> {
        let details: String = r.get(8)?;
        Ok(Challenge {
            sid: r.get(0)?,
            service_sid: r.get(1)?,
            entity_sid: r.get(2)?,
            identity: r.get(3)?,
            factor_sid: r.get(4)?,
            factor_type: r.get(5)?,
            status: r.get(6)?,
            responded_reason: r.get(7)?,
            details: serde_json::from_str(&details).unwrap_or(Value::Null),
            hidden_details: parse_json_col(r.get(9)?),
            metadata: parse_json_col(r.get(10)?),
            failed_attempts: r.get(11)?,
            date_created: r.get(12)?,
            date_updated: r.get(13)?,
            date_responded: r.get(14)?,
            expiration_date: r.get(15)?,
        })
    }

    /// Service (20404) → entity (60392) → challenge of that entity (60391).
    /// Expiry is applied lazily here, so every read and write sees it.
    pub fn load(
        conn: &Connection,
        st: &AppState,
        service_sid: &str,
        identity: &str,
        sid: &str,
    ) -> ApiResult<Challenge> {
        let mut c = load_in_entity(
            conn,
            concat!(
                "SELECT ",
                challenge_columns!(),
                " FROM challenges",
                in_entity!()
            ),
            (service_sid, identity, sid),
            Self::from_row,
            ApiError::ChallengeNotFound,
        )?;
        c.apply_expiry(conn, st.now())?;
        Ok(c)
    }

    /// Flip `pending` → `expired` once past `expiration_date` (persisted).
    pub fn apply_expiry(&mut self, conn: &Connection, now: i64) -> ApiResult<()> {
        if self.status == PENDING && now >= self.expiration_date {
            conn.prepare_cached(
                "UPDATE challenges SET status = ?1, date_updated = ?2 WHERE sid = ?3 AND status = ?4",
            )?
            .execute(params![EXPIRED, now, self.sid, PENDING])?;
            self.status = EXPIRED.to_string();
            self.date_updated = now;
        }
        Ok(())
    }

    pub fn url(&self, st: &AppState) -> String {
        format!(
            "{}/Challenges/{}",
            st.entity_url(&self.service_sid, &self.identity),
            self.sid
        )
    }

    /// This challenge as the API serves it.
    pub fn resource<'a>(&'a self, st: &'a AppState) -> ChallengeResource<'a> {
        ChallengeResource {
            challenge: self,
            st,
        }
    }

    pub fn to_json(&self, st: &AppState) -> Value {
        serde_json::to_value(self.resource(st)).unwrap_or(Value::Null)
    }
}

/// A challenge in Twilio's JSON, serialised straight from the row: every
/// push flow answers with three of these, and building a `Value` tree
/// first (a map entry and a string per field) cost more than writing them.
pub struct ChallengeResource<'a> {
    challenge: &'a Challenge,
    st: &'a AppState,
}

impl Serialize for ChallengeResource<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        #[derive(Serialize)]
        struct Links {
            notifications: String,
        }
        let c = self.challenge;
        let url = c.url(self.st);
        let mut out = serializer.serialize_struct("Challenge", 18)?;
        out.serialize_field("sid", &c.sid)?;
        out.serialize_field("account_sid", &self.st.account_sid)?;
        out.serialize_field("service_sid", &c.service_sid)?;
        out.serialize_field("entity_sid", &c.entity_sid)?;
        out.serialize_field("identity", &c.identity)?;
        out.serialize_field("factor_sid", &c.factor_sid)?;
        out.serialize_field("date_created", &fmt_ts(c.date_created))?;
        out.serialize_field("date_updated", &fmt_ts(c.date_updated))?;
        out.serialize_field("date_responded", &c.date_responded.map(fmt_ts))?;
        out.serialize_field("expiration_date", &fmt_ts(c.expiration_date))?;
        out.serialize_field("status", &c.status)?;
        out.serialize_field("responded_reason", &c.responded_reason)?;
        out.serialize_field("details", &c.details)?;
        out.serialize_field("hidden_details", &c.hidden_details)?;
        out.serialize_field("metadata", &c.metadata)?;
        out.serialize_field("factor_type", &c.factor_type)?;
        out.serialize_field("url", &url)?;
        out.serialize_field(
            "links",
            &Links {
                notifications: format!("{url}/Notifications"),
            },
        )?;
        out.end()
    }
}
