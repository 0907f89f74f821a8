//! Customer tags: a payee's free tags in groups (班级 → 三年二班) on the people who paid or
//! signed up, and the people list those tags filter.
//!
//! A person exists only inside one payee's data. [`Person`] is how they are known there: by a
//! keyed hash of their openid when one is known (a merchant payment, a sign-up through the
//! Official Account — never the openid itself), otherwise by the sign-up's masked name
//! (`刘**`), so two sign-ups with the same masked name are one person to that payee.
//! [`People`] folds a payee's payments and sign-ups into one row per person.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::money::Fen;
use crate::text::{clean, TextError};

/// Most tags one payee may have.
pub const MAX_TAGS: usize = 200;
/// Most people one bulk assignment may name.
pub const MAX_BULK: usize = 500;
/// Longest group name, in characters (may be empty: 未分组).
pub const GROUP_CHARS: usize = 10;
/// Longest tag name, in characters.
pub const NAME_CHARS: usize = 20;

/// A checked tag: a group (possibly empty) and a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    /// The group (`班级`), empty when the tag stands alone.
    pub group: String,
    /// The tag (`三年二班`).
    pub name: String,
}

impl Tag {
    /// Trims and checks both texts (one line, no control characters, within the lengths).
    pub fn new(group: &str, name: &str) -> Result<Tag, TextError> {
        Ok(Tag {
            group: clean(group, "标签分组", GROUP_CHARS, false)?,
            name: clean(name, "标签", NAME_CHARS, true)?,
        })
    }
}

/// One person in one payee's data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Person {
    /// Known by openid: its keyed hash (32 lowercase hex digits).
    Member(String),
    /// Known only by a sign-up's masked name.
    Named(String),
}

fn is_hash(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Person {
    /// A person known by the keyed hash of their openid; `None` for anything else.
    pub fn member(hash: &str) -> Option<Person> {
        is_hash(hash).then(|| Person::Member(hash.to_owned()))
    }

    /// A person known by a masked name.
    pub fn named(masked: &str) -> Person {
        Person::Named(masked.to_owned())
    }

    /// Reads a key of [`Person::key`]; `None` when it is not one.
    pub fn parse(key: &str) -> Option<Person> {
        if let Some(hash) = key.strip_prefix('o') {
            return Person::member(hash);
        }
        let name = key.strip_prefix('n')?;
        let ok =
            (1..=NAME_CHARS).contains(&name.chars().count()) && !name.chars().any(char::is_control);
        ok.then(|| Person::named(name))
    }

    /// The stored key: `o` + hash, or `n` + masked name.
    pub fn key(&self) -> String {
        match self {
            Person::Member(h) => format!("o{h}"),
            Person::Named(n) => format!("n{n}"),
        }
    }

    /// What the payee sees when nothing better is known: `微信用户 1a2b`, or the masked name.
    pub fn fallback_label(&self) -> String {
        match self {
            Person::Member(h) => format!("微信用户 {}", &h[..4]),
            Person::Named(n) => n.clone(),
        }
    }
}

/// The people of a bulk assignment: 1–[`MAX_BULK`] keys, each a [`Person`] key, without
/// repeats. The message is for people.
pub fn bulk(keys: &[String]) -> Result<Vec<Person>, String> {
    if keys.is_empty() || keys.len() > MAX_BULK {
        return Err(format!("一次可以给 1–{MAX_BULK} 人打标签"));
    }
    let mut people: Vec<Person> = Vec::with_capacity(keys.len());
    for key in keys {
        let person = Person::parse(key).ok_or_else(|| format!("无法识别的客户：{key}"))?;
        if !people.contains(&person) {
            people.push(person);
        }
    }
    Ok(people)
}

/// One row of the payee's people list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonRow {
    /// [`Person::key`]: what tags are assigned to.
    pub person: String,
    /// A masked name from a sign-up, else [`Person::fallback_label`].
    pub label: String,
    /// Whether a template message can reach them (known by openid).
    pub reachable: bool,
    /// Verified payments (merchant mode).
    pub payments: u32,
    /// Their total, fen.
    pub paid_fen: i64,
    /// Sign-ups to splits.
    pub signups: u32,
    /// Of which not paid yet.
    pub unpaid_signups: u32,
    /// The latest payment or sign-up, Unix seconds (0: only a tag is left).
    pub last_at: i64,
    /// Ids of the tags they carry.
    pub tags: Vec<i64>,
}

/// A payee's people, folded from payments, sign-ups and tag assignments.
#[derive(Debug, Default)]
pub struct People {
    rows: BTreeMap<Person, PersonRow>,
}

impl People {
    /// No one yet.
    pub fn new() -> People {
        People::default()
    }

    fn row(&mut self, person: &Person) -> &mut PersonRow {
        self.rows
            .entry(person.clone())
            .or_insert_with(|| PersonRow {
                person: person.key(),
                label: person.fallback_label(),
                reachable: matches!(person, Person::Member(_)),
                payments: 0,
                paid_fen: 0,
                signups: 0,
                unpaid_signups: 0,
                last_at: 0,
                tags: Vec::new(),
            })
    }

