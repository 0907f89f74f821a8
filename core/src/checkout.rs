//! The payer page of a merchant collection: the card (payee, title, amount or an amount field,
//! note, a pay button) and the small inline script behind the button. Like the personal payer
//! card it is complete as server-rendered HTML and carries no WebAssembly: the script is a few
//! hundred bytes of plain JavaScript.
//!
//! What the button does (the server picks the method from the user agent):
//! - inside WeChat, JSAPI: `POST /api/orders` → `WeixinJSBridge.invoke('getBrandWCPayRequest')`,
//!   waiting for `WeixinJSBridgeReady` when the bridge is not there yet. `ok` only means
//!   "paid, waiting for WeChat Pay's confirmation": the page goes to `/o/:id`, which shows the
//!   order's real state. `cancel` and `fail` say so and let the payer try again. Without a
//!   payer session the API answers `PAYER_SIGN_IN_REQUIRED` and the page signs in through the
//!   Official Account (once; a second refusal is shown, never looped).
//! - in a phone browser outside WeChat, H5: the page goes to WeChat Pay's `h5_url`, which
//!   returns to `/o/:id` (its `redirect_url`); the order page polls, so nothing depends on the
//!   payer coming back.
//! - on a desktop (or when H5 is refused), Native: `/o/:id` shows the `code_url` QR to scan
//!   with WeChat's Scan.

use serde::{Deserialize, Serialize};

use crate::collection::{
    AmountRule, CollectionView, FieldError, NewCollection, Status, ValidCollection,
};
use crate::page::{amount_text, escape, BRAND_MARK};

/// The API error code that asks the page to sign the payer in first.
pub const PAYER_SIGN_IN_REQUIRED: &str = "PAYER_SIGN_IN_REQUIRED";

/// Who the payer pays, as the card names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seller<'a> {
    /// Own business: the merchant (`WECHATPAY_MERCHANT_NAME`) is the seller; the payee
    /// collects on its behalf.
    Merchant(&'a str),
    /// Platform: the payee's own sub-merchant receives the money.
    Payee,
}

/// The card of a merchant collection (markup shared with the personal card's CSS). `offer` is
/// shown right above the pay button while the collection is open (the payer's points box,
/// `points::checkout_box`, already escaped), so what it changes is chosen before paying.
pub fn merchant_card(view: &CollectionView, seller: Seller<'_>, offer: &str) -> String {
    let first_char: String = view.payee_name.chars().take(1).collect();
    let note = if view.note.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="note">{}</p>"#, escape(&view.note))
    };
    let (amount, entry) = match view.amount {
        AmountRule::Fixed { .. } => (
            format!(r#"<div class="amount">{}</div>"#, escape(&amount_text(view.amount))),
            String::new(),
        ),
        AmountRule::PayerEntered => (
            String::new(),
            concat!(
                r#"<label class="field pay-amount"><span class="label">付款金额（元）</span>"#,
                r#"<span class="amount-input">¥<input id="sk-amount" type="text" inputmode="decimal" "#,
                r#"autocomplete="off" placeholder="0.00" maxlength="12"></span></label>"#
            )
            .to_string(),
        ),
    };
    let (sub, hint) = match seller {
        Seller::Merchant(name) => (
            format!("收款商户：{}", escape(name)),
            format!(
                "由微信支付收款，款项进入商户「{}」，付款成功后自动确认到账。",
                escape(name)
            ),
        ),
        Seller::Payee => (
            "向你发起收款".to_string(),
            "由微信支付收款，款项直接结算到收款方自己的商户号，付款成功后自动确认到账。"
                .to_string(),
        ),
    };
    let pay = match view.status {
        Status::Open => format!(
            concat!(
                r#"{entry}{offer}<button id="sk-pay" class="button" type="button">微信支付</button>"#,
                r#"<p id="sk-pay-msg" class="status" role="status" aria-live="polite"></p>"#,
                r#"<p class="hint">{hint}</p>"#
            ),
            entry = entry,
            offer = offer,
            hint = hint
        ),
        Status::Closed => r#"<p class="closed">该收款已关闭</p>"#.to_owned(),
    };
    // The 微信支付 mark only while the button can pay.
    let brand = match view.status {
        Status::Open => BRAND_MARK,
        Status::Closed => "",
    };
    let script = match view.status {
        Status::Open => format!("<script>{PAY_SCRIPT}</script>"),
        Status::Closed => String::new(),
    };
    format!(
        concat!(
            r#"<article class="card pay-card merchant" data-collection-id="{id}">"#,
            r#"<header class="payee"><div class="avatar" aria-hidden="true">{first}</div>"#,
            r#"<div><div class="payee-name">{payee}</div><div class="payee-sub seller">{sub}</div></div></header>"#,
            r#"<h1 class="title">{title}</h1>{amount}{note}{pay}{brand}</article>{script}"#
        ),
        id = escape(&view.id),
        first = escape(&first_char),
        payee = escape(&view.payee_name),
        sub = sub,
        title = escape(&view.title),
        amount = amount,
        note = note,
        pay = pay,
        brand = brand,
        script = script,
    )
}

