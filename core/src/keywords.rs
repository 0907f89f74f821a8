//! Keyword replies of the message server: rules a payee manages (exact or contains match, or the
//! welcome reply on subscribe), which rule answers a message, and what the server does with
//! each kind of push.
//!
//! Order: higher `priority` first; at equal priority an exact rule before a contains rule,
//! then the older rule (lower id). Matching ignores surrounding spaces and ASCII case.

use serde::{Deserialize, Serialize};

use crate::collection::{is_valid_id, FieldError};
use crate::lint;
use crate::mp::{InboundMessage, MessageKind};

/// Longest keyword, in characters.
pub const MAX_PATTERN_CHARS: usize = 30;
/// Longest text reply, in characters (WeChat's limit is 2048 bytes; 600 CJK characters fit).
pub const MAX_REPLY_CHARS: usize = 600;
/// Priorities are kept in a small range so people can reason about them.
pub const MAX_PRIORITY: i64 = 1000;

/// What makes a rule answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The whole message equals the keyword (also: a CLICK menu button with this key).
    Exact,
    /// The message contains the keyword.
    Contains,
    /// A new follower (the welcome reply).
    Subscribe,
}

impl Trigger {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Exact => "exact",
            Trigger::Contains => "contains",
            Trigger::Subscribe => "subscribe",
        }
    }

    /// Reads a storage name.
    pub fn parse(s: &str) -> Option<Trigger> {
        match s {
            "exact" => Some(Trigger::Exact),
            "contains" => Some(Trigger::Contains),
            "subscribe" => Some(Trigger::Subscribe),
            _ => None,
        }
    }
}

/// What a rule answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RuleReply {
    /// A text message.
    Text {
        /// The text.
        text: String,
    },
    /// A news card linking to a collection.
    Collection {
        /// The collection's public id.
        id: String,
    },
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeywordRule {
    /// Row id.
    pub id: i64,
    /// When it answers.
    pub trigger: Trigger,
    /// The keyword (empty for `subscribe`).
    pub pattern: String,
    /// Higher answers first.
    pub priority: i64,
    /// The answer.
    pub reply: RuleReply,
}

/// A rule as submitted (`POST /api/dash/keywords`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRule {
    /// `exact`, `contains` or `subscribe`.
    pub trigger: Trigger,
    /// The keyword; ignored for `subscribe`.
    #[serde(default)]
    pub pattern: String,
    /// Defaults to 0.
    #[serde(default)]
    pub priority: i64,
    /// The answer.
    pub reply: RuleReply,
}

fn field(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        code: code.into(),
        message: message.into(),
    }
}

impl NewRule {
    /// Checks lengths, the priority range, the collection id and the compliance lint of the
    /// reply text; returns the normalised rule (id 0) or every problem.
    pub fn validate(&self) -> Result<KeywordRule, Vec<FieldError>> {
        let mut errors = Vec::new();
        let pattern = match self.trigger {
            Trigger::Subscribe => String::new(),
            _ => self.pattern.trim().to_string(),
        };
        let len = pattern.chars().count();
        if self.trigger != Trigger::Subscribe && (len == 0 || len > MAX_PATTERN_CHARS) {
            errors.push(field(
                "pattern",
                "INVALID_TEXT",
                format!("关键词需要 1–{MAX_PATTERN_CHARS} 个字"),
            ));
        }
        if pattern.chars().any(char::is_control) {
            errors.push(field(
                "pattern",
                "INVALID_TEXT",
                "关键词含有不可见的控制字符",
            ));
        }
        if !(-MAX_PRIORITY..=MAX_PRIORITY).contains(&self.priority) {
            errors.push(field(
                "priority",
                "INVALID_PRIORITY",
                format!("优先级需在 -{MAX_PRIORITY} 到 {MAX_PRIORITY} 之间"),
            ));
        }
        let reply = match &self.reply {
            RuleReply::Text { text } => {
                let text = text.trim().to_string();
                let len = text.chars().count();
                if len == 0 || len > MAX_REPLY_CHARS {
                    errors.push(field(
                        "reply",
                        "INVALID_TEXT",
                        format!("回复内容需要 1–{MAX_REPLY_CHARS} 个字"),
                    ));
                }
                for hit in lint::check(&text) {
                    errors.push(field(
                        "reply",
                        "COMPLIANCE",
                        format!("回复内容含违规用语{}", hit.message()),
                    ));
                }
                RuleReply::Text { text }
            }
            RuleReply::Collection { id } => {
                if !is_valid_id(id) {
                    errors.push(field("reply", "INVALID_COLLECTION", "收款编号不正确"));
                }
                RuleReply::Collection { id: id.clone() }
            }
        };
        if errors.is_empty() {
            Ok(KeywordRule {
                id: 0,
                trigger: self.trigger,
                pattern,
                priority: self.priority,
                reply,
            })
        } else {
            Err(errors)
        }
    }
}

