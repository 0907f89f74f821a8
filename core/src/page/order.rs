//! `/o/:id`, the order page, complete as HTML: where a payer waits after paying (JSAPI) or scans
//! the Native QR (outside WeChat), with the order's real state, and the receipt once paid.
//! [`ORDER_SCRIPT`] (no WebAssembly) polls `GET /api/orders/:id?refresh=1` with backoff (1 s
//! doubling to 15 s, jittered; `refresh=1` lets the worker ask WeChat Pay itself) until the
//! order is settled, and swaps in the card the worker renders again (`?part=live`) when the
//! state changes. `ok` from WeChat's cashier never counts here: only the worker's state does.

use crate::money::Fen;
use crate::order::{OrderState, OrderView, PayMethod};
use crate::page::{escape, QR_CSS_PX};
use crate::{paytime, qr};

fn row(label: &str, value: &str, id: &str) -> String {
    format!(
        r#"<div class="receipt-row"><span class="label">{label}</span><span id="{id}">{}</span></div>"#,
        escape(value)
    )
}

/// The order card (state, the Native QR while waiting, the receipt once paid).
pub fn order_card(order: &OrderView) -> String {
    let amount = Fen::new(order.amount_fen).to_string();
    let status = match order.state {
        OrderState::Pending => match order.method {
            PayMethod::Native => "等待扫码付款",
            PayMethod::Jsapi | PayMethod::H5 => "正在等待微信支付确认…",
        },
        other => other.label(),
    };
    let detail = match (order.state, order.method, order.code_url.as_deref()) {
        (OrderState::Pending, PayMethod::Native, Some(code_url)) => {
            let src = qr::png_data_url(code_url, QR_CSS_PX * 2).unwrap_or_default();
            format!(
                concat!(
                    r#"<figure class="qr"><img id="order-qr" class="qr-img" src="{src}" alt="微信支付二维码" width="{px}" height="{px}">"#,
                    r#"<figcaption class="qr-hint">请用微信「扫一扫」扫描二维码付款</figcaption></figure>"#,
                    r#"<p class="hint">在手机微信里点右上角「+」→「扫一扫」对准屏幕上的二维码。长按识别或从相册识别无法完成支付。付款后本页自动更新。</p>"#
                ),
                src = src,
                px = QR_CSS_PX,
            )
        }
        (OrderState::Pending, _, _) => {
            r#"<p class="hint">付款后本页会自动更新，无需刷新。微信显示支付成功后，到账以微信支付的确认为准。</p>"#.to_owned()
        }
        (OrderState::Closed, _, _) => format!(
            concat!(
                r#"<p class="closed">订单已关闭（超时未支付或已取消），没有扣款。</p>"#,
                r#"<a class="button" href="/c/{}">重新付款</a>"#
            ),
            escape(&order.collection_id)
        ),
        _ => {
            let paid_at = order.paid_at.map(paytime::display_cst).unwrap_or_default();
            let refunded = if order.refunded_fen > 0 {
                row(
                    "已退款",
                    &Fen::new(order.refunded_fen).to_string(),
                    "receipt-refunded",
                )
            } else {
                String::new()
            };
            format!(
                r#"<section id="receipt" class="receipt"><h2 class="subtitle">付款凭证</h2>{}{}{}{}{}{refunded}</section>"#,
                row("收款方", &order.payee_name, "receipt-payee"),
                row("金额", &amount, "receipt-amount"),
                row("支付时间", &paid_at, "receipt-time"),
                row(
                    "微信支付单号",
                    order.transaction_id.as_deref().unwrap_or_default(),
                    "receipt-transaction"
                ),
                row("订单号", &order.out_trade_no, "receipt-order"),
            )
        }
    };
    // A way back to what was paid for (a closed order has 重新付款 instead).
    let back = match order.state {
        OrderState::Closed => String::new(),
        _ => format!(
            r#"<a id="order-back" class="link" href="/c/{}">返回付款页</a>"#,
            escape(&order.collection_id)
        ),
    };
    let first: String = order.payee_name.chars().take(1).collect();
    format!(
        concat!(
            r#"<article class="card pay-card order-card" data-order-id="{id}" data-settled="{settled}">"#,
            r#"<header class="payee"><div class="avatar" aria-hidden="true">{first}</div>"#,
            r#"<div><div class="payee-name">{payee}</div><div class="payee-sub">{title}</div></div></header>"#,
            r#"<div class="amount">{amount}</div>"#,
            r#"<p id="order-state" class="order-state" data-state="{state}" aria-live="polite">{status}</p>{detail}{back}</article>"#
        ),
        id = escape(&order.id),
        settled = order.is_settled(),
        first = escape(&first),
        payee = escape(&order.payee_name),
        title = escape(&order.title),
        amount = amount,
        state = order.state.as_str(),
        status = status,
        detail = detail,
        back = back,
    )
}

/// The page body: the card and, while the order is not settled, the polling script.
pub fn order_body(order: &OrderView) -> String {
    format!(
        r#"<main class="page">{}</main><script>{ORDER_SCRIPT}</script>"#,
        order_card(order)
    )
}

