//! Collections: publish, read, edit and close. Validation is `shoukuan_core::collection`'s;
//! this module only moves checked values in and out of D1.

use serde::Deserialize;
use shoukuan_core::collection::{
    is_valid_id, AmountRule, CollectionView, Created, FieldError, Kind, NewCollection, Status,
    ValidCollection,
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
    let row = load(id, env).await?;
    if token.is_empty() || !secrets::secret_eq(&secrets::token_hash(token), &row.manage_token_hash)
    {
        return Err(ApiError::Unauthorized);
    }
    Ok(row)
}

/// `PUT /api/collections/:id`: edit payee name, title, amount and note.
pub async fn update(id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let row = load_managed(id, &req, env).await?;
    if row.status != Status::Open.as_str() {
        return Err(ApiError::Closed);
    }
    let mut draft: NewCollection = http::read_json(&mut req).await?;
    // The receive code is fixed at publish time: a manage link must not redirect the money.
    draft.pay_code = row.pay_code.clone();
    // A split's amounts live in its own settings (`splits`), not in `amount_fen`.
    if row.kind == Kind::Split.as_str() {
        draft.amount = None;
    }
    let valid = draft.validate().map_err(ApiError::Invalid)?;
    if row.kind == Kind::Product.as_str() && valid.amount == AmountRule::PayerEntered {
        return Err(ApiError::Invalid(vec![
            shoukuan_core::collection::FieldError {
                field: "amount".into(),
                code: "INVALID_AMOUNT".into(),
                message: "价格页需要填写价格".into(),
            },
        ]));
    }
    db(env)?
        .prepare(
            "UPDATE collections SET payee_name = ?2, title = ?3, amount_fen = ?4, note = ?5, updated_at = ?6 \
             WHERE id = ?1 AND status = 'open'",
        )
        .bind(&[
            id.into(),
            valid.payee_name.as_str().into(),
            valid.title.as_str().into(),
            amount_value(valid.amount),
            valid.note.as_str().into(),
            JsValue::from_f64(now_secs() as f64),
        ])?
        .run()
        .await?;
    get(id, env).await
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
