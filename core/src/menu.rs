//! The Official Account's front door, purely: menu-jump keys (`/m/:key`), the allow-list of app
//! routes a key or an OAuth `state` may lead to, and the custom menu (view buttons → `/m/:key`,
//! click buttons → keyword replies) as WeChat's menu API wants it.
//!
//! Every redirect target the worker issues is an [`AppTarget`]: a path on this site from a
//! fixed list plus a few known query parameters. There is no way to build one that points
//! elsewhere, so no route of the worker can become an open redirect.

use serde::{Deserialize, Serialize};

use crate::collection::is_valid_id;
use crate::session::Role;
use crate::urlenc::{encode_component, parse_query};

/// Longest target (path + query) accepted, in bytes; keeps the OAuth `state` under 128.
pub const MAX_TARGET_LEN: usize = 72;

/// A menu-jump key: 1–32 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MenuKey(String);

impl MenuKey {
    /// Checks the format.
    pub fn parse(s: &str) -> Option<MenuKey> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| MenuKey(s.to_string()))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MenuKey {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        MenuKey::parse(&s).ok_or_else(|| "入口标识只能是 1–32 个字母、数字、- 或 _".to_string())
    }
}

impl From<MenuKey> for String {
    fn from(k: MenuKey) -> String {
        k.0
    }
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a path of this app that a menu or OAuth may lead to.
    #[error("目标页面不在允许的范围内")]
    NotAllowed,
    /// Longer than [`MAX_TARGET_LEN`].
    #[error("目标地址过长")]
    TooLong,
}

/// The app pages a menu key or an OAuth `state` may lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Page {
    Home,
    New,
    Pay(String),
    Dash(Option<String>),
}

/// An allow-listed place in the app: a known page plus known query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppTarget {
    page: Page,
    /// `channel`: the channel a visit is attributed to.
    channel: Option<String>,
    /// `from`: a free tag for the payee's own statistics.
    from: Option<String>,
}

fn is_tag(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Checks a channel id: a public id (6–32 letters and digits).
pub fn is_channel_id(s: &str) -> bool {
    is_valid_id(s)
}

impl AppTarget {
    /// Parses a path without query (what `menu_routes.target` stores).
    pub fn parse_path(path: &str) -> Result<AppTarget, TargetError> {
        if path.len() > MAX_TARGET_LEN {
            return Err(TargetError::TooLong);
        }
        let segments: Vec<&str> = path
            .strip_prefix('/')
            .ok_or(TargetError::NotAllowed)?
            .split('/')
            .collect();
        let page = match segments.as_slice() {
            [""] => Page::Home,
            ["new"] => Page::New,
            ["c", id] if is_valid_id(id) => Page::Pay((*id).to_string()),
            ["dash"] => Page::Dash(None),
            ["dash", section]
                if (1..=16).contains(&section.len())
                    && section.bytes().all(|b| b.is_ascii_lowercase()) =>
            {
                Page::Dash(Some((*section).to_string()))
            }
            _ => return Err(TargetError::NotAllowed),
        };
        Ok(AppTarget {
            page,
            channel: None,
            from: None,
        })
    }

    /// Parses `path?query` (what an OAuth `state` carries). Unknown parameters are refused.
    pub fn parse(path_and_query: &str) -> Result<AppTarget, TargetError> {
        if path_and_query.len() > MAX_TARGET_LEN {
            return Err(TargetError::TooLong);
        }
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let mut target = AppTarget::parse_path(path)?;
        for (name, value) in parse_query(query) {
            match name.as_str() {
                "channel" if is_channel_id(&value) && target.channel.is_none() => {
                    target.channel = Some(value)
                }
                "from" if is_tag(&value) && target.from.is_none() => target.from = Some(value),
                _ => return Err(TargetError::NotAllowed),
            }
        }
        if target.to_string().len() > MAX_TARGET_LEN {
            return Err(TargetError::TooLong);
        }
        Ok(target)
    }

    /// Keeps the known parameters of a `/m/:key?…` request that are well-formed; anything
    /// else in the query is dropped.
    pub fn with_query_from(mut self, query: &str) -> AppTarget {
        for (name, value) in parse_query(query) {
            match name.as_str() {
                "channel" if is_channel_id(&value) && self.channel.is_none() => {
                    self.channel = Some(value)
                }
                "from" if is_tag(&value) && self.from.is_none() => self.from = Some(value),
                _ => {}
            }
        }
        self
    }

    /// The path without query.
    pub fn path(&self) -> String {
        match &self.page {
            Page::Home => "/".into(),
            Page::New => "/new".into(),
            Page::Pay(id) => format!("/c/{id}"),
            Page::Dash(None) => "/dash".into(),
            Page::Dash(Some(section)) => format!("/dash/{section}"),
        }
    }

    /// The collection this target shows, for `/c/:id`.
    pub fn collection_id(&self) -> Option<&str> {
        match &self.page {
            Page::Pay(id) => Some(id),
            _ => None,
        }
    }

    /// The `channel` parameter.
    pub fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// Which session this page needs: the dashboard and the publish form are the payee's.
    pub fn role(&self) -> Role {
        match self.page {
            Page::New | Page::Dash(_) => Role::Payee,
            Page::Home | Page::Pay(_) => Role::Payer,
        }
    }
}

impl std::fmt::Display for AppTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path())?;
        let mut sep = '?';
        for (name, value) in [("channel", &self.channel), ("from", &self.from)] {
            if let Some(value) = value {
                write!(f, "{sep}{name}={}", encode_component(value))?;
                sep = '&';
            }
        }
        Ok(())
    }
}

