//! Buyers' contact details on a price page: what the payee asks for (none, a phone, a phone
//! and an address), the form 「留下联系方式」 as a browser posts it, its checks, and its markup.
//! Only the payee reads the details back; the public sees nothing of them.

use serde::{Deserialize, Serialize};

use crate::collection::FieldError;
use crate::page::escape;
use crate::personal_data::{mask_name, ParticipantName, Phone};

/// Longest address, in characters.
pub const MAX_ADDRESS: usize = 60;
/// Longest note, in characters.
pub const MAX_NOTE: usize = 100;

/// What a price page asks its buyers for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactAsk {
    /// Nothing (no form).
    #[default]
    None,
    /// A name and a phone number.
    Phone,
    /// A name, a phone number and an address.
    PhoneAddress,
}

impl ContactAsk {
    /// Whether the page shows the form.
    pub fn asks(self) -> bool {
        self != ContactAsk::None
    }

    /// Whether the address is asked for.
    pub fn wants_address(self) -> bool {
        self == ContactAsk::PhoneAddress
    }
}

/// The form as typed (`name`, `phone`, `address`, `note`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactForm {
    /// 称呼.
    pub name: String,
    /// 手机号.
    pub phone: String,
    /// 地址.
    pub address: String,
    /// 备注.
    pub note: String,
}

/// Checked contact details, ready to seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// 称呼.
    pub name: String,
    /// 11 digits.
    pub phone: String,
    /// Empty when not asked.
    pub address: String,
    /// Empty when none.
    pub note: String,
}

/// A buyer's contact as the payee sees it (`GET /api/collections/:id/contacts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactEntry {
    /// Row id.
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// The details.
    #[serde(flatten)]
    pub contact: Contact,
}

fn error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        code: "INVALID_CONTACT".into(),
        message: message.into(),
    }
}

/// One line, trimmed, with runs of whitespace as one space; `None` when it holds control or
/// direction characters.
fn one_line(s: &str) -> Option<String> {
    if s.chars().any(|c| {
        (c.is_control() && !c.is_whitespace())
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }) {
        return None;
    }
    Some(s.split_whitespace().collect::<Vec<_>>().join(" "))
}

impl ContactForm {
    /// The form from urlencoded pairs.
    pub fn from_pairs(pairs: &[(String, String)]) -> ContactForm {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        ContactForm {
            name: get("name"),
            phone: get("phone"),
            address: get("address"),
            note: get("note"),
        }
    }

    /// Checks every field for `ask`; the errors name the form's fields.
    pub fn validate(&self, ask: ContactAsk) -> Result<Contact, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = match ParticipantName::parse(&self.name) {
            Ok(n) => n.as_str().to_owned(),
            Err(_) => {
                errors.push(error(
                    "name",
                    format!("请填写称呼（1–{} 个字）", ParticipantName::MAX_CHARS),
                ));
                String::new()
            }
        };
        let phone = match Phone::parse(&self.phone) {
            Ok(p) => p.as_str().to_owned(),
            Err(e) => {
                errors.push(error("phone", e.to_string()));
                String::new()
            }
        };
        let address = if ask.wants_address() {
            match one_line(&self.address) {
                Some(a) if a.is_empty() => {
                    errors.push(error("address", "请填写收货地址"));
                    a
                }
                Some(a) if a.chars().count() > MAX_ADDRESS => {
                    errors.push(error("address", format!("地址最多 {MAX_ADDRESS} 个字")));
                    a
                }
                Some(a) => a,
                None => {
                    errors.push(error("address", "地址含有不可见的控制字符"));
                    String::new()
                }
            }
        } else {
            String::new()
        };
        let note = match one_line(&self.note) {
            Some(n) if n.chars().count() > MAX_NOTE => {
                errors.push(error("note", format!("备注最多 {MAX_NOTE} 个字")));
                n
            }
            Some(n) => n,
            None => {
                errors.push(error("note", "备注含有不可见的控制字符"));
                String::new()
            }
        };
        if errors.is_empty() {
            Ok(Contact {
                name,
                phone,
                address,
                note,
            })
        } else {
            Err(errors)
        }
    }
}

/// What the section shows besides the empty form.
#[derive(Debug, Clone, Default)]
pub enum ContactState {
    /// The empty form.
    #[default]
    Blank,
    /// A refused post: the values again, each error under its field.
    Refused(ContactForm, Vec<FieldError>),
    /// Saved: what was kept, masked.
    Saved(Contact),
}

