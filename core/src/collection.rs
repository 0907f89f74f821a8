//! Collections (收款单): what a payee publishes, and the JSON contract between app and worker.
//!
//! The app validates with [`NewCollection::validate`] for instant feedback; the worker runs the
//! same function again as the authority before anything is stored.

use serde::{Deserialize, Serialize};

use crate::lint;
use crate::money::{AmountError, Fen};
use crate::paycode::PayCode;
use crate::text::{Note, PayeeName, TextError, Title};

/// How much the payer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AmountRule {
    /// A fixed amount.
    Fixed {
        /// The amount.
        fen: Fen,
    },
    /// The payer types the amount in WeChat after scanning.
    PayerEntered,
}

/// The kind of a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A simple payment request.
    Request,
    /// A Moments price page.
    Product,
    /// A group bill split (接龙).
    Split,
}

impl Kind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Product => "product",
            Kind::Split => "split",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "request" => Some(Kind::Request),
            "product" => Some(Kind::Product),
            "split" => Some(Kind::Split),
            _ => None,
        }
    }
}

/// Whether payers can still pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Published and payable.
    Open,
    /// Closed by the payee: the page stays, the QR goes.
    Closed,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "open" => Some(Status::Open),
            "closed" => Some(Status::Closed),
            _ => None,
        }
    }
}

/// Body of `POST /api/collections` (and of `PUT /api/collections/:id`, where `pay_code` and
/// `invite_code` are ignored). Fields are raw text as typed; [`NewCollection::validate`]
/// turns them into a [`ValidCollection`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCollection {
    /// The payee's display name.
    pub payee_name: String,
    /// Title shown on top of the page.
    pub title: String,
    /// `"12.34"` for a fixed amount; absent, `null` or empty for "付款人填写".
    #[serde(default)]
    pub amount: Option<String>,
    /// Note of at most 30 characters.
    #[serde(default)]
    pub note: String,
    /// The decoded content of the payee's 收款码.
    pub pay_code: String,
    /// The operator's invite code, when publishing is restricted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite_code: Option<String>,
}

/// A collection whose every field has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidCollection {
    /// Payee display name.
    pub payee_name: PayeeName,
    /// Title.
    pub title: Title,
    /// Amount rule.
    pub amount: AmountRule,
    /// Note.
    pub note: Note,
    /// The receive code content.
    pub pay_code: PayCode,
}

/// One refused field, for forms (`field` matches the JSON field name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The JSON field name.
    pub field: String,
    /// A stable machine code: `INVALID_AMOUNT`, `INVALID_TEXT`, `INVALID_PAY_CODE`, `COMPLIANCE`.
    pub code: String,
    /// What is wrong, in Chinese.
    pub message: String,
}

impl FieldError {
    fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}

impl NewCollection {
    /// Checks every field and the compliance lint of title and note; returns all problems at once.
    pub fn validate(&self) -> Result<ValidCollection, Vec<FieldError>> {
        let mut errors = Vec::new();
        let payee_name = text(
            PayeeName::parse(&self.payee_name),
            "payee_name",
            &mut errors,
        );
        let title = text(Title::parse(&self.title), "title", &mut errors);
        let note = text(Note::parse(&self.note), "note", &mut errors);
        let amount = match self.amount.as_deref().map(str::trim) {
            None | Some("") => Some(AmountRule::PayerEntered),
            Some(typed) => match Fen::parse_yuan(typed) {
                Ok(fen) => Some(AmountRule::Fixed { fen }),
                Err(e) => {
                    errors.push(amount_error(e));
                    None
                }
            },
        };
        let pay_code = PayCode::parse(&self.pay_code)
            .map_err(|e| {
                errors.push(FieldError::new(
                    "pay_code",
                    "INVALID_PAY_CODE",
                    e.to_string(),
                ))
            })
            .ok();
        for (field, value) in [
            ("payee_name", &self.payee_name),
            ("title", &self.title),
            ("note", &self.note),
        ] {
            for hit in lint::check(value) {
                errors.push(FieldError::new(
                    field,
                    "COMPLIANCE",
                    format!("{}{}", field_label(field), hit.message()),
                ));
            }
        }
        match (payee_name, title, amount, note, pay_code) {
            (Some(payee_name), Some(title), Some(amount), Some(note), Some(pay_code))
                if errors.is_empty() =>
            {
                Ok(ValidCollection {
                    payee_name,
                    title,
                    amount,
                    note,
                    pay_code,
                })
            }
            _ => Err(errors),
        }
    }
}

