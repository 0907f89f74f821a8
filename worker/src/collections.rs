//! Collections: publish, read, edit and close. Validation is `shoukuan_core::collection`'s;
//! this module only moves checked values in and out of D1.

use serde::Deserialize;
use shoukuan_core::collection::{
    is_valid_id, AmountRule, CollectionView, Created, FieldError, Kind, Status, ValidCollection,
};
use shoukuan_core::money::Fen;
use shoukuan_core::publish::{Extra, PublishBody};
use shoukuan_core::ratelimit::INVITE_GUESS_PER_CLIENT;
use shoukuan_core::session::Openid;
use shoukuan_core::split::PayMode;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, Env, Request, Response};

use crate::abuse;
use crate::config::{PublishAccess, PublishConfig};
use crate::error::ApiError;
use crate::http;
use crate::secrets;

/// A row of `collections`.
#[derive(Debug, Deserialize)]
struct Row {
    id: String,
    kind: String,
    status: String,
    payee_name: String,
    title: String,
    amount_fen: Option<i64>,
    note: String,
    pay_code: String,
    manage_token_hash: String,
    created_at: i64,
    /// `personal` (the payee's own 收款码) or `merchant` (WeChat Pay).
    pay_mode: String,
    /// The signed-in payee who published it, if any.
    owner_openid: Option<String>,
}

impl Row {
    fn into_view(self) -> Result<CollectionView, ApiError> {
        let corrupt =
            |what: &str| ApiError::Internal(format!("collection {} has a bad {what}", self.id));
        let kind = Kind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?;
        let status = Status::parse(&self.status).ok_or_else(|| corrupt("status"))?;
        let amount = match self.amount_fen {
            Some(fen) => AmountRule::Fixed { fen: Fen::new(fen) },
            None => AmountRule::PayerEntered,
        };
        Ok(CollectionView {
            id: self.id,
            kind,
            status,
            payee_name: self.payee_name,
            title: self.title,
            amount,
            note: self.note,
            pay_code: self.pay_code,
            created_at: self.created_at,
        })
    }
}

fn db(env: &Env) -> Result<D1Database, ApiError> {
    Ok(env.d1("DB")?)
}

fn now_secs() -> i64 {
    (worker::Date::now().as_millis() / 1000) as i64
}

fn amount_value(rule: AmountRule) -> JsValue {
    match rule {
        AmountRule::Fixed { fen } => JsValue::from_f64(fen.get() as f64),
        AmountRule::PayerEntered => JsValue::NULL,
    }
}

/// `GET /api/config`
pub fn public_config(env: &Env) -> Result<Response, ApiError> {
    let publish = PublishConfig::from_env(env);
    let invite_required = publish.access == PublishAccess::Invite && publish.invite_code.is_some();
    http::json(
        200,
        &serde_json::json!({
            "invite_required": invite_required,
            "publish_access": publish.access.as_str(),
            // What the pages offer: reminders need the Official Account and its template.
            "reminders": crate::config::setting(env, "WECHAT_REMINDER_TEMPLATE_ID").is_some()
                && crate::config::setting(env, "WECHAT_APPID").is_some(),
            // Whom a payee waiting for approval contacts (a WeChat id, a phone number).
            "operator_contact": crate::config::setting(env, "OPERATOR_CONTACT"),
        }),
    )
}

/// Invite mode: the operator's invite code, with wrong guesses limited per client. Without a
/// code set, publishing is open only in an explicitly local run (`LOCAL_DEV=1`, loopback).
pub async fn check_invite(
    req: &Request,
    env: &Env,
    publish: &PublishConfig,
    given: &str,
) -> Result<(), ApiError> {
    let Some(expected) = &publish.invite_code else {
        if crate::config::local_dev(env) && crate::session::is_loopback(req) {
            return Ok(());
        }
        return Err(ApiError::Pay(
            403,
            "INVITE_CODE_NOT_SET",
            "本站未设置邀请码（PUBLISH_INVITE_CODE），暂不开放发布，请联系运营方".into(),
        ));
    };
    let guard = abuse::Guard::new(req, env);
    if guard
        .used_up(env, &INVITE_GUESS_PER_CLIENT, guard.client())
        .await?
    {
        return Err(abuse::too_many(&INVITE_GUESS_PER_CLIENT));
    }
    if secrets::secret_eq(given.trim(), expected.expose()) {
        return Ok(());
    }
    guard
        .hit(env, &INVITE_GUESS_PER_CLIENT, guard.client())
        .await?;
    Err(ApiError::Forbidden)
}

