//! The publish/edit form as plain data: what was typed → [`NewCollection`], which errors to
//! show where, and the small texts around the form. No DOM here, so it is tested natively.

use shoukuan_core::collection::{AmountRule, CollectionView, FieldError, Kind, NewCollection};
use shoukuan_core::text::Note;

use crate::api;

/// Every field a form shows errors for, in form order (JSON field names, also the
/// `data-field` of `.field-error`).
pub const FIELDS: [&str; 6] = [
    "payee_name",
    "pay_code",
    "title",
    "amount",
    "note",
    "invite_code",
];

/// How the amount is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AmountMode {
    /// 固定金额: the payee types it now.
    #[default]
    Fixed,
    /// 付款人填写: the payer types it in WeChat after scanning.
    PayerEntered,
}

/// What is in the form right now, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    /// 收款人名称.
    pub payee_name: String,
    /// 标题.
    pub title: String,
    /// 固定金额 / 付款人填写.
    pub amount_mode: AmountMode,
    /// The fixed amount as typed (kept while the payer mode is chosen, in case of a switch back).
    pub amount: String,
    /// 备注.
    pub note: String,
    /// Content of the decoded 收款码; empty until an upload was recognised.
    pub pay_code: String,
    /// 邀请码.
    pub invite_code: String,
}

impl Draft {
    /// A draft for editing an existing collection.
    pub fn from_view(view: &CollectionView) -> Draft {
        let (amount_mode, amount) = match view.amount {
            AmountRule::Fixed { fen } => (AmountMode::Fixed, fen.to_yuan_string()),
            AmountRule::PayerEntered => (AmountMode::PayerEntered, String::new()),
        };
        Draft {
            payee_name: view.payee_name.clone(),
            title: view.title.clone(),
            amount_mode,
            amount,
            note: view.note.clone(),
            pay_code: view.pay_code.clone(),
            invite_code: String::new(),
        }
    }

    /// The request body. A fixed amount is sent even when empty, so that "固定金额" with
    /// nothing typed is refused instead of silently becoming "付款人填写".
    pub fn to_new_collection(&self, invite_required: bool) -> NewCollection {
        NewCollection {
            payee_name: self.payee_name.clone(),
            title: self.title.clone(),
            amount: match self.amount_mode {
                AmountMode::Fixed => Some(self.amount.clone()),
                AmountMode::PayerEntered => None,
            },
            note: self.note.clone(),
            pay_code: self.pay_code.clone(),
            invite_code: invite_required.then(|| self.invite_code.trim().to_owned()),
        }
    }

    /// The body to send, or every problem the form can know about before sending.
    pub fn check(&self, invite_required: bool) -> Result<NewCollection, Vec<FieldError>> {
        let body = self.to_new_collection(invite_required);
        let mut errors = match body.validate() {
            Ok(_) => Vec::new(),
            Err(errors) => errors,
        };
        if self.amount_mode == AmountMode::Fixed && self.amount.trim().is_empty() {
            errors.push(field_error("amount", "INVALID_AMOUNT", EMPTY_AMOUNT));
        }
        if invite_required && self.invite_code.trim().is_empty() {
            errors.push(field_error(
                "invite_code",
                "INVALID_INVITE_CODE",
                "请输入邀请码",
            ));
        }
        if errors.is_empty() {
            Ok(body)
        } else {
            Err(errors)
        }
    }
}

fn field_error(field: &str, code: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

/// The errors to show: local ones only for fields the person has touched (all of them after a
/// submit attempt), then the server's, without repeating a message.
pub fn visible_errors(
    local: &[FieldError],
    server: &[FieldError],
    touched: &[&str],
    submitted: bool,
) -> Vec<FieldError> {
    let mut shown: Vec<FieldError> = local
        .iter()
        .filter(|e| submitted || touched.contains(&e.field.as_str()))
        .cloned()
        .collect();
    for e in server {
        if !shown
            .iter()
            .any(|s| s.field == e.field && s.message == e.message)
        {
            shown.push(e.clone());
        }
    }
    shown
}

/// A fixed amount left empty.
const EMPTY_AMOUNT: &str = "请输入金额，或选择「付款人填写」";

/// All messages for one field, joined, or `None`.
pub fn message_for(errors: &[FieldError], field: &str) -> Option<String> {
    let messages: Vec<&str> = errors
        .iter()
        .filter(|e| e.field == field)
        .map(|e| e.message.as_str())
        .collect();
    (!messages.is_empty()).then(|| messages.join("；"))
}

/// The note counter, `n/30`, counting characters as the validation does (trimmed).
pub fn note_counter(note: &str) -> String {
    format!("{}/{}", note.trim().chars().count(), Note::MAX_CHARS)
}

/// Whether the note is over its limit (the counter turns red).
pub fn note_too_long(note: &str) -> bool {
    note.trim().chars().count() > Note::MAX_CHARS
}

/// `origin` + `path`, e.g. `https://pay.example.com` + `/c/abc123` (a link that works when
/// pasted into a WeChat chat).
pub fn absolute_url(origin: &str, path: &str) -> String {
    format!(
        "{}/{}",
        origin.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// What a kind is called on the payee's pages: 收款, 接龙, 价格页.
pub fn kind_noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Request => "收款",
        Kind::Split => "接龙",
        Kind::Product => "价格页",
    }
}

/// The words of the shared fields (name, title, note), per kind: who the payer sees, what the
/// page is called, and an example a first-time payee recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindCopy {
    pub payee_label: &'static str,
    pub payee_placeholder: &'static str,
    pub title_label: &'static str,
    pub title_placeholder: &'static str,
    pub note_placeholder: &'static str,
}

