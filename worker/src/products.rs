//! Moments price pages: the product row next to the collection, image uploads into R2
//! (binding `IMAGES`; local R2 under `wrangler dev`), serving those images, and the page data.
//! Rules are `shoukuan_core::product`'s.

use serde::Deserialize;
use shoukuan_core::collection::is_valid_id;
use shoukuan_core::product::{sniff_matches, ImageKey, Product, ProductView, MAX_IMAGE_BYTES};
use shoukuan_core::ratelimit::{UNUSED_IMAGE_TTL_SECS, UPLOAD_PER_PUBLISHER};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env, HttpMetadata, Request, Response};

use crate::config::PublishConfig;
use crate::error::ApiError;
use crate::http;
use crate::routes::ProductRoute;
use crate::secrets;
use crate::session::now_secs;
use crate::wechat::random_alnum;
use crate::{abuse, collections};

/// Answers one of the [`ProductRoute`]s.
pub async fn handle(route: ProductRoute, req: Request, env: &Env) -> Result<Response, ApiError> {
    match route {
        ProductRoute::Get(id) => get(&id, env).await,
        ProductRoute::Upload => upload(req, env).await,
        ProductRoute::Image(key) => image(&key, env).await,
    }
}

/// The statement that stores a new product (run in one batch with the collection).
pub fn insert_statement(
    db: &D1Database,
    id: &str,
    product: &Product,
) -> Result<D1PreparedStatement, ApiError> {
    bind_product(
        db,
        "INSERT INTO products (collection_id, detail, deadline) VALUES (?1, ?2, ?3)",
        id,
        product,
    )
}

/// The statement that replaces a product's details (the manage page's save).
pub fn update_statement(
    db: &D1Database,
    id: &str,
    product: &Product,
) -> Result<D1PreparedStatement, ApiError> {
    bind_product(
        db,
        "UPDATE products SET detail = ?2, deadline = ?3 WHERE collection_id = ?1",
        id,
        product,
    )
}

/// `sql` with `?1` the collection id, `?2` the product's details and `?3` its deadline.
fn bind_product(
    db: &D1Database,
    sql: &str,
    id: &str,
    product: &Product,
) -> Result<D1PreparedStatement, ApiError> {
    let json = serde_json::to_string(product).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(db.prepare(sql).bind(&[
        id.into(),
        json.into(),
        product
            .deadline
            .map_or(JsValue::NULL, |d| JsValue::from_f64(d.unix() as f64)),
    ])?)
}

/// Refuses a product whose images were not uploaded here (400 on `product.images`).
pub async fn check_images(env: &Env, product: &Product) -> Result<(), ApiError> {
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    if product.images.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (1..=product.images.len())
        .map(|i| format!("?{i}"))
        .collect();
    let keys: Vec<JsValue> = product.images.iter().map(|k| k.as_str().into()).collect();
    let found = env
        .d1("DB")?
        .prepare(format!(
            "SELECT COUNT(*) AS n FROM images WHERE key IN ({})",
            placeholders.join(", ")
        ))
        .bind(&keys)?
        .first::<Count>(None)
        .await?
        .map_or(0, |c| c.n);
    if found != product.images.len() as i64 {
        return Err(ApiError::Invalid(vec![
            shoukuan_core::collection::FieldError {
                field: "product.images".into(),
                code: "INVALID_IMAGES".into(),
                message: "图片无效，请重新上传".into(),
            },
        ]));
    }
    Ok(())
}

#[derive(Deserialize)]
struct Row {
    detail: String,
}

/// The page data of product `id`; `None` when it does not exist or is not a product.
pub async fn find_view(id: &str, env: &Env) -> Result<Option<ProductView>, ApiError> {
    if !is_valid_id(id) {
        return Ok(None);
    }
    let Some(collection) = collections::find_view(id, env).await? else {
        return Ok(None);
    };
    let Some(row) = env
        .d1("DB")?
        .prepare("SELECT detail FROM products WHERE collection_id = ?1")
        .bind(&[id.into()])?
        .first::<Row>(None)
        .await?
    else {
        return Ok(None);
    };
    let product: Product = serde_json::from_str(&row.detail)
        .map_err(|e| ApiError::Internal(format!("product {id}: {e}")))?;
    Ok(Some(ProductView::new(collection, product, now_secs())))
}

/// `GET /api/products/:id`
async fn get(id: &str, env: &Env) -> Result<Response, ApiError> {
    let view = find_view(id, env).await?.ok_or(ApiError::NotFound)?;
    http::json(200, &view)
}

