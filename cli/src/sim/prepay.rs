//! Prepay, direct (`POST /v3/pay/transactions/{jsapi,native,h5}`) and partner
//! (`POST /v3/pay/partner/transactions/{jsapi,native,h5}`). Both modes share the order fields —
//! description, out_trade_no, time_expire, attach, notify_url, amount, settle_info, scene_info —
//! and differ in the ids: `appid` / `mchid` / `payer.openid` here, `sp_appid` / `sp_mchid` /
//! `sub_mchid` / `payer.sp_openid` in partner.rs, which checks them and calls [`create`].
//!
//! Answers: JSAPI `{prepay_id}`, Native `{code_url}`, H5 `{h5_url}` (a sim page, h5.rs, valid
//! 5 minutes). A repeated out_trade_no with identical parameters gets a fresh id; with other
//! parameters it is refused.

use axum::http::StatusCode;
use serde_json::{json, Value};
use shoukuan_core::wechatpay::{Attach, Description, OutTradeNo};

use super::pay::{
    check_appid_mchid, check_currency, check_notify_url, ok, optional_bool, optional_str,
    required_int, required_str, PayResult, Request,
};
use super::state::{Order, OrderState};
use super::{
    compact_time, h5, now, now_ms, parse_rfc3339, random_alnum, random_hex, PayError, Shared,
};

/// The three prepay products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Product {
    /// In WeChat (Official Account page).
    Jsapi,
    /// A QR code scanned with WeChat.
    Native,
    /// A phone browser outside WeChat (`MWEB`).
    H5,
}

impl Product {
    /// `trade_type` as WeChat writes it.
    pub fn trade_type(self) -> &'static str {
        match self {
            Product::Jsapi => "JSAPI",
            Product::Native => "NATIVE",
            Product::H5 => "MWEB",
        }
    }
}

/// Who an order is for, once the mode's own checks passed.
pub struct Ids<'a> {
    /// `appid` or `sp_appid`.
    pub appid: &'a str,
    /// `mchid` or `sp_mchid`.
    pub mchid: &'a str,
    /// Partner orders.
    pub sub_mchid: Option<&'a str>,
    /// The payer named at prepay (JSAPI) and the field that named it.
    pub openid: Option<(&'a str, &'static str)>,
    /// The latest `time_expire` allowed, in days (90 direct, 15 partner).
    pub max_expire_days: i64,
}

/// `POST /v3/pay/transactions/{jsapi,native,h5}`.
pub fn direct(sim: &Shared, request: &Request<'_>, product: Product) -> PayResult {
    let body = request.json()?;
    let appid = required_str(&body, "/appid", 32)?;
    let mchid = required_str(&body, "/mchid", 32)?;
    let openid = match product {
        Product::Jsapi => Some((required_str(&body, "/payer/openid", 128)?, "/payer/openid")),
        _ => None,
    };
    let ids = Ids {
        appid,
        mchid,
        sub_mchid: None,
        openid,
        max_expire_days: 90,
    };
    check_appid_mchid(sim, Some(appid), mchid)?;
    create(sim, request, &body, &ids, product)
}

