//! Self-service in the Official Account (智能客服): a follower who sends one of the configured
//! words (订单 / 查询 / 我的付款) gets their own recent orders and split sign-ups; 退款 gets
//! their refunds' states. Only whole messages match (trimmed, a trailing ？/?/！/! ignored), so
//! the words never swallow longer texts meant for a keyword rule.
//!
//! Precedence in the message server: the operator's keyword rules first, then these words,
//! then the payees' rules (for their attributed followers), then the optional default reply.
//! The operator configures the words for the whole account, so they rank above payees' rules,
//! exactly as the operator's rules do; a payee who wants "订单" for itself is shadowed for that
//! exact word only.

use crate::money::Fen;
use crate::order::OrderState;
use crate::refund::RefundState;
use crate::split::ParticipantStatus;

/// Default words for "my payments".
pub const DEFAULT_ORDER_WORDS: &str = "订单,查询,我的付款";
/// Default words for "my refunds".
pub const DEFAULT_REFUND_WORDS: &str = "退款";
/// Most lines in an answer (a passive text reply is read on a phone; WeChat caps its length).
pub const MAX_LINES: usize = 10;
/// Longest answer, bytes (WeChat's text message limit is 2048 bytes).
pub const MAX_REPLY_BYTES: usize = 2000;

/// What a follower asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// Recent orders and sign-ups.
    Payments,
    /// Refunds.
    Refunds,
}

fn words(list: &str) -> impl Iterator<Item = &str> {
    list.split([',', '，', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
}

impl Query {
    /// The query a whole message asks, with the configured word lists (comma-separated).
    pub fn parse(text: &str, order_words: &str, refund_words: &str) -> Option<Query> {
        let text = text
            .trim()
            .trim_end_matches(['？', '?', '！', '!', '。'])
            .trim();
        if text.is_empty() {
            return None;
        }
        if words(order_words).any(|w| w == text) {
            return Some(Query::Payments);
        }
        if words(refund_words).any(|w| w == text) {
            return Some(Query::Refunds);
        }
        None
    }
}

/// Why a payee's keyword rule is refused when a follower sending exactly its keyword gets the
/// self-service answer instead (self-service answers before payees' rules); `None`: the rule
/// can answer. Only exact rules are refused: a `contains` rule still answers longer texts.
pub fn shadowed_rule(
    exact: bool,
    pattern: &str,
    order_words: &str,
    refund_words: &str,
) -> Option<String> {
    let query = Query::parse(pattern, order_words, refund_words).filter(|_| exact)?;
    let what = match query {
        Query::Payments => "粉丝自己的订单和接龙",
        Query::Refunds => "粉丝自己的退款",
    };
    Some(format!(
        "「{}」由公众号自助查询回答（{what}），这条规则不会生效：请换一个关键词",
        pattern.trim()
    ))
}

/// One of the follower's orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// The collection's title.
    pub title: String,
    /// Amount.
    pub amount: Fen,
    /// State.
    pub state: OrderState,
    /// Absolute link to the order page.
    pub url: String,
}

/// One of the follower's split sign-ups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUpLine {
    /// The split's title.
    pub title: String,
    /// Status.
    pub status: ParticipantStatus,
    /// Absolute link to the split page.
    pub url: String,
}

/// One of the follower's refunds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundLine {
    /// The collection's title.
    pub title: String,
    /// Amount.
    pub amount: Fen,
    /// State.
    pub state: RefundState,
}

fn short(title: &str) -> String {
    crate::notice::thing(title)
}

/// Keeps whole lines within [`MAX_REPLY_BYTES`].
fn join_within(head: &str, lines: Vec<String>) -> String {
    let mut out = head.to_string();
    for line in lines.into_iter().take(MAX_LINES) {
        if out.len() + line.len() + 1 > MAX_REPLY_BYTES {
            break;
        }
        out.push('\n');
        out.push_str(&line);
    }
    out
}

/// How long after a follower's message the account may still write to them (customer-service
/// messages, PROTOCOL-2 §4.3).
pub const CUSTOM_WINDOW_SECS: i64 = 48 * 3600;

/// Whether a customer-service message may go out at `now` to a follower whose message came at
/// `asked_at`.
pub fn within_window(asked_at: i64, now: i64) -> bool {
    now >= asked_at && now < asked_at + CUSTOM_WINDOW_SECS
}

/// The later answer, when an order that was pending when the follower asked is confirmed.
pub fn followup_text(title: &str, amount: Fen) -> String {
    format!("你询问的订单「{}」{amount} 已支付成功。", short(title))
}

/// Said under the list when an order is still pending: the answer will come later.
pub const PENDING_NOTE: &str = "有订单等待支付，确认到账后会再发消息告诉你。";

