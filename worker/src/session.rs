//! Who is asking: payer and payee sessions (signed cookies, `core::session`), approved payees,
//! and the operator's bearer secret. Other features ask here; e.g. the payments code gets the
//! payer's openid for JSAPI with [`payer_openid`].

use shoukuan_core::session::{self, Openid, Role, SessionKey};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request};

use crate::config::{secret_setting, setting, PublishAccess};
use crate::error::ApiError;
use crate::secrets;

/// Unix seconds now.
pub fn now_secs() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// The signing key, when `SESSION_SECRET` is configured (≥ 32 characters).
pub fn key(env: &Env) -> Option<SessionKey> {
    let secret = secret_setting(env, "SESSION_SECRET")?;
    match SessionKey::new(secret.expose()) {
        Ok(key) => Some(key),
        Err(e) => {
            worker::console_error!("{e}");
            None
        }
    }
}

fn header(req: &Request, name: &str) -> String {
    req.headers().get(name).ok().flatten().unwrap_or_default()
}

/// The request's `User-Agent`.
pub fn user_agent(req: &Request) -> String {
    header(req, "user-agent")
}

/// The verified session of `role` carried by the request, if any.
pub fn current(req: &Request, env: &Env, role: Role) -> Option<Openid> {
    let cookies = header(req, "cookie");
    let value = session::cookie_value(&cookies, role.cookie_name())?;
    let key = key(env)?;
    session::verify(&key, role, value, now_secs())
        .ok()
        .map(|s| s.openid)
}

/// The payer's openid from the payer session (set by `/m/:key` → OAuth), for JSAPI payments.
#[allow(dead_code)] // for the payments feature (JSAPI needs the payer's openid)
pub fn payer_openid(req: &Request, env: &Env) -> Option<Openid> {
    current(req, env, Role::Payer)
}

/// The site's public origin for every URL handed to WeChat or a follower (`notify_url`, the
/// OAuth `redirect_uri`, menu buttons, reply cards, JS-SDK): `PUBLIC_BASE_URL`. Never the
/// request's `Host` — except on a loopback host (a local run), where there is no other. A
/// deployment without the setting refuses (503 `PUBLIC_BASE_URL_MISSING`).
pub fn public_origin(req: &Request, env: &Env) -> Result<String, ApiError> {
    if let Some(base) = setting(env, "PUBLIC_BASE_URL") {
        return shoukuan_core::urlenc::http_origin(&base)
            .ok_or_else(|| ApiError::Internal("PUBLIC_BASE_URL is not an http(s) URL".into()));
    }
    if is_loopback(req) {
        return Ok(req.url()?.origin().ascii_serialization());
    }
    worker::console_error!("PUBLIC_BASE_URL is not set: refusing to build public URLs from Host");
    Err(ApiError::Unavailable(
        "PUBLIC_BASE_URL_MISSING",
        "本站尚未配置对外地址（PUBLIC_BASE_URL），暂不能发起微信授权或支付，请联系运营方",
    ))
}

thread_local! {
    static LOCAL_ORIGIN: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A local run (loopback host) has no `PUBLIC_BASE_URL`: links made later without a request
/// (from a callback or the cron) use the origin this isolate was last asked on. Nothing is kept
/// for any other host.
pub fn remember_local_origin(req: &Request) {
    if is_loopback(req) {
        if let Ok(url) = req.url() {
            let origin = url.origin().ascii_serialization();
            LOCAL_ORIGIN.with(|o| *o.borrow_mut() = Some(origin));
        }
    }
}

/// The absolute link for `path` where there is no request (messages, webhooks): the twin of
/// [`public_origin`] — `PUBLIC_BASE_URL`, else (a local run) the remembered loopback origin;
/// `None` when neither is known.
pub fn link(env: &Env, path: &str) -> Option<String> {
    let origin = match setting(env, "PUBLIC_BASE_URL") {
        Some(base) => shoukuan_core::urlenc::http_origin(&base)?,
        None => LOCAL_ORIGIN.with(|o| o.borrow().clone())?,
    };
    Some(format!("{origin}{path}"))
}

/// The origin a page shows in its own meta tags (`og:url`): [`public_origin`] when it can be
/// had, else the request's (the page describes itself to the one who asked for it).
pub fn page_origin(req: &Request, env: &Env) -> Result<String, ApiError> {
    public_origin(req, env).or_else(|_| Ok(req.url()?.origin().ascii_serialization()))
}

/// Whether the request was made to a loopback host (`localhost`, 127.0.0.1, [::1]): a local
/// run. Cloudflare routes by host, so a deployment never sees one.
pub fn is_loopback(req: &Request) -> bool {
    !secure_cookies(req)
}

/// Whether cookies must be `Secure`: everywhere but loopback hosts (plain-HTTP local runs).
pub fn secure_cookies(req: &Request) -> bool {
    let host = req
        .url()
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    !session::is_local_host(&host)
}

/// `Set-Cookie` for a fresh session.
pub fn set_cookie(req: &Request, key: &SessionKey, role: Role, openid: &Openid) -> String {
    session::set_cookie(
        role,
        &session::issue(key, role, openid, now_secs()),
        secure_cookies(req),
    )
}

/// A payee account's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayeeStatus {
    /// Signed in, waiting for the operator.
    Pending,
    /// May publish and use the dashboard.
    Approved,
    /// Approval withdrawn.
    Revoked,
}

