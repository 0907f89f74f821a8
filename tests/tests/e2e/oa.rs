//! The Official Account front door end to end: real workerd + D1, `shoukuan sim` as WeChat,
//! Chromium with WeChat's user agent. Menu jumps through OAuth, payee accounts, the message
//! server (plain and safe mode, checked with `core`), channel attribution, and the central
//! token cache.

use serde_json::{json, Value};
use shoukuan_core::mp::{self, EncodingAesKey};
use shoukuan_tests::browser::{Browser, DESKTOP_UA, WECHAT_IOS_UA};
use shoukuan_tests::sim::Sim;
use shoukuan_tests::worker::Worker;
use tokio::sync::OnceCell;

use crate::{good_body, location, no_redirects, unique, unique_pay_code};

const OPERATOR: &str = "e2e-operator-secret-0123456789";

/// One simulator and one worker (Official Account configured, publishing by approved payees)
/// shared by the tests below; each test uses its own keys, users and collections.
struct Oa {
    sim: Sim,
    worker: Worker,
}

static OA: OnceCell<Oa> = OnceCell::const_new();

async fn oa() -> &'static Oa {
    OA.get_or_init(|| async {
        let sim = Sim::start().await.expect("shoukuan sim starts");
        let worker = sim
            .start_worker(&[("OPERATOR_SECRET", OPERATOR)])
            .await
            .expect("wrangler dev starts");
        Oa { sim, worker }
    })
    .await
}

/// `name=value` of the `Set-Cookie` for `name`, and the whole header.
fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|header| {
            let pair = header.split(';').next()?.trim();
            pair.starts_with(&format!("{name}="))
                .then(|| (pair.to_string(), header.to_string()))
        })
}

/// What one pass through WeChat's authorization looked like.
struct Landing {
    /// The worker's first answer to the entry URL.
    entry_location: String,
    /// Where the callback finally redirected.
    target: String,
    /// `sk_payer=…` or `sk_payee=…`, when a session was set.
    cookie: Option<String>,
    /// The whole `Set-Cookie` header of that session.
    cookie_header: Option<String>,
    /// The callback URL with the code (to replay it).
    callback: String,
    /// `sk_oauth=…`: the browser's OAuth nonce cookie.
    nonce: String,
}

impl Oa {
    /// Opens `path` on the worker with WeChat's user agent as simulated user `openid` and
    /// follows the OAuth hops by hand.
    async fn wechat_open(&self, path: &str, openid: &str, cookie_name: &str) -> Landing {
        let client = no_redirects();
        let resp = client
            .get(self.worker.url(path))
            .header("user-agent", WECHAT_IOS_UA)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            302,
            "{path}: {}",
            resp.text().await.unwrap_or_default()
        );
        let entry_location = location(&resp);
        assert!(
            entry_location.starts_with(&self.sim.url("/connect/oauth2/authorize?")),
            "{entry_location}"
        );
        // The browser keeps the OAuth nonce cookie; the callback needs it.
        let (nonce, _) = set_cookie(&resp, "sk_oauth").expect("the OAuth nonce cookie");
        let (authorize, _) = entry_location.split_once('#').unwrap();
        let resp = client
            .get(format!("{authorize}&sim_openid={openid}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 302);
        let callback = location(&resp);
        assert!(
            callback.starts_with(&self.worker.url("/oauth/callback?")),
            "{callback}"
        );
        let resp = client
            .get(&callback)
            .header("user-agent", WECHAT_IOS_UA)
            .header("cookie", &nonce)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            302,
            "callback: {}",
            resp.text().await.unwrap_or_default()
        );
        let (cookie, cookie_header) = set_cookie(&resp, cookie_name).unzip();
        Landing {
            entry_location,
            target: location(&resp),
            cookie,
            cookie_header,
            callback,
            nonce,
        }
    }

    async fn operator(&self, method: reqwest::Method, path: &str) -> reqwest::Response {
        reqwest::Client::new()
            .request(method, self.worker.url(path))
            .bearer_auth(OPERATOR)
            .send()
            .await
            .unwrap()
    }

    /// A new simulated user signed in as a payee and approved by the operator: `(openid, cookie)`.
    async fn approved_payee(&self) -> (String, String) {
        let openid = self.sim.create_payer(true).await.unwrap();
        let landing = self
            .wechat_open("/oauth/start?next=/dash", &openid, "sk_payee")
            .await;
        assert_eq!(landing.target, "/dash");
        let cookie = landing.cookie.expect("payee session cookie");
        let resp = self
            .operator(
                reqwest::Method::POST,
                &format!("/api/operator/payees/{openid}/approve"),
            )
            .await;
        assert_eq!(resp.status(), 200);
        (openid, cookie)
    }

