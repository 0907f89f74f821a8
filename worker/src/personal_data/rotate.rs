//! `POST /api/operator/data/rotate` (bearer `OPERATOR_SECRET`; `shoukuan data rotate`): one
//! batch of the work that brings stored personal data to the current configuration.
//!
//! 1. Conversion (once, issue 14): rows written before openids were protected — orders'
//!    payers, pushes, scans, visits, channel orders, channel followers, pending follow-ups —
//!    get their keyed hash (and, where the openid is needed back, a sealed copy bound to the
//!    row), and the clear column is emptied; sign-ups' older `openid_key` (a hash under
//!    `DATA_KEY`, which rotates) is recomputed as [`super::openid_key`].
//! 2. Rotation: every sealed column not sealed with the current key version is opened (with
//!    any configured version) and sealed again with the current one.
//!
//! Each step walks its table by `rowid` from a cursor the answer returns, so the command is
//! resumable; every write is conditional on the value it read (`… AND col = old`), so a rerun
//! or a concurrent writer changes nothing twice. A value that does not open (its version is no
//! longer configured, or it was tampered with) is counted under `failed` and left as it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use shoukuan_core::personal_data::{Binding, DataKey};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, Env, Method, Request, Response};

use super::{column, hash_openid, nonce};
use crate::config::secret_setting;
use crate::error::ApiError;
use crate::http::num;

/// The operator's data route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataRoute {
    /// `POST /api/operator/data/rotate`
    Rotate,
}

impl DataRoute {
    /// Matches the paths this family owns.
    pub fn parse(method: &Method, segments: &[&str]) -> Option<DataRoute> {
        match (method, segments) {
            (Method::Post, ["api", "operator", "data", "rotate"]) => Some(DataRoute::Rotate),
            _ => None,
        }
    }
}

/// Rows handled per call unless the caller asks for fewer (D1 batches stay small).
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 500;

/// A sealed column and what its values are bound to.
struct SealedColumn {
    name: &'static str,
    table: &'static str,
    column: &'static str,
    /// The bound column name, and the id column for values bound to their row.
    bound: &'static str,
    row_id: Option<&'static str>,
}

const SEALED: &[SealedColumn] = &[
    SealedColumn {
        name: "participants.name",
        table: "participants",
        column: "name_sealed",
        bound: column::NAME,
        row_id: None,
    },
    SealedColumn {
        name: "participants.phone",
        table: "participants",
        column: "phone_sealed",
        bound: column::PHONE,
        row_id: None,
    },
    SealedColumn {
        name: "participants.openid",
        table: "participants",
        column: "openid_sealed",
        bound: column::OPENID,
        row_id: None,
    },
    SealedColumn {
        name: "share_rules.name",
        table: "share_rules",
        column: "name_sealed",
        bound: crate::pay::sharing::rules::NAME_COLUMN,
        row_id: None,
    },
    SealedColumn {
        name: "share_results.name",
        table: "share_results",
        column: "name_sealed",
        bound: crate::pay::sharing::rules::NAME_COLUMN,
        row_id: None,
    },
    SealedColumn {
        name: "receipts.sealed",
        table: "receipts",
        column: "sealed",
        bound: crate::receipts::SEALED_COLUMN,
        row_id: None,
    },
    SealedColumn {
        name: "webhook_endpoints.secret",
        table: "webhook_endpoints",
        column: "secret_sealed",
        bound: crate::webhooks::SECRET_COLUMN,
        row_id: None,
    },
    SealedColumn {
        name: "orders.payer",
        table: "orders",
        column: "payer_sealed",
        bound: column::ORDER_PAYER,
        row_id: Some("id"),
    },
    SealedColumn {
        name: "oa_followups.openid",
        table: "oa_followups",
        column: "openid_sealed",
        bound: column::FOLLOWUP_OPENID,
        row_id: Some("order_id"),
    },
    SealedColumn {
        name: "product_contacts.name",
        table: "product_contacts",
        column: "name_sealed",
        bound: column::CONTACT_NAME,
        row_id: Some("id"),
    },
    SealedColumn {
        name: "product_contacts.phone",
        table: "product_contacts",
        column: "phone_sealed",
        bound: column::CONTACT_PHONE,
        row_id: Some("id"),
    },
    SealedColumn {
        name: "product_contacts.address",
        table: "product_contacts",
        column: "address_sealed",
        bound: column::CONTACT_ADDRESS,
        row_id: Some("id"),
    },
    SealedColumn {
        name: "product_contacts.note",
        table: "product_contacts",
        column: "note_sealed",
        bound: column::CONTACT_NOTE,
        row_id: Some("id"),
    },
];

