//! Channels: a payee's named sources with a parametric QR code from the Official Account API
//! (`scene_str = ch_<id>`), the scans the message server records, and the funnel
//! (scans → visits → orders → paid) the dashboard shows.
//!
//! Orders are the payments code's: it reports them with [`record_order_created`] and
//! [`record_order_paid`], and the order is attributed like a visit (the payer's last scan).

use serde::{Deserialize, Serialize};
use shoukuan_core::channel::{attribute, scene_for, ChannelKind, Funnel, NewChannel};
use shoukuan_core::menu::{AppTarget, MenuKey};
use shoukuan_core::mp::Article;
use shoukuan_core::ratelimit::CHANNELS_PER_PAYEE;
use shoukuan_core::session::Openid;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::mp::{collection_card, Reply};
use crate::error::ApiError;
use crate::session::{now_secs, require_manager};
use crate::wechat::OaClient;
use crate::{http, secrets};

/// Pixels of the QR image the dashboard shows (and the payee prints).
const QR_PX: u32 = 430;

/// A stored channel.
#[derive(Debug, Clone, Deserialize)]
pub struct Channel {
    /// Public id (also in the scene).
    pub id: String,
    owner_openid: Option<String>,
    name: String,
    kind: String,
    route_key: Option<String>,
    qr_url: String,
    expires_at: Option<i64>,
    created_at: i64,
}

/// The channel `id`, if it exists.
pub async fn find(env: &Env, id: &str) -> Result<Option<Channel>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare("SELECT id, owner_openid, name, kind, route_key, qr_url, expires_at, created_at FROM channels WHERE id = ?1")
        .bind(&[id.into()])?
        .first::<Channel>(None)
        .await?)
}

#[derive(Deserialize)]
struct Target {
    target: String,
}

/// The reply card of a scanned channel: its menu route (with `?channel=`), shown as the
/// collection's card when the route leads to one.
pub async fn card(env: &Env, origin: &str, channel: &Channel) -> Result<Reply, ApiError> {
    let Some(route) = channel.route_key.as_deref().and_then(MenuKey::parse) else {
        return Ok(Reply::None);
    };
    let row = env
        .d1("DB")?
        .prepare("SELECT target FROM menu_routes WHERE key = ?1")
        .bind(&[route.as_str().into()])?
        .first::<Target>(None)
        .await?;
    let Some(target) = row.and_then(|r| AppTarget::parse_path(&r.target).ok()) else {
        return Ok(Reply::None);
    };
    let path = format!("/m/{}?channel={}", route.as_str(), channel.id);
    if let Some(collection) = target.collection_id() {
        if let Reply::News(article) = collection_card(env, origin, collection, &path).await? {
            return Ok(Reply::News(article));
        }
    }
    Ok(Reply::News(Article {
        title: channel.name.clone(),
        description: "点击进入".into(),
        pic_url: String::new(),
        url: format!("{origin}{path}"),
    }))
}

/// Records a scan of `channel_id` by `openid` and makes it the openid's current channel.
pub async fn record_scan(
    env: &Env,
    channel_id: &str,
    openid: &Openid,
    subscribed: bool,
) -> Result<(), ApiError> {
    let db = env.d1("DB")?;
    let now = JsValue::from_f64(now_secs() as f64);
    let key: JsValue = crate::personal_data::openid_key(env, openid.as_str())?.into();
    db.batch(vec![
        db.prepare("INSERT INTO channel_scans (channel_id, openid_key, subscribed, created_at) VALUES (?1, ?2, ?3, ?4)").bind(&[
            channel_id.into(),
            key.clone(),
            JsValue::from_f64(if subscribed { 1.0 } else { 0.0 }),
            now.clone(),
        ])?,
        db.prepare(
            "INSERT INTO channel_followers (openid_key, channel_id, scanned_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (openid_key) DO UPDATE SET channel_id = excluded.channel_id, scanned_at = excluded.scanned_at",
        )
        .bind(&[key, channel_id.into(), now])?,
    ])
    .await?;
    Ok(())
}

