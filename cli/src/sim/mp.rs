//! The Official Account platform: global access_token (`/cgi-bin/token`, `/cgi-bin/stable_token`;
//! `40001` / `42001` on a bad or expired token), web authorization (`/connect/oauth2/authorize`
//! with a simulated consent page, `/sns/oauth2/access_token` where a code works once → `40163`,
//! `/sns/userinfo`), jsapi_ticket, template messages (recorded; typed keyword values checked as
//! WeChat does → 47003, 43004 for non-followers, injected refusals), customer-service messages
//! (only inside the 48 h / 1 min windows a user opened: 45015, 45047), parametric QR codes and
//! `showqrcode` (a real PNG), the custom menu, and pushes of messages and events to the worker's
//! message URL in plain or safe mode (5 s timeout, 3 tries with the same MsgId).
//!
//! Errors are WeChat's `{"errcode": N, "errmsg": "… rid: …"}` with HTTP 200, as WeChat answers.

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::RngCore as _;
use serde::Deserialize;
use serde_json::{json, Value};
use shoukuan_core::mp::{self, cdata, msg_signature, url_signature};
use shoukuan_core::notice::FieldKind;

use super::state::{
    AccessToken, Attempt, OauthCode, Payer, Push, QrCode, SnsToken, State as SimState,
};
use super::{now, now_ms, random_alnum, random_digits, random_hex, rfc3339, PayError, Shared, Sim};

/// Lifetime of tokens and tickets, seconds.
const TOKEN_SECS: i64 = 7200;
/// How long a replaced global token keeps working.
const OVERLAP_SECS: i64 = 300;
/// Lifetime of an OAuth code.
const CODE_SECS: i64 = 300;

/// The Official Account routes.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/cgi-bin/token", get(token))
        .route("/cgi-bin/stable_token", post(stable_token))
        .route("/connect/oauth2/authorize", get(authorize))
        .route("/sns/oauth2/access_token", get(sns_access_token))
        .route("/sns/oauth2/refresh_token", get(sns_refresh_token))
        .route("/sns/userinfo", get(userinfo))
        .route("/cgi-bin/user/info", get(user_info))
        .route("/cgi-bin/ticket/getticket", get(getticket))
        .route("/cgi-bin/message/template/send", post(template_send))
        .route("/cgi-bin/message/custom/send", post(custom_send))
        .route("/cgi-bin/qrcode/create", post(qrcode_create))
        .route("/cgi-bin/showqrcode", get(showqrcode))
        .route("/cgi-bin/menu/create", post(menu_create))
        .route("/cgi-bin/menu/get", get(menu_get))
        .route("/cgi-bin/menu/delete", get(menu_delete))
}

type Params = Query<HashMap<String, String>>;

fn rid() -> String {
    format!("{}-{}-{}", random_hex(8), random_hex(8), random_hex(8))
}

/// WeChat's error body (HTTP 200).
fn wx_error(errcode: i64, errmsg: &str) -> Response {
    Json(json!({ "errcode": errcode, "errmsg": format!("{errmsg} rid: {}", rid()) }))
        .into_response()
}

/// The same error as a value, for checks that return `Result`.
#[derive(Debug, Clone, Copy)]
struct WxError(i64, &'static str);

impl IntoResponse for WxError {
    fn into_response(self) -> Response {
        wx_error(self.0, self.1)
    }
}

fn wx_ok(mut extra: Value) -> Response {
    extra["errcode"] = json!(0);
    extra["errmsg"] = json!("ok");
    Json(extra).into_response()
}

fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// Checks appid + secret the way `/cgi-bin/token` and `/sns/oauth2/access_token` do.
fn check_credentials(sim: &Sim, appid: Option<&str>, secret: Option<&str>) -> Result<(), WxError> {
    let account = &sim.keys.config.official_account;
    let Some(appid) = appid else {
        return Err(WxError(41002, "appid missing"));
    };
    let Some(secret) = secret else {
        return Err(WxError(41004, "appsecret missing"));
    };
    if appid != account.appid {
        return Err(WxError(40013, "invalid appid"));
    }
    if secret != account.appsecret {
        return Err(WxError(40125, "invalid appsecret"));
    }
    Ok(())
}

fn mint_token(state: &mut SimState, now: i64) -> AccessToken {
    // A new token shortens the previous ones to a 5-minute overlap.
    for old in &mut state.access_tokens {
        old.expires_at = old.expires_at.min(now + OVERLAP_SECS);
    }
    state.access_tokens.retain(|t| t.expires_at > now);
    let token = AccessToken {
        token: format!("{}_{}", random_digits(2), random_alnum(134)),
        expires_at: now + TOKEN_SECS,
    };
    state.access_tokens.push(token.clone());
    state.tokens_issued += 1;
    token
}

/// Checks `access_token` of an API call: 41001 missing, 40001 unknown, 42001 expired.
fn check_access_token(sim: &Sim, params: &HashMap<String, String>) -> Result<(), WxError> {
    let Some(token) = param(params, "access_token") else {
        return Err(WxError(41001, "access_token missing"));
    };
    let state = sim.state();
    match state.access_tokens.iter().find(|t| t.token == token) {
        None => Err(WxError(
            40001,
            "invalid credential, access_token is invalid or not latest",
        )),
        Some(t) if t.expires_at <= now() => Err(WxError(42001, "access_token expired")),
        Some(_) => Ok(()),
    }
}

async fn token(State(sim): State<Shared>, Query(params): Params) -> Response {
    sim.state().token_requests += 1;
    if param(&params, "grant_type") != Some("client_credential") {
        return wx_error(40002, "invalid grant_type");
    }
    if let Err(e) = check_credentials(&sim, param(&params, "appid"), param(&params, "secret")) {
        return e.into_response();
    }
    let now = now();
    let token = mint_token(&mut sim.state(), now);
    Json(json!({ "access_token": token.token, "expires_in": TOKEN_SECS })).into_response()
}

async fn stable_token(State(sim): State<Shared>, body: Bytes) -> Response {
    sim.state().token_requests += 1;
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return wx_error(47001, "data format error");
    };
    if body["grant_type"].as_str() != Some("client_credential") {
        return wx_error(40002, "invalid grant_type");
    }
    if let Err(e) = check_credentials(&sim, body["appid"].as_str(), body["secret"].as_str()) {
        return e.into_response();
    }
    let force = body["force_refresh"].as_bool().unwrap_or(false);
    let now = now();
    let mut state = sim.state();
    let current = state
        .access_tokens
        .last()
        .filter(|t| t.expires_at > now + OVERLAP_SECS)
        .cloned();
    let token = match (force, current) {
        (false, Some(token)) => token,
        _ => mint_token(&mut state, now),
    };
    Json(json!({ "access_token": token.token, "expires_in": token.expires_at - now }))
        .into_response()
}

