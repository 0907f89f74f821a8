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
    /// `GET /api/collections/:id/manage` (manage token)
    ManageCollection(String),
    /// `PUT /api/collections/:id` (manage token)
    UpdateCollection(String),
    /// `POST /api/collections/:id/close` (manage token)
    CloseCollection(String),
    /// `POST /api/collections/:id/reopen` (manage token)
    ReopenCollection(String),
    /// `GET /c/:id`: the server-rendered payer page.
    PayerPage(String),
    /// `GET /o/:id`: the server-rendered order page (state, Native QR, receipt).
    OrderPage(String),
    /// `POST /c/:id/:action` (`join`, `edit`, `claim`, `withdraw`): a split page's plain form
    /// posts (work without JavaScript).
    PayerForm(String, String),
    /// `POST /api/test/cron` `{now}`: every scheduled job at a given time (test hook).
    TestCron,
    /// `GET /`, `/new`, `/dash`, `/manage/:id`, `/admin/:id`, `/poster/:id`: the app's page, with
    /// the Content-Security-Policy for its loader script.
    AppPage,
    /// The Official Account front door and the payee dashboard API ([`OaRoute`]).
    Oa(OaRoute),
    /// Group splits (接龙) ([`SplitRoute`]).
    Split(SplitRoute),
    /// Price pages and their images ([`ProductRoute`]).
    Product(ProductRoute),
    /// Buyers' contact details on price pages ([`crate::contacts::ContactRoute`]).
    Contact(crate::contacts::ContactRoute),
    /// Merchant payments: orders, WeChat Pay callbacks, refunds, dashboard ([`PayRoute`]).
    Pay(PayRoute),
    /// Notices and scheduled reminders ([`NoticeRoute`]).
    Notice(NoticeRoute),
    /// Directed requests and transfer screenshots ([`DirectedRoute`]).
    Directed(DirectedRoute),
    /// Growth: A/B tests of presentation ([`GrowthRoute`]).
    Growth(GrowthRoute),
    /// Receipts, exports and accounting webhooks (issue 11).
    Receipt(crate::receipts::ReceiptRoute),
    /// Payments / refunds exports.
    Export(crate::exports::ExportRoute),
    /// Accounting webhooks.
    Webhook(crate::webhooks::WebhookRoute),
    /// Bills and reconciliation ([`crate::books::BooksRoute`]).
    Books(crate::books::BooksRoute),
    /// Personal data at rest: conversion and key rotation (operator).
    Data(crate::personal_data::rotate::DataRoute),
}