fn normalise(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Rules in answering order.
fn ordered<'a>(
    rules: impl IntoIterator<Item = &'a KeywordRule>,
    keep: impl Fn(&KeywordRule) -> bool,
) -> Vec<&'a KeywordRule> {
    let mut candidates: Vec<&KeywordRule> = rules.into_iter().filter(|r| keep(r)).collect();
    candidates.sort_by_key(|r| {
        (
            std::cmp::Reverse(r.priority),
            r.trigger != Trigger::Exact,
            r.id,
        )
    });
    candidates
}

/// The rule that answers a text message.
pub fn rule_for_text<'a>(rules: &'a [KeywordRule], text: &str) -> Option<&'a KeywordRule> {
    let text = normalise(text);
    if text.is_empty() {
        return None;
    }
    ordered(rules, |r| match r.trigger {
        Trigger::Exact => normalise(&r.pattern) == text,
        Trigger::Contains => text.contains(&normalise(&r.pattern)),
        Trigger::Subscribe => false,
    })
    .into_iter()
    .next()
}

/// The rule that answers a CLICK on a menu button with `key`: exact rules only.
pub fn rule_for_click<'a>(rules: &'a [KeywordRule], key: &str) -> Option<&'a KeywordRule> {
    let key = normalise(key);
    ordered(rules, |r| {
        r.trigger == Trigger::Exact && normalise(&r.pattern) == key
    })
    .into_iter()
    .next()
}

/// The welcome rule for a new follower.
pub fn rule_for_subscribe(rules: &[KeywordRule]) -> Option<&KeywordRule> {
    ordered(rules, |r| r.trigger == Trigger::Subscribe)
        .into_iter()
        .next()
}

/// A stored rule with its owner: `None` for the operator's, else the payee's openid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRule {
    /// Who created it.
    pub owner: Option<String>,
    /// The rule.
    pub rule: KeywordRule,
}

/// The operator's rules (they answer every follower, and alone answer menu clicks and new
/// followers: the account, its menu and its welcome are the operator's).
pub fn operator_rules(rules: &[OwnedRule]) -> Vec<KeywordRule> {
    rules
        .iter()
        .filter(|r| r.owner.is_none())
        .map(|r| r.rule.clone())
        .collect()
}

/// Whether some payee's rule would answer `text` (so the follower's payee is worth looking up).
pub fn payee_rule_may_answer(rules: &[OwnedRule], text: &str) -> bool {
    let payees: Vec<KeywordRule> = rules
        .iter()
        .filter(|r| r.owner.is_some())
        .map(|r| r.rule.clone())
        .collect();
    rule_for_text(&payees, text).is_some()
}