/// The custom menu as a payee or the operator defines it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuDef {
    /// Top-level buttons (1–3).
    pub button: Vec<MenuButton>,
}

/// One button: a `view` (opens `/m/<route>`), a `click` (replies with the keyword rule for
/// `key`), or a group with `sub_button`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MenuButton {
    /// Shown text.
    pub name: String,
    /// `view` or `click`; absent for a group.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// For `view`: the menu-jump key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// For `click`: the keyword whose rule answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// For a group: 1–5 buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_button: Vec<MenuButton>,
}

/// Why a menu was refused (the message is shown to the payee).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MenuError {
    /// Wrong number of buttons.
    #[error("菜单需要 1–3 个一级按钮，每组 1–5 个二级按钮")]
    Count,
    /// A name is empty or too long.
    #[error("按钮「{0}」的名称为空或过长（一级最多 16 字节，二级最多 40 字节，约 5 / 13 个汉字）")]
    Name(String),
    /// Not `view`/`click`, or a group with a type.
    #[error("按钮「{0}」的类型只能是 view（打开页面）或 click（关键词回复）")]
    Kind(String),
    /// A view button's route key does not exist.
    #[error("按钮「{0}」指向的入口不存在")]
    UnknownRoute(String),
    /// A click key is empty or over 128 bytes.
    #[error("按钮「{0}」的关键词为空或过长")]
    Key(String),
}

/// WeChat's limits (older and current docs differ: the smaller sub-menu limit is used).
const TOP_NAME_BYTES: usize = 16;
const SUB_NAME_BYTES: usize = 40;
const KEY_BYTES: usize = 128;

impl MenuDef {
    /// Checks the menu; `route_exists` says whether a view button's key is a known route.
    pub fn validate(&self, route_exists: &dyn Fn(&MenuKey) -> bool) -> Result<(), MenuError> {
        if self.button.is_empty() || self.button.len() > 3 {
            return Err(MenuError::Count);
        }
        for top in &self.button {
            if top.sub_button.is_empty() {
                top.validate_leaf(TOP_NAME_BYTES, route_exists)?;
            } else {
                check_name(&top.name, TOP_NAME_BYTES)?;
                if top.kind.is_some() {
                    return Err(MenuError::Kind(top.name.clone()));
                }
                if top.sub_button.len() > 5 {
                    return Err(MenuError::Count);
                }
                for sub in &top.sub_button {
                    if !sub.sub_button.is_empty() {
                        return Err(MenuError::Count);
                    }
                    sub.validate_leaf(SUB_NAME_BYTES, route_exists)?;
                }
            }
        }
        Ok(())
    }

