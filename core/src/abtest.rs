//! A/B tests of how a collection is presented: 2–4 variants (title, note, cover image, how the
//! price is shown), a deterministic assignment of each visitor to one of them, and the
//! statistics the payee reads ([`stats`]).
//!
//! The worker picks the variant while it renders the payer page (no client-side switch, no
//! flicker): [`assign`] hashes the test's salt with the visitor's key, so the same visitor gets
//! the same variant on every visit, and on every device when the key is their openid.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::collection::{CollectionView, FieldError};
use crate::lint;
use crate::money::Fen;
use crate::product::{BlockOrder, ImageKey, Product};
use crate::text::{Note, Title};

pub mod stats;

/// Fewest variants of a test.
pub const MIN_VARIANTS: usize = 2;
/// Most variants of a test.
pub const MAX_VARIANTS: usize = 4;
/// Longest variant label, in characters.
pub const LABEL_CHARS: usize = 12;

/// How a variant shows the price of a price page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PriceDisplay {
    /// As published.
    #[default]
    AsPublished,
    /// The price alone (`¥68`): any original price is hidden.
    Plain,
    /// The price under a struck-out original price (`原价¥88 现价¥68`).
    WithOriginal {
        /// The original price; above the price.
        original_fen: Fen,
    },
}

/// One variant as the payee types it (`PUT /api/dash/growth/ab/:id`). Empty fields keep what
/// the collection has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct VariantDraft {
    /// A short name for the dashboard (`A`, `原价对比`).
    #[serde(default)]
    pub label: String,
    /// Another title.
    #[serde(default)]
    pub title: Option<String>,
    /// Another note.
    #[serde(default)]
    pub note: Option<String>,
    /// Another cover: one of the price page's own images, by key.
    #[serde(default)]
    pub cover: Option<String>,
    /// `plain` (¥68), `original` (原价¥88 现价¥68, with `original_price`) or empty (as published).
    #[serde(default)]
    pub price: Option<String>,
    /// The original price in yuan, for `price = "original"`.
    #[serde(default)]
    pub original_price: Option<String>,
    /// A price page's block order: `images_first`, `price_first`, or empty (as published).
    #[serde(default)]
    pub blocks: Option<String>,
}

/// A checked variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variant {
    /// Name on the dashboard.
    pub label: String,
    /// Title, when it differs.
    pub title: Option<Title>,
    /// Note, when it differs.
    pub note: Option<Note>,
    /// Cover image, when it differs.
    pub cover: Option<ImageKey>,
    /// Price display.
    #[serde(default)]
    pub price: PriceDisplay,
    /// A price page's block order, when it differs.
    #[serde(default)]
    pub blocks: Option<BlockOrder>,
}

