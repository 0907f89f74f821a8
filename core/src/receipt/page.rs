//! The receipt page (`/r/:id`) and the verification page (`/r/:id/verify`) as whole HTML
//! documents, 375-px phone first. Every dynamic value is escaped here.
//!
//! The 750-px PNG is drawn by the payer's own browser: [`SAVE_IMAGE_SCRIPT`] paints the same
//! fields (read from the page's `data-receipt` attribute) on a 750-px canvas with the phone's
//! own CJK fonts and shows the result as an `<img>` that WeChat lets you long-press to save.
//! Rendering Chinese into a PNG inside the worker would need a CJK font of several megabytes
//! in the worker bundle; the phone already has one.

use super::{ConfirmedBy, Receipt, SignedReceipt, VerifyError};
use crate::page::{escape, BRAND_MARK};

/// What a receipt proves, and what it does not (both pages say it).
pub const WHAT_IT_PROVES: &str = "本回单由本收款平台开具并签名，不是微信支付出具的凭证（微信支付没有为普通收款提供电子回单接口）。\
它证明：本平台在所示时间记录了这笔款项，且回单内容自开具以来未被修改。";

/// The extra sentence of a payee-confirmed receipt.
pub const PAYEE_CONFIRMED_NOTE: &str =
    "这笔款项通过个人收款码支付，由收款人确认已收到；微信支付没有确认过这笔付款。";

const STYLE: &str = "body{margin:0;background:#f2f3f5;font:15px/1.5 -apple-system,\"PingFang SC\",\"Microsoft YaHei\",sans-serif;color:#111}\
main{max-width:480px;margin:0 auto;padding:16px}\
.card{background:#fff;border-radius:12px;padding:20px 16px;margin-bottom:12px}\
h1{font-size:18px;text-align:center;margin:0 0 8px}\
.badge{display:block;width:max-content;margin:0 auto 8px;padding:2px 10px;border-radius:999px;font-size:13px}\
.badge.wechat{background:#e7f8ee;color:#07C160}.badge.payee{background:#fff4e5;color:#c25e00}\
.amount{font-size:34px;font-weight:700;text-align:center;margin:8px 0 16px}\
dl{margin:0}.row{display:flex;justify-content:space-between;gap:12px;padding:6px 0;border-top:1px solid #f0f0f0}\
dt{color:#888;flex:none}dd{margin:0;text-align:right;word-break:break-all}\
.brand{display:flex;align-items:center;justify-content:center;gap:6px;color:#07C160;margin-bottom:4px}\
.qr{text-align:center}.qr img{width:160px;height:160px;image-rendering:pixelated}\
.muted{color:#888;font-size:13px}.ok{color:#07C160}.bad{color:#d93025}\
button{width:100%;padding:12px;border:0;border-radius:8px;background:#07C160;color:#fff;font-size:16px}\
#sk-png{width:100%;margin-top:12px}code{word-break:break-all;font-size:12px}";

fn document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

fn badge(by: ConfirmedBy) -> String {
    let class = match by {
        ConfirmedBy::WechatPay => "wechat",
        ConfirmedBy::Payee => "payee",
    };
    format!(
        r#"<span class="badge {class}" data-confirmed-by="{}">{}</span>"#,
        by.as_str(),
        by.label()
    )
}

fn field_list(receipt: &Receipt) -> String {
    let rows: String = receipt
        .display_fields()
        .iter()
        .map(|(label, value)| {
            format!(
                r#"<div class="row"><dt>{}</dt><dd>{}</dd></div>"#,
                escape(label),
                escape(value)
            )
        })
        .collect();
    format!("<dl>{rows}</dl>")
}

fn proves(by: ConfirmedBy) -> String {
    let extra = match by {
        ConfirmedBy::Payee => format!("<p class=\"muted\">{PAYEE_CONFIRMED_NOTE}</p>"),
        ConfirmedBy::WechatPay => String::new(),
    };
    format!("{extra}<p class=\"muted\">{WHAT_IT_PROVES}</p>")
}

