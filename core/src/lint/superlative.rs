//! Generic superlatives: 最 + an adjective (最优, 最好吃, 全国最好) beyond the fixed word list.
//! The Advertising Law (《广告法》第九条) forbids them like 最佳 and 最低价.
//!
//! 最 is also everyday Chinese (最近, 最后一天, 最晚周五, 最多两份, 最好提前说), so the
//! pattern is deliberately narrow: a listed quality adjective after 最, a few words that are
//! claims only in some uses (最好的 vs 最好提前, 最低价 vs 最低消费, 最多人 vs 最多两份), or any
//! 最 under a claimed scope (全国最…, 全网最…, 史上最…) unless it is about time or quantity.

use super::Chars;

/// The label reported as the hit's word.
pub const WORD: &str = "最+形容词";

/// Adjectives that make a claim after 最 in any use.
const QUALITIES: &[&str] = &[
    "优",
    "佳",
    "便宜",
    "实惠",
    "划算",
    "超值",
    "正宗",
    "地道",
    "专业",
    "权威",
    "先进",
    "强",
    "棒",
    "牛",
    "火",
    "红",
    "畅销",
    "热销",
    "热卖",
    "受欢迎",
    "受好评",
    "受青睐",
    "好吃",
    "好喝",
    "好用",
    "好看",
    "好玩",
    "新鲜",
    "鲜",
    "靠谱",
    "健康",
    "美味",
    "美",
    "漂亮",
    "精",
    "全",
    "齐全",
    "纯",
    "正品",
    "时尚",
    "潮",
    "豪华",
    "高端",
    "省钱",
    "省心",
    "值得",
    "值",
    "具",
    "有名",
    "有效",
    "有性价比",
    "有口碑",
    "有人气",
    "有实力",
    "香",
    "甜",
    "嫩",
    "靓",
    "放心",
    "贴心",
    "舒适",
    "舒服",
    "环保",
    "天然",
    "可靠",
    "耐用",
    "低价",
    "显著",
    "温和",
    "安全",
    "管用",
    "干净",
    "卫生",
    "营养",
    "高档",
    "优惠",
    "人气",
];

/// Words after a scoped 最 that are about time, order or quantity (全场最后一天), not a claim.
const NEUTRAL: &[&str] = &[
    "近", "后", "晚", "早", "迟", "终", "初", "先", "末", "少", "多", "久",
];

/// Measure words that only make sense after a rank claim: 最低价, 最高品质, 最大折扣.
const RANKED: &[&str] = &[
    "价",
    "价格",
    "折",
    "折扣",
    "品质",
    "质量",
    "级",
    "端",
    "档",
    "性价比",
    "优惠",
    "销量",
    "的价",
];

/// Scopes that turn any 最 into a claim.
const SCOPES: &[&str] = &[
    "史上",
    "世界",
    "宇宙",
    "行业",
    "业内",
    "同行",
    "国内",
    "本地",
    "市面上",
    "网上",
    "天下",
];

/// The hits, as spans of normalized positions.
pub fn find(t: &Chars) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    for i in 0..t.len() {
        if t.at(i) != '最' {
            continue;
        }
        let after = i + 1;
        let scope = scope_before(t, i);
        if let Some(len) = t.starts_with_any(after, QUALITIES) {
            spans.push((scope.unwrap_or(i), after + len));
            continue;
        }
        if let Some(end) = conditional_claim(t, after, scope.is_some()) {
            spans.push((scope.unwrap_or(i), end));
            continue;
        }
        if let Some(start) = scope {
            let neutral = t.starts_with_any(after, NEUTRAL).is_some() && !quantity_claim(t, after);
            if !neutral && after < t.len() && t.at(after).is_alphabetic() {
                let end = (after..t.len())
                    .take(3)
                    .take_while(|&j| is_cjk(t.at(j)) && t.at(j) != '的')
                    .last()
                    .map_or(after, |j| j + 1);
                spans.push((start, end.max(after + 1)));
            }
        }
    }
    spans
}

/// 好, 低, 高, 大, 热, 多: claims in some uses only.
fn conditional_claim(t: &Chars, after: usize, scoped: bool) -> Option<usize> {
    let c = (after < t.len()).then(|| t.at(after))?;
    let next = after + 1;
    match c {
        // 最好的 / 最好吃 are claims, 最好提前 (had better) is advice; a scope makes it a claim.
        '好' => {
            (scoped || t.starts_with_at(next, "的") || t.starts_with_at(next, "评")).then_some(next)
        }
        // 最低的 / 最高的 are about price or level; 最大的包间 is only about size.
        '低' | '高' | '大' | '贵' => {
            if let Some(len) = t.starts_with_any(next, RANKED) {
                Some(next + len)
            } else {
                let level = matches!(c, '低' | '高') && t.starts_with_at(next, "的");
                (scoped || level).then_some(next)
            }
        }
        '热' => t
            .starts_with_any(next, &["门", "销", "卖"])
            .map(|len| next + len),
        '多' => quantity_claim(t, after).then_some(next + 1),
        _ => None,
    }
}

/// 最多人选, 最多好评, 最多的 claim a rank; 最多两份, 最多可以 limit a quantity.
fn quantity_claim(t: &Chars, after: usize) -> bool {
    t.starts_with_at(after, "多人")
        || t.starts_with_at(after, "多好评")
        || t.starts_with_at(after, "多的")
        || t.starts_with_at(after, "多回头客")
}

/// The start of a scope right before 最 (全国最, 全小区最, 史上最).
fn scope_before(t: &Chars, i: usize) -> Option<usize> {
    for word in SCOPES {
        let n = word.chars().count();
        if i >= n && t.starts_with_at(i - n, word) {
            return Some(i - n);
        }
    }
    // 全 + one to three characters: 全国, 全网, 全城, 全场, 全小区.
    (2..=4)
        .filter(|&back| i >= back)
        .map(|back| i - back)
        .find(|&s| {
            t.at(s) == '全'
                && !"部体员家班天程额款".contains(t.at(s + 1))
                && (s + 1..i).all(|j| is_cjk(t.at(j)))
        })
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c)
}
