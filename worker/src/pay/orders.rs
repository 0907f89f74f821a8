//! `POST /api/orders` (a payer starts paying a merchant collection) and `GET /api/orders/:id`
//! (the order page's live status and receipt).
//!
//! Creating an order fixes who receives the money (`routing::for_payee`: the merchant in own
//! business, the payee's own sub-merchant in platform mode) and checks the payee's daily limit
//! (receipts in full, pending orders only as much as each payer can hold: `core::limits`) in
//! the same SQL statement that inserts it, then prepays at WeChat
//! Pay: JSAPI inside WeChat (the payer's openid comes from the payer session), H5 in a phone
//! browser (falling back to Native when WeChat Pay refuses H5), Native on a desktop. A failed
//! prepay closes the order again, which releases the reservation.

use serde::Deserialize;
use shoukuan_core::checkout::{
    remember_order, remembered_orders, PayerOrderLine, ORDERS_COOKIE, PAYER_SIGN_IN_REQUIRED,
};
use shoukuan_core::collection::{is_valid_id, AmountRule, Kind, Status};
use shoukuan_core::limits::{self, counted_for_payer_sql};
use shoukuan_core::money::Fen;
use shoukuan_core::order::{
    h5_url_with_redirect, new_out_trade_no, order_amount, time_expire, CreatedOrder, NewOrder,
    OrderState, OrderView, PayMethod,
};
use shoukuan_core::paytime::ShanghaiDay;
use shoukuan_core::routing::PayeeRouting;
use shoukuan_core::session::Openid;
use shoukuan_core::wechatpay::{package, paysign_message, Attach, Description, JsapiPayParams};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::apply::{self, compare_and_swap, OrderRow, Source};
use super::client::{self, Prepaid};
use super::config::PayConfig;
use super::crypto;
use super::routing;
use crate::error::ApiError;
use crate::http::{self, num};
use crate::session::{self, now_secs};

/// What the payments code needs of a collection.
#[derive(Debug, Deserialize)]
pub struct CollectionRow {
    /// Public id.
    pub id: String,
    /// `open` / `closed`.
    pub status: String,
    /// `personal` / `merchant`.
    pub pay_mode: String,
    /// Fixed amount, or NULL (payer enters it).
    pub amount_fen: Option<i64>,
    /// The payee account.
    pub owner_openid: Option<String>,
    /// Title.
    pub title: String,
    /// Payee display name.
    pub payee_name: String,
    /// `request` / `split` / `product`.
    pub kind: String,
}

/// The collection `id` (any mode), if it exists.
pub async fn collection(env: &Env, id: &str) -> Result<Option<CollectionRow>, ApiError> {
    if !is_valid_id(id) {
        return Ok(None);
    }
    Ok(env
        .d1("DB")?
        .prepare("SELECT id, status, pay_mode, amount_fen, owner_openid, title, payee_name, kind FROM collections WHERE id = ?1")
        .bind(&[id.into()])?
        .first::<CollectionRow>(None)
        .await?)
}

fn random<const N: usize>() -> Result<[u8; N], ApiError> {
    let mut buf = [0u8; N];
    getrandom::getrandom(&mut buf).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    Ok(buf)
}

/// The payee's `day` as the dashboard shows it: confirmed receipts, pending orders, what those
/// hold for a new payer (`core::limits::held_by_others`), and whether the payee is verified.
pub async fn day_totals(
    env: &Env,
    payee: &str,
    day: ShanghaiDay,
    now: i64,
) -> Result<(Fen, Fen, Fen, bool), ApiError> {
    let db = env.d1("DB")?;
    #[derive(Deserialize)]
    struct Totals {
        confirmed: i64,
        reserved: i64,
        counted: i64,
        verified: i64,
    }
    // A payer key nobody has: every pending order is somebody else's.
    let row = db
        .prepare(format!(
            "SELECT \
             COALESCE((SELECT SUM(amount_fen) FROM orders WHERE payee_openid = ?1 AND limit_day = ?2 AND state IN ('paid', 'refunding', 'refunded')), 0) AS confirmed, \
             COALESCE((SELECT SUM(amount_fen) FROM orders WHERE payee_openid = ?1 AND limit_day = ?2 AND state = 'pending' AND expires_at > ?4), 0) AS reserved, \
             {} AS counted, \
             COALESCE((SELECT verified FROM payee_verifications WHERE openid = ?1), 0) AS verified",
            counted_for_payer_sql("?1", "?2", "?3", "?4")
        ))
        .bind(&[payee.into(), num(day.number()), "".into(), num(now)])?
        .first::<Totals>(None)
        .await?
        .ok_or_else(|| ApiError::Internal("totals query returned nothing".into()))?;
    Ok((
        Fen::new(row.confirmed),
        Fen::new(row.reserved),
        Fen::new((row.counted - row.confirmed).max(0)),
        row.verified == 1,
    ))
}

