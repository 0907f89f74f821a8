//! The page at `/sim/` that lets a person play the payer in local runs: the pending orders with
//! a pay button, the simulated users, every callback attempt, and a transfer to a personal
//! 收款码 (which in WeChat reaches nobody's server: the page only plays it, so a payer can walk
//! a personal-code collection — 长按识别 → 输入金额 → 备注 — and then tap 我已付款 there).
//! Plain HTML and a little JavaScript over the control API; fits a 375-px phone.

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
code{font-size:.85em;word-break:break-all}
input,select{max-width:100%;font-size:1em}
.transfer{display:grid;gap:.5em;max-width:28em}
.transfer input{padding:.4em;border:1px solid #ccc;border-radius:4px}
@media (max-width:640px){
  body{margin:.5em auto;padding:0 .6em}
  table,tbody,tr,td{display:block;width:auto}
  thead{display:none}
  tr{border-bottom:1px solid #ddd;padding:.4em 0}
  td{border:0;padding:.1em 0}
  td[data-label]::before{content:attr(data-label) "：";color:#888}
}
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
<h2>个人收款码转账 Transfer to a personal 收款码</h2>
<p class="muted">个人收款码的转账不经过任何服务器：这里只模拟付款人的操作。付完后回到收款页点「我已付款」，由收款人确认。</p>
<form class="transfer" onsubmit="transfer(event)">
<label>收款码内容 (wxp://…，在收款页长按识别或复制)<br><input id="t_code" placeholder="wxp://f2f0…" autocomplete="off"></label>
<label>金额 Amount（收款码不会自动填入金额）<br><input id="t_amount" inputmode="decimal" placeholder="88.50"></label>
<label>备注 Note（如你的姓名）<br><input id="t_note" placeholder="刘小明"></label>
<button type="submit">转账 Transfer</button>
<p id="t_result" aria-live="polite"></p>
</form>
<table><thead><tr><th>时间</th><th>收款码</th><th>金额</th><th>备注</th></tr></thead>
<tbody id="transfers"></tbody></table>
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
function transfers() { try { return JSON.parse(localStorage.getItem('sim-transfers') || '[]'); } catch (e) { return []; } }
function showTransfers() {
  document.getElementById('transfers').innerHTML = transfers().slice().reverse().map(t => `<tr>
    <td data-label="时间">${esc(t.time)}</td><td data-label="收款码"><code>${esc(t.code)}</code></td>
    <td data-label="金额">¥${esc(t.amount)}</td><td data-label="备注">${esc(t.note)}</td></tr>`).join('')
    || '<tr><td colspan="4" class="muted">none yet</td></tr>';
}
function transfer(ev) {
  ev.preventDefault();
  const code = document.getElementById('t_code').value.trim();
  const amount = document.getElementById('t_amount').value.trim();
  const note = document.getElementById('t_note').value.trim();
  const result = document.getElementById('t_result');
  if (!/^wxp:\/\/[A-Za-z0-9_-]{10,}$/.test(code)) { result.className = 'fail'; result.textContent = '这不是微信收款码（应以 wxp:// 开头）'; return; }
  if (!/^\d{1,6}(\.\d{1,2})?$/.test(amount) || Number(amount) <= 0) { result.className = 'fail'; result.textContent = '请输入金额，如 88.50'; return; }
  const list = transfers();
  list.push({time: new Date().toLocaleString('zh-CN'), code, amount: Number(amount).toFixed(2), note});
  localStorage.setItem('sim-transfers', JSON.stringify(list.slice(-50)));
  result.className = 'ok';
  result.textContent = `已向收款码转账 ¥${Number(amount).toFixed(2)}${note ? '，备注「' + note + '」' : ''}。回到收款页点「我已付款」。`;
  showTransfers();
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
    <td data-label="订单"><code>${esc(o.out_trade_no)}</code></td><td data-label="类型">${esc(o.trade_type)}</td><td>${esc(o.sub_mchid ?? '')}</td><td data-label="金额">¥${yuan(o.total)}</td>
    <td data-label="描述">${esc(o.description)}</td><td data-label="状态">${esc(o.state)}</td>
    <td>${o.state === 'NOTPAY' ? `<button onclick="pay('${esc(o.out_trade_no)}','${o.trade_type === 'JSAPI' ? esc(o.openid) : ''}')">支付 Pay</button>` : ''}</td></tr>`).join('')
    || '<tr><td colspan="7" class="muted">none yet</td></tr>';
  document.getElementById('deliveries').innerHTML = deliveries.slice().reverse().map(d => `<tr>
    <td>${d.id}</td><td>${esc(d.event_type)}</td><td><code>${esc(d.out_trade_no)}</code></td><td>${esc(d.variant)}</td>
    <td>${d.attempts.map(a => `<div class="${a.verified_by_worker ? 'ok' : 'fail'}">${esc(a.time)} → ${a.status ?? esc(a.error)} (${a.latency_ms} ms)${a.probe ? ' SIGNTEST' : ''}${a.stale ? ' stale' : ''}</div>`).join('')}
    ${d.done ? '' : '<div class="muted">retrying…</div>'}</td></tr>`).join('')
    || '<tr><td colspan="5" class="muted">none yet</td></tr>';
}
showTransfers(); refresh(); setInterval(refresh, 2000);
</script>
</body>
</html>
"#;
