//! Twilio list paging (PROTOCOL.md §2.3): `PageSize` (1–1000, default 50),
//! `Page` (0-based) and an opaque `PageToken` (also accepted as iOS's
//! `pageToken`). Tokens encode an offset; `meta` carries absolute URLs.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::form::Params;

pub const DEFAULT_PAGE_SIZE: i64 = 50;
pub const MAX_PAGE_SIZE: i64 = 1000;

#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub page: i64,
    pub page_size: i64,
    pub offset: i64,
}

impl Page {
    pub fn from_params(p: &Params) -> ApiResult<Page> {
        let page_size = p
            .int_in("PageSize", 1, MAX_PAGE_SIZE)?
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let page = p.int_in("Page", 0, i64::from(i32::MAX))?.unwrap_or(0);
        // Android sends `PageToken`, iOS `pageToken`.
        let token = p.get("PageToken").or_else(|| p.get("pageToken"));
        let offset = match token.filter(|t| !t.is_empty()) {
            Some(t) => parse_token(t)
                .ok_or_else(|| ApiError::InvalidRequest("PageToken is invalid".into()))?,
            None => page.saturating_mul(page_size),
        };
        Ok(Page {
            page,
            page_size,
            offset,
        })
    }

    /// SQL `LIMIT`: one extra row tells whether a next page exists.
    pub fn limit(&self) -> i64 {
        self.page_size + 1
    }

    /// Build `{key: [...], meta: {...}}`. `rows` may hold one extra item
    /// (from `limit()`), which is dropped and signals a next page.
    pub fn render(
        &self,
        key: &str,
        mut rows: Vec<Value>,
        list_url: &str,
        filters: &[(&str, String)],
    ) -> Value {
        let has_more = rows.len() as i64 > self.page_size;
        rows.truncate(self.page_size as usize);
        let mut base = String::from(list_url);
        base.push('?');
        for (k, v) in filters {
            base.push_str(k);
            base.push('=');
            base.push_str(&utf8_percent_encode(v, NON_ALPHANUMERIC).to_string());
            base.push('&');
        }
        let size = self.page_size;
        let at = |page: i64, offset: Option<i64>| {
            let mut u = format!("{base}PageSize={size}&Page={page}");
            if let Some(o) = offset {
                u.push_str(&format!("&PageToken={}", make_token(o)));
            }
            u
        };
        let next = has_more.then(|| at(self.page + 1, Some(self.offset + size)));
        let previous = (self.offset > 0)
            .then(|| at((self.page - 1).max(0), Some((self.offset - size).max(0))));
        json!({
            key: rows,
            "meta": {
                "page": self.page,
                "page_size": size,
                "first_page_url": at(0, None),
                "previous_page_url": previous,
                "url": at(self.page, (self.offset > 0).then_some(self.offset)),
                "next_page_url": next,
                "key": key,
            }
        })
    }
}

fn make_token(offset: i64) -> String {
    format!("PT{offset}")
}

fn parse_token(t: &str) -> Option<i64> {
    t.strip_prefix("PT")?
        .parse::<i64>()
        .ok()
        .filter(|o| *o >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_tokens() {
        let p =
            Page::from_params(&Params::parse(b"PageSize=2&Page=1&PageToken=PT2").unwrap()).unwrap();
        assert_eq!((p.page, p.page_size, p.offset), (1, 2, 2));
        let v = p.render(
            "things",
            vec![json!(1), json!(2), json!(3)],
            "https://h/v2/X",
            &[("Status", "pending".into())],
        );
        assert_eq!(v["things"].as_array().unwrap().len(), 2);
        assert_eq!(
            v["meta"]["next_page_url"],
            "https://h/v2/X?Status=pending&PageSize=2&Page=2&PageToken=PT4"
        );
        assert_eq!(
            v["meta"]["previous_page_url"],
            "https://h/v2/X?Status=pending&PageSize=2&Page=0&PageToken=PT0"
        );
        let ios = Page::from_params(&Params::parse(b"pageToken=PT7").unwrap()).unwrap();
        assert_eq!(ios.offset, 7);
        assert!(Page::from_params(&Params::parse(b"PageToken=zzz").unwrap()).is_err());
        assert!(Page::from_params(&Params::parse(b"PageSize=0").unwrap()).is_err());
        assert!(Page::from_params(&Params::parse(b"PageSize=1001").unwrap()).is_err());
    }
}