/// The conversion steps, then one rotation step per sealed column.
const CONVERSIONS: [&str; 4] = [
    "convert:orders.payer",
    "convert:followers",
    "convert:oa_followups",
    "rehash:participants.openid_key",
];

fn step_count() -> usize {
    CONVERSIONS.len() + SEALED.len()
}

fn step_name(step: usize) -> &'static str {
    match step.checked_sub(CONVERSIONS.len()) {
        None => CONVERSIONS[step],
        Some(i) => SEALED[i].name,
    }
}

#[derive(Deserialize, Default)]
struct Ask {
    #[serde(default)]
    step: usize,
    #[serde(default)]
    after: i64,
    limit: Option<u32>,
}

#[derive(Serialize)]
struct Answer {
    /// Everything is converted and sealed with the current key version.
    done: bool,
    /// Where the next call starts (send it back as is).
    step: usize,
    after: i64,
    key_version: u32,
    /// Rows converted or resealed in this call, by step.
    changed: BTreeMap<&'static str, u32>,
    /// Values that did not open, by step (left unchanged).
    failed: BTreeMap<&'static str, u32>,
}

/// What one step did: how far it got and whether the table is finished.
struct Progress {
    last_rowid: i64,
    seen: u32,
    changed: u32,
    failed: u32,
}

/// `POST /api/operator/data/rotate` `{step?, after?, limit?}`.
pub async fn handle(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    crate::session::require_operator(&req, env)?;
    let text = req.text().await.unwrap_or_default();
    let ask: Ask = if text.trim().is_empty() {
        Ask::default()
    } else {
        serde_json::from_str(&text).map_err(|e| ApiError::BadJson(e.to_string()))?
    };
    if ask.step > step_count() {
        return Err(ApiError::BadJson(format!(
            "step 超出范围（0–{}）",
            step_count()
        )));
    }
    let limit = ask.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let key = super::key(env)?;
    let secret = secret_setting(env, "SESSION_SECRET").ok_or(ApiError::Unavailable(
        "SESSION_SECRET_MISSING",
        "服务未配置会话密钥（SESSION_SECRET）",
    ))?;
    let db = env.d1("DB")?;
    let mut answer = Answer {
        done: false,
        step: ask.step,
        after: ask.after,
        key_version: key.current_version(),
        changed: BTreeMap::new(),
        failed: BTreeMap::new(),
    };
    let mut budget = limit;
    while budget > 0 && answer.step < step_count() {
        let work = Work {
            db: &db,
            key: &key,
            secret: secret.expose(),
            after: answer.after,
            limit: budget,
        };
        let progress = work.step(answer.step).await?;
        let name = step_name(answer.step);
        if progress.changed > 0 {
            *answer.changed.entry(name).or_default() += progress.changed;
        }
        if progress.failed > 0 {
            *answer.failed.entry(name).or_default() += progress.failed;
        }
        budget = budget.saturating_sub(progress.seen.max(1));
        if progress.seen < work.limit {
            answer.step += 1;
            answer.after = 0;
        } else {
            answer.after = progress.last_rowid;
        }
    }
    answer.done = answer.step >= step_count();
    crate::http::json(200, &answer)
}

struct Work<'a> {
    db: &'a D1Database,
    key: &'a DataKey,
    secret: &'a str,
    after: i64,
    limit: u32,
}

#[derive(Deserialize)]
struct ClearPayer {
    r: i64,
    id: String,
    payer_openid: String,
}

#[derive(Deserialize)]
struct Follower {
    openid: String,
}

#[derive(Deserialize)]
struct ClearFollowup {
    order_id: String,
    openid: String,
    asked_at: i64,
}

#[derive(Deserialize)]
struct SealedRow {
    r: i64,
    id: Option<String>,
    sealed: String,
}

