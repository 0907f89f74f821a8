//! The message server `/wechat/mp`: URL verification (GET) and pushes (POST) in plain and safe
//! mode. The URL `signature` is checked before the body is even read, `msg_signature` before
//! anything is decrypted; bodies over 64 KiB are refused. Each push is acted on once (the
//! dedupe key is stored with a unique constraint) and answered within one pass over D1:
//! reads first, then one insert that both claims the push and stores the reply, then the
//! push's own writes (scans) in one batch.

use std::cell::RefCell;
use std::rc::Rc;

use serde::Deserialize;
use shoukuan_core::channel::channel_from_scene;
use shoukuan_core::collection::{AmountRule, Status};
use shoukuan_core::keywords::{
    self, KeywordRule, OwnedRule, PushPlan, RuleReply, Trigger, DEFAULT_WELCOME,
};
use shoukuan_core::money::Fen;
use shoukuan_core::mp::{
    self, Article, EncryptedEnvelope, InboundMessage, SafeModeError, SafeModeParams, MAX_XML_BYTES,
};
use shoukuan_core::session::Openid;
use shoukuan_core::urlenc::parse_query;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::channels;
use crate::error::ApiError;
use crate::notices::selfservice;
use crate::session::{self, now_ms, now_secs};
use crate::wechat::{random_alnum, OaConfig};

/// Most rules read per push (the operator's and every payee's, each payee within its quota).
pub const MAX_RULES: usize = 2000;
/// How long handled pushes are remembered (far beyond WeChat's retries).
const KEEP_PUSHES_SECS: i64 = 3 * 86_400;

fn text(status: u16, body: &str) -> Result<Response, ApiError> {
    let mut resp = Response::ok(body)?.with_status(status);
    resp.headers_mut()
        .set("content-type", "text/plain; charset=utf-8")?;
    Ok(resp)
}

/// The acknowledgement without a reply (no retry, no "暂时无法提供服务").
fn success() -> Result<Response, ApiError> {
    text(200, "success")
}

struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    fn read(req: &Request) -> Result<Params, ApiError> {
        Ok(Params {
            pairs: parse_query(req.url()?.query().unwrap_or_default()),
        })
    }

    fn get(&self, name: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// `GET /wechat/mp`: echo `echostr` when `signature` is right.
pub fn verify(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let Some(config) = OaConfig::from_env(env) else {
        return text(503, "official account not configured");
    };
    let p = Params::read(req)?;
    let echostr = p.get("echostr");
    let signed = mp::verify_url_signature(
        config.token.expose(),
        p.get("timestamp"),
        p.get("nonce"),
        p.get("signature"),
    );
    if !signed || echostr.is_empty() || echostr.len() > 128 {
        return text(403, "invalid signature");
    }
    text(200, echostr)
}

/// `POST /wechat/mp`
pub async fn push(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let Some(config) = OaConfig::from_env(env) else {
        return text(503, "official account not configured");
    };
    if crate::http::declares_more_than(&req, MAX_XML_BYTES) {
        return text(413, "body too large");
    }
    let p = Params::read(&req)?;
    let token = config.token.expose();
    let (timestamp, nonce) = (p.get("timestamp"), p.get("nonce"));
    // WeChat signs every push's URL, in safe mode too: nothing is read before this passes.
    if !mp::verify_url_signature(token, timestamp, nonce, p.get("signature")) {
        return text(403, "invalid signature");
    }
    if !keywords::is_fresh_push(timestamp, now_secs()) {
        return text(403, "stale timestamp");
    }
    let body = req.bytes().await?;
    if body.len() > MAX_XML_BYTES {
        return text(413, "body too large");
    }
    let Ok(body) = String::from_utf8(body) else {
        return text(400, "body is not UTF-8");
    };
    let safe = p.get("encrypt_type") == "aes";
    let message = if safe {
        let Some(aes_key) = &config.aes_key else {
            worker::console_error!("safe-mode push but WECHAT_AES_KEY is not set or invalid");
            return text(500, "safe mode not configured");
        };
        let params = SafeModeParams {
            timestamp,
            nonce,
            msg_signature: p.get("msg_signature"),
        };
        match mp::open_safe_mode(token, aes_key, &config.appid, params, &body) {
            // The envelope's addressee is outside the signature: it must name the same account.
            Ok(message)
                if EncryptedEnvelope::parse(&body)
                    .ok()
                    .and_then(|e| e.to_user_name)
                    .is_some_and(|outer| outer != message.to_user_name) =>
            {
                return text(400, "ToUserName mismatch");
            }
            Ok(message) => message,
            Err(SafeModeError::BadMsgSignature) => return text(403, "invalid msg_signature"),
            Err(e) => {
                worker::console_error!("safe-mode push refused: {e}");
                return text(400, "cannot decrypt");
            }
        }
    } else if config.aes_key.is_some() {
        // With WECHAT_AES_KEY set the account is in safe mode: a plain push is unsigned in its
        // body, so it is refused rather than trusted.
        return text(403, "plain-mode push refused: safe mode is configured");
    } else {
        match InboundMessage::parse(&body) {
            Ok(message) => message,
            Err(e) => {
                worker::console_error!("push refused: {e}");
                return text(400, "malformed XML");
            }
        }
    };
    if let Some(expected) = crate::config::setting(env, "WECHAT_ORIGINAL_ID") {
        if message.to_user_name != expected {
            return text(400, "ToUserName is not this account");
        }
    }
    let reply = act(&req, env, &message).await?;
    answer(&config, safe, reply)
}

/// The passive reply: plain XML, or the safe-mode envelope; `success` when there is none.
fn answer(config: &OaConfig, safe: bool, reply: Option<String>) -> Result<Response, ApiError> {
    let Some(xml) = reply else {
        return success();
    };
    let body = match (safe, &config.aes_key) {
        (true, Some(aes_key)) => {
            let mut random = [0u8; mp::RANDOM_LEN];
            getrandom::getrandom(&mut random)
                .map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
            let nonce = random_alnum(10)?;
            mp::encrypted_reply(
                config.token.expose(),
                aes_key,
                &config.appid,
                &xml,
                &now_secs().to_string(),
                &nonce,
                &random,
            )
        }
        _ => xml,
    };
    let mut resp = Response::ok(body)?;
    resp.headers_mut()
        .set("content-type", "application/xml; charset=utf-8")?;
    Ok(resp)
}

#[derive(Deserialize)]
struct Claimed {
    #[allow(dead_code)]
    dedup_key: String,
}

#[derive(Deserialize)]
struct Stored {
    reply: Option<String>,
}

/// Stands for the follower's openid in a stored reply (U+0001 never occurs in XML 1.0).
const TO_USER_PLACEHOLDER: &str = "\u{1}touser\u{1}";

/// Acts on a verified push once; returns the plain reply XML, if any.
async fn act(
    req: &Request,
    env: &Env,
    message: &InboundMessage,
) -> Result<Option<String>, ApiError> {
    let Some(dedup_key) = keywords::dedup_key(message) else {
        return Ok(None);
    };
    let Some(openid) = Openid::parse(&message.from_user_name) else {
        return Ok(None);
    };
    let plan = keywords::plan(message);
    let origin = session::public_origin(req, env)?;
    let reply = |content: Reply| match content {
        Reply::Text(t) => Some(message.reply_text(now_secs(), &t)),
        Reply::News(article) => mp::news_reply(
            &message.from_user_name,
            &message.to_user_name,
            now_secs(),
            &[article],
        )
        .ok(),
        Reply::None => None,
    };
    // Reads: decide the reply before claiming, so the claim can store it.
    let (kind, detail, content, scan) = match &plan {
        PushPlan::Keyword { text } => {
            let rules = load_rules(env).await?;
            // Self-service words (订单, 退款, …) after the operator's rules, before payees'.
            let own = selfservice::answer(env, &origin, &openid, &rules, text).await?;
            // The follower's payee matters only when the operator has no answer and some
            // payee's rule would answer: only then is it looked up (one D1 read).
            let payee = if own.is_none()
                && keywords::rule_for_follower(&rules, None, text).is_none()
                && keywords::payee_rule_may_answer(&rules, text)
            {
                follower_payee(env, &openid).await?
            } else {
                None
            };
            let rule = keywords::rule_for_follower(&rules, payee.as_deref(), text);
            let content = match (own, rule) {
                (Some(own), _) => Reply::Text(own),
                (None, Some(_)) => rule_reply(env, &origin, rule).await?,
                (None, None) => selfservice::default_reply(env).map_or(Reply::None, Reply::Text),
            };
            ("text", rule.map(|r| r.id.to_string()), content, None)
        }
        PushPlan::Click { key } => {
            // The menu is the operator's: only its rules answer a click.
            let rules = keywords::operator_rules(&load_rules(env).await?);
            let rule = keywords::rule_for_click(&rules, key);
            (
                "click",
                Some(truncate(key, 128)),
                rule_reply(env, &origin, rule).await?,
                None,
            )
        }
        PushPlan::Welcome => ("subscribe", None, welcome(env, &origin).await?, None),
        PushPlan::Scan { scene, subscribed } => {
            let channel = match channel_from_scene(scene) {
                Some(id) => channels::find(env, id).await?,
                None => None,
            };
            let content = match &channel {
                Some(channel) => channels::card(env, &origin, channel).await?,
                None => Reply::None,
            };
            let content = match (content, subscribed) {
                (Reply::None, true) => welcome(env, &origin).await?,
                (content, _) => content,
            };
            let kind = if *subscribed { "subscribe" } else { "scan" };
            (
                kind,
                Some(truncate(scene, 64)),
                content,
                channel.map(|c| (c.id, *subscribed)),
            )
        }
        PushPlan::View { url } => ("view", Some(truncate(url, 256)), Reply::None, None),
        PushPlan::Forget => ("unsubscribe", None, Reply::None, None),
        PushPlan::Ignore => return Ok(None),
    };
    let reply_xml = reply(content);
    // Stored without the follower's openid: the event key and the reply's ToUserName carry it,
    // so the key names its keyed hash and the stored reply a placeholder put back on a retry.
    let openid_key = crate::personal_data::openid_key(env, openid.as_str())?;
    let dedup_key = dedup_key.replacen(openid.as_str(), &openid_key, 1);
    let stored_reply = reply_xml
        .as_deref()
        .map(|xml| xml.replace(openid.as_str(), TO_USER_PLACEHOLDER));
    let db = env.d1("DB")?;
    let now = JsValue::from_f64(now_secs() as f64);
    let claimed = db
        .prepare(
            "INSERT INTO mp_pushes (dedup_key, openid_key, kind, detail, reply, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (dedup_key) DO NOTHING RETURNING dedup_key",
        )
        .bind(&[
            dedup_key.as_str().into(),
            openid_key.as_str().into(),
            kind.into(),
            detail.map_or(JsValue::NULL, Into::into),
            stored_reply.as_deref().map_or(JsValue::NULL, Into::into),
            now,
        ])?
        .all()
        .await?
        .results::<Claimed>()?;
    if claimed.is_empty() {
        // A retry: answer what the first delivery answered (its response may have been lost).
        let stored = db
            .prepare("SELECT reply FROM mp_pushes WHERE dedup_key = ?1")
            .bind(&[dedup_key.as_str().into()])?
            .first::<Stored>(None)
            .await?;
        return Ok(stored
            .and_then(|s| s.reply)
            .map(|xml| xml.replace(TO_USER_PLACEHOLDER, openid.as_str())));
    }
    if let Some((channel_id, subscribed)) = scan {
        channels::record_scan(env, &channel_id, &openid, subscribed).await?;
    }
    if plan == PushPlan::Forget {
        forget(env, &openid_key, &dedup_key).await?;
        selfservice::forget(env, &openid).await?;
    }
    prune_now_and_then(env).await?;
    Ok(reply_xml)
}

/// Dedupe rows matter only within WeChat's retry window (three tries, 5 s apart); about one
/// push in 64 deletes those older than [`KEEP_PUSHES_SECS`], so the table stays small without
/// a scheduled job.
async fn prune_now_and_then(env: &Env) -> Result<(), ApiError> {
    let mut byte = [0u8; 1];
    getrandom::getrandom(&mut byte).map_err(|e| ApiError::Internal(format!("getrandom: {e}")))?;
    if byte[0] >= 4 {
        return Ok(());
    }
    env.d1("DB")?
        .prepare("DELETE FROM mp_pushes WHERE created_at < ?1")
        .bind(&[JsValue::from_f64((now_secs() - KEEP_PUSHES_SECS) as f64)])?
        .run()
        .await?;
    Ok(())
}

/// What to answer with, before it is put in XML.
pub enum Reply {
    /// A text message.
    Text(String),
    /// A news card.
    News(Article),
    /// Nothing (`success`).
    None,
}

fn truncate(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

#[derive(Deserialize)]
struct RuleRow {
    owner_openid: Option<String>,
    id: i64,
    trigger: String,
    pattern: String,
    priority: i64,
    reply_type: String,
    reply_value: String,
}

impl RuleRow {
    fn into_rule(self) -> Option<OwnedRule> {
        let reply = match self.reply_type.as_str() {
            "text" => RuleReply::Text {
                text: self.reply_value,
            },
            "collection" => RuleReply::Collection {
                id: self.reply_value,
            },
            _ => return None,
        };
        Some(OwnedRule {
            owner: self.owner_openid,
            rule: KeywordRule {
                id: self.id,
                trigger: Trigger::parse(&self.trigger)?,
                pattern: self.pattern,
                priority: self.priority,
                reply,
            },
        })
    }
}

/// How long an isolate keeps the rules. Every text push needs them, and keeping them saves a
/// D1 round trip on the reply path; a change through this isolate clears them at once, other
/// isolates see it within this time.
const RULES_TTL_MS: i64 = 10_000;

thread_local! {
    static RULES: RefCell<Option<(i64, Rc<Vec<OwnedRule>>)>> = const { RefCell::new(None) };
}

/// Drops this isolate's copy of the rules (after a rule was created or deleted).
pub fn forget_cached_rules() {
    RULES.with(|cached| cached.borrow_mut().take());
}

/// Every keyword rule with its owner (who answers whom is decided in core).
pub async fn load_rules(env: &Env) -> Result<Rc<Vec<OwnedRule>>, ApiError> {
    let now = now_ms();
    let cached = RULES.with(|cached| {
        cached
            .borrow()
            .as_ref()
            .filter(|(at, _)| now - at < RULES_TTL_MS)
            .map(|(_, rules)| rules.clone())
    });
    if let Some(rules) = cached {
        return Ok(rules);
    }
    let rows = env
        .d1("DB")?
        .prepare("SELECT owner_openid, id, trigger, pattern, priority, reply_type, reply_value FROM keyword_rules ORDER BY owner_openid IS NOT NULL, priority DESC, id LIMIT ?1")
        .bind(&[JsValue::from_f64(MAX_RULES as f64)])?
        .all()
        .await?
        .results::<RuleRow>()?;
    let rules = Rc::new(
        rows.into_iter()
            .filter_map(RuleRow::into_rule)
            .collect::<Vec<_>>(),
    );
    RULES.with(|cached| *cached.borrow_mut() = Some((now, rules.clone())));
    Ok(rules)
}

async fn rule_reply(
    env: &Env,
    origin: &str,
    rule: Option<&KeywordRule>,
) -> Result<Reply, ApiError> {
    match rule.map(|r| &r.reply) {
        None => Ok(Reply::None),
        Some(RuleReply::Text { text }) => Ok(Reply::Text(text.clone())),
        Some(RuleReply::Collection { id }) => {
            collection_card(env, origin, id, &format!("/c/{id}")).await
        }
    }
}

/// The welcome reply: the operator's (payees cannot set one).
async fn welcome(env: &Env, origin: &str) -> Result<Reply, ApiError> {
    let rules = keywords::operator_rules(&load_rules(env).await?);
    match keywords::rule_for_subscribe(&rules) {
        Some(rule) => rule_reply(env, origin, Some(rule)).await,
        None => Ok(Reply::Text(DEFAULT_WELCOME.to_string())),
    }
}

#[derive(Deserialize)]
struct FollowerPayee {
    payee: Option<String>,
}

/// The payee a follower is attributed to: the follower itself when it is an approved payee
/// (trying its own rules), else the owner of the channel they scanned or of the collection they
/// last ordered from, whichever happened last.
async fn follower_payee(env: &Env, openid: &Openid) -> Result<Option<String>, ApiError> {
    let row = env
        .d1("DB")?
        .prepare(
            "SELECT owner AS payee FROM ( \
               SELECT openid AS owner, 9007199254740991 AS at FROM payee_accounts \
                 WHERE openid = ?1 AND status = 'approved' \
               UNION ALL \
               SELECT c.owner_openid AS owner, oc.scanned_at AS at FROM channel_followers oc \
                 JOIN channels c ON c.id = oc.channel_id WHERE oc.openid_key = ?2 \
               UNION ALL \
               SELECT * FROM (SELECT col.owner_openid, o.created_at FROM orders o \
                 JOIN collections col ON col.id = o.collection_id \
                 WHERE o.payer_hash = ?2 ORDER BY o.created_at DESC LIMIT 1) \
             ) WHERE owner IS NOT NULL ORDER BY at DESC LIMIT 1",
        )
        .bind(&[
            openid.as_str().into(),
            crate::personal_data::openid_key(env, openid.as_str())?.into(),
        ])?
        .first::<FollowerPayee>(None)
        .await?;
    Ok(row.and_then(|r| r.payee))
}

#[derive(Deserialize)]
struct CardRow {
    title: String,
    payee_name: String,
    amount_fen: Option<i64>,
    note: String,
    status: String,
}

/// A news card for collection `id` that opens `path` on this site; nothing when the
/// collection is gone or closed.
pub async fn collection_card(
    env: &Env,
    origin: &str,
    id: &str,
    path: &str,
) -> Result<Reply, ApiError> {
    let row = env
        .d1("DB")?
        .prepare(
            "SELECT title, payee_name, amount_fen, note, status FROM collections WHERE id = ?1",
        )
        .bind(&[id.into()])?
        .first::<CardRow>(None)
        .await?;
    let Some(row) = row.filter(|r| r.status == Status::Open.as_str()) else {
        return Ok(Reply::None);
    };
    let amount = match row.amount_fen {
        Some(fen) => AmountRule::Fixed { fen: Fen::new(fen) },
        None => AmountRule::PayerEntered,
    };
    let mut description = format!(
        "{} · {}",
        row.payee_name,
        shoukuan_core::page::amount_text(amount)
    );
    if !row.note.is_empty() {
        description.push_str(" · ");
        description.push_str(&row.note);
    }
    Ok(Reply::News(Article {
        title: row.title,
        description,
        pic_url: String::new(),
        url: format!("{origin}{path}"),
    }))
}

/// Unsubscribe: WeChat requires the user's data to be deleted — their channel link and the
/// openid's keyed hash on scans, visits and pushes (the counts stay).
async fn forget(env: &Env, openid_key: &str, keep_key: &str) -> Result<(), ApiError> {
    let db = env.d1("DB")?;
    let id: JsValue = openid_key.into();
    let statements = vec![
        db.prepare("DELETE FROM channel_followers WHERE openid_key = ?1")
            .bind(std::slice::from_ref(&id))?,
        db.prepare("UPDATE channel_scans SET openid_key = NULL WHERE openid_key = ?1")
            .bind(std::slice::from_ref(&id))?,
        db.prepare("UPDATE visits SET openid_key = NULL WHERE openid_key = ?1")
            .bind(std::slice::from_ref(&id))?,
        db.prepare("UPDATE channel_orders SET openid_key = NULL WHERE openid_key = ?1")
            .bind(std::slice::from_ref(&id))?,
        // Older pushes are past WeChat's retry window; their keys name the hash.
        db.prepare(
            "DELETE FROM mp_pushes WHERE openid_key = ?1 AND dedup_key <> ?2 AND created_at < ?3",
        )
        .bind(&[
            id,
            keep_key.into(),
            JsValue::from_f64((now_secs() - 60) as f64),
        ])?,
    ];
    db.batch(statements).await?;
    Ok(())
}
