//! The payer card as HTML, written once and used twice: the worker puts it into the HTML it
//! serves for `/c/:id` (so the page is useful before — or without — WebAssembly), and the app
//! renders the very same markup after it starts. Every dynamic value is escaped here.

use crate::collection::{AmountRule, CollectionView, Status};
use crate::money::Fen;
use crate::qr;

pub mod order;
pub mod split;

/// The readiness signal of a page that has no other script to finish with: every page sets
/// `document.body.dataset.ready = "1"` once it is interactive (handlers attached, first data
/// shown); the bench and the end-to-end tests wait for it.
pub const READY_SCRIPT: &str = "document.body.dataset.ready='1'";

/// CSS pixels of the QR `<img>` on the page (WeChat recognises long-pressed codes reliably
/// from about 200 px; the brief asks for at least 240).
pub const QR_CSS_PX: u32 = 260;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// The 微信支付 mark, in WeChat Pay's own style: its green tick glyph (a swoosh, no box) beside
/// the green 微信支付 wordmark. Shown only where a WeChat Pay payment actually happens — a
/// merchant collection that can be paid now, and what WeChat Pay confirmed — never under a
/// personal 收款码 (a transfer between people), on a closed page or before paying is possible.
pub const BRAND_MARK: &str = concat!(
    r##"<div class="brand" aria-label="微信支付"><svg class="brand-icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">"##,
    r##"<path fill="#07C160" d="M2.2 12.9c-.6-.6-.5-1.5.2-2 .6-.4 1.4-.4 2 .1l4.5 3.6L20.2 4.6c.7-.6 1.7-.5 2.2.2.5.6.4 1.5-.2 2L9.9 18.6c-.6.6-1.5.6-2.1.1z"/></svg>"##,
    r##"<span class="brand-word">微信支付</span></div>"##
);

/// How to pay with a personal 收款码, step by step. Long-pressing a personal code opens
/// WeChat's transfer with an empty amount, so the amount is something the payer types (never
/// "filled in"), and the remark is how the payee tells payers apart: both can be copied with one
/// tap (`data-copy`, handled by [`COPY_SCRIPT`] or the app). `remark` is cut to WeChat's 20
/// characters.
pub fn personal_pay_steps(amount: Option<Fen>, remark: &str) -> String {
    let amount_step = match amount {
        Some(fen) => format!(
            concat!(
                r#"<li>输入金额 <strong class="step-amount">{shown}</strong> "#,
                r#"<button type="button" class="copy" data-copy="{plain}">复制金额</button>"#,
                r#"<span class="step-sub">收款码不会自动填入金额，请自己输入</span></li>"#
            ),
            shown = escape(&fen.to_string()),
            plain = escape(&fen.to_yuan_string()),
        ),
        None => {
            r#"<li>输入你要付的金额<span class="step-sub">收款码不带金额</span></li>"#.to_owned()
        }
    };
    let remark: String = remark.trim().chars().take(REMARK_CHARS).collect();
    let remark_step = if remark.is_empty() {
        r#"<li>点「添加备注」，写上<strong>你的姓名</strong></li>"#.to_owned()
    } else {
        format!(
            concat!(
                r#"<li>点「添加备注」，写上<strong>你的姓名</strong>和「{remark}」 "#,
                r#"<button type="button" class="copy" data-copy="{remark}">复制备注</button></li>"#
            ),
            remark = escape(&remark),
        )
    };
    format!(
        concat!(
            r#"<ol class="pay-steps"><li><strong>长按识别二维码</strong>"#,
            r#"<span class="step-sub">长按上方二维码，在菜单里选「识别图中的二维码」</span></li>"#,
            "{amount_step}{remark_step}</ol>"
        ),
        amount_step = amount_step,
        remark_step = remark_step,
    )
}

/// The longest remark WeChat's transfer accepts, in characters.
pub const REMARK_CHARS: usize = 20;

/// One delegated click handler for every `data-copy` button of a server-rendered page: the
/// clipboard API where there is one, else a selected hidden textarea and `execCommand("copy")`
/// (older in-app browsers, plain http); the button then says whether it worked.
pub const COPY_SCRIPT: &str = concat!(
    "document.addEventListener('click',function(e){",
    "var b=e.target.closest&&e.target.closest('[data-copy]');if(!b)return;",
    "var t=b.getAttribute('data-copy'),l=b.getAttribute('data-label')||b.textContent;",
    "b.setAttribute('data-label',l);",
    "function done(ok){b.textContent=ok?'已复制':'请长按文字复制';setTimeout(function(){b.textContent=l},2000)}",
    "function old(){var a=document.createElement('textarea');a.value=t;a.setAttribute('readonly','');",
    "a.style.position='fixed';a.style.opacity='0';document.body.appendChild(a);a.select();",
    "var ok=false;try{ok=document.execCommand('copy')}catch(x){}a.remove();return ok}",
    "if(navigator.clipboard&&navigator.clipboard.writeText){navigator.clipboard.writeText(t).then(",
    "function(){done(true)},function(){done(old())})}else{done(old())}});"
);

