//! Menu jumps and web authorization: `/m/:key` resolves an allow-listed app page and, inside
//! WeChat without a session for that page's role, goes through OAuth (`snsapi_base`) with a
//! signed, expiring `state` bound to the browser (a nonce cookie, `core::oauth`);
//! `/oauth/callback` accepts a state once and only from that browser, exchanges the code, sets
//! the session cookie and redirects (302, so the code-bearing URL never stays in the history).
//!
//! Every `Location` is either an [`AppTarget`] (a path on this site from a fixed list) or
//! WeChat's authorize URL: no route here can redirect elsewhere.

use serde::Deserialize;
use shoukuan_core::channel;
use shoukuan_core::menu::{AppTarget, MenuKey};
use shoukuan_core::oauth::{
    authorize_url, browser_binding, is_plausible_code, is_wechat_browser, nonce_cookie,
    read_exchange, Exchange, OauthState, StateError, NONCE_COOKIE, STATE_TTL_SECS,
};
use shoukuan_core::ratelimit::VISIT_PER_CLIENT;
use shoukuan_core::session::{cookie_value, Openid, Role, SessionKey};
use shoukuan_core::urlenc::query_value;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::{page, query, redirect};
use crate::error::ApiError;
use crate::session::{self, now_secs};
use crate::wechat::{OaClient, OaConfig};

#[derive(Deserialize)]
struct RouteRow {
    target: String,
}

/// `GET /m/:key`
pub async fn menu_jump(key: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let Some(key) = MenuKey::parse(key) else {
        return page(404, "入口不存在", "这个菜单入口不存在或已删除。");
    };
    let row = env
        .d1("DB")?
        .prepare("SELECT target FROM menu_routes WHERE key = ?1")
        .bind(&[key.as_str().into()])?
        .first::<RouteRow>(None)
        .await?;
    let Some(row) = row else {
        return page(404, "入口不存在", "这个菜单入口不存在或已删除。");
    };
    let target = match AppTarget::parse_path(&row.target) {
        Ok(target) => target.with_query_from(&query(req)?),
        Err(e) => {
            return Err(ApiError::Internal(format!(
                "menu route {} has a bad target: {e}",
                key.as_str()
            )))
        }
    };
    go(req, env, target, true).await
}

/// `GET /oauth/start?next=<path>`: sign in for `next` (the dashboard uses it), then go there.
pub async fn start(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let next = query_value(&query(req)?, "next").unwrap_or_else(|| "/dash".into());
    match AppTarget::parse(&next) {
        Ok(target) => go(req, env, target, false).await,
        Err(_) => page(
            400,
            "目标页面无效",
            "这个链接要打开的页面不在允许的范围内。",
        ),
    }
}

/// To `target` directly when a session for its role exists (or outside WeChat, or without an
/// Official Account), else through OAuth.
async fn go(
    req: &Request,
    env: &Env,
    target: AppTarget,
    visit: bool,
) -> Result<Response, ApiError> {
    let in_wechat = is_wechat_browser(&session::user_agent(req));
    let role = target.role();
    let oauth = match (in_wechat, OaConfig::from_env(env), session::key(env)) {
        (true, Some(config), Some(key)) => Some((config, key)),
        _ => None,
    };
    let Some((config, key)) = oauth else {
        // Outside WeChat the page opens without OAuth (a payer page then offers the Native QR).
        if visit {
            record_visit(req, env, &target, None, in_wechat).await?;
        }
        return redirect(&target.to_string());
    };
    if let Some(openid) = session::current(req, env, role) {
        if visit {
            record_visit(req, env, &target, Some(&openid), true).await?;
        }
        return redirect(&target.to_string());
    }
    // A fresh nonce for this browser; the state carries its binding.
    let nonce = crate::secrets::new_token()?;
    let mut state = OauthState::new(target, now_secs()).for_browser(browser_binding(&key, &nonce));
    state.visit = visit;
    let mut resp = authorize(req, env, &config, &key, &state)?;
    resp.headers_mut().append(
        "set-cookie",
        &nonce_cookie(&nonce, session::secure_cookies(req)),
    )?;
    Ok(resp)
}

