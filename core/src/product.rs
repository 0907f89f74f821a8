//! Moments price pages (`kind = product`): the product's copy, images, limited-time offer,
//! shop location and topic tags; their validation (with the compliance lint), the page card
//! the worker renders into `/c/:id`, and the share meta (OpenGraph) of that page.

use serde::{Deserialize, Serialize};

use crate::collection::{AmountRule, CollectionView, FieldError, Status};
use crate::contact::{contact_section, ContactAsk, ContactState};
use crate::deadline::{Countdown, Deadline};
use crate::lint;
use crate::money::Fen;
use crate::page::{escape, personal_pay_steps, COPY_SCRIPT, QR_CSS_PX};
use crate::qr;
use crate::urlenc::encode_component;

/// Most images on a page.
pub const MAX_IMAGES: usize = 9;
/// Most topic tags.
pub const MAX_TAGS: usize = 5;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 12;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 200;
/// Longest shop name, in characters.
pub const MAX_SHOP_NAME: usize = 30;
/// Longest address, in characters.
pub const MAX_ADDRESS: usize = 80;
/// Largest image the worker stores, in bytes (the app resizes to ≤ 1080 px before upload).
pub const MAX_IMAGE_BYTES: usize = 1_500_000;

/// Map sites whose links a payee may paste as the shop's map link.
const MAP_HOSTS: &[&str] = &[
    "uri.amap.com",
    "surl.amap.com",
    "ditu.amap.com",
    "www.amap.com",
    "amap.com",
    "map.qq.com",
    "apis.map.qq.com",
    "map.baidu.com",
    "j.map.baidu.com",
    "api.map.baidu.com",
];

/// The name of a stored image: 24 letters or digits and `.jpg`, `.png` or `.webp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageKey(String);

impl ImageKey {
    /// Checks a key.
    pub fn parse(s: &str) -> Option<ImageKey> {
        let (stem, ext) = s.split_once('.')?;
        let ok = stem.len() == 24
            && stem.bytes().all(|b| b.is_ascii_alphanumeric())
            && matches!(ext, "jpg" | "png" | "webp");
        ok.then(|| ImageKey(s.to_owned()))
    }

    /// A key for a new upload of `content_type`; `stem` must be 24 random letters or digits.
    pub fn for_upload(stem: &str, content_type: &str) -> Option<ImageKey> {
        let ext = match content_type.split(';').next()?.trim() {
            "image/jpeg" => "jpg",
            "image/png" => "png",
            "image/webp" => "webp",
            _ => return None,
        };
        Self::parse(&format!("{stem}.{ext}"))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the worker serves it: `/i/<key>`.
    pub fn path(&self) -> String {
        format!("/i/{}", self.0)
    }

    /// The content type of the stored bytes.
    pub fn content_type(&self) -> &'static str {
        match self.0.rsplit('.').next() {
            Some("png") => "image/png",
            Some("webp") => "image/webp",
            _ => "image/jpeg",
        }
    }
}

impl TryFrom<String> for ImageKey {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ImageKey::parse(&s).ok_or_else(|| "not an image key".to_owned())
    }
}

impl From<ImageKey> for String {
    fn from(k: ImageKey) -> String {
        k.0
    }
}

/// Checks the first bytes of an upload against its declared type (JPEG, PNG, WebP).
pub fn sniff_matches(bytes: &[u8], content_type: &str) -> bool {
    match content_type.split(';').next().unwrap_or("").trim() {
        "image/jpeg" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/png" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/webp" => bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        _ => false,
    }
}

/// The shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Shop name.
    pub name: String,
    /// Address.
    pub address: String,
    /// A map link: pasted from a map app (allow-listed hosts) or a map search for the address.
    pub map_url: String,
}

/// The `product` part of a publish body, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewProduct {
    /// Description (≤ 200 characters).
    #[serde(default)]
    pub description: String,
    /// Original price, `"199"`; empty for none.
    #[serde(default)]
    pub original_price: Option<String>,
    /// Uploaded image keys, in order (the first is the cover).
    #[serde(default)]
    pub images: Vec<String>,
    /// End of the offer, Beijing time `YYYY-MM-DDTHH:MM`; empty for none.
    #[serde(default)]
    pub deadline: Option<String>,
    /// Shop name; empty for no location.
    #[serde(default)]
    pub shop_name: String,
    /// Shop address.
    #[serde(default)]
    pub shop_address: String,
    /// A map link pasted from a map app; empty to search the address.
    #[serde(default)]
    pub map_url: String,
    /// Topic tags, with or without `#`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// What buyers are asked to leave.
    #[serde(default)]
    pub contact: ContactAsk,
}