/// Finds or creates the simulated user for a browser.
fn new_payer(state: &mut SimState, nickname: Option<&str>, subscribed: bool) -> Payer {
    let n = state.payers.len() + 1;
    let payer = Payer {
        openid: format!("o{}", random_alnum(27)),
        nickname: nickname
            .map(str::to_string)
            .unwrap_or_else(|| format!("模拟用户{n}")),
        subscribed,
    };
    state.payers.push(payer.clone());
    payer
}

/// Creates a payer (control API).
pub fn create_payer(sim: &Sim, nickname: Option<&str>, subscribed: bool) -> Payer {
    new_payer(&mut sim.state(), nickname, subscribed)
}

fn cookie_openid(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == "sim_openid")
        .map(|(_, v)| v.to_string())
}

fn error_page(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>\
             <title>微信授权</title><body style='font-family:sans-serif;padding:2em'>\
             <h3>授权失败</h3><p>{code} {}</p></body>",
            html_escape(message)
        )),
    )
        .into_response()
}

/// Escapes text for HTML.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `redirect_uri` with `code` and `state` added to its query (before any fragment).
fn redirect_with(redirect_uri: &str, code: Option<&str>, state: &str) -> Option<String> {
    let mut url = reqwest::Url::parse(redirect_uri).ok()?;
    {
        let mut pairs = url.query_pairs_mut();
        if let Some(code) = code {
            pairs.append_pair("code", code);
        }
        pairs.append_pair("state", state);
    }
    Some(url.to_string())
}

/// `GET /connect/oauth2/authorize`: snsapi_base redirects at once; snsapi_userinfo shows a
/// consent page (unless `auto=1` or auto-approve is on). Simulator extras: `sim_openid=` picks the
/// user, `deny=1` refuses; otherwise the browser's `sim_openid` cookie, else a new user.
async fn authorize(
    State(sim): State<Shared>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    let Some(appid) = param(&params, "appid") else {
        return error_page(StatusCode::BAD_REQUEST, 10012, "appid不能为空");
    };
    if appid != sim.keys.config.official_account.appid {
        return error_page(StatusCode::BAD_REQUEST, 40013, "appid参数错误");
    }
    let Some(redirect_uri) = param(&params, "redirect_uri") else {
        return error_page(StatusCode::BAD_REQUEST, 10011, "redirect_uri不能为空");
    };
    if !redirect_uri.starts_with("http://") && !redirect_uri.starts_with("https://")
        || reqwest::Url::parse(redirect_uri).is_err()
    {
        return error_page(StatusCode::BAD_REQUEST, 10003, "redirect_uri参数错误");
    }
    if param(&params, "response_type") != Some("code") {
        return error_page(
            StatusCode::BAD_REQUEST,
            10001,
            "response_type参数错误，应为code",
        );
    }
    let scope = match param(&params, "scope") {
        None => return error_page(StatusCode::BAD_REQUEST, 10010, "scope不能为空"),
        Some(s @ ("snsapi_base" | "snsapi_userinfo")) => s.to_string(),
        Some(_) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                10005,
                "此公众号并没有这些scope的权限",
            )
        }
    };
    let state_param = param(&params, "state").unwrap_or("").to_string();
    if state_param.len() > 128 || !state_param.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return error_page(
            StatusCode::BAD_REQUEST,
            10013,
            "state参数错误：最多128字节，只能是a-zA-Z0-9",
        );
    }
    if param(&params, "deny") == Some("1") {
        return match redirect_with(redirect_uri, None, &state_param) {
            Some(to) => redirect(&to, None),
            None => error_page(StatusCode::BAD_REQUEST, 10003, "redirect_uri参数错误"),
        };
    }
    let auto = param(&params, "auto") == Some("1") || sim.state().settings.oauth_auto_approve;
    let chosen = param(&params, "sim_openid")
        .map(str::to_string)
        .or_else(|| cookie_openid(&headers));
    let known = chosen.filter(|openid| sim.state().payer(openid).is_some());
    if scope == "snsapi_userinfo" && !auto {
        return consent_page(&sim, &params, known.as_deref());
    }
    let openid = match known {
        Some(openid) => openid,
        None => create_payer(&sim, param(&params, "sim_nickname"), false).openid,
    };
    let code = random_alnum(32);
    sim.state().oauth_codes.insert(
        code.clone(),
        OauthCode {
            openid: openid.clone(),
            scope,
            expires_at: now() + CODE_SECS,
            used: false,
        },
    );
    match redirect_with(redirect_uri, Some(&code), &state_param) {
        Some(to) => redirect(&to, Some(&openid)),
        None => error_page(StatusCode::BAD_REQUEST, 10003, "redirect_uri参数错误"),
    }
}

