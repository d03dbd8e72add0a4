//! `countersign://enroll?…` links (docs/ENROLL_LINK.md): what a relying party hands the
//! desktop, usually as a QR code, to enroll it as a push factor.

use serde::Serialize;
use url::Url;

use crate::error::{Error, Result};

pub const SCHEME: &str = "countersign";
/// The only link version this build understands.
pub const LINK_VERSION: &str = "1";
const MAX_FRIENDLY_NAME: usize = 64;
/// Twilio's Verify API host: links to it get their own badge.
pub const TWILIO_HOST: &str = "verify.twilio.com";

/// Who runs the server a link names, as the confirmation badges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerKind {
    /// Twilio Verify itself (`https://verify.twilio.com`).
    Twilio,
    /// A server on this machine (loopback), such as the local verify-server.
    Local,
    /// Anything else: the relying party's own or a third party's server.
    Other,
}

/// What a link would enroll, for the confirmation. The access token is not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkSummary {
    pub server: String,
    /// The server's host as it is contacted (ASCII; punycode for international names).
    pub server_host: String,
    /// The same host in Unicode, only when it differs from `server_host`: both are shown,
    /// so a look-alike name cannot hide behind its rendering.
    pub server_host_unicode: Option<String>,
    pub server_kind: ServerKind,
    pub service_sid: String,
    pub identity: String,
    pub friendly_name: Option<String>,
}

/// A parsed enrollment link. The access token is a short-lived credential: `Debug` hides it
/// and it is never written to disk.
#[derive(Clone, PartialEq, Eq)]
pub struct EnrollLink {
    /// Verify base URL ending in `/v2/`, as the link names it.
    pub server: String,
    pub service_sid: String,
    pub identity: String,
    pub access_token: String,
    /// Name the factor gets on the server; `None` lets the desktop pick one.
    pub friendly_name: Option<String>,
}

impl std::fmt::Debug for EnrollLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollLink")
            .field("server", &self.server)
            .field("service_sid", &self.service_sid)
            .field("identity", &self.identity)
            .field("access_token", &"<redacted>")
            .field("friendly_name", &self.friendly_name)
            .finish()
    }
}