impl Route {
    /// Matches a method and path; `None` is a 404.
    pub fn parse(method: &Method, path: &str) -> Option<Route> {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        if let Some(oa) = OaRoute::parse(method, &segments) {
            return Some(Route::Oa(oa));
        }
        if let Some(directed) = DirectedRoute::parse(method, &segments) {
            return Some(Route::Directed(directed));
        }
        if let Some(notice) = NoticeRoute::parse(method, &segments) {
            return Some(Route::Notice(notice));
        }
        if let Some(split) = SplitRoute::parse(method, &segments) {
            return Some(Route::Split(split));
        }
        if let Some(contact) = crate::contacts::ContactRoute::parse(method, &segments) {
            return Some(Route::Contact(contact));
        }
        if let Some(product) = ProductRoute::parse(method, &segments) {
            return Some(Route::Product(product));
        }
        if let Some(pay) = PayRoute::parse(method, &segments) {
            return Some(Route::Pay(pay));
        }
        if let Some(growth) = GrowthRoute::parse(method, &segments) {
            return Some(Route::Growth(growth));
        }
        if let Some(r) = crate::receipts::ReceiptRoute::parse(method, &segments) {
            return Some(Route::Receipt(r));
        }
        if let Some(r) = crate::exports::ExportRoute::parse(method, &segments) {
            return Some(Route::Export(r));
        }
        if let Some(r) = crate::webhooks::WebhookRoute::parse(method, &segments) {
            return Some(Route::Webhook(r));
        }
        if let Some(books) = crate::books::BooksRoute::parse(method, &segments) {
            return Some(Route::Books(books));
        }
        if let Some(data) = crate::personal_data::rotate::DataRoute::parse(method, &segments) {
            return Some(Route::Data(data));
        }
        let route = match (method, segments.as_slice()) {
            (Method::Get | Method::Head, ["health"]) => Route::Health,
            (Method::Get, ["api", "config"]) => Route::Config,
            (Method::Post, ["api", "collections"]) => Route::CreateCollection,
            (Method::Get, ["api", "collections", id]) => Route::GetCollection(id.to_string()),
            (Method::Put, ["api", "collections", id]) => Route::UpdateCollection(id.to_string()),
            (Method::Get, ["api", "collections", id, "manage"]) => {
                Route::ManageCollection(id.to_string())
            }
            (Method::Post, ["api", "collections", id, "close"]) => {
                Route::CloseCollection(id.to_string())
            }
            (Method::Post, ["api", "collections", id, "reopen"]) => {
                Route::ReopenCollection(id.to_string())
            }
            (Method::Get | Method::Head, ["c", id]) => Route::PayerPage(id.to_string()),
            (Method::Get | Method::Head, ["o", id]) => Route::OrderPage(id.to_string()),
            (Method::Post, ["c", id, action]) => {
                Route::PayerForm(id.to_string(), action.to_string())
            }
            (Method::Post, ["api", "test", "cron"]) => Route::TestCron,
            (Method::Get | Method::Head, [""] | ["new"] | ["dash"] | ["dash", "books"])
            | (Method::Get | Method::Head, ["directed"])
            | (Method::Get | Method::Head, ["manage" | "admin" | "poster", _]) => Route::AppPage,
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
            (Method::Delete, ["api", "dash", "routes", key]) => {
                OaRoute::DeleteRoute(key.to_string())
            }
            (Method::Get, ["api", "dash", "keywords"]) => OaRoute::ListKeywords,
            (Method::Post, ["api", "dash", "keywords"]) => OaRoute::CreateKeyword,
            (Method::Delete, ["api", "dash", "keywords", id]) => {
                OaRoute::DeleteKeyword(id.to_string())
            }
            (Method::Get, ["api", "dash", "menu"]) => OaRoute::GetMenu,
            (Method::Put, ["api", "dash", "menu"]) => OaRoute::PutMenu,
            (Method::Post, ["api", "dash", "menu", "publish"]) => OaRoute::PublishMenu,
            (Method::Get, ["api", "dash", "channels"]) => OaRoute::ListChannels,
            (Method::Post, ["api", "dash", "channels"]) => OaRoute::CreateChannel,
            (Method::Get, ["api", "dash", "channels", id, "qr.png"]) => {
                OaRoute::ChannelQr(id.to_string())
            }
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

/// Routes of group splits. `:pid` is a participant id; participant routes need the
/// participant token, payee routes the manage token (`Authorization: Bearer …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitRoute {
    /// `GET /api/splits/:id`: the public page data (masked names), ETag/304 for polling.
    Get(String),
    /// `GET /api/splits/:id/admin` (manage token): names and phones in full.
    Admin(String),
    /// `POST /api/splits/:id/join`
    Join(String),
    /// `GET /api/splits/:id/participants/:pid` (participant token)
    Mine(String, String),
    /// `PUT /api/splits/:id/participants/:pid` (participant token)
    Edit(String, String),
    /// `DELETE /api/splits/:id/participants/:pid` (participant token)
    Withdraw(String, String),
    /// `POST /api/splits/:id/participants/:pid/remove` (manage token): the payee removes an entry.
    Remove(String, String),
    /// `POST /api/splits/:id/participants/:pid/claim` (participant token): 我已付款.
    Claim(String, String),
    /// `POST /api/splits/:id/participants/:pid/confirm` (manage token)
    Confirm(String, String),
    /// `POST /api/splits/:id/participants/:pid/reject` (manage token)
    Reject(String, String),
    /// `GET /api/splits/:id/export.csv` (manage token)
    ExportCsv(String),
    /// `GET /api/splits/:id/export.json` (manage token)
    ExportJson(String),
    /// `POST /api/splits/:id/remind` (manage token): template messages to unpaid participants.
    Remind(String),
}

impl SplitRoute {
    /// Matches the paths this family owns.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<SplitRoute> {
        let s = |v: &&str| v.to_string();
        let route = match (method, segments) {
            (Method::Get, ["api", "splits", id]) => SplitRoute::Get(s(id)),
            (Method::Get, ["api", "splits", id, "admin"]) => SplitRoute::Admin(s(id)),
            (Method::Post, ["api", "splits", id, "join"]) => SplitRoute::Join(s(id)),
            (Method::Get, ["api", "splits", id, "participants", pid]) => {
                SplitRoute::Mine(s(id), s(pid))
            }
            (Method::Put, ["api", "splits", id, "participants", pid]) => {
                SplitRoute::Edit(s(id), s(pid))
            }
            (Method::Delete, ["api", "splits", id, "participants", pid]) => {
                SplitRoute::Withdraw(s(id), s(pid))
            }
            (Method::Post, ["api", "splits", id, "participants", pid, "remove"]) => {
                SplitRoute::Remove(s(id), s(pid))
            }
            (Method::Post, ["api", "splits", id, "participants", pid, "claim"]) => {
                SplitRoute::Claim(s(id), s(pid))
            }
            (Method::Post, ["api", "splits", id, "participants", pid, "confirm"]) => {
                SplitRoute::Confirm(s(id), s(pid))
            }
            (Method::Post, ["api", "splits", id, "participants", pid, "reject"]) => {
                SplitRoute::Reject(s(id), s(pid))
            }
            (Method::Get, ["api", "splits", id, "export.csv"]) => SplitRoute::ExportCsv(s(id)),
            (Method::Get, ["api", "splits", id, "export.json"]) => SplitRoute::ExportJson(s(id)),
            (Method::Post, ["api", "splits", id, "remind"]) => SplitRoute::Remind(s(id)),
            _ => return None,
        };
        Some(route)
    }
}

/// Routes of notices (issue 13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeRoute {
    /// `GET /api/dash/notices`: settings, whether configured, the latest messages.
    Dash,
    /// `PUT /api/dash/notices/settings`
    PutSettings,
    /// `GET /api/splits/:id/reminders` (manage token): slots and, per participant, what was sent.
    GetSlots(String),
    /// `PUT /api/splits/:id/reminders` (manage token): the reminder slots.
    PutSlots(String),
}

