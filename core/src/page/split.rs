//! The payer page of a split (接龙), complete as HTML: header with the per-person amount, the
//! deadline, progress, one's own entry (or the sign-up form) and the list. Every action is a
//! plain form post to `/c/:id/<action>` that works without JavaScript (the worker answers with
//! a redirect back, or the page again with the errors next to the fields); [`SPLIT_SCRIPT`]
//! (a few KB, no WebAssembly) makes the same posts without a reload, keeps the list live and
//! the countdown moving. The script never renders anything itself: it asks the worker for the
//! same parts ([`split_parts`]), so this module is the one source of the page's markup.

use crate::collection::{FieldError, Status};
use crate::deadline::{Countdown, Deadline};
use crate::directed::MAX_PROOF_BYTES;
use crate::page::{escape, personal_pay_steps, BRAND_MARK, COPY_SCRIPT, QR_CSS_PX};
use crate::qr;
use crate::split::{
    equal_shares, mode_summary, picks_label, progress_text, PaidBy, ParticipantStatus,
    ParticipantView, PayMode, Pick, SignUp, SplitMode, SplitView, MAX_QTY,
};

/// The cookie that holds a participant's ticket (`<pid>.<token>`) for split `id`; its path is
/// the split's page, so it goes only to `/c/<id>` and its form posts.
pub fn ticket_cookie_name(id: &str) -> String {
    format!("sk_p_{id}")
}

