//! Group splits (接龙): sign-up, edit, withdraw, 我已付款, the payee's confirmation, the live
//! list, exports and reminders. Rules (modes, dues, validation, masking) are
//! `shoukuan_core::split` and `shoukuan_core::personal_data`; this module moves checked values
//! in and out of D1.
//!
//! Concurrency: a sign-up is ONE statement (`INSERT … SELECT MAX(seq) + 1 … WHERE count < cap
//! AND before the deadline`). D1 executes a database's statements one at a time, so two
//! sign-ups can never read the same `MAX(seq)` or both pass the cap check: sequence numbers are
//! dense and the cap holds without a lock. A withdrawal closes its gap in one batch, which D1
//! runs as a transaction. The end-to-end test
//! `split::the_cap_holds_under_two_hundred_concurrent_sign_ups_with_dense_sequence_numbers`
//! keeps this true.
//!
//! No Durable Object: one per split would add a binding and a second home for the list
//! (exports, the payee's view and reminders read D1), or, placed in front of D1 to hand out
//! numbers, a gap whenever the numbered write fails — for no gain, since D1 already serialises
//! the statements.

use serde::Deserialize;
use shoukuan_core::collection::{is_valid_id, CollectionView, Status};
use shoukuan_core::csv::Csv;
use shoukuan_core::deadline::Deadline;
use shoukuan_core::money::Fen;
use shoukuan_core::personal_data::DataKey;
use shoukuan_core::ratelimit::{SIGNUP_PER_CLIENT, SIGNUP_PER_SPLIT};
use shoukuan_core::split::{
    dues, picks_label, Joined, Member, PaidBy, ParticipantStatus, ParticipantView, Pick, Progress,
    SignUp, SplitMode, SplitSpec, SplitView, ValidSignUp,
};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env, Request, Response};

use crate::collections;
use crate::error::ApiError;
use crate::http::{self, num};
use crate::personal_data::{self, column};
use crate::routes::SplitRoute;
use crate::secrets;
use crate::session::now_secs;

/// Answers one of the [`SplitRoute`]s.
pub async fn handle(route: SplitRoute, req: Request, env: &Env) -> Result<Response, ApiError> {
    match route {
        SplitRoute::Get(id) => get(&id, &req, env).await,
        SplitRoute::Admin(id) => admin(&id, &req, env).await,
        SplitRoute::Join(id) => join(&id, req, env).await,
        SplitRoute::Mine(id, pid) => mine(&id, &pid, &req, env).await,
        SplitRoute::Edit(id, pid) => edit(&id, &pid, req, env).await,
        SplitRoute::Withdraw(id, pid) => withdraw(&id, &pid, &req, env).await,
        SplitRoute::Remove(id, pid) => remove(&id, &pid, &req, env).await,
        SplitRoute::Claim(id, pid) => claim(&id, &pid, &req, env).await,
        SplitRoute::Confirm(id, pid) => confirm(&id, &pid, &req, env).await,
        SplitRoute::Reject(id, pid) => reject(&id, &pid, &req, env).await,
        SplitRoute::ExportCsv(id) => export_csv(&id, &req, env).await,
        SplitRoute::ExportJson(id) => export_json(&id, &req, env).await,
        SplitRoute::Remind(id) => crate::reminders::remind(&id, &req, env).await,
    }
}

fn db(env: &Env) -> Result<D1Database, ApiError> {
    Ok(env.d1("DB")?)
}

fn opt_str(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

fn corrupt(what: &str) -> ApiError {
    ApiError::Internal(format!("split data: bad {what}"))
}

/// The statement that stores a new split's settings (run in one batch with the collection).
pub fn insert_statement(
    db: &D1Database,
    id: &str,
    spec: &SplitSpec,
) -> Result<D1PreparedStatement, ApiError> {
    let json = serde_json::to_string(spec).map_err(|e| ApiError::Internal(e.to_string()))?;
    let pay_mode = match spec.pay_mode {
        shoukuan_core::split::PayMode::Personal => "personal",
        shoukuan_core::split::PayMode::Merchant => "merchant",
    };
    Ok(db
        .prepare(
            "INSERT INTO splits (collection_id, spec, cap, deadline, pay_mode) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&[
            id.into(),
            json.into(),
            spec.cap.map_or(JsValue::NULL, |c| num(i64::from(c))),
            spec.deadline.map_or(JsValue::NULL, |d| num(d.unix())),
            pay_mode.into(),
        ])?)
}

/// The split's settings and the collection's state: enough to answer a poll.
#[derive(Debug, Deserialize)]
struct Head {
    spec: String,
    version: i64,
    status: String,
    updated_at: i64,
}

struct Split {
    spec: SplitSpec,
    version: i64,
    status: Status,
    updated_at: i64,
}

impl Split {
    fn deadline_over(&self, now: i64) -> bool {
        self.spec.deadline.is_some_and(|d| d.is_over(now))
    }