fn text<T>(r: Result<T, TextError>, field: &str, errors: &mut Vec<FieldError>) -> Option<T> {
    r.map_err(|e| errors.push(FieldError::new(field, "INVALID_TEXT", e.to_string())))
        .ok()
}

fn amount_error(e: AmountError) -> FieldError {
    FieldError::new("amount", "INVALID_AMOUNT", e.to_string())
}

fn field_label(field: &str) -> &'static str {
    match field {
        "payee_name" => "收款人名称含违规用语",
        "title" => "标题含违规用语",
        _ => "备注含违规用语",
    }
}

/// A collection as the payer page sees it (`GET /api/collections/:id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionView {
    /// Public id (in `/c/:id`).
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Open or closed.
    pub status: Status,
    /// Payee display name.
    pub payee_name: String,
    /// Title.
    pub title: String,
    /// Amount rule.
    pub amount: AmountRule,
    /// Note (may be empty).
    pub note: String,
    /// The receive code content to render as a QR.
    pub pay_code: String,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

/// Answer to a successful publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// Public id.
    pub id: String,
    /// Path of the payer page, `/c/<id>`.
    pub path: String,
    /// The secret that allows editing and closing; shown once.
    pub manage_token: String,
    /// Path of the private manage page, `/manage/<id>#t=<token>` (the token stays in the
    /// fragment so it never reaches a server log).
    pub manage_path: String,
}

/// The JSON error body every API answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable machine code.
    pub code: String,
    /// What went wrong, in Chinese.
    pub message: String,
    /// Per-field problems, for forms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
}

/// Checks a public collection id: 6–32 ASCII letters and digits.
pub fn is_valid_id(id: &str) -> bool {
    (6..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> NewCollection {
        NewCollection {
            payee_name: "张三".into(),
            title: "周五聚餐 AA".into(),
            amount: Some("12.34".into()),
            note: "请备注姓名".into(),
            pay_code: "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5".into(),
            invite_code: None,
        }
    }

    #[test]
    fn a_good_collection_validates() {
        let v = good().validate().unwrap();
        assert_eq!(
            v.amount,
            AmountRule::Fixed {
                fen: Fen::new(1234)
            }
        );
        assert_eq!(v.note.as_str(), "请备注姓名");
    }

    #[test]
    fn an_empty_amount_means_the_payer_types_it() {
        for amount in [None, Some(String::new()), Some("  ".into())] {
            let v = NewCollection { amount, ..good() }.validate().unwrap();
            assert_eq!(v.amount, AmountRule::PayerEntered);
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let bad = NewCollection {
            payee_name: String::new(),
            title: "稳赚理财".into(),
            amount: Some("-1".into()),
            note: "字".repeat(31),
            pay_code: "https://qr.alipay.com/x1234567".into(),
            invite_code: None,
        };
        let errors = bad.validate().unwrap_err();
        let fields: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.field.as_str(), e.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("payee_name", "INVALID_TEXT"),
                ("note", "INVALID_TEXT"),
                ("amount", "INVALID_AMOUNT"),
                ("pay_code", "INVALID_PAY_CODE"),
                ("title", "COMPLIANCE"),
            ]
        );
        assert!(errors[4].message.contains("稳赚"), "{}", errors[4].message);
    }

    #[test]
    fn ids_are_short_alphanumeric_strings() {
        assert!(is_valid_id("aB3dE6gH9k"));
        assert!(!is_valid_id("abc"));
        assert!(!is_valid_id("abc/../x1"));
        assert!(!is_valid_id(&"a".repeat(33)));
    }

    #[test]
    fn amount_rule_json_is_tagged() {
        let json = serde_json::to_string(&AmountRule::Fixed { fen: Fen::new(5) }).unwrap();
        assert_eq!(json, r#"{"type":"fixed","fen":5}"#);
        assert_eq!(
            serde_json::to_string(&AmountRule::PayerEntered).unwrap(),
            r#"{"type":"payer_entered"}"#
        );
    }
}