/// `POST /api/images` with the image as the body (`Content-Type: image/jpeg|png|webp`):
/// `201 {"key", "path"}`. Who may publish may upload (invite code in `X-Invite-Code`, or an
/// approved payee session).
///
/// A manage page sends `X-Invite-Code: manage <id> <manage token>` instead: the collection's
/// manage link is the credential, and the quota is that collection's.
async fn upload(mut req: Request, env: &Env) -> Result<Response, ApiError> {
    let given = req
        .headers()
        .get("x-invite-code")
        .ok()
        .flatten()
        .unwrap_or_default();
    let guard = abuse::Guard::new(&req, env);
    let (publisher, owner) = match collections::managed_by(&given, env).await? {
        Some(id) => (format!("manage:{id}"), None),
        None => {
            let publish = PublishConfig::from_env(env);
            let owner = crate::session::publisher(&req, env, publish.access).await?;
            if owner.is_none() {
                collections::check_invite(&req, env, &publish, &given).await?;
            }
            // The upload quota: per payee, or per client address when publishing by invite code.
            let publisher = match &owner {
                Some(openid) => format!("payee:{}", secrets::token_hash(openid.as_str())),
                None => guard.client().to_owned(),
            };
            (publisher, owner)
        }
    };
    guard.check(env, &UPLOAD_PER_PUBLISHER, &publisher).await?;
    let content_type = req
        .headers()
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if crate::http::declares_more_than(&req, MAX_IMAGE_BYTES) {
        return Err(ApiError::ImageTooLarge);
    }
    let key = ImageKey::for_upload(&random_alnum(24)?, &content_type)
        .ok_or(ApiError::UnsupportedMediaType)?;
    let bytes = req.bytes().await?;
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ApiError::ImageTooLarge);
    }
    if bytes.is_empty() || !sniff_matches(&bytes, &content_type) {
        return Err(ApiError::Invalid(vec![
            shoukuan_core::collection::FieldError {
                field: "image".into(),
                code: "INVALID_IMAGE".into(),
                message: "文件不是有效的 JPG、PNG 或 WebP 图片".into(),
            },
        ]));
    }
    let size = bytes.len();
    env.bucket("IMAGES")?
        .put(key.as_str(), bytes)
        .http_metadata(HttpMetadata {
            content_type: Some(key.content_type().to_owned()),
            ..HttpMetadata::default()
        })
        .execute()
        .await?;
    env.d1("DB")?
        .prepare(
            "INSERT INTO images (key, content_type, bytes, owner_openid, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&[
            key.as_str().into(),
            key.content_type().into(),
            JsValue::from_f64(size as f64),
            owner.as_ref().map_or(JsValue::NULL, |o| o.as_str().into()),
            JsValue::from_f64(now_secs() as f64),
        ])?
        .run()
        .await?;
    http::json(
        201,
        &serde_json::json!({ "key": key.as_str(), "path": key.path() }),
    )
}

/// `GET /i/:key`: an uploaded image. Keys are random and never reused, so it is cached for a
/// year.
async fn image(key: &str, env: &Env) -> Result<Response, ApiError> {
    let key = ImageKey::parse(key).ok_or(ApiError::Missing("图片"))?;
    let object = env
        .bucket("IMAGES")?
        .get(key.as_str())
        .execute()
        .await?
        .ok_or(ApiError::Missing("图片"))?;
    let bytes = object
        .body()
        .ok_or(ApiError::Missing("图片"))?
        .bytes()
        .await?;
    let mut resp = Response::from_bytes(bytes)?;
    let headers = resp.headers_mut();
    headers.set("content-type", key.content_type())?;
    headers.set("cache-control", "public, max-age=31536000, immutable")?;
    Ok(resp)
}

/// Most unused images deleted per cron run (R2 deletes are one request each).
const CLEANUP_BATCH: i64 = 50;

/// For the cron: deletes images older than a day that no price page uses (uploads whose
/// publish never happened, or junk), from R2 and from `images`.
pub async fn delete_unused_images(env: &Env) -> Result<usize, ApiError> {
    #[derive(Deserialize)]
    struct Key {
        key: String,
    }
    let db = env.d1("DB")?;
    let unused = db
        .prepare(
            "SELECT key FROM images i WHERE created_at < ?1 \
             AND NOT EXISTS (SELECT 1 FROM products p WHERE instr(p.detail, i.key) > 0) \
             ORDER BY created_at LIMIT ?2",
        )
        .bind(&[
            JsValue::from_f64((now_secs() - UNUSED_IMAGE_TTL_SECS) as f64),
            JsValue::from_f64(CLEANUP_BATCH as f64),
        ])?
        .all()
        .await?
        .results::<Key>()?;
    let bucket = env.bucket("IMAGES")?;
    for image in &unused {
        bucket.delete(&image.key).await?;
        db.prepare("DELETE FROM images WHERE key = ?1")
            .bind(&[image.key.as_str().into()])?
            .run()
            .await?;
    }
    Ok(unused.len())
}