impl NoticeRoute {
    /// Matches the paths this family owns.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<NoticeRoute> {
        Some(match (method, segments) {
            (Method::Get, ["api", "dash", "notices"]) => NoticeRoute::Dash,
            (Method::Put, ["api", "dash", "notices", "settings"]) => NoticeRoute::PutSettings,
            (Method::Get, ["api", "splits", id, "reminders"]) => {
                NoticeRoute::GetSlots(id.to_string())
            }
            (Method::Put, ["api", "splits", id, "reminders"]) => {
                NoticeRoute::PutSlots(id.to_string())
            }
            _ => return None,
        })
    }
}

/// Routes of directed requests (issue 13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectedRoute {
    /// `POST /api/directed`
    Create,
    /// `POST /api/splits/:id/participants/:pid/proof` (participant token)
    UploadProof(String, String),
    /// `GET /api/splits/:id/participants/:pid/proof` (manage token)
    GetProof(String, String),
}

impl DirectedRoute {
    /// Matches the paths this family owns.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<DirectedRoute> {
        let s = |v: &&str| v.to_string();
        Some(match (method, segments) {
            (Method::Post, ["api", "directed"]) => DirectedRoute::Create,
            (Method::Post, ["api", "splits", id, "participants", pid, "proof"]) => {
                DirectedRoute::UploadProof(s(id), s(pid))
            }
            (Method::Get, ["api", "splits", id, "participants", pid, "proof"]) => {
                DirectedRoute::GetProof(s(id), s(pid))
            }
            _ => return None,
        })
    }
}

/// Routes of price pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductRoute {
    /// `GET /api/products/:id`
    Get(String),
    /// `POST /api/images`: upload one image (body = the image).
    Upload,
    /// `GET /i/:key`: an uploaded image.
    Image(String),
}

impl ProductRoute {
    /// Matches the paths this family owns.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<ProductRoute> {
        let route = match (method, segments) {
            (Method::Get, ["api", "products", id]) => ProductRoute::Get(id.to_string()),
            (Method::Post, ["api", "images"]) => ProductRoute::Upload,
            (Method::Get | Method::Head, ["i", key]) => ProductRoute::Image(key.to_string()),
            _ => return None,
        };
        Some(route)
    }
}