    /// Changes whenever the page would: a participant, the collection, or the deadline passing.
    fn etag(&self, now: i64) -> String {
        format!(
            "\"{}-{}-{}-{}\"",
            self.version,
            self.updated_at,
            self.status.as_str(),
            u8::from(self.deadline_over(now))
        )
    }

    fn require_editable(&self, now: i64) -> Result<(), ApiError> {
        if self.status != Status::Open {
            return Err(ApiError::Closed);
        }
        if self.deadline_over(now) {
            return Err(deadline_passed());
        }
        Ok(())
    }
}

fn deadline_passed() -> ApiError {
    ApiError::Conflict("DEADLINE_PASSED", "接龙已截止，不能再报名或修改")
}

async fn load_split(id: &str, env: &Env) -> Result<Split, ApiError> {
    if !is_valid_id(id) {
        return Err(ApiError::NotFound);
    }
    let head = db(env)?
        .prepare(
            "SELECT s.spec, s.version, c.status, c.updated_at FROM splits s JOIN collections c ON c.id = s.collection_id \
             WHERE s.collection_id = ?1",
        )
        .bind(&[id.into()])?
        .first::<Head>(None)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Split {
        spec: serde_json::from_str(&head.spec).map_err(|_| corrupt("spec"))?,
        version: head.version,
        status: Status::parse(&head.status).ok_or_else(|| corrupt("status"))?,
        updated_at: head.updated_at,
    })
}

/// A row of `participants` as the pages need it.
#[derive(Debug, Deserialize)]
struct Row {
    id: String,
    seq: i64,
    name_masked: String,
    name_sealed: String,
    phone_masked: Option<String>,
    phone_sealed: Option<String>,
    picks: String,
    oa: i64,
    status: String,
    paid_by: Option<String>,
    paid_fen: Option<i64>,
    created_at: i64,
    paid_at: Option<i64>,
    /// `claimed` rows: when they said 我已付款; `joined` rows: when the payee rejected that.
    claimed_at: Option<i64>,
}

const ROW_COLUMNS: &str = "id, seq, name_masked, name_sealed, phone_masked, phone_sealed, picks, \
     (openid_sealed IS NOT NULL) AS oa, status, paid_by, paid_fen, created_at, paid_at, claimed_at";

impl Row {
    fn status(&self) -> Result<ParticipantStatus, ApiError> {
        ParticipantStatus::parse(&self.status).ok_or_else(|| corrupt("participant status"))
    }

    fn picks(&self) -> Result<Vec<Pick>, ApiError> {
        serde_json::from_str(&self.picks).map_err(|_| corrupt("picks"))
    }

    fn member(&self) -> Result<Member, ApiError> {
        Ok(Member {
            paid: match self.status()? {
                ParticipantStatus::Paid => Some(Fen::new(self.paid_fen.unwrap_or(0))),
                _ => None,
            },
            picks: self.picks()?,
        })
    }

    /// The view of this row; with `key`, the names and phones in full (payee and owner only).
    fn view(&self, due: Fen, key: Option<&DataKey>) -> Result<ParticipantView, ApiError> {
        let (name, phone) = match key {
            Some(key) => (
                personal_data::open(key, column::NAME, &self.name_sealed)?,
                self.phone_sealed
                    .as_deref()
                    .map(|s| personal_data::open(key, column::PHONE, s))
                    .transpose()?,
            ),
            None => (self.name_masked.clone(), self.phone_masked.clone()),
        };
        Ok(ParticipantView {
            id: self.id.clone(),
            seq: u32::try_from(self.seq).map_err(|_| corrupt("seq"))?,
            name,
            phone,
            picks: self.picks()?,
            due,
            status: self.status()?,
            paid_by: self.paid_by.as_deref().and_then(PaidBy::parse),
            oa_connected: key.is_some() && self.oa != 0,
            joined_at: self.created_at,
            paid_at: self.paid_at,
            rejected_at: self
                .claimed_at
                .filter(|_| self.status == ParticipantStatus::Joined.as_str()),
        })
    }
}

async fn rows(id: &str, env: &Env) -> Result<Vec<Row>, ApiError> {
    Ok(db(env)?
        .prepare(format!(
            "SELECT {ROW_COLUMNS} FROM participants WHERE collection_id = ?1 ORDER BY seq"
        ))
        .bind(&[id.into()])?
        .all()
        .await?
        .results::<Row>()?)
}

/// Everyone's dues, in sequence order.
fn dues_of(spec: &SplitSpec, rows: &[Row]) -> Result<Vec<Fen>, ApiError> {
    let members = rows
        .iter()
        .map(Row::member)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(dues(&spec.mode, &members))
}

