//! `shoukuan lint` prints what `shoukuan_core::lint::check` finds, one hit per line, and exits 1
//! when there is any.

mod common;

use common::{failure, shoukuan, success, write};

#[test]
fn lint_lists_each_banned_word_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let text = "本周聚餐稳赚不赔，全网最低价，100%满意";
    let hits = shoukuan_core::lint::check(text);
    assert!(!hits.is_empty(), "the lint must flag this text");
    let file = write(dir.path(), "text.txt", text);
    let out = shoukuan()
        .args(["lint", "--text-file"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    failure(out, &format!("{} banned word", hits.len()));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), hits.len());
    for (line, hit) in lines.iter().zip(&hits) {
        assert_eq!(
            *line,
            format!(
                "{}-{}\t{}\t{}",
                hit.start_char, hit.end_char, hit.word, hit.reason
            )
        );
        let span: String = text
            .chars()
            .skip(hit.start_char)
            .take(hit.end_char - hit.start_char)
            .collect();
        assert_eq!(span, hit.matched);
    }

    let clean = write(dir.path(), "clean.txt", "周五晚上聚餐，AA 收款");
    assert!(shoukuan_core::lint::check("周五晚上聚餐，AA 收款").is_empty());
    let out = shoukuan()
        .args(["lint", "--text-file"])
        .arg(&clean)
        .output()
        .unwrap();
    assert_eq!(success(out), "");
}

#[test]
fn lint_reports_induced_sharing_and_generic_superlatives_by_pattern() {
    let dir = tempfile::tempdir().unwrap();
    let text = "全国最好的鸭脖，转发到朋友圈即可免费领取";
    let file = write(dir.path(), "shop.txt", text);
    let out = shoukuan()
        .args(["lint", "--text-file"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    failure(out, "2 banned word");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("0-4\t最+形容词\t"), "{stdout}");
    assert!(lines[1].starts_with("8-18\t诱导分享\t"), "{stdout}");
    assert!(lines[1].contains("诱导"), "{stdout}");
}
