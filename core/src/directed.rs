//! Directed requests (定向催收): "张三 ¥120，李四 ¥80，周六聚餐" — a request addressed to named
//! people, each with an amount and an optional due date. It is the split machinery with named
//! slots: an itemized split whose lines are the debtors' shares (`第1位`, `第2位`, … — the
//! public page never shows a name), capped at the number of debtors, with one pre-made sign-up
//! per debtor holding that line. Each debtor gets a personal link (their participant token);
//! everyone else sees their name masked, as on every split.
//!
//! A 我已付款 may come with a transfer screenshot (转账凭证): JPG, PNG or WebP (checked by its
//! first bytes), at most [`MAX_PROOF_BYTES`], visible only to the payee.

use serde::{Deserialize, Serialize};

use crate::collection::{FieldError, NewCollection};
use crate::deadline::Deadline;
use crate::money::Fen;
use crate::personal_data::ParticipantName;
use crate::split::{NewItem, NewSplit, Pick, MAX_ITEMS};

/// Most debtors in one request (one itemized line each).
pub const MAX_DEBTORS: usize = MAX_ITEMS;
/// Largest transfer screenshot, bytes (the price-page image limit).
pub const MAX_PROOF_BYTES: usize = crate::product::MAX_IMAGE_BYTES;

/// One debtor as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDebtor {
    /// Name (sealed at rest, masked for everyone but the payee and the debtor).
    pub name: String,
    /// Amount in yuan, `"120"`.
    pub amount: String,
    /// Beijing time `YYYY-MM-DDTHH:MM`; empty for none.
    #[serde(default)]
    pub due: Option<String>,
}

/// `POST /api/directed`: the collection fields and the debtors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDirected {
    /// Payee name, title, note, 收款码, invite code (the amount is ignored).
    #[serde(flatten)]
    pub collection: NewCollection,
    /// Who owes what.
    pub debtors: Vec<NewDebtor>,
}

/// A checked debtor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debtor {
    /// Name.
    pub name: ParticipantName,
    /// Amount.
    pub amount: Fen,
    /// Due date.
    pub due: Option<Deadline>,
}

fn error(field: String, code: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        code: code.into(),
        message: message.into(),
    }
}

/// The public name of debtor `i`'s line (never their name).
pub fn slot_name(i: usize) -> String {
    format!("第{}位", i + 1)
}