fn redirect(to: &str, openid: Option<&str>) -> Response {
    let mut response = (StatusCode::FOUND, [(LOCATION, to.to_string())]).into_response();
    if let Some(openid) = openid {
        if let Ok(cookie) = format!("sim_openid={openid}; Path=/; SameSite=Lax").parse() {
            response.headers_mut().insert(SET_COOKIE, cookie);
        }
    }
    response
}

fn consent_page(sim: &Sim, params: &HashMap<String, String>, current: Option<&str>) -> Response {
    let hidden: String = params
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "auto" | "sim_openid" | "deny"))
        .map(|(k, v)| {
            format!(
                "<input type=hidden name=\"{}\" value=\"{}\">",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    let options: String = sim
        .state()
        .payers
        .iter()
        .map(|p| {
            format!(
                "<option value=\"{}\"{}>{} ({})</option>",
                html_escape(&p.openid),
                if Some(p.openid.as_str()) == current {
                    " selected"
                } else {
                    ""
                },
                html_escape(&p.nickname),
                html_escape(&p.openid)
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html lang=zh-CN><meta charset=utf-8>\
<meta name=viewport content='width=device-width,initial-scale=1'><title>微信授权</title>\
<body style='font-family:sans-serif;max-width:420px;margin:auto;padding:1.5em'>\
<h3>模拟微信 · 网页授权</h3><p>该网页申请获得你的公开信息（昵称、头像）</p>\
<form method=get action=/connect/oauth2/authorize>{hidden}<input type=hidden name=auto value=1>\
<p><label>以此用户身份：<select name=sim_openid><option value=''>新用户</option>{options}</select></label></p>\
<p><button id=allow type=submit style='width:100%;padding:.8em;background:#07c160;color:#fff;border:0;border-radius:6px'>允许</button></p>\
</form><form method=get action=/connect/oauth2/authorize>{hidden}<input type=hidden name=deny value=1>\
<button id=deny type=submit style='width:100%;padding:.8em'>拒绝</button></form></body></html>"
    ))
    .into_response()
}

fn issue_sns_token(state: &mut SimState, openid: &str, scope: &str) -> (String, SnsToken) {
    let token = format!("{}_{}", random_digits(2), random_alnum(100));
    let sns = SnsToken {
        openid: openid.to_string(),
        scope: scope.to_string(),
        expires_at: now() + TOKEN_SECS,
        refresh_token: format!("{}_{}", random_digits(2), random_alnum(100)),
    };
    state.sns_tokens.insert(token.clone(), sns.clone());
    (token, sns)
}

fn sns_answer(token: &str, sns: &SnsToken) -> Response {
    Json(json!({
        "access_token": token,
        "expires_in": TOKEN_SECS,
        "refresh_token": sns.refresh_token,
        "openid": sns.openid,
        "scope": sns.scope,
    }))
    .into_response()
}

async fn sns_access_token(State(sim): State<Shared>, Query(params): Params) -> Response {
    if let Err(e) = check_credentials(&sim, param(&params, "appid"), param(&params, "secret")) {
        return e.into_response();
    }
    if param(&params, "grant_type") != Some("authorization_code") {
        return wx_error(40002, "invalid grant_type");
    }
    let Some(code) = param(&params, "code") else {
        return wx_error(41008, "missing code");
    };
    let mut state = sim.state();
    let (openid, scope) = match state.oauth_codes.get_mut(code) {
        None => return wx_error(40029, "invalid code"),
        Some(c) if c.used => return wx_error(40163, "code been used"),
        Some(c) if c.expires_at <= now() => return wx_error(40029, "invalid code"),
        Some(c) => {
            c.used = true;
            (c.openid.clone(), c.scope.clone())
        }
    };
    let (token, sns) = issue_sns_token(&mut state, &openid, &scope);
    sns_answer(&token, &sns)
}

async fn sns_refresh_token(State(sim): State<Shared>, Query(params): Params) -> Response {
    if param(&params, "appid") != Some(sim.keys.config.official_account.appid.as_str()) {
        return wx_error(40013, "invalid appid");
    }
    if param(&params, "grant_type") != Some("refresh_token") {
        return wx_error(40002, "invalid grant_type");
    }
    let refresh = param(&params, "refresh_token").unwrap_or("");
    let mut state = sim.state();
    let found = state
        .sns_tokens
        .values()
        .find(|t| t.refresh_token == refresh)
        .map(|t| (t.openid.clone(), t.scope.clone()));
    let Some((openid, scope)) = found else {
        return wx_error(40030, "invalid refresh_token");
    };
    let (token, sns) = issue_sns_token(&mut state, &openid, &scope);
    sns_answer(&token, &sns)
}

async fn userinfo(State(sim): State<Shared>, Query(params): Params) -> Response {
    let Some(token) = param(&params, "access_token") else {
        return wx_error(41001, "access_token missing");
    };
    let state = sim.state();
    let Some(sns) = state.sns_tokens.get(token) else {
        return wx_error(
            40001,
            "invalid credential, access_token is invalid or not latest",
        );
    };
    if sns.expires_at <= now() {
        return wx_error(42001, "access_token expired");
    }
    if sns.scope != "snsapi_userinfo" {
        return wx_error(48001, "api unauthorized");
    }
    if param(&params, "openid") != Some(sns.openid.as_str()) {
        return wx_error(40003, "invalid openid");
    }
    let nickname = state
        .payer(&sns.openid)
        .map(|p| p.nickname.clone())
        .unwrap_or_default();
    Json(json!({
        "openid": sns.openid,
        "nickname": nickname,
        "sex": 0,
        "language": "",
        "city": "",
        "province": "",
        "country": "",
        "headimgurl": "",
        "privilege": [],
    }))
    .into_response()
}

async fn user_info(State(sim): State<Shared>, Query(params): Params) -> Response {
    if let Err(e) = check_access_token(&sim, &params) {
        return e.into_response();
    }
    let state = sim.state();
    let Some(payer) = param(&params, "openid").and_then(|o| state.payer(o)) else {
        return wx_error(40003, "invalid openid");
    };
    if payer.subscribed {
        Json(json!({ "subscribe": 1, "openid": payer.openid, "language": "zh_CN",
            "subscribe_time": now(), "unionid": null, "remark": "", "groupid": 0,
            "tagid_list": [], "subscribe_scene": "ADD_SCENE_QR_CODE", "qr_scene": 0, "qr_scene_str": "" }))
        .into_response()
    } else {
        Json(json!({ "subscribe": 0, "openid": payer.openid })).into_response()
    }
}

async fn getticket(State(sim): State<Shared>, Query(params): Params) -> Response {
    if let Err(e) = check_access_token(&sim, &params) {
        return e.into_response();
    }
    if !matches!(param(&params, "type"), Some("jsapi" | "wx_card")) {
        return wx_error(40097, "invalid args");
    }
    let ticket = format!("{}-{}", random_alnum(64), random_alnum(21));
    sim.state().jsapi_tickets.push(ticket.clone());
    wx_ok(json!({ "ticket": ticket, "expires_in": TOKEN_SECS }))
}

/// The message of errcode `code` for template sends, as WeChat writes it.
fn template_errmsg(code: i64) -> &'static str {
    match code {
        43004 => "require subscribe",
        43101 => "user refuse to accept the msg",
        45009 => "reach max api daily quota limit",
        47003 => "argument invalid!",
        40037 => "invalid template_id",
        40003 => "invalid openid",
        -1 => "system error",
        _ => "simulated error",
    }
}

/// `data` checked as WeChat checks category templates: every keyword an object with a string
/// `value`, typed by the keyword's name (`thing01` ≤ 20 characters, `amount02` a currency sign
/// and ≤ 10 digits, `time03` a 24-hour time, …; `core::notice::FieldKind`). WeChat does not
/// truncate: a value breaking its rule is 47003 naming the keyword.
fn check_template_data(data: &Value) -> Result<(), String> {
    let Some(fields) = data.as_object().filter(|o| !o.is_empty()) else {
        return Err("argument invalid! data is empty".into());
    };
    for (key, field) in fields {
        let Some(value) = field["value"].as_str() else {
            return Err(format!("argument invalid! data.{key}.value invalid"));
        };
        if let Some(kind) = FieldKind::of_key(key) {
            if !kind.check(value) {
                return Err(format!("argument invalid! data.{key}.value invalid"));
            }
        }
    }
    Ok(())
}

async fn template_send(State(sim): State<Shared>, Query(params): Params, body: Bytes) -> Response {
    if let Err(e) = check_access_token(&sim, &params) {
        return e.into_response();
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return wx_error(47001, "data format error");
    };
    let mut state = sim.state();
    let refuse = |state: &mut SimState, code: i64, errmsg: &str| {
        state
            .template_refusals
            .push(json!({ "errcode": code, "time": rfc3339(now()), "message": message }));
        wx_error(code, errmsg)
    };
    let touser = message["touser"].as_str().unwrap_or_default().to_string();
    let Some(subscribed) = state.payer(&touser).map(|p| p.subscribed) else {
        return refuse(&mut state, 40003, "invalid openid");
    };
    if let Some(&code) = state.template_faults.get(&touser) {
        return refuse(&mut state, code, template_errmsg(code));
    }
    if !subscribed {
        return refuse(&mut state, 43004, "require subscribe");
    }
    if message["template_id"].as_str().is_none_or(str::is_empty) {
        return refuse(&mut state, 40037, "invalid template_id");
    }
    if let Err(errmsg) = check_template_data(&message["data"]) {
        return refuse(&mut state, 47003, &errmsg);
    }
    let msgid: u64 = rand::rngs::OsRng.next_u64() >> 12;
    state.template_messages.push(json!({
        "msgid": msgid,
        "time": rfc3339(now()),
        "message": message,
    }));
    wx_ok(json!({ "msgid": msgid }))
}

/// Customer-service windows (PROTOCOL-2 §4.3): a message opens 48 h for 5 messages; a menu
/// click, a follow or a QR scan opens 1 min for 3.
fn custom_window(kind: &str) -> Option<(i64, usize)> {
    match kind {
        "text" => Some((48 * 3600, 5)),
        "CLICK" | "subscribe" | "SCAN" => Some((60, 3)),
        _ => None,
    }
}

const CUSTOM_TYPES: [&str; 9] = [
    "text",
    "image",
    "voice",
    "video",
    "music",
    "news",
    "mpnews",
    "msgmenu",
    "miniprogrampage",
];

/// `POST /cgi-bin/message/custom/send`: only inside a window the user opened (else 45015),
/// within its quota (else 45047); a user who no longer follows cannot be reached (45015).
async fn custom_send(State(sim): State<Shared>, Query(params): Params, body: Bytes) -> Response {
    if let Err(e) = check_access_token(&sim, &params) {
        return e.into_response();
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return wx_error(47001, "data format error");
    };
    let mut state = sim.state();
    let touser = message["touser"].as_str().unwrap_or_default().to_string();
    let Some(subscribed) = state.payer(&touser).map(|p| p.subscribed) else {
        return wx_error(40003, "invalid openid");
    };
    let msgtype = message["msgtype"].as_str().unwrap_or_default();
    if !CUSTOM_TYPES.contains(&msgtype) {
        return wx_error(40008, "invalid message type");
    }
    if msgtype == "text"
        && message["text"]["content"]
            .as_str()
            .is_none_or(str::is_empty)
    {
        return wx_error(44004, "empty content");
    }
    let now = now();
    let sent_since = |since: i64| {
        state
            .custom_messages
            .iter()
            .filter(|m| {
                m["message"]["touser"] == touser.as_str() && m["at"].as_i64() >= Some(since)
            })
            .count()
    };
    // The user's actions whose window is still open, newest first.
    let open: Vec<(i64, usize)> = state
        .pushes
        .iter()
        .rev()
        .filter(|p| p.openid == touser)
        .filter_map(|p| custom_window(&p.kind).map(|(secs, quota)| (p.created_at, secs, quota)))
        .filter(|(at, secs, _)| now < at + secs)
        .map(|(at, _, quota)| (at, quota))
        .collect();
    if !subscribed || open.is_empty() {
        return wx_error(
            45015,
            "response out of time limit or subscription is canceled",
        );
    }
    if !open.iter().any(|&(at, quota)| sent_since(at) < quota) {
        return wx_error(45047, "out of response count limit");
    }
    state
        .custom_messages
        .push(json!({ "at": now, "time": rfc3339(now), "message": message }));
    wx_ok(json!({}))
}

async fn qrcode_create(State(sim): State<Shared>, Query(params): Params, body: Bytes) -> Response {
    if let Err(e) = check_access_token(&sim, &params) {
        return e.into_response();
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return wx_error(47001, "data format error");
    };
    let action = request["action_name"].as_str().unwrap_or("");
    let scene = &request["action_info"]["scene"];
    let permanent = match action {
        "QR_SCENE" | "QR_STR_SCENE" => false,
        "QR_LIMIT_SCENE" | "QR_LIMIT_STR_SCENE" => true,
        _ => return wx_error(40097, "invalid args: action_name"),
    };
    let scene_value = if action.contains("STR") {
        match scene["scene_str"].as_str() {
            Some(s) if (1..=64).contains(&s.chars().count()) => s.to_string(),
            _ => return wx_error(40097, "invalid args: scene_str must be 1-64 characters"),
        }
    } else {
        let id = scene["scene_id"].as_i64().unwrap_or(0);
        let valid = if permanent {
            (1..=100_000).contains(&id)
        } else {
            id != 0 && i32::try_from(id).is_ok()
        };
        if !valid {
            return wx_error(40097, "invalid args: scene_id");
        }
        id.to_string()
    };
    let expire_seconds = if permanent {
        None
    } else {
        let requested = request["expire_seconds"].as_i64().unwrap_or(60);
        Some(requested.clamp(1, 2_592_000))
    };
    let ticket = format!("gQ{}", random_alnum(94));
    let url = format!("http://weixin.qq.com/q/{}", random_alnum(22));
    sim.state().qrcodes.insert(
        ticket.clone(),
        QrCode {
            action_name: action.to_string(),
            scene: scene_value,
            url: url.clone(),
            expires_at: expire_seconds.map(|s| now() + s),
        },
    );
    let mut answer = json!({ "ticket": ticket, "url": url });
    if let Some(s) = expire_seconds {
        answer["expire_seconds"] = json!(s);
    }
    Json(answer).into_response()
}

async fn showqrcode(State(sim): State<Shared>, Query(params): Params) -> Response {
    let ticket = param(&params, "ticket").unwrap_or("");
    let url = {
        let state = sim.state();
        state
            .qrcodes
            .get(ticket)
            .filter(|q| q.expires_at.is_none_or(|t| t > now()))
            .map(|q| q.url.clone())
    };
    let Some(url) = url else {
        return (StatusCode::NOT_FOUND, "ticket无效或二维码已过期").into_response();
    };
    match shoukuan_core::qr::png(&url, 430) {
        Ok(png) => ([(CONTENT_TYPE, "image/png")], png).into_response(),
        Err(e) => PayError::system(e).into_response(),
    }
}

const BUTTON_TYPES: [&str; 12] = [
    "click",
    "view",
    "miniprogram",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
    "media_id",
    "view_limited",
    "article_id",
];

fn check_button(button: &Value, top: bool) -> Result<(), WxError> {
    let name = button["name"].as_str().unwrap_or("");
    let max_name = if top { 16 } else { 60 };
    if name.is_empty() || name.len() > max_name {
        return Err(WxError(40018, "invalid button name size"));
    }
    if let Some(subs) = button["sub_button"].as_array().filter(|s| !s.is_empty()) {
        if !top || subs.len() > 5 {
            return Err(WxError(40023, "invalid sub button size"));
        }
        return subs.iter().try_for_each(|sub| check_button(sub, false));
    }
    let kind = button["type"].as_str().unwrap_or("");
    if !BUTTON_TYPES.contains(&kind) {
        return Err(WxError(40017, "invalid button type"));
    }
    match kind {
        "view" | "miniprogram" => {
            let url = button["url"].as_str().unwrap_or("");
            if url.is_empty() || url.len() > 1024 || reqwest::Url::parse(url).is_err() {
                return Err(WxError(40055, "invalid button url domain"));
            }
        }
        "media_id" | "view_limited" | "article_id" => {}
        _ => {
            let key = button["key"].as_str().unwrap_or("");
            if key.is_empty() || key.len() > 128 {
                return Err(WxError(40019, "invalid button key size"));
            }
        }
    }
    Ok(())
}

async fn menu_create(State(sim): State<Shared>, Query(params): Params, body: Bytes) -> Response {
    if let Err(e) = check_access_token(&sim, &params) {
        return e.into_response();
    }
    let Ok(menu) = serde_json::from_slice::<Value>(&body) else {
        return wx_error(47001, "data format error");
    };
    let Some(buttons) = menu["button"]
        .as_array()
        .filter(|b| (1..=3).contains(&b.len()))
    else {
        return wx_error(40016, "invalid button size");
    };
    if let Err(e) = buttons.iter().try_for_each(|b| check_button(b, true)) {
        return e.into_response();
    }
    sim.state().menu = Some(json!({ "button": buttons }));
    wx_ok(json!({}))
}

async fn menu_get(State(sim): State<Shared>, Query(params): Params) -> Response {
    if let Err(e) = check_access_token(&sim, &params) {
        return e.into_response();
    }
    match sim.state().menu.clone() {
        Some(menu) => Json(json!({ "menu": menu })).into_response(),
        None => wx_error(46003, "menu no exist"),
    }
}

async fn menu_delete(State(sim): State<Shared>, Query(params): Params) -> Response {
    if let Err(e) = check_access_token(&sim, &params) {
        return e.into_response();
    }
    sim.state().menu = None;
    wx_ok(json!({}))
}

/// Expires every global token now (the next API call gets 42001).
pub fn expire_tokens(sim: &Sim) {
    let now = now();
    for token in &mut sim.state().access_tokens {
        token.expires_at = token.expires_at.min(now);
    }
}

/// A message or event to push (control API body).
#[derive(Debug, Clone, Deserialize)]
pub struct PushRequest {
    /// The user (must exist).
    pub openid: String,
    /// `text`, `subscribe`, `unsubscribe`, `scan` (subscribe with qrscene_ when not following,
    /// SCAN when following), `SCAN`, `click`, `view`.
    pub kind: String,
    /// Text content.
    pub content: Option<String>,
    /// Menu key (click).
    pub key: Option<String>,
    /// Menu URL (view).
    pub url: Option<String>,
    /// QR scene value.
    pub scene: Option<String>,
    /// QR ticket (its scene is looked up when `scene` is absent).
    pub ticket: Option<String>,
    /// Safe mode; default from the settings.
    pub safe: Option<bool>,
    /// Target; default from the settings (`--mp-url`).
    pub mp_url: Option<String>,
    /// Wait for the delivery to finish before answering (default true).
    pub wait: Option<bool>,
}

fn account_id(appid: &str) -> String {
    format!("gh_{}", appid.get(2..14).unwrap_or(appid))
}

/// Builds the push; returns its id, or an error to answer with.
pub fn prepare_push(sim: &Sim, request: &PushRequest) -> Result<u64, PayError> {
    let bad = |m: &str| PayError::new(StatusCode::BAD_REQUEST, "PARAM_ERROR", m);
    let mut state = sim.state();
    let url = request
        .mp_url
        .clone()
        .or_else(|| state.settings.mp_url.clone())
        .ok_or_else(|| bad("no Official Account message URL: start with --mp-url or POST /sim/config {\"mp_url\"}"))?;
    let safe = request.safe.unwrap_or(state.settings.mp_safe_mode);
    let subscribed = state
        .payer(&request.openid)
        .map(|p| p.subscribed)
        .ok_or_else(|| bad("unknown openid: create the payer first (POST /sim/payers)"))?;
    let scene = match (&request.scene, &request.ticket) {
        (Some(scene), _) => Some(scene.clone()),
        (None, Some(ticket)) => Some(
            state
                .qrcodes
                .get(ticket)
                .map(|q| q.scene.clone())
                .ok_or_else(|| bad("unknown QR ticket"))?,
        ),
        (None, None) => None,
    };
    let kind = request.kind.as_str();
    let created = now();
    let appid = &sim.keys.config.official_account.appid;
    let head = format!(
        "<ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{created}</CreateTime>",
        cdata(&account_id(appid)),
        cdata(&request.openid)
    );
    let event = |name: &str, extra: String| {
        format!(
            "<xml>{head}<MsgType>{}</MsgType><Event>{}</Event>{extra}</xml>",
            cdata("event"),
            cdata(name)
        )
    };
    let ticket_xml = request
        .ticket
        .as_deref()
        .map(|t| format!("<Ticket>{}</Ticket>", cdata(t)))
        .unwrap_or_default();
    let mut msg_id = None;
    let (label, xml, now_subscribed) = match kind {
        "text" => {
            let id = (rand::rngs::OsRng.next_u64() >> 1).to_string();
            let xml = format!(
                "<xml>{head}<MsgType>{}</MsgType><Content>{}</Content><MsgId>{id}</MsgId></xml>",
                cdata("text"),
                cdata(request.content.as_deref().unwrap_or("你好"))
            );
            msg_id = Some(id);
            ("text", xml, subscribed)
        }
        "subscribe" => {
            let extra = scene
                .as_ref()
                .map(|s| {
                    format!(
                        "<EventKey>{}</EventKey>{ticket_xml}",
                        cdata(&format!("qrscene_{s}"))
                    )
                })
                .unwrap_or_default();
            ("subscribe", event("subscribe", extra), true)
        }
        "unsubscribe" => ("unsubscribe", event("unsubscribe", String::new()), false),
        "scan" | "SCAN" => {
            let scene = scene.ok_or_else(|| bad("scan needs scene or ticket"))?;
            if subscribed || kind == "SCAN" {
                let extra = format!("<EventKey>{}</EventKey>{ticket_xml}", cdata(&scene));
                ("SCAN", event("SCAN", extra), subscribed)
            } else {
                let extra = format!(
                    "<EventKey>{}</EventKey>{ticket_xml}",
                    cdata(&format!("qrscene_{scene}"))
                );
                ("subscribe", event("subscribe", extra), true)
            }
        }
        "click" | "CLICK" => {
            let key = request
                .key
                .as_deref()
                .ok_or_else(|| bad("click needs key"))?;
            (
                "CLICK",
                event("CLICK", format!("<EventKey>{}</EventKey>", cdata(key))),
                subscribed,
            )
        }
        "view" | "VIEW" => {
            let target = request
                .url
                .as_deref()
                .ok_or_else(|| bad("view needs url"))?;
            let extra = format!(
                "<EventKey>{}</EventKey><MenuId>{}</MenuId>",
                cdata(target),
                random_digits(9)
            );
            ("VIEW", event("VIEW", extra), subscribed)
        }
        _ => {
            return Err(bad(
                "kind must be text, subscribe, unsubscribe, scan, SCAN, click or view",
            ))
        }
    };
    if let Some(payer) = state.payer_mut(&request.openid) {
        payer.subscribed = now_subscribed;
    }
    let id = state.next_id();
    state.pushes.push(Push {
        id,
        kind: label.to_string(),
        openid: request.openid.clone(),
        msg_id,
        safe,
        xml,
        url,
        attempts: Vec::new(),
        done: false,
        created_at: created,
    });
    Ok(id)
}

/// Delivers a prepared push: 3 tries in all, 5 s each, the same message every time.
pub async fn deliver_push(sim: Shared, id: u64) {
    let Some(push) = sim.state().pushes.iter().find(|p| p.id == id).cloned() else {
        return;
    };
    let account = &sim.keys.config.official_account;
    let timestamp = now().to_string();
    let nonce = random_digits(10);
    let mut url = match reqwest::Url::parse(&push.url) {
        Ok(url) => url,
        Err(e) => {
            record_push_attempt(&sim, id, None, 0, Some(format!("bad mp_url: {e}")), None);
            finish_push(&sim, id);
            return;
        }
    };
    let body = {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair(
            "signature",
            &url_signature(&account.token, &timestamp, &nonce),
        );
        pairs.append_pair("timestamp", &timestamp);
        pairs.append_pair("nonce", &nonce);
        pairs.append_pair("openid", &push.openid);
        if push.safe {
            let mut random = [0u8; mp::RANDOM_LEN];
            rand::rngs::OsRng.fill_bytes(&mut random);
            let encrypt = mp::encrypt(
                &sim.keys.aes_key,
                &account.appid,
                push.xml.as_bytes(),
                &random,
            );
            pairs.append_pair("encrypt_type", "aes");
            pairs.append_pair(
                "msg_signature",
                &msg_signature(&account.token, &timestamp, &nonce, &encrypt),
            );
            format!(
                "<xml><ToUserName>{}</ToUserName><Encrypt>{}</Encrypt></xml>",
                cdata(&account_id(&account.appid)),
                cdata(&encrypt)
            )
        } else {
            push.xml.clone()
        }
    };
    for _ in 0..3 {
        let started = Instant::now();
        let result = sim
            .http
            .post(url.clone())
            .timeout(super::notify::TIMEOUT)
            .header(CONTENT_TYPE, "text/xml")
            .header("User-Agent", "Mozilla/4.0")
            .body(body.clone())
            .send()
            .await;
        let (status, error, reply) = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                (Some(status), None, Some(read_reply(&sim, &text, push.safe)))
            }
            Err(e) if e.is_timeout() => (None, Some("timeout (5 s)".to_string()), None),
            Err(e) => (None, Some(super::describe(&e)), None),
        };
        let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let accepted = status.is_some_and(|s| (200..300).contains(&s));
        record_push_attempt(&sim, id, status, latency, error, reply);
        if accepted {
            break;
        }
    }
    finish_push(&sim, id);
}

