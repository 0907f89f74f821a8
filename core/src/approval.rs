//! Approval before refunds: a payee's policy (refunds above a threshold need a chain of 1–3
//! approvers, in order) and the rules of one request's chain. Pure: the worker stores the
//! request and moves it with conditional updates (`worker/src/growth/approval.rs`).

use serde::{Deserialize, Serialize};

use crate::money::Fen;
use crate::session::Openid;

/// Most approvers in a chain.
pub const MAX_APPROVERS: usize = 3;
/// Longest comment of a decision, in characters.
pub const COMMENT_CHARS: usize = 100;

/// Why a policy or a decision is refused; the text is shown to people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    /// Chain length out of 1–3.
    #[error("审批人需要 1–{MAX_APPROVERS} 位")]
    ChainLength,
    /// The same person twice.
    #[error("同一位审批人不能出现两次")]
    Duplicate,
    /// The payee in its own chain.
    #[error("不能把自己设为审批人")]
    SelfApprover,
    /// The threshold is not a positive amount.
    #[error("审批门槛要大于 0")]
    Threshold,
    /// Not this step's approver (or not an approver at all).
    #[error("现在不是由你审批这笔退款")]
    NotYourStep,
    /// The requester approving their own request.
    #[error("不能审批自己提交的退款")]
    OwnRequest,
    /// Already approved, rejected or done.
    #[error("这笔退款申请已经处理完毕")]
    Finished,
    /// Comment too long or with control characters.
    #[error("审批意见最多 {COMMENT_CHARS} 个字")]
    Comment,
}

/// A payee's rule: refunds above `threshold` go through `approvers`, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Refunds strictly above this need approval.
    pub threshold: Fen,
    /// The chain, first to last.
    pub approvers: Vec<Openid>,
}

impl Policy {
    /// Checks a policy of `payee`.
    pub fn new(
        payee: &Openid,
        threshold: Fen,
        approvers: Vec<Openid>,
    ) -> Result<Policy, ApprovalError> {
        if threshold.get() <= 0 {
            return Err(ApprovalError::Threshold);
        }
        if approvers.is_empty() || approvers.len() > MAX_APPROVERS {
            return Err(ApprovalError::ChainLength);
        }
        if approvers.iter().any(|a| a == payee) {
            return Err(ApprovalError::SelfApprover);
        }
        for (i, a) in approvers.iter().enumerate() {
            if approvers[..i].contains(a) {
                return Err(ApprovalError::Duplicate);
            }
        }
        Ok(Policy {
            threshold,
            approvers,
        })
    }

    /// Whether a refund of `amount` needs the chain.
    pub fn requires(&self, amount: Fen) -> bool {
        amount > self.threshold
    }
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Go on (or execute after the last step).
    Approve,
    /// End the request.
    Reject,
}

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for the approver of `step`.
    Pending,
    /// Every step approved: the refund goes to WeChat Pay.
    Approved,
    /// A step rejected it: nothing is refunded.
    Rejected,
}

impl Status {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
        }
    }
}

/// What a decision at `step` of a `chain_len` chain leads to: the next step and status.
pub fn after(step: usize, chain_len: usize, decision: Decision) -> (usize, Status) {
    match decision {
        Decision::Reject => (step, Status::Rejected),
        Decision::Approve if step + 1 >= chain_len => (step + 1, Status::Approved),
        Decision::Approve => (step + 1, Status::Pending),
    }
}

/// Checks that `who` may decide `step` of a request by `requester` whose chain is `chain`
/// while it is `status`.
pub fn may_decide(
    who: &Openid,
    requester: &Openid,
    chain: &[Openid],
    step: usize,
    status: Status,
) -> Result<(), ApprovalError> {
    if status != Status::Pending {
        return Err(ApprovalError::Finished);
    }
    if who == requester {
        return Err(ApprovalError::OwnRequest);
    }
    match chain.get(step) {
        Some(a) if a == who => Ok(()),
        _ => Err(ApprovalError::NotYourStep),
    }
}

/// Checks a decision's comment (may be empty).
pub fn comment(input: &str) -> Result<String, ApprovalError> {
    let t = input.trim();
    if t.chars().count() > COMMENT_CHARS || t.chars().any(char::is_control) {
        return Err(ApprovalError::Comment);
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(s: &str) -> Openid {
        Openid::parse(&format!("o{s}AAAAAAAAAAAAAAAAAAAAAAAAA")).unwrap()
    }

    #[test]
    fn a_policy_has_one_to_three_distinct_others() {
        let me = o("me");
        assert_eq!(
            Policy::new(&me, Fen::new(100), vec![]),
            Err(ApprovalError::ChainLength)
        );
        assert_eq!(
            Policy::new(&me, Fen::new(100), vec![o("a"), o("b"), o("c"), o("d")]),
            Err(ApprovalError::ChainLength)
        );
        assert_eq!(
            Policy::new(&me, Fen::new(100), vec![o("a"), o("a")]),
            Err(ApprovalError::Duplicate)
        );
        assert_eq!(
            Policy::new(&me, Fen::new(100), vec![me.clone()]),
            Err(ApprovalError::SelfApprover)
        );
        assert_eq!(
            Policy::new(&me, Fen::new(0), vec![o("a")]),
            Err(ApprovalError::Threshold)
        );
        let p = Policy::new(&me, Fen::new(5000), vec![o("a"), o("b")]).unwrap();
        assert!(!p.requires(Fen::new(5000)));
        assert!(p.requires(Fen::new(5001)));
    }

    #[test]
    fn the_chain_moves_step_by_step_and_a_rejection_ends_it() {
        assert_eq!(after(0, 2, Decision::Approve), (1, Status::Pending));
        assert_eq!(after(1, 2, Decision::Approve), (2, Status::Approved));
        assert_eq!(after(0, 2, Decision::Reject), (0, Status::Rejected));
        assert_eq!(after(0, 1, Decision::Approve), (1, Status::Approved));
    }

    #[test]
    fn only_this_steps_approver_decides_never_the_requester_and_never_twice() {
        let (req, a, b) = (o("req"), o("a"), o("b"));
        let chain = [a.clone(), b.clone()];
        assert_eq!(may_decide(&a, &req, &chain, 0, Status::Pending), Ok(()));
        assert_eq!(
            may_decide(&b, &req, &chain, 0, Status::Pending),
            Err(ApprovalError::NotYourStep)
        );
        assert_eq!(
            may_decide(&req, &req, &chain, 0, Status::Pending),
            Err(ApprovalError::OwnRequest)
        );
        assert_eq!(
            may_decide(&b, &req, &chain, 1, Status::Approved),
            Err(ApprovalError::Finished)
        );
        assert_eq!(
            may_decide(&a, &req, &chain, 2, Status::Pending),
            Err(ApprovalError::NotYourStep)
        );
        assert_eq!(comment("  同意 "), Ok("同意".into()));
        assert_eq!(comment(&"长".repeat(101)), Err(ApprovalError::Comment));
    }
}