impl NewDirected {
    /// Checks the debtors (`debtors.<i>.name|amount|due`); `now` bounds the due dates.
    pub fn debtors(&self, now: i64) -> Result<Vec<Debtor>, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.debtors.is_empty() || self.debtors.len() > MAX_DEBTORS {
            errors.push(error(
                "debtors".into(),
                "INVALID_COUNT",
                format!("请填写 1–{MAX_DEBTORS} 位付款人"),
            ));
            return Err(errors);
        }
        let mut out = Vec::new();
        for (i, d) in self.debtors.iter().enumerate() {
            let name = ParticipantName::parse(&d.name)
                .map_err(|e| {
                    errors.push(error(
                        format!("debtors.{i}.name"),
                        "INVALID_NAME",
                        e.to_string(),
                    ))
                })
                .ok();
            let amount = Fen::parse_yuan(&d.amount)
                .map_err(|e| {
                    errors.push(error(
                        format!("debtors.{i}.amount"),
                        "INVALID_AMOUNT",
                        e.to_string(),
                    ))
                })
                .ok();
            let due = match d.due.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Some(None),
                Some(typed) => Deadline::parse_future(typed, now)
                    .map(Some)
                    .map_err(|e| {
                        errors.push(error(
                            format!("debtors.{i}.due"),
                            "INVALID_DUE",
                            e.to_string(),
                        ))
                    })
                    .ok(),
            };
            if let (Some(name), Some(amount), Some(due)) = (name, amount, due) {
                out.push(Debtor { name, amount, due });
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

/// The split a directed request is: one line per debtor at their amount, capped at their
/// number, ending at the latest due date (when every debtor has one).
pub fn as_split(debtors: &[Debtor]) -> NewSplit {
    let deadline = debtors
        .iter()
        .map(|d| d.due)
        .collect::<Option<Vec<_>>>()
        .and_then(|dues| dues.into_iter().max())
        .map(Deadline::to_input_value);
    NewSplit {
        mode: "itemized".into(),
        items: debtors
            .iter()
            .enumerate()
            .map(|(i, d)| NewItem {
                name: slot_name(i),
                price: d.amount.to_yuan_string(),
                quantity: false,
            })
            .collect(),
        cap: Some(debtors.len().to_string()),
        deadline,
        ..NewSplit::default()
    }
}

/// Debtor `i`'s line.
pub fn picks_of(i: usize) -> Vec<Pick> {
    vec![Pick { item: i, qty: 1 }]
}

/// The content type a transfer screenshot is stored under, when its declared type is an image
/// type we keep and its first bytes agree.
pub fn proof_type(declared: &str, bytes: &[u8]) -> Option<&'static str> {
    let ct = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let known = match ct.as_str() {
        "image/jpeg" => "image/jpeg",
        "image/png" => "image/png",
        "image/webp" => "image/webp",
        _ => return None,
    };
    crate::product::sniff_matches(bytes, known).then_some(known)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directed(debtors: Vec<NewDebtor>) -> NewDirected {
        NewDirected {
            collection: NewCollection::default(),
            debtors,
        }
    }

    fn debtor(name: &str, amount: &str, due: Option<&str>) -> NewDebtor {
        NewDebtor {
            name: name.into(),
            amount: amount.into(),
            due: due.map(Into::into),
        }
    }

    #[test]
    fn debtors_become_an_itemized_split_with_anonymous_lines() {
        let now = Deadline::parse_cst("2026-11-29T10:00").unwrap().unix();
        let d = directed(vec![
            debtor("张三", "120", Some("2026-12-05T18:00")),
            debtor("李四", "80", Some("2026-12-06T12:00")),
        ])
        .debtors(now)
        .unwrap();
        let split = as_split(&d);
        assert_eq!(split.mode, "itemized");
        assert_eq!(split.items[0].name, "第1位");
        assert_eq!(split.items[1].price, "80.00");
        assert_eq!(split.cap.as_deref(), Some("2"));
        assert_eq!(split.deadline.as_deref(), Some("2026-12-06T12:00"));
        let spec = split.validate(now).unwrap();
        assert_eq!(spec.cap, Some(2));
        // Without a due date for everyone there is no overall deadline.
        let open = directed(vec![
            debtor("张三", "1", None),
            debtor("李四", "2", Some("2026-12-06T12:00")),
        ])
        .debtors(now)
        .unwrap();
        assert_eq!(as_split(&open).deadline, None);
        assert_eq!(picks_of(1), vec![Pick { item: 1, qty: 1 }]);
    }

    #[test]
    fn bad_debtors_are_named_by_field() {
        let now = Deadline::parse_cst("2026-11-29T10:00").unwrap().unix();
        let errors = directed(vec![debtor("", "abc", Some("2020-01-01T00:00"))])
            .debtors(now)
            .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["debtors.0.name", "debtors.0.amount", "debtors.0.due"]
        );
        assert_eq!(
            directed(vec![]).debtors(now).unwrap_err()[0].field,
            "debtors"
        );
        let many = (0..=MAX_DEBTORS)
            .map(|_| debtor("王五", "1", None))
            .collect();
        assert!(directed(many).debtors(now).is_err());
    }

    #[test]
    fn only_real_images_are_kept_as_proof() {
        let png = b"\x89PNG\r\n\x1a\n0000";
        assert_eq!(proof_type("image/png", png), Some("image/png"));
        assert_eq!(proof_type("IMAGE/PNG; charset=x", png), Some("image/png"));
        assert_eq!(proof_type("image/jpeg", png), None);
        assert_eq!(proof_type("text/plain", b"hello"), None);
        assert_eq!(proof_type("image/gif", b"GIF89a"), None);
    }
}
