//! The payer pages, each against its vanilla-JS baseline: the request page, the split sign-up
//! page and the price page (`/c/:id` of each kind).

use std::time::Instant;

use anyhow::{ensure, Result};
use serde_json::{json, Value};
use shoukuan_tests::worker::Worker;

use crate::cases::{self, PAY_CODE};
use crate::measure::Page;

/// What the bench published.
pub struct Published {
    request: String,
    split: String,
    pub product: String,
    /// The first `GET /c/:id` after the start, ms.
    pub first_page_ms: f64,
}

/// A request, a split with eight sign-ups, and a price page with one photo.
pub async fn publish(worker: &Worker) -> Result<Published> {
    let request = cases::id_of(
        &cases::post(
            worker,
            "/api/collections",
            &json!({
                "payee_name": "张三", "title": "周五聚餐 AA", "amount": "12.34",
                "note": "请备注姓名", "pay_code": PAY_CODE,
            }),
        )
        .await?,
    )?;
    let t = Instant::now();
    let first = reqwest::get(worker.url(&format!("/c/{request}"))).await?;
    ensure!(
        first.status().is_success(),
        "first page: {}",
        first.status()
    );
    first.bytes().await?;
    let first_page_ms = t.elapsed().as_secs_f64() * 1000.0;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let deadline = shoukuan_core::deadline::Deadline::from_unix(now + 3 * 86_400).to_input_value();
    let split = cases::id_of(
        &cases::post(
            worker,
            "/api/collections",
            &json!({
                "kind": "split", "payee_name": "张三", "title": "周五聚餐 AA", "note": "请备注姓名",
                "pay_code": PAY_CODE,
                "split": { "mode": "fixed", "per_person": "30", "cap": "20", "deadline": deadline },
            }),
        )
        .await?,
    )?;
    for name in [
        "王小明",
        "李华",
        "赵六",
        "钱七",
        "孙八",
        "周九",
        "吴十",
        "郑一",
    ] {
        cases::post(
            worker,
            &format!("/api/splits/{split}/join"),
            &json!({ "name": name }),
        )
        .await?;
    }
    let photo = {
        let img = image::RgbImage::from_fn(800, 600, |x, y| {
            image::Rgb([
                (x * 255 / 800) as u8,
                (y * 255 / 600) as u8,
                ((x + y) % 256) as u8,
            ])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png)?;
        out.into_inner()
    };
    let resp = reqwest::Client::new()
        .post(worker.url("/api/images"))
        .header("content-type", "image/png")
        .body(photo)
        .send()
        .await?;
    ensure!(resp.status() == 201, "image upload: {}", resp.status());
    let image: Value = resp.json().await?;
    let product = cases::id_of(
        &cases::post(
            worker,
            "/api/collections",
            &json!({
                "kind": "product", "payee_name": "小满酸奶", "title": "手工酸奶 6 杯装",
                "amount": "29", "note": "", "pay_code": PAY_CODE,
                "product": {
                    "description": "每日现做，冷链配送", "original_price": "39",
                    "images": [image["key"]], "shop_name": "小满酸奶",
                    "shop_address": "上海市黄浦区南京东路 1 号", "tags": ["酸奶", "下午茶"],
                },
            }),
        )
        .await?,
    )?;
    Ok(Published {
        request,
        split,
        product,
        first_page_ms,
    })
}

/// The pages: ours and the baseline of each.
pub fn pages(worker: &Worker, ids: &Published) -> Vec<Page> {
    let page = |group, role, url: String, qr: bool| Page {
        group,
        role,
        url,
        qr: qr.then(|| PAY_CODE.to_owned()),
    };
    vec![
        page(
            "request",
            "ours",
            worker.url(&format!("/c/{}", ids.request)),
            true,
        ),
        page(
            "request",
            "baseline",
            worker.url(&format!("/bench-baseline/?id={}", ids.request)),
            true,
        ),
        page(
            "split",
            "ours",
            worker.url(&format!("/c/{}", ids.split)),
            false,
        ),
        page(
            "split",
            "baseline",
            worker.url(&format!("/bench-baseline/split?id={}", ids.split)),
            false,
        ),
        page(
            "price",
            "ours",
            worker.url(&format!("/c/{}", ids.product)),
            true,
        ),
        page(
            "price",
            "baseline",
            worker.url(&format!("/bench-baseline/product?id={}", ids.product)),
            true,
        ),
    ]
}