/// [`KindCopy`] of a kind.
pub fn kind_copy(kind: Kind) -> KindCopy {
    match kind {
        Kind::Request => KindCopy {
            payee_label: "收款人名称",
            payee_placeholder: "付款人看到的名字，如 张三",
            title_label: "收款标题",
            title_placeholder: "如 周五聚餐 AA、三班班费",
            note_placeholder: "如 请备注姓名",
        },
        Kind::Split => KindCopy {
            payee_label: "发起人名称",
            payee_placeholder: "群里大家认识的名字，如 王老师",
            title_label: "接龙标题",
            title_placeholder: "如 周六羽毛球 AA、春游报名",
            note_placeholder: "如 周六 9:00 体育馆门口集合",
        },
        Kind::Product => KindCopy {
            payee_label: "商家名称",
            payee_placeholder: "顾客看到的店名，如 小满酸奶",
            title_label: "商品名称",
            title_placeholder: "如 手工酸奶 6 杯装",
            note_placeholder: "如 每天 10 点前下单，当天送达",
        },
    }
}

/// An error message in the kind's words: the payee's name is 商家名称 on a price page, whose
/// price has no 付款人填写 to choose.
pub fn in_kind_words(kind: Kind, message: &str) -> String {
    if kind == Kind::Product && message == EMPTY_AMOUNT {
        return "请输入价格".to_owned();
    }
    message.replace("收款人名称", kind_copy(kind).payee_label)
}

/// The question before closing, saying what closing does to this kind.
pub fn close_prompt(kind: Kind) -> &'static str {
    match kind {
        Kind::Request => "关闭后付款人将看不到收款码，也不能再付款。确定关闭吗？",
        Kind::Split => {
            "关闭后不能再接龙，名单里的人也看不到收款码；已有的名单和付款记录会保留。确定关闭吗？"
        }
        Kind::Product => "关闭后顾客将看不到价格页上的收款码，也不能再付款。确定关闭吗？",
    }
}

/// The manage page of a collection: `/manage/:id#t=<token>` (the token never leaves the
/// fragment, so no server log sees it).
pub fn manage_path(id: &str, token: &str) -> String {
    format!("/manage/{id}#t={token}")
}

/// Where publishing lands: the manage page, marked as just published. Everything the payee
/// needs is in that URL, so a reload or WeChat recycling the page loses nothing.
pub fn published_path(id: &str, token: &str) -> String {
    format!("{}&published=1", manage_path(id, token))
}

/// Whether a manage page's fragment says it was just published.
pub fn is_just_published(hash: &str) -> bool {
    hash.trim_start_matches('#')
        .split('&')
        .any(|pair| pair == "published=1")
}

/// How a refused save reaches the form: errors under fields, and a message near the button.
pub fn server_feedback(err: &api::Error) -> (Vec<FieldError>, Option<String>) {
    match err {
        api::Error::Api { body, .. } if body.code == "FORBIDDEN" => {
            let message = non_empty(&body.message, "邀请码不正确");
            (vec![field_error("invite_code", &body.code, &message)], None)
        }
        api::Error::Api { body, .. } if !body.fields.is_empty() => {
            let (known, unknown): (Vec<FieldError>, Vec<FieldError>) = body
                .fields
                .iter()
                .cloned()
                .partition(|e| FIELDS.contains(&e.field.as_str()));
            let mut message = vec!["请修改标红的内容后再提交".to_owned()];
            message.extend(unknown.into_iter().map(|e| e.message));
            (known, Some(message.join("；")))
        }
        other => (Vec::new(), Some(other.message())),
    }
}