async fn build_view(
    id: &str,
    split: &Split,
    env: &Env,
    key: Option<&DataKey>,
    now: i64,
) -> Result<SplitView, ApiError> {
    let collection: CollectionView = collections::find_view(id, env)
        .await?
        .ok_or(ApiError::NotFound)?;
    let rows = rows(id, env).await?;
    let dues = dues_of(&split.spec, &rows)?;
    let statuses = rows
        .iter()
        .map(Row::status)
        .collect::<Result<Vec<_>, _>>()?;
    let progress = Progress::of(&split.spec, &statuses, &dues);
    let participants = rows
        .iter()
        .zip(&dues)
        .map(|(row, due)| row.view(*due, key))
        .collect::<Result<Vec<_>, _>>()?;
    let open = split.status == Status::Open && !split.deadline_over(now);
    Ok(SplitView {
        accepting: open && split.spec.cap.is_none_or(|cap| progress.joined < cap),
        editable: open,
        collection,
        spec: split.spec.clone(),
        progress,
        participants,
        now,
        version: split.etag(now).trim_matches('"').to_owned(),
    })
}

/// The public view of a split (masked names), for the server-rendered page.
pub async fn find_public_view(id: &str, env: &Env) -> Result<Option<SplitView>, ApiError> {
    let split = match load_split(id, env).await {
        Ok(split) => split,
        Err(ApiError::NotFound) => return Ok(None),
        Err(e) => return Err(e),
    };
    build_view(id, &split, env, None, now_secs())
        .await
        .map(Some)
}

fn header(req: &Request, name: &str) -> String {
    req.headers().get(name).ok().flatten().unwrap_or_default()
}

fn with_etag(resp: Response, etag: &str) -> Result<Response, ApiError> {
    let mut resp = resp;
    resp.headers_mut().set("etag", etag)?;
    Ok(resp)
}

/// `GET /api/splits/:id`: the public page data; `304` when `If-None-Match` still matches, so
/// a page polling every few seconds costs one small query.
async fn get(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let split = load_split(id, env).await?;
    let now = now_secs();
    let etag = split.etag(now);
    if header(req, "if-none-match")
        .split(',')
        .any(|t| t.trim() == etag)
    {
        return with_etag(Response::empty()?.with_status(304), &etag);
    }
    let view = build_view(id, &split, env, None, now).await?;
    with_etag(http::json(200, &view)?, &etag)
}

/// `GET /api/splits/:id/admin` (manage token): names and phones in full, who has not paid.
async fn admin(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    collections::authorize_manage(id, req, env).await?;
    let split = load_split(id, env).await?;
    let key = personal_data::key(env)?;
    let now = now_secs();
    let view = build_view(id, &split, env, Some(&key), now).await?;
    with_etag(http::json(200, &view)?, &split.etag(now))
}

/// What a sign-up stores, sealed.
struct Sealed {
    name_masked: String,
    name_sealed: String,
    phone_masked: Option<String>,
    phone_sealed: Option<String>,
    picks: String,
}

fn seal_sign_up(key: &DataKey, valid: &ValidSignUp) -> Result<Sealed, ApiError> {
    Ok(Sealed {
        name_masked: valid.name.masked(),
        name_sealed: personal_data::seal(key, column::NAME, valid.name.as_str())?,
        phone_masked: valid.phone.as_ref().map(|p| p.masked()),
        phone_sealed: valid
            .phone
            .as_ref()
            .map(|p| personal_data::seal(key, column::PHONE, p.as_str()))
            .transpose()?,
        picks: serde_json::to_string(&valid.picks)
            .map_err(|e| ApiError::Internal(e.to_string()))?,
    })
}

/// The openid of the person signing up, when they came through the Official Account.
fn signer_openid(req: &Request, env: &Env) -> Option<String> {
    use shoukuan_core::session::Role;
    crate::session::current(req, env, Role::Payer)
        .or_else(|| crate::session::current(req, env, Role::Payee))
        .map(|o| o.as_str().to_owned())
}

#[derive(Deserialize)]
struct Inserted {
    seq: i64,
}

/// `POST /api/splits/:id/join`
async fn join(id: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let body: SignUp = http::read_json(&mut req).await?;
    http::json(201, &sign_up(id, &body, &req, env).await?)
}

