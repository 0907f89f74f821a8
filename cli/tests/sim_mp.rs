//! `shoukuan sim` as the Official Account platform: tokens and their errors, web authorization
//! (a code works once), userinfo, jsapi_ticket, template messages, parametric QR codes and
//! `showqrcode`, the menu, and pushes to the worker's message URL in plain and safe mode.

mod sim_support;

use std::time::Duration;

use serde_json::{json, Value};
use shoukuan_core::mp::{
    encrypted_reply, open_safe_mode, text_reply, verify_url_signature, EncodingAesKey,
    InboundMessage, MessageKind, SafeModeParams,
};
use sim_support::{keys, Receiver, Sim};

fn account() -> &'static shoukuan_core::wechatpay::devkeys::SimOfficialAccount {
    &keys().config.official_account
}

async fn token(sim: &Sim) -> String {
    let a = account();
    let (status, body) = sim
        .get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            a.appid, a.appsecret
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["expires_in"], 7200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

fn errcode(body: &Value) -> i64 {
    body["errcode"].as_i64().unwrap_or(0)
}

#[tokio::test]
async fn access_tokens_are_checked_expired_and_counted() {
    let sim = Sim::start(&[]);
    let a = account();
    let cases = [
        (
            format!(
                "/cgi-bin/token?grant_type=client_credential&appid={}&secret=wrong",
                a.appid
            ),
            40125,
        ),
        (
            format!(
                "/cgi-bin/token?grant_type=client_credential&appid=wx0000000000000000&secret={}",
                a.appsecret
            ),
            40013,
        ),
        (
            format!(
                "/cgi-bin/token?grant_type=password&appid={}&secret={}",
                a.appid, a.appsecret
            ),
            40002,
        ),
        (
            format!(
                "/cgi-bin/token?grant_type=client_credential&secret={}",
                a.appsecret
            ),
            41002,
        ),
    ];
    for (path, code) in &cases {
        let (status, body) = sim.get(path).await;
        assert_eq!((status, errcode(&body)), (200, *code), "{path}: {body}");
        assert!(body["errmsg"].as_str().unwrap().contains("rid:"));
    }
    let first = token(&sim).await;
    let (_, menu) = sim
        .get(&format!("/cgi-bin/menu/get?access_token={first}"))
        .await;
    assert_eq!(
        errcode(&menu),
        46003,
        "a valid token reaches the API: {menu}"
    );
    let (_, bad) = sim.get("/cgi-bin/menu/get?access_token=not-a-token").await;
    assert_eq!(errcode(&bad), 40001);
    let (_, missing) = sim.get("/cgi-bin/menu/get").await;
    assert_eq!(errcode(&missing), 41001);

    // 20 concurrent fetches are 20 fetches: the simulator counts what the worker does.
    let fetched = join((0..20).map(|_| token(&sim)).collect()).await;
    assert_eq!(fetched.len(), 20);
    let (_, stats) = sim.get("/sim/mp/stats").await;
    assert_eq!(stats["token_requests"], 4 + 1 + 20, "{stats}");
    assert_eq!(stats["tokens_issued"], 21);

    // A replaced token keeps working during the overlap; an expired one says 42001.
    let (_, still) = sim
        .get(&format!("/cgi-bin/menu/get?access_token={first}"))
        .await;
    assert_eq!(errcode(&still), 46003);
    let (status, _) = sim.post("/sim/mp/expire-tokens", &json!({})).await;
    assert_eq!(status, 200);
    let (_, expired) = sim
        .get(&format!("/cgi-bin/menu/get?access_token={first}"))
        .await;
    assert_eq!(errcode(&expired), 42001);

    // stable_token: the same token until forced.
    let body =
        json!({ "grant_type": "client_credential", "appid": a.appid, "secret": a.appsecret });
    let (_, one) = sim.post("/cgi-bin/stable_token", &body).await;
    let (_, two) = sim.post("/cgi-bin/stable_token", &body).await;
    assert_eq!(one["access_token"], two["access_token"]);
    let mut forced = body.clone();
    forced["force_refresh"] = json!(true);
    let (_, three) = sim.post("/cgi-bin/stable_token", &forced).await;
    assert_ne!(three["access_token"], one["access_token"]);
    let mut wrong = body.clone();
    wrong["secret"] = json!("nope");
    let (_, error) = sim.post("/cgi-bin/stable_token", &wrong).await;
    assert_eq!(errcode(&error), 40125);
}

/// Runs the futures concurrently on this task and collects their outputs.
async fn join<F: std::future::Future<Output = String>>(futures: Vec<F>) -> Vec<String> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out = vec![None; pinned.len()];
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

fn location(response: &reqwest::Response) -> reqwest::Url {
    reqwest::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn query(url: &reqwest::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn web_authorization_codes_work_once() {
    let sim = Sim::start(&[]);
    let a = account();
    let redirect = "https://worker.example/oauth/callback?next=%2Fc%2F1#/pay";
    let authorize = |scope: &str, extra: &str| {
        let mut url =
            reqwest::Url::parse(&format!("{}/connect/oauth2/authorize", sim.base)).unwrap();
        url.query_pairs_mut()
            .append_pair("appid", &a.appid)
            .append_pair("redirect_uri", redirect)
            .append_pair("response_type", "code")
            .append_pair("scope", scope)
            .append_pair("state", "abc123");
        format!("{url}{extra}#wechat_redirect")
    };
    // snsapi_base: silent.
    let response = sim
        .http
        .get(authorize("snsapi_base", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    assert!(response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("sim_openid="));
    let to = location(&response);
    assert_eq!(to.host_str(), Some("worker.example"));
    assert_eq!(to.fragment(), Some("/pay"));
    assert_eq!(query(&to, "next").as_deref(), Some("/c/1"));
    assert_eq!(query(&to, "state").as_deref(), Some("abc123"));
    let code = query(&to, "code").unwrap();

    let exchange = |code: &str| {
        format!(
            "/sns/oauth2/access_token?appid={}&secret={}&code={code}&grant_type=authorization_code",
            a.appid, a.appsecret
        )
    };
    let (_, token) = sim.get(&exchange(&code)).await;
    assert_eq!(token["scope"], "snsapi_base", "{token}");
    let openid = token["openid"].as_str().unwrap().to_string();
    let (_, reused) = sim.get(&exchange(&code)).await;
    assert_eq!(errcode(&reused), 40163);
    let (_, invalid) = sim.get(&exchange("not-a-code")).await;
    assert_eq!(errcode(&invalid), 40029);
    let (_, wrong_secret) = sim
        .get(&format!(
            "/sns/oauth2/access_token?appid={}&secret=x&code=y&grant_type=authorization_code",
            a.appid
        ))
        .await;
    assert_eq!(errcode(&wrong_secret), 40125);
    let userinfo = |token: &Value| {
        format!(
            "/sns/userinfo?access_token={}&openid={}&lang=zh_CN",
            token["access_token"].as_str().unwrap(),
            token["openid"].as_str().unwrap()
        )
    };
    let (_, denied) = sim.get(&userinfo(&token)).await;
    assert_eq!(errcode(&denied), 48001, "snsapi_base cannot read userinfo");

    // snsapi_userinfo: a consent page, then the same user (by cookie) on approval.
    let page = sim
        .http
        .get(authorize("snsapi_userinfo", ""))
        .header("Cookie", format!("sim_openid={openid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("允许") && html.contains(&openid),
        "consent page lists the user"
    );
    let approved = sim
        .http
        .get(authorize("snsapi_userinfo", "&auto=1"))
        .header("Cookie", format!("sim_openid={openid}"))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 302);
    let code = query(&location(&approved), "code").unwrap();
    let (_, token) = sim.get(&exchange(&code)).await;
    assert_eq!(
        (token["scope"].as_str(), token["openid"].as_str()),
        (Some("snsapi_userinfo"), Some(openid.as_str()))
    );
    let (_, info) = sim.get(&userinfo(&token)).await;
    assert_eq!(info["openid"], openid.as_str());
    assert!(info["nickname"].as_str().is_some_and(|n| !n.is_empty()));
    let mut other = token.clone();
    other["openid"] = json!("o_someone_else");
    let (_, mismatch) = sim.get(&userinfo(&other)).await;
    assert_eq!(errcode(&mismatch), 40003);

    // Refusal, bad state, bad scope.
    let refused = sim
        .http
        .get(authorize("snsapi_userinfo", "&deny=1"))
        .send()
        .await
        .unwrap();
    let to = location(&refused);
    assert_eq!(
        (query(&to, "code"), query(&to, "state").as_deref()),
        (None, Some("abc123"))
    );
    let bad_state = authorize("snsapi_base", "").replace("state=abc123", "state=abc-123");
    assert_eq!(sim.http.get(bad_state).send().await.unwrap().status(), 400);
    let bad_scope = authorize("snsapi_login", "");
    assert_eq!(sim.http.get(bad_scope).send().await.unwrap().status(), 400);
}

#[tokio::test]
async fn tickets_and_template_messages() {
    let sim = Sim::start(&[]);
    let token = token(&sim).await;
    let (_, ticket) = sim
        .get(&format!(
            "/cgi-bin/ticket/getticket?access_token={token}&type=jsapi"
        ))
        .await;
    assert_eq!(
        (errcode(&ticket), ticket["expires_in"].as_i64()),
        (0, Some(7200))
    );
    assert!(ticket["ticket"].as_str().unwrap().len() > 20);
    let (_, bad) = sim
        .get(&format!(
            "/cgi-bin/ticket/getticket?access_token={token}&type=other"
        ))
        .await;
    assert_eq!(errcode(&bad), 40097);

    let follower = sim.payer().await;
    let (_, stranger) = sim
        .post("/sim/payers", &json!({ "subscribed": false }))
        .await;
    let message = |to: &str| json!({ "touser": to, "template_id": "TPL_PAID", "url": "https://worker.example/c/1", "data": { "amount": { "value": "¥12.34" } } });
    let path = format!("/cgi-bin/message/template/send?access_token={token}");
    let (_, sent) = sim.post(&path, &message(&follower)).await;
    assert_eq!(errcode(&sent), 0, "{sent}");
    assert!(sent["msgid"].is_u64());
    let (_, unsubscribed) = sim
        .post(&path, &message(stranger["openid"].as_str().unwrap()))
        .await;
    assert_eq!(errcode(&unsubscribed), 43004);
    let (_, unknown) = sim.post(&path, &message("o_nobody")).await;
    assert_eq!(errcode(&unknown), 40003);
    let (_, recorded) = sim.get("/sim/mp/templates").await;
    assert_eq!(recorded.as_array().unwrap().len(), 1);
    assert_eq!(recorded[0]["message"]["touser"], follower.as_str());
    assert_eq!(recorded[0]["message"]["data"]["amount"]["value"], "¥12.34");
}

#[tokio::test]
async fn parametric_qr_codes_and_their_png() {
    let sim = Sim::start(&[]);
    let token = token(&sim).await;
    let path = format!("/cgi-bin/qrcode/create?access_token={token}");
    let (_, temp) = sim
        .post(&path, &json!({ "expire_seconds": 600, "action_name": "QR_SCENE", "action_info": { "scene": { "scene_id": 123 } } }))
        .await;
    assert_eq!(temp["expire_seconds"], 600, "{temp}");
    assert!(temp["url"]
        .as_str()
        .unwrap()
        .starts_with("http://weixin.qq.com/q/"));
    let (_, permanent) = sim
        .post(&path, &json!({ "action_name": "QR_LIMIT_STR_SCENE", "action_info": { "scene": { "scene_str": "collection_42" } } }))
        .await;
    assert!(permanent.get("expire_seconds").is_none(), "{permanent}");
    for bad in [
        json!({ "action_name": "QR_LIMIT_SCENE", "action_info": { "scene": { "scene_id": 100001 } } }),
        json!({ "action_name": "QR_SCENE", "action_info": { "scene": { "scene_id": 0 } } }),
        json!({ "action_name": "QR_STR_SCENE", "action_info": { "scene": { "scene_str": "x".repeat(65) } } }),
        json!({ "action_name": "QR_OTHER", "action_info": { "scene": { "scene_id": 1 } } }),
    ] {
        let (_, error) = sim.post(&path, &bad).await;
        assert_eq!(errcode(&error), 40097, "{bad}");
    }
    let mut url = reqwest::Url::parse(&format!("{}/cgi-bin/showqrcode", sim.base)).unwrap();
    url.query_pairs_mut()
        .append_pair("ticket", permanent["ticket"].as_str().unwrap());
    let png = sim.http.get(url).send().await.unwrap();
    assert_eq!(png.status(), 200);
    assert_eq!(png.headers()["content-type"], "image/png");
    let bytes = png.bytes().await.unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let missing = sim
        .http
        .get(format!("{}/cgi-bin/showqrcode?ticket=nope", sim.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_menu_is_validated_stored_and_returned() {
    let sim = Sim::start(&[]);
    let token = token(&sim).await;
    let create = format!("/cgi-bin/menu/create?access_token={token}");
    let click = |k: &str| json!({ "type": "click", "name": "收款", "key": k });
    let (_, too_many) = sim
        .post(
            &create,
            &json!({ "button": [click("A"), click("B"), click("C"), click("D")] }),
        )
        .await;
    assert_eq!(errcode(&too_many), 40016);
    let (_, bad_type) = sim
        .post(
            &create,
            &json!({ "button": [{ "type": "tap", "name": "x", "key": "K" }] }),
        )
        .await;
    assert_eq!(errcode(&bad_type), 40017);
    let menu = json!({ "button": [
        click("PAY"),
        { "name": "更多", "sub_button": [ { "type": "view", "name": "发布收款", "url": "https://worker.example/new" } ] },
    ]});
    let (_, ok) = sim.post(&create, &menu).await;
    assert_eq!(errcode(&ok), 0, "{ok}");
    let (_, got) = sim
        .get(&format!("/cgi-bin/menu/get?access_token={token}"))
        .await;
    assert_eq!(got["menu"], menu);
}

fn params(r: &sim_support::Received) -> std::collections::HashMap<String, String> {
    let url = reqwest::Url::parse(&format!("http://x{}", r.uri)).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn pushes_go_to_the_message_url_signed_with_three_tries() {
    let sim = Sim::start(&[]);
    let a = account();
    let receiver = Receiver::start(&[500, 500, 200], "success").await;
    let (_, config) = sim
        .post("/sim/config", &json!({ "mp_url": receiver.url }))
        .await;
    assert_eq!(config["mp_url"], receiver.url.as_str());
    let openid = sim.payer().await;
    let (status, push) = sim
        .post(
            "/sim/mp/push",
            &json!({ "openid": openid, "kind": "text", "content": "你好" }),
        )
        .await;
    assert_eq!(status, 200, "{push}");
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    let msg_ids: Vec<Option<u64>> = got
        .iter()
        .map(|r| {
            let p = params(r);
            assert!(verify_url_signature(
                &a.token,
                &p["timestamp"],
                &p["nonce"],
                &p["signature"]
            ));
            assert_eq!(p["openid"], openid);
            match InboundMessage::parse(std::str::from_utf8(&r.body).unwrap())
                .unwrap()
                .kind
            {
                MessageKind::Text { content, msg_id } => {
                    assert_eq!(content, "你好");
                    msg_id
                }
                other => panic!("expected text, got {other:?}"),
            }
        })
        .collect();
    assert!(
        msg_ids[0].is_some() && msg_ids.iter().all(|m| m == &msg_ids[0]),
        "{msg_ids:?}"
    );
    let attempts = push["attempts"].as_array().unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| a["status"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![500, 500, 200]
    );
    assert_eq!(attempts[2]["reply"], "success");

    // Always failing: 3 tries, then nothing.
    let failing = Receiver::start(&[502], "").await;
    let (_, push) = sim
        .post(
            "/sim/mp/push",
            &json!({ "openid": openid, "kind": "click", "key": "PAY", "mp_url": failing.url }),
        )
        .await;
    assert_eq!(push["attempts"].as_array().unwrap().len(), 3);
    assert_eq!(push["done"], true);
    match InboundMessage::parse(std::str::from_utf8(&failing.received()[0].body).unwrap())
        .unwrap()
        .kind
    {
        MessageKind::Click { key } => assert_eq!(key, "PAY"),
        other => panic!("expected CLICK, got {other:?}"),
    }
}

#[tokio::test]
async fn safe_mode_pushes_are_encrypted_and_scans_depend_on_following() {
    let sim = Sim::start(&["--mp-mode", "safe"]);
    let a = account();
    let key = EncodingAesKey::parse(&a.encoding_aes_key).unwrap();
    let inner = text_reply("o_user", "gh_account", 1_700_000_000, "收到");
    let reply = encrypted_reply(
        &a.token,
        &key,
        &a.appid,
        &inner,
        "1700000000",
        "n0nce",
        &[7; 16],
    );
    let receiver = Receiver::start(&[200], &reply).await;
    sim.post("/sim/config", &json!({ "mp_url": receiver.url }))
        .await;
    let (_, stranger) = sim
        .post("/sim/payers", &json!({ "subscribed": false }))
        .await;
    let openid = stranger["openid"].as_str().unwrap().to_string();
    let token = token(&sim).await;
    let (_, qr) = sim
        .post(&format!("/cgi-bin/qrcode/create?access_token={token}"), &json!({ "action_name": "QR_LIMIT_STR_SCENE", "action_info": { "scene": { "scene_str": "c42" } } }))
        .await;
    let ticket = qr["ticket"].as_str().unwrap();

    let open = |r: &sim_support::Received| {
        let p = params(r);
        assert_eq!(p["encrypt_type"], "aes");
        open_safe_mode(
            &a.token,
            &key,
            &a.appid,
            SafeModeParams {
                timestamp: &p["timestamp"],
                nonce: &p["nonce"],
                msg_signature: &p["msg_signature"],
            },
            std::str::from_utf8(&r.body).unwrap(),
        )
        .unwrap()
    };
    // Not following: scanning subscribes with qrscene_.
    let (_, push) = sim
        .post(
            "/sim/mp/push",
            &json!({ "openid": openid, "kind": "scan", "ticket": ticket }),
        )
        .await;
    assert_eq!(push["kind"], "subscribe");
    assert_eq!(
        push["attempts"][0]["reply"],
        inner.as_str(),
        "the encrypted reply is checked and decrypted"
    );
    match open(&receiver.received()[0]).kind {
        MessageKind::Subscribe { scene, ticket: t } => {
            assert_eq!(scene.as_deref(), Some("c42"));
            assert_eq!(t.as_deref(), Some(ticket));
        }
        other => panic!("expected subscribe, got {other:?}"),
    }
    assert!(
        !String::from_utf8_lossy(&receiver.received()[0].body).contains("c42"),
        "safe mode hides the message"
    );
    // Now following: the same scan is a SCAN without the prefix.
    sim.post(
        "/sim/mp/push",
        &json!({ "openid": openid, "kind": "scan", "ticket": ticket }),
    )
    .await;
    match open(&receiver.received()[1]).kind {
        MessageKind::Scan { scene, .. } => assert_eq!(scene, "c42"),
        other => panic!("expected SCAN, got {other:?}"),
    }
    sim.post(
        "/sim/mp/push",
        &json!({ "openid": openid, "kind": "view", "url": "https://worker.example/new" }),
    )
    .await;
    match open(&receiver.received()[2]).kind {
        MessageKind::View { url, .. } => assert_eq!(url, "https://worker.example/new"),
        other => panic!("expected VIEW, got {other:?}"),
    }
    // A plain push on request, even in safe mode.
    sim.post(
        "/sim/mp/push",
        &json!({ "openid": openid, "kind": "unsubscribe", "safe": false }),
    )
    .await;
    let body = String::from_utf8(receiver.received()[3].body.clone()).unwrap();
    assert_eq!(
        InboundMessage::parse(&body).unwrap().kind,
        MessageKind::Unsubscribe
    );
    let (_, payers) = sim.get("/sim/payers").await;
    assert_eq!(payers[0]["subscribed"], false);
    tokio::time::sleep(Duration::from_millis(1)).await;
}