    /// A verified payment of `amount` at `at`.
    pub fn payment(&mut self, person: &Person, amount: Fen, at: i64) {
        let row = self.row(person);
        row.payments += 1;
        row.paid_fen = row.paid_fen.saturating_add(amount.get());
        row.last_at = row.last_at.max(at);
    }

    /// A sign-up under `masked_name`, paid or not, at `at`.
    pub fn signup(&mut self, person: &Person, masked_name: &str, paid: bool, at: i64) {
        let row = self.row(person);
        row.signups += 1;
        if !paid {
            row.unpaid_signups += 1;
        }
        row.label = masked_name.to_owned();
        row.last_at = row.last_at.max(at);
    }

    /// `person` carries tag `tag` (a person known only by a tag still shows).
    pub fn tagged(&mut self, person: &Person, tag: i64) {
        let row = self.row(person);
        if !row.tags.contains(&tag) {
            row.tags.push(tag);
            row.tags.sort_unstable();
        }
    }

    /// The list, latest first, only those carrying `tag` when given.
    pub fn list(self, tag: Option<i64>) -> Vec<PersonRow> {
        let mut rows: Vec<PersonRow> = self
            .rows
            .into_values()
            .filter(|r| tag.is_none_or(|t| r.tags.contains(&t)))
            .collect();
        rows.sort_by(|a, b| b.last_at.cmp(&a.last_at).then(a.person.cmp(&b.person)));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H1: &str = "0123456789abcdef0123456789abcdef";
    const H2: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn tags_are_trimmed_and_checked() {
        let t = Tag::new(" 班级 ", "三年二班").unwrap();
        assert_eq!((t.group.as_str(), t.name.as_str()), ("班级", "三年二班"));
        assert_eq!(Tag::new("", "VIP").unwrap().group, "");
        assert!(Tag::new("班级", "  ").is_err());
        assert!(Tag::new("班级", &"一".repeat(21)).is_err());
        assert!(Tag::new(&"组".repeat(11), "x").is_err());
        assert!(Tag::new("班级", "三年\n二班").is_err());
    }

    #[test]
    fn person_keys_round_trip_and_refuse_anything_else() {
        let m = Person::member(H1).unwrap();
        assert_eq!(Person::parse(&m.key()), Some(m.clone()));
        assert_eq!(m.fallback_label(), "微信用户 0123");
        let n = Person::named("刘**");
        assert_eq!(n.key(), "n刘**");
        assert_eq!(Person::parse("n刘**"), Some(n));
        // An openid is not a hash: never accepted as a member key.
        assert_eq!(Person::parse("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"), None);
        assert_eq!(Person::member(&H1.to_uppercase()), None);
        assert_eq!(Person::parse("x123"), None);
        assert_eq!(Person::parse("n"), None);
    }

    #[test]
    fn bulk_assignments_are_bounded_and_deduplicated() {
        let keys = vec![format!("o{H1}"), format!("o{H1}"), "n王**".to_owned()];
        assert_eq!(bulk(&keys).unwrap().len(), 2);
        assert!(bulk(&[]).is_err());
        assert!(bulk(&vec!["n王**".to_owned(); MAX_BULK + 1]).is_err());
        assert!(bulk(&["bad".to_owned()]).is_err());
    }

    #[test]
    fn people_fold_payments_and_signups_and_filter_by_tag() {
        let a = Person::member(H1).unwrap();
        let b = Person::member(H2).unwrap();
        let c = Person::named("王**");
        let mut people = People::new();
        people.payment(&a, Fen::new(6800), 100);
        people.payment(&a, Fen::new(1200), 300);
        people.signup(&b, "甲**", false, 200);
        people.signup(&b, "甲**", true, 250);
        people.signup(&c, "王**", false, 50);
        people.tagged(&a, 7);
        people.tagged(&b, 7);
        people.tagged(&b, 3);
        people.tagged(&b, 3);
        let rows = people.list(None);
        let keys: Vec<&str> = rows.iter().map(|r| r.person.as_str()).collect();
        assert_eq!(keys, vec![a.key(), b.key(), c.key()]);
        assert_eq!((rows[0].payments, rows[0].paid_fen), (2, 8000));
        assert_eq!(rows[0].label, "微信用户 0123");
        assert_eq!((rows[1].signups, rows[1].unpaid_signups), (2, 1));
        assert_eq!(
            (rows[1].label.as_str(), rows[1].tags.clone()),
            ("甲**", vec![3, 7])
        );
        assert!(rows[1].reachable && !rows[2].reachable);
    }

    #[test]
    fn the_tag_filter_keeps_only_its_carriers() {
        let a = Person::member(H1).unwrap();
        let c = Person::named("王**");
        let mut people = People::new();
        people.signup(&a, "甲**", false, 10);
        people.signup(&c, "王**", false, 20);
        people.tagged(&c, 9);
        let only: Vec<String> = people.list(Some(9)).into_iter().map(|r| r.person).collect();
        assert_eq!(only, vec![c.key()]);
    }
}