    /// The body of `POST /cgi-bin/menu/create`, view buttons pointing at
    /// `<public_base>/m/<route>`. Call after [`MenuDef::validate`].
    pub fn to_wechat_json(&self, public_base: &str) -> serde_json::Value {
        let base = public_base.trim_end_matches('/');
        let leaf = |b: &MenuButton| match b.kind.as_deref() {
            Some("view") => serde_json::json!({
                "type": "view",
                "name": b.name.trim(),
                "url": format!("{base}/m/{}", b.route.as_deref().unwrap_or_default()),
            }),
            _ => serde_json::json!({
                "type": "click",
                "name": b.name.trim(),
                "key": b.key.as_deref().unwrap_or_default().trim(),
            }),
        };
        let buttons: Vec<serde_json::Value> = self
            .button
            .iter()
            .map(|top| {
                if top.sub_button.is_empty() {
                    leaf(top)
                } else {
                    serde_json::json!({
                        "name": top.name.trim(),
                        "sub_button": top.sub_button.iter().map(leaf).collect::<Vec<_>>(),
                    })
                }
            })
            .collect();
        serde_json::json!({ "button": buttons })
    }
}

fn check_name(name: &str, max_bytes: usize) -> Result<(), MenuError> {
    let name = name.trim();
    if name.is_empty() || name.len() > max_bytes || name.chars().any(char::is_control) {
        return Err(MenuError::Name(name.to_string()));
    }
    Ok(())
}