/// What the canvas script draws: the badge, its colour, the amount and the field rows.
fn canvas_data(receipt: &Receipt) -> String {
    let color = match receipt.confirmed_by {
        ConfirmedBy::WechatPay => "#07C160",
        ConfirmedBy::Payee => "#c25e00",
    };
    serde_json::json!({
        "badge": receipt.confirmed_by.label(),
        "color": color,
        "amount": receipt.amount().to_string(),
        "fields": receipt.display_fields(),
    })
    .to_string()
}

/// The receipt page: the fields, who confirmed the payment, a QR (`qr_data_url`, a PNG of
/// `verify_url`) and the 保存图片 action.
pub fn receipt_page(signed: &SignedReceipt, verify_url: &str, qr_data_url: &str) -> String {
    let receipt = &signed.receipt;
    // The WeChat Pay mark only on what WeChat Pay confirmed.
    let brand = match receipt.confirmed_by {
        ConfirmedBy::WechatPay => BRAND_MARK,
        ConfirmedBy::Payee => "",
    };
    let body = format!(
        concat!(
            r#"<div class="card" id="sk-receipt" data-receipt="{data}">{brand}<h1>电子回单</h1>{badge}"#,
            r#"<p class="amount">{amount}</p>{fields}</div>"#,
            r#"<div class="card qr"><img id="sk-qr" src="{qr}" alt="验证二维码" width="160" height="160">"#,
            r#"<p class="muted">扫码或打开 <a href="{verify}">验证页面</a> 核对回单真伪</p></div>"#,
            r#"<div class="card"><button type="button" id="sk-save">保存图片</button>"#,
            r#"<p class="muted" id="sk-png-tip" hidden>长按下方图片保存到相册</p>"#,
            r#"<img id="sk-png" alt="电子回单图片" hidden></div>"#,
            r#"<div class="card">{proves}</div><script>{script}</script>"#
        ),
        data = escape(&canvas_data(receipt)),
        brand = brand,
        badge = badge(receipt.confirmed_by),
        amount = escape(&receipt.amount().to_string()),
        fields = field_list(receipt),
        qr = escape(qr_data_url),
        verify = escape(verify_url),
        proves = proves(receipt.confirmed_by),
        script = SAVE_IMAGE_SCRIPT,
    );
    document("电子回单", &body)
}

/// The verification page: whether the stored receipt is genuine and unmodified under the
/// listed key, and the fields that were signed.
pub fn verify_page(
    signed: &SignedReceipt,
    outcome: &Result<(), VerifyError>,
    keys_url: &str,
) -> String {
    let receipt = &signed.receipt;
    let verdict = match outcome {
        Ok(()) => format!(
            r#"<p class="ok" id="sk-verdict" data-valid="true"><strong>✓ 回单真实有效，内容未被修改</strong></p><p class="muted">签名密钥 {} 验证通过。</p>"#,
            escape(&receipt.key_id)
        ),
        Err(e) => {
            let why = match e {
                VerifyError::UnknownKey(_) => "签名密钥不在本平台公布的密钥列表中",
                VerifyError::BadSignature | VerifyError::Mismatch => {
                    "签名与回单内容不符：回单被修改过，或不是本平台开具的"
                }
                VerifyError::ControlCharacter => "回单内容含有不允许的字符",
            };
            format!(
                r#"<p class="bad" id="sk-verdict" data-valid="false"><strong>✗ 验证失败</strong></p><p class="muted">{why}</p>"#
            )
        }
    };
    let body = format!(
        concat!(
            r#"<div class="card"><h1>回单验证</h1>{verdict}</div>"#,
            r#"<div class="card">{badge}<p class="amount">{amount}</p>{fields}"#,
            r#"<p class="muted">签名（SHA256withRSA，Base64）：</p><code>{signature}</code>"#,
            r#"<p class="muted">公钥列表：<a href="{keys}">{keys}</a></p></div>"#,
            r#"<div class="card">{proves}</div>"#
        ),
        verdict = verdict,
        badge = badge(receipt.confirmed_by),
        amount = escape(&receipt.amount().to_string()),
        fields = field_list(receipt),
        signature = escape(&signed.signature),
        keys = escape(keys_url),
        proves = proves(receipt.confirmed_by),
    );
    document("回单验证", &body)
}

