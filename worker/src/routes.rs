//! Every path the worker answers, in one place. Anything else is served from the static
//! assets by the runtime before the worker runs (see `run_worker_first` in wrangler.toml).

use worker::Method;

/// A request the worker knows how to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`
    Health,
    /// `GET /api/config`: what the publish form needs to know.
    Config,
    /// `POST /api/collections`
    CreateCollection,
    /// `GET /api/collections/:id`
    GetCollection(String),
    /// `PUT /api/collections/:id` (manage token)
    UpdateCollection(String),
    /// `POST /api/collections/:id/close` (manage token)
    CloseCollection(String),
    /// `GET /c/:id`: the server-rendered payer page.
    PayerPage(String),
    /// The Official Account front door and the payee dashboard API ([`OaRoute`]).
    Oa(OaRoute),
}

impl Route {
    /// Matches a method and path; `None` is a 404.
    pub fn parse(method: &Method, path: &str) -> Option<Route> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let Some(oa) = OaRoute::parse(method, &segments) {
            return Some(Route::Oa(oa));
        }
        let route = match (method, segments.as_slice()) {
            (Method::Get | Method::Head, ["health"]) => Route::Health,
            (Method::Get, ["api", "config"]) => Route::Config,
            (Method::Post, ["api", "collections"]) => Route::CreateCollection,
            (Method::Get, ["api", "collections", id]) => Route::GetCollection(id.to_string()),
            (Method::Put, ["api", "collections", id]) => Route::UpdateCollection(id.to_string()),
            (Method::Post, ["api", "collections", id, "close"]) => Route::CloseCollection(id.to_string()),
            (Method::Get | Method::Head, ["c", id]) => Route::PayerPage(id.to_string()),
            _ => return None,
        };
        Some(route)
    }
}

/// Routes of the Official Account front door (menu jumps, OAuth, the message server, JS-SDK)
/// and of the payee dashboard and operator APIs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OaRoute {
    /// `GET /m/:key`: menu jump to an allow-listed app page, through OAuth inside WeChat.
    MenuJump(String),
    /// `GET /oauth/start?next=<allow-listed path>`: sign in (payee dashboard) then go there.
    OauthStart,
    /// `GET /oauth/callback?code&state`
    OauthCallback,
    /// `GET /wechat/mp`: server URL verification (echostr).
    MpVerify,
    /// `POST /wechat/mp`: a pushed message or event.
    MpPush,
    /// `GET /api/jssdk/config?url=…`
    JssdkConfig,
    /// `GET /api/dash/me`: the payee session and its approval.
    Me,
    /// `POST /api/dash/logout`
    Logout,
    /// `GET /api/dash/collections`: the payee's collections.
    MyCollections,
    /// `POST /api/dash/claim`: claim a collection published through a manage link.
    Claim,
    /// `GET /api/dash/routes`
    ListRoutes,
    /// `POST /api/dash/routes`
    CreateRoute,
    /// `DELETE /api/dash/routes/:key`
    DeleteRoute(String),
    /// `GET /api/dash/keywords`
    ListKeywords,
    /// `POST /api/dash/keywords`
    CreateKeyword,
    /// `DELETE /api/dash/keywords/:id`
    DeleteKeyword(String),
    /// `GET /api/dash/menu`
    GetMenu,
    /// `PUT /api/dash/menu`
    PutMenu,
    /// `POST /api/dash/menu/publish`
    PublishMenu,
    /// `GET /api/dash/channels`: channels with their funnels.
    ListChannels,
    /// `POST /api/dash/channels`
    CreateChannel,
    /// `GET /api/dash/channels/:id/qr.png`
    ChannelQr(String),
    /// `GET /api/operator/payees`
    ListPayees,
    /// `POST /api/operator/payees/:openid/approve`
    ApprovePayee(String),
    /// `POST /api/operator/payees/:openid/revoke`
    RevokePayee(String),
}

impl OaRoute {
    /// Matches the paths this family owns.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<OaRoute> {
        let route = match (method, segments) {
            (Method::Get, ["m", key]) => OaRoute::MenuJump(key.to_string()),
            (Method::Get, ["oauth", "start"]) => OaRoute::OauthStart,
            (Method::Get, ["oauth", "callback"]) => OaRoute::OauthCallback,
            (Method::Get, ["wechat", "mp"]) => OaRoute::MpVerify,
            (Method::Post, ["wechat", "mp"]) => OaRoute::MpPush,
            (Method::Get, ["api", "jssdk", "config"]) => OaRoute::JssdkConfig,
            (Method::Get, ["api", "dash", "me"]) => OaRoute::Me,
            (Method::Post, ["api", "dash", "logout"]) => OaRoute::Logout,
            (Method::Get, ["api", "dash", "collections"]) => OaRoute::MyCollections,
            (Method::Post, ["api", "dash", "claim"]) => OaRoute::Claim,
            (Method::Get, ["api", "dash", "routes"]) => OaRoute::ListRoutes,
            (Method::Post, ["api", "dash", "routes"]) => OaRoute::CreateRoute,
            (Method::Delete, ["api", "dash", "routes", key]) => OaRoute::DeleteRoute(key.to_string()),
            (Method::Get, ["api", "dash", "keywords"]) => OaRoute::ListKeywords,
            (Method::Post, ["api", "dash", "keywords"]) => OaRoute::CreateKeyword,
            (Method::Delete, ["api", "dash", "keywords", id]) => OaRoute::DeleteKeyword(id.to_string()),
            (Method::Get, ["api", "dash", "menu"]) => OaRoute::GetMenu,
            (Method::Put, ["api", "dash", "menu"]) => OaRoute::PutMenu,
            (Method::Post, ["api", "dash", "menu", "publish"]) => OaRoute::PublishMenu,
            (Method::Get, ["api", "dash", "channels"]) => OaRoute::ListChannels,
            (Method::Post, ["api", "dash", "channels"]) => OaRoute::CreateChannel,
            (Method::Get, ["api", "dash", "channels", id, "qr.png"]) => OaRoute::ChannelQr(id.to_string()),
            (Method::Get, ["api", "operator", "payees"]) => OaRoute::ListPayees,
            (Method::Post, ["api", "operator", "payees", openid, "approve"]) => {
                OaRoute::ApprovePayee(openid.to_string())
            }
            (Method::Post, ["api", "operator", "payees", openid, "revoke"]) => {
                OaRoute::RevokePayee(openid.to_string())
            }
            _ => return None,
        };
        Some(route)
    }
}