/// A sign-up, whatever form it came in (the JSON API, or the payer page's plain form post):
/// the same limits, checks and errors.
pub async fn sign_up(
    id: &str,
    body: &SignUp,
    req: &Request,
    env: &Env,
) -> Result<Joined, ApiError> {
    let split = load_split(id, env).await?;
    let now = now_secs();
    split.require_editable(now)?;
    // Abuse limits: one client cannot fill a split (or many) alone.
    let guard = crate::abuse::Guard::new(req, env);
    guard.check(env, &SIGNUP_PER_CLIENT, guard.client()).await?;
    guard.check(env, &SIGNUP_PER_SPLIT, id).await?;
    let valid = body.validate(&split.spec.mode).map_err(ApiError::Invalid)?;
    let key = personal_data::key(env)?;
    let sealed = seal_sign_up(&key, &valid)?;
    let signer = signer_openid(req, env);
    let openid_sealed = signer
        .as_deref()
        .map(|o| personal_data::seal(&key, column::OPENID, o))
        .transpose()?;
    let pid = secrets::new_public_id()?;
    let token = secrets::new_token()?;
    // One statement: D1 runs it alone, so MAX(seq) + 1 and the cap check see every earlier
    // sign-up and no later one.
    let inserted = db(env)?
        .prepare(
            "INSERT INTO participants (id, collection_id, seq, name_masked, name_sealed, phone_masked, phone_sealed, \
               picks, token_hash, openid_sealed, status, created_at, updated_at) \
             SELECT ?1, s.collection_id, \
               COALESCE((SELECT MAX(seq) FROM participants WHERE collection_id = ?2), 0) + 1, \
               ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'joined', ?10, ?10 \
             FROM splits s JOIN collections c ON c.id = s.collection_id \
             WHERE s.collection_id = ?2 AND c.status = 'open' AND (s.deadline IS NULL OR s.deadline > ?10) \
               AND (s.cap IS NULL OR (SELECT COUNT(*) FROM participants WHERE collection_id = ?2) < s.cap) \
             RETURNING seq",
        )
        .bind(&[
            pid.as_str().into(),
            id.into(),
            sealed.name_masked.as_str().into(),
            sealed.name_sealed.as_str().into(),
            opt_str(sealed.phone_masked.as_deref()),
            opt_str(sealed.phone_sealed.as_deref()),
            sealed.picks.as_str().into(),
            secrets::token_hash(&token).into(),
            opt_str(openid_sealed.as_deref()),
            num(now),
        ])?
        .first::<Inserted>(None)
        .await?;
    let Some(Inserted { seq }) = inserted else {
        // Refused by the statement's conditions: say which one holds now.
        let split = load_split(id, env).await?;
        split.require_editable(now_secs())?;
        return Err(ApiError::Conflict("SPLIT_FULL", "接龙人数已满"));
    };
    if let Some(openid) = &signer {
        crate::notices::selfservice::index_sign_up(env, &pid, openid).await;
    }
    crate::growth::ab::signed_up(env, req, id, &pid).await;
    let due = due_of_new(&split.spec, id, seq, &valid, env).await?;
    let participant = ParticipantView {
        id: pid,
        seq: u32::try_from(seq).map_err(|_| corrupt("seq"))?,
        name: sealed.name_masked,
        phone: sealed.phone_masked,
        picks: valid.picks,
        due,
        status: ParticipantStatus::Joined,
        paid_by: None,
        oa_connected: false,
        joined_at: now,
        paid_at: None,
        rejected_at: None,
    };
    Ok(Joined { participant, token })
}

/// What a new participant owes: immediate for fixed and itemized splits; an equal split's
/// share depends on the payments before it.
async fn due_of_new(
    spec: &SplitSpec,
    id: &str,
    seq: i64,
    valid: &ValidSignUp,
    env: &Env,
) -> Result<Fen, ApiError> {
    match &spec.mode {
        SplitMode::Fixed { per_person } => Ok(*per_person),
        SplitMode::Itemized { items } => {
            Ok(shoukuan_core::split::picks_amount(items, &valid.picks).unwrap_or(Fen::ZERO))
        }
        SplitMode::Equal { total, people } => {
            #[derive(Deserialize)]
            struct Paid {
                paid_fen: Option<i64>,
            }
            let paid: Vec<Option<Fen>> = db(env)?
                .prepare("SELECT paid_fen FROM participants WHERE collection_id = ?1 ORDER BY seq")
                .bind(&[id.into()])?
                .all()
                .await?
                .results::<Paid>()?
                .into_iter()
                .map(|p| p.paid_fen.map(Fen::new))
                .collect();
            let dues = shoukuan_core::split::slot_dues(*total, *people, &paid);
            Ok(dues
                .get(usize::try_from(seq - 1).unwrap_or(usize::MAX))
                .copied()
                .unwrap_or(Fen::ZERO))
        }
    }
}

/// Loads one participant of split `id` and checks the `Authorization: Bearer <participant
/// token>` header.
async fn load_own(id: &str, pid: &str, req: &Request, env: &Env) -> Result<Row, ApiError> {
    let auth = header(req, "authorization");
    let token = auth.strip_prefix("Bearer ").map(str::trim).unwrap_or("");
    load_own_with(id, pid, token, env).await
}

/// [`load_own`] with the participant token given.
async fn load_own_with(id: &str, pid: &str, token: &str, env: &Env) -> Result<Row, ApiError> {
    #[derive(Deserialize)]
    struct Auth {
        token_hash: String,
    }
    if !is_valid_id(id) || !is_valid_id(pid) {
        return Err(ApiError::NotFound);
    }
    let stored = db(env)?
        .prepare("SELECT token_hash FROM participants WHERE id = ?1 AND collection_id = ?2")
        .bind(&[pid.into(), id.into()])?
        .first::<Auth>(None)
        .await?
        .ok_or(ApiError::Missing("报名"))?;
    if token.is_empty() || !secrets::secret_eq(&secrets::token_hash(token), &stored.token_hash) {
        return Err(ApiError::NotParticipant);
    }
    load_row(id, pid, env).await
}

/// Checks a participant token for participant `pid` of split `id` (other features' actions on
/// one's own entry, e.g. a transfer screenshot).
pub async fn authorize_participant(
    id: &str,
    pid: &str,
    req: &Request,
    env: &Env,
) -> Result<(), ApiError> {
    load_own(id, pid, req, env).await.map(|_| ())
}