fn authorize(
    req: &Request,
    env: &Env,
    config: &OaConfig,
    key: &SessionKey,
    state: &OauthState,
) -> Result<Response, ApiError> {
    let signed = state
        .sign(key)
        .map_err(|e| ApiError::Internal(format!("oauth state: {e}")))?;
    let callback = format!("{}/oauth/callback", session::public_origin(req, env)?);
    redirect(&authorize_url(
        &config.open_base,
        &config.appid,
        &callback,
        &signed,
    ))
}

/// Marks `state` used; `false` when it already was (a replay).
async fn use_state_once(env: &Env, state: &str) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct Used {
        #[allow(dead_code)]
        state_hash: String,
    }
    let db = env.d1("DB")?;
    let now = now_secs();
    let fresh = db
        .prepare(
            "INSERT INTO oauth_states_used (state_hash, used_at) VALUES (?1, ?2) \
             ON CONFLICT (state_hash) DO NOTHING RETURNING state_hash",
        )
        .bind(&[
            crate::secrets::token_hash(state).into(),
            JsValue::from_f64(now as f64),
        ])?
        .all()
        .await?
        .results::<Used>()?;
    Ok(!fresh.is_empty())
}

/// For the cron: used states older than any state's life are of no use.
pub async fn prune_used_states(env: &Env) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare("DELETE FROM oauth_states_used WHERE used_at < ?1")
        .bind(&[JsValue::from_f64((now_secs() - 2 * STATE_TTL_SECS) as f64)])?
        .run()
        .await?;
    Ok(())
}

/// `GET /oauth/callback?code=…&state=…`
pub async fn callback(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let (Some(config), Some(key)) = (OaConfig::from_env(env), session::key(env)) else {
        return page(503, "暂不支持微信登录", "本站未配置公众号。");
    };
    let query = query(req)?;
    let signed_state = query_value(&query, "state").unwrap_or_default();
    let state = match OauthState::open(&key, &signed_state, now_secs()) {
        Ok(state) => state,
        Err(StateError::Expired) => {
            return page(400, "授权已过期", "请返回公众号，从菜单重新打开。")
        }
        Err(_) => {
            return page(
                400,
                "链接无效",
                "授权参数无效或已被改动，请从公众号菜单重新打开。",
            )
        }
    };
    // Login CSRF: only the browser that started this flow may finish it.
    let cookies = req
        .headers()
        .get("cookie")
        .ok()
        .flatten()
        .unwrap_or_default();
    let nonce = cookie_value(&cookies, NONCE_COOKIE);
    if state.check_browser(&key, nonce).is_err() {
        return page(
            400,
            "请在同一个微信窗口中完成授权",
            "这个授权链接不是在当前浏览器中发起的，请从公众号菜单重新打开。",
        );
    }
    if !use_state_once(env, &signed_state).await? {
        // The back button or a reload: a session set by the first use is enough.
        if session::current(req, env, state.role).is_some() {
            return redirect(&state.target.to_string());
        }
        return page(
            400,
            "授权链接已使用",
            "这个授权链接已经用过，请从公众号菜单重新打开。",
        );
    }
    let code = query_value(&query, "code").unwrap_or_default();
    if code.is_empty() {
        return page(403, "需要授权", "需要微信授权才能继续，请返回重新打开。");
    }
    if !is_plausible_code(&code) {
        return page(
            400,
            "链接无效",
            "授权码格式不正确，请从公众号菜单重新打开。",
        );
    }
    let client = OaClient::new(env)?;
    let answer = match client.exchange_code(&code).await {
        Ok(answer) => answer,
        Err(e) => {
            worker::console_error!("oauth code exchange failed: {e:?}");
            return page(502, "微信授权暂时不可用", "请稍后重试。");
        }
    };
    match read_exchange(&answer) {
        Exchange::Openid {
            openid,
            snapshot: false,
        } => land(req, env, &key, &state, openid).await,
        // A snapshot-page (快照页) user's openid is virtual: continue as a guest, no session.
        Exchange::Openid { snapshot: true, .. } => redirect(&state.target.to_string()),
        Exchange::CodeRefused { errcode } => {
            // The back button (or a reload) replayed a used code: a session set by the first
            // use is enough; otherwise authorize once more, then give up.
            if let Some(openid) = session::current(req, env, state.role) {
                if state.visit {
                    record_visit(req, env, &state.target, Some(&openid), true).await?;
                }
                return redirect(&state.target.to_string());
            }
            if state.retried {
                worker::console_log!("oauth code refused twice (errcode {errcode})");
                return page(
                    400,
                    "授权失败",
                    "微信授权码已失效，请从公众号菜单重新打开。",
                );
            }
            // Same browser (checked above): the new state keeps its binding.
            let mut again =
                OauthState::new(state.target.clone(), now_secs()).for_browser(state.browser);
            again.retried = true;
            again.visit = state.visit;
            authorize(req, env, &config, &key, &again)
        }
        Exchange::Failed { errcode, errmsg } => {
            worker::console_error!("oauth code exchange refused: errcode {errcode} {errmsg}");
            page(502, "微信授权暂时不可用", "请稍后重试。")
        }
    }
}

