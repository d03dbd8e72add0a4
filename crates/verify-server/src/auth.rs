//! The two credential schemes of PROTOCOL.md §1: backend Basic auth
//! (account SID + auth token) and device Basic auth (`token:<token>`, where
//! the token is an enrollment access token or an ES256 device JWT).

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use data_encoding::BASE64;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};
use crate::jwt::UnverifiedJwt;
use crate::model::Factor;
use crate::state::SharedState;

/// Clock leeway for device JWT `nbf`/`exp` (PROTOCOL.md §4.3.5 suggests ≤ 60 s).
pub const JWT_LEEWAY_SECS: i64 = 60;

/// Longest device JWT lifetime (`exp - nbf`) accepted: what both SDKs send
/// (PROTOCOL.md §4.3.2). A longer-lived token would be a replayable
/// credential for longer than any real device asks for.
pub const MAX_JWT_LIFETIME_SECS: i64 = 600;

/// Who is calling. Absent or wrong credentials never get this far (401).
#[derive(Debug, Clone)]
pub enum Caller {
    Backend,
    /// `token:<…>`: still to be checked against the operation.
    Device(String),
}

impl Caller {
    pub fn require_backend(&self) -> ApiResult<()> {
        match self {
            Caller::Backend => Ok(()),
            Caller::Device(_) => Err(ApiError::Unauthenticated),
        }
    }
}

impl FromRequestParts<SharedState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        st: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthenticated)?;
        let (user, pass) = parse_basic(header).ok_or(ApiError::Unauthenticated)?;
        if user == "token" {
            return Ok(Caller::Device(pass));
        }
        // Evaluate both comparisons so timing reveals neither.
        let user_ok = user.as_bytes().ct_eq(st.account_sid.as_bytes());
        let pass_ok = pass.as_bytes().ct_eq(st.auth_token.as_bytes());
        if bool::from(user_ok & pass_ok) {
            Ok(Caller::Backend)
        } else {
            Err(ApiError::Unauthenticated)
        }
    }
}

/// `Basic base64(user:pass)` → (user, pass).
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = BASE64.decode(rest.trim().as_bytes()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// A device JWT that parsed and names its credential (`kid`); its
/// signature and claims are not checked yet.
pub struct DeviceToken<'a> {
    jwt: UnverifiedJwt<'a>,
    pub kid: String,
}

/// First half of device authentication (PROTOCOL.md §4.3.5): the
/// structural checks that need neither the database nor crypto.
pub fn parse_device_token(token: &str) -> ApiResult<DeviceToken<'_>> {
    let jwt = UnverifiedJwt::parse(token).map_err(|_| ApiError::Unauthenticated)?;
    if jwt.header_str("typ") != Some("JWT") || jwt.header_str("cty") != Some("twilio-pba;v=1") {
        return Err(ApiError::Unauthenticated);
    }
    let kid = jwt
        .header_str("kid")
        .ok_or(ApiError::Unauthenticated)?
        .to_string();
    Ok(DeviceToken { jwt, kid })
}

/// A JWT is good only for its own factor's service and identity.
pub fn factor_in_scope(factor: &Factor, service_sid: &str, identity: Option<&str>) -> bool {
    factor.service_sid == service_sid
        && identity.is_none_or(|i| i.eq_ignore_ascii_case(&factor.identity))
}

impl DeviceToken<'_> {
    /// Second half: `factor` is what the database holds for `self.kid`.
    /// Checks scope, the signature against the factor's key, and the
    /// claims. Every failure is 401 so SDKs run their clock-sync-and-retry
    /// path.
    pub fn authenticate(
        &self,
        st: &SharedState,
        factor: Option<Factor>,
        service_sid: &str,
        identity: Option<&str>,
    ) -> ApiResult<Factor> {
        let factor = factor.ok_or(ApiError::Unauthenticated)?;
        if !factor_in_scope(&factor, service_sid, identity) {
            return Err(ApiError::Unauthenticated);
        }
        let key = st
            .keys
            .get(&factor.binding)
            .ok_or(ApiError::Unauthenticated)?;
        self.jwt
            .verify(&key)
            .map_err(|_| ApiError::Unauthenticated)?;

        let now = st.now();
        let payload = &self.jwt.payload;
        let claim = |name: &str| payload.get(name).and_then(serde_json::Value::as_i64);
        let (Some(nbf), Some(exp)) = (claim("nbf"), claim("exp")) else {
            return Err(ApiError::Unauthenticated);
        };
        let sub_ok =
            payload.get("sub").and_then(serde_json::Value::as_str) == Some(st.account_sid.as_str());
        let lifetime_ok = exp
            .checked_sub(nbf)
            .is_some_and(|l| (1..=MAX_JWT_LIFETIME_SECS).contains(&l));
        if !sub_ok || !lifetime_ok || nbf > now + JWT_LEEWAY_SECS || exp <= now - JWT_LEEWAY_SECS {
            return Err(ApiError::Unauthenticated);
        }
        Ok(factor)
    }
}

/// Authenticate a device JWT for an operation on `service_sid` (and
/// `identity` when the path names one).
pub async fn device_factor(
    st: &SharedState,
    token: &str,
    service_sid: &str,
    identity: Option<&str>,
) -> ApiResult<Factor> {
    let token = parse_device_token(token)?;
    let kid = token.kid.clone();
    let factor = st
        .db
        .call(move |c| Factor::find_by_credential(c, &kid))
        .await?;
    token.authenticate(st, factor, service_sid, identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_parsing() {
        let h = format!("Basic {}", BASE64.encode(b"token:a:b"));
        assert_eq!(parse_basic(&h), Some(("token".into(), "a:b".into())));
        assert_eq!(parse_basic("Bearer xyz"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(
            parse_basic(&format!("Basic {}", BASE64.encode(b"nocolon"))),
            None
        );
    }
}
