//! A payee's people (`core::tags`): who paid (merchant orders) or signed up (splits), each as a
//! [`Person`] of this payee's data — the keyed hash of their openid when it is known (the same
//! hash the points ledger keys members by, `points::member_of`), else the sign-up's masked
//! name — and which of them carry a tag. Only this payee's rows are ever read.

use std::collections::BTreeSet;

use serde::Deserialize;
use shoukuan_core::money::Fen;
use shoukuan_core::personal_data::DataKey;
use shoukuan_core::tags::{People, Person};
use worker::wasm_bindgen::JsValue;
use worker::Env;

use super::points::member_of;
use crate::error::ApiError;
use crate::personal_data::{self, column};

/// Rows read per source at most (a payee's people list).
const MAX_ROWS: usize = 5_000;

fn num(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// The person an openid is.
pub fn of_openid(env: &Env, openid: &str) -> Option<Person> {
    member_of(env, openid).and_then(|h| Person::member(&h))
}

/// The person a sign-up is: by its sealed openid when it came through the Official Account,
/// else by its masked name.
pub fn of_signup(
    env: &Env,
    key: &DataKey,
    openid_sealed: Option<&str>,
    name_masked: &str,
) -> Result<Person, ApiError> {
    if let Some(sealed) = openid_sealed {
        let openid = personal_data::open(key, column::OPENID, sealed)?;
        if let Some(person) = of_openid(env, &openid) {
            return Ok(person);
        }
    }
    Ok(Person::named(name_masked))
}

/// A sign-up row of one of the payee's splits.
#[derive(Deserialize)]
pub struct Signup {
    pub id: String,
    pub name_masked: String,
    pub openid_sealed: Option<String>,
    pub status: String,
    pub created_at: i64,
}

/// The keys of the people carrying tag `tag` of `payee`; `Missing` when the tag is not theirs.
pub async fn tagged(env: &Env, payee: &str, tag: i64) -> Result<BTreeSet<String>, ApiError> {
    #[derive(Deserialize)]
    struct Key {
        person: String,
    }
    own_tag(env, payee, tag).await?;
    Ok(env
        .d1("DB")?
        .prepare("SELECT person FROM person_tags WHERE tag_id = ?1 AND payee_openid = ?2")
        .bind(&[num(tag), payee.into()])?
        .all()
        .await?
        .results::<Key>()?
        .into_iter()
        .map(|k| k.person)
        .collect())
}

/// Checks that tag `tag` is `payee`'s (another payee's tag is as missing as no tag).
pub async fn own_tag(env: &Env, payee: &str, tag: i64) -> Result<(), ApiError> {
    env.d1("DB")?
        .prepare("SELECT 1 AS n FROM tags WHERE id = ?1 AND payee_openid = ?2")
        .bind(&[num(tag), payee.into()])?
        .first::<serde_json::Value>(None)
        .await?
        .map(|_| ())
        .ok_or(ApiError::Missing("标签"))
}

/// Every person of `payee`: payments, sign-ups and tags folded together.
pub async fn gather(env: &Env, payee: &str) -> Result<People, ApiError> {
    #[derive(Deserialize)]
    struct Paid {
        payer_openid: String,
        amount_fen: i64,
        at: i64,
    }
    #[derive(Deserialize)]
    struct Carried {
        tag_id: i64,
        person: String,
    }
    let db = env.d1("DB")?;
    let mut people = People::new();
    let paid = db
        .prepare(format!(
            "SELECT payer_openid, amount_fen, COALESCE(paid_at, created_at) AS at FROM orders \
             WHERE payee_openid = ?1 AND payer_openid IS NOT NULL \
             AND state IN ('paid', 'refunding', 'refunded') ORDER BY created_at DESC LIMIT {MAX_ROWS}"
        ))
        .bind(&[payee.into()])?
        .all()
        .await?
        .results::<Paid>()?;
    for p in &paid {
        if let Some(person) = of_openid(env, &p.payer_openid) {
            people.payment(&person, Fen::new(p.amount_fen), p.at);
        }
    }
    let signups = signups(env, payee, None).await?;
    if !signups.is_empty() {
        let key = personal_data::key(env)?;
        for s in &signups {
            let person = of_signup(env, &key, s.openid_sealed.as_deref(), &s.name_masked)?;
            people.signup(&person, &s.name_masked, s.status == "paid", s.created_at);
        }
    }
    let carried = db
        .prepare("SELECT tag_id, person FROM person_tags WHERE payee_openid = ?1")
        .bind(&[payee.into()])?
        .all()
        .await?
        .results::<Carried>()?;
    for c in &carried {
        if let Some(person) = Person::parse(&c.person) {
            people.tagged(&person, c.tag_id);
        }
    }
    Ok(people)
}

/// Sign-ups to `payee`'s splits (only split `collection` when given), newest first.
pub async fn signups(
    env: &Env,
    payee: &str,
    collection: Option<&str>,
) -> Result<Vec<Signup>, ApiError> {
    Ok(env
        .d1("DB")?
        .prepare(format!(
            "SELECT p.id, p.name_masked, p.openid_sealed, p.status, p.created_at FROM participants p \
             JOIN collections c ON c.id = p.collection_id WHERE c.owner_openid = ?1 \
             AND (?2 IS NULL OR c.id = ?2) ORDER BY p.created_at DESC LIMIT {MAX_ROWS}"
        ))
        .bind(&[
            payee.into(),
            collection.map_or(JsValue::NULL, JsValue::from_str),
        ])?
        .all()
        .await?
        .results::<Signup>()?)
}

/// An export's `tag` filter: keeps the rows whose payer carries the tag.
pub struct TagFilter {
    people: BTreeSet<String>,
}

impl TagFilter {
    /// The filter of `payee`'s tag `tag` (`Missing` when it is not theirs).
    pub async fn new(env: &Env, payee: &str, tag: i64) -> Result<TagFilter, ApiError> {
        Ok(TagFilter {
            people: tagged(env, payee, tag).await?,
        })
    }

    /// Whether an order paid by `payer_openid` is kept.
    pub fn keeps(&self, env: &Env, payer_openid: Option<&str>) -> bool {
        payer_openid
            .and_then(|o| of_openid(env, o))
            .is_some_and(|p| self.people.contains(&p.key()))
    }
}