impl PayeeStatus {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            PayeeStatus::Pending => "pending",
            PayeeStatus::Approved => "approved",
            PayeeStatus::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> PayeeStatus {
        match s {
            "approved" => PayeeStatus::Approved,
            "revoked" => PayeeStatus::Revoked,
            _ => PayeeStatus::Pending,
        }
    }
}

#[derive(serde::Deserialize)]
struct StatusRow {
    status: String,
}

/// The approval of `openid`; `None` when it never signed in and was never approved.
pub async fn payee_status(env: &Env, openid: &Openid) -> Result<Option<PayeeStatus>, ApiError> {
    let row = env
        .d1("DB")?
        .prepare("SELECT status FROM payee_accounts WHERE openid = ?1")
        .bind(&[openid.as_str().into()])?
        .first::<StatusRow>(None)
        .await?;
    Ok(row.map(|r| PayeeStatus::parse(&r.status)))
}

/// Records a payee sign-in (pending until the operator approves; an existing row is kept).
pub async fn register_payee(env: &Env, openid: &Openid) -> Result<(), ApiError> {
    let now = JsValue::from_f64(now_secs() as f64);
    env.d1("DB")?
        .prepare(
            "INSERT INTO payee_accounts (openid, status, created_at, updated_at) VALUES (?1, 'pending', ?2, ?2) \
             ON CONFLICT (openid) DO NOTHING",
        )
        .bind(&[openid.as_str().into(), now])?
        .run()
        .await?;
    Ok(())
}

/// The signed-in payee, any approval state: 401 without a payee session.
pub fn require_payee_session(req: &Request, env: &Env) -> Result<Openid, ApiError> {
    current(req, env, Role::Payee).ok_or(ApiError::SignInRequired)
}

/// An approved payee: 401 without a payee session, 403 when not (or no longer) approved.
pub async fn require_approved_payee(req: &Request, env: &Env) -> Result<Openid, ApiError> {
    let openid = require_payee_session(req, env)?;
    match payee_status(env, &openid).await? {
        Some(PayeeStatus::Approved) => Ok(openid),
        _ => Err(ApiError::NotApproved),
    }
}

/// True when the request carries `Authorization: Bearer <OPERATOR_SECRET>` (constant time).
/// An unset or short (< 16 characters) secret disables the operator API.
pub fn is_operator(req: &Request, env: &Env) -> bool {
    let Some(expected) = secret_setting(env, "OPERATOR_SECRET") else {
        return false;
    };
    if expected.expose().len() < 16 {
        worker::console_error!(
            "OPERATOR_SECRET is shorter than 16 characters: operator API disabled"
        );
        return false;
    }
    let auth = header(req, "authorization");
    let given = auth.strip_prefix("Bearer ").map(str::trim).unwrap_or("");
    !given.is_empty() && secrets::secret_eq(given, expected.expose())
}

/// An openid from a URL path (`/api/operator/payees/:openid/…`), or a 400 naming the field.
pub fn openid_param(raw: &str) -> Result<Openid, ApiError> {
    Openid::parse(raw).ok_or_else(|| {
        ApiError::Invalid(vec![shoukuan_core::collection::FieldError {
            field: "openid".into(),
            code: "INVALID_OPENID".into(),
            message: "openid 只能由字母、数字、- 和 _ 组成".into(),
        }])
    })
}

/// The operator only.
pub fn require_operator(req: &Request, env: &Env) -> Result<(), ApiError> {
    if is_operator(req, env) {
        Ok(())
    } else {
        Err(ApiError::OperatorOnly)
    }
}

/// Who manages Official Account settings in a request: the operator (bearer secret, e.g. from
/// `shoukuan`) or an approved payee (dashboard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Manager {
    /// The operator: sees and changes everything.
    Operator,
    /// An approved payee: changes only what it owns.
    Payee(Openid),
}

impl Manager {
    /// The owner recorded on what this manager creates (`None` for the operator).
    pub fn owner(&self) -> Option<&str> {
        match self {
            Manager::Operator => None,
            Manager::Payee(openid) => Some(openid.as_str()),
        }
    }

    /// Whether this manager may change something owned by `owner`.
    pub fn may_change(&self, owner: Option<&str>) -> bool {
        match self {
            Manager::Operator => true,
            Manager::Payee(openid) => owner == Some(openid.as_str()),
        }
    }
}

/// The operator (bearer) or an approved payee (session).
pub async fn require_manager(req: &Request, env: &Env) -> Result<Manager, ApiError> {
    if is_operator(req, env) {
        return Ok(Manager::Operator);
    }
    require_approved_payee(req, env).await.map(Manager::Payee)
}

/// Who publishes a collection: in `payees` mode the approved payee (401/403 otherwise), who
/// then owns it; in `invite` mode nobody in particular (the caller checks the invite code).
pub async fn publisher(
    req: &Request,
    env: &Env,
    access: PublishAccess,
) -> Result<Option<Openid>, ApiError> {
    match access {
        PublishAccess::Payees => require_approved_payee(req, env).await.map(Some),
        PublishAccess::Invite => Ok(None),
    }
}