/// The answer to [`Query::Payments`].
pub fn payments_reply(orders: &[OrderLine], sign_ups: &[SignUpLine]) -> String {
    if orders.is_empty() && sign_ups.is_empty() {
        return "没有查到你的付款记录。通过本公众号打开的收款和接龙会显示在这里。".into();
    }
    let mut lines: Vec<String> = orders
        .iter()
        .map(|o| {
            format!(
                "· {} {} {}\n  {}",
                short(&o.title),
                o.amount,
                o.state.label(),
                o.url
            )
        })
        .collect();
    lines.extend(sign_ups.iter().map(|s| {
        format!(
            "· 接龙 {} {}\n  {}",
            short(&s.title),
            s.status.label(),
            s.url
        )
    }));
    if orders.iter().any(|o| o.state == OrderState::Pending) {
        lines.push(PENDING_NOTE.into());
    }
    join_within("你最近的付款：", lines)
}

/// The answer to [`Query::Refunds`].
pub fn refunds_reply(refunds: &[RefundLine]) -> String {
    if refunds.is_empty() {
        return "没有查到你的退款记录。".into();
    }
    let lines = refunds
        .iter()
        .map(|r| format!("· {} {} {}", short(&r.title), r.amount, r.state.label()))
        .collect();
    join_within("你的退款：", lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payee_rule_on_exactly_a_self_service_word_is_refused() {
        let refuse = |exact, pattern| {
            shadowed_rule(exact, pattern, DEFAULT_ORDER_WORDS, DEFAULT_REFUND_WORDS)
        };
        assert_eq!(
            refuse(true, " 订单 ").as_deref(),
            Some("「订单」由公众号自助查询回答（粉丝自己的订单和接龙），这条规则不会生效：请换一个关键词")
        );
        assert!(refuse(true, "退款").unwrap().contains("粉丝自己的退款"));
        assert!(refuse(true, "我的付款？").is_some());
        assert_eq!(refuse(true, "订单号"), None);
        assert_eq!(
            refuse(false, "订单"),
            None,
            "contains rules answer longer texts"
        );
    }

    #[test]
    fn only_whole_messages_with_a_configured_word_ask() {
        let q = |t| Query::parse(t, DEFAULT_ORDER_WORDS, DEFAULT_REFUND_WORDS);
        assert_eq!(q("订单"), Some(Query::Payments));
        assert_eq!(q(" 我的付款？ "), Some(Query::Payments));
        assert_eq!(q("查询!"), Some(Query::Payments));
        assert_eq!(q("退款"), Some(Query::Refunds));
        assert_eq!(q("我想查询订单"), None);
        assert_eq!(q("订单号是多少"), None);
        assert_eq!(q(""), None);
        assert_eq!(
            Query::parse("账单", "账单，流水", ""),
            Some(Query::Payments)
        );
    }

    #[test]
    fn the_payments_reply_lists_each_line_with_its_link() {
        let orders = vec![OrderLine {
            title: "课程费".into(),
            amount: Fen::new(1000),
            state: OrderState::Paid,
            url: "https://x.cn/o/a".into(),
        }];
        let sign_ups = vec![SignUpLine {
            title: "周六聚餐".into(),
            status: ParticipantStatus::Joined,
            url: "https://x.cn/c/b".into(),
        }];
        let text = payments_reply(&orders, &sign_ups);
        assert!(text.contains("课程费 ¥10.00 已支付"), "{text}");
        assert!(text.contains("https://x.cn/o/a"));
        assert!(text.contains("接龙 周六聚餐 未付款"));
        assert!(payments_reply(&[], &[]).starts_with("没有查到"));
        let many: Vec<OrderLine> = (0..50).map(|_| orders[0].clone()).collect();
        let text = payments_reply(&many, &[]);
        assert_eq!(text.matches("课程费").count(), MAX_LINES);
        assert!(text.len() <= MAX_REPLY_BYTES);
    }

    #[test]
    fn a_pending_order_promises_a_later_answer_within_the_window() {
        let pending = OrderLine {
            title: "课程费".into(),
            amount: Fen::new(1000),
            state: OrderState::Pending,
            url: "u".into(),
        };
        assert!(payments_reply(&[pending], &[]).ends_with(PENDING_NOTE));
        assert!(within_window(100, 100 + CUSTOM_WINDOW_SECS - 1));
        assert!(!within_window(100, 100 + CUSTOM_WINDOW_SECS));
        assert!(!within_window(100, 99));
        assert_eq!(
            followup_text("课程费", Fen::new(800)),
            "你询问的订单「课程费」¥8.00 已支付成功。"
        );
    }

    #[test]
    fn the_refunds_reply_names_each_state() {
        let text = refunds_reply(&[RefundLine {
            title: "课程费".into(),
            amount: Fen::new(500),
            state: RefundState::Success,
        }]);
        assert!(text.contains("课程费 ¥5.00 退款成功"), "{text}");
        assert_eq!(refunds_reply(&[]), "没有查到你的退款记录。");
    }
}