/// A checked product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Description.
    pub description: String,
    /// Original price (above the price).
    pub original_price: Option<Fen>,
    /// Images (the first is the cover).
    pub images: Vec<ImageKey>,
    /// End of the offer.
    pub deadline: Option<Deadline>,
    /// Shop.
    pub location: Option<Location>,
    /// Topic tags without `#`.
    pub tags: Vec<String>,
    /// What buyers are asked to leave (「留下联系方式」).
    #[serde(default)]
    pub contact: ContactAsk,
}

fn field_error(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        code: code.into(),
        message: message.into(),
    }
}

fn single_line(s: &str) -> bool {
    !s.chars().any(|c| c.is_control())
}

fn lint_into(field: &str, label: &str, text: &str, errors: &mut Vec<FieldError>) {
    for hit in lint::check(text) {
        errors.push(field_error(
            field,
            "COMPLIANCE",
            format!("{label}含违规用语{}", hit.message()),
        ));
    }
}

/// A map search for a place (Amap's URI API opens its app or web page inside WeChat).
pub fn map_search_url(name: &str, address: &str) -> String {
    let keyword = format!("{name} {address}");
    format!(
        "https://uri.amap.com/search?keyword={}&src=shoukuan&callnative=1",
        encode_component(keyword.trim())
    )
}

fn allowed_map_link(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    url.len() <= 500
        && !url.contains(['"', '\'', '<', '>', ' ', '\\'])
        && MAP_HOSTS.contains(&host.to_ascii_lowercase().as_str())
}

impl NewProduct {
    /// Checks every field against the collection's `price`; `now` bounds the deadline.
    pub fn validate(&self, price: Option<Fen>, now: i64) -> Result<Product, Vec<FieldError>> {
        let mut errors = Vec::new();
        if price.is_none() {
            errors.push(field_error(
                "amount",
                "INVALID_AMOUNT",
                "价格页需要填写价格",
            ));
        }
        let description = self.description.trim().to_owned();
        let len = description.chars().count();
        if len > MAX_DESCRIPTION {
            errors.push(field_error(
                "product.description",
                "INVALID_TEXT",
                format!("描述最多 {MAX_DESCRIPTION} 个字（现在 {len} 个）"),
            ));
        }
        if description.chars().any(|c| c.is_control() && c != '\n') {
            errors.push(field_error(
                "product.description",
                "INVALID_TEXT",
                "描述含有不可见的控制字符",
            ));
        }
        lint_into("product.description", "描述", &description, &mut errors);
        let original_price = match self.original_price.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => match Fen::parse_yuan(raw) {
                Ok(orig) if price.is_some_and(|p| orig <= p) => {
                    errors.push(field_error(
                        "product.original_price",
                        "INVALID_AMOUNT",
                        "原价应高于现价",
                    ));
                    None
                }
                Ok(orig) => Some(orig),
                Err(e) => {
                    errors.push(field_error(
                        "product.original_price",
                        "INVALID_AMOUNT",
                        e.to_string(),
                    ));
                    None
                }
            },
        };
        let mut images = Vec::new();
        if self.images.len() > MAX_IMAGES {
            errors.push(field_error(
                "product.images",
                "INVALID_IMAGES",
                format!("最多 {MAX_IMAGES} 张图片"),
            ));
        }
        for key in self.images.iter().take(MAX_IMAGES) {
            match ImageKey::parse(key) {
                Some(k) if !images.contains(&k) => images.push(k),
                _ => {
                    errors.push(field_error(
                        "product.images",
                        "INVALID_IMAGES",
                        "图片无效，请重新上传",
                    ));
                    break;
                }
            }
        }
        let deadline = match self.deadline.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Deadline::parse_future(raw, now)
                .map_err(|e| {
                    errors.push(field_error(
                        "product.deadline",
                        "INVALID_DEADLINE",
                        e.to_string(),
                    ))
                })
                .ok(),
        };
        let location = self.location(&mut errors);
        let mut tags: Vec<String> = Vec::new();
        if self.tags.len() > MAX_TAGS {
            errors.push(field_error(
                "product.tags",
                "INVALID_TAGS",
                format!("最多 {MAX_TAGS} 个话题"),
            ));
        }
        for raw in self.tags.iter().take(MAX_TAGS) {
            let tag = raw.trim().trim_start_matches(['#', '＃']).trim();
            let len = tag.chars().count();
            if len == 0
                || len > MAX_TAG_CHARS
                || tag.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || matches!(c, '#' | '＃' | '<' | '>')
                })
            {
                errors.push(field_error(
                    "product.tags",
                    "INVALID_TAGS",
                    format!("话题应为 1–{MAX_TAG_CHARS} 个字，不含空格和 #"),
                ));
                continue;
            }
            lint_into("product.tags", "话题", tag, &mut errors);
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }
        if errors.is_empty() {
            Ok(Product {
                description,
                original_price,
                images,
                deadline,
                location,
                tags,
                contact: self.contact,
            })
        } else {
            Err(errors)
        }
    }

    fn location(&self, errors: &mut Vec<FieldError>) -> Option<Location> {
        let name = self.shop_name.trim();
        let address = self.shop_address.trim();
        let map = self.map_url.trim();
        if name.is_empty() && address.is_empty() && map.is_empty() {
            return None;
        }
        let before = errors.len();
        if name.is_empty() || name.chars().count() > MAX_SHOP_NAME || !single_line(name) {
            errors.push(field_error(
                "product.shop_name",
                "INVALID_TEXT",
                format!("店铺名称应为 1–{MAX_SHOP_NAME} 个字"),
            ));
        }
        if address.is_empty() || address.chars().count() > MAX_ADDRESS || !single_line(address) {
            errors.push(field_error(
                "product.shop_address",
                "INVALID_TEXT",
                format!("地址应为 1–{MAX_ADDRESS} 个字"),
            ));
        }
        lint_into("product.shop_name", "店铺名称", name, errors);
        lint_into("product.shop_address", "地址", address, errors);
        if !map.is_empty() && !allowed_map_link(map) {
            errors.push(field_error(
                "product.map_url",
                "INVALID_URL",
                "地图链接需是高德、腾讯或百度地图的 https 链接",
            ));
        }
        (errors.len() == before).then(|| Location {
            name: name.to_owned(),
            address: address.to_owned(),
            map_url: if map.is_empty() {
                map_search_url(name, address)
            } else {
                map.to_owned()
            },
        })
    }
}