/// The cookie that remembers, in this browser, the orders made here (public order ids, which
/// open `/o/:id` anyway): a payer whose payment page was closed by WeChat (H5, 点金计划) finds
/// the order again on the collection's page.
pub const ORDERS_COOKIE: &str = "sk_orders";
/// Orders remembered per browser.
pub const REMEMBERED_ORDERS: usize = 8;

/// The order ids in the cookie's value (malformed entries are dropped).
pub fn remembered_orders(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split('.')
        .filter(|id| crate::collection::is_valid_id(id))
        .take(REMEMBERED_ORDERS)
        .map(str::to_string)
        .collect()
}

/// The `Set-Cookie` value remembering `id` first, then the earlier ones.
pub fn remember_order(previous: &[String], id: &str, secure: bool) -> String {
    let ids: Vec<&str> = std::iter::once(id)
        .chain(previous.iter().map(String::as_str).filter(|p| *p != id))
        .take(REMEMBERED_ORDERS)
        .collect();
    format!(
        "{ORDERS_COOKIE}={}; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax{}",
        ids.join("."),
        if secure { "; Secure" } else { "" }
    )
}

/// One of the payer's own orders, as the collection page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerOrderLine {
    /// Public order id.
    pub id: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// Stored state name.
    pub state: String,
}

/// "我的订单": links back to the payer's orders of this collection (nothing when none).
pub fn my_orders(lines: &[PayerOrderLine]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let items: String = lines
        .iter()
        .map(|line| {
            let state = crate::order::OrderState::parse(&line.state)
                .map_or("", crate::order::OrderState::label);
            format!(
                r#"<li><a href="/o/{id}">{amount} · {state}</a></li>"#,
                id = escape(&line.id),
                amount = crate::money::Fen::new(line.amount_fen),
                state = state,
            )
        })
        .collect();
    format!(
        r#"<section class="card my-orders" id="sk-my-orders"><h2>我的订单</h2><ul>{items}</ul></section>"#
    )
}

/// Body of `POST /api/dash/merchant-collections`: a collection paid through WeChat Pay (the
/// deployment's merchant account) instead of a personal receive code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMerchantCollection {
    /// The payee's display name.
    pub payee_name: String,
    /// Title.
    pub title: String,
    /// `"12.34"`, or empty / absent for an amount the payer enters.
    #[serde(default)]
    pub amount: Option<String>,
    /// Note of at most 30 characters.
    #[serde(default)]
    pub note: String,
}

/// Stands in for the receive code a merchant collection does not have, so that every other
/// field goes through [`NewCollection::validate`] — one set of rules for both kinds. It is
/// never stored or shown.
const NO_RECEIVE_CODE: &str = "wxp://merchant-collection-without-receive-code";

impl NewMerchantCollection {
    /// Checks every field (and the compliance lint) exactly as a personal collection's.
    pub fn validate(&self) -> Result<ValidCollection, Vec<FieldError>> {
        NewCollection {
            payee_name: self.payee_name.clone(),
            title: self.title.clone(),
            amount: self.amount.clone(),
            note: self.note.clone(),
            pay_code: NO_RECEIVE_CODE.to_string(),
            invite_code: None,
        }
        .validate()
    }
}

