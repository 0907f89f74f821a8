//! Induced sharing (诱导分享): a reward or an unlock offered in exchange for forwarding, sharing,
//! likes or invitations — 「转发到朋友圈即可免费领取」, 「集赞送」, 「分享给好友才能查看」. WeChat
//! blocks such pages and accounts (《微信外部链接内容管理规范》 on 诱导分享), so the lint refuses them.
//!
//! A hit needs both halves in one sentence: a sharing act and, after it, a reward. The reverse
//! order (「免费领取，只需转发到 3 个群」) counts only when the sharing is stated as a condition
//! (只需/先/必须 …) or with a count of groups or friends, so that 「送您一份小礼物，转发给家人看看」
//! stays clean. A few acts are rewards schemes by themselves (集赞, 砍一刀, 好友助力).

use super::Chars;

/// Why it is refused.
pub const REASON: &str =
    "以奖励或解锁诱导用户转发、分享、集赞或邀请好友，违反微信外部链接内容管理规范";

/// The label reported as the hit's word.
pub const WORD: &str = "诱导分享";

/// How far after the sharing act a reward may come (characters, within one sentence).
const AFTER: usize = 24;
/// How far before a conditional sharing act a reward may come.
const BEFORE: usize = 16;

/// Reward schemes on their own: no reward word is needed.
const SCHEMES: &[&str] = &["集赞", "砍一刀", "好友助力", "帮我助力", "点赞满", "点赞数"];

/// Acts of spreading a page. `转给`/`转到` only with a person or group after them (not money).
const ACTS: &[&str] = &[
    "转发",
    "分享",
    "发朋友圈",
    "发到朋友圈",
    "发至朋友圈",
    "晒朋友圈",
    "晒到朋友圈",
    "晒到群",
    "晒图",
    "晒单",
    "发圈",
    "发群",
    "发到群",
    "发到微信群",
    "发到家长群",
    "邀请好友",
    "邀请朋友",
    "邀请新",
    "邀好友",
    "拉好友",
    "拉新",
    "拉人",
    "推荐好友",
    "推荐给好友",
    "推荐给朋友",
    "点赞",
];

/// `转给`/`转到`/`发给`/`邀请`/`拉` count as acts when one of these follows within two characters.
const PEOPLE: &str = "好友朋群家同学亲人位名个";

/// Phrases that look like rewards but are not (delivery, return, claiming one's own row).
const NOT_REWARDS: &[&str] = &[
    "免费配送",
    "免费送货",
    "免费送到",
    "免费上门",
    "免费停车",
    "免费咨询",
    "免费取消",
    "免费退",
    "免费修改",
    "配送",
    "送货",
    "送达",
    "送到",
    "送往",
    "送餐",
    "送水上门",
    "送水到",
    "运送",
    "接送",
    "发送",
    "递送",
    "往返",
    "返回",
    "返程",
    "返校",
    "返乡",
    "返还",
    "认领",
    "带领",
    "领队",
    "领导",
    "记得",
    "觉得",
    "值得",
    "懂得",
    "使得",
    "晓得",
    "舍得",
    "才能让",
    "才能使",
    "才能保证",
    "才能确保",
];

/// Rewards and unlocks. Single characters that are also common in other words come after the
/// phrases that exclude them ([`NOT_REWARDS`] is checked first at each position).
const REWARDS: &[&str] = &[
    "免费",
    "领取",
    "领红包",
    "领奖",
    "领券",
    "领礼",
    "领福利",
    "可领",
    "即领",
    "就领",
    "来领",
    "红包",
    "返现",
    "返利",
    "返钱",
    "返红包",
    "赠送",
    "赠品",
    "赠",
    "送",
    "立减",
    "满减",
    "减免",
    "打折",
    "折扣",
    "优惠",
    "券",
    "免单",
    "半价",
    "抽奖",
    "奖品",
    "奖励",
    "奖金",
    "中奖",
    "礼品",
    "礼物",
    "礼包",
    "好礼",
    "福利",
    "积分",
    "现金",
    "佣金",
    "提成",
    "解锁",
    "换购",
    "兑换",
    "获得",
    "可得",
    "即得",
    "才能",
    "才可",
    "方可",
    "才有",
    "才给",
    "才送",
];

/// Counted rewards: the character followed by a number or a yuan sign (`返5元`, `得10元`, `领1份`, `减3元`).
const COUNTED: &str = "返得领减拿";
const NUMERALS: &str = "0123456789一二两三四五六七八九十百几¥￥";

/// Conditions put before a sharing act in the reverse order.
const CONDITIONS: &[&str] = &[
    "只需", "仅需", "只要", "需要", "需", "先", "必须", "要求", "条件",
];