/// Whether the offer is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offer {
    /// Payable (before the deadline, or without one).
    Active,
    /// The deadline has passed.
    Ended,
    /// The payee closed the page.
    Closed,
}

/// The order of a price page's blocks (an A/B variant may change it, `core::abtest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockOrder {
    /// The images, then title, price and the pay action (as published).
    #[default]
    ImagesFirst,
    /// Title, price and the pay action, then the images.
    PriceFirst,
}

/// A product page as the payer sees it (`GET /api/products/:id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductView {
    /// The collection (title, price as the amount, payee, 收款码).
    pub collection: CollectionView,
    /// The product.
    pub product: Product,
    /// The offer's state at `now`.
    pub offer: Offer,
    /// The server's clock, Unix seconds (countdown).
    pub now: i64,
    /// The order of the page's blocks.
    #[serde(default)]
    pub blocks: BlockOrder,
}

impl ProductView {
    /// Puts a view together; the offer's state follows from the status and the deadline.
    pub fn new(collection: CollectionView, product: Product, now: i64) -> ProductView {
        let offer = offer_at(collection.status, product.deadline, now);
        ProductView {
            collection,
            product,
            offer,
            now,
            blocks: BlockOrder::ImagesFirst,
        }
    }

    /// The price.
    pub fn price(&self) -> Option<Fen> {
        match self.collection.amount {
            AmountRule::Fixed { fen } => Some(fen),
            AmountRule::PayerEntered => None,
        }
    }
}

/// The offer's state for a status and deadline at `now`.
pub fn offer_at(status: Status, deadline: Option<Deadline>, now: i64) -> Offer {
    match (status, deadline) {
        (Status::Closed, _) => Offer::Closed,
        (Status::Open, Some(d)) if d.is_over(now) => Offer::Ended,
        _ => Offer::Active,
    }
}

