//! The dashboard's API calls (`/api/dash/*`, the payee session cookie goes along by itself) and
//! the small pure helpers its page needs, tested natively.

use gloo_net::http::Request;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::{send as call, Error};

/// `GET /api/dash/me`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Me {
    /// The payee's openid (shown while pending, to send to the operator).
    pub openid: String,
    /// `pending`, `approved` or `revoked`.
    pub status: String,
}

/// A collection in `GET /api/dash/collections`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MyCollection {
    /// Public id.
    pub id: String,
    /// Title.
    pub title: String,
    /// `open` or `closed`.
    pub status: String,
}

/// A channel's funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct Funnel {
    /// Scans.
    pub scans: i64,
    /// Visits.
    pub visits: i64,
    /// Orders.
    pub orders: i64,
    /// Paid orders.
    pub paid_orders: i64,
    /// Paid fen.
    pub paid_fen: i64,
}

/// A channel in `GET /api/dash/channels`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Channel {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// `temporary` or `permanent`.
    pub kind: String,
    /// The QR image on this site.
    pub qr_image: String,
    /// Funnel.
    pub funnel: Funnel,
}

/// A keyword rule in `GET /api/dash/keywords`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Rule {
    /// Id.
    pub id: i64,
    /// `exact`, `contains`, `subscribe`.
    pub trigger: String,
    /// Keyword.
    pub pattern: String,
    /// Priority.
    pub priority: i64,
    /// `{type: text, text}` or `{type: collection, id}`.
    pub reply: Value,
}

/// A menu route in `GET /api/dash/routes`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MenuRoute {
    /// `/m/<key>`.
    pub key: String,
    /// Page path.
    pub target: String,
}

/// `GET path`.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, Error> {
    call(Request::get(path).build()).await
}

/// `POST path` with a JSON body.
pub async fn post<T: DeserializeOwned, B: Serialize>(path: &str, body: &B) -> Result<T, Error> {
    call(Request::post(path).json(body)).await
}

/// `PUT path` with a JSON body. (No page of this branch sends one since the menu editor left
/// the dashboard; other dashboard sections of the round do.)
#[allow(dead_code)]
pub async fn put<T: DeserializeOwned, B: Serialize>(path: &str, body: &B) -> Result<T, Error> {
    call(Request::put(path).json(body)).await
}

/// `DELETE path`.
pub async fn delete(path: &str) -> Result<Value, Error> {
    call(Request::delete(path).build()).await
}

/// The collection id and manage token in a manage link as the publish page showed it
/// (`https://…/manage/<id>#t=<token>`, or just `/manage/<id>#t=<token>`).
pub fn parse_manage_link(link: &str) -> Option<(String, String)> {
    let link = link.trim();
    let (before, fragment) = link.split_once('#')?;
    let id = before.trim_end_matches('/').rsplit_once("/manage/")?.1;
    let token = crate::route::manage_token(fragment)?;
    shoukuan_core::collection::is_valid_id(id).then(|| (id.to_string(), token))
}

/// A per-mille rate as people read it: `66.6%`.
pub fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "—".into();
    }
    let permille = part.saturating_mul(1000) / whole;
    format!("{}.{}%", permille / 10, permille % 10)
}

/// What a rule answers, in a few words.
pub fn reply_summary(reply: &Value) -> String {
    match reply["type"].as_str() {
        Some("collection") => format!("收款卡片 {}", reply["id"].as_str().unwrap_or_default()),
        _ => reply["text"].as_str().unwrap_or_default().to_string(),
    }
}

/// The trigger in Chinese.
pub fn trigger_label(trigger: &str) -> &'static str {
    match trigger {
        "exact" => "完全匹配",
        "contains" => "包含",
        "subscribe" => "关注时",
        _ => "其他",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manage_links_give_id_and_token() {
        assert_eq!(
            parse_manage_link(" https://pay.example.cn/manage/AbCd2345efGH#t=tok-en_1 "),
            Some(("AbCd2345efGH".into(), "tok-en_1".into()))
        );
        assert_eq!(
            parse_manage_link("/manage/AbCd2345efGH#t=x"),
            Some(("AbCd2345efGH".into(), "x".into()))
        );
        assert_eq!(
            parse_manage_link("https://pay.example.cn/manage/AbCd2345efGH"),
            None
        );
        assert_eq!(
            parse_manage_link("https://pay.example.cn/manage/AbCd2345efGH#t="),
            None
        );
        assert_eq!(
            parse_manage_link("https://pay.example.cn/c/AbCd2345efGH#t=x"),
            None
        );
        assert_eq!(parse_manage_link("/manage/a b#t=x"), None);
    }

    #[test]
    fn rates_read_as_percent_with_one_decimal() {
        assert_eq!(percent(2, 3), "66.6%");
        assert_eq!(percent(3, 3), "100.0%");
        assert_eq!(percent(1, 0), "—");
    }

    #[test]
    fn replies_and_triggers_read_in_chinese() {
        assert_eq!(
            reply_summary(&serde_json::json!({"type":"text","text":"你好"})),
            "你好"
        );
        assert_eq!(
            reply_summary(&serde_json::json!({"type":"collection","id":"X1"})),
            "收款卡片 X1"
        );
        assert_eq!(trigger_label("contains"), "包含");
    }
}