/// Sentence ends: a reward in another sentence is not tied to the act.
fn ends_sentence(c: char) -> bool {
    matches!(c, '。' | '！' | '!' | '？' | '?' | '；' | ';' | '\n' | '…')
}

/// The hits, as spans of normalized positions `(start, end)`.
pub fn find(t: &Chars) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if let Some(len) = t.starts_with_any(i, SCHEMES) {
            spans.push((i, i + len));
            i += len;
            continue;
        }
        if let Some(end) = collect_likes(t, i) {
            spans.push((i, end));
            i = end;
            continue;
        }
        if let Some(len) = act_at(t, i) {
            if let Some(end) = reward_after(t, i + len) {
                spans.push((i, end));
                i = end;
                continue;
            }
            if let Some(start) = reward_before(t, i, len) {
                let end = i + len;
                // Replace a span that ended inside this one (it cannot: spans advance `i`).
                spans.push((start, end));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    spans
}

/// `集满 38 个赞`, `集齐 20 赞`: counted likes are a scheme by themselves.
fn collect_likes(t: &Chars, i: usize) -> Option<usize> {
    if t.starts_with_at(i, "集满") || t.starts_with_at(i, "攒满") || t.starts_with_at(i, "集齐")
    {
        let end = (i + 8).min(t.len());
        return (i + 2..end)
            .take_while(|&j| !ends_sentence(t.at(j)))
            .find(|&j| t.at(j) == '赞')
            .map(|j| j + 1);
    }
    None
}

/// The length of a sharing act at `i`.
fn act_at(t: &Chars, i: usize) -> Option<usize> {
    if let Some(len) = t.starts_with_any(i, ACTS) {
        return Some(len);
    }
    for verb in ["转给", "转到", "发给", "邀请", "拉"] {
        if t.starts_with_at(i, verb) {
            let len = verb.chars().count();
            let person = (i + len..(i + len + 3).min(t.len()))
                .any(|j| PEOPLE.contains(t.at(j)) || NUMERALS.contains(t.at(j)));
            // 拉 alone is too common (拉面, 拉手): only with a number or people right after it.
            if person
                && (verb != "拉" || PEOPLE.contains(t.at(i + 1)) || NUMERALS.contains(t.at(i + 1)))
            {
                return Some(len);
            }
        }
    }
    None
}

/// The end of a reward starting in the same sentence within [`AFTER`] characters of `from`.
fn reward_after(t: &Chars, from: usize) -> Option<usize> {
    let mut j = from;
    while j < t.len() && j < from + AFTER && !ends_sentence(t.at(j)) {
        if let Some(len) = t.starts_with_any(j, NOT_REWARDS) {
            j += len;
            continue;
        }
        if let Some(len) = reward_at(t, j) {
            return Some(j + len);
        }
        j += 1;
    }
    None
}

/// The start of a reward before a sharing act at `act` that is stated as a condition.
fn reward_before(t: &Chars, act: usize, act_len: usize) -> Option<usize> {
    let conditional = CONDITIONS.iter().any(|c| {
        let n = c.chars().count();
        (1..=2).any(|gap| act >= n + gap - 1 && t.starts_with_at(act + 1 - gap - n, c))
    }) || counted_target(t, act + act_len);
    if !conditional {
        return None;
    }
    let mut j = act;
    let mut first = None;
    while j > 0 && act - j < BEFORE {
        j -= 1;
        if ends_sentence(t.at(j)) {
            break;
        }
        if t.starts_with_any(j, NOT_REWARDS).is_some() {
            continue;
        }
        if reward_at(t, j).is_some_and(|len| j + len <= act) {
            first = Some(j);
        }
    }
    first
}

/// `到 3 个群`, `给 5 位好友`: a count of groups or friends right after the act.
fn counted_target(t: &Chars, from: usize) -> bool {
    let end = (from + 8).min(t.len());
    (from..end)
        .take_while(|&j| !ends_sentence(t.at(j)))
        .any(|j| {
            NUMERALS.contains(t.at(j))
                && j + 1 < t.len()
                && (t.starts_with_at(j + 1, "个群")
                    || t.starts_with_at(j + 1, "个好友")
                    || t.starts_with_at(j + 1, "位好友")
                    || t.starts_with_at(j + 1, "个朋友")
                    || t.starts_with_at(j + 1, "位朋友")
                    || t.starts_with_at(j + 1, "人")
                    || t.starts_with_at(j + 1, "个赞"))
        })
}

/// The length of a reward at `j`.
fn reward_at(t: &Chars, j: usize) -> Option<usize> {
    if let Some(len) = t.starts_with_any(j, REWARDS) {
        return Some(len);
    }
    let c = t.at(j);
    if COUNTED.contains(c) && j + 1 < t.len() && NUMERALS.contains(t.at(j + 1)) {
        return Some(2);
    }
    None
}
