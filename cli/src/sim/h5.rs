//! H5 pay (`MWEB`), direct and partner: the prepay needs `scene_info.payer_client_ip` (a
//! syntactically valid IP) and `scene_info.h5_info.type` (`iOS`, `Android` or `Wap`), and answers
//! `{h5_url}` — here `http://<sim>/sim/h5/checkout?prepay_id=…&package=…`, valid 5 minutes (scaled
//! by `--time-scale`), as WeChat's `checkmweb` page is.
//!
//! The checkout page stands in for WeChat's middle page and the WeChat app: it refuses a request
//! without `Referer` ("商家参数格式有误", WeChat checks the H5 domain by Referer) and an expired
//! URL ("支付请求已失效"), lets a simulated user pay or cancel, and then redirects to the
//! `redirect_url` the merchant appended (URL-encoded), whether paid or not — WeChat gives the page
//! no result, so the merchant must query.

use axum::extract::{Form, Query, State};
use axum::http::header::REFERER;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::Value;

use super::control::{pay_order, PayRequest};
use super::pay::{optional_str, required_str};
use super::state::OrderState;
use super::{now_ms, random_alnum, PayError, Shared};

/// How long an h5_url can be opened (before `--time-scale`).
pub const URL_LIFETIME_SECS: f64 = 300.0;

const H5_TYPES: [&str; 3] = ["iOS", "Android", "Wap"];

/// `scene_info` of an H5 prepay: `payer_client_ip` and `h5_info.type` are required.
pub fn check_scene_info(body: &Value) -> Result<(), PayError> {
    if body.pointer("/scene_info").is_none_or(Value::is_null) {
        return Err(PayError::param("/scene_info", "此字段为必填项"));
    }
    let ip = required_str(body, "/scene_info/payer_client_ip", 45)?;
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(PayError::param(
            "/scene_info/payer_client_ip",
            "不是合法的IPv4或IPv6地址",
        ));
    }
    optional_str(body, "/scene_info/device_id", 32)?;
    if body
        .pointer("/scene_info/h5_info")
        .is_none_or(Value::is_null)
    {
        return Err(PayError::param("/scene_info/h5_info", "此字段为必填项"));
    }
    let kind = required_str(body, "/scene_info/h5_info/type", 32)?;
    if !H5_TYPES.contains(&kind) {
        return Err(PayError::param(
            "/scene_info/h5_info/type",
            format!("枚举值 {kind} 错误，应为 iOS、Android 或 Wap"),
        ));
    }
    for field in ["app_name", "app_url", "bundle_id", "package_name"] {
        optional_str(body, &format!("/scene_info/h5_info/{field}"), 256)?;
    }
    Ok(())
}

/// 403 NO_AUTH: the merchant (sub-merchant) has no H5 permission. WeChat's wording.
pub fn no_auth() -> PayError {
    PayError::new(
        StatusCode::FORBIDDEN,
        "NO_AUTH",
        "商户号该产品权限未开通，请前往商户平台>产品中心检查后重试",
    )
}

/// The h5_url of a prepay, on the host the merchant called.
pub fn url(host: &str, prepay_id: &str) -> String {
    format!(
        "http://{host}/sim/h5/checkout?prepay_id={prepay_id}&package={}",
        random_alnum(10)
    )
}

/// The checkout routes.
pub fn routes() -> Router<Shared> {
    Router::new().route("/sim/h5/checkout", get(checkout).post(finish))
}

#[derive(Debug, Deserialize)]
struct CheckoutQuery {
    prepay_id: String,
    redirect_url: Option<String>,
}

