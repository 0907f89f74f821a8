//! WeChat's side of sharing (PROTOCOL-2 §2.2–2.4): our request numbers, the share-order and
//! return answers, what a receiver's `result` / `fail_reason` means, and which refusals are
//! retried with the same number (`SYSTEM_ERROR`, rate limits, 订单处理中) and which are final.

use serde::{Deserialize, Serialize};

use crate::money::Fen;

/// A share request or an unfreeze (each has its own number: reusing a share's number for an
/// unfreeze "succeeds" without unfreezing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// `POST /v3/profitsharing/orders` with `unfreeze_unsplit = true`.
    Share,
    /// `POST /v3/profitsharing/orders/unfreeze`.
    Unfreeze,
}

impl JobKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Share => "share",
            JobKind::Unfreeze => "unfreeze",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<JobKind> {
        [JobKind::Share, JobKind::Unfreeze]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

fn safe(order_id: &str) -> String {
    order_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(40)
        .collect()
}

/// `out_order_no` of an order's share or unfreeze, attempt `attempt` (≤ 64 characters of
/// `[0-9A-Za-z_-|*@]`; the same attempt always gets the same number, so a retry is the same
/// request at WeChat).
pub fn out_order_no(order_id: &str, kind: JobKind, attempt: u32) -> String {
    let k = match kind {
        JobKind::Share => 'S',
        JobKind::Unfreeze => 'U',
    };
    format!("PS{}{k}{attempt}", safe(order_id))
}

/// `out_return_no` of an order's `n`-th return.
pub fn out_return_no(order_id: &str, n: u32) -> String {
    format!("PR{}R{n}", safe(order_id))
}

/// A receiver's outcome in a share order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReceiverResult {
    /// Not final yet.
    #[serde(rename = "PENDING")]
    Pending,
    /// Paid to the receiver.
    #[serde(rename = "SUCCESS")]
    Success,
    /// Failed: the money stays frozen with the sharer (see `fail_reason`).
    #[serde(rename = "CLOSED")]
    Closed,
}

impl ReceiverResult {
    /// WeChat's name (also stored).
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiverResult::Pending => "PENDING",
            ReceiverResult::Success => "SUCCESS",
            ReceiverResult::Closed => "CLOSED",
        }
    }

    /// Parses WeChat's name.
    pub fn parse(s: &str) -> Option<ReceiverResult> {
        [
            ReceiverResult::Pending,
            ReceiverResult::Success,
            ReceiverResult::Closed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// One receiver line of a share-order answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReceiverLine {
    /// Fen.
    pub amount: i64,
    /// `MERCHANT_ID` | `PERSONAL_OPENID` | …
    #[serde(rename = "type")]
    pub kind: String,
    /// mchid or openid.
    pub account: String,
    /// `PENDING` | `SUCCESS` | `CLOSED`.
    pub result: ReceiverResult,
    /// Why CLOSED.
    #[serde(default)]
    pub fail_reason: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub finish_time: Option<String>,
}

/// The answer of a share, an unfreeze or their query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ShareOrder {
    /// Ours.
    pub out_order_no: String,
    /// WeChat's.
    #[serde(default)]
    pub order_id: String,
    /// `PROCESSING` | `FINISHED`.
    pub state: String,
    /// Per receiver (an unfreeze lists the sharer itself).
    #[serde(default)]
    pub receivers: Vec<ReceiverLine>,
}

impl ShareOrder {
    /// Done: FINISHED and no receiver pending.
    pub fn is_final(&self) -> bool {
        self.state == "FINISHED"
            && self
                .receivers
                .iter()
                .all(|r| r.result != ReceiverResult::Pending)
    }

    /// The line of one receiver.
    pub fn line(&self, kind: &str, account: &str) -> Option<&ReceiverLine> {
        self.receivers
            .iter()
            .find(|r| r.kind == kind && r.account == account)
    }
}

/// The answer of `POST /v3/profitsharing/return-orders` and its query.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReturnOrder {
    /// Ours.
    pub out_return_no: String,
    /// WeChat's.
    #[serde(default)]
    pub return_id: String,
    /// Fen.
    pub amount: i64,
    /// `PROCESSING` | `SUCCESS` | `FAILED`.
    pub result: String,
    /// Why FAILED.
    #[serde(default)]
    pub fail_reason: Option<String>,
}

/// What to do after WeChat refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRefusal {
    /// Transient: ask again later with the same number.
    Retry,
    /// Final: this request will not succeed.
    GiveUp,
}

/// WeChat's guidance: 5xx / `SYSTEM_ERROR` / rate limits / "订单处理中，请稍后重试" are
/// retried with the same number; everything else (`INVALID_REQUEST`, `NO_AUTH`,
/// `NOT_ENOUGH`, `PARAM_ERROR`, …) is final.
pub fn after_refusal(status: u16, code: &str, message: &str) -> AfterRefusal {
    let transient = status >= 500
        || matches!(
            code,
            "SYSTEM_ERROR" | "RATELIMIT_EXCEED" | "FREQUENCY_LIMITED" | "ORDER_PROCESSING"
        )
        || message.contains("处理中");
    if transient {
        AfterRefusal::Retry
    } else {
        AfterRefusal::GiveUp
    }
}