/// Routes of merchant payments (WeChat Pay API v3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayRoute {
    /// `POST /api/orders`: a payer starts paying a merchant collection.
    CreateOrder,
    /// `GET /api/orders/:id[?refresh=1]`: the order page's status and receipt.
    GetOrder(String),
    /// `POST /wechatpay/notify/transaction`: WeChat Pay's payment callback.
    NotifyTransaction,
    /// `POST /wechatpay/notify/refund`: WeChat Pay's refund callback.
    NotifyRefund,
    /// `GET /api/dash/payments`: the payee's payments dashboard.
    Dashboard,
    /// `POST /api/dash/merchant-collections`: publish a collection paid through WeChat Pay.
    CreateMerchantCollection,
    /// `POST /api/dash/orders/:id/refunds`: the payee refunds (part of) an order.
    CreateRefund(String),
    /// `POST /api/dash/flags/:id/resolve`
    ResolveFlag(String),
    /// `POST /api/operator/payees/:openid/identity`: mark a payee identity-verified.
    SetIdentity(String),
    /// `GET /api/dash/collections/:id/shares`: the collection's share rule (分账).
    GetShares(String),
    /// `PUT /api/dash/collections/:id/shares`: replace the collection's share rule.
    PutShares(String),
    /// `GET /api/dash/shares`: per recent order, who got what of it.
    ShareStatus,
    /// `POST /api/operator/payees/:openid/merchant` `{sub_mchid}`: bind a payee to its
    /// sub-merchant (platform model).
    BindMerchant(String),
    /// `POST /api/test/pay/faults` (`PAY_TEST_HOOKS=1` only)
    TestFaults,
    /// `POST /api/test/pay/age` (`PAY_TEST_HOOKS=1` only)
    TestAge,
    /// `POST /api/test/pay/bench` (`PAY_TEST_HOOKS=1` only)
    TestBench,
}

impl PayRoute {
    /// Matches the paths this family owns.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<PayRoute> {
        let route = match (method, segments) {
            (Method::Post, ["api", "orders"]) => PayRoute::CreateOrder,
            (Method::Get, ["api", "orders", id]) => PayRoute::GetOrder(id.to_string()),
            (Method::Post, ["wechatpay", "notify", "transaction"]) => PayRoute::NotifyTransaction,
            (Method::Post, ["wechatpay", "notify", "refund"]) => PayRoute::NotifyRefund,
            (Method::Get, ["api", "dash", "payments"]) => PayRoute::Dashboard,
            (Method::Post, ["api", "dash", "merchant-collections"]) => {
                PayRoute::CreateMerchantCollection
            }
            (Method::Post, ["api", "dash", "orders", id, "refunds"]) => {
                PayRoute::CreateRefund(id.to_string())
            }
            (Method::Post, ["api", "dash", "flags", id, "resolve"]) => {
                PayRoute::ResolveFlag(id.to_string())
            }
            (Method::Post, ["api", "operator", "payees", openid, "identity"]) => {
                PayRoute::SetIdentity(openid.to_string())
            }
            (Method::Get, ["api", "dash", "collections", id, "shares"]) => {
                PayRoute::GetShares(id.to_string())
            }
            (Method::Put, ["api", "dash", "collections", id, "shares"]) => {
                PayRoute::PutShares(id.to_string())
            }
            (Method::Get, ["api", "dash", "shares"]) => PayRoute::ShareStatus,
            (Method::Post, ["api", "operator", "payees", openid, "merchant"]) => {
                PayRoute::BindMerchant(openid.to_string())
            }
            (Method::Post, ["api", "test", "pay", "faults"]) => PayRoute::TestFaults,
            (Method::Post, ["api", "test", "pay", "age"]) => PayRoute::TestAge,
            (Method::Post, ["api", "test", "pay", "bench"]) => PayRoute::TestBench,
            _ => return None,
        };
        Some(route)
    }
}