/// The section 「留下联系方式」 of price page `id` (empty when nothing is asked): a plain
/// form post to `/c/:id/contact`, no script needed.
pub fn contact_section(id: &str, ask: ContactAsk, state: &ContactState) -> String {
    if !ask.asks() {
        return String::new();
    }
    if let ContactState::Saved(c) = state {
        let address = if c.address.is_empty() {
            String::new()
        } else {
            "、收货地址".to_owned()
        };
        return format!(
            concat!(
                r#"<section class="card contact" id="contact"><h2 class="contact-title">留下联系方式</h2>"#,
                r#"<p class="contact-saved" id="contact_saved" role="status">已保存：称呼 {name}、手机号 {phone}{address}。"#,
                r#"只有商家能看到，页面上不会公开。</p></section>"#
            ),
            name = escape(&mask_name(&c.name)),
            phone = escape(&crate::personal_data::mask_phone(&c.phone)),
            address = address,
        );
    }
    let (values, errors) = match state {
        ContactState::Refused(v, e) => (v.clone(), e.as_slice()),
        _ => (ContactForm::default(), &[][..]),
    };
    let err = |field: &str| {
        errors
            .iter()
            .filter(|e| e.field == field || (field == "form" && e.field.is_empty()))
            .map(|e| {
                format!(
                    r#"<p class="field-error" id="contact_{field}_error" data-field="{field}" role="alert">{}</p>"#,
                    escape(&e.message)
                )
            })
            .collect::<String>()
    };
    let address = if ask.wants_address() {
        format!(
            concat!(
                r#"<div class="field"><label for="contact_address">收货地址</label>"#,
                r#"<input id="contact_address" name="address" type="text" maxlength="{max}" autocomplete="street-address" placeholder="省市区、街道、门牌号" value="{v}">{e}</div>"#
            ),
            max = MAX_ADDRESS,
            v = escape(&values.address),
            e = err("address"),
        )
    } else {
        String::new()
    };
    format!(
        concat!(
            r#"<section class="card contact" id="contact"><h2 class="contact-title">留下联系方式</h2>"#,
            r#"<p class="hint">商家需要联系你{why}。只有商家能看到，页面上不会公开。</p>"#,
            r#"<form method="post" action="/c/{id}/contact" id="contact_form" novalidate>"#,
            r#"<div class="field"><label for="contact_name">称呼</label>"#,
            r#"<input id="contact_name" name="name" type="text" maxlength="20" autocomplete="name" placeholder="如 王先生" value="{name}">{name_e}</div>"#,
            r#"<div class="field"><label for="contact_phone">手机号</label>"#,
            r#"<input id="contact_phone" name="phone" type="tel" inputmode="tel" maxlength="20" autocomplete="tel" placeholder="13812341234" value="{phone}">{phone_e}</div>"#,
            "{address}",
            r#"<div class="field"><label for="contact_note">备注<span class="optional">（选填）</span></label>"#,
            r#"<input id="contact_note" name="note" type="text" maxlength="{max_note}" placeholder="如 送货时间" value="{note}">{note_e}</div>"#,
            r#"{form_e}<button class="button" id="contact_submit" type="submit">提交联系方式</button></form></section>"#
        ),
        why = if ask.wants_address() {
            "或寄送商品"
        } else {
            ""
        },
        id = escape(id),
        name = escape(&values.name),
        name_e = err("name"),
        phone = escape(&values.phone),
        phone_e = err("phone"),
        address = address,
        max_note = MAX_NOTE,
        note = escape(&values.note),
        note_e = err("note"),
        form_e = err("form"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(name: &str, phone: &str, address: &str) -> ContactForm {
        ContactForm {
            name: name.into(),
            phone: phone.into(),
            address: address.into(),
            note: String::new(),
        }
    }

    #[test]
    fn checks_each_field_and_cleans_the_address() {
        let ok = form(
            " 王小明 ",
            "138 1234 1234",
            " 上海市  徐汇区\t漕溪北路 1 号 ",
        )
        .validate(ContactAsk::PhoneAddress)
        .unwrap();
        assert_eq!(ok.name, "王小明");
        assert_eq!(ok.phone, "13812341234");
        assert_eq!(ok.address, "上海市 徐汇区 漕溪北路 1 号");
        let errors = form("", "12345", "")
            .validate(ContactAsk::PhoneAddress)
            .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "phone", "address"]);
        assert_eq!(errors[1].message, "请输入 11 位手机号，如 13812341234");
        let long = "路".repeat(MAX_ADDRESS + 1);
        assert!(form("王", "13812341234", &long)
            .validate(ContactAsk::PhoneAddress)
            .is_err());
        // Not asked: the address is dropped, not checked.
        let phone_only = form("王", "13812341234", &long)
            .validate(ContactAsk::Phone)
            .unwrap();
        assert!(phone_only.address.is_empty());
        assert!(form("王", "13812341234", "a\u{202e}b")
            .validate(ContactAsk::PhoneAddress)
            .is_err());
    }

    #[test]
    fn the_section_follows_the_ask_and_masks_what_was_saved() {
        assert!(contact_section("abc", ContactAsk::None, &ContactState::Blank).is_empty());
        let phone = contact_section("abc", ContactAsk::Phone, &ContactState::Blank);
        assert!(phone.contains(r#"action="/c/abc/contact""#));
        assert!(!phone.contains("contact_address"));
        let both = contact_section("abc", ContactAsk::PhoneAddress, &ContactState::Blank);
        assert!(both.contains("contact_address"));
        let saved = contact_section(
            "abc",
            ContactAsk::PhoneAddress,
            &ContactState::Saved(Contact {
                name: "王小明".into(),
                phone: "13812341234".into(),
                address: "上海市".into(),
                note: String::new(),
            }),
        );
        assert!(saved.contains("王**") && saved.contains("138****1234"));
        assert!(!saved.contains("13812341234") && !saved.contains("上海市"));
        assert!(saved.contains("只有商家能看到"));
        let refused = contact_section(
            "abc",
            ContactAsk::Phone,
            &ContactState::Refused(
                form("<b>", "1", ""),
                vec![error("phone", "请输入 11 位手机号，如 13812341234")],
            ),
        );
        assert!(refused.contains(r#"id="contact_phone_error""#));
        assert!(refused.contains("&lt;b&gt;"));
    }
}