/// A job is given up after this many tries (about a day with [`backoff_secs`]).
pub const MAX_ATTEMPTS: i64 = 30;

/// Seconds before the next try after `attempts` failed ones: 1, 2, 5, 10, 30, then 60 minutes.
pub fn backoff_secs(attempts: i64) -> i64 {
    const STEPS: [i64; 6] = [60, 120, 300, 600, 1800, 3600];
    let i = usize::try_from(attempts.max(1) - 1).unwrap_or(0);
    STEPS[i.min(STEPS.len() - 1)]
}

/// WeChat does not allow sharing sooner than this after payment (PROTOCOL-2 §2).
pub const MIN_SECS_AFTER_PAYMENT: i64 = 60;

/// What a receiver's `fail_reason` means, for the payee.
pub fn fail_reason_label(reason: &str) -> &'static str {
    match reason {
        "ACCOUNT_ABNORMAL" => "接收方账户异常",
        "NO_RELATION" => "分账关系已解除",
        "RECEIVER_HIGH_RISK" => "接收方存在风险",
        "RECEIVER_REAL_NAME_NOT_VERIFIED" => "接收方未实名",
        "NO_AUTH" => "分账权限已解除",
        "RECEIVER_RECEIPT_LIMIT" => "接收方已达本月收款上限",
        "PAYER_ACCOUNT_ABNORMAL" => "分出方账户异常",
        "INVALID_REQUEST" => "请求被拒（如分账说明含敏感词）",
        "BALANCE_NOT_ENOUGH" => "接收方余额不足",
        "TIME_OUT_CLOSED" => "处理超时已关闭",
        _ => "分账失败",
    }
}

/// The amount WeChat reports in an answer, as fen.
pub fn fen(amount: i64) -> Fen {
    Fen::new(amount.max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_stable_per_attempt_and_within_wechats_alphabet() {
        let a = out_order_no("Ab3xYz9KmN2p", JobKind::Share, 1);
        assert_eq!(a, out_order_no("Ab3xYz9KmN2p", JobKind::Share, 1));
        assert_ne!(a, out_order_no("Ab3xYz9KmN2p", JobKind::Unfreeze, 1));
        assert_ne!(a, out_order_no("Ab3xYz9KmN2p", JobKind::Share, 2));
        let long = out_order_no(&"x".repeat(100), JobKind::Unfreeze, 99);
        assert!(long.len() <= 64);
        assert!(out_return_no("a-b/c", 3)
            .chars()
            .all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn transient_refusals_are_retried_and_final_ones_are_not() {
        assert_eq!(after_refusal(500, "SYSTEM_ERROR", ""), AfterRefusal::Retry);
        assert_eq!(
            after_refusal(400, "INVALID_REQUEST", "订单处理中，请稍后重试"),
            AfterRefusal::Retry
        );
        assert_eq!(
            after_refusal(429, "RATELIMIT_EXCEED", ""),
            AfterRefusal::Retry
        );
        assert_eq!(
            after_refusal(400, "INVALID_REQUEST", "分账金额超出最大分账比例"),
            AfterRefusal::GiveUp
        );
        assert_eq!(after_refusal(403, "NO_AUTH", ""), AfterRefusal::GiveUp);
        assert_eq!(after_refusal(403, "NOT_ENOUGH", ""), AfterRefusal::GiveUp);
    }

    #[test]
    fn backoff_grows_to_an_hour() {
        assert_eq!(backoff_secs(1), 60);
        assert_eq!(backoff_secs(3), 300);
        assert_eq!(backoff_secs(50), 3600);
    }

    #[test]
    fn a_share_order_is_final_when_finished_with_no_pending_receiver() {
        let answer: ShareOrder = serde_json::from_str(
            r#"{"transaction_id":"42","out_order_no":"PSaS1","order_id":"30","state":"FINISHED",
                "receivers":[{"amount":100,"description":"平台服务费","type":"MERCHANT_ID",
                "account":"1900000109","result":"SUCCESS","detail_id":"36","create_time":"2026-11-29T10:00:00+08:00",
                "finish_time":"2026-11-29T10:00:02+08:00"},
                {"amount":5,"description":"x","type":"PERSONAL_OPENID","account":"o1","result":"CLOSED",
                "fail_reason":"NO_RELATION"}]}"#,
        )
        .unwrap();
        assert!(answer.is_final());
        let closed = answer.line("PERSONAL_OPENID", "o1").unwrap();
        assert_eq!(closed.result, ReceiverResult::Closed);
        assert_eq!(
            fail_reason_label(closed.fail_reason.as_deref().unwrap()),
            "分账关系已解除"
        );
        let processing = ShareOrder {
            state: "PROCESSING".into(),
            ..answer
        };
        assert!(!processing.is_final());
    }
}