/// `POST /api/collections`
pub async fn create(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let publish = PublishConfig::from_env(env);
    // `payees` mode: an approved payee session, who then owns the collection.
    let owner = crate::session::publisher(&req, env, publish.access).await?;
    // Every kind: the request fields at the top level, `kind` and its `split` / `product` part.
    let draft: PublishBody = http::read_json(&mut req).await?;
    if owner.is_none() {
        let given = draft.collection.invite_code.as_deref().unwrap_or("");
        check_invite(&req, env, &publish, given).await?;
    }
    let now = now_secs();
    let checked = draft.validate(now).map_err(ApiError::Invalid)?;
    // A split paid through WeChat Pay: only where merchant collections may be published (an
    // approved payee session, payments configured), and owned by that payee (its daily limit).
    let merchant =
        matches!(&checked.extra, Extra::Split(spec) if spec.pay_mode == PayMode::Merchant);
    let owner = if merchant {
        Some(merchant_split_owner(owner, &req, env).await?)
    } else {
        owner
    };
    if let Extra::Product(product) = &checked.extra {
        crate::products::check_images(env, product).await?;
    }
    let valid: &ValidCollection = &checked.collection;
    let id = secrets::new_public_id()?;
    let token = secrets::new_token()?;
    let db = db(env)?;
    let insert = db
        .prepare(
            "INSERT INTO collections (id, kind, status, payee_name, title, amount_fen, note, pay_code, \
             manage_token_hash, created_at, updated_at, owner_openid, pay_mode) VALUES (?1, ?10, 'open', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?11)",
        )
        .bind(&[
            id.as_str().into(),
            valid.payee_name.as_str().into(),
            valid.title.as_str().into(),
            amount_value(valid.amount),
            valid.note.as_str().into(),
            valid.pay_code.as_str().into(),
            secrets::token_hash(&token).into(),
            JsValue::from_f64(now as f64),
            owner.as_ref().map_or(JsValue::NULL, |o| o.as_str().into()),
            checked.kind().as_str().into(),
            if merchant { "merchant" } else { "personal" }.into(),
        ])?;
    // One batch (a transaction): a split or product never exists half-stored.
    let mut statements = vec![insert];
    match &checked.extra {
        Extra::Request => {}
        Extra::Split(spec) => statements.push(crate::splits::insert_statement(&db, &id, spec)?),
        Extra::Product(product) => {
            statements.push(crate::products::insert_statement(&db, &id, product)?)
        }
    }
    db.batch(statements).await?;
    let created = Created {
        path: format!("/c/{id}"),
        manage_path: format!("/manage/{id}#t={token}"),
        id,
        manage_token: token,
    };
    http::json(201, &created)
}

/// The approved payee who may publish a merchant-mode split; anyone else gets a field error
/// (never a merchant split without an accountable payee).
async fn merchant_split_owner(
    owner: Option<Openid>,
    req: &Request,
    env: &Env,
) -> Result<Openid, ApiError> {
    let refuse = |code: &str, message: &str| {
        ApiError::Invalid(vec![FieldError {
            field: "split.pay_mode".into(),
            code: code.into(),
            message: message.into(),
        }])
    };
    if let Some(why) = crate::pay::merchant_unavailable(env) {
        return Err(refuse("MERCHANT_UNAVAILABLE", &why));
    }
    let payee = match owner {
        Some(owner) => owner,
        None => match crate::session::require_approved_payee(req, env).await {
            Ok(payee) => payee,
            Err(ApiError::SignInRequired | ApiError::NotApproved) => {
                return Err(refuse(
                    "MERCHANT_REQUIRES_PAYEE",
                    "微信支付接龙需由已审核的收款人在微信中登录后发布",
                ))
            }
            Err(e) => return Err(e),
        },
    };
    // Platform model: only a payee with its own sub-merchant (409 NO_SUB_MCHID otherwise).
    crate::pay::check_may_publish(env, &payee).await?;
    Ok(payee)
}

async fn load(id: &str, env: &Env) -> Result<Row, ApiError> {
    if !is_valid_id(id) {
        return Err(ApiError::NotFound);
    }
    db(env)?
        .prepare("SELECT * FROM collections WHERE id = ?1")
        .bind(&[id.into()])?
        .first::<Row>(None)
        .await?
        .ok_or(ApiError::NotFound)
}

