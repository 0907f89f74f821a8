//! What payees (and the operator, e.g. through `shoukuan`) manage for the Official Account:
//! menu-jump routes (`/m/:key` → an allow-listed page) and keyword rules, each payee its own
//! within a quota and seeing only its own; and the operator's alone: the custom menu (stored,
//! then published through WeChat's menu API) and the welcome reply. The account is shared:
//! no payee may change what every follower sees.

use serde::{Deserialize, Serialize};
use shoukuan_core::collection::FieldError;
use shoukuan_core::keywords::{KeywordRule, NewRule, RuleReply, Trigger};
use shoukuan_core::menu::{AppTarget, MenuDef, MenuKey};
use shoukuan_core::ratelimit::{ROUTES_PER_PAYEE, RULES_PER_PAYEE};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Request, Response};

use super::{may_use_collection, Count, Owner};
use crate::error::ApiError;
use crate::http::{self, num};
use crate::session::{now_secs, public_origin, require_manager, Manager};
use crate::wechat::OaClient;

/// Most routes and rules one deployment keeps (each payee's within its own quota too).
const MAX_ROWS: i64 = super::mp::MAX_RULES as i64;

fn invalid(field: &str, code: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: message.into(),
    }])
}

async fn count(env: &Env, table: &str) -> Result<i64, ApiError> {
    let row = env
        .d1("DB")?
        .prepare(format!("SELECT COUNT(*) AS n FROM {table}"))
        .first::<Count>(None)
        .await?;
    Ok(row.map_or(0, |r| r.n))
}

/// Refuses a new row of `table` when the deployment, or the payee, is at its quota.
pub async fn check_quota(
    env: &Env,
    manager: &Manager,
    table: &str,
    per_payee: i64,
    what: &'static str,
) -> Result<(), ApiError> {
    if count(env, table).await? >= MAX_ROWS {
        return Err(ApiError::Conflict("TOO_MANY", "数量已达本站上限"));
    }
    let Some(owner) = manager.owner() else {
        return Ok(());
    };
    let row = env
        .d1("DB")?
        .prepare(format!(
            "SELECT COUNT(*) AS n FROM {table} WHERE owner_openid = ?1"
        ))
        .bind(&[owner.into()])?
        .first::<Count>(None)
        .await?;
    if row.map_or(0, |r| r.n) >= per_payee {
        return Err(ApiError::Pay(
            409,
            "QUOTA_EXCEEDED",
            format!("每个收款方最多 {per_payee} 个{what}，请先删除不用的"),
        ));
    }
    Ok(())
}

