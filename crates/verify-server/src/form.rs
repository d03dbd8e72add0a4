//! Tolerant `application/x-www-form-urlencoded` parsing (PROTOCOL.md §2.1):
//! split on `&`, then on the first `=`, then percent-decode. Handles the
//! Android (everything escaped) and iOS (`/`, `=`, `:` raw) encodings alike.
//! Unknown parameters are kept but simply never read.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use percent_encoding::percent_decode;

use crate::error::ApiError;

/// Largest accepted request body. The biggest legitimate field is a push
/// `AuthPayload` (≤ 5456 chars) plus `Metadata`/`HiddenDetails` (≤ 1024);
/// 64 KiB leaves ample room while capping memory per request.
pub const MAX_BODY: usize = 64 * 1024;

/// Parsed parameters (query string and body, in that order).
#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Params, ApiError> {
        let mut pairs = Vec::new();
        for part in raw.split(|b| *b == b'&') {
            if part.is_empty() {
                continue;
            }
            let (k, v) = match part.iter().position(|b| *b == b'=') {
                Some(i) => (&part[..i], &part[i + 1..]),
                None => (part, &b""[..]),
            };
            pairs.push((decode(k)?, decode(v)?));
        }
        Ok(Params { pairs })
    }

    fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// First value of `name` (names are case-sensitive, as at Twilio).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All values of a repeated parameter, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Required non-empty string of at most `max` chars.
    pub fn required(&self, name: &str, max: usize) -> Result<&str, ApiError> {
        match self.get(name) {
            Some(v) if !v.is_empty() => check_len(name, v, max),
            _ => Err(ApiError::InvalidRequest(format!(
                "Missing required parameter {name}"
            ))),
        }
    }

    /// Optional string of at most `max` chars.
    pub fn optional(&self, name: &str, max: usize) -> Result<Option<&str>, ApiError> {
        self.get(name).map(|v| check_len(name, v, max)).transpose()
    }

    /// Optional integer within `lo..=hi`.
    pub fn int_in(&self, name: &str, lo: i64, hi: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.trim().parse::<i64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
            _ => Err(ApiError::InvalidRequest(format!(
                "{name} must be an integer between {lo} and {hi}"
            ))),
        }
    }

    /// Optional boolean (`true`/`false`, case-insensitive).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name).map(|v| v.to_ascii_lowercase()) {
            None => Ok(None),
            Some(v) if v == "true" => Ok(Some(true)),
            Some(v) if v == "false" => Ok(Some(false)),
            Some(_) => Err(ApiError::InvalidRequest(format!(
                "{name} must be true or false"
            ))),
        }
    }
}

fn check_len<'a>(name: &str, v: &'a str, max: usize) -> Result<&'a str, ApiError> {
    if v.chars().count() > max {
        Err(ApiError::InvalidRequest(format!(
            "{name} must be at most {max} characters"
        )))
    } else {
        Ok(v)
    }
}

fn decode(raw: &[u8]) -> Result<String, ApiError> {
    // A raw `+` means space in form encoding; neither SDK emits one.
    let plus_fixed: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    let bytes: Vec<u8> = percent_decode(&plus_fixed).collect();
    String::from_utf8(bytes)
        .map_err(|_| ApiError::InvalidRequest("parameters must be valid UTF-8".into()))
}

/// Query-string parameters only (GET/DELETE).
pub struct Query(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        Ok(Query(Params::parse(q.as_bytes())?))
    }
}

/// How long a request body may take to arrive, set on every request by the
/// router (`Config::connections.body_timeout`).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub std::time::Duration);

/// Query string plus form body (POST). The body is read with a hard size cap
/// so an oversized upload costs at most `MAX_BODY` bytes and yields 413, and
/// within the [`BodyDeadline`] (408 after it), so a trickled body cannot
/// hold a connection.
pub struct Form(pub Params);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let mut params = Params::parse(req.uri().query().unwrap_or("").as_bytes())?;
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > MAX_BODY) {
            return Err(ApiError::PayloadTooLarge);
        }
        let deadline = req.extensions().get::<BodyDeadline>().map(|d| d.0);
        let read = axum::body::to_bytes(req.into_body(), MAX_BODY);
        let body = match deadline {
            Some(d) => tokio::time::timeout(d, read)
                .await
                .map_err(|_| ApiError::BodyTimeout)?,
            None => read.await,
        }
        .map_err(|_| ApiError::PayloadTooLarge)?;
        params.extend(Params::parse(&body)?);
        Ok(Form(params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_android_and_ios_encodings() {
        let p = Params::parse(b"AuthPayload=ab%2Bc%2F%3D&Binding.PublicKey=MFk/+x==&Flag").unwrap();
        assert_eq!(p.get("AuthPayload"), Some("ab+c/="));
        // iOS leaves `/` and `=` raw; a raw `+` decodes as space (never sent).
        assert_eq!(p.get("Binding.PublicKey"), Some("MFk/ x=="));
        assert_eq!(p.get("Flag"), Some(""));
    }

    #[test]
    fn repeated_and_invalid() {
        let p = Params::parse(b"E=a&E=b&x=%20y").unwrap();
        assert_eq!(p.get_all("E"), vec!["a", "b"]);
        assert_eq!(p.get("x"), Some(" y"));
        assert!(Params::parse(b"x=%FF%FE").is_err());
        assert!(Params::parse(&[b'x', b'=', 0xff]).is_err());
    }

    #[test]
    fn validators() {
        let p = Params::parse(b"N=5&B=TRUE&S=abcdef").unwrap();
        assert_eq!(p.int_in("N", 1, 10).unwrap(), Some(5));
        assert!(p.int_in("N", 6, 10).is_err());
        assert_eq!(p.bool("B").unwrap(), Some(true));
        assert!(p.optional("S", 3).is_err());
        assert!(p.required("Missing", 3).is_err());
    }
}
