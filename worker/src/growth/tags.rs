//! Customer tags (`core::tags`) on the payee dashboard, every call the signed-in, approved
//! payee's own data only:
//!
//! - `GET /api/dash/tags`: the tags, with how many carry each;
//! - `POST /api/dash/tags {"group", "name"}`: a new tag (201; the same group and name again is
//!   the same tag, 200);
//! - `DELETE /api/dash/tags/:id`: the tag and its assignments;
//! - `GET /api/dash/tags/people[?tag=<id>]`: the people list ([`super::people`]), filtered;
//! - `POST /api/dash/tags/:id/assign {"people": [..]}` / `…/unassign`: singly or in bulk;
//! - `POST /api/dash/tags/:id/remind {"collection_id"}`: remind those carrying the tag who
//!   have not paid split `collection_id`, through the split's own "remind now"
//!   (`reminders::remind_among`: same template, 12-hour spacing and log).

use serde::Deserialize;
use shoukuan_core::tags::{bulk, Tag, MAX_TAGS};
use worker::{Env, Request, Response};

use super::people::{self, own_tag, tagged};
use crate::error::ApiError;
use crate::http::{self, num};
use crate::session::{now_secs, require_approved_payee};

fn invalid(field: &str, code: &str, message: String) -> ApiError {
    ApiError::Invalid(vec![shoukuan_core::collection::FieldError {
        field: field.into(),
        code: code.into(),
        message,
    }])
}

/// A tag id from the path.
pub fn parse_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(ApiError::Missing("标签"))
}

#[derive(serde::Serialize, Deserialize)]
struct TagRow {
    id: i64,
    grp: String,
    name: String,
    people: i64,
}

/// `GET /api/dash/tags`.
pub async fn list(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let tags = env
        .d1("DB")?
        .prepare(
            "SELECT t.id, t.grp, t.name, (SELECT COUNT(*) FROM person_tags p WHERE p.tag_id = t.id) AS people \
             FROM tags t WHERE t.payee_openid = ?1 ORDER BY t.grp, t.name",
        )
        .bind(&[payee.as_str().into()])?
        .all()
        .await?
        .results::<TagRow>()?;
    let tags: Vec<serde_json::Value> = tags
        .into_iter()
        .map(|t| serde_json::json!({ "id": t.id, "group": t.grp, "name": t.name, "people": t.people }))
        .collect();
    http::json(200, &serde_json::json!({ "tags": tags }))
}

#[derive(Deserialize)]
struct NewTag {
    #[serde(default)]
    group: String,
    name: String,
}

/// `POST /api/dash/tags`.
pub async fn create(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct Id {
        id: i64,
    }
    let payee = require_approved_payee(&req, env).await?;
    let body: NewTag = http::read_json(&mut req).await?;
    let tag = Tag::new(&body.group, &body.name)
        .map_err(|e| invalid("name", "INVALID_TAG", e.to_string()))?;
    let db = env.d1("DB")?;
    let existing = db
        .prepare("SELECT id FROM tags WHERE payee_openid = ?1 AND grp = ?2 AND name = ?3")
        .bind(&[
            payee.as_str().into(),
            tag.group.as_str().into(),
            tag.name.as_str().into(),
        ])?
        .first::<Id>(None)
        .await?;
    if let Some(found) = existing {
        return http::json(
            200,
            &serde_json::json!({ "id": found.id, "group": tag.group, "name": tag.name }),
        );
    }
    // The cap is part of the insert, so racing creations cannot pass it.
    let inserted = db
        .prepare(
            "INSERT INTO tags (payee_openid, grp, name, created_at) SELECT ?1, ?2, ?3, ?4 \
             WHERE (SELECT COUNT(*) FROM tags WHERE payee_openid = ?1) < ?5 \
             ON CONFLICT (payee_openid, grp, name) DO UPDATE SET grp = excluded.grp RETURNING id",
        )
        .bind(&[
            payee.as_str().into(),
            tag.group.as_str().into(),
            tag.name.as_str().into(),
            num(now_secs()),
            num(MAX_TAGS as i64),
        ])?
        .first::<Id>(None)
        .await?
        .ok_or_else(|| {
            invalid(
                "name",
                "TOO_MANY_TAGS",
                format!("最多 {MAX_TAGS} 个标签，请先删除不用的"),
            )
        })?;
    http::json(
        201,
        &serde_json::json!({ "id": inserted.id, "group": tag.group, "name": tag.name }),
    )
}