/// The rule that answers `text` from a follower attributed to `payee` (the payee whose channel
/// they scanned or whose collection they paid last): the operator's rules first, then that
/// payee's own. Another payee's rules never answer them, so two payees may use the same
/// keyword and neither can shadow the other.
pub fn rule_for_follower<'a>(
    rules: &'a [OwnedRule],
    payee: Option<&str>,
    text: &str,
) -> Option<&'a KeywordRule> {
    let text = normalise(text);
    if text.is_empty() {
        return None;
    }
    let matches = |r: &KeywordRule| match r.trigger {
        Trigger::Exact => normalise(&r.pattern) == text,
        Trigger::Contains => text.contains(&normalise(&r.pattern)),
        Trigger::Subscribe => false,
    };
    let of = |owner: Option<&str>| {
        ordered(
            rules
                .iter()
                .filter(move |r| r.owner.as_deref() == owner)
                .map(|r| &r.rule),
            matches,
        )
        .into_iter()
        .next()
    };
    of(None).or_else(|| payee.and_then(|p| of(Some(p))))
}

/// The welcome text when no subscribe rule exists.
pub const DEFAULT_WELCOME: &str = "感谢关注！点击菜单即可查看和支付收款。";

/// What the message server does with a verified, parsed push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushPlan {
    /// Answer a text message with the matching keyword rule, if any.
    Keyword {
        /// The text typed.
        text: String,
    },
    /// A menu CLICK: answer with the exact rule for the key, if any.
    Click {
        /// The button key.
        key: String,
    },
    /// A new follower without a scene: the welcome reply.
    Welcome,
    /// A QR scan (subscribe with a scene, or SCAN): record the channel, answer with its card
    /// (or the welcome reply when `subscribed` and the scene is unknown).
    Scan {
        /// The scene value (without `qrscene_`).
        scene: String,
        /// True for a subscribe event.
        subscribed: bool,
    },
    /// A VIEW menu event: record it; nothing to answer.
    View {
        /// The URL opened.
        url: String,
    },
    /// The user unfollowed: forget what is stored about them.
    Forget,
    /// Anything else: answer `success`.
    Ignore,
}

/// Decides what to do with a push.
pub fn plan(message: &InboundMessage) -> PushPlan {
    match &message.kind {
        MessageKind::Text { content, .. } => PushPlan::Keyword {
            text: content.clone(),
        },
        MessageKind::Click { key } => PushPlan::Click { key: key.clone() },
        MessageKind::Subscribe {
            scene: Some(scene), ..
        } if !scene.is_empty() => PushPlan::Scan {
            scene: scene.clone(),
            subscribed: true,
        },
        MessageKind::Subscribe { .. } => PushPlan::Welcome,
        MessageKind::Scan { scene, .. } if !scene.is_empty() => PushPlan::Scan {
            scene: scene.clone(),
            subscribed: false,
        },
        MessageKind::View { url, .. } => PushPlan::View { url: url.clone() },
        MessageKind::Unsubscribe => PushPlan::Forget,
        MessageKind::Scan { .. } | MessageKind::Unknown { .. } => PushPlan::Ignore,
    }
}

/// How far a push's `timestamp` may be from the server's clock. In plain mode the signature
/// covers only token, timestamp and nonce — not the body — so a captured signed URL could
/// carry any body; this window bounds how long such a URL is worth anything.
pub const PUSH_TIMESTAMP_WINDOW_SECS: i64 = 600;

/// True when a push's `timestamp` (Unix seconds, as text) is within the window around `now`.
pub fn is_fresh_push(timestamp: &str, now: i64) -> bool {
    timestamp
        .trim()
        .parse::<i64>()
        .is_ok_and(|ts| (now - ts).abs() <= PUSH_TIMESTAMP_WINDOW_SECS)
}

