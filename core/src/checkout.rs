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
//! - outside WeChat, Native: `/o/:id` shows the `code_url` QR to scan with WeChat's Scan.

use serde::{Deserialize, Serialize};

use crate::collection::{
    AmountRule, CollectionView, FieldError, NewCollection, Status, ValidCollection,
};
use crate::page::{amount_text, escape, BRAND_MARK};

/// The API error code that asks the page to sign the payer in first.
pub const PAYER_SIGN_IN_REQUIRED: &str = "PAYER_SIGN_IN_REQUIRED";

/// The card of a merchant collection (markup shared with the personal card's CSS).
pub fn merchant_card(view: &CollectionView) -> String {
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
    let pay = match view.status {
        Status::Open => format!(
            concat!(
                r#"{entry}<button id="sk-pay" class="button" type="button">微信支付</button>"#,
                r#"<p id="sk-pay-msg" class="status" role="status" aria-live="polite"></p>"#,
                r#"<p class="hint">由微信支付收款，付款成功后自动确认到账。</p>"#
            ),
            entry = entry
        ),
        Status::Closed => r#"<p class="closed">该收款已关闭</p>"#.to_owned(),
    };
    let script = match view.status {
        Status::Open => format!("<script>{PAY_SCRIPT}</script>"),
        Status::Closed => String::new(),
    };
    format!(
        concat!(
            r#"<article class="card pay-card merchant" data-collection-id="{id}">"#,
            r#"<header class="payee"><div class="avatar" aria-hidden="true">{first}</div>"#,
            r#"<div><div class="payee-name">{payee}</div><div class="payee-sub">向你发起收款</div></div></header>"#,
            r#"<h1 class="title">{title}</h1>{amount}{note}{pay}{brand}</article>{script}"#
        ),
        id = escape(&view.id),
        first = escape(&first_char),
        payee = escape(&view.payee_name),
        title = escape(&view.title),
        amount = amount,
        note = note,
        pay = pay,
        brand = BRAND_MARK,
        script = script,
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
var card=document.querySelector('.pay-card.merchant');if(!card)return;
var id=card.getAttribute('data-collection-id'),btn=document.getElementById('sk-pay'),msg=document.getElementById('sk-pay-msg'),amt=document.getElementById('sk-amount');
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
btn.addEventListener('click',function(){
 btn.disabled=true;say('正在下单…');
 var body={collection_id:id};if(amt)body.amount=amt.value;
 var x=new XMLHttpRequest();x.open('POST','/api/orders');x.setRequestHeader('content-type','application/json');
 x.onload=function(){var d={};try{d=JSON.parse(x.responseText);}catch(e){}
  if(x.status===201){
   if(d.method==='jsapi'&&d.pay_params){say('正在调起微信支付…');bridge(d.pay_params,d.order_path);}
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
        let html = merchant_card(&view(
            AmountRule::Fixed {
                fen: Fen::new(1234),
            },
            Status::Open,
        ));
        assert!(html.contains(r#"id="sk-pay""#), "{html}");
        assert!(html.contains("¥12.34"));
        assert!(!html.contains(r#"id="sk-amount""#));
        assert!(!html.contains("<img"), "no personal receive code");
        assert!(html.contains("&lt;b&gt;李四"), "escaped");
        assert!(html.contains("getBrandWCPayRequest"));
    }

    #[test]
    fn a_payer_entered_amount_gets_a_field() {
        let html = merchant_card(&view(AmountRule::PayerEntered, Status::Open));
        assert!(html.contains(r#"id="sk-amount""#));
    }

    #[test]
    fn a_closed_collection_has_neither_button_nor_script() {
        let html = merchant_card(&view(AmountRule::PayerEntered, Status::Closed));
        assert!(html.contains("该收款已关闭"));
        assert!(!html.contains("<script") && !html.contains("sk-pay"));
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
