//! Server time (with the configurable test offset) and Twilio's timestamp format.

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The server's notion of "now" in Unix seconds: the system clock shifted by
/// `offset` so tests can exercise client clock-sync paths.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub offset_secs: i64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        secs.saturating_add(self.offset_secs)
    }

    /// RFC 1123 `Date` header value for "now".
    pub fn http_date(&self) -> String {
        let now = self.now();
        let t = if now >= 0 {
            UNIX_EPOCH + std::time::Duration::from_secs(now as u64)
        } else {
            UNIX_EPOCH
        };
        httpdate::fmt_http_date(t)
    }
}

/// `2015-07-30T20:00:00Z`: UTC, second precision, no fraction (iOS SDK
/// parses exactly this shape).
pub fn fmt_ts(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// Parse an ISO-8601/RFC 3339 timestamp into Unix seconds.
pub fn parse_ts(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s.trim(), &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_without_fraction() {
        assert_eq!(fmt_ts(1438286400), "2015-07-30T20:00:00Z");
        assert_eq!(parse_ts("2015-07-30T20:00:00Z"), Some(1438286400));
        assert_eq!(parse_ts("2015-07-30T22:00:00+02:00"), Some(1438286400));
        assert_eq!(parse_ts("yesterday"), None);
    }
}