/// What counts toward the payee's `day` for a new order of `payer_key` (`core::limits`).
async fn counted_for(
    env: &Env,
    payee: &str,
    day: ShanghaiDay,
    payer_key: &str,
    now: i64,
) -> Result<Fen, ApiError> {
    #[derive(Deserialize)]
    struct Counted {
        counted: i64,
    }
    let row = env
        .d1("DB")?
        .prepare(format!(
            "SELECT {} AS counted",
            counted_for_payer_sql("?1", "?2", "?3", "?4")
        ))
        .bind(&[payee.into(), num(day.number()), payer_key.into(), num(now)])?
        .first::<Counted>(None)
        .await?
        .ok_or_else(|| ApiError::Internal("counted query returned nothing".into()))?;
    Ok(Fen::new(row.counted))
}

/// `POST /api/orders`: `NewOrder` → 201 `CreatedOrder`.
pub async fn create(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let config = PayConfig::require(env)?;
    let draft: NewOrder = http::read_json(&mut req).await?;
    let found = collection(env, &draft.collection_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // Abuse limits (security): per client and per collection, before anything is reserved.
    crate::abuse::check_order(&req, env, &found.id).await?;
    if found.pay_mode != "merchant" {
        return Err(ApiError::Pay(
            409,
            "NOT_MERCHANT",
            "这个收款使用个人收款码，请长按二维码付款".into(),
        ));
    }
    if found.status != Status::Open.as_str() {
        return Err(ApiError::Pay(
            409,
            "CLOSED",
            "该收款已关闭，不能再付款".into(),
        ));
    }
    let payee = found.owner_openid.clone().ok_or_else(|| {
        ApiError::Internal(format!("merchant collection {} has no payee", found.id))
    })?;
    // A split is paid one participant at a time, for exactly what they owe (core's split
    // arithmetic): the payer cannot choose the amount, and no order pays "the split" itself.
    let participant = match (
        found.kind == Kind::Split.as_str(),
        draft.participant_id.as_deref(),
    ) {
        (true, Some(pid)) => Some(pid.to_owned()),
        (true, None) => {
            return Err(ApiError::Pay(
                400,
                "PARTICIPANT_REQUIRED",
                "请先报名接龙，再支付自己的份额".into(),
            ))
        }
        (false, Some(_)) => {
            return Err(ApiError::Pay(400, "NOT_A_SPLIT", "这个收款不是接龙".into()))
        }
        (false, None) => None,
    };
    let amount = match &participant {
        Some(pid) => {
            let due = crate::splits::due_for_order(&found.id, pid, &req, env).await?;
            if let Some(asked) = draft.amount.as_deref().filter(|a| !a.trim().is_empty()) {
                if Fen::parse_yuan(asked).ok() != Some(due) {
                    return Err(ApiError::Pay(
                        400,
                        "INVALID_AMOUNT",
                        format!("应付金额为 {}，不能自行修改", due),
                    ));
                }
            }
            if due.get() <= 0 {
                return Err(ApiError::Pay(
                    409,
                    "NOTHING_DUE",
                    "你在这个接龙中没有需要支付的金额".into(),
                ));
            }
            due
        }
        None => {
            let rule = match found.amount_fen {
                Some(fen) => AmountRule::Fixed { fen: Fen::new(fen) },
                None => AmountRule::PayerEntered,
            };
            order_amount(rule, draft.amount.as_deref())
                .map_err(|e| ApiError::Pay(400, "INVALID_AMOUNT", e.to_string()))?
        }
    };
    // Who receives the money: the configured merchant (own business) or the payee's own
    // sub-merchant (platform; refused when none is bound). Fixed here and stored with the order.
    let routing = routing::for_payee(env, &config, &payee).await?;
    let payer = session::payer_openid(&req, env);
    let payer_ip = client_ip(&req);
    let payer_key = crate::abuse::payer_key(&req, env, payer.as_ref());
    let method = match PayMethod::for_user_agent(&session::user_agent(&req)) {
        // H5 needs the payer's real address; without one the QR still works.
        PayMethod::H5 if payer_ip.is_none() => PayMethod::Native,
        method => method,
    };
    if method == PayMethod::Jsapi && payer.is_none() {
        return Err(ApiError::Pay(
            401,
            PAYER_SIGN_IN_REQUIRED,
            "请先在微信中授权，再付款".into(),
        ));
    }
    let profit_sharing = crate::pay::sharing::will_share(env, &found.id, &routing).await?;

    let now = now_secs();
    let id = crate::secrets::new_public_id()?;
    // The payer's openid is never stored in clear: a keyed hash and a copy sealed to the order.
    let (payer_hash, payer_sealed) =
        crate::personal_data::payer_columns(env, &id, payer.as_ref().map(Openid::as_str));
    let out_trade_no =
        new_out_trade_no(now, &random::<16>()?).map_err(|e| ApiError::Internal(e.to_string()))?;
    let (expires_at, expire_text) = time_expire(now, config.order_ttl_secs);
    let day = ShanghaiDay::of(now);
    // Points redeemed as a discount (growth): reserved here, returned if the order is refused
    // below or closes unpaid; the discounted amount is what WeChat Pay is asked for.
    let amount = crate::growth::points::reserve(
        env,
        &req,
        payer.as_ref(),
        &payee,
        participant.is_some(),
        amount,
        &id,
        out_trade_no.as_str(),
    )
    .await?;
    // The reservation: inserted only if the payee is (still) approved and what counts for this
    // payer today plus this order stays within the limit (or the payee is verified) — one
    // statement, so concurrent orders serialise and a revocation takes effect at once.
    let inserted = env
        .d1("DB")?
        .prepare(format!(
            "INSERT INTO orders (id, out_trade_no, collection_id, payee_openid, amount_fen, trade_type, payer_hash, \
             state, limit_day, expires_at, changed_by, created_at, updated_at, participant_id, \
             mchid, sub_mchid, appid, profit_sharing, payer_key, prepaid, payer_sealed) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9, 'create', ?10, ?10, ?12, ?13, ?14, ?15, ?16, ?17, 0, ?18 \
             WHERE EXISTS (SELECT 1 FROM payee_accounts WHERE openid = ?4 AND status = 'approved') \
             AND (EXISTS (SELECT 1 FROM payee_verifications WHERE openid = ?4 AND verified = 1) \
             OR {} + ?5 <= ?11) \
             RETURNING id",
            counted_for_payer_sql("?4", "?8", "?17", "?10")
        ))
        .bind(&[
            id.as_str().into(),
            out_trade_no.as_str().into(),
            found.id.as_str().into(),
            payee.as_str().into(),
            num(amount.get()),
            method.trade_type().into(),
            payer_hash.as_deref().map_or(JsValue::NULL, JsValue::from_str),
            num(day.number()),
            num(expires_at),
            num(now),
            num(limits::DAILY_LIMIT.get()),
            participant
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from_str),
            routing.signing_mchid().into(),
            routing.sub_mchid().map_or(JsValue::NULL, JsValue::from_str),
            routing.appid().into(),
            num(i64::from(profit_sharing)),
            payer_key.as_str().into(),
            payer_sealed.as_deref().map_or(JsValue::NULL, JsValue::from_str),
        ])?
        .first::<serde_json::Value>(None)
        .await?;
    if inserted.is_none() {
        crate::growth::points::release(env, out_trade_no.as_str()).await;
        // The payee's standing is checked in the same statement: an approval revoked a moment
        // ago stops new orders at once.
        let standing = match Openid::parse(&payee) {
            Some(openid) => session::payee_status(env, &openid).await?,
            None => None,
        };
        if standing != Some(session::PayeeStatus::Approved) {
            return Err(ApiError::Pay(
                409,
                "PAYEE_NOT_APPROVED",
                "收款方目前不能收款（未通过审核或已被停用），暂时无法付款".into(),
            ));
        }
        let counted = counted_for(env, &payee, day, &payer_key, now).await?;
        let message = match limits::admit(counted, amount, false) {
            Err(e) => e.to_string(),
            Ok(()) => "收款方今日收款已达上限，请稍后再试".to_string(),
        };
        return Err(ApiError::Pay(403, "DAILY_LIMIT", message));
    }
    // Channel attribution (scans → visits → orders → paid) must never cost a payment.
    if let Err(e) = crate::oa::channels::record_order_created(
        env,
        out_trade_no.as_str(),
        payer.as_ref(),
        None,
        amount.get(),
    )
    .await
    {
        worker::console_error!("channel attribution of a new order failed: {e:?}");
    }
    crate::growth::ab::order_created(env, &req, &found.id, out_trade_no.as_str()).await;

    let description = Description::parse(&shorten(
        &format!("{}-{}", found.payee_name, found.title),
        127,
    ))
    .or_else(|_| Description::parse("收款"))
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let origin = session::public_origin(&req, env)?;
    let mut common = serde_json::Map::new();
    common.insert("description".into(), description.as_str().into());
    common.insert("out_trade_no".into(), out_trade_no.as_str().into());
    common.insert("time_expire".into(), expire_text.as_str().into());
    if let Ok(attach) = Attach::parse(&id) {
        common.insert("attach".into(), attach.as_str().into());
    }
    common.insert(
        "notify_url".into(),
        format!("{origin}/wechatpay/notify/transaction").into(),
    );
    common.insert(
        "amount".into(),
        serde_json::json!({ "total": amount.get(), "currency": "CNY" }),
    );
    // Only orders that will be shared freeze their funds.
    common.insert(
        "settle_info".into(),
        serde_json::json!({ "profit_sharing": profit_sharing }),
    );
    let prepay = |method: PayMethod| {
        let body = routing.prepay_body(
            method,
            common.clone(),
            payer.as_ref().map(Openid::as_str),
            payer_ip.as_deref(),
        );
        let (config, routing) = (&config, &routing);
        async move { client::prepay(env, config, routing, method, &body).await }
    };
    let mut method = method;
    let mut prepaid = prepay(method).await;
    if let (PayMethod::H5, Err(client::CallError::Refused { code, message, .. })) =
        (method, &prepaid)
    {
        // H5 is not granted to every merchant (个体工商户 / 小微 sub-merchants never get it):
        // the QR to scan with WeChat still works. WeChat Pay made no order for a refused
        // prepay, so the same order number is used.
        worker::console_log!(
            "H5 prepay of {out_trade_no} refused ({code} {message}); Native instead"
        );
        method = PayMethod::Native;
        env.d1("DB")?
            .prepare("UPDATE orders SET trade_type = ?2 WHERE id = ?1")
            .bind(&[id.as_str().into(), method.trade_type().into()])?
            .run()
            .await?;
        prepaid = prepay(method).await;
    }
    let prepaid = match prepaid {
        Ok(prepaid) => prepaid,
        Err(e) => {
            // Nobody can pay an order whose prepay_id / code_url was never handed out: closing
            // it here releases the reservation.
            compare_and_swap(
                env,
                &id,
                OrderState::Pending,
                OrderState::Closed,
                "prepay",
                None,
            )
            .await?;
            return Err(match e {
                client::CallError::Refused { code, message, .. } => {
                    worker::console_error!("prepay of {out_trade_no} refused: {code} {message}");
                    ApiError::Pay(
                        502,
                        "PREPAY_REFUSED",
                        format!("微信支付下单失败：{message}"),
                    )
                }
                other => other.into(),
            });
        }
    };
    let (prepay_id, code_url, h5_url) = match &prepaid {
        Prepaid::Jsapi(prepay_id) => (Some(prepay_id.as_str()), None, None),
        Prepaid::Native(code_url) => (None, Some(code_url.as_str()), None),
        Prepaid::H5(h5_url) => (None, None, Some(h5_url.as_str())),
    };
    env.d1("DB")?
        .prepare("UPDATE orders SET prepay_id = ?2, code_url = ?3, prepaid = 1 WHERE id = ?1")
        .bind(&[
            id.as_str().into(),
            prepay_id.map_or(JsValue::NULL, Into::into),
            code_url.map_or(JsValue::NULL, Into::into),
        ])?
        .run()
        .await?;
    let pay_params = match &prepaid {
        Prepaid::Jsapi(prepay_id) => Some(pay_params(&config, &routing, prepay_id).await?),
        Prepaid::Native(_) | Prepaid::H5(_) => None,
    };
    let order_path = format!("/o/{id}");
    // This browser remembers the order, so the collection's page can lead back to it.
    let remember = remember_order(
        &remembered_orders(cookie(&req, ORDERS_COOKIE).as_deref()),
        &id,
        session::secure_cookies(&req),
    );
    let mut resp = http::json(
        201,
        &CreatedOrder {
            // WeChat's middle page returns to the order page, which polls: the payer need not
            // come back for the order to be confirmed.
            h5_url: h5_url.map(|url| h5_url_with_redirect(url, &format!("{origin}{order_path}"))),
            order_path,
            id,
            out_trade_no: out_trade_no.as_str().to_string(),
            amount_fen: amount.get(),
            method,
            pay_params,
            code_url: code_url.map(str::to_string),
            time_expire: expire_text,
        },
    )?;
    resp.headers_mut().append("set-cookie", &remember)?;
    Ok(resp)
}