async fn load_row(id: &str, pid: &str, env: &Env) -> Result<Row, ApiError> {
    db(env)?
        .prepare(format!(
            "SELECT {ROW_COLUMNS} FROM participants WHERE id = ?1 AND collection_id = ?2"
        ))
        .bind(&[pid.into(), id.into()])?
        .first::<Row>(None)
        .await?
        .ok_or(ApiError::Missing("报名"))
}

/// One participant's entry with the due computed against the whole list.
async fn entry(
    id: &str,
    pid: &str,
    split: &Split,
    env: &Env,
    key: Option<&DataKey>,
) -> Result<ParticipantView, ApiError> {
    let rows = rows(id, env).await?;
    let dues = dues_of(&split.spec, &rows)?;
    let (row, due) = rows
        .iter()
        .zip(dues)
        .find(|(r, _)| r.id == pid)
        .ok_or(ApiError::Missing("报名"))?;
    row.view(due, key)
}

/// `GET /api/splits/:id/participants/:pid` (participant token): one's own entry, in full.
async fn mine(id: &str, pid: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let token = bearer(req);
    http::json(200, &own_entry(id, pid, &token, env).await?)
}

/// The `Authorization: Bearer` token of a request (empty when none).
fn bearer(req: &Request) -> String {
    let auth = header(req, "authorization");
    auth.strip_prefix("Bearer ")
        .map(str::trim)
        .unwrap_or("")
        .to_owned()
}

/// One's own entry in full (name and phone unmasked), given the participant token.
pub async fn own_entry(
    id: &str,
    pid: &str,
    token: &str,
    env: &Env,
) -> Result<ParticipantView, ApiError> {
    load_own_with(id, pid, token, env).await?;
    let split = load_split(id, env).await?;
    let key = personal_data::key(env)?;
    entry(id, pid, &split, env, Some(&key)).await
}

/// Links participant `pid` of split `id` to the WeChat of the signed-in payer holding its
/// ticket (a directed debtor, or a sign-up made outside WeChat, who asked for reminders): the
/// openid sealed and indexed as at a sign-up through the Official Account. Only an entry with
/// no WeChat yet is linked — never replacing another's. Whether the entry is linked now.
pub async fn link_wechat(env: &Env, id: &str, pid: &str, openid: &str) -> Result<bool, ApiError> {
    let key = personal_data::key(env)?;
    let sealed = personal_data::seal(&key, column::OPENID, openid)?;
    let result = db(env)?
        .prepare(
            "UPDATE participants SET openid_sealed = ?3 \
             WHERE id = ?1 AND collection_id = ?2 AND openid_sealed IS NULL",
        )
        .bind(&[pid.into(), id.into(), sealed.into()])?
        .run()
        .await?;
    let linked = result.meta()?.and_then(|m| m.changes).unwrap_or(0) > 0;
    if linked {
        crate::notices::selfservice::index_sign_up(env, pid, openid).await;
    }
    Ok(linked)
}

fn already_paid() -> ApiError {
    ApiError::Conflict("ALREADY_PAID", "已确认付款，不能再修改或退出")
}

fn order_pending() -> ApiError {
    ApiError::Conflict(
        "ORDER_PENDING",
        "有一笔待支付的订单，请先完成支付，或等订单关闭后再修改或退出",
    )
}

/// SQL: participant `?1` has no merchant order still waiting for payment. While one is, the
/// picks (hence the due the order was created for) and the entry itself stay as they are.
const NO_PENDING_ORDER: &str =
    "NOT EXISTS (SELECT 1 FROM orders WHERE participant_id = ?1 AND state = 'pending')";

async fn has_pending_order(env: &Env, pid: &str) -> Result<bool, ApiError> {
    #[derive(Deserialize)]
    struct N {
        n: i64,
    }
    let row = db(env)?
        .prepare("SELECT COUNT(*) AS n FROM orders WHERE participant_id = ?1 AND state = 'pending'")
        .bind(&[pid.into()])?
        .first::<N>(None)
        .await?;
    Ok(row.is_some_and(|r| r.n > 0))
}

/// `PUT /api/splits/:id/participants/:pid` (participant token): change name, phone, picks.
async fn edit(id: &str, pid: &str, mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let token = bearer(&req);
    load_own_with(id, pid, &token, env).await?;
    let body: SignUp = http::read_json(&mut req).await?;
    http::json(200, &edit_entry(id, pid, &token, &body, env).await?)
}