impl Work<'_> {
    async fn step(&self, step: usize) -> Result<Progress, ApiError> {
        match step {
            0 => self.orders().await,
            1 => self.followers().await,
            2 => self.followups().await,
            3 => self.sign_ups().await,
            _ => self.reseal(&SEALED[step - CONVERSIONS.len()]).await,
        }
    }

    fn progress(&self, rowids: impl Iterator<Item = i64>, seen: usize) -> Progress {
        Progress {
            last_rowid: rowids.max().unwrap_or(self.after),
            seen: seen as u32,
            changed: 0,
            failed: 0,
        }
    }

    async fn run(&self, statements: Vec<worker::D1PreparedStatement>) -> Result<u32, ApiError> {
        let n = statements.len() as u32;
        if n > 0 {
            self.db.batch(statements).await?;
        }
        Ok(n)
    }

    fn seal_row(&self, column: &str, row: &str, plaintext: &str) -> Result<String, ApiError> {
        Ok(self
            .key
            .seal_bound(Binding::Row(column, row), nonce()?, plaintext))
    }

    /// Orders' clear payer → `payer_hash` + `payer_sealed` (bound to the order).
    async fn orders(&self) -> Result<Progress, ApiError> {
        let rows = self
            .db
            .prepare(
                "SELECT rowid AS r, id, payer_openid FROM orders \
                 WHERE payer_openid IS NOT NULL AND rowid > ?1 ORDER BY rowid LIMIT ?2",
            )
            .bind(&[num(self.after), num(self.limit.into())])?
            .all()
            .await?
            .results::<ClearPayer>()?;
        let mut progress = self.progress(rows.iter().map(|r| r.r), rows.len());
        let mut statements = Vec::with_capacity(rows.len());
        for row in &rows {
            let sealed = self.seal_row(column::ORDER_PAYER, &row.id, &row.payer_openid)?;
            statements.push(
                self.db
                    .prepare(
                        "UPDATE orders SET payer_hash = COALESCE(payer_hash, ?2), \
                         payer_sealed = COALESCE(payer_sealed, ?3), payer_openid = NULL \
                         WHERE rowid = ?1 AND payer_openid = ?4",
                    )
                    .bind(&[
                        num(row.r),
                        hash_openid(self.secret, &row.payer_openid).into(),
                        sealed.into(),
                        row.payer_openid.as_str().into(),
                    ])?,
            );
        }
        progress.changed = self.run(statements).await?;
        Ok(progress)
    }

    /// Every clear follower openid on pushes, scans, visits, channel orders and channel
    /// followers → its hash, one openid (all its rows) at a time. Converted rows leave the
    /// selection, so no cursor is needed.
    async fn followers(&self) -> Result<Progress, ApiError> {
        let rows = self
            .db
            .prepare(
                "SELECT openid FROM ( \
                   SELECT openid FROM mp_pushes WHERE openid IS NOT NULL \
                   UNION SELECT openid FROM channel_scans WHERE openid IS NOT NULL \
                   UNION SELECT openid FROM visits WHERE openid IS NOT NULL \
                   UNION SELECT openid FROM channel_orders WHERE openid IS NOT NULL \
                   UNION SELECT openid FROM openid_channels WHERE openid IS NOT NULL \
                 ) LIMIT ?1",
            )
            .bind(&[num(self.limit.into())])?
            .all()
            .await?
            .results::<Follower>()?;
        let mut progress = self.progress(std::iter::empty(), rows.len());
        let mut statements = Vec::new();
        for row in &rows {
            let ids: [JsValue; 2] = [
                row.openid.as_str().into(),
                hash_openid(self.secret, &row.openid).into(),
            ];
            for sql in [
                // The event key names the openid ("evt:<openid>:<time>:<event>"); the stored
                // reply's ToUserName too — those pushes are past WeChat's retries: dropped.
                "UPDATE mp_pushes SET openid_key = ?2, openid = NULL, reply = NULL, \
                 dedup_key = replace(dedup_key, ?1, ?2) WHERE openid = ?1",
                "UPDATE channel_scans SET openid_key = ?2, openid = NULL WHERE openid = ?1",
                "UPDATE visits SET openid_key = ?2, openid = NULL WHERE openid = ?1",
                "UPDATE channel_orders SET openid_key = ?2, openid = NULL WHERE openid = ?1",
                "INSERT INTO channel_followers (openid_key, channel_id, scanned_at) \
                 SELECT ?2, channel_id, scanned_at FROM openid_channels WHERE openid = ?1 \
                 ON CONFLICT (openid_key) DO UPDATE SET channel_id = excluded.channel_id, \
                 scanned_at = excluded.scanned_at WHERE excluded.scanned_at > scanned_at",
            ] {
                statements.push(self.db.prepare(sql).bind(&ids)?);
            }
            statements.push(
                self.db
                    .prepare("DELETE FROM openid_channels WHERE openid = ?1")
                    .bind(&ids[..1])?,
            );
        }
        self.run(statements).await?;
        progress.changed = rows.len() as u32;
        Ok(progress)
    }

    /// Pending follow-ups of the old table → sealed to their order in the new one.
    async fn followups(&self) -> Result<Progress, ApiError> {
        let rows = self
            .db
            .prepare("SELECT order_id, openid, asked_at FROM oa_followups_clear LIMIT ?1")
            .bind(&[num(self.limit.into())])?
            .all()
            .await?
            .results::<ClearFollowup>()?;
        let mut progress = self.progress(std::iter::empty(), rows.len());
        let mut statements = Vec::new();
        for row in &rows {
            let sealed = self.seal_row(column::FOLLOWUP_OPENID, &row.order_id, &row.openid)?;
            statements.push(
                self.db
                    .prepare(
                        "INSERT INTO oa_followups (order_id, openid_key, openid_sealed, asked_at) \
                         VALUES (?1, ?2, ?3, ?4) ON CONFLICT (order_id) DO NOTHING",
                    )
                    .bind(&[
                        row.order_id.as_str().into(),
                        hash_openid(self.secret, &row.openid).into(),
                        sealed.into(),
                        num(row.asked_at),
                    ])?,
            );
            statements.push(
                self.db
                    .prepare("DELETE FROM oa_followups_clear WHERE order_id = ?1")
                    .bind(&[row.order_id.as_str().into()])?,
            );
        }
        self.run(statements).await?;
        progress.changed = rows.len() as u32;
        Ok(progress)
    }

    /// Sign-ups findable by openid under the older hash (64 hex digits, keyed by `DATA_KEY`)
    /// → [`super::openid_key`] of their sealed openid.
    async fn sign_ups(&self) -> Result<Progress, ApiError> {
        let rows = self
            .db
            .prepare(
                "SELECT rowid AS r, id, openid_sealed AS sealed FROM participants \
                 WHERE openid_sealed IS NOT NULL AND length(openid_key) = 64 AND rowid > ?1 \
                 ORDER BY rowid LIMIT ?2",
            )
            .bind(&[num(self.after), num(self.limit.into())])?
            .all()
            .await?
            .results::<SealedRow>()?;
        let mut progress = self.progress(rows.iter().map(|r| r.r), rows.len());
        let mut statements = Vec::new();
        for row in &rows {
            match self.key.open(column::OPENID, &row.sealed) {
                Ok(openid) => statements.push(
                    self.db
                        .prepare(
                            "UPDATE participants SET openid_key = ?2 \
                             WHERE rowid = ?1 AND length(openid_key) = 64",
                        )
                        .bind(&[num(row.r), hash_openid(self.secret, &openid).into()])?,
                ),
                Err(e) => {
                    worker::console_error!("sign-up {:?}: {e}", row.id);
                    progress.failed += 1;
                }
            }
        }
        progress.changed = self.run(statements).await?;
        Ok(progress)
    }

    /// Values of `col` not sealed with the current version → sealed with it.
    async fn reseal(&self, col: &SealedColumn) -> Result<Progress, ApiError> {
        let id = col.row_id.unwrap_or("NULL");
        let current = format!("v{}.%", self.key.current_version());
        let rows = self
            .db
            .prepare(format!(
                "SELECT rowid AS r, {id} AS id, {c} AS sealed FROM {t} \
                 WHERE {c} IS NOT NULL AND {c} NOT LIKE ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3",
                c = col.column,
                t = col.table,
            ))
            .bind(&[current.into(), num(self.after), num(self.limit.into())])?
            .all()
            .await?
            .results::<SealedRow>()?;
        let mut progress = self.progress(rows.iter().map(|r| r.r), rows.len());
        let mut statements = Vec::new();
        for row in &rows {
            let binding = match (&col.row_id, &row.id) {
                (Some(_), Some(id)) => Binding::Row(col.bound, id),
                _ => Binding::Column(col.bound),
            };
            let opened = self.key.open_bound(binding, &row.sealed);
            let plain = match opened {
                Ok(plain) => plain,
                Err(e) => {
                    worker::console_error!("{} row {}: {e}", col.name, row.r);
                    progress.failed += 1;
                    continue;
                }
            };
            let resealed = self.key.seal_bound(binding, nonce()?, &plain);
            statements.push(
                self.db
                    .prepare(format!(
                        "UPDATE {t} SET {c} = ?2 WHERE rowid = ?1 AND {c} = ?3",
                        c = col.column,
                        t = col.table,
                    ))
                    .bind(&[num(row.r), resealed.into(), row.sealed.as_str().into()])?,
            );
        }
        progress.changed = self.run(statements).await?;
        Ok(progress)
    }
}
