//! The page at `/sim/` that lets a person play the payer in local runs: the pending orders with
//! a pay button, the simulated users, and every callback attempt. Plain HTML and a little
//! JavaScript over the control API.

use axum::response::Html;

/// `GET /sim/`.
pub async fn index() -> Html<&'static str> {
    Html(PAGE)
}

const PAGE: &str = r#"<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Shoukuan 模拟微信</title>
<style>
body{font-family:system-ui,sans-serif;margin:1em auto;max-width:960px;padding:0 1em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;width:100%;font-size:.9em}
td,th{border-bottom:1px solid #ddd;padding:.35em;text-align:left;vertical-align:top}
button{background:#07c160;color:#fff;border:0;border-radius:4px;padding:.35em .8em;cursor:pointer}
button.secondary{background:#888}.ok{color:#07c160}.fail{color:#c00}.muted{color:#888}
code{font-size:.85em}
</style>
</head>
<body>
<h1>Shoukuan 模拟微信 <span class="muted" id="health"></span></h1>
<p class="muted">A local stand-in for WeChat Pay and the Official Account platform. Pay a pending
order as a simulated user; the payment callback goes to the order's notify_url.</p>
<h2>待支付订单 Pending orders</h2>
<p><label>付款用户 Payer: <select id="payer"></select></label>
<button class="secondary" onclick="newPayer()">新用户 New payer</button></p>
<table><thead><tr><th>out_trade_no</th><th>类型</th><th>特约商户</th><th>金额</th><th>描述</th><th>状态</th><th></th></tr></thead>
<tbody id="orders"></tbody></table>
<h2>特约商户 Sub-merchants <span class="muted">(partner mode)</span></h2>
<table><thead><tr><th>sub_mchid</th><th>名称</th><th>H5</th><th>服务商分账最大比例 max_ratio (1/10000)</th></tr></thead>
<tbody id="subs"></tbody></table>
<h2>回调 Callbacks</h2>
<table><thead><tr><th>#</th><th>事件</th><th>订单</th><th>方式</th><th>尝试 Attempts</th></tr></thead>
<tbody id="deliveries"></tbody></table>
<script>
const yuan = f => (f / 100).toFixed(2);
const esc = s => String(s ?? '').replace(/[&<>"']/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
async function api(path, body) {
  const r = await fetch(path, body === undefined ? {} :
    {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
  const j = await r.json();
  if (!r.ok) throw new Error(j.message || r.status);
  return j;
}
async function newPayer() { await api('/sim/payers', {}); await refresh(); }
async function pay(no, openid) {
  const chosen = document.getElementById('payer').value;
  try { await api('/sim/pay', {out_trade_no: no, openid: openid || chosen || undefined}); }
  catch (e) { alert(e.message); }
  await refresh();
}
async function setRatio(sub) {
  const value = Number(document.getElementById('ratio-' + sub).value);
  try { await api('/sim/sub-merchants', {sub_mchid: sub, max_ratio: value}); } catch (e) { alert(e.message); }
  await refresh();
}
async function refresh() {
  const [health, payers, orders, deliveries, subs] = await Promise.all([
    api('/sim/health'), api('/sim/payers'), api('/sim/orders'), api('/sim/deliveries'), api('/sim/sub-merchants')]);
  const editing = document.activeElement && document.activeElement.id.startsWith('ratio-');
  if (!editing) document.getElementById('subs').innerHTML = subs.map(s => `<tr>
    <td><code>${esc(s.sub_mchid)}</code></td><td>${esc(s.name)}</td><td>${s.h5 ? '✓' : '—'}</td>
    <td><input id="ratio-${esc(s.sub_mchid)}" type="number" min="0" max="10000" value="${s.max_ratio}" style="width:6em">
    <button class="secondary" onclick="setRatio('${esc(s.sub_mchid)}')">设置 Set</button></td></tr>`).join('')
    || '<tr><td colspan="4" class="muted">none (own-business model)</td></tr>';
  document.getElementById('health').textContent = `mchid ${health.mchid} · ${health.sign_mode}`;
  const select = document.getElementById('payer');
  const keep = select.value;
  select.innerHTML = payers.map(p => `<option value="${esc(p.openid)}">${esc(p.nickname)} (${esc(p.openid)})</option>`).join('');
  if (keep) select.value = keep;
  document.getElementById('orders').innerHTML = orders.map(o => `<tr>
    <td><code>${esc(o.out_trade_no)}</code></td><td>${esc(o.trade_type)}</td><td>${esc(o.sub_mchid ?? '')}</td><td>¥${yuan(o.total)}</td>
    <td>${esc(o.description)}</td><td>${esc(o.state)}</td>
    <td>${o.state === 'NOTPAY' ? `<button onclick="pay('${esc(o.out_trade_no)}','${o.trade_type === 'JSAPI' ? esc(o.openid) : ''}')">支付 Pay</button>` : ''}</td></tr>`).join('')
    || '<tr><td colspan="7" class="muted">none yet</td></tr>';
  document.getElementById('deliveries').innerHTML = deliveries.slice().reverse().map(d => `<tr>
    <td>${d.id}</td><td>${esc(d.event_type)}</td><td><code>${esc(d.out_trade_no)}</code></td><td>${esc(d.variant)}</td>
    <td>${d.attempts.map(a => `<div class="${a.verified_by_worker ? 'ok' : 'fail'}">${esc(a.time)} → ${a.status ?? esc(a.error)} (${a.latency_ms} ms)${a.probe ? ' SIGNTEST' : ''}${a.stale ? ' stale' : ''}</div>`).join('')}
    ${d.done ? '' : '<div class="muted">retrying…</div>'}</td></tr>`).join('')
    || '<tr><td colspan="5" class="muted">none yet</td></tr>';
}
refresh(); setInterval(refresh, 2000);
</script>
</body>
</html>
"#;