/// The reply as the user would see it: decrypted (after checking MsgSignature) in safe mode.
fn read_reply(sim: &Sim, text: &str, safe: bool) -> String {
    let trimmed = text.trim();
    if !safe || trimmed.is_empty() || trimmed == "success" {
        return trimmed.to_string();
    }
    let account = &sim.keys.config.official_account;
    let opened = mp::parse_fields(trimmed).ok().and_then(|fields| {
        let encrypt = fields.get("Encrypt")?;
        let ok = mp::verify_msg_signature(
            &account.token,
            fields.get("TimeStamp")?,
            fields.get("Nonce")?,
            encrypt,
            fields.get("MsgSignature")?,
        );
        if !ok {
            return Some("(encrypted reply with a wrong MsgSignature)".to_string());
        }
        Some(
            mp::decrypt(&sim.keys.aes_key, &account.appid, encrypt)
                .map(|d| d.msg)
                .unwrap_or_else(|e| format!("(encrypted reply that does not decrypt: {e})")),
        )
    });
    opened.unwrap_or_else(|| format!("(reply is not a safe-mode envelope) {trimmed}"))
}

fn record_push_attempt(
    sim: &Sim,
    id: u64,
    status: Option<u16>,
    latency_ms: u64,
    error: Option<String>,
    reply: Option<String>,
) {
    let sent_at_ms = now_ms() - i64::try_from(latency_ms).unwrap_or(0);
    let mut state = sim.state();
    if let Some(push) = state.pushes.iter_mut().find(|p| p.id == id) {
        eprintln!(
            "shoukuan sim: push #{id} {} attempt {} → {}",
            push.kind,
            push.attempts.len() + 1,
            status
                .map(|s| format!("{s} in {latency_ms} ms"))
                .or(error.clone())
                .unwrap_or_default()
        );
        push.attempts.push(Attempt {
            time: rfc3339(sent_at_ms / 1000),
            sent_at_ms,
            status,
            latency_ms,
            error,
            verified_by_worker: status.is_some_and(|s| (200..300).contains(&s)),
            probe: false,
            stale: false,
            reply,
        });
    }
}