/// The share card's text: the description, or `¥12.00 · 店名` when there is none.
pub fn share_description(view: &ProductView) -> String {
    let desc: String = view.product.description.chars().take(60).collect();
    if !desc.trim().is_empty() {
        return desc.replace('\n', " ");
    }
    let mut parts = Vec::new();
    if let Some(price) = view.price() {
        parts.push(price.to_string());
    }
    if let Some(loc) = &view.product.location {
        parts.push(loc.name.clone());
    }
    parts.join(" · ")
}

/// OpenGraph (and plain `description`) meta for the `<head>` of `/c/:id`; `origin` is the
/// site's public origin (`https://…`) so crawlers get absolute URLs.
pub fn og_meta(view: &ProductView, origin: &str) -> String {
    let url = format!("{origin}/c/{}", view.collection.id);
    let desc = share_description(view);
    let mut out = format!(
        concat!(
            r#"<meta name="description" content="{desc}">"#,
            r#"<meta property="og:type" content="product">"#,
            r#"<meta property="og:title" content="{title}">"#,
            r#"<meta property="og:description" content="{desc}">"#,
            r#"<meta property="og:url" content="{url}">"#,
            r#"<meta property="og:site_name" content="收款">"#
        ),
        desc = escape(&desc),
        title = escape(&view.collection.title),
        url = escape(&url),
    );
    if let Some(cover) = view.product.images.first() {
        out.push_str(&format!(
            r#"<meta property="og:image" content="{}">"#,
            escape(&format!("{origin}{}", cover.path()))
        ));
    }
    if let Some(price) = view.price() {
        out.push_str(&format!(
            r#"<meta property="product:price:amount" content="{}"><meta property="product:price:currency" content="CNY">"#,
            price.to_yuan_string()
        ));
    }
    out
}

/// The offer line: a countdown, or why it is over.
pub fn offer_text(view: &ProductView, now: i64) -> String {
    match (view.offer, view.product.deadline) {
        (Offer::Closed, _) => "已下架".to_owned(),
        (Offer::Ended, _) => "活动已结束".to_owned(),
        (Offer::Active, Some(d)) => match Countdown::until(d, now) {
            Some(left) => format!("距结束 {}", left.text()),
            None => "活动已结束".to_owned(),
        },
        (Offer::Active, None) => String::new(),
    }
}