/// A cookie's value from the request.
pub fn cookie(req: &Request, name: &str) -> Option<String> {
    let header = req.headers().get("cookie").ok().flatten()?;
    shoukuan_core::session::cookie_value(&header, name).map(str::to_string)
}

/// The orders of `collection_id` this payer made: by its payer session, or remembered by this
/// browser (newest first, at most a few).
pub async fn payer_orders(
    req: &Request,
    env: &Env,
    collection_id: &str,
) -> Result<Vec<PayerOrderLine>, ApiError> {
    let remembered = remembered_orders(cookie(req, ORDERS_COOKIE).as_deref());
    let payer = session::payer_openid(req, env);
    if remembered.is_empty() && payer.is_none() {
        return Ok(Vec::new());
    }
    let ids = serde_json::to_string(&remembered).map_err(|e| ApiError::Internal(e.to_string()))?;
    let payer = match payer {
        Some(openid) => Some(crate::personal_data::openid_key(env, openid.as_str())?),
        None => None,
    };
    Ok(env
        .d1("DB")?
        .prepare(
            "SELECT id, amount_fen, state FROM orders WHERE collection_id = ?1 \
             AND (payer_hash = ?2 OR id IN (SELECT value FROM json_each(?3))) \
             ORDER BY created_at DESC LIMIT 5",
        )
        .bind(&[
            collection_id.into(),
            payer.as_deref().map_or(JsValue::NULL, JsValue::from_str),
            ids.into(),
        ])?
        .all()
        .await?
        .results::<PayerOrderLine>()?)
}