#[derive(Deserialize)]
struct LastScan {
    channel_id: String,
    scanned_at: i64,
}

/// For the payments code: an order was created by `openid` (optionally with an explicit
/// channel from the page URL). Records it when it is attributed to a channel.
pub async fn record_order_created(
    env: &Env,
    out_trade_no: &str,
    openid: Option<&Openid>,
    explicit_channel: Option<&str>,
    amount_fen: i64,
) -> Result<(), ApiError> {
    let db = env.d1("DB")?;
    let key = match openid {
        Some(openid) => Some(crate::personal_data::openid_key(env, openid.as_str())?),
        None => None,
    };
    let last = match &key {
        Some(key) => {
            db.prepare("SELECT channel_id, scanned_at FROM channel_followers WHERE openid_key = ?1")
                .bind(&[key.as_str().into()])?
                .first::<LastScan>(None)
                .await?
        }
        None => None,
    };
    let explicit = match explicit_channel {
        Some(id) => find(env, id).await?.map(|c| c.id),
        None => None,
    };
    let now = now_secs();
    let Some(channel_id) = attribute(
        explicit.as_deref(),
        last.as_ref().map(|l| (l.channel_id.as_str(), l.scanned_at)),
        now,
    ) else {
        return Ok(());
    };
    db.prepare(
        "INSERT INTO channel_orders (out_trade_no, channel_id, openid_key, amount_fen, status, created_at) \
         VALUES (?1, ?2, ?3, ?4, 'created', ?5) ON CONFLICT (out_trade_no) DO NOTHING",
    )
    .bind(&[
        out_trade_no.into(),
        channel_id.into(),
        key.as_deref().map_or(JsValue::NULL, JsValue::from_str),
        JsValue::from_f64(amount_fen as f64),
        JsValue::from_f64(now as f64),
    ])?
    .run()
    .await?;
    Ok(())
}

/// For the payments code: the order was paid (idempotent; unknown orders are ignored).
pub async fn record_order_paid(env: &Env, out_trade_no: &str) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare("UPDATE channel_orders SET status = 'paid', paid_at = ?2 WHERE out_trade_no = ?1 AND status = 'created'")
        .bind(&[out_trade_no.into(), JsValue::from_f64(now_secs() as f64)])?
        .run()
        .await?;
    Ok(())
}

/// A channel as the dashboard sees it.
#[derive(Debug, Serialize)]
struct ChannelView {
    id: String,
    name: String,
    kind: String,
    route: Option<String>,
    scene: String,
    /// The QR content (WeChat's `url`), for printing elsewhere.
    qr_url: String,
    /// The QR as a PNG on this site.
    qr_image: String,
    expires_at: Option<i64>,
    created_at: i64,
    funnel: Funnel,
}

/// A channel row with its counts (no `#[serde(flatten)]`: it would read D1's numbers as
/// floats).
#[derive(Deserialize)]
struct Counted {
    id: String,
    owner_openid: Option<String>,
    name: String,
    kind: String,
    route_key: Option<String>,
    qr_url: String,
    expires_at: Option<i64>,
    created_at: i64,
    scans: i64,
    visits: i64,
    orders: i64,
    paid_orders: i64,
    paid_fen: i64,
}

impl Channel {
    fn view(self, funnel: Funnel) -> ChannelView {
        ChannelView {
            scene: scene_for(&self.id),
            qr_image: format!("/api/dash/channels/{}/qr.png", self.id),
            id: self.id,
            name: self.name,
            kind: self.kind,
            route: self.route_key,
            qr_url: self.qr_url,
            expires_at: self.expires_at,
            created_at: self.created_at,
            funnel,
        }
    }
}

