//! Growth end to end (issue 15): A/B tests of a collection's presentation through the real
//! worker — assignment when the page is rendered, exposures, conversions from verified
//! payments (merchant mode, paid in the simulator) and from split sign-ups and 我已付款
//! (personal mode), the figures on the dashboard and "declare winner".

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::{OnceCell, Semaphore};

use crate::payments::{Pay, Payee};

static GROWTH: OnceCell<Pay> = OnceCell::const_new();

pub(crate) async fn growth() -> &'static Pay {
    GROWTH
        .get_or_init(|| async {
            Pay::start(
                "own_business",
                &[
                    ("WECHATPAY_MODEL", "own_business"),
                    ("WECHATPAY_MERCHANT_NAME", "收款测试增长有限公司"),
                ],
            )
            .await
        })
        .await
}

/// One page view: the `<h1>` title shown, the visitor cookie set (first visit) and the body.
struct Visit {
    title: String,
    set_cookie: Option<String>,
    body: String,
}

async fn visit(client: &reqwest::Client, url: &str, cookie: Option<&str>) -> Visit {
    let mut req = client.get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let set_cookie = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| h.split(';').next().filter(|p| p.starts_with("sk_vid=")))
        .map(str::to_string);
    let body = resp.text().await.unwrap();
    let title = body
        .split(r#"<h1 class="title">"#)
        .nth(1)
        .and_then(|rest| rest.split("</h1>").next())
        .unwrap_or_default()
        .to_string();
    Visit {
        title,
        set_cookie,
        body,
    }
}

fn ab_path(collection: &str) -> String {
    format!("/api/dash/growth/ab/{collection}")
}