/// Checks the fields both modes share and creates (or re-issues) the order.
pub fn create(
    sim: &Shared,
    request: &Request<'_>,
    body: &Value,
    ids: &Ids<'_>,
    product: Product,
) -> PayResult {
    let description = Description::parse(required_str(body, "/description", usize::MAX)?)
        .map_err(|e| PayError::param("/description", e.to_string()))?;
    let out_trade_no = OutTradeNo::parse(required_str(body, "/out_trade_no", usize::MAX)?)
        .map_err(|e| PayError::param("/out_trade_no", e.to_string()))?;
    let time_expire_text = optional_str(body, "/time_expire", 64)?;
    let time_expire = match time_expire_text {
        Some(text) => Some(parse_rfc3339(text).ok_or_else(|| {
            PayError::param(
                "/time_expire",
                "时间格式错误，应遵循RFC 3339：yyyy-MM-DDTHH:mm:ss+TIMEZONE",
            )
        })?),
        None => None,
    };
    let attach = match optional_str(body, "/attach", usize::MAX)? {
        Some(text) => {
            Some(Attach::parse(text).map_err(|e| PayError::param("/attach", e.to_string()))?)
        }
        None => None,
    };
    let notify_url = required_str(body, "/notify_url", 255)?;
    check_notify_url("/notify_url", notify_url)?;
    optional_str(body, "/goods_tag", 32)?;
    let total = required_int(body, "/amount/total")?;
    if total <= 0 {
        return Err(PayError::param("/amount/total", "订单金额必须大于0"));
    }
    let currency = check_currency(body, "/amount/currency")?;
    let profit_sharing = optional_bool(body, "/settle_info/profit_sharing")?.unwrap_or(false);
    if product == Product::H5 {
        h5::check_scene_info(body)?;
    }

    let now = now();
    let mut state = sim.state();
    if let Some((openid, field)) = ids.openid {
        // The simulated Official Account (sp_appid in partner mode) issued every known openid.
        if state.payer(openid).is_none() {
            return Err(PayError::param(
                field,
                "appid和openid不匹配（该用户不是此AppID下的用户）",
            ));
        }
    }
    if product == Product::H5 {
        if let Some(sub_mchid) = ids.sub_mchid {
            if !state.sub_merchant(sub_mchid).is_some_and(|s| s.h5) {
                return Err(h5::no_auth());
            }
        }
    }
    let fingerprint = json!({
        "trade_type": product.trade_type(),
        "appid": ids.appid,
        "mchid": ids.mchid,
        "sub_mchid": ids.sub_mchid,
        "description": description.as_str(),
        "attach": attach.as_ref().map(Attach::as_str),
        "notify_url": notify_url,
        "total": total,
        "currency": currency,
        "openid": ids.openid.map(|(o, _)| o),
        "time_expire": time_expire_text,
        "profit_sharing": profit_sharing,
        "goods_tag": body.pointer("/goods_tag"),
    });
    let prepay_id = format!("wx{}{}", compact_time(now), random_hex(20));
    let code_url = format!("weixin://wxpay/bizpayurl?pr={}", random_alnum(7));
    let h5_url = (product == Product::H5).then(|| h5::url(request.host, &prepay_id));
    if let Some(order) = state.orders.get(out_trade_no.as_str()) {
        match order.state {
            OrderState::Closed => {
                return Err(PayError::new(
                    StatusCode::BAD_REQUEST,
                    "ORDER_CLOSED",
                    "订单已关闭，请使用新的商户订单号重新下单",
                ))
            }
            OrderState::Success | OrderState::Refund => {
                return Err(PayError::invalid("该订单已支付，请勿重复下单"))
            }
            OrderState::NotPay => {}
        }
        if order.fingerprint != fingerprint {
            return Err(PayError::invalid(
                "201 商户订单号重复：同一商户订单号的下单参数与原订单不一致",
            ));
        }
    }
    // WeChat raises time_expire to at least a minute and caps it (90 days direct, 15 days
    // partner).
    let expires_at = time_expire
        .map(|t| t.clamp(now + 60, now + ids.max_expire_days * 86_400))
        .unwrap_or(now + 7 * 86_400);
    let order = state
        .orders
        .entry(out_trade_no.as_str().to_string())
        .or_insert_with(|| Order {
            appid: ids.appid.to_string(),
            mchid: ids.mchid.to_string(),
            sub_mchid: ids.sub_mchid.map(str::to_string),
            out_trade_no: out_trade_no.as_str().to_string(),
            trade_type: product.trade_type().to_string(),
            description: description.as_str().to_string(),
            attach: attach.map(String::from),
            notify_url: notify_url.to_string(),
            total,
            currency,
            openid: ids.openid.map(|(o, _)| o.to_string()),
            expires_at,
            profit_sharing,
            fingerprint,
            prepay_ids: Vec::new(),
            code_url: None,
            h5_urls: Vec::new(),
            request: Value::Null,
            created_at: now,
            state: OrderState::NotPay,
            transaction_id: None,
            success_time: None,
            paid_at_ms: 0,
            refunded: 0,
            refunded_frozen: 0,
            shared: 0,
            returned: 0,
            unfrozen: false,
        });
    order.prepay_ids.push(prepay_id.clone());
    // A new Native prepay invalidates the previous code_url.
    order.code_url = Some(code_url.clone());
    order.request = body.clone();
    if h5_url.is_some() {
        let lifetime = sim.scaled(h5::URL_LIFETIME_SECS).as_millis();
        let until = now_ms().saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
        order.h5_urls.push((prepay_id.clone(), until));
    }
    match (product, h5_url) {
        (Product::Jsapi, _) => ok(json!({ "prepay_id": prepay_id })),
        (Product::H5, Some(url)) => ok(json!({ "h5_url": url })),
        _ => ok(json!({ "code_url": code_url })),
    }
}