impl EnrollLink {
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |reason: &str| Error::InvalidEnrollLink(reason.to_string());
        let url = Url::parse(text.trim()).map_err(|_| bad("not a link"))?;
        if url.scheme() != SCHEME {
            return Err(bad("it is not a countersign:// link"));
        }
        if url.host_str() != Some("enroll") {
            return Err(bad("it is not an enrollment link (countersign://enroll?…)"));
        }
        let mut version = None;
        let mut server = None;
        let mut service = None;
        let mut identity = None;
        let mut token = None;
        let mut name = None;
        for (key, value) in url.query_pairs() {
            let slot = match key.as_ref() {
                "v" => &mut version,
                "server" => &mut server,
                "service" => &mut service,
                "identity" => &mut identity,
                "token" => &mut token,
                "name" => &mut name,
                // Later versions may add optional parameters; ignoring them is safe.
                _ => continue,
            };
            if slot.is_some() {
                return Err(Error::InvalidEnrollLink(format!(
                    "the parameter {key:?} appears twice"
                )));
            }
            *slot = Some(value.into_owned());
        }
        // Both are required (docs/ENROLL_LINK.md): a link without a version could mean
        // anything in a later format, and one without a server would silently pick one.
        let version = version.ok_or_else(|| bad("the link version (v) is missing"))?;
        if version != LINK_VERSION {
            return Err(Error::InvalidEnrollLink(format!(
                "link version {version:?} is not supported by this Countersign; update it"
            )));
        }
        let service_sid = service.ok_or_else(|| bad("the service is missing"))?;
        if !is_sid(&service_sid, "VA") {
            return Err(bad("the service is not a Verify service SID (VA…)"));
        }
        let identity = identity.ok_or_else(|| bad("the identity is missing"))?;
        if !valid_identity(&identity) {
            return Err(bad(
                "the identity must be 8–64 letters, digits or dashes (not a name or e-mail)",
            ));
        }
        let access_token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| bad("the access token is missing"))?;
        let friendly_name = name.filter(|n| !n.trim().is_empty());
        if friendly_name
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_FRIENDLY_NAME)
        {
            return Err(bad("the name is longer than 64 characters"));
        }
        let server = server
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("the server is missing"))?;
        Ok(EnrollLink {
            server,
            service_sid,
            identity,
            access_token,
            friendly_name,
        })
    }

    /// What the confirmation shows: the server's real host and who runs it.
    pub fn summary(&self) -> Result<LinkSummary> {
        let url = Url::parse(&self.server)
            .map_err(|_| Error::InvalidEnrollLink("the server is not a valid URL".into()))?;
        let host = url
            .host_str()
            .ok_or_else(|| Error::InvalidEnrollLink("the server URL names no host".into()))?;
        let (unicode, _) = idna::domain_to_unicode(host);
        let server_kind = match url.host() {
            Some(url::Host::Domain(d)) if d.eq_ignore_ascii_case("localhost") => ServerKind::Local,
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => ServerKind::Local,
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => ServerKind::Local,
            Some(url::Host::Domain(d))
                if d.eq_ignore_ascii_case(TWILIO_HOST) && url.scheme() == "https" =>
            {
                ServerKind::Twilio
            }
            _ => ServerKind::Other,
        };
        Ok(LinkSummary {
            server: self.server.clone(),
            server_host: host.to_string(),
            server_host_unicode: (unicode != host).then_some(unicode),
            server_kind,
            service_sid: self.service_sid.clone(),
            identity: self.identity.clone(),
            friendly_name: self.friendly_name.clone(),
        })
    }

    /// The link as text (the inverse of [`EnrollLink::parse`]).
    pub fn to_link(&self) -> String {
        let mut url = Url::parse("countersign://enroll").expect("constant URL is valid");
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("v", LINK_VERSION)
                .append_pair("server", &self.server)
                .append_pair("service", &self.service_sid)
                .append_pair("identity", &self.identity)
                .append_pair("token", &self.access_token);
            if let Some(name) = &self.friendly_name {
                query.append_pair("name", name);
            }
        }
        url.to_string()
    }
}