/// The payer's address as Cloudflare saw it (`CF-Connecting-IP`), for H5's
/// `scene_info.payer_client_ip`; `None` when absent or not an IP address.
fn client_ip(req: &Request) -> Option<String> {
    req.headers()
        .get("cf-connecting-ip")
        .ok()
        .flatten()
        .map(|v| v.trim().to_string())
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
}

/// The `getBrandWCPayRequest` object for `prepay_id`, signed with the signing merchant's key
/// (the service provider's in platform mode); `appId` is the appid the payer's openid is
/// under (`sp_appid` in platform mode), one of those sent at prepay.
async fn pay_params(
    config: &PayConfig,
    routing: &PayeeRouting,
    prepay_id: &str,
) -> Result<JsapiPayParams, ApiError> {
    let time_stamp = now_secs().to_string();
    let nonce_str = crate::wechat::random_alnum(32)?;
    let package = package(prepay_id);
    let message = paysign_message(routing.appid(), &time_stamp, &nonce_str, &package);
    let pay_sign = crypto::sign_base64(config, message.as_bytes())
        .await
        .map_err(|e| ApiError::Internal(format!("paySign: {e}")))?;
    Ok(JsapiPayParams {
        app_id: routing.appid().to_string(),
        time_stamp,
        nonce_str,
        package,
        sign_type: "RSA".into(),
        pay_sign,
    })
}

