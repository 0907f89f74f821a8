//! Compliance lint: banned words in published titles, notes and announcements.
//!
//! Two families: financial promises and liability waivers that payment platforms refuse, and
//! the absolute terms of the Advertising Law (《广告法》第九条). Matching ignores spaces and
//! zero-width characters inside a word and reads full-width letters, digits and `％` as their
//! ASCII twins, so `稳 赚` and `１００％` are caught too. Positions are character offsets into the
//! original text (what a person counts), never bytes.

use serde::Serialize;

/// One banned word found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The banned word as listed (canonical form).
    pub word: &'static str,
    /// The text as it appears in the input, including any spaces that were skipped.
    pub matched: String,
    /// Character offset of the first matched character (0-based).
    pub start_char: usize,
    /// Character offset one past the last matched character.
    pub end_char: usize,
    /// Why it is refused, in Chinese.
    pub reason: &'static str,
}

impl Hit {
    /// A one-line explanation for people: `「稳赚」（第 3 个字起）：…`.
    pub fn message(&self) -> String {
        format!(
            "「{}」（第 {} 个字起）：{}",
            self.matched,
            self.start_char + 1,
            self.reason
        )
    }
}

const PROMISE: &str = "承诺收益或保本，属于违规金融宣传";
const WAIVER: &str = "单方面免除经营者责任的表述无效（《消费者权益保护法》第二十六条）";
const ABSOLUTE: &str = "广告不得使用绝对化用语（《广告法》第九条）";

/// The banned words. Longer words come first where one contains another, so the longest
/// match is reported.
const BANNED: &[(&str, &str)] = &[
    ("稳赚不赔", PROMISE),
    ("稳赚", PROMISE),
    ("保本", PROMISE),
    ("保收益", PROMISE),
    ("保证收益", PROMISE),
    ("无风险", PROMISE),
    ("零风险", PROMISE),
    ("躺赚", PROMISE),
    ("包赚", PROMISE),
    ("高额回报", PROMISE),
    ("免责", WAIVER),
    ("概不负责", WAIVER),
    ("最终解释权", WAIVER),
    ("最低价", ABSOLUTE),
    ("最高级", ABSOLUTE),
    ("最佳", ABSOLUTE),
    ("最便宜", ABSOLUTE),
    ("全网最", ABSOLUTE),
    ("史上最", ABSOLUTE),
    ("全国第一", ABSOLUTE),
    ("第一", ABSOLUTE),
    ("国家级", ABSOLUTE),
    ("世界级", ABSOLUTE),
    ("顶级", ABSOLUTE),
    ("唯一", ABSOLUTE),
    ("首选", ABSOLUTE),
    ("万能", ABSOLUTE),
    ("绝对", ABSOLUTE),
    ("100%", ABSOLUTE),
];

/// Ordinals that use 第一 without claiming a rank (第一次聚餐, 第一期, 第一批).
const ORDINAL_FOLLOWERS: &str = "次期天周月批届轮节课场站章步组季";

/// Lists every banned word in `text`, in order of position, without overlaps.
pub fn check(text: &str) -> Vec<Hit> {
    // (normalized char, original char index) for every char that takes part in matching.
    let original: Vec<char> = text.chars().collect();
    let norm: Vec<(char, usize)> = original
        .iter()
        .enumerate()
        .filter(|(_, c)| !is_skipped(**c))
        .map(|(i, c)| (normalize(*c), i))
        .collect();

    let mut hits = Vec::new();
    let mut i = 0;
    while i < norm.len() {
        let found = BANNED.iter().find_map(|(word, reason)| {
            let len = word.chars().count();
            let candidate = norm.get(i..i + len)?;
            let same = candidate.iter().map(|(c, _)| *c).eq(word.chars());
            if !same {
                return None;
            }
            if *word == "第一" {
                if let Some((next, _)) = norm.get(i + len) {
                    if ORDINAL_FOLLOWERS.contains(*next) {
                        return None;
                    }
                }
            }
            Some((word, reason, len))
        });
        match found {
            Some((word, reason, len)) => {
                let start_char = norm[i].1;
                let end_char = norm[i + len - 1].1 + 1;
                hits.push(Hit {
                    word,
                    matched: original[start_char..end_char].iter().collect(),
                    start_char,
                    end_char,
                    reason,
                });
                i += len;
            }
            None => i += 1,
        }
    }
    hits
}

fn is_skipped(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{3000}'
        )
}

fn normalize(c: char) -> char {
    match c {
        // Full-width ASCII block (！ to ～) maps onto ASCII by a fixed offset.
        '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
        other => other.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&'static str> {
        check(text).iter().map(|h| h.word).collect()
    }

    #[test]
    fn finds_every_required_word_with_its_reason() {
        for word in [
            "免责",
            "保本",
            "稳赚",
            "无风险",
            "零风险",
            "最低价",
            "第一",
            "国家级",
            "全网最",
            "100%",
        ] {
            let hits = check(&format!("本店{word}好物"));
            assert_eq!(hits.len(), 1, "{word}");
            assert_eq!(hits[0].word, word);
            assert_eq!(hits[0].start_char, 2);
            assert_eq!(hits[0].end_char, 2 + word.chars().count());
            assert!(!hits[0].reason.is_empty());
        }
    }

    #[test]
    fn positions_are_characters_and_the_longest_word_wins() {
        let hits = check("理财稳赚不赔，全网最低价");
        let found: Vec<_> = hits
            .iter()
            .map(|h| (h.word, h.start_char, h.end_char))
            .collect();
        // 全网最 takes the 最, so the overlapping 最低价 is not reported a second time.
        assert_eq!(found, vec![("稳赚不赔", 2, 6), ("全网最", 7, 10)]);
    }

    #[test]
    fn spaces_and_full_width_forms_do_not_hide_a_word() {
        let hits = check("稳 赚，１００％满意");
        assert_eq!(
            hits.iter().map(|h| h.word).collect::<Vec<_>>(),
            vec!["稳赚", "100%"]
        );
        assert_eq!(hits[0].matched, "稳 赚");
        assert_eq!((hits[0].start_char, hits[0].end_char), (0, 3));
        assert_eq!((hits[1].start_char, hits[1].end_char), (4, 8));
    }

    #[test]
    fn ordinal_first_is_not_a_rank_claim() {
        assert!(words("第一次聚餐 AA").is_empty());
        assert!(words("第一期团购").is_empty());
        assert_eq!(words("销量第一"), vec!["第一"]);
        assert_eq!(words("全国第一"), vec!["全国第一"]);
    }

    #[test]
    fn clean_texts_pass() {
        assert!(check("周五班级聚餐 AA，人均 88 元").is_empty());
        assert!(check("").is_empty());
    }
}