/// The page of an unknown order: never a dead end. Back to the collection when it is known (the
/// worker reads it from the page the payer came from), else home.
pub fn order_not_found(collection_id: Option<&str>) -> String {
    let way_on = match collection_id.filter(|id| crate::collection::is_valid_id(id)) {
        Some(id) => format!(
            r#"<a id="order-way-on" class="button" href="/c/{}">返回付款页</a>"#,
            escape(id)
        ),
        None => r#"<a id="order-way-on" class="button" href="/">返回首页</a>"#.to_owned(),
    };
    format!(
        concat!(
            r#"<main class="page"><article class="card empty-card"><h1 class="title">找不到这个订单</h1>"#,
            r#"<p class="hint">订单链接可能不完整（复制时少了字符）。如果已经付款，请回到付款页查看，或联系收款人。</p>"#,
            "{way_on}</article></main>"
        ),
        way_on = way_on
    )
}

/// Polls the order (as `order::poll_delay_ms`: 1 s doubling to 15 s, ×0.8–1.2 jitter, at most
/// 120 polls) and swaps in the worker's card when its state changes; never reloads the page.
/// Sets `document.body.dataset.ready = "1"` at once: the page is complete as HTML.
pub const ORDER_SCRIPT: &str = r#"(function(){
var d=document,n=0;
function card(){return d.querySelector('article.order-card')}
function next(){var c=card();if(!c||c.getAttribute('data-settled')==='true'||n>=120||!window.fetch)return;
 var base=Math.min(1000*Math.pow(2,Math.min(n,4)),15000);setTimeout(poll,base*(0.8+0.4*Math.random()));}
function poll(){var c=card(),id=c.getAttribute('data-order-id');n++;
 fetch('/api/orders/'+id+'?refresh=1').then(function(r){return r.ok?r.json():null}).then(function(o){
  var s=d.getElementById('order-state');
  if(!o||!s||o.state===s.getAttribute('data-state'))return;
  return fetch('/o/'+id+'?part=live').then(function(r){return r.ok?r.text():''}).then(function(h){
   var t=d.createElement('div');t.innerHTML=h;var fresh=t.querySelector('article.order-card');
   if(fresh){c.parentNode.replaceChild(fresh,c);var st=fresh.querySelector('#order-state');if(st)d.title=st.textContent;}});
 }).catch(function(){}).then(next);}
next();d.body.dataset.ready='1';
})();"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn order(state: OrderState, method: PayMethod) -> OrderView {
        OrderView {
            id: "oA3dE6gH9k".into(),
            out_trade_no: "SK202611290001".into(),
            collection_id: "aB3dE6gH9k".into(),
            title: "课程费".into(),
            payee_name: "<李四>".into(),
            amount_fen: 8800,
            state,
            method,
            code_url: Some("weixin://wxpay/bizpayurl?pr=abc".into()),
            created_at: 1_796_000_000,
            expires_at: 1_796_001_800,
            paid_at: Some(1_796_000_100),
            transaction_id: Some("4200000001".into()),
            refunded_fen: 0,
        }
    }

    #[test]
    fn a_waiting_native_order_shows_its_code_and_a_paid_one_its_receipt() {
        let html = order_card(&order(OrderState::Pending, PayMethod::Native));
        assert!(html.contains(r#"<img id="order-qr" class="qr-img" src="data:image/png;base64,"#));
        assert!(
            html.contains(r#"data-state="pending""#) && html.contains(r#"data-settled="false""#)
        );
        assert!(html.contains("&lt;李四&gt;"), "escaped");
        let paid = order_card(&order(OrderState::Paid, PayMethod::Jsapi));
        assert!(paid.contains(r#"id="receipt""#) && paid.contains("4200000001"));
        assert!(paid.contains(r#"data-settled="true""#) && !paid.contains("order-qr"));
        let closed = order_card(&order(OrderState::Closed, PayMethod::Jsapi));
        assert!(closed.contains(r#"href="/c/aB3dE6gH9k">重新付款"#));
        assert!(paid.contains(r#"id="order-back" class="link" href="/c/aB3dE6gH9k""#));
        let body = order_body(&order(OrderState::Pending, PayMethod::Jsapi));
        assert!(body.contains("dataset.ready='1'") && !body.contains("<script src"));
    }

    #[test]
    fn an_unknown_order_leads_on() {
        let known = order_not_found(Some("aB3dE6gH9k"));
        assert!(
            known.contains(r#"href="/c/aB3dE6gH9k">返回付款页"#),
            "{known}"
        );
        let unknown = order_not_found(None);
        assert!(unknown.contains(r#"href="/">返回首页"#), "{unknown}");
        let bad = order_not_found(Some("../x\"<"));
        assert!(
            bad.contains(r#"href="/">"#) && !bad.contains("<\""),
            "{bad}"
        );
        assert!(!known.contains("删除"), "nothing is ever deleted");
    }
}
