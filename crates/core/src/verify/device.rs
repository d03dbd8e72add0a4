//! The endpoints a push device calls (PROTOCOL.md §1 table), with their errors turned into
//! words: factor creation (access token), verification, rename, deletion, and challenge
//! list/fetch/update (device JWT).

use std::collections::HashMap;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};
use crate::verify::client::{Credentials, DeviceFactor, RawResponse, Request, VerifyClient};

/// Header naming the challenge fields to sign on approval (§3.5).
pub const SIGNATURE_FIELDS_HEADER: &str = "Twilio-Verify-Signature-Fields";

/// How many pending challenges one list request asks for. Pending challenges expire within
/// the hour, so one page is plenty.
const PENDING_PAGE_SIZE: &str = "50";

/// What the device sends to create its push factor (§3.4).
#[derive(Debug, Clone)]
pub struct NewPushFactor<'a> {
    pub friendly_name: &'a str,
    /// Base64 SPKI of the new key.
    pub public_key: &'a str,
    pub app_id: &'a str,
    pub sdk_version: &'a str,
    /// Stringified JSON object with string values.
    pub metadata: &'a str,
}

/// What the device keeps from the creation reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedFactor {
    pub sid: String,
    pub account_sid: String,
    pub status: String,
    pub friendly_name: String,
    pub credential_sid: String,
}

/// A factor as the server reports it to its device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFactor {
    pub sid: String,
    /// `unverified` or `verified`.
    pub status: String,
    pub friendly_name: String,
}

#[derive(Deserialize)]
struct FactorJson {
    sid: String,
    account_sid: String,
    status: String,
    friendly_name: String,
    #[serde(default)]
    config: Option<FactorConfigJson>,
}

#[derive(Deserialize)]
struct FactorConfigJson {
    #[serde(default)]
    credential_sid: Option<String>,
}