fn refuse(errors: &mut Vec<FieldError>, field: String, code: &str, message: String) {
    errors.push(FieldError {
        field,
        code: code.into(),
        message,
    });
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Checks 2–4 drafts: lengths, the compliance lint on every text, a cover among `images` (the
/// price page's own), an original price above `price`. Errors name the field as
/// `variants[i].title` etc.
pub fn check_variants(
    drafts: &[VariantDraft],
    images: &[ImageKey],
    price: Option<Fen>,
) -> Result<Vec<Variant>, Vec<FieldError>> {
    let mut errors = Vec::new();
    if !(MIN_VARIANTS..=MAX_VARIANTS).contains(&drafts.len()) {
        refuse(
            &mut errors,
            "variants".into(),
            "INVALID_VARIANTS",
            format!("请设置 {MIN_VARIANTS}–{MAX_VARIANTS} 个版本"),
        );
        return Err(errors);
    }
    let mut out = Vec::with_capacity(drafts.len());
    for (i, d) in drafts.iter().enumerate() {
        let at = |f: &str| format!("variants[{i}].{f}");
        let label = d.label.trim();
        let label = if label.is_empty() {
            ((b'A' + i as u8) as char).to_string()
        } else {
            label.to_owned()
        };
        if label.chars().count() > LABEL_CHARS || label.chars().any(char::is_control) {
            refuse(
                &mut errors,
                at("label"),
                "INVALID_TEXT",
                format!("版本名称最多 {LABEL_CHARS} 个字"),
            );
        }
        let title = match non_empty(&d.title).map(Title::parse) {
            None => None,
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                refuse(&mut errors, at("title"), "INVALID_TEXT", e.to_string());
                None
            }
        };
        let note = match non_empty(&d.note).map(Note::parse) {
            None => None,
            Some(Ok(n)) => Some(n),
            Some(Err(e)) => {
                refuse(&mut errors, at("note"), "INVALID_TEXT", e.to_string());
                None
            }
        };
        for (field, label_cn, text) in [
            ("label", "版本名称", Some(label.as_str())),
            ("title", "标题", title.as_ref().map(Title::as_str)),
            ("note", "备注", note.as_ref().map(Note::as_str)),
        ] {
            for hit in text.map(lint::check).unwrap_or_default() {
                refuse(
                    &mut errors,
                    at(field),
                    "COMPLIANCE",
                    format!("{label_cn}含违规用语{}", hit.message()),
                );
            }
        }
        let cover = match non_empty(&d.cover) {
            None => None,
            Some(key) => match ImageKey::parse(key).filter(|k| images.contains(k)) {
                Some(k) => Some(k),
                None => {
                    refuse(
                        &mut errors,
                        at("cover"),
                        "INVALID_COVER",
                        "封面只能从这个价目页已上传的图片中选".into(),
                    );
                    None
                }
            },
        };
        let price_display = match non_empty(&d.price) {
            None | Some("as_published") => PriceDisplay::AsPublished,
            Some("plain") => PriceDisplay::Plain,
            Some("original") => {
                let original = non_empty(&d.original_price).map(Fen::parse_yuan);
                match (original, price) {
                    (Some(Ok(o)), Some(p)) if o > p => {
                        PriceDisplay::WithOriginal { original_fen: o }
                    }
                    (Some(Ok(_)), Some(_)) => {
                        refuse(
                            &mut errors,
                            at("original_price"),
                            "INVALID_AMOUNT",
                            "原价要高于现价".into(),
                        );
                        PriceDisplay::AsPublished
                    }
                    (_, None) => {
                        refuse(
                            &mut errors,
                            at("price"),
                            "INVALID_PRICE_DISPLAY",
                            "金额由付款人填写时不能显示原价".into(),
                        );
                        PriceDisplay::AsPublished
                    }
                    (Some(Err(e)), _) => {
                        refuse(
                            &mut errors,
                            at("original_price"),
                            "INVALID_AMOUNT",
                            e.to_string(),
                        );
                        PriceDisplay::AsPublished
                    }
                    (None, _) => {
                        refuse(
                            &mut errors,
                            at("original_price"),
                            "INVALID_AMOUNT",
                            "请填写原价".into(),
                        );
                        PriceDisplay::AsPublished
                    }
                }
            }
            Some(_) => {
                refuse(
                    &mut errors,
                    at("price"),
                    "INVALID_PRICE_DISPLAY",
                    "价格显示方式只能是 plain 或 original".into(),
                );
                PriceDisplay::AsPublished
            }
        };
        let blocks = match non_empty(&d.blocks) {
            None => None,
            Some("images_first") => Some(BlockOrder::ImagesFirst),
            Some("price_first") => Some(BlockOrder::PriceFirst),
            Some(_) => {
                refuse(
                    &mut errors,
                    at("blocks"),
                    "INVALID_BLOCKS",
                    "版块顺序只能是 images_first 或 price_first".into(),
                );
                None
            }
        };
        out.push(Variant {
            label,
            title,
            note,
            cover,
            price: price_display,
            blocks,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

impl Variant {
    /// Shows this variant on a collection's view (title, note).
    pub fn apply(&self, view: &mut CollectionView) {
        if let Some(title) = &self.title {
            view.title = title.as_str().to_owned();
        }
        if let Some(note) = &self.note {
            view.note = note.as_str().to_owned();
        }
    }

    /// Shows this variant on a price page's product (cover first, price display).
    pub fn apply_product(&self, product: &mut Product) {
        if let Some(cover) = &self.cover {
            if let Some(i) = product.images.iter().position(|k| k == cover) {
                let k = product.images.remove(i);
                product.images.insert(0, k);
            }
        }
        match self.price {
            PriceDisplay::AsPublished => {}
            PriceDisplay::Plain => product.original_price = None,
            PriceDisplay::WithOriginal { original_fen } => {
                product.original_price = Some(original_fen)
            }
        }
    }
}

/// The variant (0-based, `< n`) of a visitor: the first 8 bytes of SHA-256(salt, 0, visitor)
/// modulo `n`. Uniform for random salts and keys, the same for the same inputs. `n` is 1 when
/// there is nothing to choose.
pub fn assign(salt: &str, visitor: &str, n: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(visitor.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % n as u64) as usize
}

/// A first-party visitor id: 22 base64url characters (16 random bytes, given by the caller).
pub fn visitor_id(random: &[u8; 16]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
}

/// Whether a cookie's value is a visitor id of [`visitor_id`]'s shape (anything else is
/// ignored and replaced).
pub fn is_visitor_id(s: &str) -> bool {
    s.len() == 22
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Name of the visitor cookie.
pub const VISITOR_COOKIE: &str = "sk_vid";

/// `Set-Cookie` for a new visitor id: a year, first party, not readable by scripts.
pub fn visitor_cookie(id: &str, secure: bool) -> String {
    format!(
        "{VISITOR_COOKIE}={id}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(label: &str, title: &str, note: &str) -> VariantDraft {
        VariantDraft {
            label: label.into(),
            title: Some(title.into()),
            note: Some(note.into()),
            ..VariantDraft::default()
        }
    }

    #[test]
    fn variants_are_counted_linted_and_named_by_field() {
        let one = [draft("A", "周五聚餐", "")];
        let errs = check_variants(&one, &[], None).unwrap_err();
        assert_eq!(errs[0].code, "INVALID_VARIANTS");

        let bad = [
            draft("A", "周五聚餐", ""),
            draft("B", "稳赚不赔的课程", "转发即送"),
        ];
        let errs = check_variants(&bad, &[], None).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["variants[1].title", "variants[1].note"],
            "{errs:?}"
        );
        assert!(errs.iter().all(|e| e.code == "COMPLIANCE"));

        let ok = check_variants(
            &[draft("", "周五聚餐", ""), draft("", "聚餐AA", "")],
            &[],
            None,
        )
        .unwrap();
        assert_eq!((ok[0].label.as_str(), ok[1].label.as_str()), ("A", "B"));
        assert_eq!(ok[1].title.as_ref().unwrap().as_str(), "聚餐AA");
        assert_eq!(ok[0].note, None);
    }

    #[test]
    fn price_display_and_cover_are_checked_against_the_page() {
        let cover = ImageKey::parse("abcdefghijklmnopqrstuvwx.jpg").unwrap();
        let other = "bbcdefghijklmnopqrstuvwx.jpg";
        let with = |price: &str, orig: &str, cover: &str| VariantDraft {
            price: Some(price.into()),
            original_price: Some(orig.into()),
            cover: Some(cover.into()),
            ..VariantDraft::default()
        };
        let price = Some(Fen::new(6800));
        let got = check_variants(
            &[
                with("plain", "", ""),
                with("original", "88", cover.as_str()),
            ],
            std::slice::from_ref(&cover),
            price,
        )
        .unwrap();
        assert_eq!(got[0].price, PriceDisplay::Plain);
        assert_eq!(
            got[1].price,
            PriceDisplay::WithOriginal {
                original_fen: Fen::new(8800)
            }
        );
        assert_eq!(got[1].cover.as_ref(), Some(&cover));
        let errs = check_variants(
            &[with("original", "50", ""), with("", "", other)],
            std::slice::from_ref(&cover),
            price,
        )
        .unwrap_err();
        let codes: Vec<&str> = errs.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(codes, ["INVALID_AMOUNT", "INVALID_COVER"]);
        let errs =
            check_variants(&[with("original", "88", ""), with("", "", "")], &[], None).unwrap_err();
        assert_eq!(errs[0].code, "INVALID_PRICE_DISPLAY");
    }

    #[test]
    fn block_orders_are_checked() {
        let with = |blocks: &str| VariantDraft {
            blocks: Some(blocks.into()),
            ..VariantDraft::default()
        };
        let got = check_variants(&[with("images_first"), with("price_first")], &[], None).unwrap();
        assert_eq!(
            (got[0].blocks, got[1].blocks),
            (Some(BlockOrder::ImagesFirst), Some(BlockOrder::PriceFirst))
        );
        let errs = check_variants(&[with(""), with("sideways")], &[], None).unwrap_err();
        assert_eq!(
            (errs[0].field.as_str(), errs[0].code.as_str()),
            ("variants[1].blocks", "INVALID_BLOCKS")
        );
        assert_eq!(
            check_variants(&[with(""), with(" ")], &[], None).unwrap()[0].blocks,
            None
        );
    }

    #[test]
    fn a_variant_edits_the_view_and_the_product() {
        let a = ImageKey::parse("aaaaaaaaaaaaaaaaaaaaaaaa.jpg").unwrap();
        let b = ImageKey::parse("bbbbbbbbbbbbbbbbbbbbbbbb.png").unwrap();
        let mut product = Product {
            description: String::new(),
            original_price: Some(Fen::new(9900)),
            images: vec![a.clone(), b.clone()],
            deadline: None,
            location: None,
            tags: vec![],
            contact: Default::default(),
        };
        let v = Variant {
            label: "B".into(),
            title: None,
            note: None,
            cover: Some(b.clone()),
            price: PriceDisplay::Plain,
            blocks: None,
        };
        v.apply_product(&mut product);
        assert_eq!(product.images, vec![b, a]);
        assert_eq!(product.original_price, None);
    }

    #[test]
    fn assignment_is_stable_and_about_even() {
        let n = 3;
        let mut counts = [0usize; 3];
        for i in 0..30_000 {
            let v = format!("visitor-{i}");
            let got = assign("salt-1", &v, n);
            assert_eq!(got, assign("salt-1", &v, n));
            counts[got] += 1;
        }
        // 10 000 expected each; 4 standard deviations ≈ 330.
        assert!(
            counts.iter().all(|&c| (9_670..=10_330).contains(&c)),
            "{counts:?}"
        );
        // Another salt reshuffles visitors.
        let moved = (0..1000)
            .filter(|i| {
                let v = format!("visitor-{i}");
                assign("salt-1", &v, 2) != assign("salt-2", &v, 2)
            })
            .count();
        assert!((400..=600).contains(&moved), "{moved}");
        assert_eq!(assign("s", "v", 1), 0);
    }

    #[test]
    fn visitor_ids_round_trip_and_junk_is_refused() {
        let id = visitor_id(&[7u8; 16]);
        assert!(is_visitor_id(&id), "{id}");
        assert!(!is_visitor_id("short"));
        assert!(!is_visitor_id("aaaaaaaaaaaaaaaaaaaa;b"));
        assert!(visitor_cookie(&id, true).ends_with("; Secure"));
    }
}
