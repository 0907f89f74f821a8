//! Reading the payee's 收款码 from an uploaded image, in the browser.
//!
//! The browser's own decoder does the image format work (object URL → `<img>` → canvas →
//! `getImageData`), so no image crate lands in the bundle; only the QR detection runs in Rust
//! (`rqrr`), in a Web Worker (`src/bin/qr.rs`, [`WORKER_URL`]) that the page starts on upload:
//! `rqrr` and its 64 KB Galois-field table are not part of any page bundle. The pixel → text
//! part is pure and tested natively.

use shoukuan_core::paycode::PayCode;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Longest side the image is scaled down to before detection: phone screenshots are
/// 1080×2400 and larger, and a 收款码 fills much of the screen, so this keeps detection fast
/// without losing the code.
pub const MAX_SIDE: u32 = 1200;

/// Shown when no QR could be read from the image.
pub const NO_QR: &str = "没有在图片中找到二维码，请上传清晰的收款码截图";

/// Shown when the browser cannot open the file as an image.
pub const NOT_AN_IMAGE: &str = "无法打开这张图片，请上传 PNG 或 JPG 格式的收款码截图";

/// Shown when the QR reader (a Web Worker) cannot be started or fails.
pub const READER_FAILED: &str = "读取二维码失败，请刷新页面后重试";

/// The QR reader's Web Worker script (Trunk's loader shim, at the root of `dist/`).
pub const WORKER_URL: &str = "/shoukuan-qr_loader.js";

/// The size to draw an image at so its longer side is at most `max` (never enlarged).
pub fn fit(width: u32, height: u32, max: u32) -> (u32, u32) {
    let longer = width.max(height);
    if longer <= max || longer == 0 {
        return (width, height);
    }
    let scale = |side: u32| ((u64::from(side) * u64::from(max)) / u64::from(longer)).max(1) as u32;
    (scale(width), scale(height))
}

/// Luma of RGBA pixels, composited on white (a transparent background must read as light).
pub fn grayscale(rgba: &[u8]) -> Vec<u8> {
    rgba.chunks_exact(4)
        .map(|p| {
            let luma =
                (u32::from(p[0]) * 299 + u32::from(p[1]) * 587 + u32::from(p[2]) * 114) / 1000;
            let alpha = u32::from(p[3]);
            ((luma * alpha + 255 * (255 - alpha)) / 255) as u8
        })
        .collect()
}

/// The text of the first readable QR in an RGBA image, or [`NO_QR`].
pub fn read_qr(width: u32, height: u32, rgba: &[u8]) -> Result<String, &'static str> {
    let (w, h) = (width as usize, height as usize);
    if w == 0 || h == 0 || rgba.len() < w * h * 4 {
        return Err(NO_QR);
    }
    let gray = grayscale(rgba);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| gray[y * w + x]);
    prepared
        .detect_grids()
        .iter()
        .find_map(|grid| grid.decode().ok().map(|(_, content)| content))
        .ok_or(NO_QR)
}

/// The WeChat receive code in an RGBA image, or the reason in Chinese.
pub fn read_pay_code(width: u32, height: u32, rgba: &[u8]) -> Result<PayCode, String> {
    let content = read_qr(width, height, rgba).map_err(str::to_owned)?;
    PayCode::parse(&content).map_err(|e| e.to_string())
}

/// Decodes the image at `url` (an object URL of the uploaded file): the browser draws it, the
/// QR reader's Web Worker reads it.
pub async fn read_pay_code_from_url(url: &str) -> Result<PayCode, String> {
    let (width, height, image) = pixels(url).await.map_err(|_| NOT_AN_IMAGE.to_owned())?;
    let content = read_in_worker(width, height, &image)
        .await
        .map_err(|_| READER_FAILED.to_owned())?
        .ok_or_else(|| NO_QR.to_owned())?;
    PayCode::parse(&content).map_err(|e| e.to_string())
}

/// [`read_pay_code_from_url`] without the Web Worker: the QR is read on the page (the DOM tests
/// check the browser's part with it; no page bundle calls it).
pub async fn read_pay_code_in_page(url: &str) -> Result<PayCode, String> {
    let (width, height, image) = pixels(url).await.map_err(|_| NOT_AN_IMAGE.to_owned())?;
    read_pay_code(width, height, &image.data().0)
}

/// Posts the pixels to a fresh QR reader worker and waits for its answer (the text, or `None`
/// when no QR was found); the worker is stopped afterwards.
async fn read_in_worker(
    width: u32,
    height: u32,
    image: &web_sys::ImageData,
) -> Result<Option<String>, JsValue> {
    let worker = web_sys::Worker::new(WORKER_URL)?;
    let answer = ask(&worker, width, height, image).await;
    worker.terminate();
    answer
}

async fn ask(
    worker: &web_sys::Worker,
    width: u32,
    height: u32,
    image: &web_sys::ImageData,
) -> Result<Option<String>, JsValue> {
    // The worker says it listens (`true`) once its WebAssembly has loaded: a message posted
    // before that would be dropped.
    next_message(worker).await?;
    let message = js_sys::Object::new();
    let pixels = js_sys::Reflect::get(image, &JsValue::from_str("data"))?;
    js_sys::Reflect::set(&message, &"w".into(), &width.into())?;
    js_sys::Reflect::set(&message, &"h".into(), &height.into())?;
    js_sys::Reflect::set(&message, &"px".into(), &pixels)?;
    worker.post_message(&message)?;
    Ok(next_message(worker).await?.as_string())
}