/// The amount line: `¥12.34`, or an invitation to type it.
pub fn amount_text(rule: AmountRule) -> String {
    match rule {
        AmountRule::Fixed { fen } => fen.to_string(),
        AmountRule::PayerEntered => "金额由付款人填写".to_owned(),
    }
}

/// The payer card for a request-kind collection.
pub fn payer_card(view: &CollectionView) -> String {
    let first_char: String = view.payee_name.chars().take(1).collect();
    let amount_class = match view.amount {
        AmountRule::Fixed { .. } => "amount",
        AmountRule::PayerEntered => "amount amount-open",
    };
    let note = if view.note.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="note">{}</p>"#, escape(&view.note))
    };
    let amount = match view.amount {
        AmountRule::Fixed { fen } => Some(fen),
        AmountRule::PayerEntered => None,
    };
    let pay = match (view.status, qr::png_data_url(&view.pay_code, QR_CSS_PX * 2)) {
        (Status::Open, Ok(src)) => format!(
            concat!(
                r#"<figure class="qr"><img class="qr-img" src="{src}" alt="{payee}的微信收款码" width="{px}" height="{px}"></figure>"#,
                "{steps}",
                r#"<p class="hint">个人收款码没有到账通知：付款后请把付款截图发给收款人。</p>"#,
                "<script>{script}</script>"
            ),
            src = src,
            payee = escape(&view.payee_name),
            px = QR_CSS_PX,
            steps = personal_pay_steps(amount, &view.title),
            script = COPY_SCRIPT,
        ),
        (Status::Open, Err(_)) => {
            r#"<p class="closed">收款码无法显示，请联系收款人</p>"#.to_owned()
        }
        (Status::Closed, _) => r#"<p class="closed">该收款已关闭</p>"#.to_owned(),
    };
    format!(
        concat!(
            r#"<article class="card pay-card" data-collection-id="{id}">"#,
            r#"<header class="payee"><div class="avatar" aria-hidden="true">{first}</div>"#,
            r#"<div><div class="payee-name">{payee}</div><div class="payee-sub">向你发起收款</div></div></header>"#,
            r#"<h1 class="title">{title}</h1><div class="{amount_class}">{amount}</div>{note}{pay}</article>"#
        ),
        id = escape(&view.id),
        first = escape(&first_char),
        payee = escape(&view.payee_name),
        title = escape(&view.title),
        amount_class = amount_class,
        amount = escape(&amount_text(view.amount)),
        note = note,
        pay = pay,
    )
}

/// The friendly page body for an unknown collection id.
pub fn not_found_card() -> &'static str {
    concat!(
        r#"<article class="card empty-card"><h1 class="title">找不到这个收款</h1>"#,
        r#"<p class="hint">链接可能不完整（复制时少了字符）。请向发送链接的人再要一次。</p>"#,
        r#"<a class="button" href="/new">我也要发起收款</a></article>"#
    )
}

