//! The hand-written vanilla-JS pages each of ours is measured against, served the same way (from
//! the same `wrangler dev` assets directory, `/bench-baseline/…`). Each has the same content and
//! main action as ours and sets `document.body.dataset.ready = "1"` when that action works:
//!
//! - `index.html` (request): the card from `GET /api/collections/:id`, the QR drawn by npm
//!   `qrcode` (`qrcode.min.js`, bundled with esbuild); ready when the QR `<img>` has loaded;
//! - `split.html`: static HTML + a small script that fetches `GET /api/splits/:id`, renders the
//!   list and posts the sign-up (`POST /api/splits/:id/join`); ready once the list is shown and
//!   the form's handler attached;
//! - `product.html`: the price page from `GET /api/products/:id` with its QR by npm `qrcode`;
//!   ready when the QR has loaded;
//! - `new.html`: the publish form as static HTML with a small validating script that posts
//!   `POST /api/collections` (it does not decode the uploaded 收款码 in the browser, which ours
//!   does: the baseline is lighter than a page with the same behaviour would be); ready once
//!   the handlers are attached;
//! - `order.html`: the order page (`/o/:id`), see [`order`].

/// Shared `<head>` (meta, small stylesheet in the spirit of ours).
const HEAD: &str = r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,viewport-fit=cover">
<title>收款</title>
<style>
body{margin:0;background:#EDEDED;color:#191919;font:16px/1.5 -apple-system,BlinkMacSystemFont,"PingFang SC","Hiragino Sans GB","Microsoft YaHei","Helvetica Neue",sans-serif}
#app{max-width:480px;margin:0 auto;padding:12px}
.card{background:#fff;border-radius:12px;padding:20px;text-align:center}
.payee{display:flex;align-items:center;gap:12px;margin-bottom:16px;text-align:left}
.avatar{width:44px;height:44px;border-radius:8px;background:#07C160;color:#fff;font-size:20px;font-weight:600;display:flex;align-items:center;justify-content:center}
.payee-name{font-size:17px;font-weight:600}
.payee-sub,.hint{font-size:13px;color:rgba(0,0,0,.5)}
.title{font-size:20px;font-weight:600;margin:0 0 8px}
.amount{font-size:36px;font-weight:600;margin:4px 0}
.note{margin:4px 0 0;color:rgba(0,0,0,.7)}
.qr{margin:16px 0 0}
.qr-img{display:block;margin:0 auto;width:260px;height:auto;max-width:100%;image-rendering:pixelated}
.qr-hint{margin-top:8px;font-size:15px;font-weight:600}
.brand{display:flex;align-items:center;justify-content:center;gap:6px;margin-top:16px;padding-top:12px;border-top:1px solid #F0F0F0;font-size:14px;color:#07C160;font-weight:600}
.participants{list-style:none;margin:0;padding:0;text-align:left}
.participants li{display:flex;gap:8px;padding:10px 0;border-bottom:1px solid #F0F0F0}
.participants .pname{flex:1}
.field{margin:12px 0;text-align:left}.field label{display:block;font-size:14px}
.field input{width:100%;box-sizing:border-box;padding:10px;border:1px solid #E5E5E5;border-radius:8px;font:inherit}
.button{display:block;width:100%;margin:16px 0 0;padding:11px;border:0;border-radius:8px;background:#07C160;color:#fff;font:inherit;font-weight:600}
.error{color:#FA5151;font-size:13px}
.price{font-size:32px;font-weight:600;color:#FA5151}
.product-img{width:100%;aspect-ratio:4/3;object-fit:cover}
</style>
</head>
<body>
"#;

const ESC: &str = r#"function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return '&#' + c.charCodeAt(0) + ';'; }); }
function yuan(fen) { return '¥' + (fen / 100).toFixed(2); }
var id = new URLSearchParams(location.search).get('id') || '';
function get(path) { return fetch(path).then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); }); }
"#;

/// The request page baseline (the bench's original one).
pub fn request(brand: &str) -> String {
    format!(
        r#"{HEAD}<div id="app"><article class="card" id="card"><p class="hint">加载中…</p></article></div>
<script>{ESC}var data = get('/api/collections/' + encodeURIComponent(id));
</script>
<script src="/bench-baseline/qrcode.min.js"></script>
<script>
var BRAND = {brand};
function amount(a) {{ return a && a.type === 'fixed' ? yuan(a.fen) : '金额由付款人填写'; }}
data.then(function (c) {{
  var card = document.getElementById('card');
  card.innerHTML =
    '<header class="payee"><div class="avatar">' + esc(Array.from(c.payee_name)[0] || '') + '</div>' +
    '<div><div class="payee-name">' + esc(c.payee_name) + '</div><div class="payee-sub">向你发起收款</div></div></header>' +
    '<h1 class="title">' + esc(c.title) + '</h1><div class="amount">' + esc(amount(c.amount)) + '</div>' +
    (c.note ? '<p class="note">' + esc(c.note) + '</p>' : '') +
    '<figure class="qr"><span id="qr"></span><figcaption class="qr-hint">长按识别二维码付款</figcaption></figure>' +
    '<p class="hint">个人收款码没有到账通知，付款后请把付款截图发给收款人。</p>' + BRAND;
  return QRCode.toDataURL(c.pay_code, {{ errorCorrectionLevel: 'M', margin: 4, width: 520 }}).then(function (url) {{
    var img = new Image();
    img.className = 'qr-img';
    img.alt = c.payee_name + '的微信收款码';
    img.width = 260;
    img.onload = function () {{ document.body.dataset.ready = '1'; }};
    img.src = url;
    document.getElementById('qr').appendChild(img);
  }});
}}).catch(function () {{
  document.getElementById('card').innerHTML = '<p class="hint">加载失败，请刷新重试</p>';
}});
</script>
</body>
</html>
"#
    )
}

/// The split sign-up page baseline.
pub fn split() -> String {
    format!(
        r#"{HEAD}<div id="app"><article class="card" id="card"><p class="hint">加载中…</p></article></div>
<script>{ESC}
function render(v) {{
  var c = v.collection, mode = v.spec, per = mode.mode === 'fixed' ? '每人 ' + yuan(mode.per_person) : mode.mode === 'equal' ? '每人 ' + yuan(Math.floor(mode.total / mode.people)) : '按所选项目付款';
  var rows = v.participants.map(function (p) {{
    return '<li><span>' + p.seq + '.</span><span class="pname">' + esc(p.name) + '</span><span>' + yuan(p.due) + '</span><span>' + (p.status === 'paid' ? '已付款' : p.status === 'claimed' ? '待确认' : '未付款') + '</span></li>';
  }}).join('');
  var pr = v.progress;
  document.getElementById('card').innerHTML =
    '<p class="payee-sub">' + esc(c.payee_name) + ' 发起的接龙</p><h1 class="title">' + esc(c.title) + '</h1>' +
    '<div class="amount">' + per + '</div>' + (c.note ? '<p class="note">' + esc(c.note) + '</p>' : '') +
    '<p id="progress_text">已接龙 ' + pr.joined + (pr.cap ? '/' + pr.cap : '') + ' 人 · 已付款 ' + pr.paid + ' 人 · 已收 ' + yuan(pr.collected) + '</p>' +
    (v.accepting ? '<form id="join_form"><div class="field"><label for="join_name">姓名</label><input id="join_name" name="name"></div>' +
      '<div class="field"><label for="join_phone">手机号（选填）</label><input id="join_phone" name="phone" type="tel"></div>' +
      '<button id="join" class="button" type="submit">接龙</button><p class="error" id="join_error"></p></form>' : '<p>接龙已截止</p>') +
    '<h2>接龙名单</h2><ol class="participants">' + rows + '</ol>';
  var form = document.getElementById('join_form');
  if (form) form.addEventListener('submit', function (e) {{
    e.preventDefault();
    fetch('/api/splits/' + id + '/join', {{ method: 'POST', headers: {{ 'content-type': 'application/json' }},
      body: JSON.stringify({{ name: form.name.value, phone: form.phone.value }}) }})
      .then(function (r) {{ return r.json().then(function (b) {{ if (!r.ok) throw b; return b; }}); }})
      .then(function () {{ return get('/api/splits/' + id).then(render); }})
      .catch(function (b) {{ document.getElementById('join_error').textContent = (b && b.message) || '网络不太好'; }});
  }});
}}
get('/api/splits/' + encodeURIComponent(id)).then(function (v) {{ render(v); document.body.dataset.ready = '1'; }})
  .catch(function () {{ document.getElementById('card').innerHTML = '<p class="hint">加载失败，请刷新重试</p>'; }});
</script>
</body>
</html>
"#
    )
}

/// The price page baseline.
pub fn product() -> String {
    format!(
        r#"{HEAD}<div id="app"><article class="card" id="card"><p class="hint">加载中…</p></article></div>
<script>{ESC}var data = get('/api/products/' + encodeURIComponent(id));
</script>
<script src="/bench-baseline/qrcode.min.js"></script>
<script>
data.then(function (v) {{
  var c = v.collection, p = v.product;
  var imgs = p.images.map(function (k, i) {{ return '<img class="product-img" src="/i/' + esc(k) + '" alt="">'; }}).join('');
  document.getElementById('card').innerHTML = imgs +
    '<h1 class="title">' + esc(c.title) + '</h1>' +
    (c.amount.type === 'fixed' ? '<div class="price">' + yuan(c.amount.fen) + '</div>' : '') +
    '<figure class="qr"><span id="qr"></span><figcaption class="qr-hint">长按识别二维码付款</figcaption></figure>' +
    (p.description ? '<p>' + esc(p.description) + '</p>' : '') + '<p class="hint">商家：' + esc(c.payee_name) + '</p>';
  return QRCode.toDataURL(c.pay_code, {{ errorCorrectionLevel: 'M', margin: 4, width: 520 }}).then(function (url) {{
    var img = new Image();
    img.className = 'qr-img';
    img.width = 260;
    img.onload = function () {{ document.body.dataset.ready = '1'; }};
    img.src = url;
    document.getElementById('qr').appendChild(img);
  }});
}}).catch(function () {{
  document.getElementById('card').innerHTML = '<p class="hint">加载失败，请刷新重试</p>';
}});
</script>
</body>
</html>
"#
    )
}

/// The publish form baseline.
pub fn new_form() -> String {
    format!(
        r#"{HEAD}<div id="app"><article class="card"><h1 class="title">发起收款</h1>
<form id="publish_form" novalidate>
<div class="field"><label><input type="radio" name="kind" value="request" checked> 收款</label><label><input type="radio" name="kind" value="split"> 接龙</label><label><input type="radio" name="kind" value="product"> 价目页</label></div>
<div class="field"><label for="payee_name">收款人</label><input id="payee_name" name="payee_name"><p class="error" data-field="payee_name"></p></div>
<div class="field"><label for="title">标题</label><input id="title" name="title"><p class="error" data-field="title"></p></div>
<div class="field"><label for="amount">金额（元）</label><input id="amount" name="amount" inputmode="decimal"><p class="error" data-field="amount"></p></div>
<div class="field"><label for="note">备注</label><input id="note" name="note" maxlength="30"></div>
<div class="field"><label for="pay_code_file">收款码截图</label><input id="pay_code_file" type="file" accept="image/*"><input id="pay_code" name="pay_code" placeholder="wxp://…"><p class="error" data-field="pay_code"></p></div>
<button id="publish" class="button" type="submit">发布</button><p class="error" id="publish_error"></p>
</form></article></div>
<script>
var form = document.getElementById('publish_form');
function show(field, msg) {{ var e = form.querySelector('[data-field="' + field + '"]'); if (e) e.textContent = msg || ''; }}
form.addEventListener('submit', function (e) {{
  e.preventDefault();
  var body = {{ payee_name: form.payee_name.value.trim(), title: form.title.value.trim(), amount: form.amount.value.trim(), note: form.note.value.trim(), pay_code: form.pay_code.value.trim() }};
  var bad = false;
  ['payee_name', 'title', 'pay_code'].forEach(function (f) {{ var empty = !body[f]; show(f, empty ? '请填写' : ''); bad = bad || empty; }});
  if (body.amount && !/^\d+(\.\d{{1,2}})?$/.test(body.amount)) {{ show('amount', '金额格式不正确'); bad = true; }}
  if (bad) return;
  fetch('/api/collections', {{ method: 'POST', headers: {{ 'content-type': 'application/json' }}, body: JSON.stringify(body) }})
    .then(function (r) {{ return r.json().then(function (b) {{ if (!r.ok) throw b; location.href = b.path; }}); }})
    .catch(function (b) {{ document.getElementById('publish_error').textContent = (b && b.message) || '网络不太好'; }});
}});
document.body.dataset.ready = '1';
</script>
</body>
</html>
"#
    )
}

/// The order page baseline (`order.html`): the order from `GET /api/orders/:id`, its Native QR
/// by npm `qrcode` while it waits, polled (1 s doubling to 15 s) like ours; ready when the QR
/// has loaded (or at once for a settled order).
pub fn order() -> String {
    format!(
        r#"{HEAD}<div id="app"><article class="card" id="card"><p class="hint">加载中…</p></article></div>
<script>{ESC}var data = get('/api/orders/' + encodeURIComponent(id));
</script>
<script src="/bench-baseline/qrcode.min.js"></script>
<script>
var labels = {{ pending: '等待扫码付款', paid: '已支付', closed: '订单已关闭', refunded: '已退款' }};
function render(o) {{
  document.getElementById('card').innerHTML =
    '<header class="payee"><div class="avatar">' + esc(o.payee_name.slice(0, 1)) + '</div><div><div class="payee-name">' + esc(o.payee_name) + '</div><div class="payee-sub">' + esc(o.title) + '</div></div></header>' +
    '<div class="amount">' + yuan(o.amount_fen) + '</div><p id="order-state">' + esc(labels[o.state] || o.state) + '</p>' +
    (o.state === 'pending' && o.code_url ? '<figure class="qr"><span id="qr"></span><figcaption class="qr-hint">请用微信「扫一扫」扫描二维码付款</figcaption></figure>' : '');
}}
var n = 0;
function poll(state) {{
  if (state !== 'pending' || n >= 120) return;
  setTimeout(function () {{ n++; get('/api/orders/' + encodeURIComponent(id) + '?refresh=1').then(function (o) {{ if (o.state !== state) render(o); poll(o.state); }}).catch(function () {{ poll(state); }}); }}, Math.min(1000 * Math.pow(2, Math.min(n, 4)), 15000));
}}
data.then(function (o) {{
  render(o);
  poll(o.state);
  if (o.state !== 'pending' || !o.code_url) {{ document.body.dataset.ready = '1'; return; }}
  return QRCode.toDataURL(o.code_url, {{ errorCorrectionLevel: 'M', margin: 4, width: 520 }}).then(function (url) {{
    var img = new Image();
    img.className = 'qr-img';
    img.width = 260;
    img.onload = function () {{ document.body.dataset.ready = '1'; }};
    img.src = url;
    document.getElementById('qr').appendChild(img);
  }});
}}).catch(function () {{
  document.getElementById('card').innerHTML = '<p class="hint">加载失败，请刷新重试</p>';
}});
</script>
</body>
</html>
"#
    )
}