/// Changes one's own entry (the JSON API and the page's form post).
pub async fn edit_entry(
    id: &str,
    pid: &str,
    token: &str,
    body: &SignUp,
    env: &Env,
) -> Result<ParticipantView, ApiError> {
    let row = load_own_with(id, pid, token, env).await?;
    let split = load_split(id, env).await?;
    split.require_editable(now_secs())?;
    if row.status()? == ParticipantStatus::Paid {
        return Err(already_paid());
    }
    let valid = body.validate(&split.spec.mode).map_err(ApiError::Invalid)?;
    let key = personal_data::key(env)?;
    let sealed = seal_sign_up(&key, &valid)?;
    let changed = db(env)?
        .prepare(format!(
            "UPDATE participants SET name_masked = ?3, name_sealed = ?4, phone_masked = ?5, phone_sealed = ?6, \
             picks = ?7, updated_at = ?8 WHERE id = ?1 AND collection_id = ?2 AND status <> 'paid' \
             AND {NO_PENDING_ORDER} RETURNING id"
        ))
        .bind(&[
            pid.into(),
            id.into(),
            sealed.name_masked.as_str().into(),
            sealed.name_sealed.as_str().into(),
            opt_str(sealed.phone_masked.as_deref()),
            opt_str(sealed.phone_sealed.as_deref()),
            sealed.picks.as_str().into(),
            num(now_secs()),
        ])?
        .all()
        .await?
        .results::<serde_json::Value>()?;
    if changed.is_empty() {
        if has_pending_order(env, pid).await? {
            return Err(order_pending());
        }
        return Err(already_paid());
    }
    entry(id, pid, &split, env, Some(&key)).await
}

/// `DELETE /api/splits/:id/participants/:pid` (participant token): withdraw; the entry and its
/// personal data are deleted and everyone after it moves up one place.
async fn withdraw(id: &str, pid: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    withdraw_entry(id, pid, &bearer(req), env).await?;
    http::json(200, &serde_json::json!({ "withdrawn": true }))
}

/// Withdraws one's own entry (the JSON API and the page's form post).
pub async fn withdraw_entry(id: &str, pid: &str, token: &str, env: &Env) -> Result<(), ApiError> {
    let row = load_own_with(id, pid, token, env).await?;
    let split = load_split(id, env).await?;
    split.require_editable(now_secs())?;
    match row.status()? {
        ParticipantStatus::Joined => {}
        ParticipantStatus::Paid => return Err(already_paid()),
        // They told the payee they paid: vanishing from the list would hide that money.
        ParticipantStatus::Claimed => {
            return Err(ApiError::Conflict(
                "ALREADY_CLAIMED",
                "你已告知收款人付款，如需退出请联系收款人",
            ))
        }
    }
    if !delete_entry(env, id, pid, "'joined'").await? {
        if has_pending_order(env, pid).await? {
            return Err(order_pending());
        }
        return Err(already_paid());
    }
    Ok(())
}

/// Deletes participant `pid` of split `id` when its status is one of `statuses` (an SQL list)
/// and no order of theirs is pending; everyone after moves up one place. `false` when nothing
/// was deleted.
async fn delete_entry(env: &Env, id: &str, pid: &str, statuses: &str) -> Result<bool, ApiError> {
    let db = db(env)?;
    let which =
        format!("id = ?1 AND collection_id = ?2 AND status IN ({statuses}) AND {NO_PENDING_ORDER}");
    // One transaction. Later entries go to -(seq - 1) first, then back to positive, so the
    // UNIQUE (collection_id, seq) index never sees two rows on one number mid-statement.
    let statements = vec![
        db.prepare(format!(
            "UPDATE participants SET seq = -(seq - 1) WHERE collection_id = ?2 AND \
             seq > (SELECT seq FROM participants WHERE {which})"
        ))
        .bind(&[pid.into(), id.into()])?,
        db.prepare(format!("DELETE FROM participants WHERE {which}"))
            .bind(&[pid.into(), id.into()])?,
        db.prepare("UPDATE participants SET seq = -seq WHERE collection_id = ?1 AND seq < 0")
            .bind(&[id.into()])?,
    ];
    let results = db.batch(statements).await?;
    let deleted = results
        .get(1)
        .and_then(|r| r.meta().ok().flatten())
        .and_then(|m| m.changes)
        .unwrap_or(0);
    Ok(deleted > 0)
}

/// `POST /api/splits/:id/participants/:pid/remove` (manage token): the payee removes a junk
/// or mistaken entry (not a paid one, nor one with an order pending); later entries move up.
async fn remove(id: &str, pid: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    collections::authorize_manage(id, req, env).await?;
    if !is_valid_id(pid) {
        return Err(ApiError::Missing("报名"));
    }
    let row = load_row(id, pid, env).await?;
    if row.status()? == ParticipantStatus::Paid {
        return Err(ApiError::Conflict(
            "ALREADY_PAID",
            "这位参与者已付款，不能移除（如需退款请在收款记录中操作）",
        ));
    }
    if !delete_entry(env, id, pid, "'joined', 'claimed'").await? {
        if has_pending_order(env, pid).await? {
            return Err(order_pending());
        }
        return Err(ApiError::Missing("报名"));
    }
    http::json(200, &serde_json::json!({ "removed": true }))
}

/// `POST /api/splits/:id/participants/:pid/claim` (participant token): 我已付款. Only tells the
/// payee; the participant stays unpaid until the payee confirms.
async fn claim(id: &str, pid: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    http::json(200, &claim_entry(id, pid, &bearer(req), env).await?)
}