fn is_sid(text: &str, prefix: &str) -> bool {
    text.len() == 34 && text.starts_with(prefix) && text[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// PROTOCOL.md §2.2: 8–64 characters, dash-separated alphanumerics (underscores too, as
/// docs/ENROLL_LINK.md allows).
fn valid_identity(identity: &str) -> bool {
    (8..=64).contains(&identity.len())
        && identity
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE: &str = "VA0123456789abcdef0123456789abcdef";

    fn link(query: &str) -> String {
        format!("countersign://enroll?{query}")
    }

    #[test]
    fn parses_every_field_and_round_trips() {
        let text = link(&format!(
            "v=1&server=https%3A%2F%2F127.0.0.1%3A8443%2Fv2%2F&service={SERVICE}&identity=user-0001&token=abc%2B%2F%3D&name=Work%20laptop"
        ));
        let parsed = EnrollLink::parse(&text).unwrap();
        assert_eq!(parsed.server, "https://127.0.0.1:8443/v2/");
        assert_eq!(parsed.service_sid, SERVICE);
        assert_eq!(parsed.identity, "user-0001");
        assert_eq!(parsed.access_token, "abc+/=");
        assert_eq!(parsed.friendly_name.as_deref(), Some("Work laptop"));
        assert_eq!(EnrollLink::parse(&parsed.to_link()).unwrap(), parsed);
    }

    #[test]
    fn ignores_unknown_parameters() {
        let server = "https%3A%2F%2Fverify.twilio.com%2Fv2%2F";
        let parsed = EnrollLink::parse(&link(&format!(
            "v=1&server={server}&service={SERVICE}&identity=user-0001&token=t&future=1"
        )))
        .unwrap();
        assert_eq!(parsed.server, "https://verify.twilio.com/v2/");
        assert_eq!(parsed.friendly_name, None);
    }

    #[test]
    fn version_and_server_are_required() {
        let server = "https%3A%2F%2Fverify.twilio.com%2Fv2%2F";
        for (query, missing) in [
            (
                format!("server={server}&service={SERVICE}&identity=user-0001&token=t"),
                "version",
            ),
            (
                format!("v=1&service={SERVICE}&identity=user-0001&token=t"),
                "server",
            ),
            (
                format!("v=1&server=&service={SERVICE}&identity=user-0001&token=t"),
                "server",
            ),
        ] {
            let err = EnrollLink::parse(&link(&query)).expect_err(&query);
            assert_eq!(err.code(), "invalid_enroll_link");
            assert!(err.to_string().contains(missing), "{err}");
        }
    }

    #[test]
    fn refuses_malformed_links_without_echoing_the_token() {
        let cases = [
            "https://enroll?service=x".to_string(),
            "countersign://other?x=1".to_string(),
            link(
                "v=2&server=https://a/v2/&service=VA0123456789abcdef0123456789abcdef&identity=user-0001&token=t",
            ),
            link("v=1&server=https://a/v2/&identity=user-0001&token=t"),
            link(
                "v=1&server=https://a/v2/&service=VB0123456789abcdef0123456789abcdef&identity=user-0001&token=t",
            ),
            link(&format!(
                "v=1&server=https://a/v2/&service={SERVICE}&identity=alice@example.com&token=t"
            )),
            link(&format!(
                "v=1&server=https://a/v2/&service={SERVICE}&identity=user-0001"
            )),
            link(&format!(
                "v=1&server=https://a/v2/&service={SERVICE}&identity=user-0001&token=supersecret&token=again"
            )),
            link(&format!(
                "v=1&server=https://a/v2/&service={SERVICE}&identity=user-0001&token=supersecret&name={}",
                "n".repeat(65)
            )),
            link(&format!(
                "service={SERVICE}&identity=user-0001&token=supersecret"
            )),
        ];
        for case in cases {
            let err = EnrollLink::parse(&case).expect_err(&case);
            assert_eq!(err.code(), "invalid_enroll_link", "{case}");
            assert!(!err.to_string().contains("supersecret"), "{err}");
        }
    }

    fn summary_of(server: &str) -> LinkSummary {
        let server: String = url::form_urlencoded::byte_serialize(server.as_bytes()).collect();
        EnrollLink::parse(&link(&format!(
            "v=1&server={server}&service={SERVICE}&identity=user-0001&token=t"
        )))
        .expect("parses")
        .summary()
        .expect("summary")
    }

    #[test]
    fn the_summary_badges_who_runs_the_server() {
        for (server, kind) in [
            ("https://verify.twilio.com/v2/", ServerKind::Twilio),
            ("https://VERIFY.twilio.com/v2/", ServerKind::Twilio),
            ("http://verify.twilio.com/v2/", ServerKind::Other),
            (
                "https://verify.twilio.com.example.net/v2/",
                ServerKind::Other,
            ),
            ("https://127.0.0.1:8443/v2/", ServerKind::Local),
            ("https://localhost:8443/v2/", ServerKind::Local),
            ("https://[::1]:8443/v2/", ServerKind::Local),
            ("https://auth.example.com/v2/", ServerKind::Other),
        ] {
            assert_eq!(summary_of(server).server_kind, kind, "{server}");
        }
    }

    #[test]
    fn an_international_host_is_shown_with_its_punycode() {
        // Cyrillic letters that render like "apple".
        let summary = summary_of("https://\u{0430}\u{0440}\u{0440}\u{04cf}\u{0435}.com/v2/");
        assert_eq!(summary.server_host, "xn--80ak6aa92e.com");
        assert_eq!(
            summary.server_host_unicode.as_deref(),
            Some("\u{0430}\u{0440}\u{0440}\u{04cf}\u{0435}.com")
        );
        assert_eq!(summary.server_kind, ServerKind::Other);
        assert_eq!(
            summary_of("https://auth.example.com/v2/").server_host_unicode,
            None
        );
    }

    #[test]
    fn debug_hides_the_access_token() {
        let parsed = EnrollLink::parse(&link(&format!(
            "v=1&server=https://a/v2/&service={SERVICE}&identity=user-0001&token=supersecret"
        )))
        .unwrap();
        assert!(!format!("{parsed:?}").contains("supersecret"));
    }
}