/// The key WeChat's retries are dropped by: `MsgId` for messages, and for events
/// `FromUserName + CreateTime + Event` (two different events of one user in the same second
/// are both handled). `None` for pushes that are never acted on.
pub fn dedup_key(message: &InboundMessage) -> Option<String> {
    let event = match &message.kind {
        MessageKind::Text {
            msg_id: Some(id), ..
        } => return Some(format!("msg:{id}")),
        MessageKind::Text { msg_id: None, .. } => "text",
        MessageKind::Subscribe { .. } => "subscribe",
        MessageKind::Unsubscribe => "unsubscribe",
        MessageKind::Scan { .. } => "SCAN",
        MessageKind::Click { .. } => "CLICK",
        MessageKind::View { .. } => "VIEW",
        MessageKind::Unknown { .. } => return None,
    };
    Some(format!(
        "evt:{}:{}:{event}",
        message.from_user_name, message.create_time
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(id: i64, trigger: Trigger, pattern: &str, priority: i64) -> KeywordRule {
        KeywordRule {
            id,
            trigger,
            pattern: pattern.into(),
            priority,
            reply: RuleReply::Text {
                text: format!("r{id}"),
            },
        }
    }

    fn owned(owner: Option<&str>, r: KeywordRule) -> OwnedRule {
        OwnedRule {
            owner: owner.map(str::to_string),
            rule: r,
        }
    }

    #[test]
    fn a_payee_rule_answers_only_that_payees_followers_and_never_shadows_another() {
        let rules = vec![
            owned(Some("payee-a"), rule(1, Trigger::Exact, "团购", 0)),
            // B's broader, higher-priority rule on the same word.
            owned(Some("payee-b"), rule(2, Trigger::Contains, "团", 999)),
            owned(None, rule(3, Trigger::Exact, "帮助", -5)),
            owned(Some("payee-b"), rule(4, Trigger::Exact, "帮助", 999)),
        ];
        let answer =
            |payee: Option<&str>, text: &str| rule_for_follower(&rules, payee, text).map(|r| r.id);
        assert_eq!(answer(Some("payee-a"), "团购"), Some(1));
        assert_eq!(answer(Some("payee-b"), "团购"), Some(2));
        // A follower of nobody gets no payee's rule; the operator's answers everyone first.
        assert_eq!(answer(None, "团购"), None);
        assert_eq!(answer(None, "帮助"), Some(3));
        assert_eq!(answer(Some("payee-b"), "帮助"), Some(3));
        assert_eq!(answer(Some("payee-c"), "团购"), None);
        assert!(payee_rule_may_answer(&rules, "团购"));
        assert!(!payee_rule_may_answer(&rules, "你好"));
        assert_eq!(
            operator_rules(&rules)
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>(),
            vec![3]
        );
    }

    #[test]
    fn higher_priority_wins_then_exact_then_older() {
        let rules = vec![
            rule(1, Trigger::Contains, "收款", 0),
            rule(2, Trigger::Exact, "收款", 0),
            rule(3, Trigger::Contains, "款", 5),
            rule(4, Trigger::Contains, "收", 5),
        ];
        assert_eq!(rule_for_text(&rules, "收款").unwrap().id, 3);
        let low: Vec<_> = rules.iter().filter(|r| r.priority == 0).cloned().collect();
        assert_eq!(rule_for_text(&low, " 收款 ").unwrap().id, 2);
        assert_eq!(rule_for_text(&low, "我要收款").unwrap().id, 1);
        assert_eq!(rule_for_text(&low, "你好"), None);
        assert_eq!(rule_for_text(&low, "   "), None);
    }

    #[test]
    fn matching_ignores_ascii_case_and_clicks_use_exact_rules_only() {
        let rules = vec![
            rule(1, Trigger::Exact, "Help", 0),
            rule(2, Trigger::Contains, "MENU", 9),
        ];
        assert_eq!(rule_for_text(&rules, "help").unwrap().id, 1);
        assert_eq!(rule_for_text(&rules, "show menu please").unwrap().id, 2);
        assert_eq!(rule_for_click(&rules, "HELP").unwrap().id, 1);
        assert_eq!(rule_for_click(&rules, "menu"), None);
        assert_eq!(rule_for_subscribe(&rules), None);
        let with_welcome = [rules, vec![rule(7, Trigger::Subscribe, "", 0)]].concat();
        assert_eq!(rule_for_subscribe(&with_welcome).unwrap().id, 7);
        assert_eq!(rule_for_text(&with_welcome, ""), None);
    }

    #[test]
    fn new_rules_are_validated() {
        let good = NewRule {
            trigger: Trigger::Contains,
            pattern: " 收款 ".into(),
            priority: 3,
            reply: RuleReply::Text {
                text: "点这里付款".into(),
            },
        };
        assert_eq!(good.validate().unwrap().pattern, "收款");
        let mut bad = good.clone();
        bad.pattern = "字".repeat(31);
        bad.priority = 5000;
        bad.reply = RuleReply::Text {
            text: "稳赚不赔".into(),
        };
        let errors = bad.validate().unwrap_err();
        let codes: Vec<_> = errors.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["INVALID_TEXT", "INVALID_PRIORITY", "COMPLIANCE"]);
        let card = NewRule {
            reply: RuleReply::Collection { id: "../x".into() },
            ..good.clone()
        };
        assert_eq!(card.validate().unwrap_err()[0].code, "INVALID_COLLECTION");
        let welcome = NewRule {
            trigger: Trigger::Subscribe,
            pattern: "ignored".into(),
            ..good
        };
        assert_eq!(welcome.validate().unwrap().pattern, "");
    }

    fn message(kind: MessageKind) -> InboundMessage {
        InboundMessage {
            to_user_name: "gh".into(),
            from_user_name: "o1".into(),
            create_time: 77,
            kind,
        }
    }

    #[test]
    fn each_push_gets_a_plan() {
        let cases = [
            (
                MessageKind::Text {
                    content: "hi".into(),
                    msg_id: Some(1),
                },
                PushPlan::Keyword { text: "hi".into() },
            ),
            (
                MessageKind::Subscribe {
                    scene: None,
                    ticket: None,
                },
                PushPlan::Welcome,
            ),
            (
                MessageKind::Subscribe {
                    scene: Some("ch_A".into()),
                    ticket: None,
                },
                PushPlan::Scan {
                    scene: "ch_A".into(),
                    subscribed: true,
                },
            ),
            (
                MessageKind::Scan {
                    scene: "ch_A".into(),
                    ticket: None,
                },
                PushPlan::Scan {
                    scene: "ch_A".into(),
                    subscribed: false,
                },
            ),
            (
                MessageKind::Scan {
                    scene: String::new(),
                    ticket: None,
                },
                PushPlan::Ignore,
            ),
            (
                MessageKind::Click { key: "k".into() },
                PushPlan::Click { key: "k".into() },
            ),
            (
                MessageKind::View {
                    url: "u".into(),
                    menu_id: None,
                },
                PushPlan::View { url: "u".into() },
            ),
            (MessageKind::Unsubscribe, PushPlan::Forget),
            (
                MessageKind::Unknown {
                    msg_type: "image".into(),
                    event: None,
                },
                PushPlan::Ignore,
            ),
        ];
        for (kind, expected) in cases {
            assert_eq!(plan(&message(kind)), expected);
        }
    }

    #[test]
    fn only_pushes_signed_about_now_are_fresh() {
        assert!(is_fresh_push("1000", 1000 + PUSH_TIMESTAMP_WINDOW_SECS));
        assert!(is_fresh_push(" 1600 ", 1000));
        assert!(!is_fresh_push("1000", 1001 + PUSH_TIMESTAMP_WINDOW_SECS));
        assert!(!is_fresh_push("1701", 1000 + 100));
        assert!(!is_fresh_push("", 1000));
        assert!(!is_fresh_push("1e3", 1000));
    }

    #[test]
    fn retries_share_a_dedup_key_and_different_events_do_not() {
        let text = message(MessageKind::Text {
            content: "a".into(),
            msg_id: Some(42),
        });
        assert_eq!(dedup_key(&text).unwrap(), "msg:42");
        let scan = message(MessageKind::Scan {
            scene: "x".into(),
            ticket: None,
        });
        let click = message(MessageKind::Click { key: "x".into() });
        assert_eq!(dedup_key(&scan).unwrap(), "evt:o1:77:SCAN");
        assert_ne!(dedup_key(&scan), dedup_key(&click));
        assert_eq!(
            dedup_key(&message(MessageKind::Unknown {
                msg_type: "image".into(),
                event: None
            })),
            None
        );
    }
}