/// The product card, server-rendered into `/c/:id` (and again by `?part=live` when the
/// offer ends). The pay action comes right after the price, above the fold on a phone; a
/// gallery of more than one image says how many there are. Every dynamic value is escaped.
pub fn product_card(view: &ProductView) -> String {
    let c = &view.collection;
    let count = view.product.images.len();
    let images: String = view
        .product
        .images
        .iter()
        .enumerate()
        .map(|(i, k)| {
            format!(
                r#"<img class="product-img" src="{}" alt="{}" loading="{}">"#,
                escape(&k.path()),
                escape(&format!("{} 图{}", c.title, i + 1)),
                if i == 0 { "eager" } else { "lazy" }
            )
        })
        .collect();
    let gallery = match count {
        0 => String::new(),
        1 => format!(r#"<div class="product-gallery">{images}</div>"#),
        n => format!(
            r#"<div class="gallery-wrap"><div class="product-gallery">{images}</div><span id="gallery_count" class="gallery-count">共 {n} 张 · 左右滑动</span></div>"#
        ),
    };
    let price = view.price().map_or(String::new(), |p| {
        let original = view.product.original_price.map_or(String::new(), |o| {
            format!(r#" <del class="original-price">{o}</del>"#)
        });
        format!(
            r#"<div class="price-tag"><span class="price" id="price">{p}</span>{original}</div>"#
        )
    });
    let offer = offer_text(view, view.now);
    let countdown = match (view.product.deadline, offer.is_empty(), view.offer) {
        (_, true, _) => String::new(),
        (Some(d), false, Offer::Active) => format!(
            r#"<p id="countdown" class="countdown" data-deadline="{}" data-now="{}">{}</p>"#,
            d.unix(),
            view.now,
            escape(&offer)
        ),
        _ => format!(
            r#"<p id="countdown" class="countdown ended">{}</p>"#,
            escape(&offer)
        ),
    };
    let description = if view.product.description.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p class="product-desc">{}</p>"#,
            escape(&view.product.description)
        )
    };
    let tags: String = view
        .product
        .tags
        .iter()
        .map(|t| format!(r#"<span class="tag">#{}</span>"#, escape(t)))
        .collect();
    let tags = if tags.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="tags">{tags}</p>"#)
    };
    let location = view.product.location.as_ref().map_or(String::new(), |l| {
        format!(
            concat!(
                r#"<div class="shop"><div class="shop-name">{name}</div><div class="shop-address">{address}</div>"#,
                r#"<a class="map-link" id="map_link" href="{map}" rel="noopener">查看地图</a></div>"#
            ),
            name = escape(&l.name),
            address = escape(&l.address),
            map = escape(&l.map_url)
        )
    });
    let pay = match (view.offer, qr::png_data_url(&c.pay_code, QR_CSS_PX * 2)) {
        (Offer::Active, Ok(src)) => format!(
            concat!(
                r#"<figure class="qr" id="pay_qr"><img class="qr-img" src="{src}" alt="{payee}的微信收款码" width="{px}" height="{px}"></figure>"#,
                "{steps}"
            ),
            src = src,
            payee = escape(&c.payee_name),
            px = QR_CSS_PX,
            steps = personal_pay_steps(view.price(), &c.title),
        ),
        (Offer::Active, Err(_)) => r#"<p class="closed">收款码无法显示，请联系商家</p>"#.to_owned(),
        (Offer::Ended, _) => {
            r#"<p id="offer_ended" class="closed offer-ended">活动已结束，感谢关注</p>"#.to_owned()
        }
        (Offer::Closed, _) => r#"<p id="offer_ended" class="closed">该商品已下架</p>"#.to_owned(),
    };
    // No 微信支付 mark: paying a personal 收款码 is a transfer, not a WeChat Pay payment.
    // Price first: the gallery moves below the pay action (the same markup otherwise).
    let (gallery, gallery_after) = match view.blocks {
        BlockOrder::ImagesFirst => (gallery, String::new()),
        BlockOrder::PriceFirst => (String::new(), gallery),
    };
    format!(
        concat!(
            r#"<article class="card product-card" data-collection-id="{id}">{gallery}"#,
            r#"<h1 class="title">{title}</h1>{price}{countdown}{pay}{gallery_after}{note}{description}{tags}{location}"#,
            r#"<p class="payee-line">商家：{payee}</p>"#,
            r#"<a id="make_poster" class="button secondary" href="/poster/{id}">生成分享海报</a></article>"#
        ),
        id = escape(&c.id),
        gallery = gallery,
        gallery_after = gallery_after,
        title = escape(&c.title),
        price = price,
        countdown = countdown,
        note = if c.note.is_empty() {
            String::new()
        } else {
            format!(r#"<p class="note">{}</p>"#, escape(&c.note))
        },
        description = description,
        tags = tags,
        location = location,
        pay = pay,
        payee = escape(&c.payee_name),
    )
}

/// The whole `#app` content of a price page: the card and its script (no WebAssembly).
pub fn product_body(view: &ProductView) -> String {
    product_body_with(view, &ContactState::Blank)
}

/// [`product_body`] with the contact section in `state` (a refused or saved post).
pub fn product_body_with(view: &ProductView, contact: &ContactState) -> String {
    format!(
        r#"<main class="page">{}{}</main><script>{COPY_SCRIPT}</script><script>{PRODUCT_SCRIPT}</script>"#,
        product_card(view),
        if view.offer == Offer::Active {
            contact_section(&view.collection.id, view.product.contact, contact)
        } else {
            String::new()
        }
    )
}

/// The price page's script: the countdown (`#countdown[data-deadline]`, as
/// [`Countdown::text`] writes it) and, when it passes, the card again from the worker
/// (`?part=live`: the code is gone, 活动已结束) without a reload; then
/// `document.body.dataset.ready = "1"`.
pub const PRODUCT_SCRIPT: &str = r#"(function(){
var d=document,offset=null,timer=0;
function p2(n){return (n<10?'0':'')+n}
function tick(){clearTimeout(timer);var c=d.querySelector('#countdown[data-deadline]');if(!c)return;
 if(offset===null)offset=+c.getAttribute('data-now')-Math.floor(Date.now()/1000);
 var s=+c.getAttribute('data-deadline')-(Math.floor(Date.now()/1000)+offset);
 if(s<=0){c.textContent='活动已结束';timer=setTimeout(ended,1000);return}
 var D=Math.floor(s/86400),t=p2(Math.floor(s%86400/3600))+':'+p2(Math.floor(s%3600/60))+':'+p2(s%60);
 c.textContent='距结束 '+(D>0?D+'天 '+t:t);timer=setTimeout(tick,1000);}
function ended(){var a=d.querySelector('article.product-card');if(!a||!window.fetch)return;
 fetch('/c/'+a.getAttribute('data-collection-id')+'?part=live').then(function(r){return r.ok?r.text():''}).then(function(h){
  if(!h)return;var t=d.createElement('div');t.innerHTML=h;var n=t.querySelector('article.product-card');if(n)a.parentNode.replaceChild(n,a);tick();});}
tick();d.body.dataset.ready='1';
})();"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::Kind;

    const NOW: i64 = 1_796_000_000;
    const KEY: &str = "abcdefghijklmnopqrstuvwx.jpg";

    fn good() -> NewProduct {
        NewProduct {
            description: "手工酸奶，每日现做".into(),
            original_price: Some("39".into()),
            images: vec![KEY.into()],
            deadline: Some("2026-12-01T18:00".into()),
            shop_name: "小满酸奶".into(),
            shop_address: "上海市黄浦区南京东路 1 号".into(),
            map_url: String::new(),
            tags: vec!["#酸奶".into(), "下午茶".into(), "酸奶".into()],
            contact: ContactAsk::PhoneAddress,
        }
    }

    fn view(product: Product, status: Status, now: i64) -> ProductView {
        ProductView::new(
            CollectionView {
                id: "aB3dE6gH9k".into(),
                kind: Kind::Product,
                status,
                payee_name: "小满".into(),
                title: "酸奶<限时>".into(),
                amount: AmountRule::Fixed {
                    fen: Fen::new(2900),
                },
                note: String::new(),
                pay_code: "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5".into(),
                created_at: 0,
            },
            product,
            now,
        )
    }

    #[test]
    fn price_first_moves_the_gallery_below_the_pay_action() {
        let product = good().validate(Some(Fen::new(2900)), NOW).unwrap();
        let mut v = view(product, Status::Open, NOW);
        let first = product_card(&v);
        let at = |html: &str, what: &str| html.find(what).unwrap();
        assert!(at(&first, "product-gallery") < at(&first, r#"<h1 class="title">"#));
        v.blocks = BlockOrder::PriceFirst;
        let moved = product_card(&v);
        assert!(at(&moved, r#"<h1 class="title">"#) < at(&moved, "pay_qr"));
        assert!(at(&moved, "pay_qr") < at(&moved, "product-gallery"));
        assert_eq!(moved.len(), first.len(), "the same blocks, reordered");
    }

    #[test]
    fn a_good_product_validates_with_a_map_search_and_clean_tags() {
        let p = good().validate(Some(Fen::new(2900)), NOW).unwrap();
        assert_eq!(p.original_price, Some(Fen::new(3900)));
        assert_eq!(p.tags, vec!["酸奶", "下午茶"]);
        let loc = p.location.unwrap();
        assert!(loc
            .map_url
            .starts_with("https://uri.amap.com/search?keyword=%E5%B0%8F"));
        assert_eq!(p.deadline.unwrap().to_cst_string(), "2026-12-01 18:00");
    }

    #[test]
    fn every_bad_field_is_reported_and_the_copy_is_linted() {
        let bad = NewProduct {
            description: "全网最低价，稳赚".into(),
            original_price: Some("10".into()),
            images: vec!["../../etc/passwd".into()],
            deadline: Some("2020-01-01T00:00".into()),
            shop_name: "第一名店".into(),
            shop_address: String::new(),
            map_url: "https://evil.example.com/x".into(),
            tags: vec!["两 个".into()],
            contact: ContactAsk::None,
        };
        let errors = bad.validate(Some(Fen::new(2900)), NOW).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "product.description",
                "product.description",
                "product.original_price",
                "product.images",
                "product.deadline",
                "product.shop_address",
                "product.shop_name",
                "product.map_url",
                "product.tags",
            ]
        );
        assert!(
            errors[0].message.contains("全网最"),
            "{}",
            errors[0].message
        );
        let no_price = NewProduct::default().validate(None, NOW).unwrap_err();
        assert_eq!(no_price[0].field, "amount");
    }

    #[test]
    fn pasted_map_links_must_be_from_map_sites() {
        assert!(allowed_map_link("https://surl.amap.com/abc123"));
        assert!(allowed_map_link("https://map.qq.com/?l=1"));
        assert!(!allowed_map_link("http://surl.amap.com/abc"));
        assert!(!allowed_map_link("https://amap.com.evil.cn/x"));
        assert!(!allowed_map_link("https://map.qq.com/\"><script>"));
    }

    #[test]
    fn image_keys_are_strict_and_sniffed() {
        assert!(ImageKey::parse(KEY).is_some());
        for bad in [
            "x.jpg",
            "abcdefghijklmnopqrstuvwx.gif",
            "abcdefghijklmnopqrstuv/x.jpg",
            "",
        ] {
            assert!(ImageKey::parse(bad).is_none(), "{bad}");
        }
        let key = ImageKey::for_upload("abcdefghijklmnopqrstuvwx", "image/png").unwrap();
        assert_eq!(key.path(), "/i/abcdefghijklmnopqrstuvwx.png");
        assert_eq!(key.content_type(), "image/png");
        assert!(ImageKey::for_upload("abcdefghijklmnopqrstuvwx", "text/html").is_none());
        assert!(sniff_matches(b"\xFF\xD8\xFF\xE0rest", "image/jpeg"));
        assert!(!sniff_matches(b"<html>", "image/jpeg"));
        assert!(sniff_matches(b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"));
    }

    #[test]
    fn the_offer_ends_at_the_deadline() {
        let p = good().validate(Some(Fen::new(2900)), NOW).unwrap();
        let deadline = p.deadline.unwrap().unix();
        let before = view(p.clone(), Status::Open, deadline - 61);
        assert_eq!(before.offer, Offer::Active);
        assert_eq!(offer_text(&before, deadline - 61), "距结束 00:01:01");
        let html = product_card(&before);
        assert!(html.contains("qr-img"));
        assert!(html.contains(&format!(r#"data-deadline="{deadline}""#)));
        let after = view(p.clone(), Status::Open, deadline);
        assert_eq!(after.offer, Offer::Ended);
        let html = product_card(&after);
        assert!(!html.contains("qr-img"));
        assert!(html.contains("活动已结束"));
        assert_eq!(view(p, Status::Closed, 0).offer, Offer::Closed);
    }

    #[test]
    fn the_card_and_meta_escape_everything() {
        let p = good().validate(Some(Fen::new(2900)), NOW).unwrap();
        let v = view(p, Status::Open, NOW);
        let html = product_card(&v);
        assert!(html.contains("酸奶&lt;限时&gt;"));
        assert!(html.contains("¥29.00"));
        assert!(html.contains("<del class=\"original-price\">¥39.00</del>"));
        assert!(html.contains("#下午茶"));
        assert!(html.contains("查看地图"));
        let meta = og_meta(&v, "https://pay.example.cn");
        assert!(meta.contains(r#"<meta property="og:title" content="酸奶&lt;限时&gt;">"#));
        assert!(meta.contains(&format!(
            r#"<meta property="og:image" content="https://pay.example.cn/i/{KEY}">"#
        )));
        assert!(meta.contains(r#"content="https://pay.example.cn/c/aB3dE6gH9k""#));
        assert!(meta.contains(r#"<meta property="og:description" content="手工酸奶，每日现做">"#));
    }

    #[test]
    fn the_pay_action_comes_before_the_details_and_several_images_are_counted() {
        let mut p = good().validate(Some(Fen::new(2900)), NOW).unwrap();
        let one = product_card(&view(p.clone(), Status::Open, NOW));
        assert!(!one.contains("gallery_count"), "one image needs no count");
        let qr = one.find("qr-img").unwrap();
        for later in ["product-desc", "class=\"tags\"", "class=\"shop\""] {
            assert!(qr < one.find(later).unwrap(), "{later} before the QR");
        }
        assert!(one.contains("收款码不会自动填入金额"));
        p.images.push(p.images[0].clone());
        p.images.push(p.images[0].clone());
        let three = product_card(&view(p, Status::Open, NOW));
        assert!(three.contains(
            r#"<span id="gallery_count" class="gallery-count">共 3 张 · 左右滑动</span>"#
        ));
        let body = product_body(&view(
            good().validate(Some(Fen::new(2900)), NOW).unwrap(),
            Status::Open,
            NOW,
        ));
        assert!(body.contains("dataset.ready='1'") && !body.contains("<script src"));
    }
}