/// Growth routes of the payee dashboard (`worker/src/growth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrowthRoute {
    /// `GET /api/dash/growth/ab/:collection_id`: the A/B test and its figures.
    GetTest(String),
    /// `PUT /api/dash/growth/ab/:collection_id`: start a test with 2–4 variants.
    PutTest(String),
    /// `POST /api/dash/growth/ab/:collection_id/winner`
    DeclareWinner(String),
    /// `DELETE /api/dash/growth/ab/:collection_id`
    StopTest(String),
    /// `GET /api/dash/growth/refund-policy`
    GetRefundPolicy,
    /// `PUT /api/dash/growth/refund-policy`: threshold and approvers.
    PutRefundPolicy,
    /// `POST /api/dash/growth/approver-invites`: an invitation link.
    InviteApprover,
    /// `POST /api/dash/growth/approver-invites/accept`
    AcceptInvite,
    /// `GET /api/dash/growth/refund-requests`
    RefundRequests,
    /// `POST /api/dash/growth/refund-requests/:id/decide`
    DecideRefund(String),
    /// `GET /api/dash/growth/points`: the points programme and members' balances.
    GetPoints,
    /// `PUT /api/dash/growth/points`
    PutPoints,
    /// `GET /api/dash/growth/points.csv`: the ledger.
    PointsCsv,
    /// `GET /api/growth/points` (payer session): my balances.
    MyPoints,
    /// `GET /api/dash/tags`: the payee's customer tags.
    ListTags,
    /// `POST /api/dash/tags`
    CreateTag,
    /// `DELETE /api/dash/tags/:id`
    DeleteTag(String),
    /// `GET /api/dash/tags/people[?tag=]`: the payee's people, filtered by a tag.
    TagPeople,
    /// `POST /api/dash/tags/:id/assign` (`true`) or `…/unassign` (`false`).
    AssignTag(String, bool),
    /// `POST /api/dash/tags/:id/remind`: remind the tag's unpaid people of a split.
    RemindTag(String),
}

impl GrowthRoute {
    /// Matches the growth paths.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<GrowthRoute> {
        let route = match (method, segments) {
            (Method::Get, ["api", "dash", "growth", "ab", id]) => {
                GrowthRoute::GetTest(id.to_string())
            }
            (Method::Put, ["api", "dash", "growth", "ab", id]) => {
                GrowthRoute::PutTest(id.to_string())
            }
            (Method::Delete, ["api", "dash", "growth", "ab", id]) => {
                GrowthRoute::StopTest(id.to_string())
            }
            (Method::Post, ["api", "dash", "growth", "ab", id, "winner"]) => {
                GrowthRoute::DeclareWinner(id.to_string())
            }
            (Method::Get, ["api", "dash", "growth", "refund-policy"]) => {
                GrowthRoute::GetRefundPolicy
            }
            (Method::Put, ["api", "dash", "growth", "refund-policy"]) => {
                GrowthRoute::PutRefundPolicy
            }
            (Method::Post, ["api", "dash", "growth", "approver-invites"]) => {
                GrowthRoute::InviteApprover
            }
            (Method::Post, ["api", "dash", "growth", "approver-invites", "accept"]) => {
                GrowthRoute::AcceptInvite
            }
            (Method::Get, ["api", "dash", "growth", "refund-requests"]) => {
                GrowthRoute::RefundRequests
            }
            (Method::Get, ["api", "dash", "growth", "points"]) => GrowthRoute::GetPoints,
            (Method::Put, ["api", "dash", "growth", "points"]) => GrowthRoute::PutPoints,
            (Method::Get, ["api", "dash", "growth", "points.csv"]) => GrowthRoute::PointsCsv,
            (Method::Get, ["api", "growth", "points"]) => GrowthRoute::MyPoints,
            (Method::Get, ["api", "dash", "tags"]) => GrowthRoute::ListTags,
            (Method::Post, ["api", "dash", "tags"]) => GrowthRoute::CreateTag,
            (Method::Get, ["api", "dash", "tags", "people"]) => GrowthRoute::TagPeople,
            (Method::Delete, ["api", "dash", "tags", id]) => GrowthRoute::DeleteTag(id.to_string()),
            (Method::Post, ["api", "dash", "tags", id, "assign"]) => {
                GrowthRoute::AssignTag(id.to_string(), true)
            }
            (Method::Post, ["api", "dash", "tags", id, "unassign"]) => {
                GrowthRoute::AssignTag(id.to_string(), false)
            }
            (Method::Post, ["api", "dash", "tags", id, "remind"]) => {
                GrowthRoute::RemindTag(id.to_string())
            }
            (Method::Post, ["api", "dash", "growth", "refund-requests", id, "decide"]) => {
                GrowthRoute::DecideRefund(id.to_string())
            }
            _ => return None,
        };
        Some(route)
    }
}