/// `GET /api/dash/channels`: the manager's channels (the operator's: all), newest first,
/// each with its funnel.
pub async fn list(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let manager = require_manager(req, env).await?;
    let owner = manager.owner().map_or(JsValue::NULL, Into::into);
    let rows = env
        .d1("DB")?
        .prepare(
            "SELECT c.id, c.owner_openid, c.name, c.kind, c.route_key, c.qr_url, c.expires_at, c.created_at, \
             (SELECT COUNT(*) FROM channel_scans s WHERE s.channel_id = c.id) AS scans, \
             (SELECT COUNT(*) FROM visits v WHERE v.channel_id = c.id) AS visits, \
             (SELECT COUNT(*) FROM channel_orders o WHERE o.channel_id = c.id) AS orders, \
             (SELECT COUNT(*) FROM channel_orders o WHERE o.channel_id = c.id AND o.status = 'paid') AS paid_orders, \
             (SELECT COALESCE(SUM(amount_fen), 0) FROM channel_orders o WHERE o.channel_id = c.id AND o.status = 'paid') AS paid_fen \
             FROM channels c WHERE ?1 IS NULL OR c.owner_openid = ?1 ORDER BY c.created_at DESC, c.id LIMIT 200",
        )
        .bind(&[owner])?
        .all()
        .await?
        .results::<Counted>()?;
    let views: Vec<ChannelView> = rows
        .into_iter()
        .map(|r| {
            let funnel = Funnel::new(r.scans, r.visits, r.orders, r.paid_orders, r.paid_fen);
            let channel = Channel {
                id: r.id,
                owner_openid: r.owner_openid,
                name: r.name,
                kind: r.kind,
                route_key: r.route_key,
                qr_url: r.qr_url,
                expires_at: r.expires_at,
                created_at: r.created_at,
            };
            channel.view(funnel)
        })
        .collect();
    http::json(200, &serde_json::json!({ "channels": views }))
}

/// `POST /api/dash/channels`: creates the channel and its QR code (WeChat `qrcode/create`).
pub async fn create(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let manager = require_manager(&req, env).await?;
    let draft: NewChannel = http::read_json(&mut req).await?;
    let valid = draft.validate().map_err(ApiError::Invalid)?;
    if let Some(route) = &valid.route {
        if !super::dash::route_usable(env, &manager, route).await? {
            return Err(ApiError::Missing("入口"));
        }
    }
    super::dash::check_quota(env, &manager, "channels", CHANNELS_PER_PAYEE, "渠道").await?;
    let client = OaClient::new(env)?;
    let id = secrets::new_public_id()?;
    let qr = client
        .create_qrcode(&scene_for(&id), valid.expire_seconds)
        .await?;
    let now = now_secs();
    let expires_at = match valid.kind {
        ChannelKind::Temporary => {
            Some(now + qr.expire_seconds.or(valid.expire_seconds).unwrap_or(0))
        }
        ChannelKind::Permanent => None,
    };
    let num = |n: i64| JsValue::from_f64(n as f64);
    env.d1("DB")?
        .prepare(
            "INSERT INTO channels (id, owner_openid, name, kind, route_key, qr_ticket, qr_url, expires_at, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(&[
            id.as_str().into(),
            manager.owner().map_or(JsValue::NULL, Into::into),
            valid.name.as_str().into(),
            valid.kind.as_str().into(),
            valid.route.as_ref().map_or(JsValue::NULL, |r| r.as_str().into()),
            qr.ticket.as_str().into(),
            qr.url.as_str().into(),
            expires_at.map_or(JsValue::NULL, num),
            num(now),
        ])?
        .run()
        .await?;
    let channel = find(env, &id)
        .await?
        .ok_or_else(|| ApiError::Internal("channel vanished".into()))?;
    http::json(201, &channel.view(Funnel::default()))
}

/// `GET /api/dash/channels/:id/qr.png`: the channel's QR code as an image.
pub async fn qr_png(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let manager = require_manager(req, env).await?;
    let channel = match find(env, id).await? {
        Some(channel) if manager.may_change(channel.owner_openid.as_deref()) => channel,
        _ => return Err(ApiError::Missing("渠道")),
    };
    let png = shoukuan_core::qr::png(&channel.qr_url, QR_PX)
        .map_err(|e| ApiError::Internal(format!("qr: {e}")))?;
    let mut resp = Response::from_bytes(png)?;
    resp.headers_mut().set("content-type", "image/png")?;
    resp.headers_mut()
        .set("cache-control", "private, max-age=300")?;
    Ok(resp)
}