/// Reads one collection for the payer page; `None` when the id is unknown or malformed.
pub async fn find_view(id: &str, env: &Env) -> Result<Option<CollectionView>, ApiError> {
    match load(id, env).await {
        Ok(row) => row.into_view().map(Some),
        Err(ApiError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `GET /api/collections/:id`
pub async fn get(id: &str, env: &Env) -> Result<Response, ApiError> {
    let view = load(id, env).await?.into_view()?;
    http::json(200, &view)
}

/// `GET /api/collections/:id/manage` (manage token): the collection, once the token is
/// checked, so that a manage page never shows a form a wrong link cannot save.
pub async fn get_managed(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let view = load_managed(id, req, env).await?.into_view()?;
    http::json(200, &view)
}

/// Checks the `Authorization: Bearer <manage token>` header for collection `id` (401/404).
pub async fn authorize_manage(id: &str, req: &Request, env: &Env) -> Result<(), ApiError> {
    load_managed(id, req, env).await.map(|_| ())
}

/// Loads a collection and checks the `Authorization: Bearer <manage token>` header.
async fn load_managed(id: &str, req: &Request, env: &Env) -> Result<Row, ApiError> {
    let header = req
        .headers()
        .get("authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let token = header.strip_prefix("Bearer ").map(str::trim).unwrap_or("");
    load_with_token(id, token, env).await
}

async fn load_with_token(id: &str, token: &str, env: &Env) -> Result<Row, ApiError> {
    let row = load(id, env).await?;
    if token.is_empty() || !secrets::secret_eq(&secrets::token_hash(token), &row.manage_token_hash)
    {
        return Err(ApiError::Unauthorized);
    }
    Ok(row)
}

/// A manage page's credential `manage <id> <token>` (image uploads): the collection id once
/// the token is checked (401 when wrong), `None` for anything else (an invite code).
pub async fn managed_by(credential: &str, env: &Env) -> Result<Option<String>, ApiError> {
    let Some(rest) = credential.strip_prefix("manage ") else {
        return Ok(None);
    };
    let (id, token) = rest.trim().split_once(' ').unwrap_or((rest, ""));
    let row = load_with_token(id, token.trim(), env).await?;
    Ok(Some(row.id))
}

/// `PUT /api/collections/:id`: edit what the collection's kind has — payee name, title, note;
/// the amount of a request, the price and the `product` part (images, description, original
/// price, deadline, shop, topics) of a price page; a split's cap and deadline
/// (`core::split_settings`; its way of splitting and amounts stay); and the 收款码 of a
/// personal-code collection (a new code must be sent; none keeps the old one).
pub async fn update(id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let row = load_managed(id, &req, env).await?;
    if row.status != Status::Open.as_str() {
        return Err(ApiError::Closed);
    }
    let body: PublishBody = http::read_json(&mut req).await?;
    let mut draft = body.collection;
    // Where the money goes changes only when asked for explicitly, only for a personal-code
    // collection, and — when a signed-in payee published it — only by that payee in person
    // (a forwarded manage link alone cannot redirect the money).
    let replacing = body.replace_pay_code
        && row.pay_mode == "personal"
        && !draft.pay_code.trim().is_empty()
        && draft.pay_code.trim() != row.pay_code;
    if replacing {
        if let Some(owner) = &row.owner_openid {
            let me = crate::session::current(&req, env, shoukuan_core::session::Role::Payee);
            if me.as_ref().map(|o| o.as_str()) != Some(owner.as_str()) {
                return Err(ApiError::Pay(
                    403,
                    "PAY_CODE_OWNER_ONLY",
                    "更换收款码需要收款人本人在微信中登录后操作".into(),
                ));
            }
        }
    } else {
        draft.pay_code = row.pay_code.clone();
    }
    // A split's amounts live in its own settings (`splits`), not in `amount_fen`.
    if row.kind == Kind::Split.as_str() {
        draft.amount = None;
    }
    let valid = draft.validate().map_err(ApiError::Invalid);
    let price = match &valid {
        Ok(v) => match v.amount {
            AmountRule::Fixed { fen } => Some(fen),
            AmountRule::PayerEntered => None,
        },
        Err(_) => None,
    };
    let product = match (row.kind == Kind::Product.as_str(), body.product) {
        (true, Some(part)) => Some(part.validate(price, now_secs())),
        (true, None) if valid.is_ok() && price.is_none() => Some(Err(vec![FieldError {
            field: "amount".into(),
            code: "INVALID_AMOUNT".into(),
            message: "价格页需要填写价格".into(),
        }])),
        _ => None,
    };
    // Every problem at once: the collection's and the product's.
    let product = match (valid, product) {
        (Ok(v), None) => Ok((v, None)),
        (Ok(v), Some(Ok(p))) => Ok((v, Some(p))),
        (Ok(_), Some(Err(e))) => Err(e),
        (Err(ApiError::Invalid(mut e)), Some(Err(more))) => {
            e.extend(more.into_iter().filter(|m| m.field != "amount"));
            Err(e)
        }
        (Err(e), _) => return Err(e),
    };
    let (valid, product) = product.map_err(ApiError::Invalid)?;
    if let Some(product) = &product {
        crate::products::check_images(env, product).await?;
    }
    let db = db(env)?;
    let split = match (row.kind == Kind::Split.as_str(), &body.split) {
        (true, Some(edited)) => Some(split_settings(&db, id, edited).await?),
        _ => None,
    };
    let mut statements = vec![db
        .prepare(
            "UPDATE collections SET payee_name = ?2, title = ?3, amount_fen = ?4, note = ?5, \
             pay_code = ?7, updated_at = ?6 WHERE id = ?1 AND status = 'open'",
        )
        .bind(&[
            id.into(),
            valid.payee_name.as_str().into(),
            valid.title.as_str().into(),
            amount_value(valid.amount),
            valid.note.as_str().into(),
            JsValue::from_f64(now_secs() as f64),
            valid.pay_code.as_str().into(),
        ])?];
    if let Some(product) = &product {
        statements.push(crate::products::update_statement(&db, id, product)?);
    }
    if let Some(spec) = &split {
        let json = serde_json::to_string(spec).map_err(|e| ApiError::Internal(e.to_string()))?;
        // The cap is checked against the sign-ups again inside the statement.
        statements.push(
            db.prepare(
                "UPDATE splits SET spec = ?2, cap = ?3, deadline = ?4 WHERE collection_id = ?1 \
                 AND (?3 IS NULL OR (SELECT COUNT(*) FROM participants WHERE collection_id = ?1) <= ?3)",
            )
            .bind(&[
                id.into(),
                json.into(),
                spec.cap.map_or(JsValue::NULL, |c| JsValue::from_f64(f64::from(c))),
                spec.deadline
                    .map_or(JsValue::NULL, |d| JsValue::from_f64(d.unix() as f64)),
            ])?,
        );
    }
    // One batch: the collection and its product change together or not at all.
    db.batch(statements).await?;
    get(id, env).await
}

/// A split's settings as the manage page edited them (`core::split_settings`): 400 on
/// `split.cap` / `split.deadline` when refused.
async fn split_settings(
    db: &D1Database,
    id: &str,
    edited: &shoukuan_core::split::NewSplit,
) -> Result<shoukuan_core::split::SplitSpec, ApiError> {
    #[derive(Deserialize)]
    struct Current {
        spec: String,
        joined: i64,
    }
    let current = db
        .prepare(
            "SELECT spec, (SELECT COUNT(*) FROM participants WHERE collection_id = ?1) AS joined \
             FROM splits WHERE collection_id = ?1",
        )
        .bind(&[id.into()])?
        .first::<Current>(None)
        .await?
        .ok_or(ApiError::NotFound)?;
    let spec = serde_json::from_str(&current.spec)
        .map_err(|e| ApiError::Internal(format!("split {id}: {e}")))?;
    let joined = u32::try_from(current.joined).unwrap_or(u32::MAX);
    shoukuan_core::split_settings::apply(&spec, edited, joined, now_secs())
        .map_err(ApiError::Invalid)
}

/// `POST /api/collections/:id/close`: payers see 该收款已关闭 instead of the QR.
pub async fn close(id: &str, req: Request, env: &Env) -> Result<Response, ApiError> {
    set_status(id, &req, env, Status::Closed).await
}

/// `POST /api/collections/:id/reopen`: a closed collection takes payments again, as it was
/// (a split keeps its list and rules; a deadline already past still ends it).
pub async fn reopen(id: &str, req: Request, env: &Env) -> Result<Response, ApiError> {
    set_status(id, &req, env, Status::Open).await
}

async fn set_status(
    id: &str,
    req: &Request,
    env: &Env,
    status: Status,
) -> Result<Response, ApiError> {
    load_managed(id, req, env).await?;
    db(env)?
        .prepare("UPDATE collections SET status = ?2, updated_at = ?3 WHERE id = ?1")
        .bind(&[
            id.into(),
            status.as_str().into(),
            JsValue::from_f64(now_secs() as f64),
        ])?
        .run()
        .await?;
    get(id, env).await
}
