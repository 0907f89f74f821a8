//! Approval before refunds end to end (issue 15): a refund above the payee's threshold reaches
//! the simulated WeChat Pay only after the last approver approves; the requester cannot
//! approve; a step cannot be replayed; racing approvals refund at most what was paid.

use serde_json::{json, Value};

use crate::growth::growth;
use crate::payments::{Pay, Payee};

async fn call(
    p: &Pay,
    who: &Payee,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    p.as_payee(who, method, path, body).await
}

/// `who` accepts an invitation of `payee`.
async fn invite_and_accept(p: &Pay, payee: &Payee, who: &Payee) {
    let (status, invite) = call(
        p,
        payee,
        reqwest::Method::POST,
        "/api/dash/growth/approver-invites",
        None,
    )
    .await;
    assert_eq!(status, 201, "{invite}");
    let token = invite["token"].as_str().unwrap();
    let accept = "/api/dash/growth/approver-invites/accept";
    // The payee cannot accept its own invitation.
    let (status, _) = call(
        p,
        payee,
        reqwest::Method::POST,
        accept,
        Some(json!({ "token": token })),
    )
    .await;
    assert_eq!(status, 409);
    let (status, body) = call(
        p,
        who,
        reqwest::Method::POST,
        accept,
        Some(json!({ "token": token })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Once only.
    let (status, _) = call(
        p,
        who,
        reqwest::Method::POST,
        accept,
        Some(json!({ "token": token })),
    )
    .await;
    assert_eq!(status, 409);
}

/// What the simulator refunded for an order, in fen, one entry per refund, ascending.
async fn sim_refunds(p: &Pay, out_trade_no: &str) -> Vec<i64> {
    let refunds = p.sim.get("/sim/refunds").await.unwrap();
    let mut amounts: Vec<i64> = refunds
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["out_trade_no"] == out_trade_no)
        .map(|r| r["refund"].as_i64().unwrap())
        .collect();
    amounts.sort_unstable();
    amounts
}

async fn paid_order(p: &Pay, collection: &str) -> (String, String) {
    let order = p.order(collection, None).await;
    let (id, no) = (
        order["id"].as_str().unwrap().to_string(),
        order["out_trade_no"].as_str().unwrap().to_string(),
    );
    p.sim_pay(&no, "normal", 1).await;
    p.wait_state(&id, "paid", 30).await;
    (id, no)
}

fn decide_path(request: &str) -> String {
    format!("/api/dash/growth/refund-requests/{request}/decide")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refund_above_the_threshold_waits_for_both_approvers_and_racing_approvals_refund_once() {
    let p = growth().await;
    let payee = p.payee().await;
    let (a, b) = (p.payee().await, p.payee().await);
    invite_and_accept(p, &payee, &a).await;
    invite_and_accept(p, &payee, &b).await;
    let policy = "/api/dash/growth/refund-policy";
    let outsider = p.payee().await;
    for (approvers, code) in [
        (json!([payee.openid]), "INVALID_POLICY"),
        (json!([a.openid, outsider.openid]), "APPROVER_NOT_INVITED"),
        (json!([a.openid, a.openid]), "INVALID_POLICY"),
    ] {
        let (status, body) = call(
            p,
            &payee,
            reqwest::Method::PUT,
            policy,
            Some(json!({ "threshold": "5", "approvers": approvers })),
        )
        .await;
        assert_eq!((status, body["code"].as_str()), (400, Some(code)), "{body}");
    }
    let (status, body) = call(
        p,
        &payee,
        reqwest::Method::PUT,
        policy,
        Some(json!({ "threshold": "5", "approvers": [a.openid, b.openid] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["threshold_fen"], 500);

    let collection = p.collection(&payee, Some("10.00")).await;
    let (id, no) = paid_order(p, &collection).await;
    let refunds = format!("/api/dash/orders/{id}/refunds");
    // At or below the threshold: straight to WeChat Pay.
    let (status, body) = call(
        p,
        &payee,
        reqwest::Method::POST,
        &refunds,
        Some(json!({ "amount": "3.00", "reason": "少一件" })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(sim_refunds(p, &no).await, vec![300]);
    // Above: a request for the approvers; nothing reaches the simulator.
    let (status, body) = call(
        p,
        &payee,
        reqwest::Method::POST,
        &refunds,
        Some(json!({ "amount": "6.00", "reason": "质量问题" })),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let request = body["approval"]["id"].as_str().unwrap().to_string();
    assert_eq!(body["approval"]["status"], "pending");
    let decide = decide_path(&request);
    let approve = |comment: &str| Some(json!({ "decision": "approve", "comment": comment }));
    // The requester cannot approve; the second approver cannot go first; a stranger learns nothing.
    let (status, body) = call(
        p,
        &payee,
        reqwest::Method::POST,
        &decide,
        approve("我自己批"),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("OWN_REQUEST")),
        "{body}"
    );
    let (status, body) = call(p, &b, reqwest::Method::POST, &decide, approve("抢先")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("NOT_YOUR_STEP")),
        "{body}"
    );
    let (status, _) = call(
        p,
        &outsider,
        reqwest::Method::POST,
        &decide,
        approve("路过"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = call(p, &a, reqwest::Method::POST, &decide, approve("同意")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["step"].as_i64()),
        (Some("pending"), Some(1))
    );
    // No replay of the first step.
    let (status, _) = call(p, &a, reqwest::Method::POST, &decide, approve("再同意")).await;
    assert_eq!(status, 409);
    assert_eq!(
        sim_refunds(p, &no).await,
        vec![300],
        "not before the last approval"
    );
    let (status, body) = call(p, &b, reqwest::Method::POST, &decide, approve("财务同意")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "refunded", "{body}");
    assert_eq!(sim_refunds(p, &no).await, vec![300, 600]);
    // Every step recorded with who, when and the comment.
    let steps = body["decisions"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["approver_openid"], a.openid.as_str());
    assert_eq!(steps[1]["approver_openid"], b.openid.as_str());
    assert_eq!(steps[1]["comment"], "财务同意");
    assert!(steps[1]["decided_at"].as_i64().unwrap() > 0);

    // A rejection ends a request.
    let (status, body) = call(
        p,
        &payee,
        reqwest::Method::POST,
        &refunds,
        Some(json!({ "amount": "1.00", "reason": "x" })),
    )
    .await;
    assert_eq!(status, 201, "at the threshold or below: {body}");
    let (id2, no2) = paid_order(p, &collection).await;
    let refunds2 = format!("/api/dash/orders/{id2}/refunds");
    let (_, body) = call(
        p,
        &payee,
        reqwest::Method::POST,
        &refunds2,
        Some(json!({ "amount": "9.00", "reason": "退货" })),
    )
    .await;
    let rejected = body["approval"]["id"].as_str().unwrap().to_string();
    let (status, body) = call(
        p,
        &a,
        reqwest::Method::POST,
        &decide_path(&rejected),
        Some(json!({ "decision": "reject", "comment": "没有退货凭证" })),
    )
    .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("rejected")),
        "{body}"
    );
    let (status, _) = call(
        p,
        &b,
        reqwest::Method::POST,
        &decide_path(&rejected),
        approve("同意"),
    )
    .await;
    assert_eq!(status, 409);

    // Two requests of ¥8 on a ¥10 order, both approved by A, then B approves both at once,
    // each twice: one refund of ¥8 reaches WeChat Pay, the other request fails, nothing more.
    let mut requests = Vec::new();
    for _ in 0..2 {
        let (status, body) = call(
            p,
            &payee,
            reqwest::Method::POST,
            &refunds2,
            Some(json!({ "amount": "8.00", "reason": "重复申请" })),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        let r = body["approval"]["id"].as_str().unwrap().to_string();
        let (status, _) = call(
            p,
            &a,
            reqwest::Method::POST,
            &decide_path(&r),
            approve("同意"),
        )
        .await;
        assert_eq!(status, 200);
        requests.push(r);
    }
    let mut tasks = Vec::new();
    for r in requests.iter().chain(requests.iter()) {
        let path = decide_path(r);
        let cookie = b.cookie.clone();
        let url = p.worker().url(&path);
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .header("cookie", cookie)
                .json(&json!({ "decision": "approve", "comment": "并发" }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses,
        vec![200, 200, 409, 409],
        "one decision per request and step"
    );
    assert_eq!(sim_refunds(p, &no2).await, vec![800]);
    let (_, listed) = call(
        p,
        &payee,
        reqwest::Method::GET,
        "/api/dash/growth/refund-requests",
        None,
    )
    .await;
    let mut outcomes: Vec<String> = listed["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| requests.contains(&r["id"].as_str().unwrap().to_string()))
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect();
    outcomes.sort();
    assert_eq!(outcomes, vec!["failed", "refunded"], "{listed}");
}