/// `Set-Cookie` value for a ticket (180 days; `Secure` outside local runs). Not `HttpOnly`: the
/// page's script reads it for the merchant pay button (`Authorization: Bearer`).
pub fn ticket_cookie(id: &str, pid: &str, token: &str, secure: bool) -> String {
    format!(
        "{}={pid}.{token}; Path=/c/{id}; Max-Age=15552000; SameSite=Lax{}",
        ticket_cookie_name(id),
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` value that forgets the ticket (after a withdrawal).
pub fn clear_ticket_cookie(id: &str) -> String {
    format!(
        "{}=; Path=/c/{id}; Max-Age=0; SameSite=Lax",
        ticket_cookie_name(id)
    )
}

/// `(pid, token)` from a ticket cookie value.
pub fn parse_ticket(value: &str) -> Option<(String, String)> {
    let (pid, token) = value.split_once('.')?;
    let token_ok = !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (crate::collection::is_valid_id(pid) && token_ok).then(|| (pid.to_owned(), token.to_owned()))
}

/// A sign-up or edit as a form post sends it (`application/x-www-form-urlencoded`): `name`,
/// `phone`, and for itemized splits `pick_<i>` (a quantity, or `on`/`1` for a checkbox).
pub fn sign_up_from_form(pairs: &[(String, String)]) -> SignUp {
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut picks: Vec<Pick> = pairs
        .iter()
        .filter_map(|(k, v)| {
            let item: usize = k.strip_prefix("pick_")?.parse().ok()?;
            let v = v.trim();
            let qty = match v {
                "on" => 1,
                "" => 0,
                n => n.parse::<u32>().unwrap_or(MAX_QTY + 1),
            };
            (qty > 0).then_some(Pick { item, qty })
        })
        .collect();
    picks.sort_by_key(|p| p.item);
    SignUp {
        name: value("name"),
        phone: value("phone"),
        picks,
    }
}

/// A form post that was refused: what was typed and why, shown again in the form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempt {
    /// What was typed.
    pub values: SignUp,
    /// Field errors (`name`, `phone`, `picks`) and a general one under any other field name.
    pub errors: Vec<FieldError>,
}

/// Everything the page shows.
#[derive(Debug, Clone, Copy)]
pub struct SplitPage<'a> {
    /// The public view (masked names).
    pub view: &'a SplitView,
    /// One's own entry, in full (from the ticket cookie).
    pub mine: Option<&'a ParticipantView>,
    /// A refused sign-up or edit to show again.
    pub attempt: Option<&'a Attempt>,
    /// A refused action on one's own entry (我已付款, 退出) to explain.
    pub notice: Option<&'a str>,
    /// Whether to offer WeChat reminders to one's own entry when it has none: the deployment
    /// sends them (an Official Account and a reminder template) and the page is open in WeChat.
    pub remind_offer: bool,
}

/// What each person pays, large on top: `每人 ¥30.00`; an equal split whose total does not
/// divide says so; itemized splits depend on the picks.
pub fn per_person_text(mode: &SplitMode) -> String {
    match mode {
        SplitMode::Fixed { per_person } => format!("每人 {per_person}"),
        SplitMode::Equal { total, people } => {
            let shares = equal_shares(*total, *people);
            match (shares.first(), shares.last()) {
                (Some(hi), Some(lo)) if hi == lo => format!("每人 {hi}"),
                (Some(hi), Some(lo)) => format!("每人 {lo}–{hi}"),
                _ => total.to_string(),
            }
        }
        SplitMode::Itemized { .. } => "按所选项目付款".to_owned(),
    }
}

/// The countdown in words, as fine as is useful: days and hours far away, hours and minutes
/// on the day, minutes and seconds in the last hour. [`SPLIT_SCRIPT`] writes the same three
/// forms.
pub fn time_left_text(left: Countdown) -> String {
    if left.days > 0 {
        format!("还剩 {} 天 {} 小时", left.days, left.hours)
    } else if left.hours > 0 {
        format!("还剩 {} 小时 {} 分", left.hours, left.minutes)
    } else {
        format!("还剩 {} 分 {} 秒", left.minutes, left.seconds)
    }
}

/// The deadline line: a manual close wins (no countdown next to it), then 已截止, then the time
/// left (in a `span` the script keeps moving).
pub fn deadline_line(closed: bool, deadline: Option<Deadline>, now: i64) -> String {
    match (closed, deadline) {
        (true, _) => r#"<p id="deadline" class="deadline closed-line">接龙已关闭</p>"#.to_owned(),
        (false, None) => String::new(),
        (false, Some(d)) => {
            let left = match Countdown::until(d, now) {
                Some(left) => format!(
                    r#"<span class="left" data-deadline="{}" data-now="{now}">{}</span>"#,
                    d.unix(),
                    time_left_text(left)
                ),
                None => "已截止".to_owned(),
            };
            format!(
                r#"<p id="deadline" class="deadline">截止时间：{} 北京时间（{left}）</p>"#,
                escape(&d.to_cst_string())
            )
        }
    }
}

fn field_errors(errors: &[FieldError], field: &str) -> String {
    let messages: Vec<&str> = errors
        .iter()
        .filter(|e| e.field == field)
        .map(|e| e.message.as_str())
        .collect();
    if messages.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p class="field-error" data-field="{field}">{}</p>"#,
            escape(&messages.join("；"))
        )
    }
}

fn general_errors(errors: &[FieldError], id: &str) -> String {
    let messages: Vec<&str> = errors
        .iter()
        .filter(|e| !matches!(e.field.as_str(), "name" | "phone" | "picks"))
        .map(|e| e.message.as_str())
        .collect();
    if messages.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p id="{id}" class="form-error" role="alert">{}</p>"#,
            escape(&messages.join("；"))
        )
    }
}

/// Name, phone and (itemized) pick inputs, prefilled; `prefix` tells the sign-up form
/// (`join`) from the edit form (`edit`) apart in element ids.
fn entry_fields(mode: &SplitMode, values: &SignUp, errors: &[FieldError], prefix: &str) -> String {
    let picks = match mode {
        SplitMode::Itemized { items } => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let qty = values
                    .picks
                    .iter()
                    .find(|p| p.item == i)
                    .map_or(0, |p| p.qty);
                let input = if item.quantity {
                    format!(
                        r#"<input class="pick-qty" type="number" min="0" max="{MAX_QTY}" inputmode="numeric" id="{prefix}_pick_{i}" name="pick_{i}" value="{qty}">"#
                    )
                } else {
                    format!(
                        r#"<input class="pick-check" type="checkbox" id="{prefix}_pick_{i}" name="pick_{i}" value="1"{}>"#,
                        if qty > 0 { " checked" } else { "" }
                    )
                };
                format!(
                    r#"<div class="pick-row"><label class="pick-name" for="{prefix}_pick_{i}">{} {}</label>{input}</div>"#,
                    escape(&item.name),
                    item.price
                )
            })
            .collect::<String>(),
        _ => String::new(),
    };
    format!(
        concat!(
            r#"<div class="field"><label for="{p}_name">姓名</label>"#,
            r#"<input id="{p}_name" name="name" type="text" autocomplete="name" placeholder="群里大家认识的名字" value="{name}">{name_err}</div>"#,
            r#"<div class="field"><label for="{p}_phone">手机号<span class="optional">（选填，仅收款人可见）</span></label>"#,
            r#"<input id="{p}_phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" placeholder="13812341234" value="{phone}">{phone_err}</div>"#,
            "{picks}{picks_err}"
        ),
        p = prefix,
        name = escape(&values.name),
        name_err = field_errors(errors, "name"),
        phone = escape(&values.phone),
        phone_err = field_errors(errors, "phone"),
        picks = picks,
        picks_err = field_errors(errors, "picks"),
    )
}

fn join_form(page: &SplitPage<'_>) -> String {
    let v = page.view;
    if !v.accepting {
        let why = if v.collection.status == Status::Closed {
            "接龙已关闭"
        } else if v.editable {
            "接龙人数已满"
        } else {
            "接龙已截止"
        };
        return format!(r#"<p id="join_closed" class="closed">{why}</p>"#);
    }
    let empty = Attempt::default();
    let attempt = page.attempt.unwrap_or(&empty);
    format!(
        concat!(
            r#"<form id="join_form" class="join form" method="post" action="/c/{id}/join" data-sk novalidate>"#,
            r#"<h2 class="section">我要接龙</h2>{fields}"#,
            r#"<button id="join" class="button" type="submit">接龙</button>{general}</form>"#
        ),
        id = escape(&v.collection.id),
        fields = entry_fields(&v.spec.mode, &attempt.values, &attempt.errors, "join"),
        general = general_errors(&attempt.errors, "join_error"),
    )
}

fn my_entry(page: &SplitPage<'_>, me: &ParticipantView) -> String {
    let v = page.view;
    let id = escape(&v.collection.id);
    let personal = v.spec.pay_mode == PayMode::Personal;
    let rejected = me.status == ParticipantStatus::Joined && me.rejected_at.is_some();
    let due = me.due;
    let status = match me.status {
        ParticipantStatus::Joined if rejected => "收款人没有查到你的付款",
        ParticipantStatus::Joined => "未付款",
        ParticipantStatus::Claimed => "已告知收款人，等待确认收款",
        ParticipantStatus::Paid if me.paid_by == Some(PaidBy::VerifiedPayment) => {
            "已通过微信支付付款"
        }
        ParticipantStatus::Paid => "收款人已确认收款",
    };
    let status_class = if rejected {
        "rejected"
    } else {
        me.status.as_str()
    };
    let rejected_notice = if rejected {
        format!(
            concat!(
                r#"<div id="rejected_notice" class="action-error"><p>你点了「我已付款」，但收款人在微信收款记录里没有找到这笔 {due} 的付款，已改回未付款（{when}）。</p>"#,
                r#"<p>请核对：是否扫的是下面这个收款码、金额是否为 {due}。已经付过的，把微信支付凭证截图发给收款人；还没付的，付款后再点「我已付款」。</p></div>"#
            ),
            due = due,
            when = Deadline::from_unix(me.rejected_at.unwrap_or_default()).to_cst_string(),
        )
    } else {
        String::new()
    };
    let open = v.collection.status == Status::Open;
    // Personal mode: the payee's 收款码 and 我已付款 until the payer has said they paid (a
    // transfer between people: no 微信支付 mark). Merchant mode: the pay button, with the mark,
    // only while this entry can be paid.
    let pay = match (me.status, personal) {
        (ParticipantStatus::Joined, true) if open => {
            let qr = qr::png_data_url(&v.collection.pay_code, QR_CSS_PX * 2)
                .map(|src| {
                    format!(
                        r#"<figure class="qr"><img class="qr-img" src="{src}" alt="收款人的微信收款码" width="{QR_CSS_PX}" height="{QR_CSS_PX}"></figure>"#
                    )
                })
                .unwrap_or_else(|_| {
                    r#"<p class="closed">收款码无法显示，请联系收款人</p>"#.to_owned()
                });
            format!(
                concat!(
                    "{qr}{steps}",
                    r#"<p class="hint">这是收款人的个人收款码，没有到账通知：付款后请点「我已付款」，收款人确认后才算完成。</p>"#,
                    r#"<form method="post" action="/c/{id}/claim" enctype="multipart/form-data" data-sk>{proof}"#,
                    r#"<button id="claim" class="button" type="submit">我已付款</button></form>"#
                ),
                qr = qr,
                steps = personal_pay_steps(Some(due), &format!("{}号 {}", me.seq, me.name)),
                id = id,
                proof = proof_field(page.notice),
            )
        }
        (ParticipantStatus::Joined | ParticipantStatus::Claimed, false) if open => format!(
            concat!(
                r#"<div class="pay-card merchant" data-collection-id="{id}">"#,
                r#"<button id="sk-pay" class="button" type="button" data-participant="{pid}">去支付 {due}</button>"#,
                r#"<p id="sk-pay-msg" class="status" role="status" aria-live="polite"></p></div>"#,
                r#"<p class="hint">通过微信支付付款，到账后自动标记为已付款。</p>{brand}"#
            ),
            id = id,
            pid = escape(&me.id),
            due = due,
            brand = BRAND_MARK,
        ),
        _ => String::new(),
    };
    let actions = if v.editable && me.status != ParticipantStatus::Paid {
        let empty = Attempt::default();
        let attempt = page.attempt.unwrap_or(&empty);
        let values = if page.attempt.is_some() {
            attempt.values.clone()
        } else {
            SignUp {
                name: me.name.clone(),
                phone: me.phone.clone().unwrap_or_default(),
                picks: me.picks.clone(),
            }
        };
        let withdraw = if me.status == ParticipantStatus::Joined {
            format!(
                concat!(
                    r#"<form class="withdraw-form" method="post" action="/c/{id}/withdraw" data-sk data-confirm="确定退出这次接龙吗？">"#,
                    r#"<button id="withdraw" class="button small danger" type="submit">退出接龙</button></form>"#
                ),
                id = id
            )
        } else {
            String::new()
        };
        format!(
            concat!(
                r#"<div class="entry-actions"><details class="edit-entry"{open}><summary id="edit" class="button small secondary">修改</summary>"#,
                r#"<form class="form" method="post" action="/c/{id}/edit" data-sk novalidate>{fields}"#,
                r#"<button id="save_entry" class="button" type="submit">保存</button>{general}</form></details>{withdraw}</div>"#
            ),
            open = if page.attempt.is_some() { " open" } else { "" },
            id = id,
            fields = entry_fields(&v.spec.mode, &values, &attempt.errors, "edit"),
            general = general_errors(&attempt.errors, "edit_error"),
            withdraw = withdraw,
        )
    } else {
        String::new()
    };
    // Next to the screenshot control when the 我已付款 form is there.
    let claim_form = open && personal && me.status == ParticipantStatus::Joined;
    let notice = if claim_form {
        String::new()
    } else {
        entry_error(page.notice)
    };
    let remind = if page.remind_offer
        && open
        && !me.oa_connected
        && me.status != ParticipantStatus::Paid
    {
        format!(
            concat!(
                r#"<p id="remind_offer" class="hint">想在截止前收到微信提醒？"#,
                r#"<a id="remind_me" href="/oauth/start?next=/c/{id}">用微信接收提醒</a>（只提醒你自己这一条）</p>"#
            ),
            id = id
        )
    } else {
        String::new()
    };
    let picks = picks_label(&v.spec.mode, &me.picks);
    let picks = if picks.is_empty() {
        String::new()
    } else {
        format!(r#"<p class="hint">{}</p>"#, escape(&picks))
    };
    format!(
        concat!(
            r#"<section id="my_entry" class="my-entry"><h2 class="section">我是第 {seq} 位</h2>"#,
            r#"<p class="my-line"><span id="my_name">{name}</span> · 应付 <strong id="my_due">{due}</strong></p>{picks}"#,
            r#"<p id="my_status" class="my-status status-{status_class}">{status}</p>"#,
            "{rejected}{notice}{pay}{remind}{actions}</section>"
        ),
        seq = me.seq,
        name = escape(&me.name),
        due = due,
        picks = picks,
        status_class = status_class,
        status = status,
        rejected = rejected_notice,
        notice = notice,
        pay = pay,
        remind = remind,
        actions = actions,
    )
}

/// A refused action on one's own entry (我已付款, 退出), explained.
fn entry_error(notice: Option<&str>) -> String {
    notice.map_or(String::new(), |m| {
        format!(
            r#"<p id="entry_error" class="form-error" role="alert">{}</p>"#,
            escape(m)
        )
    })
}

/// The 我已付款 form's optional transfer screenshot (checked again by the worker, by its first
/// bytes); a refused claim's reason right under it. [`SPLIT_SCRIPT`] refuses a file over
/// `data-max` bytes before sending it.
fn proof_field(notice: Option<&str>) -> String {
    format!(
        concat!(
            r#"<div class="field"><label for="proof">转账截图<span class="optional">（选填，仅收款人可见）</span></label>"#,
            r#"<input id="proof" name="proof" type="file" accept="image/jpeg,image/png,image/webp" data-max="{max}">"#,
            r#"<p class="hint">JPG、PNG 或 WebP，不超过 1.5 MB</p>{error}</div>"#
        ),
        max = MAX_PROOF_BYTES,
        error = entry_error(notice),
    )
}

fn head(view: &SplitView) -> String {
    let c = &view.collection;
    let mode = match view.spec.mode {
        // `每人 ¥30.00` is the big line already.
        SplitMode::Fixed { .. } => String::new(),
        ref mode => format!(r#"<p class="mode">{}</p>"#, escape(&mode_summary(mode))),
    };
    format!(
        concat!(
            r#"<p class="payee-sub">{payee} 发起的接龙</p><h1 class="title">{title}</h1>"#,
            r#"<div class="amount split-amount">{per}</div>{mode}{note}{deadline}"#,
            r#"<div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="1000" aria-valuenow="{permille}"><div class="progress-bar" style="width:{pct}%"></div></div>"#,
            r#"<p id="progress_text" class="progress-text">{progress}</p>"#
        ),
        payee = escape(&c.payee_name),
        title = escape(&c.title),
        per = escape(&per_person_text(&view.spec.mode)),
        mode = mode,
        note = if c.note.is_empty() {
            String::new()
        } else {
            format!(r#"<p class="note">{}</p>"#, escape(&c.note))
        },
        deadline = deadline_line(c.status == Status::Closed, view.spec.deadline, view.now),
        permille = view.progress.permille(),
        pct = view.progress.permille() / 10,
        progress = escape(&progress_text(&view.progress)),
    )
}

fn list(view: &SplitView, mine: Option<&ParticipantView>) -> String {
    let rows: String = view
        .participants
        .iter()
        .map(|p| {
            let is_me = mine.is_some_and(|m| m.id == p.id);
            format!(
                concat!(
                    r#"<li class="participant status-{status}{me}" data-pid="{pid}"><span class="seq">{seq}.</span>"#,
                    r#"<span class="pname">{name}{me_label}</span><span class="picks">{picks}</span>"#,
                    r#"<span class="due">{due}</span><span class="pstatus">{label}</span></li>"#
                ),
                status = p.status.as_str(),
                me = if is_me { " me" } else { "" },
                pid = escape(&p.id),
                seq = p.seq,
                name = escape(&p.name),
                me_label = if is_me { "（我）" } else { "" },
                picks = escape(&picks_label(&view.spec.mode, &p.picks)),
                due = p.due,
                label = p.status.label(),
            )
        })
        .collect();
    let empty = if view.participants.is_empty() {
        r#"<p class="hint">还没有人接龙，来做第一个吧。</p>"#
    } else {
        ""
    };
    format!(
        concat!(
            r#"<h2 class="section">接龙名单</h2><ol id="participants" class="participants">{rows}</ol>{empty}"#,
            r#"<p class="hint">名单中的姓名和手机号已隐去部分，只有收款人能看到完整信息。</p>"#
        ),
        rows = rows,
        empty = empty,
    )
}

/// The three live parts of the page, in order: `#sk-head`, `#sk-mine`, `#sk-list`. The worker
/// answers `/c/:id?part=live` (and the script's form posts) with exactly this, and the script
/// swaps the parts in.
pub fn split_parts(page: &SplitPage<'_>) -> String {
    let mine = match page.mine {
        Some(me) => my_entry(page, me),
        None => join_form(page),
    };
    format!(
        r#"<div id="sk-head">{}</div><div id="sk-mine">{}</div><div id="sk-list">{}</div>"#,
        head(page.view),
        mine,
        list(page.view, page.mine)
    )
}

/// The whole `#app` content: the card with its parts, and the scripts.
pub fn split_body(page: &SplitPage<'_>) -> String {
    let script = format!("<script>{COPY_SCRIPT}</script><script>{SPLIT_SCRIPT}</script>");
    let pay = if page.view.spec.pay_mode == PayMode::Merchant {
        format!("<script>{}</script>", crate::checkout::PAY_SCRIPT)
    } else {
        String::new()
    };
    format!(
        r#"<main class="page"><article id="split" class="card split-card" data-collection-id="{id}" data-version="{version}">{parts}</article></main>{script}{pay}"#,
        id = escape(&page.view.collection.id),
        version = escape(&page.view.version),
        parts = split_parts(page),
        script = script,
        pay = pay,
    )
}

/// The page's script (no WebAssembly). Without it the page still works through its forms.
/// - form posts (`form[data-sk]`) go through `fetch` with `X-Sk-Part: live`; the worker answers
///   with [`split_parts`] (errors included) and sets the ticket cookie, and the parts are
///   swapped in: sign-up, 我已付款, edits and withdrawal without a reload; the 我已付款 form
///   (`multipart/form-data`, with its optional screenshot) goes as `FormData`, and a screenshot
///   over the control's `data-max` is refused next to it before anything is sent;
/// - the list stays live: `GET /api/splits/:id` with `If-None-Match` every 3 s, backing off to
///   30 s while nothing changes; on a change the parts are fetched again (`?part=live`), but
///   `#sk-mine` is left alone while the person is typing in it;
/// - the countdown (`span.left[data-deadline]`) moves, by the minute far from the deadline,
///   and refreshes the page's parts when it passes;
/// - a ticket kept by the earlier app (`localStorage['sk-split:<id>']`) becomes the cookie;
/// - a directed request's personal link (`#p=<participant>&t=<token>`) becomes the cookie, and
///   the fragment is removed from the address (so a forwarded page does not carry the token);
/// - `document.body.dataset.ready = "1"` once all this is attached.
pub const SPLIT_SCRIPT: &str = r#"(function(){
var d=document,card=d.getElementById('split');if(!card)return;
if(!window.fetch||!window.URLSearchParams||!window.FormData||!('content' in d.createElement('template'))){d.body.dataset.ready='1';return}
var id=card.getAttribute('data-collection-id'),version=card.getAttribute('data-version'),delay=3000,timer=0,offset=0;
function el(i){return d.getElementById(i)}
function typing(){var m=el('sk-mine'),a=d.activeElement;return !!(m&&a&&m.contains(a)&&/INPUT|TEXTAREA|SELECT/.test(a.tagName))}
function swap(html,all){var t=d.createElement('template'),done=0;t.innerHTML=html;
 ['sk-head','sk-mine','sk-list'].forEach(function(p){var n=t.content.getElementById(p),o=el(p);
  if(n&&o&&(all||p!=='sk-mine'||!typing())){o.parentNode.replaceChild(n,o);done++}});tick();return done}
function refresh(){return fetch('/c/'+id+'?part=live',{credentials:'same-origin'}).then(function(r){return r.ok?r.text():''}).then(function(h){if(h)swap(h,false)})}
function poll(){clearTimeout(timer);
 fetch('/api/splits/'+id,{headers:{'if-none-match':'"'+version+'"'}}).then(function(r){
  if(r.status===200)return r.json().then(function(v){version=v.version;delay=3000;return refresh()});
  delay=Math.min(delay*2,30000);
 }).catch(function(){delay=Math.min(delay*2,30000)}).then(function(){timer=setTimeout(poll,delay)});}
d.addEventListener('submit',function(e){var f=e.target;if(!f.hasAttribute||!f.hasAttribute('data-sk'))return;
 e.preventDefault();var q=f.getAttribute('data-confirm');if(q&&!confirm(q))return;
 var up=f.querySelector('input[type=file]'),file=up&&up.files&&up.files[0];
 if(file&&file.size>+up.getAttribute('data-max')){var m=el('entry_error')||d.createElement('p');m.id='entry_error';m.className='form-error';m.setAttribute('role','alert');m.textContent='转账截图不能超过 1.5 MB，请换一张或重新截图';up.parentNode.appendChild(m);return}
 var b=f.querySelector('button[type=submit]');if(b){if(b.disabled)return;b.disabled=true;b.setAttribute('data-label',b.textContent);b.textContent='提交中…';}
 var mp=f.enctype==='multipart/form-data',h={'x-sk-part':'live'};if(!mp)h['content-type']='application/x-www-form-urlencoded';
 fetch(f.action,{method:'POST',credentials:'same-origin',headers:h,body:mp?new FormData(f):new URLSearchParams(new FormData(f)).toString()})
 .then(function(r){return r.text()}).then(function(h){if(!swap(h,true))throw 0;delay=3000;clearTimeout(timer);timer=setTimeout(poll,delay)})
 .catch(function(){if(b){b.disabled=false;b.textContent=b.getAttribute('data-label');}alert('没有提交成功，请稍后重试')});});
function left(s){var D=Math.floor(s/86400),H=Math.floor(s%86400/3600),M=Math.floor(s%3600/60);
 return D>0?'还剩 '+D+' 天 '+H+' 小时':H>0?'还剩 '+H+' 小时 '+M+' 分':'还剩 '+M+' 分 '+(s%60)+' 秒'}
var ticking=0;
function tick(){clearTimeout(ticking);var s=d.querySelector('span.left[data-deadline]');if(!s)return;
 if(!offset)offset=+s.getAttribute('data-now')-Math.floor(Date.now()/1000);
 var rest=+s.getAttribute('data-deadline')-(Math.floor(Date.now()/1000)+offset);
 if(rest<=0){refresh();return}
 s.textContent=left(rest);ticking=setTimeout(tick,rest>3600?30000:1000);}
try{var k='sk-split:'+id,old=localStorage.getItem(k);
 if(old){old=JSON.parse(old);localStorage.removeItem(k);
  if(d.cookie.indexOf('sk_p_'+id+'=')<0&&old.pid&&old.token){d.cookie='sk_p_'+id+'='+old.pid+'.'+old.token+'; path=/c/'+id+'; max-age=15552000; samesite=lax';refresh();}}}catch(x){}
var own=location.hash.match(/^#p=([A-Za-z0-9_-]+)&t=([A-Za-z0-9_-]+)$/);
if(own){d.cookie='sk_p_'+id+'='+own[1]+'.'+own[2]+'; path=/c/'+id+'; max-age=15552000; samesite=lax';try{history.replaceState(null,'',location.pathname+location.search)}catch(x){}refresh();}
tick();timer=setTimeout(poll,delay);
d.body.dataset.ready='1';
})();"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collection::{AmountRule, CollectionView, Kind};
    use crate::money::Fen;
    use crate::split::{Item, Progress, SplitSpec};

    const NOW: i64 = 1_796_000_000;

    fn view(mode: SplitMode, pay_mode: PayMode, participants: Vec<ParticipantView>) -> SplitView {
        SplitView {
            collection: CollectionView {
                id: "aB3dE6gH9k".into(),
                kind: Kind::Split,
                status: Status::Open,
                payee_name: "<b>张三</b>".into(),
                title: "团建 & 聚餐".into(),
                amount: AmountRule::PayerEntered,
                note: "周五晚".into(),
                pay_code: "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5".into(),
                created_at: 0,
            },
            spec: SplitSpec {
                mode,
                cap: None,
                deadline: Some(Deadline::from_unix(NOW + 21 * 86_400 + 3 * 3600 + 59)),
                pay_mode,
            },
            progress: Progress {
                joined: participants.len() as u32,
                claimed: 0,
                paid: 0,
                collected: Fen::ZERO,
                target: Fen::ZERO,
                cap: None,
            },
            participants,
            accepting: true,
            editable: true,
            now: NOW,
            version: "v1".into(),
        }
    }

    fn person(id: &str, seq: u32, status: ParticipantStatus) -> ParticipantView {
        ParticipantView {
            id: id.into(),
            seq,
            name: "李*".into(),
            phone: None,
            picks: vec![],
            due: Fen::new(3000),
            status,
            paid_by: None,
            oa_connected: false,
            joined_at: NOW,
            paid_at: None,
            rejected_at: None,
        }
    }

    fn fixed() -> SplitMode {
        SplitMode::Fixed {
            per_person: Fen::new(3000),
        }
    }

    fn page<'a>(view: &'a SplitView, mine: Option<&'a ParticipantView>) -> String {
        split_body(&SplitPage {
            view,
            mine,
            attempt: None,
            notice: None,
            remind_offer: false,
        })
    }

    #[test]
    fn the_per_person_amount_is_the_big_line() {
        assert_eq!(per_person_text(&fixed()), "每人 ¥30.00");
        let equal = SplitMode::Equal {
            total: Fen::new(1000),
            people: 3,
        };
        assert_eq!(per_person_text(&equal), "每人 ¥3.33–¥3.34");
        let html = page(&view(fixed(), PayMode::Personal, vec![]), None);
        assert!(html.contains(r#"<div class="amount split-amount">每人 ¥30.00</div>"#));
    }

    #[test]
    fn the_countdown_far_away_is_days_and_hours_and_a_closed_split_has_none() {
        let v = view(fixed(), PayMode::Personal, vec![]);
        let html = page(&v, None);
        assert!(html.contains("还剩 21 天 3 小时"), "{html}");
        assert!(!html.contains("已截止"));
        let mut closed = v.clone();
        closed.collection.status = Status::Closed;
        closed.accepting = false;
        closed.editable = false;
        let html = split_parts(&SplitPage {
            view: &closed,
            mine: None,
            attempt: None,
            notice: None,
            remind_offer: false,
        });
        assert!(html.contains("接龙已关闭") && !html.contains("还剩") && !html.contains("已截止"));
        assert!(!html.contains(r#"id="join_form""#));
        let near = Countdown::until(Deadline::from_unix(NOW + 125), NOW).unwrap();
        assert_eq!(time_left_text(near), "还剩 2 分 5 秒");
        let today = Countdown::until(Deadline::from_unix(NOW + 3 * 3600 + 60), NOW).unwrap();
        assert_eq!(time_left_text(today), "还剩 3 小时 1 分");
    }

    #[test]
    fn without_a_ticket_the_page_has_a_plain_sign_up_form() {
        let items = SplitMode::Itemized {
            items: vec![
                Item {
                    name: "午餐".into(),
                    price: Fen::new(3500),
                    quantity: false,
                },
                Item {
                    name: "饮料".into(),
                    price: Fen::new(500),
                    quantity: true,
                },
            ],
        };
        let html = page(&view(items, PayMode::Personal, vec![]), None);
        assert!(html.contains(
            r#"<form id="join_form" class="join form" method="post" action="/c/aB3dE6gH9k/join""#
        ));
        assert!(html.contains(r#"name="name""#) && html.contains(r#"name="phone""#));
        assert!(html.contains(r#"type="checkbox" id="join_pick_0" name="pick_0""#));
        assert!(html.contains(
            r#"type="number" min="0" max="99" inputmode="numeric" id="join_pick_1" name="pick_1""#
        ));
        assert!(html.contains("dataset.ready='1'"));
        assert!(!html.contains("<script src"));
        assert!(html.contains("&lt;b&gt;张三"), "escaped");
    }

    #[test]
    fn a_refused_post_shows_what_was_typed_and_why() {
        let v = view(fixed(), PayMode::Personal, vec![]);
        let attempt = Attempt {
            values: SignUp {
                name: "<王>".into(),
                phone: "123".into(),
                picks: vec![],
            },
            errors: vec![
                FieldError {
                    field: "phone".into(),
                    code: "INVALID_PHONE".into(),
                    message: "手机号应为 11 位数字".into(),
                },
                FieldError {
                    field: "form".into(),
                    code: "SPLIT_FULL".into(),
                    message: "接龙人数已满".into(),
                },
            ],
        };
        let html = split_parts(&SplitPage {
            view: &v,
            mine: None,
            attempt: Some(&attempt),
            notice: None,
            remind_offer: false,
        });
        assert!(html.contains(r#"value="&lt;王&gt;""#));
        assert!(
            html.contains(r#"<p class="field-error" data-field="phone">手机号应为 11 位数字</p>"#)
        );
        assert!(
            html.contains(r#"<p id="join_error" class="form-error" role="alert">接龙人数已满</p>"#)
        );
    }

    #[test]
    fn my_entry_shows_the_code_until_i_say_i_paid() {
        let mut me = person("pA3dE6gH9k", 1, ParticipantStatus::Joined);
        me.name = "李四".into();
        let v = view(
            fixed(),
            PayMode::Personal,
            vec![person("pA3dE6gH9k", 1, ParticipantStatus::Joined)],
        );
        let html = page(&v, Some(&me));
        assert!(
            html.contains(r#"id="my_entry""#) && html.contains("应付 <strong id=\"my_due\">¥30.00")
        );
        assert!(html.contains(r#"<img class="qr-img""#) && html.contains(r#"id="claim""#));
        assert!(
            !html.contains(r#"aria-label="微信支付""#),
            "a personal code is no WeChat Pay payment"
        );
        assert!(html.contains(r#"<div class="entry-actions"><details class="edit-entry">"#));
        assert!(html.contains("李*（我）"));
        assert!(html.contains(r#"action="/c/aB3dE6gH9k/withdraw""#));
        me.status = ParticipantStatus::Claimed;
        let html = page(&v, Some(&me));
        assert!(html.contains("等待确认收款"));
        assert!(!html.contains("<img") && !html.contains(r#"id="claim""#));
        assert!(!html.contains("请点") && !html.contains("微信支付</span>"));
        assert!(
            !html.contains(r#"id="withdraw""#),
            "a claimed entry cannot withdraw"
        );
    }

    #[test]
    fn the_claim_form_offers_a_screenshot_and_explains_a_refusal_next_to_it() {
        let me = person("pA3dE6gH9k", 1, ParticipantStatus::Joined);
        let v = view(fixed(), PayMode::Personal, vec![me.clone()]);
        let html = split_parts(&SplitPage {
            view: &v,
            mine: Some(&me),
            attempt: None,
            notice: Some("转账凭证只能是 JPG、PNG 或 WebP 格式的截图"),
            remind_offer: false,
        });
        assert!(html.contains(r#"action="/c/aB3dE6gH9k/claim" enctype="multipart/form-data""#));
        assert!(html.contains(r#"<input id="proof" name="proof" type="file" accept="image/jpeg,image/png,image/webp" data-max="1500000">"#));
        // The reason sits under the control, inside the claim form, once.
        let error = html.find(r#"id="entry_error""#).unwrap();
        assert!(html.find(r#"id="proof""#).unwrap() < error);
        assert!(error < html.find(r#"id="claim""#).unwrap());
        assert_eq!(html.matches(r#"id="entry_error""#).count(), 1);
        // Claimed: no form, so the reason of a refused action stands on its own.
        let mut claimed = me.clone();
        claimed.status = ParticipantStatus::Claimed;
        let html = split_parts(&SplitPage {
            view: &v,
            mine: Some(&claimed),
            attempt: None,
            notice: Some("收款人已关闭"),
            remind_offer: false,
        });
        assert!(!html.contains(r#"id="proof""#) && html.contains(r#"id="entry_error""#));
    }

    #[test]
    fn wechat_reminders_are_offered_only_to_an_unlinked_unpaid_entry_where_they_can_be_sent() {
        let me = person("pA3dE6gH9k", 1, ParticipantStatus::Joined);
        let v = view(fixed(), PayMode::Personal, vec![me.clone()]);
        let with = |me: &ParticipantView, offer: bool| {
            split_parts(&SplitPage {
                view: &v,
                mine: Some(me),
                attempt: None,
                notice: None,
                remind_offer: offer,
            })
        };
        let html = with(&me, true);
        assert!(html.contains(r#"<a id="remind_me" href="/oauth/start?next=/c/aB3dE6gH9k">"#));
        assert!(
            !with(&me, false).contains("remind_me"),
            "the deployment sends none"
        );
        let mut linked = me.clone();
        linked.oa_connected = true;
        assert!(
            !with(&linked, true).contains("remind_me"),
            "already reachable"
        );
        let mut paid = me.clone();
        paid.status = ParticipantStatus::Paid;
        assert!(
            !with(&paid, true).contains("remind_me"),
            "nothing left to remind of"
        );
    }

    #[test]
    fn merchant_mode_has_a_pay_button_for_the_participant() {
        let me = person("pA3dE6gH9k", 1, ParticipantStatus::Joined);
        let v = view(fixed(), PayMode::Merchant, vec![me.clone()]);
        let html = page(&v, Some(&me));
        assert!(html.contains(r#"id="sk-pay" class="button" type="button" data-participant="pA3dE6gH9k">去支付 ¥30.00"#));
        assert!(html.contains("getBrandWCPayRequest"));
        assert!(!html.contains("<img"));
        assert!(html.contains(BRAND_MARK), "payable here through WeChat Pay");
        let mut paid = me.clone();
        paid.status = ParticipantStatus::Paid;
        let html = page(&v, Some(&paid));
        assert!(!html.contains(BRAND_MARK), "nothing left to pay");
        let html = page(&v, None);
        assert!(!html.contains(BRAND_MARK), "not payable before signing up");
    }

    #[test]
    fn form_posts_become_sign_ups_and_tickets_parse() {
        let pairs =
            crate::urlenc::parse_query("name=%E6%9D%8E%E5%9B%9B&phone=&pick_1=2&pick_0=on&pick_3=");
        let s = sign_up_from_form(&pairs);
        assert_eq!(s.name, "李四");
        assert_eq!(
            s.picks,
            vec![Pick { item: 0, qty: 1 }, Pick { item: 1, qty: 2 }]
        );
        let bad = sign_up_from_form(&crate::urlenc::parse_query("name=x&pick_0=abc"));
        assert_eq!(
            bad.picks,
            vec![Pick {
                item: 0,
                qty: MAX_QTY + 1
            }],
            "refused by validate"
        );
        assert_eq!(
            parse_ticket("pA3dE6gH9k.abc_-9"),
            Some(("pA3dE6gH9k".into(), "abc_-9".into()))
        );
        assert_eq!(parse_ticket("pA3dE6gH9k."), None);
        assert_eq!(parse_ticket("pA3dE6gH9k.a;b"), None);
        assert_eq!(parse_ticket("x.abc"), None);
        let c = ticket_cookie("aB3dE6gH9k", "pA3dE6gH9k", "tok", true);
        assert_eq!(
            c,
            "sk_p_aB3dE6gH9k=pA3dE6gH9k.tok; Path=/c/aB3dE6gH9k; Max-Age=15552000; SameSite=Lax; Secure"
        );
    }
}
