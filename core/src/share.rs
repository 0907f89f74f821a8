//! WeChat share cards for server-rendered pages: the JSON the page carries and the small script
//! that asks the worker for a `wx.config` signature (`/api/jssdk/config`) and sets the share
//! data (`updateAppMessageShareData`, `updateTimelineShareData`).
//!
//! Which URL is signed: iOS WeChat (WKWebView) checks the signature against the URL the page was
//! *first loaded* with, Android against the current one (community-established, see the
//! protocol digest §7). The script keeps the landing URL and applies [`url_to_sign`]'s rule.
//! It asks for the signature before the JS-SDK file has loaded, so neither waits for the other.

use serde::Serialize;

use crate::jssdk::signed_url;
use crate::page::json_for_script;

/// The JS-SDK file WeChat serves.
pub const JWEIXIN_URL: &str = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js";

/// What a share card shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareCard {
    /// Title (the collection's).
    pub title: String,
    /// Second line (payee, amount, note).
    pub desc: String,
    /// Absolute link the card opens (on a JS-safe domain: this site).
    pub link: String,
    /// Absolute image URL; empty lets WeChat use its default.
    pub img_url: String,
}

/// The URL to sign: the landing URL on iOS, the current URL elsewhere; never the fragment.
pub fn url_to_sign<'a>(is_ios: bool, landing: &'a str, current: &'a str) -> &'a str {
    signed_url(if is_ios { landing } else { current })
}

/// The script (and its data) to put at the end of the page body: the card is `window.__skShare`
/// (for other scripts and tests); outside WeChat it does nothing else.
pub fn share_script(card: &ShareCard) -> String {
    format!(
        r#"<script id="sk-share" type="application/json">{data}</script><script>(function(){{
var card=window.__skShare=JSON.parse(document.getElementById('sk-share').textContent);
if(!/MicroMessenger/i.test(navigator.userAgent))return;
var landing=location.href.split('#')[0];
var ios=window.__wxjs_is_wkwebview===true||/iPhone|iPad|iPod/i.test(navigator.userAgent);
var url=ios?landing:location.href.split('#')[0];
var config=fetch('/api/jssdk/config?url='+encodeURIComponent(url),{{credentials:'same-origin'}}).then(function(r){{return r.ok?r.json():null}}).catch(function(){{return null}});
var s=document.createElement('script');s.src='{jweixin}';
s.onload=function(){{config.then(function(c){{
if(!c||!window.wx)return;
wx.config({{debug:false,appId:c.appId,timestamp:c.timestamp,nonceStr:c.nonceStr,signature:c.signature,jsApiList:c.jsApiList}});
wx.ready(function(){{
wx.updateAppMessageShareData({{title:card.title,desc:card.desc,link:card.link,imgUrl:card.imgUrl}});
wx.updateTimelineShareData({{title:card.title,link:card.link,imgUrl:card.imgUrl}});
}});
}})}};
document.head.appendChild(s);
}})();</script>"#,
        data = json_for_script(card),
        jweixin = JWEIXIN_URL
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ios_signs_the_landing_url_and_android_the_current_one() {
        let landing = "https://a.cn/c/AbCd2345efGH?from=menu#wechat_redirect";
        let current = "https://a.cn/c/AbCd2345efGH?x=2#top";
        assert_eq!(
            url_to_sign(true, landing, current),
            "https://a.cn/c/AbCd2345efGH?from=menu"
        );
        assert_eq!(
            url_to_sign(false, landing, current),
            "https://a.cn/c/AbCd2345efGH?x=2"
        );
    }

    #[test]
    fn the_card_data_cannot_break_out_of_its_script_element() {
        let card = ShareCard {
            title: "</script><script>alert(1)</script>".into(),
            desc: "张三 · ¥12.34".into(),
            link: "https://a.cn/c/AbCd2345efGH".into(),
            img_url: String::new(),
        };
        let html = share_script(&card);
        assert_eq!(html.matches("</script>").count(), 2, "{html}");
        assert!(html.contains("\"imgUrl\":\"\""));
        assert!(html.contains(JWEIXIN_URL));
        assert!(html.contains("/api/jssdk/config?url="));
    }
}