/// 我已付款 for one's own entry (the JSON API and the page's form post).
pub async fn claim_entry(
    id: &str,
    pid: &str,
    token: &str,
    env: &Env,
) -> Result<ParticipantView, ApiError> {
    load_own_with(id, pid, token, env).await?;
    let split = load_split(id, env).await?;
    if split.status != Status::Open {
        return Err(ApiError::Closed);
    }
    let now = now_secs();
    let changed = db(env)?
        .prepare(
            "UPDATE participants SET status = 'claimed', claimed_at = ?3, updated_at = ?3 \
             WHERE id = ?1 AND collection_id = ?2 AND status = 'joined' RETURNING id",
        )
        .bind(&[pid.into(), id.into(), num(now)])?
        .all()
        .await?
        .results::<serde_json::Value>()?;
    if changed.is_empty() && load_row(id, pid, env).await?.status()? == ParticipantStatus::Paid {
        return Err(already_paid());
    }
    if !changed.is_empty() {
        crate::events::claim_made(env, id, pid).await;
    }
    let key = personal_data::key(env)?;
    entry(id, pid, &split, env, Some(&key)).await
}

/// `POST /api/splits/:id/participants/:pid/confirm` (manage token): the payee saw the money.
/// The amount recorded is what the participant owes at this moment.
async fn confirm(id: &str, pid: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    collections::authorize_manage(id, req, env).await?;
    let split = load_split(id, env).await?;
    let key = personal_data::key(env)?;
    let current = entry(id, pid, &split, env, Some(&key)).await?;
    if current.status == ParticipantStatus::Paid {
        return http::json(200, &current);
    }
    if mark_paid(env, id, pid, current.due, PaidBy::PayeeConfirmed, None).await? {
        crate::receipts::payee_confirmed(env, id, pid).await;
    }
    http::json(200, &entry(id, pid, &split, env, Some(&key)).await?)
}

/// Marks a participant paid, once: a second call (or a race with another confirmation) leaves
/// the first record as it is. Returns whether this call changed anything.
async fn mark_paid(
    env: &Env,
    id: &str,
    pid: &str,
    amount: Fen,
    by: PaidBy,
    out_trade_no: Option<&str>,
) -> Result<bool, ApiError> {
    let now = now_secs();
    let changed = db(env)?
        .prepare(
            "UPDATE participants SET status = 'paid', paid_by = ?3, paid_fen = ?4, paid_at = ?5, out_trade_no = ?6, \
             updated_at = ?5 WHERE id = ?1 AND collection_id = ?2 AND status <> 'paid' RETURNING id",
        )
        .bind(&[
            pid.into(),
            id.into(),
            by.as_str().into(),
            num(amount.get()),
            num(now),
            opt_str(out_trade_no),
        ])?
        .all()
        .await?
        .results::<serde_json::Value>()?;
    Ok(!changed.is_empty())
}

/// Merchant mode: `POST /api/orders` for participant `pid` of split `id`. Checks the
/// participant token (`Authorization: Bearer …`, as every participant action) and answers
/// what they owe now; 409 when they are already paid.
pub async fn due_for_order(id: &str, pid: &str, req: &Request, env: &Env) -> Result<Fen, ApiError> {
    load_own(id, pid, req, env).await?;
    let split = load_split(id, env).await?;
    if split.spec.pay_mode != shoukuan_core::split::PayMode::Merchant {
        return Err(ApiError::Pay(
            409,
            "NOT_MERCHANT",
            "这个接龙使用个人收款码，请长按二维码付款".into(),
        ));
    }
    let current = entry(id, pid, &split, env, None).await?;
    if current.status == ParticipantStatus::Paid {
        return Err(already_paid());
    }
    Ok(current.due)
}

/// Merchant mode: called after a VERIFIED WeChat Pay notification (or active query) moved an
/// order created for participant `pid` of split `id` to paid, with the amount WeChat
/// confirmed. Idempotent.
pub async fn mark_paid_by_verified_payment(
    env: &Env,
    id: &str,
    pid: &str,
    amount: Fen,
    out_trade_no: &str,
) -> Result<bool, ApiError> {
    mark_paid(
        env,
        id,
        pid,
        amount,
        PaidBy::VerifiedPayment,
        Some(out_trade_no),
    )
    .await
}

/// `POST /api/splits/:id/participants/:pid/reject` (manage token): the payee did not receive
/// the money a participant claimed; back to unpaid, with the time of the rejection kept in
/// `claimed_at` so that the participant's page can say what happened.
async fn reject(id: &str, pid: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    collections::authorize_manage(id, req, env).await?;
    let split = load_split(id, env).await?;
    db(env)?
        .prepare(
            "UPDATE participants SET status = 'joined', claimed_at = ?3, updated_at = ?3 \
             WHERE id = ?1 AND collection_id = ?2 AND status = 'claimed'",
        )
        .bind(&[pid.into(), id.into(), num(now_secs())])?
        .run()
        .await?;
    let key = personal_data::key(env)?;
    http::json(200, &entry(id, pid, &split, env, Some(&key)).await?)
}