/// A challenge as the device shows it. Hidden details are deliberately not kept: they are
/// for the relying party, not for the screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub sid: String,
    pub factor_sid: String,
    /// `pending`, `expired`, `approved` or `denied`.
    pub status: String,
    pub date_created: String,
    #[serde(default)]
    pub date_updated: Option<String>,
    #[serde(default)]
    pub date_responded: Option<String>,
    pub expiration_date: String,
    pub details: ChallengeDetails,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeDetails {
    pub message: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub fields: Vec<ChallengeField>,
    #[serde(default)]
    pub date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeField {
    pub label: String,
    pub value: String,
}

fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

impl Challenge {
    /// `expiration_date` in Unix seconds, when the server sent a readable one.
    pub fn expires_at(&self) -> Option<i64> {
        parse_timestamp(&self.expiration_date)
    }

    pub fn is_pending(&self) -> bool {
        self.status == "pending"
    }
}

pub fn parse_timestamp(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// One challenge fetched for answering: the parsed view plus exactly what the server sent,
/// because the approval signs the server's own values (§4.5.1 step 1).
#[derive(Debug, Clone)]
pub struct FetchedChallenge {
    pub challenge: Challenge,
    /// Top-level members of the body, each kept as the raw JSON text received.
    pub body: HashMap<String, Box<RawValue>>,
    /// `Twilio-Verify-Signature-Fields`, when the server sent it.
    pub signature_fields: Option<String>,
}

#[derive(Deserialize)]
struct ChallengePage {
    challenges: Vec<Challenge>,
}

impl VerifyClient {
    /// `POST …/Factors` with the enrollment access token.
    pub async fn create_push_factor(
        &self,
        service_sid: &str,
        identity: &str,
        access_token: &str,
        new: &NewPushFactor<'_>,
    ) -> Result<CreatedFactor> {
        let credentials = Credentials::Device {
            token: access_token.to_string(),
        };
        let response = self
            .send(Request {
                method: Method::POST,
                path: &["Services", service_sid, "Entities", identity, "Factors"],
                query: &[],
                form: &[
                    ("FriendlyName", new.friendly_name),
                    ("FactorType", "push"),
                    ("Binding.PublicKey", new.public_key),
                    ("Binding.Alg", "ES256"),
                    ("Config.SdkVersion", new.sdk_version),
                    ("Config.AppId", new.app_id),
                    ("Config.NotificationPlatform", "none"),
                    ("Metadata", new.metadata),
                ],
                credentials: &credentials,
            })
            .await?;
        if response.status == StatusCode::UNAUTHORIZED {
            return Err(Error::InvalidEnrollLink(
                "the server refused its access token: it has expired or was already used; ask for a new link".into(),
            ));
        }
        let factor: FactorJson = response.json()?;
        let credential_sid = factor
            .config
            .and_then(|c| c.credential_sid)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Network {
                url: self.base_url().to_string(),
                reason: "the new factor has no config.credential_sid".into(),
            })?;
        Ok(CreatedFactor {
            sid: factor.sid,
            account_sid: factor.account_sid,
            status: factor.status,
            friendly_name: factor.friendly_name,
            credential_sid,
        })
    }

    /// `POST …/Factors/{sid}` with `AuthPayload` = DER signature of the factor SID. Returns
    /// the factor's status afterwards (`verified` on success).
    pub async fn verify_push_factor(&self, factor: &DeviceFactor) -> Result<String> {
        let payload = factor.key.sign_factor_sid(&factor.factor_sid);
        let response = self
            .factor_request(factor, Method::POST, &[("AuthPayload", &payload)])
            .await?;
        device_check(&response, factor)?;
        Ok(response.json::<FactorJson>()?.status)
    }

    /// `GET …/Factors/{sid}` with the device JWT: the factor as the server sees it now.
    pub async fn fetch_push_factor(&self, factor: &DeviceFactor) -> Result<RemoteFactor> {
        let response = self.factor_request(factor, Method::GET, &[]).await?;
        device_check(&response, factor)?;
        let json: FactorJson = response.json()?;
        Ok(RemoteFactor {
            sid: json.sid,
            status: json.status,
            friendly_name: json.friendly_name,
        })
    }

    /// Renames the factor on the server (the SDK's update sends the name with the config).
    pub async fn rename_push_factor(
        &self,
        factor: &DeviceFactor,
        friendly_name: &str,
    ) -> Result<()> {
        let response = self
            .factor_request(factor, Method::POST, &[("FriendlyName", friendly_name)])
            .await?;
        device_check(&response, factor)
    }

    /// `DELETE …/Factors/{sid}`. `Ok(false)` when the server no longer knows the factor:
    /// 404, or 401 after the clock retry (its JWT `kid` is gone), as the SDKs treat it.
    pub async fn delete_push_factor(&self, factor: &DeviceFactor) -> Result<bool> {
        let response = self.factor_request(factor, Method::DELETE, &[]).await?;
        match response.status {
            StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED => Ok(false),
            _ => response.check().map(|()| true),
        }
    }

    async fn factor_request(
        &self,
        factor: &DeviceFactor,
        method: Method,
        form: &[(&str, &str)],
    ) -> Result<RawResponse> {
        let credentials = Credentials::Factor(factor.clone());
        self.send(Request {
            method,
            path: &[
                "Services",
                &factor.service_sid,
                "Entities",
                &factor.identity,
                "Factors",
                &factor.factor_sid,
            ],
            query: &[],
            form,
            credentials: &credentials,
        })
        .await
    }

    /// The factor's pending challenges, newest first (§4.4).
    pub async fn pending_challenges(&self, factor: &DeviceFactor) -> Result<Vec<Challenge>> {
        let credentials = Credentials::Factor(factor.clone());
        let response = self
            .send(Request {
                method: Method::GET,
                path: &[
                    "Services",
                    &factor.service_sid,
                    "Entities",
                    &factor.identity,
                    "Challenges",
                ],
                query: &[
                    ("FactorSid", &factor.factor_sid),
                    ("Status", "pending"),
                    ("Order", "desc"),
                    ("PageSize", PENDING_PAGE_SIZE),
                ],
                form: &[],
                credentials: &credentials,
            })
            .await?;
        device_check(&response, factor)?;
        Ok(response.json::<ChallengePage>()?.challenges)
    }

    /// `GET …/Challenges/{sid}`, keeping the raw body and the signature-fields header.
    pub async fn fetch_challenge(
        &self,
        factor: &DeviceFactor,
        challenge_sid: &str,
    ) -> Result<FetchedChallenge> {
        let response = self.challenge_request(factor, challenge_sid, None).await?;
        if response.status == StatusCode::NOT_FOUND {
            return Err(Error::ChallengeNotFound(challenge_sid.to_string()));
        }
        device_check(&response, factor)?;
        let challenge: Challenge = response.json()?;
        let body: HashMap<String, Box<RawValue>> = response.json()?;
        Ok(FetchedChallenge {
            challenge,
            body,
            signature_fields: response.header(SIGNATURE_FIELDS_HEADER).map(str::to_string),
        })
    }

    /// `POST …/Challenges/{sid}` with the approval JWT. The reply body is not trusted as
    /// the outcome; callers re-fetch (§4.5.1 step 6).
    pub async fn update_challenge(
        &self,
        factor: &DeviceFactor,
        challenge_sid: &str,
        auth_payload: &str,
    ) -> Result<()> {
        let response = self
            .challenge_request(factor, challenge_sid, Some(auth_payload))
            .await?;
        if response.status == StatusCode::NOT_FOUND {
            return Err(Error::ChallengeNotFound(challenge_sid.to_string()));
        }
        match device_check(&response, factor) {
            Err(Error::Api { code: 60322, .. }) => Err(Error::ChallengeAlreadyAnswered {
                status: "answered".into(),
            }),
            Err(Error::Api { code: 60323, .. }) => Err(Error::ChallengeExpired),
            Err(Error::Api { code: 60324, .. }) => Err(Error::ChallengeVerificationFailed),
            other => other,
        }
    }

    async fn challenge_request(
        &self,
        factor: &DeviceFactor,
        challenge_sid: &str,
        auth_payload: Option<&str>,
    ) -> Result<RawResponse> {
        let credentials = Credentials::Factor(factor.clone());
        let form: Vec<(&str, &str)> = auth_payload
            .map(|p| vec![("AuthPayload", p)])
            .unwrap_or_default();
        self.send(Request {
            method: if auth_payload.is_some() {
                Method::POST
            } else {
                Method::GET
            },
            path: &[
                "Services",
                &factor.service_sid,
                "Entities",
                &factor.identity,
                "Challenges",
                challenge_sid,
            ],
            query: &[],
            form: &form,
            credentials: &credentials,
        })
        .await
    }
}

/// Errors every device call shares, each kept distinct so `push::health` can name the cause:
/// a JWT still refused after the clock retry (401), a factor the server no longer has (404,
/// 60390, 20404), a factor the server calls unverified (60318) or unusable (60383). Other
/// errors pass through.
fn device_check(response: &RawResponse, factor: &DeviceFactor) -> Result<()> {
    let factor_sid = || factor.factor_sid.clone();
    match response.check() {
        Err(Error::Api { status: 401, .. }) => Err(Error::DeviceUnauthorized {
            factor: factor_sid(),
        }),
        Err(Error::Api {
            code: 60390 | 20404 | 60392,
            ..
        })
        | Err(Error::Api { status: 404, .. }) => Err(Error::FactorUnknown {
            factor: factor_sid(),
        }),
        Err(Error::Api { code: 60318, .. }) => Err(Error::FactorUnverified {
            factor: factor_sid(),
        }),
        Err(Error::Api { code: 60383, .. }) => Err(Error::FactorIllegalStatus {
            factor: factor_sid(),
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_with_null_fields_and_expiry() {
        let challenge: Challenge = serde_json::from_str(
            r#"{"sid":"YC1","factor_sid":"YF1","status":"pending","date_created":"2026-01-01T00:00:00Z",
                "date_updated":"2026-01-01T00:00:00Z","date_responded":null,
                "expiration_date":"2026-01-01T00:05:00Z","details":{"message":"Log in?","fields":null},
                "hidden_details":{"ip":"10.0.0.1"}}"#,
        )
        .unwrap();
        assert!(challenge.details.fields.is_empty());
        assert_eq!(challenge.expires_at(), Some(1_767_225_900));
        assert!(challenge.is_pending());
    }
}
