//! Directed requests (定向催收, `core::directed`) on the split machinery, and transfer
//! screenshots (转账凭证) for 我已付款:
//! - `POST /api/directed`: publishes the request through the one publish path
//!   (`collections::create`, same access rules, lint and limits) as an itemized split with a line
//!   per debtor, then makes each debtor's sign-up with their line; answers each debtor's
//!   personal link (their participant token in the fragment) — shown once;
//! - `POST /api/splits/:id/participants/:pid/proof` (participant token): a JPG, PNG or WebP
//!   screenshot (type checked by its first bytes, size capped); anything else is refused
//!   with a clear message and nothing is stored. Stored in R2 under `proofs/…`, a name the
//!   public image route (`/i/:key`) never serves;
//! - `GET /api/splits/:id/participants/:pid/proof` (manage token): the payee sees it.

use serde::{Deserialize, Serialize};
use shoukuan_core::collection::Created;
use shoukuan_core::directed::{as_split, picks_of, proof_type, NewDirected, MAX_PROOF_BYTES};
use shoukuan_core::publish::PublishBody;
use worker::wasm_bindgen::JsValue;
use worker::{Env, Headers, HttpMetadata, Method, Request, RequestInit, Response};

use crate::error::ApiError;
use crate::http::{self, num};
use crate::personal_data::{self, column};
use crate::routes::DirectedRoute;
use crate::secrets;
use crate::session::now_secs;
use crate::wechat::random_alnum;

/// Answers one of the [`DirectedRoute`]s.
pub async fn handle(route: DirectedRoute, req: Request, env: &Env) -> Result<Response, ApiError> {
    match route {
        DirectedRoute::Create => create(req, env).await,
        DirectedRoute::UploadProof(id, pid) => upload_proof(&id, &pid, req, env).await,
        DirectedRoute::GetProof(id, pid) => get_proof(&id, &pid, &req, env).await,
    }
}

/// One debtor's personal link, as answered once to the payee.
#[derive(Serialize)]
struct DebtorLink {
    participant_id: String,
    name: String,
    amount_fen: i64,
    due: Option<String>,
    /// `/c/:id#p=<participant id>&t=<participant token>`.
    link: String,
    /// The participant token (for the API: `Authorization: Bearer …`).
    token: String,
}

/// `POST /api/directed`
async fn create(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let body: NewDirected = http::read_json(&mut req).await?;
    let now = now_secs();
    let debtors = body.debtors(now).map_err(ApiError::Invalid)?;
    let publish = PublishBody {
        collection: body.collection.clone(),
        kind: Some(shoukuan_core::collection::Kind::Split),
        split: Some(as_split(&debtors)),
        product: None,
        replace_pay_code: false,
    };
    // The one publish path: the same request (its cookies, invite code, client address), with
    // the split as its body.
    let headers = Headers::new();
    for (name, value) in req.headers().entries() {
        if name != "content-length" {
            headers.set(&name, &value)?;
        }
    }
    headers.set("content-type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(
            serde_json::to_string(&publish)
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .into(),
        ));
    let inner = Request::new_with_init(req.url()?.as_str(), &init)?;
    let mut published = crate::collections::create(inner, env).await?;
    if published.status_code() != 201 {
        return Ok(published);
    }
    let created: Created = published.json().await?;
    let id = created.id.clone();
    let key = personal_data::key(env)?;
    let db = env.d1("DB")?;
    let mut statements = Vec::new();
    let mut links = Vec::new();
    for (i, debtor) in debtors.iter().enumerate() {
        let pid = secrets::new_public_id()?;
        let token = secrets::new_token()?;
        let picks =
            serde_json::to_string(&picks_of(i)).map_err(|e| ApiError::Internal(e.to_string()))?;
        statements.push(
            db.prepare(
                "INSERT INTO participants (id, collection_id, seq, name_masked, name_sealed, picks, token_hash, \
                 status, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'joined', ?8, ?8)",
            )
            .bind(&[
                pid.as_str().into(),
                id.as_str().into(),
                num(i as i64 + 1),
                debtor.name.masked().into(),
                personal_data::seal(&key, column::NAME, debtor.name.as_str())?.into(),
                picks.into(),
                secrets::token_hash(&token).into(),
                num(now),
            ])?,
        );
        statements.push(
            db.prepare(
                "INSERT INTO directed_debts (participant_id, collection_id, due_at) VALUES (?1, ?2, ?3)",
            )
            .bind(&[
                pid.as_str().into(),
                id.as_str().into(),
                debtor.due.map_or(JsValue::NULL, |d| num(d.unix())),
            ])?,
        );
        links.push(DebtorLink {
            link: format!("/c/{id}#p={pid}&t={token}"),
            participant_id: pid,
            name: debtor.name.as_str().to_owned(),
            amount_fen: debtor.amount.get(),
            due: debtor.due.map(|d| d.to_cst_string()),
            token,
        });
    }
    db.batch(statements).await?;
    http::json(
        201,
        &serde_json::json!({
            "id": id,
            "path": created.path,
            "manage_path": created.manage_path,
            "manage_token": created.manage_token,
            "admin_path": format!("/admin/{id}#t={}", created.manage_token),
            "debtors": links,
        }),
    )
}