impl MenuButton {
    fn validate_leaf(
        &self,
        max_name: usize,
        route_exists: &dyn Fn(&MenuKey) -> bool,
    ) -> Result<(), MenuError> {
        check_name(&self.name, max_name)?;
        match self.kind.as_deref() {
            Some("view") => {
                let key = self
                    .route
                    .as_deref()
                    .and_then(MenuKey::parse)
                    .ok_or_else(|| MenuError::UnknownRoute(self.name.clone()))?;
                if self.key.is_some() || !route_exists(&key) {
                    return Err(MenuError::UnknownRoute(self.name.clone()));
                }
            }
            Some("click") => {
                let key = self.key.as_deref().unwrap_or_default().trim();
                if key.is_empty() || key.len() > KEY_BYTES || self.route.is_some() {
                    return Err(MenuError::Key(self.name.clone()));
                }
            }
            _ => return Err(MenuError::Kind(self.name.clone())),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_app_pages_are_targets() {
        for good in ["/", "/new", "/c/AbCd2345efGH", "/dash", "/dash/channels"] {
            assert_eq!(AppTarget::parse(good).unwrap().to_string(), good);
        }
        for bad in [
            "",
            "c/AbCd2345efGH",
            "//evil.cn/x",
            "/\\evil.cn",
            "https://evil.cn/",
            "/c/ab",
            "/c/AbCd2345efGH/x",
            "/api/collections",
            "/oauth/callback",
            "/m/key",
            "/dash/Ch",
            "/dash/a/b",
            "/manage/AbCd2345efGH",
        ] {
            assert!(AppTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn known_query_parameters_survive_and_others_are_refused_or_dropped() {
        let t = AppTarget::parse("/c/AbCd2345efGH?channel=Ch2345abcdEF&from=menu").unwrap();
        assert_eq!(t.channel(), Some("Ch2345abcdEF"));
        assert_eq!(
            t.to_string(),
            "/c/AbCd2345efGH?channel=Ch2345abcdEF&from=menu"
        );
        assert_eq!(
            AppTarget::parse("/c/AbCd2345efGH?next=//evil.cn"),
            Err(TargetError::NotAllowed)
        );
        let kept = AppTarget::parse_path("/c/AbCd2345efGH")
            .unwrap()
            .with_query_from("next=https://evil.cn&channel=bad!&channel=Ch2345abcdEF&x=1");
        assert_eq!(kept.to_string(), "/c/AbCd2345efGH?channel=Ch2345abcdEF");
    }

    #[test]
    fn long_targets_are_refused() {
        let long = format!("/c/{}", "a".repeat(32));
        let with = format!("{long}?channel={}&from={}", "b".repeat(32), "c".repeat(32));
        assert_eq!(AppTarget::parse(&with), Err(TargetError::TooLong));
    }

    #[test]
    fn dashboard_and_publishing_need_a_payee_session() {
        assert_eq!(AppTarget::parse("/dash").unwrap().role(), Role::Payee);
        assert_eq!(AppTarget::parse("/new").unwrap().role(), Role::Payee);
        assert_eq!(
            AppTarget::parse("/c/AbCd2345efGH").unwrap().role(),
            Role::Payer
        );
    }

    #[test]
    fn menu_keys_are_checked() {
        assert!(MenuKey::parse("pay-now_1").is_some());
        for bad in ["", "a b", "收款", "a/b", &"k".repeat(33)] {
            assert!(MenuKey::parse(bad).is_none(), "{bad}");
        }
    }

    fn menu(json: serde_json::Value) -> MenuDef {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn a_menu_becomes_wechat_json_with_view_urls_on_this_site() {
        let def = menu(serde_json::json!({ "button": [
            { "name": "付款", "type": "view", "route": "pay" },
            { "name": "更多", "sub_button": [
                { "name": "帮助", "type": "click", "key": "帮助" },
                { "name": "我的", "type": "view", "route": "dash" }
            ]}
        ]}));
        let known = |k: &MenuKey| k.as_str() == "pay" || k.as_str() == "dash";
        def.validate(&known).unwrap();
        let json = def.to_wechat_json("https://pay.example.cn/");
        assert_eq!(json["button"][0]["url"], "https://pay.example.cn/m/pay");
        assert_eq!(json["button"][1]["sub_button"][0]["key"], "帮助");
        assert_eq!(json["button"][1]["sub_button"][1]["type"], "view");
    }

    #[test]
    fn bad_menus_are_refused_with_a_reason() {
        let known = |k: &MenuKey| k.as_str() == "pay";
        let cases = [
            (serde_json::json!({ "button": [] }), MenuError::Count),
            (
                serde_json::json!({ "button": [{ "name": "付款", "type": "view", "route": "nope" }] }),
                MenuError::UnknownRoute("付款".into()),
            ),
            (
                serde_json::json!({ "button": [{ "name": "一二三四五六", "type": "click", "key": "k" }] }),
                MenuError::Name("一二三四五六".into()),
            ),
            (
                serde_json::json!({ "button": [{ "name": "a", "type": "miniprogram" }] }),
                MenuError::Kind("a".into()),
            ),
            (
                serde_json::json!({ "button": [{ "name": "a", "type": "click", "key": "" }] }),
                MenuError::Key("a".into()),
            ),
            (
                serde_json::json!({ "button": [{ "name": "g", "sub_button": [
                    {"name":"1","type":"click","key":"k"},{"name":"2","type":"click","key":"k"},
                    {"name":"3","type":"click","key":"k"},{"name":"4","type":"click","key":"k"},
                    {"name":"5","type":"click","key":"k"},{"name":"6","type":"click","key":"k"}]}] }),
                MenuError::Count,
            ),
        ];
        for (json, err) in cases {
            assert_eq!(menu(json).validate(&known), Err(err));
        }
    }
}