    async fn as_payee(
        &self,
        cookie: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .request(method, self.worker.url(path))
            .header("cookie", cookie);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// Publishes a collection as the payee; returns its id.
    async fn publish(&self, cookie: &str) -> String {
        let resp = self
            .as_payee(
                cookie,
                reqwest::Method::POST,
                "/api/collections",
                Some(good_body(&unique_pay_code())),
            )
            .await;
        assert_eq!(resp.status(), 201);
        resp.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A menu route `key` → `/c/<id>` created by the payee.
    async fn route(&self, cookie: &str, id: &str) -> String {
        let key = unique("k");
        let resp = self
            .as_payee(
                cookie,
                reqwest::Method::POST,
                "/api/dash/routes",
                Some(json!({ "key": key, "target": format!("/c/{id}") })),
            )
            .await;
        assert_eq!(
            resp.status(),
            201,
            "{}",
            resp.text().await.unwrap_or_default()
        );
        key
    }

    /// Makes follower `openid` scan a new channel of the payee (`cookie`): attributed to it.
    async fn attribute(&self, cookie: &str, openid: &str) -> String {
        let resp = self
            .as_payee(
                cookie,
                reqwest::Method::POST,
                "/api/dash/channels",
                Some(json!({ "name": unique("渠道"), "kind": "temporary", "expire_days": 1 })),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let channel: Value = resp.json().await.unwrap();
        let scene = channel["scene"].as_str().unwrap();
        let (status, _) = self
            .push(&event_xml(openid, now(), "SCAN", scene), true)
            .await;
        assert_eq!(status, 200);
        channel["id"].as_str().unwrap().to_string()
    }

    fn token(&self) -> String {
        self.sim.var("WECHAT_TOKEN")
    }

    fn aes_key(&self) -> EncodingAesKey {
        EncodingAesKey::parse(&self.sim.var("WECHAT_AES_KEY")).unwrap()
    }

    fn appid(&self) -> String {
        self.sim.var("WECHAT_APPID")
    }

    /// POSTs a push signed like WeChat: plain, or safe mode (encrypted, `msg_signature`).
    async fn push(&self, xml: &str, safe: bool) -> (u16, String) {
        let (timestamp, nonce) = (now().to_string(), "n3sT0nce".to_string());
        let token = self.token();
        let mut url = format!(
            "{}?signature={}&timestamp={timestamp}&nonce={nonce}&openid=o",
            self.worker.url("/wechat/mp"),
            mp::url_signature(&token, &timestamp, &nonce)
        );
        let body = if safe {
            let encrypt = mp::encrypt(&self.aes_key(), &self.appid(), xml.as_bytes(), &[7; 16]);
            url.push_str(&format!(
                "&encrypt_type=aes&msg_signature={}",
                mp::msg_signature(&token, &timestamp, &nonce, &encrypt)
            ));
            format!(
                "<xml><ToUserName><![CDATA[gh_e2e]]></ToUserName><Encrypt>{}</Encrypt></xml>",
                mp::cdata(&encrypt)
            )
        } else {
            xml.to_string()
        };
        let resp = reqwest::Client::new()
            .post(url)
            .header("content-type", "text/xml")
            .body(body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// Opens a safe-mode reply with `core`: checks `MsgSignature`, decrypts, checks the appid.
    fn open_reply(&self, envelope: &str) -> String {
        let fields = mp::parse_fields(envelope).expect("reply envelope is XML");
        let encrypt = fields.get("Encrypt").expect("Encrypt");
        assert!(
            mp::verify_msg_signature(
                &self.token(),
                fields.get("TimeStamp").unwrap(),
                fields.get("Nonce").unwrap(),
                encrypt,
                fields.get("MsgSignature").unwrap()
            ),
            "reply MsgSignature does not verify"
        );
        mp::decrypt(&self.aes_key(), &self.appid(), encrypt)
            .unwrap()
            .msg
    }

    fn count(&self, sql: &str) -> i64 {
        self.worker.query(sql).unwrap()[0]["n"].as_i64().unwrap()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn text_xml(openid: &str, content: &str, msg_id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_e2e]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>{}</Content><MsgId>{msg_id}</MsgId></xml>",
        now(),
        mp::cdata(content)
    )
}

fn event_xml(openid: &str, created: i64, event: &str, key: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_e2e]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>\
         <CreateTime>{created}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>\
         <EventKey><![CDATA[{key}]]></EventKey></xml>"
    )
}

fn msg_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        >> 2
}

#[tokio::test(flavor = "multi_thread")]
async fn a_menu_jump_in_wechat_authorizes_once_and_a_second_visit_needs_no_oauth() {
    let oa = oa().await;
    let (_, payee) = oa.approved_payee().await;
    let id = oa.publish(&payee).await;
    let key = oa.route(&payee, &id).await;

    let browser = Browser::wechat().await.unwrap();
    let d = &browser.driver;
    d.goto(
        oa.worker
            .url(&format!("/m/{key}?from=menu&next=https://evil.example/")),
    )
    .await
    .unwrap();
    browser.wait_for(".payer-card, #app").await.unwrap();
    let landed = d.current_url().await.unwrap().to_string();
    // The browser carries the authorize URL's `#wechat_redirect` across redirects that name no
    // fragment of their own (as WeChat's browser does); it is never signed or sent to a server.
    let landed = landed.split('#').next().unwrap();
    assert_eq!(
        landed,
        oa.worker.url(&format!("/c/{id}?from=menu")),
        "unknown query parameters are dropped"
    );
    let cookies = d.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name == "sk_payer")
        .expect("payer session cookie set");
    assert_eq!(session.http_only, Some(true));
    assert!(
        cookies.iter().all(|c| c.name != "sk_payee"),
        "a payer visit must not create a payee session"
    );
    // The first landing came through the simulator (cross-origin hops), so the browser reports
    // no redirect count; the second is a single same-origin redirect: no OAuth.
    let first: Value = browser
        .eval("return performance.getEntriesByType('navigation')[0].redirectCount")
        .await
        .unwrap();
    assert_eq!(first, json!(0));
    // Inside WeChat the payer page asks for a JS-SDK signature of its URL without the fragment,
    // and carries the collection's share card.
    let signed_page = shoukuan_core::urlenc::encode_component(landed);
    let mut asked = json!(false);
    for _ in 0..50 {
        asked = browser
            .eval(&format!(
                "return performance.getEntriesByType('resource').some(e => e.name.endsWith('/api/jssdk/config?url={signed_page}') && (e.responseStatus === undefined || e.responseStatus === 200))"
            ))
            .await
            .unwrap();
        if asked == json!(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        asked,
        json!(true),
        "the page did not ask for its JS-SDK signature"
    );
    let card: Value = browser
        .eval("return JSON.parse(document.getElementById('sk-share').textContent)")
        .await
        .unwrap();
    assert_eq!(card["title"], "周五聚餐 AA");
    assert_eq!(card["link"], oa.worker.url(&format!("/c/{id}")));
    d.goto(oa.worker.url(&format!("/m/{key}"))).await.unwrap();
    browser.wait_for(".payer-card, #app").await.unwrap();
    assert_eq!(
        d.current_url().await.unwrap().to_string(),
        oa.worker.url(&format!("/c/{id}"))
    );
    let second: Value = browser
        .eval("return performance.getEntriesByType('navigation')[0].redirectCount")
        .await
        .unwrap();
    assert_eq!(
        second,
        json!(1),
        "the second visit went through OAuth again"
    );
    // Back does not replay the code: the previous entry is the page, not the callback.
    d.back().await.unwrap();
    let back = d.current_url().await.unwrap().to_string();
    assert!(
        !back.contains("code="),
        "history holds a code-bearing URL: {back}"
    );
    browser.quit().await.unwrap();
    let visits = oa.count(&format!("SELECT COUNT(*) AS n FROM visits WHERE target LIKE '/c/{id}%' AND openid_key IS NOT NULL AND in_wechat = 1"));
    assert_eq!(visits, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn reused_codes_restart_authorization_once_and_bad_states_or_targets_are_refused() {
    let oa = oa().await;
    let (_, payee) = oa.approved_payee().await;
    let id = oa.publish(&payee).await;
    let key = oa.route(&payee, &id).await;
    let openid = oa.sim.create_payer(true).await.unwrap();

    let landing = oa
        .wechat_open(&format!("/m/{key}"), &openid, "sk_payer")
        .await;
    assert_eq!(landing.target, format!("/c/{id}"));
    assert!(
        landing.entry_location.contains("scope=snsapi_base")
            && landing.entry_location.ends_with("#wechat_redirect")
    );
    let state = shoukuan_core::urlenc::query_value(
        landing
            .entry_location
            .split_once('?')
            .unwrap()
            .1
            .split('#')
            .next()
            .unwrap(),
        "state",
    )
    .unwrap();
    assert!(
        state.len() <= 128 && state.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{state}"
    );
    let cookie = landing.cookie.expect("session cookie");

    let client = no_redirects();
    let replay = |cookie: Option<String>, url: String| {
        let client = client.clone();
        async move {
            let mut request = client.get(url).header("user-agent", WECHAT_IOS_UA);
            if let Some(cookie) = cookie {
                request = request.header("cookie", cookie);
            }
            request.send().await.unwrap()
        }
    };
    // The back button in the same browser, with the session: straight to the page.
    let both = format!("{cookie}; {}", landing.nonce);
    let resp = replay(Some(both), landing.callback.clone()).await;
    assert_eq!(
        (resp.status().as_u16(), location(&resp)),
        (302, format!("/c/{id}"))
    );
    // Login CSRF: the callback of a flow started elsewhere (another browser's nonce, or none)
    // sets no session.
    for other in [None, Some("sk_oauth=someone-elses-nonce".to_string())] {
        let resp = replay(other, landing.callback.clone()).await;
        assert_eq!(resp.status(), 400);
        assert!(set_cookie(&resp, "sk_payer").is_none());
        assert!(resp.text().await.unwrap().contains("同一个微信窗口"));
    }
    // A state is good once: the same browser without a session cannot use it again.
    let resp = replay(Some(landing.nonce.clone()), landing.callback.clone()).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("授权链接已使用"));

    // A fresh state with a used code (40163): authorization restarts once, same browser.
    let code_of = |callback: &str| {
        shoukuan_core::urlenc::query_value(callback.split_once('?').unwrap().1, "code").unwrap()
    };
    let state_of = |url: &str| {
        shoukuan_core::urlenc::query_value(
            url.split_once('?').unwrap().1.split('#').next().unwrap(),
            "state",
        )
        .unwrap()
    };
    let used_code = code_of(&landing.callback);
    let start_flow = || async {
        let resp = replay(None, oa.worker.url(&format!("/m/{key}"))).await;
        let (nonce, _) = set_cookie(&resp, "sk_oauth").unwrap();
        (location(&resp), nonce)
    };
    let with_code = |state: String, code: &str| {
        oa.worker.url(&format!(
            "/oauth/callback?code={code}&state={}",
            shoukuan_core::urlenc::encode_component(&state)
        ))
    };
    let (authorize_url, nonce) = start_flow().await;
    let resp = replay(
        Some(nonce.clone()),
        with_code(state_of(&authorize_url), &used_code),
    )
    .await;
    assert_eq!(resp.status(), 302);
    let restart = location(&resp);
    assert!(
        restart.starts_with(&oa.sim.url("/connect/oauth2/authorize?")),
        "{restart}"
    );
    let (authorize, _) = restart.split_once('#').unwrap();
    let resp = client
        .get(format!("{authorize}&sim_openid={openid}"))
        .send()
        .await
        .unwrap();
    let second_callback = location(&resp);
    let resp = replay(Some(nonce.clone()), second_callback.clone()).await;
    assert_eq!(
        (resp.status().as_u16(), location(&resp)),
        (302, format!("/c/{id}"))
    );
    assert!(set_cookie(&resp, "sk_payer").is_some());
    // A restarted authorization whose code is refused again: no loop, a readable page.
    let (authorize_url, nonce) = start_flow().await;
    let resp = replay(
        Some(nonce.clone()),
        with_code(state_of(&authorize_url), &used_code),
    )
    .await;
    let restart = location(&resp);
    let resp = replay(Some(nonce), with_code(state_of(&restart), &used_code)).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("授权失败"));

    // A tampered state.
    let (before, state_and_rest) = landing.callback.split_once("state=").unwrap();
    let mut tampered: Vec<u8> = state_and_rest.bytes().collect();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let resp = replay(
        None,
        format!("{before}state={}", String::from_utf8(tampered).unwrap()),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let page = resp.text().await.unwrap();
    assert!(page.contains("链接无效"), "{page}");
    assert!(set_cookie_absent(&page));
    let resp = replay(None, oa.worker.url("/oauth/callback?code=abc")).await;
    assert_eq!(resp.status(), 400);

    // Targets outside the allow-list: never a redirect off the site.
    for next in [
        "https://evil.example/",
        "//evil.example/x",
        "/api/collections",
        "/\\evil.example",
    ] {
        let resp = replay(
            None,
            oa.worker.url(&format!(
                "/oauth/start?next={}",
                shoukuan_core::urlenc::encode_component(next)
            )),
        )
        .await;
        assert_eq!(resp.status(), 400, "{next}");
        assert!(resp.text().await.unwrap().contains("不在允许的范围内"));
    }
    for target in [
        "https://evil.example/",
        "//evil.example",
        "/api/collections",
        "/c/../../x",
    ] {
        let resp = oa
            .as_payee(
                &payee,
                reqwest::Method::POST,
                "/api/dash/routes",
                Some(json!({ "key": unique("bad"), "target": target })),
            )
            .await;
        assert_eq!(resp.status(), 400, "{target}");
        assert_eq!(
            resp.json::<Value>().await.unwrap()["code"],
            "INVALID_TARGET"
        );
    }
    let resp = replay(None, oa.worker.url("/m/no-such-key")).await;
    assert_eq!(resp.status(), 404);
    assert!(resp.text().await.unwrap().contains("入口不存在"));

    // Outside WeChat the menu link opens the page directly.
    let resp = client
        .get(oa.worker.url(&format!("/m/{key}")))
        .header("user-agent", DESKTOP_UA)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (resp.status().as_u16(), location(&resp)),
        (302, format!("/c/{id}"))
    );
}

fn set_cookie_absent(page: &str) -> bool {
    !page.contains("sk_payer=")
}

#[tokio::test(flavor = "multi_thread")]
async fn payee_rights_need_an_approved_payee_session_and_a_payer_session_is_not_one() {
    let oa = oa().await;
    let openid = oa.sim.create_payer(true).await.unwrap();
    let landing = oa
        .wechat_open("/oauth/start?next=/dash", &openid, "sk_payee")
        .await;
    let header = landing.cookie_header.unwrap();
    for attribute in ["Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(header.contains(attribute), "{header}");
    }
    assert!(
        !header.contains("Secure"),
        "loopback is plain HTTP: {header}"
    );
    let payee = landing.cookie.unwrap();

    // Signed in but not approved: the dashboard knows who, publishing is refused.
    let me: Value = oa
        .as_payee(&payee, reqwest::Method::GET, "/api/dash/me", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({ "openid": openid, "status": "pending", "publish_access": "payees" })
    );
    let resp = oa
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/collections",
            Some(good_body(&unique_pay_code())),
        )
        .await;
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "PAYEE_NOT_APPROVED"
    );
    // No session at all.
    let resp = reqwest::Client::new()
        .post(oa.worker.url("/api/collections"))
        .json(&good_body(&unique_pay_code()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "SIGN_IN_REQUIRED"
    );

    // The operator: a wrong secret is refused; the list shows the pending payee; approve.
    let resp = reqwest::Client::new()
        .get(oa.worker.url("/api/operator/payees"))
        .bearer_auth("guess-guess-guess-guess")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let list: Value = oa
        .operator(reqwest::Method::GET, "/api/operator/payees")
        .await
        .json()
        .await
        .unwrap();
    assert!(list["payees"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["openid"] == openid && p["status"] == "pending"));
    assert_eq!(
        oa.operator(
            reqwest::Method::POST,
            &format!("/api/operator/payees/{openid}/approve")
        )
        .await
        .status(),
        200
    );
    let id = oa.publish(&payee).await;
    let mine: Value = oa
        .as_payee(&payee, reqwest::Method::GET, "/api/dash/collections", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["collections"][0]["id"], id);

    // The same openid's payer session (from a menu jump) does not grant payee rights, even
    // when presented under the payee cookie's name.
    let key = oa.route(&payee, &id).await;
    let payer = oa
        .wechat_open(&format!("/m/{key}"), &openid, "sk_payer")
        .await
        .cookie
        .unwrap();
    let disguised = payer.replacen("sk_payer=", "sk_payee=", 1);
    for cookie in [payer.as_str(), disguised.as_str()] {
        let resp = oa
            .as_payee(
                cookie,
                reqwest::Method::POST,
                "/api/collections",
                Some(good_body(&unique_pay_code())),
            )
            .await;
        assert_eq!(resp.status(), 401, "{cookie}");
        let resp = oa
            .as_payee(cookie, reqwest::Method::GET, "/api/dash/keywords", None)
            .await;
        assert_eq!(resp.status(), 401);
    }

    // Claiming a collection published earlier through a manage link.
    let token = "e2e-manage-token-claim";
    let hash = {
        use sha2::Digest as _;
        hex_lower(&sha2::Sha256::digest(token.as_bytes()))
    };
    // (The worker stores the SHA-256 of a manage token, never the token.)
    let legacy = unique("L");
    oa.worker
        .query(&format!(
            "INSERT INTO collections (id, kind, status, payee_name, title, amount_fen, note, pay_code, manage_token_hash, created_at, updated_at) \
             VALUES ('{legacy}', 'request', 'open', '张三', '旧收款', 100, '', 'wxp://f2f0legacy', '{hash}', 1, 1)"
        ))
        .unwrap();
    let resp = oa
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/claim",
            Some(json!({ "id": legacy, "manage_token": "wrong" })),
        )
        .await;
    assert_eq!(resp.status(), 401);
    let resp = oa
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/claim",
            Some(json!({ "id": legacy, "manage_token": token })),
        )
        .await;
    assert_eq!(resp.status(), 200);
    let (_, other) = oa.approved_payee().await;
    let resp = oa
        .as_payee(
            &other,
            reqwest::Method::POST,
            "/api/dash/claim",
            Some(json!({ "id": legacy, "manage_token": token })),
        )
        .await;
    assert_eq!(resp.status(), 409);

    // Revoked: rights end at once.
    assert_eq!(
        oa.operator(
            reqwest::Method::POST,
            &format!("/api/operator/payees/{openid}/revoke")
        )
        .await
        .status(),
        200
    );
    let resp = oa
        .as_payee(&payee, reqwest::Method::GET, "/api/dash/collections", None)
        .await;
    assert_eq!(resp.status(), 403);
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_message_server_verifies_then_replies_by_keyword_in_plain_and_safe_mode() {
    let oa = oa().await;
    let (_, payee) = oa.approved_payee().await;
    let id = oa.publish(&payee).await;
    let word = unique("kw");
    let rule = |body: Value| {
        oa.as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/keywords",
            Some(body),
        )
    };
    assert_eq!(rule(json!({ "trigger": "exact", "pattern": word, "priority": 5, "reply": { "type": "collection", "id": id } })).await.status(), 201);
    let help = format!("帮助{word}");
    assert_eq!(rule(json!({ "trigger": "contains", "pattern": help, "reply": { "type": "text", "text": "回复「收款」查看" } })).await.status(), 201);
    let resp = rule(json!({ "trigger": "contains", "pattern": "x", "reply": { "type": "text", "text": "稳赚不赔" } })).await;
    assert_eq!(resp.status(), 400);

    // URL verification (GET), by hand and by the simulator's own check.
    let (ts, nonce) = ("1714037059", "486452656");
    let sig = mp::url_signature(&oa.token(), ts, nonce);
    let verify = |sig: String| {
        reqwest::get(oa.worker.url(&format!(
            "/wechat/mp?signature={sig}&timestamp={ts}&nonce={nonce}&echostr=5837397520"
        )))
    };
    let resp = verify(sig.clone()).await.unwrap();
    assert_eq!(
        (resp.status().as_u16(), resp.text().await.unwrap()),
        (200, "5837397520".to_string())
    );
    let flipped = if sig.ends_with('0') { '1' } else { '0' };
    let resp = verify(format!("{}{flipped}", &sig[..39])).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        oa.sim.post("/sim/mp/verify", &json!({})).await.unwrap()["echoed"],
        true
    );

    // A payee's rules answer the followers attributed to it: here, one who scanned its channel.
    let openid = oa.sim.create_payer(true).await.unwrap();
    oa.attribute(&payee, &openid).await;
    // With WECHAT_AES_KEY set, a plain-mode push is refused (its body is not signed).
    let (status, _) = oa
        .push(
            &text_xml(&openid, &format!("请问{help}在哪"), msg_id()),
            false,
        )
        .await;
    assert_eq!(status, 403);
    // Safe mode: the text reply.
    let (status, envelope) = oa
        .push(
            &text_xml(&openid, &format!("请问{help}在哪"), msg_id()),
            true,
        )
        .await;
    assert_eq!(status, 200);
    let reply = oa.open_reply(&envelope);
    let fields = mp::parse_fields(&reply).unwrap();
    assert_eq!(fields.get("MsgType"), Some("text"));
    assert_eq!(fields.get("Content"), Some("回复「收款」查看"));
    assert_eq!(fields.get("ToUserName"), Some(openid.as_str()));
    // Safe mode: the collection card, encrypted; decrypted and checked here with core.
    let (status, envelope) = oa
        .push(&text_xml(&openid, &format!(" {word} "), msg_id()), true)
        .await;
    assert_eq!(status, 200);
    let inner = oa.open_reply(&envelope);
    assert!(
        inner.contains("<MsgType><![CDATA[news]]></MsgType>"),
        "{inner}"
    );
    assert!(
        inner.contains(&oa.worker.url(&format!("/c/{id}"))),
        "{inner}"
    );
    assert!(inner.contains("周五聚餐 AA"), "{inner}");
    // No rule: the empty acknowledgement. Unknown message types too.
    assert_eq!(
        oa.push(&text_xml(&openid, "随便说说", msg_id()), true)
            .await,
        (200, "success".to_string())
    );
    let image = text_xml(&openid, "", msg_id()).replace(
        "<MsgType><![CDATA[text]]></MsgType>",
        "<MsgType><![CDATA[image]]></MsgType>",
    );
    assert_eq!(oa.push(&image, true).await, (200, "success".to_string()));
    // Subscribe without a scene: the welcome reply.
    let (_, welcome) = oa
        .push(&event_xml(&openid, now(), "subscribe", ""), true)
        .await;
    assert!(oa.open_reply(&welcome).contains("感谢关注"), "{welcome}");
    // A follower attributed to nobody: no payee's rule answers them.
    let stranger = oa.sim.create_payer(true).await.unwrap();
    assert_eq!(
        oa.push(&text_xml(&stranger, &word, msg_id()), true).await,
        (200, "success".to_string())
    );

    // Through the simulator's own delivery (safe mode): the reply it received.
    let pushed = oa
        .sim
        .post(
            "/sim/mp/push",
            &json!({ "openid": openid, "kind": "text", "content": help, "safe": true }),
        )
        .await
        .unwrap();
    let attempt = &pushed["attempts"][0];
    assert_eq!(attempt["status"], 200, "{pushed}");
    assert!(
        attempt["reply"]
            .as_str()
            .unwrap()
            .contains("回复「收款」查看"),
        "{pushed}"
    );
    let pushed = oa
        .sim
        .post(
            "/sim/mp/push",
            &json!({ "openid": openid, "kind": "text", "content": word, "safe": true }),
        )
        .await
        .unwrap();
    assert!(
        pushed["attempts"][0]["reply"]
            .as_str()
            .unwrap()
            .contains(&format!("/c/{id}")),
        "{pushed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_oversized_and_repeated_pushes_are_handled_safely() {
    let oa = oa().await;
    let openid = oa.sim.create_payer(true).await.unwrap();
    let created = now() - 7;
    let xml = event_xml(&openid, created, "CLICK", "whatever");
    // The event key names the openid's keyed hash, never the openid.
    let stored = format!(
        "SELECT COUNT(*) AS n FROM mp_pushes WHERE dedup_key = 'evt:{}:{created}:CLICK'",
        oa.sim.openid_key(&openid)
    );

    // A forged URL signature: refused before anything is read or stored.
    let ts = now().to_string();
    let url = |sig: &str| {
        format!(
            "{}?signature={sig}&timestamp={ts}&nonce=2",
            oa.worker.url("/wechat/mp")
        )
    };
    let resp = reqwest::Client::new()
        .post(url(&"0".repeat(40)))
        .body(xml.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = reqwest::Client::new()
        .post(oa.worker.url("/wechat/mp"))
        .body(xml.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Safe mode with a right URL signature but a forged msg_signature.
    let token = oa.token();
    let encrypt = mp::encrypt(&oa.aes_key(), &oa.appid(), xml.as_bytes(), &[1; 16]);
    let forged = format!(
        "{}&encrypt_type=aes&msg_signature={}",
        url(&mp::url_signature(&token, &ts, "2")),
        mp::msg_signature(&token, &ts, "2", "other")
    );
    let body = format!("<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>");
    let resp = reqwest::Client::new()
        .post(forged)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.text().await.unwrap(), "invalid msg_signature");
    // A rightly signed URL from an hour ago (plain mode signs no body): refused.
    let old = (now() - 3600).to_string();
    let stale = format!(
        "{}?signature={}&timestamp={old}&nonce=2",
        oa.worker.url("/wechat/mp"),
        mp::url_signature(&token, &old, "2")
    );
    let resp = reqwest::Client::new()
        .post(stale)
        .body(xml.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(
        (resp.status().as_u16(), resp.text().await.unwrap()),
        (403, "stale timestamp".to_string())
    );
    // Over 64 KiB.
    let big = format!("<xml>{}</xml>", "a".repeat(70 * 1024));
    let resp = reqwest::Client::new()
        .post(url(&mp::url_signature(&token, &ts, "2")))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(oa.count(&stored), 0, "a refused push was stored");

    // WeChat's retries: the same SCAN event three times is acted on once, answered alike.
    let (_, payee) = oa.approved_payee().await;
    let channel: Value = oa
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/channels",
            Some(json!({ "name": "重复测试", "kind": "temporary", "expire_days": 1 })),
        )
        .await
        .json()
        .await
        .unwrap();
    let scene = channel["scene"].as_str().unwrap().to_string();
    let scan = event_xml(&openid, created, "SCAN", &scene);
    let mut replies = Vec::new();
    for safe in [true, true, true] {
        let (status, reply) = oa.push(&scan, safe).await;
        assert_eq!(status, 200);
        replies.push(if safe && reply != "success" {
            oa.open_reply(&reply)
        } else {
            reply
        });
    }
    let scans = oa.count(&format!(
        "SELECT COUNT(*) AS n FROM channel_scans WHERE channel_id = '{}'",
        channel["id"].as_str().unwrap()
    ));
    assert_eq!(scans, 1, "a retried push was acted on twice");
    assert!(replies.windows(2).all(|w| w[0] == w[1]), "{replies:?}");
    // The same text MsgId three times: one record.
    let id = msg_id();
    for _ in 0..3 {
        assert_eq!(oa.push(&text_xml(&openid, "hi", id), true).await.0, 200);
    }
    assert_eq!(
        oa.count(&format!(
            "SELECT COUNT(*) AS n FROM mp_pushes WHERE dedup_key = 'msg:{id}'"
        )),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_then_a_visit_is_attributed_to_the_channel_and_counted_in_its_funnel() {
    let oa = oa().await;
    let (_, payee) = oa.approved_payee().await;
    let id = oa.publish(&payee).await;
    let key = oa.route(&payee, &id).await;
    let resp = oa
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/channels",
            Some(json!({ "name": "门店海报", "kind": "permanent", "route": key })),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let channel: Value = resp.json().await.unwrap();
    let channel_id = channel["id"].as_str().unwrap().to_string();
    assert_eq!(channel["scene"], format!("ch_{channel_id}"));
    // The QR image is the code WeChat issued for the scene.
    let png = oa
        .as_payee(
            &payee,
            reqwest::Method::GET,
            channel["qr_image"].as_str().unwrap(),
            None,
        )
        .await;
    assert_eq!(png.headers()["content-type"], "image/png");
    let decoded = shoukuan_tests::qr::decode_png(&png.bytes().await.unwrap()).unwrap();
    assert_eq!(
        decoded,
        vec![channel["qr_url"].as_str().unwrap().to_string()]
    );
    let resp = reqwest::get(oa.worker.url(channel["qr_image"].as_str().unwrap()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "the QR image is the payee's");

    // A follower scans (the simulator finds the scene from the ticket, pushes SCAN) and gets
    // the channel's card; later opens the menu without any channel parameter.
    let ticket = channel_ticket(oa, &channel_id);
    let openid = oa.sim.create_payer(true).await.unwrap();
    let pushed = oa
        .sim
        .post(
            "/sim/mp/push",
            &json!({ "openid": openid, "kind": "scan", "ticket": ticket, "safe": true }),
        )
        .await
        .unwrap();
    assert_eq!(pushed["kind"], "SCAN");
    let reply = pushed["attempts"][0]["reply"].as_str().unwrap();
    assert!(
        reply.contains(&format!("/m/{key}?channel={channel_id}")),
        "{reply}"
    );
    let landing = oa
        .wechat_open(&format!("/m/{key}"), &openid, "sk_payer")
        .await;
    assert_eq!(landing.target, format!("/c/{id}"));
    let rows = oa
        .worker
        .query(&format!(
            "SELECT channel_id FROM visits WHERE openid_key = '{}'",
            oa.sim.openid_key(&openid)
        ))
        .unwrap();
    assert_eq!(rows, vec![json!({ "channel_id": channel_id })]);

    // The scanned follower then pays a merchant collection of the same payee: the order and
    // the payment are attributed to the channel too.
    let merchant: Value = oa
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/dash/merchant-collections",
            Some(json!({ "payee_name": "李四商店", "title": "课程费", "amount": "9.90", "note": "" })),
        )
        .await
        .json()
        .await
        .unwrap();
    let cookie = landing
        .cookie
        .clone()
        .expect("the menu jump gave a payer session");
    let order: Value = reqwest::Client::new()
        .post(oa.worker.url("/api/orders"))
        .header("user-agent", WECHAT_IOS_UA)
        .header("cookie", &cookie)
        .json(&json!({ "collection_id": merchant["id"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["method"], "jsapi", "{order}");
    oa.sim
        .post(
            "/sim/pay",
            &json!({ "out_trade_no": order["out_trade_no"], "openid": openid }),
        )
        .await
        .unwrap();
    let order_url = oa
        .worker
        .url(&format!("/api/orders/{}", order["id"].as_str().unwrap()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let view: Value = reqwest::get(&order_url)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if view["state"] == "paid" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "order not paid: {view}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // A new follower through the QR (subscribe with qrscene_), and a visit with the explicit
    // parameter from outside WeChat.
    let newcomer = oa.sim.create_payer(false).await.unwrap();
    let pushed = oa
        .sim
        .post(
            "/sim/mp/push",
            &json!({ "openid": newcomer, "kind": "scan", "ticket": ticket, "safe": true }),
        )
        .await
        .unwrap();
    assert_eq!(pushed["kind"], "subscribe");
    let resp = no_redirects()
        .get(oa.worker.url(&format!("/m/{key}?channel={channel_id}")))
        .header("user-agent", DESKTOP_UA)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&resp), format!("/c/{id}?channel={channel_id}"));

    let list: Value = oa
        .as_payee(&payee, reqwest::Method::GET, "/api/dash/channels", None)
        .await
        .json()
        .await
        .unwrap();
    let mine = list["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == channel_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(mine["funnel"]["scans"], 2);
    assert_eq!(mine["funnel"]["visits"], 2);
    assert_eq!(mine["funnel"]["visit_rate_permille"], 1000);
    assert_eq!(mine["funnel"]["orders"], 1);
    assert_eq!(mine["funnel"]["paid_orders"], 1);
    assert_eq!(mine["funnel"]["paid_fen"], 990);
    let (_, other) = oa.approved_payee().await;
    let theirs: Value = oa
        .as_payee(&other, reqwest::Method::GET, "/api/dash/channels", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(theirs["channels"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != channel_id.as_str()));
}

/// The ticket WeChat issued for a channel (stored by the worker).
fn channel_ticket(oa: &Oa, channel_id: &str) -> String {
    let rows = oa
        .worker
        .query(&format!(
            "SELECT qr_ticket FROM channels WHERE id = '{channel_id}'"
        ))
        .unwrap();
    rows[0]["qr_ticket"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_menu_is_validated_stored_and_published_with_view_buttons_on_this_site() {
    let oa = oa().await;
    let (_, payee) = oa.approved_payee().await;
    let id = oa.publish(&payee).await;
    let key = oa.route(&payee, &id).await;
    let menu = json!({ "button": [
        { "name": "付款", "type": "view", "route": key },
        { "name": "更多", "sub_button": [{ "name": "帮助", "type": "click", "key": "帮助" }] }
    ]});
    // The menu is the whole account's: a payee can neither read, change nor publish it.
    for (method, path) in [
        (reqwest::Method::GET, "/api/dash/menu"),
        (reqwest::Method::PUT, "/api/dash/menu"),
        (reqwest::Method::POST, "/api/dash/menu/publish"),
    ] {
        let resp = oa.as_payee(&payee, method, path, Some(menu.clone())).await;
        assert_eq!(resp.status(), 403, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], "OPERATOR_ONLY");
        assert!(
            body["message"].as_str().unwrap().contains("运营方"),
            "{body}"
        );
    }
    let as_operator = |method: reqwest::Method, path: &'static str, body: Option<Value>| {
        let mut request = reqwest::Client::new()
            .request(method, oa.worker.url(path))
            .bearer_auth(OPERATOR);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send()
    };
    let resp = as_operator(
        reqwest::Method::PUT,
        "/api/dash/menu",
        Some(json!({ "button": [{ "name": "付款", "type": "view", "route": "no-such-route" }] })),
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "INVALID_MENU");
    let resp = as_operator(reqwest::Method::PUT, "/api/dash/menu", Some(menu.clone()))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = as_operator(reqwest::Method::POST, "/api/dash/menu/publish", None)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let published: Value = resp.json().await.unwrap();
    assert_eq!(
        published["menu"]["button"][0]["url"],
        oa.worker.url(&format!("/m/{key}"))
    );
    let stored: Value = oa
        .operator(reqwest::Method::GET, "/api/dash/menu")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(stored["menu"], menu);
    assert!(stored["published_at"].is_i64());

    // `shoukuan menu set` + `publish` (the operator's path): a bad file is refused before any
    // request, a good one is stored and published.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"button": "nope"}"#).unwrap();
    let (ok, _, err) = shoukuan(oa, OPERATOR, &["menu", "set", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("is not a menu"), "{err}");
    let good = dir.path().join("menu.json");
    let by_cli = json!({ "button": [{ "name": "付款", "type": "view", "route": key }] });
    std::fs::write(&good, by_cli.to_string()).unwrap();
    let (ok, _, err) = shoukuan(oa, OPERATOR, &["menu", "set", good.to_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, out, err) = shoukuan(oa, OPERATOR, &["menu", "publish"]);
    assert!(ok, "{err}");
    let published: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        published["menu"]["button"][0]["url"],
        oa.worker.url(&format!("/m/{key}"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_concurrent_jssdk_requests_cause_one_token_fetch_and_an_invalid_token_is_refreshed_once(
) {
    let sim = Sim::start().await.unwrap();
    let worker = sim
        .start_worker(&[("OPERATOR_SECRET", OPERATOR)])
        .await
        .unwrap();
    let page = worker.url("/c/AbCd2345efGH?x=1");
    let requests = (0..20).map(|_| {
        let url = worker.url(&format!(
            "/api/jssdk/config?url={}",
            shoukuan_core::urlenc::encode_component(&format!("{page}#frag"))
        ));
        tokio::spawn(async move {
            reqwest::get(url)
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    });
    let configs: Vec<Value> = futures_join(requests).await;
    for config in &configs {
        assert_eq!(config["appId"], sim.var("WECHAT_APPID"), "{config}");
        assert_eq!(config["signature"].as_str().unwrap().len(), 40, "{config}");
        assert_eq!(
            config["jsApiList"],
            json!(["updateAppMessageShareData", "updateTimelineShareData"])
        );
    }
    // Each signature is WeChat's: sha1 over the cached ticket, its nonce and timestamp, and the
    // page URL without the fragment.
    let ticket = worker
        .query("SELECT value FROM wechat_credentials WHERE name = 'jsapi_ticket'")
        .unwrap()[0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    for config in &configs {
        let expected = shoukuan_core::jssdk::signature(
            &ticket,
            config["nonceStr"].as_str().unwrap(),
            config["timestamp"].as_i64().unwrap(),
            &page,
        );
        assert_eq!(config["signature"], expected.as_str());
    }
    let stats = sim.stats().await.unwrap();
    assert_eq!(stats["token_requests"], 1, "{stats}");
    assert_eq!(stats["jsapi_tickets_issued"], 1, "{stats}");
    // Another site's URL is not signed.
    let resp = reqwest::get(worker.url("/api/jssdk/config?url=https%3A%2F%2Fevil.example%2F"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "INVALID_URL");

    // WeChat stops accepting the cached token: the next call refreshes once and succeeds.
    sim.post("/sim/mp/expire-tokens", &json!({})).await.unwrap();
    let resp = reqwest::Client::new()
        .post(worker.url("/api/dash/channels"))
        .bearer_auth(OPERATOR)
        .json(&json!({ "name": "刷新测试", "kind": "temporary" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", worker.log());
    assert_eq!(sim.stats().await.unwrap()["token_requests"], 2);
    let cached = worker
        .query("SELECT refreshes, invalidated FROM wechat_credentials WHERE name = 'access_token'")
        .unwrap();
    assert_eq!(cached, vec![json!({ "refreshes": 2, "invalidated": 0 })]);
}

async fn futures_join<T: Send + 'static>(
    handles: impl Iterator<Item = tokio::task::JoinHandle<T>>,
) -> Vec<T> {
    let mut out = Vec::new();
    for handle in handles.collect::<Vec<_>>() {
        out.push(handle.await.unwrap());
    }
    out
}

/// Runs `shoukuan <args>` against the shared worker with `secret` as `OPERATOR_SECRET`.
fn shoukuan(oa: &Oa, secret: &str, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(shoukuan_tests::sim::shoukuan_bin())
        .args(args)
        .args([
            "--url",
            &oa.worker.base,
            "--dev-vars",
            "/nonexistent/.dev.vars",
        ])
        .env("OPERATOR_SECRET", secret)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_approves_payees_and_manages_routes_with_shoukuan() {
    let oa = oa().await;
    let openid = oa.sim.create_payer(true).await.unwrap();
    let payee = oa
        .wechat_open("/oauth/start?next=/dash", &openid, "sk_payee")
        .await
        .cookie
        .unwrap();

    let (ok, _, err) = shoukuan(
        oa,
        "not-the-operator-secret",
        &["payees", "approve", &openid],
    );
    assert!(!ok);
    assert!(err.contains("OPERATOR_ONLY"), "{err}");
    let (ok, out, err) = shoukuan(oa, OPERATOR, &["payees", "approve", &openid]);
    assert!(ok, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["status"],
        "approved"
    );
    let (ok, out, _) = shoukuan(oa, OPERATOR, &["payees", "list"]);
    assert!(ok);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert!(list["payees"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["openid"] == openid.as_str() && p["status"] == "approved"));
    let resp = oa
        .as_payee(&payee, reqwest::Method::GET, "/api/dash/collections", None)
        .await;
    assert_eq!(resp.status(), 200, "approval through shoukuan takes effect");

    let key = unique("op");
    let (ok, _, err) = shoukuan(
        oa,
        OPERATOR,
        &["menu", "add-route", &key, "https://evil.example/"],
    );
    assert!(!ok && err.contains("INVALID_TARGET"), "{err}");
    let (ok, _, err) = shoukuan(oa, OPERATOR, &["menu", "add-route", &key, "/dash"]);
    assert!(ok, "{err}");
    let (_, out, _) = shoukuan(oa, OPERATOR, &["menu", "routes"]);
    assert!(out.contains(&key));
    let (ok, _, err) = shoukuan(oa, OPERATOR, &["menu", "delete-route", &key]);
    assert!(ok, "{err}");
    let (ok, _, err) = shoukuan(oa, OPERATOR, &["payees", "revoke", &openid]);
    assert!(ok, "{err}");
}

/// Waits until the text of the first element matching `css` contains `needle`.
async fn wait_css_text(browser: &Browser, css: &str, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..150 {
        if let Ok(el) = browser.wait_for(css).await {
            last = el.text().await.unwrap_or_default();
            if last.contains(needle) {
                return last;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css}: expected text containing {needle:?}, got {last:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payee_signs_in_to_the_dashboard_in_wechat_and_manages_keywords_and_channels() {
    let oa = oa().await;
    let browser = Browser::wechat().await.unwrap();
    let d = &browser.driver;
    d.goto(oa.worker.url("/dash")).await.unwrap();
    browser
        .wait_for("#sign_in")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Through the simulator's (silent) authorization and back: signed in, waiting for approval.
    let openid = browser
        .wait_for("#openid")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        shoukuan_core::session::Openid::parse(&openid).is_some(),
        "{openid}"
    );
    assert!(d.current_url().await.unwrap().path().starts_with("/dash"));
    let resp = oa
        .operator(
            reqwest::Method::POST,
            &format!("/api/operator/payees/{openid}/approve"),
        )
        .await;
    assert_eq!(resp.status(), 200);
    d.refresh().await.unwrap();

    let word = unique("dash");
    browser
        .wait_for("#kw_pattern")
        .await
        .unwrap()
        .send_keys(&word)
        .await
        .unwrap();
    browser
        .wait_for("#kw_reply")
        .await
        .unwrap()
        .send_keys("这是后台添加的回复")
        .await
        .unwrap();
    browser
        .wait_for("#kw_add")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_css_text(&browser, "#keywords .list", &word).await;
    // The rule answers at once (the payee tries it from its own WeChat).
    let (_, reply) = oa.push(&text_xml(&openid, &word, msg_id()), true).await;
    let reply = oa.open_reply(&reply);
    assert!(reply.contains("这是后台添加的回复"), "{reply}");

    browser
        .wait_for("#ch_name")
        .await
        .unwrap()
        .send_keys("传单")
        .await
        .unwrap();
    browser
        .wait_for("#ch_add")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_css_text(&browser, "#channels .list", "传单").await;
    let funnel = wait_css_text(&browser, "#channels .funnel", "扫码 0").await;
    assert!(funnel.contains("访问 0"), "{funnel}");
    // The QR image loads (served with the payee's session).
    let mut width = json!(0);
    for _ in 0..50 {
        width = browser.eval("const i = document.querySelector('#channels img.qr'); return i && i.complete ? i.naturalWidth : 0").await.unwrap();
        if width.as_i64().unwrap_or(0) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(width.as_i64().unwrap_or(0) >= 300, "QR image width {width}");
    let cookies = d.get_all_cookies().await.unwrap();
    assert!(cookies
        .iter()
        .any(|c| c.name == "sk_payee" && c.http_only == Some(true)));
    browser.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn payees_share_the_account_without_shadowing_or_seeing_each_other() {
    let oa = oa().await;
    let (a_openid, a) = oa.approved_payee().await;
    let (_, b) = oa.approved_payee().await;
    let word = unique("团购");
    let rule = |cookie: &String, body: Value| {
        let cookie = cookie.clone();
        async move {
            oa.as_payee(
                &cookie,
                reqwest::Method::POST,
                "/api/dash/keywords",
                Some(body),
            )
            .await
        }
    };
    // The same keyword for both; B's is broader and of the highest priority.
    let resp = rule(&a, json!({ "trigger": "exact", "pattern": word, "reply": { "type": "text", "text": "甲的团购" } })).await;
    assert_eq!(resp.status(), 201);
    let resp = rule(&b, json!({ "trigger": "contains", "pattern": word, "priority": 1000, "reply": { "type": "text", "text": "乙的团购" } })).await;
    assert_eq!(resp.status(), 201);
    let follower_of_a = oa.sim.create_payer(true).await.unwrap();
    let follower_of_b = oa.sim.create_payer(true).await.unwrap();
    oa.attribute(&a, &follower_of_a).await;
    oa.attribute(&b, &follower_of_b).await;
    let ask = |openid: String| {
        let word = word.clone();
        async move {
            let (status, envelope) = oa.push(&text_xml(&openid, &word, msg_id()), true).await;
            assert_eq!(status, 200);
            if envelope == "success" {
                return envelope;
            }
            mp::parse_fields(&oa.open_reply(&envelope))
                .unwrap()
                .get("Content")
                .unwrap_or_default()
                .to_string()
        }
    };
    assert_eq!(ask(follower_of_a.clone()).await, "甲的团购");
    assert_eq!(ask(follower_of_b.clone()).await, "乙的团购");

    // The welcome reply is the operator's: a payee's is refused, the operator's answers.
    let welcome =
        json!({ "trigger": "subscribe", "reply": { "type": "text", "text": "欢迎来到收款演示" } });
    let resp = rule(&a, welcome.clone()).await;
    assert_eq!(resp.status(), 403);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], "OPERATOR_ONLY");
    let resp = reqwest::Client::new()
        .post(oa.worker.url("/api/dash/keywords"))
        .bearer_auth(OPERATOR)
        .json(&welcome)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let rule_id = resp.json::<Value>().await.unwrap()["id"].clone();
    let newcomer = oa.sim.create_payer(false).await.unwrap();
    let (_, envelope) = oa
        .push(&event_xml(&newcomer, now(), "subscribe", ""), true)
        .await;
    assert!(oa.open_reply(&envelope).contains("欢迎来到收款演示"));
    let resp = oa
        .operator(
            reqwest::Method::DELETE,
            &format!("/api/dash/keywords/{rule_id}"),
        )
        .await;
    assert_eq!(resp.status(), 200);

    // Each payee sees only its own rules and routes, and never another payee's openid.
    let listed: Value = oa
        .as_payee(&b, reqwest::Method::GET, "/api/dash/keywords", None)
        .await
        .json()
        .await
        .unwrap();
    let rules = listed["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{listed}");
    assert!(!listed.to_string().contains(&a_openid), "{listed}");
    oa.route(&a, &oa.publish(&a).await).await;
    let routes: Value = oa
        .as_payee(&b, reqwest::Method::GET, "/api/dash/routes", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(!routes.to_string().contains(&a_openid), "{routes}");
    // The operator sees everything, with owners.
    let all: Value = oa
        .operator(reqwest::Method::GET, "/api/dash/keywords")
        .await
        .json()
        .await
        .unwrap();
    assert!(all.to_string().contains(&a_openid));

    // Quotas per payee.
    let mut last = 0;
    for i in 0..=shoukuan_core::ratelimit::RULES_PER_PAYEE {
        let resp = rule(&b, json!({ "trigger": "exact", "pattern": format!("{word}{i}"), "reply": { "type": "text", "text": "好" } })).await;
        last = resp.status().as_u16();
        if last != 201 {
            assert_eq!(
                resp.json::<Value>().await.unwrap()["code"],
                "QUOTA_EXCEEDED"
            );
            break;
        }
    }
    assert_eq!(last, 409, "the rule quota holds");
    let rules = oa.count(&format!(
        "SELECT COUNT(*) AS n FROM keyword_rules WHERE pattern LIKE '{word}%' AND reply_value IN ('好', '乙的团购')"
    ));
    assert_eq!(rules, shoukuan_core::ratelimit::RULES_PER_PAYEE);
}

/// A collection a signed-in payee published: its 收款码 is replaced only by that payee in
/// person, never through the manage link alone (a forwarded link cannot redirect the money).
#[tokio::test(flavor = "multi_thread")]
async fn only_the_signed_in_owner_replaces_the_pay_code() {
    let oa = oa().await;
    let (_owner, cookie) = oa.approved_payee().await;
    let code = unique_pay_code();
    let resp = oa
        .as_payee(
            &cookie,
            reqwest::Method::POST,
            "/api/collections",
            Some(good_body(&code)),
        )
        .await;
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let token = created["manage_token"].as_str().unwrap();
    let new_code = unique_pay_code();
    let mut edit = good_body(&new_code);
    edit["replace_pay_code"] = json!(true);
    let put = |cookie: Option<&str>| {
        let mut request = reqwest::Client::new()
            .put(oa.worker.url(&format!("/api/collections/{id}")))
            .bearer_auth(token)
            .json(&edit);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    // The manage link alone, or in another payee's hands: refused, and the code stays.
    let resp = put(None).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "PAY_CODE_OWNER_ONLY"
    );
    let (_other, other_cookie) = oa.approved_payee().await;
    assert_eq!(put(Some(&other_cookie)).await.unwrap().status(), 403);
    let view: Value = reqwest::get(oa.worker.url(&format!("/api/collections/{id}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["pay_code"], code, "{view}");
    // The owner in person, with the link: replaced.
    let resp = put(Some(&cookie)).await.unwrap();
    assert_eq!(resp.status(), 200);
    let view: Value = resp.json().await.unwrap();
    assert_eq!(view["pay_code"], new_code, "{view}");
}