/// The operator only, with a message a payee understands (403).
pub fn operator_only(manager: &Manager, what: &str) -> Result<(), ApiError> {
    match manager {
        Manager::Operator => Ok(()),
        Manager::Payee(_) => Err(ApiError::Pay(
            403,
            "OPERATOR_ONLY",
            format!("{what}由运营方统一设置（公众号为所有收款方共用），收款方不能修改"),
        )),
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct RouteRow {
    key: String,
    target: String,
    owner_openid: Option<String>,
    created_at: i64,
}

/// True when menu route `key` exists and `manager` may use it (its own, or any for the
/// operator).
pub async fn route_usable(env: &Env, manager: &Manager, key: &MenuKey) -> Result<bool, ApiError> {
    let row = env
        .d1("DB")?
        .prepare("SELECT owner_openid FROM menu_routes WHERE key = ?1")
        .bind(&[key.as_str().into()])?
        .first::<Owner>(None)
        .await?;
    Ok(row.is_some_and(|r| manager.may_change(r.owner_openid.as_deref())))
}

/// `GET /api/dash/routes`: the payee's own routes (the operator's view: every route).
pub async fn list_routes(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let manager = require_manager(req, env).await?;
    let rows = env
        .d1("DB")?
        .prepare("SELECT key, target, owner_openid, created_at FROM menu_routes WHERE ?1 IS NULL OR owner_openid = ?1 ORDER BY created_at, key")
        .bind(&[manager.owner().map_or(JsValue::NULL, Into::into)])?
        .all()
        .await?
        .results::<RouteRow>()?;
    http::json(200, &serde_json::json!({ "routes": rows }))
}

#[derive(Deserialize)]
struct NewRoute {
    key: String,
    target: String,
}

/// `POST /api/dash/routes` `{key, target}`: the target must be an allow-listed page (a payee
/// may only point at its own collections).
pub async fn create_route(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let manager = require_manager(&req, env).await?;
    let draft: NewRoute = http::read_json(&mut req).await?;
    let Some(key) = MenuKey::parse(draft.key.trim()) else {
        return Err(invalid(
            "key",
            "INVALID_KEY",
            "入口标识只能是 1–32 个字母、数字、- 或 _",
        ));
    };
    let target = AppTarget::parse_path(draft.target.trim())
        .map_err(|e| invalid("target", "INVALID_TARGET", e.to_string()))?;
    if let Some(id) = target.collection_id() {
        if !may_use_collection(env, &manager, id).await? {
            return Err(invalid("target", "INVALID_TARGET", "只能指向自己的收款"));
        }
    }
    check_quota(env, &manager, "menu_routes", ROUTES_PER_PAYEE, "入口").await?;
    let inserted = env
        .d1("DB")?
        .prepare(
            "INSERT INTO menu_routes (key, target, owner_openid, created_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (key) DO NOTHING RETURNING key, target, owner_openid, created_at",
        )
        .bind(&[
            key.as_str().into(),
            target.path().into(),
            manager.owner().map_or(JsValue::NULL, Into::into),
            num(now_secs()),
        ])?
        .all()
        .await?
        .results::<RouteRow>()?;
    match inserted.into_iter().next() {
        Some(row) => http::json(201, &row),
        None => Err(ApiError::Conflict("KEY_TAKEN", "这个入口标识已被使用")),
    }
}

/// `DELETE /api/dash/routes/:key` (own routes; the operator any).
pub async fn delete_route(key: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let manager = require_manager(req, env).await?;
    let key = MenuKey::parse(key).ok_or(ApiError::Missing("入口"))?;
    let db = env.d1("DB")?;
    let row = db
        .prepare("SELECT owner_openid FROM menu_routes WHERE key = ?1")
        .bind(&[key.as_str().into()])?
        .first::<Owner>(None)
        .await?;
    match row {
        Some(row) if manager.may_change(row.owner_openid.as_deref()) => {}
        _ => return Err(ApiError::Missing("入口")),
    }
    db.prepare("DELETE FROM menu_routes WHERE key = ?1")
        .bind(&[key.as_str().into()])?
        .run()
        .await?;
    http::json(200, &serde_json::json!({ "deleted": key.as_str() }))
}

#[derive(Deserialize)]
struct RuleRow {
    id: i64,
    trigger: String,
    pattern: String,
    priority: i64,
    reply_type: String,
    reply_value: String,
    owner_openid: Option<String>,
}

/// `GET /api/dash/keywords`: the payee's own rules in answering order (see `core::keywords`);
/// the operator sees every rule with its owner.
pub async fn list_keywords(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let manager = require_manager(req, env).await?;
    let operator = manager == Manager::Operator;
    let rows = env
        .d1("DB")?
        .prepare("SELECT id, trigger, pattern, priority, reply_type, reply_value, owner_openid FROM keyword_rules WHERE ?1 IS NULL OR owner_openid = ?1 ORDER BY priority DESC, id")
        .bind(&[manager.owner().map_or(JsValue::NULL, Into::into)])?
        .all()
        .await?
        .results::<RuleRow>()?;
    let rules: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| {
            let reply = if r.reply_type == "collection" {
                serde_json::json!({ "type": "collection", "id": r.reply_value })
            } else {
                serde_json::json!({ "type": "text", "text": r.reply_value })
            };
            let mut rule = serde_json::json!({
                "id": r.id, "trigger": r.trigger, "pattern": r.pattern, "priority": r.priority,
                "reply": reply,
            });
            if operator {
                rule["owner_openid"] = r.owner_openid.into();
            }
            rule
        })
        .collect();
    http::json(200, &serde_json::json!({ "rules": rules }))
}

/// `POST /api/dash/keywords` (a `core::keywords::NewRule`).
pub async fn create_keyword(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let manager = require_manager(&req, env).await?;
    let draft: NewRule = http::read_json(&mut req).await?;
    let rule: KeywordRule = draft.validate().map_err(ApiError::Invalid)?;
    if rule.trigger == Trigger::Subscribe {
        operator_only(&manager, "欢迎语")?;
    }
    crate::notices::selfservice::refuse_shadowed(
        env,
        manager == Manager::Operator,
        rule.trigger == Trigger::Exact,
        &rule.pattern,
    )?;
    let (reply_type, reply_value) = match &rule.reply {
        RuleReply::Text { text } => ("text", text.clone()),
        RuleReply::Collection { id } => {
            if !may_use_collection(env, &manager, id).await? {
                return Err(invalid("reply", "INVALID_COLLECTION", "只能回复自己的收款"));
            }
            ("collection", id.clone())
        }
    };
    check_quota(
        env,
        &manager,
        "keyword_rules",
        RULES_PER_PAYEE,
        "关键词规则",
    )
    .await?;
    #[derive(Deserialize)]
    struct Id {
        id: i64,
    }
    let created = env
        .d1("DB")?
        .prepare(
            "INSERT INTO keyword_rules (trigger, pattern, priority, reply_type, reply_value, owner_openid, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        )
        .bind(&[
            rule.trigger.as_str().into(),
            rule.pattern.as_str().into(),
            num(rule.priority),
            reply_type.into(),
            reply_value.as_str().into(),
            manager.owner().map_or(JsValue::NULL, Into::into),
            num(now_secs()),
        ])?
        .first::<Id>(None)
        .await?
        .ok_or_else(|| ApiError::Internal("insert returned no id".into()))?;
    super::mp::forget_cached_rules();
    http::json(
        201,
        &KeywordRule {
            id: created.id,
            ..rule
        },
    )
}

/// `DELETE /api/dash/keywords/:id` (own rules; the operator any).
pub async fn delete_keyword(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let manager = require_manager(req, env).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::Missing("关键词规则"))?;
    let db = env.d1("DB")?;
    let row = db
        .prepare("SELECT owner_openid FROM keyword_rules WHERE id = ?1")
        .bind(&[num(id)])?
        .first::<Owner>(None)
        .await?;
    match row {
        Some(row) if manager.may_change(row.owner_openid.as_deref()) => {}
        _ => return Err(ApiError::Missing("关键词规则")),
    }
    db.prepare("DELETE FROM keyword_rules WHERE id = ?1")
        .bind(&[num(id)])?
        .run()
        .await?;
    super::mp::forget_cached_rules();
    http::json(200, &serde_json::json!({ "deleted": id }))
}

#[derive(Deserialize)]
struct MenuRow {
    definition: String,
    updated_at: i64,
    published_at: Option<i64>,
}

async fn stored_menu(env: &Env) -> Result<Option<(MenuDef, MenuRow)>, ApiError> {
    let row = env
        .d1("DB")?
        .prepare("SELECT definition, updated_at, published_at FROM oa_menu WHERE id = 1")
        .first::<MenuRow>(None)
        .await?;
    match row {
        None => Ok(None),
        Some(row) => {
            let def = serde_json::from_str(&row.definition)
                .map_err(|e| ApiError::Internal(format!("stored menu: {e}")))?;
            Ok(Some((def, row)))
        }
    }
}

async fn known_routes(env: &Env) -> Result<Vec<String>, ApiError> {
    #[derive(Deserialize)]
    struct Key {
        key: String,
    }
    let rows = env
        .d1("DB")?
        .prepare("SELECT key FROM menu_routes")
        .all()
        .await?
        .results::<Key>()?;
    Ok(rows.into_iter().map(|r| r.key).collect())
}

async fn validate_menu(env: &Env, def: &MenuDef) -> Result<(), ApiError> {
    let known = known_routes(env).await?;
    def.validate(&|key: &MenuKey| known.iter().any(|k| k == key.as_str()))
        .map_err(|e| invalid("button", "INVALID_MENU", e.to_string()))
}

/// `GET /api/dash/menu` (operator): the stored menu (`null` before one is saved).
pub async fn get_menu(req: &Request, env: &Env) -> Result<Response, ApiError> {
    operator_only(&require_manager(req, env).await?, "公众号菜单")?;
    let body = match stored_menu(env).await? {
        Some((def, row)) => {
            serde_json::json!({ "menu": def, "updated_at": row.updated_at, "published_at": row.published_at })
        }
        None => serde_json::json!({ "menu": null, "updated_at": null, "published_at": null }),
    };
    http::json(200, &body)
}

/// `PUT /api/dash/menu` (a `core::menu::MenuDef`): checked against WeChat's limits and the
/// existing routes, stored (not yet published).
pub async fn put_menu(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    operator_only(&require_manager(&req, env).await?, "公众号菜单")?;
    let def: MenuDef = http::read_json(&mut req).await?;
    validate_menu(env, &def).await?;
    let json = serde_json::to_string(&def).map_err(|e| ApiError::Internal(e.to_string()))?;
    env.d1("DB")?
        .prepare(
            "INSERT INTO oa_menu (id, definition, updated_at) VALUES (1, ?1, ?2) \
             ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at",
        )
        .bind(&[json.into(), num(now_secs())])?
        .run()
        .await?;
    get_menu(&req, env).await
}

/// `POST /api/dash/menu/publish`: sends the stored menu to WeChat (`menu/create`), view
/// buttons pointing at `<public origin>/m/<route>`.
pub async fn publish_menu(req: &Request, env: &Env) -> Result<Response, ApiError> {
    operator_only(&require_manager(req, env).await?, "公众号菜单")?;
    let Some((def, _)) = stored_menu(env).await? else {
        return Err(ApiError::Missing("菜单（请先保存菜单）"));
    };
    validate_menu(env, &def).await?;
    let wechat = def.to_wechat_json(&public_origin(req, env)?);
    let client = OaClient::new(env)?;
    if let Err(refused) = client.create_menu(&wechat).await? {
        return Err(invalid(
            "button",
            "MENU_REFUSED",
            format!("微信拒绝了这个菜单：{} {}", refused.errcode, refused.errmsg),
        ));
    }
    env.d1("DB")?
        .prepare("UPDATE oa_menu SET published_at = ?1 WHERE id = 1")
        .bind(&[num(now_secs())])?
        .run()
        .await?;
    http::json(
        200,
        &serde_json::json!({ "published": true, "menu": wechat }),
    )
}
