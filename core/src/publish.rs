//! The publish body for every kind (`POST /api/collections`): the common collection fields
//! of [`NewCollection`] at the top level (so a request-kind body is unchanged), plus `kind`
//! and the `split` or `product` part.

use serde::{Deserialize, Serialize};

use crate::collection::{AmountRule, FieldError, Kind, NewCollection, ValidCollection};
use crate::product::{NewProduct, Product};
use crate::split::{NewSplit, SplitSpec};

/// Body of `POST /api/collections`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishBody {
    /// Payee, title, amount (the price of a product; ignored for a split), note, 收款码.
    #[serde(flatten)]
    pub collection: NewCollection,
    /// `request` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// For `kind = split`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<NewSplit>,
    /// For `kind = product`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<NewProduct>,
    /// Editing only: replace a personal-code collection's 收款码 with the one sent. Without it an
    /// edit never changes where the money goes, whatever `pay_code` says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace_pay_code: bool,
}

/// What only some kinds have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extra {
    /// A payment request.
    Request,
    /// A group split.
    Split(SplitSpec),
    /// A price page.
    Product(Product),
}

/// A checked publish body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPublish {
    /// The common fields.
    pub collection: ValidCollection,
    /// The kind's own part.
    pub extra: Extra,
}

impl ValidPublish {
    /// The kind.
    pub fn kind(&self) -> Kind {
        match self.extra {
            Extra::Request => Kind::Request,
            Extra::Split(_) => Kind::Split,
            Extra::Product(_) => Kind::Product,
        }
    }
}

impl PublishBody {
    /// Checks everything and reports every problem at once; `now` (Unix seconds) bounds
    /// deadlines.
    pub fn validate(&self, now: i64) -> Result<ValidPublish, Vec<FieldError>> {
        let kind = self.kind.unwrap_or(Kind::Request);
        let mut base = self.collection.clone();
        if kind == Kind::Split {
            // A split's amounts live in its `split` part.
            base.amount = None;
        }
        let mut errors = Vec::new();
        let collection = base.validate().map_err(|e| errors.extend(e)).ok();
        let missing = |field: &str, what: &str| FieldError {
            field: field.into(),
            code: "MISSING".into(),
            message: format!("缺少{what}"),
        };
        let extra = match kind {
            Kind::Request => Some(Extra::Request),
            Kind::Split => match &self.split {
                None => {
                    errors.push(missing("split", "接龙设置"));
                    None
                }
                Some(split) => split
                    .validate(now)
                    .map(Extra::Split)
                    .map_err(|e| errors.extend(e))
                    .ok(),
            },
            Kind::Product => {
                let price = match (
                    &collection,
                    self.collection.amount.as_deref().map(str::trim),
                ) {
                    (Some(c), _) => match c.amount {
                        AmountRule::Fixed { fen } => Some(fen),
                        AmountRule::PayerEntered => None,
                    },
                    // The amount itself was refused above: do not report it twice.
                    (None, Some(raw)) if !raw.is_empty() => crate::money::Fen::parse_yuan(raw).ok(),
                    _ => None,
                };
                let product = self.product.clone().unwrap_or_default();
                let price_refused = errors.iter().any(|e| e.field == "amount");
                match product.validate(price, now) {
                    Ok(p) => Some(Extra::Product(p)),
                    Err(e) => {
                        errors.extend(
                            e.into_iter()
                                .filter(|f| !(price_refused && f.field == "amount")),
                        );
                        None
                    }
                }
            }
        };
        match (collection, extra) {
            (Some(collection), Some(extra)) if errors.is_empty() => {
                Ok(ValidPublish { collection, extra })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Fen;
    use crate::split::SplitMode;

    const NOW: i64 = 1_796_000_000;

    fn base() -> NewCollection {
        NewCollection {
            payee_name: "张三".into(),
            title: "周五聚餐 AA".into(),
            amount: Some("12.34".into()),
            note: String::new(),
            pay_code: "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5".into(),
            invite_code: None,
        }
    }

    #[test]
    fn a_request_body_is_unchanged_json() {
        let json = r#"{"payee_name":"张三","title":"t","amount":"1","note":"","pay_code":"wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5"}"#;
        let body: PublishBody = serde_json::from_str(json).unwrap();
        assert_eq!(body.kind, None);
        assert_eq!(body.validate(NOW).unwrap().kind(), Kind::Request);
    }

    #[test]
    fn a_split_ignores_the_amount_and_needs_its_part() {
        let body = PublishBody {
            collection: NewCollection {
                amount: Some("abc".into()),
                ..base()
            },
            kind: Some(Kind::Split),
            split: Some(NewSplit {
                mode: "equal".into(),
                total: Some("100".into()),
                people: Some("3".into()),
                ..NewSplit::default()
            }),
            product: None,
            replace_pay_code: false,
        };
        let valid = body.validate(NOW).unwrap();
        assert_eq!(valid.collection.amount, AmountRule::PayerEntered);
        let Extra::Split(spec) = valid.extra else {
            panic!("not a split")
        };
        assert_eq!(
            spec.mode,
            SplitMode::Equal {
                total: Fen::new(10_000),
                people: 3
            }
        );
        let missing = PublishBody {
            split: None,
            ..body
        }
        .validate(NOW)
        .unwrap_err();
        assert_eq!(missing[0].field, "split");
    }

    #[test]
    fn a_product_needs_a_price_reported_once() {
        let body = PublishBody {
            collection: NewCollection {
                amount: None,
                ..base()
            },
            kind: Some(Kind::Product),
            split: None,
            product: Some(NewProduct::default()),
            replace_pay_code: false,
        };
        let errors = body.validate(NOW).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "amount");
        let bad_price = PublishBody {
            collection: NewCollection {
                amount: Some("-5".into()),
                ..base()
            },
            ..body.clone()
        };
        let errors = bad_price.validate(NOW).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        let ok = PublishBody {
            collection: base(),
            ..body
        };
        assert!(matches!(ok.validate(NOW).unwrap().extra, Extra::Product(_)));
    }
}