/// What the page shows about the order, or why it cannot be paid.
fn find(sim: &Shared, prepay_id: &str) -> Result<(String, String, i64), &'static str> {
    let state = sim.state();
    let order = state
        .orders
        .values()
        .find(|o| o.h5_urls.iter().any(|(id, _)| id == prepay_id))
        .ok_or("商家参数格式有误：没有这笔H5订单")?;
    let valid = order
        .h5_urls
        .iter()
        .any(|(id, until)| id == prepay_id && now_ms() < *until);
    if !valid {
        return Err("支付请求已失效，请重新发起支付");
    }
    if order.state != OrderState::NotPay {
        return Err("订单已支付或已关闭");
    }
    Ok((
        order.out_trade_no.clone(),
        order.description.clone(),
        order.total,
    ))
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:420px;margin:2em auto;padding:0 1em;color:#222}}
button{{width:100%;padding:.8em;margin:.4em 0;border:0;border-radius:6px;font-size:1em}}
.pay{{background:#07c160;color:#fff}}.cancel{{background:#eee}}.amount{{font-size:2em;margin:.5em 0}}
select{{width:100%;padding:.5em}}</style></head><body>{body}</body></html>"#
    ))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /sim/h5/checkout?prepay_id=…&package=…[&redirect_url=…]`.
async fn checkout(
    State(sim): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Query(query): Query<CheckoutQuery>,
) -> Html<String> {
    // An unencoded redirect_url breaks WeChat's parameters (it reports a signature error).
    let raw = uri.query().unwrap_or("");
    if raw.contains("redirect_url=http:") || raw.contains("redirect_url=https:") {
        return page(
            "微信支付",
            "<h1>商家参数格式有误，请联系商家解决</h1><p>（redirect_url 须经 URL 编码）</p>",
        );
    }
    // WeChat's middle page checks the H5 domain by Referer; without one it refuses.
    if headers.get(REFERER).is_none() {
        return page(
            "微信支付",
            "<h1>商家参数格式有误，请联系商家解决</h1><p>（没有 Referer：须从商家网页跳转打开）</p>",
        );
    }
    let (out_trade_no, description, total) = match find(&sim, &query.prepay_id) {
        Ok(found) => found,
        Err(message) => return page("微信支付", &format!("<h1>{}</h1>", escape(message))),
    };
    let payers: String = sim
        .state()
        .payers
        .iter()
        .map(|p| {
            format!(
                r#"<option value="{}">{}</option>"#,
                escape(&p.openid),
                escape(&p.nickname)
            )
        })
        .collect();
    page(
        "微信支付",
        &format!(
            r#"<h1>微信支付（模拟）</h1><p>{}</p><p class="amount">¥{}.{:02}</p>
<p>订单 <code>{}</code></p>
<form method="post" action="/sim/h5/checkout">
<input type="hidden" name="prepay_id" value="{}">
<input type="hidden" name="redirect_url" value="{}">
<label>付款用户 <select name="openid"><option value="">新用户</option>{payers}</select></label>
<button class="pay" name="action" value="pay">确认支付</button>
<button class="cancel" name="action" value="cancel">取消</button>
</form>"#,
            escape(&description),
            total / 100,
            total % 100,
            escape(&out_trade_no),
            escape(&query.prepay_id),
            escape(query.redirect_url.as_deref().unwrap_or("")),
        ),
    )
}

#[derive(Debug, Deserialize)]
struct Finish {
    prepay_id: String,
    redirect_url: Option<String>,
    openid: Option<String>,
    /// `pay` or `cancel`.
    action: String,
}

/// `POST /sim/h5/checkout` (the page's form): pays or cancels, then goes to `redirect_url`.
async fn finish(State(sim): State<Shared>, Form(form): Form<Finish>) -> Response {
    if form.action == "pay" {
        if let Err(message) = find(&sim, &form.prepay_id) {
            return page("微信支付", &format!("<h1>{}</h1>", escape(message))).into_response();
        }
        let openid = match form.openid.filter(|o| !o.is_empty()) {
            Some(openid) => openid,
            None => super::mp::create_payer(&sim, None, false).openid,
        };
        let request = PayRequest {
            prepay_id: Some(form.prepay_id.clone()),
            openid: Some(openid),
            ..PayRequest::default()
        };
        if let Err(e) = pay_order(&sim, &request) {
            return page("微信支付", &format!("<h1>{}</h1>", escape(&e.message))).into_response();
        }
    }
    let target = form
        .redirect_url
        .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
    match target {
        Some(url) => Redirect::to(&url).into_response(),
        None if form.action == "pay" => page("微信支付", "<h1>支付成功</h1>").into_response(),
        None => page("微信支付", "<h1>已取消支付</h1>").into_response(),
    }
}