fn refused_proof() -> ApiError {
    ApiError::Pay(
        415,
        "INVALID_PROOF",
        "转账凭证只能是 JPG、PNG 或 WebP 格式的截图，请重新选择".into(),
    )
}

fn proof_too_large() -> ApiError {
    ApiError::Pay(
        413,
        "IMAGE_TOO_LARGE",
        "转账截图不能超过 1.5 MB，请换一张或重新截图".into(),
    )
}

/// `POST /api/splits/:id/participants/:pid/proof` (participant token), the image as the body.
async fn upload_proof(
    id: &str,
    pid: &str,
    mut req: Request,
    env: &Env,
) -> Result<Response, ApiError> {
    crate::splits::authorize_participant(id, pid, &req, env).await?;
    let declared = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    Proof::check_length(&req, 0)?;
    let proof = Proof::check(&declared, req.bytes().await?)?;
    let (size, content_type) = (proof.bytes.len(), proof.content_type);
    proof.store(id, pid, env).await?;
    http::json(
        201,
        &serde_json::json!({ "stored": true, "bytes": size, "content_type": content_type }),
    )
}

/// A transfer screenshot whose size and type (declared, and by its first bytes) were checked.
pub struct Proof {
    bytes: Vec<u8>,
    content_type: &'static str,
}

impl Proof {
    /// Refuses a request whose declared length is more than a screenshot plus `overhead` bytes
    /// (a form's boundaries and headers) before its body is read.
    pub fn check_length(req: &Request, overhead: usize) -> Result<(), ApiError> {
        if crate::http::declares_more_than(req, MAX_PROOF_BYTES + overhead) {
            return Err(proof_too_large());
        }
        Ok(())
    }

    /// Checks an upload: at most [`MAX_PROOF_BYTES`], a JPG, PNG or WebP by its first bytes
    /// (415 `INVALID_PROOF`, 413 `IMAGE_TOO_LARGE`, both with a Chinese message).
    pub fn check(declared: &str, bytes: Vec<u8>) -> Result<Self, ApiError> {
        if bytes.len() > MAX_PROOF_BYTES {
            return Err(proof_too_large());
        }
        let content_type = proof_type(declared, &bytes).ok_or_else(refused_proof)?;
        Ok(Self {
            bytes,
            content_type,
        })
    }

    /// Keeps it in R2 under `proofs/…` and records it for participant `pid` of split `id`.
    pub async fn store(self, id: &str, pid: &str, env: &Env) -> Result<(), ApiError> {
        let key = format!("proofs/{id}/{pid}/{}", random_alnum(24)?);
        let size = self.bytes.len();
        env.bucket("IMAGES")?
            .put(&key, self.bytes)
            .http_metadata(HttpMetadata {
                content_type: Some(self.content_type.to_owned()),
                ..HttpMetadata::default()
            })
            .execute()
            .await?;
        env.d1("DB")?
            .prepare(
                "INSERT INTO claim_proofs (participant_id, collection_id, r2_key, content_type, bytes, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .bind(&[
                pid.into(),
                id.into(),
                key.as_str().into(),
                self.content_type.into(),
                num(size as i64),
                num(now_secs()),
            ])?
            .run()
            .await?;
        Ok(())
    }
}

/// `GET /api/splits/:id/participants/:pid/proof` (manage token): the latest screenshot.
async fn get_proof(id: &str, pid: &str, req: &Request, env: &Env) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    struct Proof {
        r2_key: String,
        content_type: String,
    }
    crate::collections::authorize_manage(id, req, env).await?;
    let proof = env
        .d1("DB")?
        .prepare(
            "SELECT r2_key, content_type FROM claim_proofs WHERE participant_id = ?1 AND collection_id = ?2 \
             ORDER BY created_at DESC, id DESC LIMIT 1",
        )
        .bind(&[pid.into(), id.into()])?
        .first::<Proof>(None)
        .await?
        .ok_or(ApiError::Missing("转账凭证"))?;
    let object = env
        .bucket("IMAGES")?
        .get(&proof.r2_key)
        .execute()
        .await?
        .ok_or(ApiError::Missing("转账凭证"))?;
    let bytes = object
        .body()
        .ok_or(ApiError::Missing("转账凭证"))?
        .bytes()
        .await?;
    let mut resp = Response::from_bytes(bytes)?;
    let headers = resp.headers_mut();
    headers.set("content-type", &proof.content_type)?;
    headers.set("cache-control", "private, no-store")?;
    Ok(resp)
}