/// The data of the worker's next message (an error event if it fails to load or run).
async fn next_message(worker: &web_sys::Worker) -> Result<JsValue, JsValue> {
    let next = js_sys::Promise::new(&mut |resolve, reject| {
        worker.set_onmessage(Some(&resolve));
        worker.set_onerror(Some(&reject));
    });
    let event: web_sys::MessageEvent = JsFuture::from(next).await?.dyn_into()?;
    Ok(event.data())
}

/// The image at `url`, scaled to at most [`MAX_SIDE`], as RGBA pixels on white.
async fn pixels(url: &str) -> Result<(u32, u32, web_sys::ImageData), JsValue> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or(JsValue::NULL)?;
    let img = web_sys::HtmlImageElement::new()?;
    img.set_src(url);
    JsFuture::from(img.decode()).await?;
    let (width, height) = fit(img.natural_width(), img.natural_height(), MAX_SIDE);
    if width == 0 || height == 0 {
        return Err(JsValue::NULL);
    }
    let canvas: web_sys::HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
    canvas.set_width(width);
    canvas.set_height(height);
    let ctx: web_sys::CanvasRenderingContext2d =
        canvas.get_context("2d")?.ok_or(JsValue::NULL)?.dyn_into()?;
    let (w, h) = (f64::from(width), f64::from(height));
    ctx.set_fill_style_str("#fff");
    ctx.fill_rect(0.0, 0.0, w, h);
    ctx.draw_image_with_html_image_element_and_dw_and_dh(&img, 0.0, 0.0, w, h)?;
    Ok((width, height, ctx.get_image_data(0.0, 0.0, w, h)?))
}

#[cfg(test)]
mod tests {
    use shoukuan_core::qr::{Matrix, QUIET_ZONE};

    use super::*;

    /// An RGBA image of `content` as a QR, `module` pixels per module, drawn at (`left`, `top`)
    /// on a canvas of `width`×`height`, with `ink` as the dark colour and an optional
    /// transparent background.
    fn render(
        content: &str,
        module: u32,
        width: u32,
        height: u32,
        ink: [u8; 3],
        transparent: bool,
    ) -> Vec<u8> {
        let m = Matrix::encode(content).unwrap();
        let (left, top) = (40, 120);
        let mut rgba = Vec::with_capacity((width * height * 4) as usize);
        for y in 0..height {
            for x in 0..width {
                let mx = (i64::from(x) - left) / i64::from(module) - i64::from(QUIET_ZONE);
                let my = (i64::from(y) - top) / i64::from(module) - i64::from(QUIET_ZONE);
                let inside = x as i64 >= left && y as i64 >= top;
                if inside && m.is_dark(mx, my) {
                    rgba.extend_from_slice(&[ink[0], ink[1], ink[2], 255]);
                } else if transparent {
                    rgba.extend_from_slice(&[0, 0, 0, 0]);
                } else {
                    rgba.extend_from_slice(&[255, 255, 255, 255]);
                }
            }
        }
        rgba
    }

    const CODE: &str = "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5";

    #[test]
    fn a_screenshot_sized_image_yields_the_receive_code() {
        let rgba = render(CODE, 8, 540, 800, [0, 0, 0], false);
        assert_eq!(read_pay_code(540, 800, &rgba).unwrap().as_str(), CODE);
    }

    #[test]
    fn a_transparent_background_and_coloured_ink_still_read() {
        let rgba = render(CODE, 6, 400, 500, [20, 60, 30], true);
        assert_eq!(read_qr(400, 500, &rgba).unwrap(), CODE);
    }

    #[test]
    fn an_image_without_a_qr_says_so() {
        let blank = vec![255u8; 300 * 200 * 4];
        assert_eq!(read_pay_code(300, 200, &blank).unwrap_err(), NO_QR);
        assert_eq!(read_qr(0, 0, &[]).unwrap_err(), NO_QR);
    }

    #[test]
    fn a_qr_that_is_not_a_wechat_code_gets_the_paycode_reason() {
        let rgba = render(
            "https://qr.alipay.com/fkx12345abc",
            8,
            400,
            500,
            [0, 0, 0],
            false,
        );
        assert_eq!(
            read_pay_code(400, 500, &rgba).unwrap_err(),
            "这是支付宝收款码，请上传微信收款码"
        );
    }

    #[test]
    fn large_images_are_scaled_down_keeping_their_shape() {
        assert_eq!(fit(1080, 2400, 1200), (540, 1200));
        assert_eq!(fit(3000, 1000, 1200), (1200, 400));
        assert_eq!(fit(800, 600, 1200), (800, 600));
        assert_eq!(fit(10_000, 1, 1200), (1200, 1));
    }

    #[test]
    fn grayscale_puts_transparency_on_white() {
        assert_eq!(
            grayscale(&[0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]),
            vec![0, 255, 255]
        );
    }
}