/// 保存图片: draws the receipt on a 750-px canvas and shows it as an image to long-press.
pub const SAVE_IMAGE_SCRIPT: &str = r#"(function(){
var b=document.getElementById('sk-save');if(!b)return;
b.addEventListener('click',function(){
var d=JSON.parse(document.getElementById('sk-receipt').getAttribute('data-receipt'));
var W=750,P=48,L=64,F='"PingFang SC","Microsoft YaHei",sans-serif';
var H=360+d.fields.length*L+330;
var c=document.createElement('canvas');c.width=W;c.height=H;var x=c.getContext('2d');
x.fillStyle='#fff';x.fillRect(0,0,W,H);x.fillStyle=d.color;x.fillRect(0,0,W,12);
x.textAlign='center';x.fillStyle='#111';x.font='bold 40px '+F;x.fillText('电子回单',W/2,90);
x.fillStyle=d.color;x.font='30px '+F;x.fillText(d.badge,W/2,145);
x.fillStyle='#111';x.font='bold 72px '+F;x.fillText(d.amount,W/2,250);
var y=340;d.fields.forEach(function(f){
x.textAlign='left';x.fillStyle='#888';x.font='28px '+F;x.fillText(f[0],P,y);
var s=28;x.font=s+'px '+F;while(x.measureText(f[1]).width>W-2*P-170&&s>14){s-=2;x.font=s+'px '+F;}
x.textAlign='right';x.fillStyle='#111';x.fillText(f[1],W-P,y);y+=L;});
var q=document.getElementById('sk-qr');x.imageSmoothingEnabled=false;x.drawImage(q,(W-240)/2,y,240,240);
x.textAlign='center';x.fillStyle='#888';x.font='24px '+F;x.fillText('扫码验证回单真伪',W/2,y+285);
var img=document.getElementById('sk-png');img.src=c.toDataURL('image/png');img.hidden=false;
document.getElementById('sk-png-tip').hidden=false;});})();"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(by: ConfirmedBy) -> SignedReceipt {
        SignedReceipt {
            receipt: Receipt {
                id: "r1".into(),
                key_id: "rk-0011223344556677".into(),
                confirmed_by: by,
                payee: "<张三>".into(),
                amount_fen: 1234,
                paid_at: 0,
                order_no: "SK1".into(),
                transaction_id: String::new(),
                collection_id: "c1".into(),
                collection: "聚餐".into(),
                issued_at: 0,
            },
            signature: "c2ln".into(),
        }
    }

    #[test]
    fn a_payee_confirmed_receipt_never_claims_wechat_pay() {
        let html = receipt_page(
            &signed(ConfirmedBy::Payee),
            "https://x/r/r1/verify",
            "data:,",
        );
        assert!(html.contains("收款人确认"));
        assert!(!html.contains("微信支付确认"));
        assert!(!html.contains(r#"aria-label="微信支付""#), "no brand mark");
        assert!(html.contains("&lt;张三&gt;"), "escaped");
        assert!(html.contains(WHAT_IT_PROVES));
        let html = receipt_page(&signed(ConfirmedBy::WechatPay), "https://x", "data:,");
        assert!(html.contains("微信支付确认") && html.contains(BRAND_MARK));
        assert!(!html.contains(PAYEE_CONFIRMED_NOTE));
    }

    #[test]
    fn the_verification_page_says_what_failed() {
        let ok = verify_page(&signed(ConfirmedBy::WechatPay), &Ok(()), "https://x/k");
        assert!(ok.contains(r#"data-valid="true""#) && ok.contains("¥12.34"));
        let bad = verify_page(
            &signed(ConfirmedBy::WechatPay),
            &Err(VerifyError::Mismatch),
            "https://x/k",
        );
        assert!(bad.contains(r#"data-valid="false""#) && bad.contains("被修改"));
    }

    #[test]
    fn the_save_script_is_allowed_by_its_hash() {
        let html = receipt_page(&signed(ConfirmedBy::WechatPay), "https://x", "data:,");
        assert_eq!(crate::csp::inline_script_hashes(&html).len(), 1);
    }
}