fn cst(secs: i64) -> String {
    Deadline::from_unix(secs).to_cst_string()
}

/// The participants as CSV rows (with a header), for the export.
pub fn csv_of(view: &SplitView) -> String {
    let mut csv = Csv::new();
    csv.row(&[
        "序号",
        "姓名",
        "手机号",
        "项目",
        "应付金额（元）",
        "状态",
        "确认方式",
        "报名时间",
        "确认付款时间",
    ]);
    for p in &view.participants {
        csv.row(&[
            p.seq.to_string(),
            p.name.clone(),
            p.phone.clone().unwrap_or_default(),
            picks_label(&view.spec.mode, &p.picks),
            p.due.to_yuan_string(),
            p.status.label().to_owned(),
            match p.paid_by {
                Some(PaidBy::PayeeConfirmed) => "收款人确认".to_owned(),
                Some(PaidBy::VerifiedPayment) => "微信支付".to_owned(),
                None => String::new(),
            },
            cst(p.joined_at),
            p.paid_at.map(cst).unwrap_or_default(),
        ]);
    }
    csv.row(&[
        "合计".to_owned(),
        format!("{} 人", view.progress.joined),
        String::new(),
        String::new(),
        view.participants
            .iter()
            .fold(Fen::ZERO, |s, p| s.checked_add(p.due).unwrap_or(s))
            .to_yuan_string(),
        format!("已付 {} 人", view.progress.paid),
        String::new(),
        String::new(),
        format!("已收 {}", view.progress.collected.to_yuan_string()),
    ]);
    csv.finish()
}

async fn admin_view(id: &str, req: &Request, env: &Env) -> Result<SplitView, ApiError> {
    collections::authorize_manage(id, req, env).await?;
    let split = load_split(id, env).await?;
    let key = personal_data::key(env)?;
    build_view(id, &split, env, Some(&key), now_secs()).await
}

fn attachment(resp: &mut Response, content_type: &str, filename: &str) -> Result<(), ApiError> {
    let headers = resp.headers_mut();
    headers.set("content-type", content_type)?;
    headers.set(
        "content-disposition",
        &format!(
            "attachment; filename=\"split.{ext}\"; filename*=UTF-8''{}",
            shoukuan_core::urlenc::encode_component(filename),
            ext = filename.rsplit('.').next().unwrap_or("txt"),
        ),
    )?;
    Ok(())
}

/// `GET /api/splits/:id/export.csv` (manage token): UTF-8 with BOM.
async fn export_csv(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let view = admin_view(id, req, env).await?;
    let mut resp = Response::from_bytes(csv_of(&view).into_bytes())?;
    attachment(
        &mut resp,
        "text/csv; charset=utf-8",
        &format!("{}.csv", view.collection.title),
    )?;
    Ok(resp)
}

/// `GET /api/splits/:id/export.json` (manage token): the payee's view, for ERP sync (amounts
/// in fen, times in Unix seconds).
async fn export_json(id: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    let view = admin_view(id, req, env).await?;
    let mut resp = http::json(200, &view)?;
    attachment(
        &mut resp,
        "application/json; charset=utf-8",
        &format!("{}.json", view.collection.title),
    )?;
    Ok(resp)
}

/// Participants a reminder may go to now: unpaid, signed up through the Official Account, not
/// reminded in the last `every` seconds — only those of `among` (participant ids) when given
/// (a tag's reminder, `growth::tags`). Each is claimed (reminded_at set) atomically before
/// anything is sent, so two payees' clicks cannot send twice.
pub async fn claim_reminders(
    env: &Env,
    id: &str,
    among: Option<&[String]>,
    now: i64,
    every: i64,
) -> Result<Vec<(String, String)>, ApiError> {
    #[derive(Deserialize)]
    struct Due {
        id: String,
        openid_sealed: String,
    }
    let rows = db(env)?
        .prepare(
            "UPDATE participants SET reminded_at = ?2 WHERE collection_id = ?1 AND status <> 'paid' \
             AND openid_sealed IS NOT NULL AND (reminded_at IS NULL OR reminded_at <= ?3) \
             AND (?4 IS NULL OR id IN (SELECT value FROM json_each(?4))) RETURNING id, openid_sealed",
        )
        .bind(&[
            id.into(),
            num(now),
            num(now - every),
            among.map_or(JsValue::NULL, |a| {
                serde_json::Value::from(a.to_vec()).to_string().into()
            }),
        ])?
        .all()
        .await?
        .results::<Due>()?;
    let key = personal_data::key(env)?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.id,
                personal_data::open(&key, column::OPENID, &r.openid_sealed)?,
            ))
        })
        .collect()
}

/// The split's public view and deadline for a reminder message.
pub async fn reminder_context(
    id: &str,
    env: &Env,
) -> Result<(CollectionView, Option<Deadline>, bool), ApiError> {
    let split = load_split(id, env).await?;
    let collection = collections::find_view(id, env)
        .await?
        .ok_or(ApiError::NotFound)?;
    let over = split.deadline_over(now_secs());
    Ok((collection, split.spec.deadline, over))
}