/// The app shell without the app: every `<script>` element and the `modulepreload` /
/// `preload` links Trunk adds for the JS glue and the wasm are removed.
///
/// The payer page of a request is complete as server-rendered HTML (payee, amount, note, QR
/// `<img>`), so payers download no WebAssembly at all: the whole page is a few kilobytes and
/// the QR shows as soon as the HTML arrives. Measured with `cargo xtask bench`: with the app
/// bundle the payer page was 221 KB brotli (budget 120 KB).
pub fn without_app_bundle(shell: &str) -> String {
    let mut out = String::with_capacity(shell.len());
    let mut rest = shell;
    while let Some(start) = next_bundle_tag(rest) {
        out.push_str(&rest[..start]);
        let tag = &rest[start..];
        let end = if tag.starts_with("<script") {
            tag.find("</script>").map(|i| i + "</script>".len())
        } else {
            tag.find('>').map(|i| i + 1)
        };
        match end {
            Some(end) => rest = &tag[end..],
            None => {
                rest = "";
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Byte offset of the next `<script` or preload `<link` in `html`.
fn next_bundle_tag(html: &str) -> Option<usize> {
    let mut from = 0;
    loop {
        let i = from + html[from..].find('<')?;
        let tail = &html[i..];
        let is_script = tail.starts_with("<script");
        let is_preload = tail.starts_with("<link")
            && tail[..tail.find('>').unwrap_or(tail.len())].contains("preload");
        if is_script || is_preload {
            return Some(i);
        }
        from = i + 1;
    }
}

/// JSON for a `<script type="application/json">` element: `<` is escaped so the text can
/// never close the element.
pub fn json_for_script<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value)
        .unwrap_or_else(|_| "null".to_owned())
        .replace('<', "\\u003c")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::Kind;
    use crate::money::Fen;

    fn view() -> CollectionView {
        CollectionView {
            id: "aB3dE6gH9k".into(),
            kind: Kind::Request,
            status: Status::Open,
            payee_name: "<b>张三</b>".into(),
            title: "聚餐 & 唱歌".into(),
            amount: AmountRule::Fixed {
                fen: Fen::new(1234),
            },
            note: "请备注\"姓名\"".into(),
            pay_code: "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5".into(),
            created_at: 0,
        }
    }

    #[test]
    fn card_shows_amount_hint_and_a_png_img_but_no_pay_mark() {
        let html = payer_card(&view());
        assert!(html.contains("¥12.34"));
        assert!(html.contains("长按识别二维码"));
        // A personal 收款码 is a transfer between people, not a WeChat Pay payment.
        assert!(!html.contains("微信支付"), "{html}");
        assert!(html.contains(r#"<img class="qr-img" src="data:image/png;base64,"#));
        assert!(html.contains(r#"width="260""#));
    }

    #[test]
    fn the_steps_say_the_amount_is_typed_and_offer_copies() {
        let html = payer_card(&view());
        assert!(html.contains("收款码不会自动填入金额"), "{html}");
        assert!(html.contains(r#"data-copy="12.34">复制金额"#), "{html}");
        assert!(
            html.contains(r#"data-copy="聚餐 &amp; 唱歌">复制备注"#),
            "{html}"
        );
        assert!(html.contains(COPY_SCRIPT));
        let open = personal_pay_steps(None, "");
        assert!(open.contains("输入你要付的金额") && !open.contains("data-copy"));
        let long = personal_pay_steps(Some(Fen::new(5_000_000)), &"字".repeat(30));
        assert!(long.contains("¥50,000.00") && long.contains(r#"data-copy="50000.00""#));
        assert!(long.contains(&format!(r#"data-copy="{}""#, "字".repeat(REMARK_CHARS))));
    }

    #[test]
    fn every_dynamic_value_is_escaped() {
        let html = payer_card(&view());
        assert!(!html.contains("<b>"));
        assert!(html.contains("&lt;b&gt;张三"));
        assert!(html.contains("聚餐 &amp; 唱歌"));
        assert!(html.contains("请备注&quot;姓名&quot;"));
    }

    #[test]
    fn the_pay_mark_is_a_green_tick_and_wordmark_not_a_checkbox() {
        assert!(!BRAND_MARK.contains("<rect") && !BRAND_MARK.contains("stroke"));
        assert!(BRAND_MARK.contains(r##"fill="#07C160""##));
        assert!(BRAND_MARK.contains(r#"<span class="brand-word">微信支付</span>"#));
    }

    #[test]
    fn closed_collections_show_no_qr() {
        let html = payer_card(&CollectionView {
            status: Status::Closed,
            ..view()
        });
        assert!(!html.contains("<img"));
        assert!(html.contains("该收款已关闭"));
        assert!(!html.contains("微信支付"));
    }

    #[test]
    fn the_payer_shell_keeps_styles_and_drops_the_app_bundle() {
        let shell = concat!(
            "<html><head><title>收款</title><style>.a{}</style>",
            r#"<link rel="icon" href="/f.svg"/>"#,
            "<script type=\"module\">import init from '/app.js';\nawait init();</script>",
            r#"<link rel="modulepreload" href="/app.js"><link rel="preload" href="/app_bg.wasm" as="fetch"></head>"#,
            r#"<body><div id="app"></div></body></html>"#
        );
        let stripped = without_app_bundle(shell);
        assert_eq!(
            stripped,
            concat!(
                "<html><head><title>收款</title><style>.a{}</style>",
                r#"<link rel="icon" href="/f.svg"/></head><body><div id="app"></div></body></html>"#
            )
        );
        assert_eq!(without_app_bundle("<p>plain</p>"), "<p>plain</p>");
        assert_eq!(without_app_bundle("<p>cut <script>x"), "<p>cut ");
    }

    #[test]
    fn script_json_cannot_close_its_element() {
        let s = json_for_script(&"</script><script>alert(1)</script>");
        assert!(!s.contains("</script>"));
    }
}