async fn start_test(p: &Pay, payee: &Payee, collection: &str, variants: Value) -> Value {
    let (status, body) = p
        .as_payee(
            payee,
            reqwest::Method::PUT,
            &ab_path(collection),
            Some(json!({ "variants": variants })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

/// `POST /api/orders` as the visitor with `cookie` (Native, from a desktop client).
async fn order_as(p: &Pay, collection: &str, cookie: &str) -> Value {
    let resp = reqwest::Client::new()
        .post(p.worker().url("/api/orders"))
        .header("cookie", cookie)
        .json(&json!({ "collection_id": collection }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    resp.json().await.unwrap()
}

/// Rows of a growth table that belong to the tests of `collection`.
fn scoped(p: &Pay, table: &str, collection: &str) -> i64 {
    let filter = if table == "ab_tests" {
        format!("collection_id = '{collection}'")
    } else {
        format!("test_id IN (SELECT id FROM ab_tests WHERE collection_id = '{collection}')")
    };
    let rows = p
        .worker()
        .query(&format!("SELECT COUNT(*) AS n FROM {table} WHERE {filter}"))
        .unwrap();
    rows[0]["n"].as_i64().unwrap()
}

const VISITORS: usize = 2000;
/// Allowed distance from an even split, per variant: 2 000 visitors into two variants is
/// Binomial(2000, ½), standard deviation ≈ 22.4; ±100 is 4.5 σ (a false failure ≈ 1 in 150 000).
const TOLERANCE: usize = 100;

#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_visitors_split_evenly_see_one_variant_and_payments_convert_it() {
    let p = growth().await;
    let payee = p.payee().await;
    let collection = p.collection(&payee, Some("68.00")).await;
    let url = p.worker().url(&format!("/c/{collection}"));
    let client = reqwest::Client::new();

    // Without a test the page is as published; with one whose variant A is the published copy,
    // a visitor of A gets exactly the same bytes (the test adds nothing to the page).
    let first = visit(&client, &url, None).await;
    assert_eq!(first.title, "课程费");
    let cookie = first.set_cookie.clone().expect("a first visit gets sk_vid");
    let before = visit(&client, &url, Some(&cookie)).await;
    assert!(
        before.set_cookie.is_none(),
        "a known visitor keeps the cookie"
    );

    // Every variant's copy goes through the compliance lint; only the owner sets a test.
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::PUT,
            &ab_path(&collection),
            Some(json!({ "variants": [
                { "label": "A" },
                { "label": "B", "title": "稳赚不赔的课程" }
            ] })),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("COMPLIANCE")),
        "{body}"
    );
    assert_eq!(body["fields"][0]["field"], "variants[1].title");
    let stranger = p.payee().await;
    let (status, _) = p
        .as_payee(&stranger, reqwest::Method::GET, &ab_path(&collection), None)
        .await;
    assert_eq!(status, 404, "another payee does not see the test");
    assert_eq!(scoped(p, "ab_tests", &collection), 0);

    start_test(
        p,
        &payee,
        &collection,
        json!([
            { "label": "A" },
            { "label": "B", "title": "课程费（本周报名）", "note": "名额有限" }
        ]),
    )
    .await;
    let again = visit(&client, &url, Some(&cookie)).await;
    if again.title == "课程费" {
        assert_eq!(again.body, before.body, "variant A adds no bytes");
    }

    // 2 000 new visitors, each visiting twice.
    let gate = Arc::new(Semaphore::new(16));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..VISITORS {
        let (client, url, gate) = (client.clone(), url.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let first = visit(&client, &url, None).await;
            let cookie = first.set_cookie.expect("sk_vid on a first visit");
            let second = visit(&client, &url, Some(&cookie)).await;
            assert_eq!(first.title, second.title, "same variant on every visit");
            assert!(second.set_cookie.is_none());
            (i, cookie, first.title)
        });
    }
    let mut seen: Vec<(usize, String, String)> = Vec::with_capacity(VISITORS);
    while let Some(r) = tasks.join_next().await {
        seen.push(r.unwrap());
    }
    seen.sort_by_key(|(i, _, _)| *i);
    let mut per_title: HashMap<String, usize> = HashMap::new();
    for (_, _, t) in &seen {
        *per_title.entry(t.clone()).or_default() += 1;
    }
    let a = per_title.get("课程费").copied().unwrap_or(0);
    let b = per_title.get("课程费（本周报名）").copied().unwrap_or(0);
    assert_eq!(a + b, VISITORS, "{per_title:?}");
    for n in [a, b] {
        assert!(
            n.abs_diff(VISITORS / 2) <= TOLERANCE,
            "uneven split: {per_title:?}"
        );
    }

    // Orders from 60 of them; 40 are paid in the simulator, 20 are left unpaid.
    let variant_of = |title: &str| usize::from(title != "课程费");
    let mut paid = [0u64; 2];
    let mut paid_orders = Vec::new();
    let buyers = seen.iter().filter(|(i, _, _)| i % 33 == 0).take(60);
    for (k, (_, cookie, title)) in buyers.enumerate() {
        let order = order_as(p, &collection, cookie).await;
        if k % 3 != 0 {
            let no = order["out_trade_no"].as_str().unwrap();
            p.sim_pay(no, "normal", 1).await;
            paid[variant_of(title)] += 1;
            paid_orders.push(order["id"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(paid[0] + paid[1], 40);
    for id in &paid_orders {
        p.wait_state(id, "paid", 30).await;
    }

    let (status, stats) = p
        .as_payee(&payee, reqwest::Method::GET, &ab_path(&collection), None)
        .await;
    assert_eq!(status, 200, "{stats}");
    let arms = stats["report"]["arms"].as_array().unwrap();
    // The owner's own early visit counts too (one visitor more on its variant).
    let own = variant_of(&again.title);
    for (v, arm) in arms.iter().enumerate() {
        let expected = if v == 0 { a } else { b } + usize::from(v == own);
        assert_eq!(arm["visitors"], expected as u64, "{stats}");
        assert_eq!(arm["conversions"], paid[v], "{stats}");
        assert_eq!(stats["kinds"][v]["paid"], paid[v], "{stats}");
        let (low, rate, high) = (
            arm["low"].as_f64().unwrap(),
            arm["rate"].as_f64().unwrap(),
            arm["high"].as_f64().unwrap(),
        );
        assert!(low <= rate && rate <= high, "{arm}");
    }
    let total: f64 = arms.iter().map(|a| a["prob_best"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-6, "{stats}");
    // A paid order counts once, whatever WeChat Pay resends.
    assert_eq!(scoped(p, "ab_conversions", &collection), 40);

    // Declare B the winner: everyone sees B, including visitors who saw A, and nothing more
    // is counted.
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            &format!("{}/winner", ab_path(&collection)),
            Some(json!({ "variant": 1 })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["test"]["status"], "decided");
    let exposures = scoped(p, "ab_exposures", &collection);
    for (_, cookie, _) in seen.iter().take(20) {
        assert_eq!(
            visit(&client, &url, Some(cookie)).await.title,
            "课程费（本周报名）"
        );
    }
    assert_eq!(visit(&client, &url, None).await.title, "课程费（本周报名）");
    assert_eq!(scoped(p, "ab_exposures", &collection), exposures);
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            &format!("{}/winner", ab_path(&collection)),
            Some(json!({ "variant": 0 })),
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("TEST_DECIDED")));
}

/// A personal-mode split of `payee` (published with its session, so it owns it).
async fn owned_split(p: &Pay, payee: &Payee) -> String {
    let (status, body) = p
        .as_payee(
            payee,
            reqwest::Method::POST,
            "/api/collections",
            Some(json!({
                "kind": "split",
                "payee_name": "张三",
                "title": "周五聚餐",
                "note": "",
                "pay_code": crate::unique_pay_code(),
                "split": { "mode": "fixed", "per_person": "30" },
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn split_sign_ups_and_claims_convert_the_variant_the_visitor_saw() {
    let p = growth().await;
    let payee = p.payee().await;
    let split = owned_split(p, &payee).await;
    start_test(
        p,
        &payee,
        &split,
        json!([
            { "label": "A", "title": "周五聚餐 AA" },
            { "label": "B", "title": "周五聚餐（周五前报名）" },
            { "label": "C", "title": "周五一起吃饭" }
        ]),
    )
    .await;
    let url = p.worker().url(&format!("/c/{split}"));
    let client = reqwest::Client::new();
    let titles = ["周五聚餐 AA", "周五聚餐（周五前报名）", "周五一起吃饭"];
    let mut seen = Vec::new();
    for _ in 0..60 {
        let v = visit(&client, &url, None).await;
        let variant = titles
            .iter()
            .position(|t| *t == v.title)
            .unwrap_or_else(|| panic!("unknown title {:?}", v.title));
        seen.push((v.set_cookie.unwrap(), variant));
    }
    // Every third visitor signs up; of those, every other says 我已付款.
    let (mut signups, mut claims) = ([0u64; 3], [0u64; 3]);
    for (k, (cookie, variant)) in seen.iter().enumerate().filter(|(k, _)| k % 3 == 0) {
        let resp = client
            .post(p.worker().url(&format!("/api/splits/{split}/join")))
            .header("cookie", cookie)
            .json(&json!({ "name": format!("访客{k}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let joined: Value = resp.json().await.unwrap();
        signups[*variant] += 1;
        if k % 2 == 0 {
            let pid = joined["participant"]["id"].as_str().unwrap();
            let resp = client
                .post(
                    p.worker()
                        .url(&format!("/api/splits/{split}/participants/{pid}/claim")),
                )
                .bearer_auth(joined["token"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            claims[*variant] += 1;
        }
    }
    // A sign-up without having seen the page is not attributed.
    let resp = client
        .post(p.worker().url(&format!("/api/splits/{split}/join")))
        .json(&json!({ "name": "直接报名" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let (status, stats) = p
        .as_payee(&payee, reqwest::Method::GET, &ab_path(&split), None)
        .await;
    assert_eq!(status, 200, "{stats}");
    for v in 0..3 {
        let visitors = seen.iter().filter(|(_, s)| *s == v).count() as u64;
        assert_eq!(stats["report"]["arms"][v]["visitors"], visitors, "{stats}");
        // A visitor who signed up and claimed is one converted visitor.
        assert_eq!(
            stats["report"]["arms"][v]["conversions"], signups[v],
            "{stats}"
        );
        assert_eq!(stats["kinds"][v]["signup"], signups[v], "{stats}");
        assert_eq!(stats["kinds"][v]["claim"], claims[v], "{stats}");
    }
    // 60 visitors are far below the minimum sample: a warning, no winner.
    assert_eq!(stats["report"]["enough_data"], false);
    assert!(stats["report"]["winner"].is_null());
    assert!(stats["report"]["warning"]
        .as_str()
        .unwrap()
        .contains("样本还不够"));
}

/// Which block comes first in a price page as served: `images` or `price`.
fn block_order(body: &str) -> &'static str {
    let gallery = body
        .find(r#"<div class="product-gallery">"#)
        .expect("a gallery");
    let pay = body.find(r#"id="pay_qr""#).expect("the pay code");
    if gallery < pay {
        "images"
    } else {
        "price"
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_block_order_variant_reorders_the_price_page_as_served() {
    let p = growth().await;
    let payee = p.payee().await;
    let mut images = Vec::new();
    for size in [(400, 300), (300, 400)] {
        let resp = reqwest::Client::new()
            .post(p.worker().url("/api/images"))
            .header("content-type", "image/png")
            .header("cookie", &payee.cookie)
            .body(crate::product::photo_png(size.0, size.1))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        images.push(body["key"].as_str().unwrap().to_string());
    }
    let mut product = crate::product::product_body(&images[0], None);
    product["product"]["images"] = json!(images);
    let (status, created) = p
        .as_payee(
            &payee,
            reqwest::Method::POST,
            "/api/collections",
            Some(product),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let collection = created["id"].as_str().unwrap().to_string();
    let url = p.worker().url(&format!("/c/{collection}"));
    let client = reqwest::Client::new();
    assert_eq!(
        block_order(&visit(&client, &url, None).await.body),
        "images"
    );

    // Block order goes with copy the lint still checks; an unknown order is refused.
    let (status, body) = p
        .as_payee(
            &payee,
            reqwest::Method::PUT,
            &ab_path(&collection),
            Some(json!({ "variants": [
                { "label": "图片在前", "blocks": "images_first" },
                { "label": "价格在前", "blocks": "sideways", "title": "稳赚酸奶" },
            ] })),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let codes: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"COMPLIANCE") && codes.contains(&"INVALID_BLOCKS"),
        "{body}"
    );
    start_test(
        p,
        &payee,
        &collection,
        json!([
            { "label": "图片在前", "blocks": "images_first" },
            { "label": "价格在前", "blocks": "price_first" },
        ]),
    )
    .await;

    // New visitors land in both orders; each sees theirs again on a second visit, in the HTML
    // as served (no script moves anything).
    let mut seen: HashMap<&'static str, usize> = HashMap::new();
    for _ in 0..40 {
        let first = visit(&client, &url, None).await;
        let order = block_order(&first.body);
        let cookie = first.set_cookie.expect("a first visit gets sk_vid");
        let again = visit(&client, &url, Some(&cookie)).await;
        assert_eq!(
            block_order(&again.body),
            order,
            "the same visitor, the same order"
        );
        assert_eq!(first.body.len(), again.body.len());
        *seen.entry(order).or_default() += 1;
    }
    assert!(seen.get("images").copied().unwrap_or(0) >= 5, "{seen:?}");
    assert!(seen.get("price").copied().unwrap_or(0) >= 5, "{seen:?}");
    assert_eq!(scoped(p, "ab_exposures", &collection), 40);
}