fn finish_push(sim: &Sim, id: u64) {
    if let Some(push) = sim.state().pushes.iter_mut().find(|p| p.id == id) {
        push.done = true;
    }
}

/// Sends the server-configuration check (GET with `echostr`) and says whether it was echoed.
pub async fn verify_url(sim: &Shared, mp_url: Option<String>) -> Result<Value, PayError> {
    let url = mp_url
        .or_else(|| sim.state().settings.mp_url.clone())
        .ok_or_else(|| PayError::new(StatusCode::BAD_REQUEST, "PARAM_ERROR", "no mp_url"))?;
    let mut url = reqwest::Url::parse(&url)
        .map_err(|e| PayError::new(StatusCode::BAD_REQUEST, "PARAM_ERROR", e.to_string()))?;
    let timestamp = now().to_string();
    let nonce = random_digits(10);
    let echostr = random_digits(19);
    let token = &sim.keys.config.official_account.token;
    url.query_pairs_mut()
        .append_pair("signature", &url_signature(token, &timestamp, &nonce))
        .append_pair("echostr", &echostr)
        .append_pair("timestamp", &timestamp)
        .append_pair("nonce", &nonce);
    let response = sim
        .http
        .get(url)
        .timeout(super::notify::TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            PayError::new(
                StatusCode::BAD_GATEWAY,
                "MP_URL_UNREACHABLE",
                super::describe(&e),
            )
        })?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    Ok(json!({ "status": status, "echoed": body == echostr }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_keeps_the_fragment_after_code_and_state() {
        let to = redirect_with("https://a.example/p?x=1#/pay", Some("C"), "S").unwrap();
        assert_eq!(to, "https://a.example/p?x=1&code=C&state=S#/pay");
        let denied = redirect_with("https://a.example/p", None, "S").unwrap();
        assert_eq!(denied, "https://a.example/p?state=S");
    }

    #[test]
    fn the_account_id_is_derived_from_the_appid() {
        assert_eq!(account_id("wx0123456789abcdef"), "gh_0123456789ab");
    }

    #[test]
    fn menu_buttons_follow_the_documented_limits() {
        assert!(check_button(&json!({"type":"click","name":"收款","key":"PAY"}), true).is_ok());
        assert!(check_button(
            &json!({"type":"click","name":"x".repeat(17),"key":"K"}),
            true
        )
        .is_err());
        assert!(check_button(
            &json!({"type":"view","name":"看","url":"https://a.example/"}),
            true
        )
        .is_ok());
        assert!(check_button(&json!({"type":"view","name":"看"}), true).is_err());
        assert!(check_button(&json!({"type":"bogus","name":"看","key":"K"}), true).is_err());
        let six: Vec<Value> = (0..6)
            .map(|i| json!({"type":"click","name":"s","key":format!("K{i}")}))
            .collect();
        assert!(check_button(&json!({"name":"多","sub_button":six}), true).is_err());
    }
}
