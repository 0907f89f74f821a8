//! The QR reader, as a Web Worker: `rqrr` and its 64 KB Galois-field table stay out of the page
//! bundles and off the main thread, and are downloaded only when a payee uploads a 收款码.
//!
//! Trunk builds it from `index.html`'s `data-type="worker"` link into `dist/` as
//! `shoukuan-qr_loader.js` (+ `shoukuan-qr.js`, `shoukuan-qr_bg.wasm`). Once loaded it posts
//! `true`; the page then posts `{ w, h, px }` (an RGBA `ImageData`'s size and data, [`shoukuan_app::decode`]) and gets the
//! text of the first readable QR back, or `null`.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

fn main() {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let reply = scope.clone();
    let on_message =
        Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |event: web_sys::MessageEvent| {
            let data = event.data();
            let field = |name: &str| js_sys::Reflect::get(&data, &JsValue::from_str(name)).ok();
            let side = |name: &str| field(name).and_then(|v| v.as_f64()).unwrap_or(0.0) as u32;
            let pixels = field("px")
                .map(|px| js_sys::Uint8Array::new(&px).to_vec())
                .unwrap_or_default();
            let answer = shoukuan_app::decode::read_qr(side("w"), side("h"), &pixels)
                .map_or(JsValue::NULL, |text| JsValue::from_str(&text));
            let _ = reply.post_message(&answer);
        });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    // Listening: the page waits for this before it posts the pixels.
    let _ = scope.post_message(&JsValue::TRUE);
}