/// The pay button's script (no dependencies, ES5 so older WeChat webviews run it).
pub const PAY_SCRIPT: &str = r#"(function(){
var id,btn,msg,amt;
function say(t,bad){msg.textContent=t;msg.className='status'+(bad?' bad':'');}
function again(t){say(t,true);btn.disabled=false;}
function bridge(params,path){
 var done=false;
 function invoke(){if(done)return;done=true;
  WeixinJSBridge.invoke('getBrandWCPayRequest',params,function(res){
   var r=(res&&res.err_msg)||'';
   if(r==='get_brand_wcpay_request:ok'){say('已付款，正在等待微信支付确认…');location.href=path;}
   else if(r==='get_brand_wcpay_request:cancel'){again('已取消支付，可以重新支付');}
   else{again('支付没有完成：'+((res&&res.err_desc)||r||'请重试'));}
  });}
 if(typeof WeixinJSBridge==='object'&&WeixinJSBridge.invoke){invoke();}
 else{document.addEventListener('WeixinJSBridgeReady',invoke,false);
  setTimeout(function(){if(!done){again('无法调起微信支付，请在微信中打开此页面');}},10000);}
}
document.addEventListener('click',function(e){
 var b=e.target.closest&&e.target.closest('#sk-pay'),card=b&&b.closest('.pay-card.merchant');if(!card||b.disabled)return;
 btn=b;id=card.getAttribute('data-collection-id');msg=document.getElementById('sk-pay-msg');amt=document.getElementById('sk-amount');
 btn.disabled=true;say('正在下单…');
 var body={collection_id:id},pid=btn.getAttribute('data-participant');if(amt)body.amount=amt.value;
 var x=new XMLHttpRequest(),pts=document.getElementById('sk-points');x.open('POST','/api/orders'+(pts&&pts.checked?'?points='+pts.value:''));x.setRequestHeader('content-type','application/json');
 if(pid){body.participant_id=pid;var t=document.cookie.match(new RegExp('(?:^|; )sk_p_'+id+'=[^.;]+[.]([^;]+)'));if(t)x.setRequestHeader('authorization','Bearer '+t[1]);}
 x.onload=function(){var d={};try{d=JSON.parse(x.responseText);}catch(e){}
  if(x.status===201){
   if(d.method==='jsapi'&&d.pay_params){say('正在调起微信支付…');bridge(d.pay_params,d.order_path);}
   else if(d.method==='h5'&&d.h5_url){say('正在打开微信支付…');location.href=d.h5_url;}
   else{location.href=d.order_path;}
  }else if(d.code==='PAYER_SIGN_IN_REQUIRED'&&!sessionStorage.getItem('sk-signin')){
   sessionStorage.setItem('sk-signin','1');say('正在获取微信授权…');
   location.href='/oauth/start?next='+encodeURIComponent('/c/'+id);
  }else{again(d.message||'下单失败，请稍后重试');}
 };
 x.onerror=function(){again('网络不太好，请重试');};
 x.send(JSON.stringify(body));
});
})();"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::Kind;
    use crate::money::Fen;

    fn view(amount: AmountRule, status: Status) -> CollectionView {
        CollectionView {
            id: "aB3dE6gH9k".into(),
            kind: Kind::Request,
            status,
            payee_name: "<b>李四</b>".into(),
            title: "课程费".into(),
            amount,
            note: String::new(),
            pay_code: String::new(),
            created_at: 0,
        }
    }

    #[test]
    fn merchant_collections_are_validated_like_personal_ones_without_a_receive_code() {
        let good = NewMerchantCollection {
            payee_name: "李四".into(),
            title: "课程费".into(),
            amount: Some("88".into()),
            note: String::new(),
        };
        let valid = good.validate().unwrap();
        assert_eq!(
            valid.amount,
            AmountRule::Fixed {
                fen: Fen::new(8800)
            }
        );
        let bad = NewMerchantCollection {
            title: "稳赚理财".into(),
            amount: Some("0".into()),
            ..good
        };
        let fields: Vec<String> = bad
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, vec!["amount".to_string(), "title".to_string()]);
    }

    #[test]
    fn a_fixed_amount_card_has_a_pay_button_and_no_receive_code() {
        let html = merchant_card(
            &view(
                AmountRule::Fixed {
                    fen: Fen::new(1234),
                },
                Status::Open,
            ),
            Seller::Payee,
            "",
        );
        assert!(html.contains(r#"id="sk-pay""#), "{html}");
        assert!(html.contains("¥12.34"));
        assert!(!html.contains(r#"id="sk-amount""#));
        assert!(!html.contains("<img"), "no personal receive code");
        assert!(html.contains("&lt;b&gt;李四"), "escaped");
        assert!(html.contains("getBrandWCPayRequest"));
    }

    #[test]
    fn the_offer_comes_after_the_amount_and_before_the_pay_button() {
        let html = merchant_card(
            &view(AmountRule::PayerEntered, Status::Open),
            Seller::Payee,
            r#"<div id="offer"></div>"#,
        );
        let at = |needle: &str| {
            html.find(needle)
                .unwrap_or_else(|| panic!("{needle}: {html}"))
        };
        assert!(at(r#"id="sk-amount""#) < at(r#"id="offer""#));
        assert!(at(r#"id="offer""#) < at(r#"id="sk-pay""#));
    }

    #[test]
    fn own_business_cards_name_the_merchant_as_the_seller() {
        let html = merchant_card(
            &view(AmountRule::PayerEntered, Status::Open),
            Seller::Merchant("<某某>餐饮有限公司"),
            "",
        );
        assert!(
            html.contains("收款商户：&lt;某某&gt;餐饮有限公司"),
            "{html}"
        );
        assert!(PAY_SCRIPT.contains("d.h5_url"));
        let platform = merchant_card(
            &view(AmountRule::PayerEntered, Status::Open),
            Seller::Payee,
            "",
        );
        assert!(!platform.contains("收款商户"));
    }

    #[test]
    fn a_browser_remembers_its_orders_newest_first() {
        let cookie = remember_order(&["aB3dE6gH9k".into()], "Zz9yY8xX7w", true);
        assert!(
            cookie.starts_with("sk_orders=Zz9yY8xX7w.aB3dE6gH9k;"),
            "{cookie}"
        );
        assert!(cookie.ends_with("; Secure"));
        assert_eq!(
            remembered_orders(Some("Zz9yY8xX7w.<bad>.aB3dE6gH9k")),
            vec!["Zz9yY8xX7w".to_string(), "aB3dE6gH9k".to_string()]
        );
        let many: Vec<String> = (0..20).map(|i| format!("aB3dE6gH{i:02}")).collect();
        let value = remember_order(&many, "Zz9yY8xX7w", false);
        assert_eq!(
            value.split(';').next().unwrap().split('.').count(),
            REMEMBERED_ORDERS
        );
        let html = my_orders(&[PayerOrderLine {
            id: "Zz9yY8xX7w".into(),
            amount_fen: 1234,
            state: "paid".into(),
        }]);
        assert!(
            html.contains(r#"href="/o/Zz9yY8xX7w""#) && html.contains("已支付"),
            "{html}"
        );
        assert_eq!(my_orders(&[]), "");
    }

    #[test]
    fn a_payer_entered_amount_gets_a_field() {
        let html = merchant_card(
            &view(AmountRule::PayerEntered, Status::Open),
            Seller::Payee,
            "",
        );
        assert!(html.contains(r#"id="sk-amount""#));
        assert!(
            html.contains(BRAND_MARK),
            "a payable merchant page has the mark"
        );
    }

    #[test]
    fn a_closed_collection_has_neither_button_nor_script() {
        let html = merchant_card(
            &view(AmountRule::PayerEntered, Status::Closed),
            Seller::Payee,
            r#"<div id="offer"></div>"#,
        );
        assert!(html.contains("该收款已关闭"));
        assert!(
            !html.contains("offer"),
            "nothing to choose on a closed card"
        );
        assert!(!html.contains("<script") && !html.contains("sk-pay"));
        assert!(
            !html.contains(r#"aria-label="微信支付""#),
            "no mark where nobody can pay"
        );
    }

    #[test]
    fn the_script_treats_ok_as_waiting_and_waits_for_the_bridge() {
        assert!(PAY_SCRIPT.contains("WeixinJSBridgeReady"));
        assert!(PAY_SCRIPT.contains("等待微信支付确认"));
        assert!(PAY_SCRIPT.contains("get_brand_wcpay_request:cancel"));
        assert!(PAY_SCRIPT.contains(PAYER_SIGN_IN_REQUIRED));
        assert!(!PAY_SCRIPT.contains("</script"));
    }
}
