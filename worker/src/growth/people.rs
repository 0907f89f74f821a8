//! A payee's people (`core::tags`): who paid (merchant orders) or signed up (splits), each as a
//! [`Person`] of this payee's data — the keyed hash of their openid when it is known
//! (`personal_data::openid_key`, as stored in `orders.payer_hash` and `participants.openid_key`,
//! so no sealed value is opened to list people), else the sign-up's masked name — and which of
//! them carry a tag. Only this payee's rows are ever read.

use std::collections::BTreeSet;

use serde::Deserialize;
use shoukuan_core::money::Fen;
use shoukuan_core::tags::{People, Person};
use worker::wasm_bindgen::JsValue;
use worker::Env;

use crate::error::ApiError;
use crate::http::num;

/// Rows read per source at most (a payee's people list).
const MAX_ROWS: usize = 5_000;

/// The person a sign-up is: by its openid's keyed hash when it came through the Official
/// Account, else by its masked name.
pub fn of_signup(s: &Signup) -> Person {
    s.openid_key
        .as_deref()
        .and_then(Person::member)
        .unwrap_or_else(|| Person::named(&s.name_masked))
}

/// A sign-up row of one of the payee's splits.
#[derive(Deserialize)]
pub struct Signup {
    pub id: String,
    pub name_masked: String,
    pub openid_key: Option<String>,
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
        payer_hash: String,
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
            "SELECT payer_hash, amount_fen, COALESCE(paid_at, created_at) AS at FROM orders \
             WHERE payee_openid = ?1 AND payer_hash IS NOT NULL \
             AND state IN ('paid', 'refunding', 'refunded') ORDER BY created_at DESC LIMIT {MAX_ROWS}"
        ))
        .bind(&[payee.into()])?
        .all()
        .await?
        .results::<Paid>()?;
    for p in &paid {
        if let Some(person) = Person::member(&p.payer_hash) {
            people.payment(&person, Fen::new(p.amount_fen), p.at);
        }
    }
    for s in &signups(env, payee, None).await? {
        people.signup(
            &of_signup(s),
            &s.name_masked,
            s.status == "paid",
            s.created_at,
        );
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
            "SELECT p.id, p.name_masked, p.openid_key, p.openid_sealed, p.status, p.created_at FROM participants p \
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

    /// Whether an order whose payer's keyed hash is `payer_hash` is kept.
    pub fn keeps(&self, payer_hash: Option<&str>) -> bool {
        payer_hash
            .and_then(Person::member)
            .is_some_and(|p| self.people.contains(&p.key()))
    }
}
