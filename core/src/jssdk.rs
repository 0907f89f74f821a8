//! JS-SDK `wx.config` signature: SHA-1 of
//! `jsapi_ticket=…&noncestr=…&timestamp=…&url=…` (keys in ASCII order, raw values, no URL
//! encoding), where `url` is the page URL without its `#fragment`.

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

/// `url` as signed: everything before the first `#`.
pub fn signed_url(url: &str) -> &str {
    url.split_once('#').map_or(url, |(before, _)| before)
}

/// The string that is hashed ("string1" in WeChat's docs).
pub fn string_to_sign(jsapi_ticket: &str, noncestr: &str, timestamp: i64, url: &str) -> String {
    format!(
        "jsapi_ticket={jsapi_ticket}&noncestr={noncestr}&timestamp={timestamp}&url={}",
        signed_url(url)
    )
}

/// The `wx.config` signature (lower-case hex SHA-1).
pub fn signature(jsapi_ticket: &str, noncestr: &str, timestamp: i64, url: &str) -> String {
    hex::encode(Sha1::digest(
        string_to_sign(jsapi_ticket, noncestr, timestamp, url).as_bytes(),
    ))
}

/// The signed part of `wx.config({...})` as the page needs it (note `nonceStr` here versus
/// `noncestr` when signing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WxConfig {
    /// Official Account AppID.
    pub app_id: String,
    /// Unix seconds (the one signed).
    pub timestamp: i64,
    /// The nonce signed.
    pub nonce_str: String,
    /// [`signature`] of the page URL.
    pub signature: String,
}

impl WxConfig {
    /// Signs `url` (its fragment is dropped) for `wx.config`.
    pub fn new(
        app_id: &str,
        jsapi_ticket: &str,
        noncestr: &str,
        timestamp: i64,
        url: &str,
    ) -> Self {
        WxConfig {
            app_id: app_id.to_string(),
            timestamp,
            nonce_str: noncestr.to_string(),
            signature: signature(jsapi_ticket, noncestr, timestamp, url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fragment_is_not_signed() {
        assert_eq!(signed_url("https://a.cn/p?x=1#/c/42"), "https://a.cn/p?x=1");
        assert_eq!(signed_url("https://a.cn/p"), "https://a.cn/p");
        assert_eq!(
            signature("t", "n", 1, "https://a.cn/p?x=1#frag"),
            signature("t", "n", 1, "https://a.cn/p?x=1")
        );
        assert_ne!(
            signature("t", "n", 1, "https://a.cn/p?x=1"),
            signature("t", "n", 1, "https://a.cn/p?x=2")
        );
    }

    #[test]
    fn config_serialises_with_js_names() {
        let config = WxConfig::new("wx1", "t", "n", 1, "https://a.cn/");
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["appId"], "wx1");
        assert_eq!(json["nonceStr"], "n");
        assert_eq!(json["signature"].as_str().unwrap().len(), 40);
    }
}