/// Sets the session for the state's role and goes to the target.
async fn land(
    req: &Request,
    env: &Env,
    key: &SessionKey,
    state: &OauthState,
    openid: Openid,
) -> Result<Response, ApiError> {
    if state.role == Role::Payee {
        session::register_payee(env, &openid).await?;
    }
    if state.visit {
        record_visit(req, env, &state.target, Some(&openid), true).await?;
    }
    let mut resp = redirect(&state.target.to_string())?;
    resp.headers_mut().append(
        "set-cookie",
        &session::set_cookie(req, key, state.role, &openid),
    )?;
    Ok(resp)
}

#[derive(Deserialize)]
struct Attribution {
    explicit: Option<String>,
    scanned: Option<String>,
    scanned_at: Option<i64>,
}

/// Records a menu-jump visit, attributed to a channel (explicit `channel` parameter of an
/// existing channel, else the openid's last scan within the window). A client over its visit
/// limit still gets its page; only the write is skipped (the funnel cannot be flooded).
async fn record_visit(
    req: &Request,
    env: &Env,
    target: &AppTarget,
    openid: Option<&Openid>,
    in_wechat: bool,
) -> Result<(), ApiError> {
    let guard = crate::abuse::Guard::new(req, env);
    if !guard.hit(env, &VISIT_PER_CLIENT, guard.client()).await? {
        return Ok(());
    }
    let db = env.d1("DB")?;
    let openid_value: JsValue = match openid {
        Some(o) => crate::personal_data::openid_key(env, o.as_str())?.into(),
        None => JsValue::NULL,
    };
    let explicit: JsValue = target.channel().map_or(JsValue::NULL, Into::into);
    let found = db
        .prepare(
            "SELECT (SELECT id FROM channels WHERE id = ?1) AS explicit, \
             (SELECT channel_id FROM channel_followers WHERE openid_key = ?2) AS scanned, \
             (SELECT scanned_at FROM channel_followers WHERE openid_key = ?2) AS scanned_at",
        )
        .bind(&[explicit, openid_value.clone()])?
        .first::<Attribution>(None)
        .await?;
    let now = now_secs();
    let channel_id = found.as_ref().and_then(|f| {
        let last = f.scanned.as_deref().zip(f.scanned_at);
        channel::attribute(f.explicit.as_deref(), last, now).map(str::to_string)
    });
    db.prepare("INSERT INTO visits (target, channel_id, openid_key, in_wechat, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(&[
            target.to_string().into(),
            channel_id.map_or(JsValue::NULL, Into::into),
            openid_value,
            JsValue::from_f64(if in_wechat { 1.0 } else { 0.0 }),
            JsValue::from_f64(now as f64),
        ])?
        .run()
        .await?;
    Ok(())
}