/// `DELETE /api/dash/tags/:id`.
pub async fn delete(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let tag = parse_id(id)?;
    own_tag(env, payee.as_str(), tag).await?;
    let db = env.d1("DB")?;
    db.batch(vec![
        db.prepare("DELETE FROM person_tags WHERE tag_id = ?1 AND payee_openid = ?2")
            .bind(&[num(tag), payee.as_str().into()])?,
        db.prepare("DELETE FROM tags WHERE id = ?1 AND payee_openid = ?2")
            .bind(&[num(tag), payee.as_str().into()])?,
    ])
    .await?;
    http::json(200, &serde_json::json!({ "deleted": tag }))
}

#[derive(Deserialize)]
struct PeopleQuery {
    #[serde(default)]
    tag: Option<String>,
}

/// `GET /api/dash/tags/people[?tag=<id>]`.
pub async fn people_list(req: &Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(req, env).await?;
    let filter = match req
        .query::<PeopleQuery>()
        .ok()
        .and_then(|q| q.tag)
        .filter(|t| !t.is_empty())
    {
        Some(t) => {
            let tag = parse_id(&t)?;
            own_tag(env, payee.as_str(), tag).await?;
            Some(tag)
        }
        None => None,
    };
    let rows = people::gather(env, payee.as_str()).await?.list(filter);
    http::json(200, &serde_json::json!({ "people": rows }))
}

#[derive(Deserialize)]
struct Assignment {
    people: Vec<String>,
}

/// `POST /api/dash/tags/:id/assign` (`on`) and `…/unassign`: `{ "changed": n }`.
pub async fn assign(id: &str, on: bool, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(&req, env).await?;
    let tag = parse_id(id)?;
    let body: Assignment = http::read_json(&mut req).await?;
    let people = bulk(&body.people).map_err(|m| invalid("people", "INVALID_PEOPLE", m))?;
    own_tag(env, payee.as_str(), tag).await?;
    let db = env.d1("DB")?;
    let now = now_secs();
    let mut statements = Vec::with_capacity(people.len());
    for person in &people {
        let statement = if on {
            db.prepare(
                "INSERT OR IGNORE INTO person_tags (tag_id, payee_openid, person, created_at) VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(&[
                num(tag),
                payee.as_str().into(),
                person.key().into(),
                num(now),
            ])?
        } else {
            db.prepare(
                "DELETE FROM person_tags WHERE tag_id = ?1 AND payee_openid = ?2 AND person = ?3",
            )
            .bind(&[num(tag), payee.as_str().into(), person.key().into()])?
        };
        statements.push(statement);
    }
    let changed: usize = db
        .batch(statements)
        .await?
        .iter()
        .filter_map(|r| r.meta().ok().flatten().and_then(|m| m.changes))
        .sum();
    http::json(200, &serde_json::json!({ "changed": changed }))
}

#[derive(Deserialize)]
struct RemindBody {
    collection_id: String,
}

/// `POST /api/dash/tags/:id/remind {"collection_id"}`: `{ "matched", "unreachable", "sent",
/// "failed" }` — `matched` unpaid sign-ups carry the tag, of which `unreachable` did not sign
/// up through the Official Account (no message can reach them).
pub async fn remind(id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let payee = require_approved_payee(&req, env).await?;
    let tag = parse_id(id)?;
    let body: RemindBody = http::read_json(&mut req).await?;
    let carriers = tagged(env, payee.as_str(), tag).await?;
    let split = body.collection_id.trim();
    if crate::notices::owner_of(env, split).await?.as_deref() != Some(payee.as_str()) {
        return Err(ApiError::Missing("接龙"));
    }
    let signups = people::signups(env, payee.as_str(), Some(split)).await?;
    let (mut among, mut unreachable) = (Vec::new(), 0u32);
    for s in signups.iter().filter(|s| s.status != "paid") {
        if !carriers.contains(&people::of_signup(s).key()) {
            continue;
        }
        if s.openid_sealed.is_some() {
            among.push(s.id.clone());
        } else {
            unreachable += 1;
        }
    }
    let matched = among.len() as u32 + unreachable;
    let reminded = if among.is_empty() {
        None
    } else {
        let now = crate::reminders::request_now(&req, env);
        Some(crate::reminders::remind_among(split, Some(&among), now, env).await?)
    };
    let count = |f: fn(&crate::reminders::Reminded) -> u32| reminded.as_ref().map_or(0, f);
    http::json(
        200,
        &serde_json::json!({
            "matched": matched,
            "unreachable": unreachable,
            "sent": count(|r| r.sent),
            "failed": count(|r| r.failed),
            "held": count(|r| r.held),
            "held_until": reminded.as_ref().and_then(|r| r.held_until),
        }),
    )
}