fn shorten(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// How often the order page may make the worker ask WeChat Pay about one order.
const QUERY_EVERY_SECS: i64 = 10;

/// `GET /api/orders/:id[?refresh=1]`. With `refresh=1` (the order page while it waits) a
/// pending order older than a few seconds is also queried at WeChat Pay, at most every
/// [`QUERY_EVERY_SECS`]: a lost callback then costs the payer seconds, not minutes.
pub async fn get(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    if !is_valid_id(id) {
        return Err(ApiError::Missing("订单"));
    }
    let mut order = apply::order_by_id(env, id)
        .await?
        .ok_or(ApiError::Missing("订单"))?;
    let refresh = req
        .url()?
        .query_pairs()
        .any(|(k, v)| k == "refresh" && v == "1");
    if refresh && order.state()? == OrderState::Pending && now_secs() - order.created_at >= 3 {
        if let Some(config) = PayConfig::get(env) {
            if claim_query(env, &order.id).await? {
                let routing = routing::for_order(&order, &config);
                match client::query_order(env, &config, &routing, &order.out_trade_no).await {
                    Ok(Some(tx)) => {
                        apply::apply_transaction(
                            env,
                            &config,
                            &tx,
                            Source::Query,
                            &format!("query:{}", order.out_trade_no),
                        )
                        .await?;
                    }
                    Ok(None) => {}
                    // The page keeps showing what is stored; the cron will ask again.
                    Err(e) => worker::console_error!("query of {}: {e}", order.out_trade_no),
                }
                order = apply::order_by_id(env, id)
                    .await?
                    .ok_or(ApiError::Missing("订单"))?;
            }
        }
    }
    http::json(200, &view(env, &order).await?)
}

/// Takes the right to query this order now (at most one query per order per interval,
/// whatever number of pages poll).
pub async fn claim_query(env: &Env, order_id: &str) -> Result<bool, ApiError> {
    let now = now_secs();
    Ok(env
        .d1("DB")?
        .prepare(
            "UPDATE orders SET last_query_at = ?2 WHERE id = ?1 AND (last_query_at IS NULL OR last_query_at <= ?3) RETURNING id",
        )
        .bind(&[order_id.into(), num(now), num(now - QUERY_EVERY_SECS)])?
        .first::<serde_json::Value>(None)
        .await?
        .is_some())
}

/// The order as the order page shows it.
pub async fn view(env: &Env, order: &OrderRow) -> Result<OrderView, ApiError> {
    let found = collection(env, &order.collection_id).await?;
    let state = order.state()?;
    let method = PayMethod::parse(&order.trade_type).unwrap_or(PayMethod::Native);
    Ok(OrderView {
        id: order.id.clone(),
        out_trade_no: order.out_trade_no.clone(),
        collection_id: order.collection_id.clone(),
        title: found.as_ref().map(|c| c.title.clone()).unwrap_or_default(),
        payee_name: found
            .as_ref()
            .map(|c| c.payee_name.clone())
            .unwrap_or_default(),
        amount_fen: order.amount_fen,
        state,
        method,
        code_url: order
            .code_url
            .clone()
            .filter(|_| state == OrderState::Pending && method == PayMethod::Native),
        created_at: order.created_at,
        expires_at: order.expires_at,
        paid_at: order.paid_at.filter(|_| state.is_paid()),
        transaction_id: order.transaction_id.clone().filter(|_| state.is_paid()),
        refunded_fen: order.refunded_fen,
    })
}