fn non_empty(s: &str, fallback: &str) -> String {
    if s.trim().is_empty() {
        fallback.to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use shoukuan_core::collection::{ErrorBody, Kind, Status};
    use shoukuan_core::money::Fen;

    use super::*;

    const CODE: &str = "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5";

    fn good() -> Draft {
        Draft {
            payee_name: "张三".into(),
            title: "周五聚餐 AA".into(),
            amount_mode: AmountMode::Fixed,
            amount: "12.34".into(),
            note: "请备注姓名".into(),
            pay_code: CODE.into(),
            invite_code: "  yq2026 ".into(),
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_filled_form_becomes_the_request_body() {
        let body = good().check(true).unwrap();
        assert_eq!(
            body,
            NewCollection {
                payee_name: "张三".into(),
                title: "周五聚餐 AA".into(),
                amount: Some("12.34".into()),
                note: "请备注姓名".into(),
                pay_code: CODE.into(),
                invite_code: Some("yq2026".into()),
            }
        );
    }

    #[test]
    fn the_invite_code_is_only_sent_when_required() {
        assert_eq!(good().check(false).unwrap().invite_code, None);
        let json = serde_json::to_string(&good().to_new_collection(false)).unwrap();
        assert!(!json.contains("invite_code"), "{json}");
    }

    #[test]
    fn payer_entered_amounts_send_no_amount_even_if_one_was_typed() {
        let draft = Draft {
            amount_mode: AmountMode::PayerEntered,
            amount: "abc".into(),
            ..good()
        };
        assert_eq!(draft.check(false).unwrap().amount, None);
    }

    #[test]
    fn a_fixed_amount_left_empty_is_refused_not_turned_into_payer_entered() {
        let draft = Draft {
            amount: " ".into(),
            ..good()
        };
        let errors = draft.check(false).unwrap_err();
        assert_eq!(fields(&errors), vec!["amount"]);
    }

    #[test]
    fn a_missing_upload_and_invite_code_are_reported_on_their_fields() {
        let draft = Draft {
            pay_code: String::new(),
            invite_code: String::new(),
            ..good()
        };
        let errors = draft.check(true).unwrap_err();
        assert_eq!(fields(&errors), vec!["pay_code", "invite_code"]);
    }

    #[test]
    fn bad_amounts_and_long_notes_get_the_core_messages() {
        let draft = Draft {
            amount: "12.345".into(),
            note: "字".repeat(31),
            ..good()
        };
        let errors = draft.check(false).unwrap_err();
        assert_eq!(
            message_for(&errors, "amount").unwrap(),
            "金额最多保留两位小数"
        );
        assert_eq!(
            message_for(&errors, "note").unwrap(),
            "备注最多 30 个字（现在 31 个）"
        );
    }

    #[test]
    fn untouched_fields_stay_quiet_until_submit() {
        let local = Draft::default().check(false).unwrap_err();
        assert!(visible_errors(&local, &[], &[], false).is_empty());
        assert_eq!(
            fields(&visible_errors(&local, &[], &["title"], false)),
            vec!["title"]
        );
        assert_eq!(visible_errors(&local, &[], &[], true).len(), local.len());
    }

    #[test]
    fn server_errors_show_once_next_to_local_ones() {
        let local = vec![field_error("title", "COMPLIANCE", "标题含违规用语「稳赚」")];
        let server = vec![
            field_error("title", "COMPLIANCE", "标题含违规用语「稳赚」"),
            field_error("note", "INVALID_TEXT", "备注不行"),
        ];
        let shown = visible_errors(&local, &server, &["title"], false);
        assert_eq!(fields(&shown), vec!["title", "note"]);
        assert_eq!(
            message_for(&[local[0].clone(), server[1].clone()], "title").unwrap(),
            "标题含违规用语「稳赚」"
        );
    }

    #[test]
    fn several_messages_for_one_field_are_joined() {
        let errors = vec![
            field_error("title", "A", "一"),
            field_error("title", "B", "二"),
        ];
        assert_eq!(message_for(&errors, "title").unwrap(), "一；二");
        assert_eq!(message_for(&errors, "note"), None);
    }

    #[test]
    fn the_note_counter_counts_characters_not_bytes() {
        assert_eq!(note_counter(""), "0/30");
        assert_eq!(note_counter("请备注姓名"), "5/30");
        assert_eq!(note_counter(" ab "), "2/30");
        assert!(!note_too_long(&"一".repeat(30)));
        assert!(note_too_long(&"一".repeat(31)));
    }

    #[test]
    fn share_links_are_absolute() {
        assert_eq!(
            absolute_url("https://pay.example.com", "/c/aB3dE6gH9k"),
            "https://pay.example.com/c/aB3dE6gH9k"
        );
        assert_eq!(
            absolute_url("http://127.0.0.1:8787/", "/manage/x#t=y"),
            "http://127.0.0.1:8787/manage/x#t=y"
        );
    }

    #[test]
    fn editing_starts_from_the_stored_collection() {
        let view = CollectionView {
            id: "aB3dE6gH9k".into(),
            kind: Kind::Request,
            status: Status::Open,
            payee_name: "张三".into(),
            title: "聚餐".into(),
            amount: AmountRule::Fixed {
                fen: Fen::new(1230),
            },
            note: String::new(),
            pay_code: CODE.into(),
            created_at: 1,
        };
        let draft = Draft::from_view(&view);
        assert_eq!(draft.amount, "12.30");
        assert_eq!(draft.check(false).unwrap().pay_code, CODE);
        let open = Draft::from_view(&CollectionView {
            amount: AmountRule::PayerEntered,
            ..view
        });
        assert_eq!(open.amount_mode, AmountMode::PayerEntered);
    }

    fn api_error(status: u16, code: &str, message: &str, fields: Vec<FieldError>) -> api::Error {
        api::Error::Api {
            status,
            body: ErrorBody {
                code: code.into(),
                message: message.into(),
                fields,
            },
        }
    }

    #[test]
    fn a_wrong_invite_code_shows_under_its_field() {
        let (fields_shown, form) =
            server_feedback(&api_error(403, "FORBIDDEN", "邀请码不正确", vec![]));
        assert_eq!(fields(&fields_shown), vec!["invite_code"]);
        assert_eq!(form, None);
    }

    #[test]
    fn validation_errors_go_to_their_fields_and_unknown_ones_to_the_form() {
        let err = api_error(
            400,
            "VALIDATION",
            "输入有误",
            vec![
                field_error("amount", "INVALID_AMOUNT", "金额必须大于 0"),
                field_error("kind", "X", "类型不支持"),
            ],
        );
        let (shown, form) = server_feedback(&err);
        assert_eq!(fields(&shown), vec!["amount"]);
        assert_eq!(form.unwrap(), "请修改标红的内容后再提交；类型不支持");
    }

    #[test]
    fn other_failures_become_one_plain_message() {
        let (shown, form) =
            server_feedback(&api_error(413, "PAYLOAD_TOO_LARGE", "内容太大", vec![]));
        assert!(shown.is_empty());
        assert_eq!(form.unwrap(), "内容太大");
        let (_, form) = server_feedback(&api::Error::Fetch("TypeError: Failed to fetch".into()));
        assert_eq!(form.unwrap(), "网络不太好，请检查网络后重试");
    }

    #[test]
    fn publishing_lands_on_a_manage_url_that_holds_the_token() {
        let path = published_path("aB3dE6gH9k", "s3cr3t");
        assert_eq!(path, "/manage/aB3dE6gH9k#t=s3cr3t&published=1");
        let hash = path.split_once('#').map(|(_, h)| format!("#{h}")).unwrap();
        assert_eq!(crate::route::manage_token(&hash), Some("s3cr3t".into()));
        assert!(is_just_published(&hash));
        assert!(!is_just_published("#t=s3cr3t"));
        assert!(!is_just_published("#t=published=1"));
    }

    #[test]
    fn each_kind_labels_its_fields_in_its_own_words() {
        assert_eq!(kind_copy(Kind::Request).title_label, "收款标题");
        assert_eq!(kind_copy(Kind::Split).title_label, "接龙标题");
        assert_eq!(kind_copy(Kind::Product).title_label, "商品名称");
        assert_eq!(kind_copy(Kind::Product).payee_label, "商家名称");
        let notes: std::collections::HashSet<_> = [Kind::Request, Kind::Split, Kind::Product]
            .map(|k| kind_copy(k).note_placeholder)
            .into_iter()
            .collect();
        assert_eq!(notes.len(), 3, "each kind has its own example");
    }

    #[test]
    fn errors_speak_the_kind_too() {
        assert_eq!(in_kind_words(Kind::Product, EMPTY_AMOUNT), "请输入价格");
        assert_eq!(in_kind_words(Kind::Request, EMPTY_AMOUNT), EMPTY_AMOUNT);
        assert_eq!(
            in_kind_words(Kind::Product, "收款人名称不能为空"),
            "商家名称不能为空"
        );
        assert_eq!(
            in_kind_words(Kind::Split, "收款人名称不能为空"),
            "发起人名称不能为空"
        );
    }

    #[test]
    fn each_kind_is_closed_with_its_own_words() {
        assert!(close_prompt(Kind::Split).contains("不能再接龙"));
        assert!(close_prompt(Kind::Request).contains("收款码"));
        assert!(close_prompt(Kind::Product).contains("价格页"));
        assert_eq!(kind_noun(Kind::Split), "接龙");
    }
}
