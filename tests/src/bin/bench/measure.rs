//! Loading a page in Chromium and timing it: the probe installed before any page script, the
//! unthrottled warm-up (files and their sizes), the throttled cold loads, and the checks that
//! the network and CPU emulation are in effect.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use shoukuan_tests::browser::Browser;
use shoukuan_tests::qr;
use shoukuan_tests::worker::Worker;

/// Request latency added by Chromium, ms.
pub const LATENCY_MS: u32 = 150;
/// Download throughput, bytes/s (1.6 Mbit/s).
pub const DOWN_BPS: u32 = 200_000;
/// One load may take this long before the bench gives up.
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);

/// Installed before any page script: records when the first `img.qr-img` has loaded, and when
/// the app has mounted (`data-ready` on `<body>` if the app ever sets it, else Trunk's
/// `TrunkApplicationStarted`, dispatched after `init()` ran the app's start, which mounts
/// synchronously).
pub const PROBE: &str = r#"(() => {
  if (window.top !== window) return;
  const b = window.__bench = { qr: null, trunk: null, dataReady: null };
  const watch = (img) => {
    if (img.__benchSeen) return;
    img.__benchSeen = true;
    const mark = () => { if (b.qr === null && img.naturalWidth > 0) b.qr = performance.now(); };
    if (img.complete && img.naturalWidth > 0) mark();
    else img.addEventListener('load', mark);
  };
  const scan = (node) => {
    if (node.nodeType !== 1) return;
    if (node.matches('img.qr-img')) watch(node);
    node.querySelectorAll('img.qr-img').forEach(watch);
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes') {
        if (r.target === document.body && b.dataReady === null && document.body.dataset.ready !== undefined) b.dataReady = performance.now();
      } else {
        r.addedNodes.forEach(scan);
      }
    }
  }).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ['data-ready'] });
  addEventListener('TrunkApplicationStarted', () => { if (b.trunk === null) b.trunk = performance.now(); });
})();"#;

/// What the probe recorded, and when the HTML response ended.
const PROBE_READ: &str = r#"const b = window.__bench || {};
const nav = performance.getEntriesByType('navigation')[0];
return { href: location.href, qr: b.qr ?? null, ready: b.dataReady ?? b.trunk ?? null,
         htmlEnd: nav ? nav.responseEnd : null };"#;

/// One page under test.
pub struct Page {
    /// What is measured (`split`, `price`, …); ours and its baseline share it.
    pub group: &'static str,
    /// `ours`, `baseline` or `leptos`.
    pub role: &'static str,
    pub url: String,
    /// What the QR the page shows must read (it must load before the page counts as ready).
    pub qr: Option<String>,
}

impl Page {
    pub fn name(&self) -> String {
        format!("{}/{}", self.group, self.role)
    }
}

/// One file a page loads.
pub struct File {
    pub path: String,
    pub kind: &'static str,
    pub raw: usize,
    pub gzip: usize,
    pub brotli: usize,
    /// What Chromium received in a timed load (wrangler dev's own gzip).
    pub wire: Option<usize>,
}

/// One cold load.
pub struct Load {
    /// When the QR `<img>` had loaded (pages with a QR).
    pub qr_ms: Option<f64>,
    /// When the page said it was ready (`body[data-ready]`, or Trunk's start event).
    pub ready_ms: f64,
}

/// Sends a DevTools command to the page.
pub async fn cdp(browser: &Browser, method: &str, params: Value) -> Result<Value> {
    browser
        .driver
        .cdp()
        .send_raw(method, params)
        .await
        .with_context(|| format!("CDP {method}"))
}

/// Loads `page` without throttling, waits until it is ready, checks that a QR on it decodes to
/// what [`Page::qr`] expects, and returns the files it loaded with their sizes.
pub async fn warm_up(browser: &Browser, worker: &Worker, page: &Page) -> Result<Vec<File>> {
    let d = &browser.driver;
    d.goto(&page.url).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let probe = browser.eval(PROBE_READ).await?;
        if probe["ready"].is_number() && (page.qr.is_none() || probe["qr"].is_number()) {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "{}: not ready within 30 s ({}): {probe}",
            page.name(),
            page.url
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if let Some(expected) = &page.qr {
        let shot = browser.full_screenshot().await?;
        let codes = qr::decode_png(&shot)?;
        ensure!(
            codes.iter().any(|c| c == expected),
            "{}: the QR on screen decodes to {codes:?}, not {expected}",
            page.name()
        );
    }

    // Settle, so late requests (the wasm after mounting, say) are listed too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Each resource with the size the browser decoded (for API answers that need the page's
    // credentials, which a plain re-fetch lacks).
    let entries = browser
        .eval("return [[location.href, 0]].concat(performance.getEntriesByType('resource').map(e => [e.name, e.decodedBodySize]));")
        .await?;
    let mut urls: Vec<(String, usize)> = Vec::new();
    for entry in entries.as_array().into_iter().flatten() {
        let Some(name) = entry[0].as_str() else {
            continue;
        };
        let is_image = [".svg", ".png", ".ico", ".jpg", ".gif", ".webp"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if name.starts_with(&worker.base) && !is_image && !urls.iter().any(|(u, _)| u == name) {
            urls.push((name.to_owned(), entry[1].as_u64().unwrap_or(0) as usize));
        }
    }
    let client = reqwest::Client::new();
    let mut files = Vec::new();
    for (i, (url, decoded)) in urls.iter().enumerate() {
        let resp = client.get(url).send().await?;
        let path = url.strip_prefix(&worker.base).unwrap_or(url).to_owned();
        let status = resp.status();
        if i > 0 && path.starts_with("/api/") && (status == 401 || status == 403) {
            // Signed-in or manage-token data: counted uncompressed (an upper bound).
            files.push(File {
                kind: "json",
                path,
                raw: *decoded,
                gzip: *decoded,
                brotli: *decoded,
                wire: None,
            });
            continue;
        }
        ensure!(
            status.is_success(),
            "{}: {url} answered {status}",
            page.name(),
        );
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body = resp.bytes().await?;
        files.push(File {
            kind: kind_of(i == 0, &path, &content_type),
            path,
            raw: body.len(),
            gzip: gzip9(&body)?,
            brotli: brotli11(&body)?,
            wire: None,
        });
    }
    Ok(files)
}

fn kind_of(document: bool, path: &str, content_type: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or(path);
    if document {
        "html"
    } else if path.ends_with(".wasm") {
        "wasm"
    } else if path.ends_with(".js") || content_type.contains("javascript") {
        "js"
    } else if path.ends_with(".css") || content_type.contains("css") {
        "css"
    } else if content_type.contains("json") {
        "json"
    } else if content_type.contains("html") {
        "html"
    } else {
        "other"
    }
}

pub fn gzip9(bytes: &[u8]) -> Result<usize> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(9));
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?.len())
}

pub fn brotli11(bytes: &[u8]) -> Result<usize> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        writer.write_all(bytes)?;
        writer.flush()?;
    }
    Ok(out.len())
}

/// One cold, throttled load of `page`.
pub async fn timed_load(browser: &Browser, page: &Page) -> Result<Load> {
    let d = &browser.driver;
    d.goto("about:blank").await?;
    cdp(browser, "Network.clearBrowserCache", json!({})).await?;
    d.goto(&page.url).await?;
    let deadline = Instant::now() + LOAD_TIMEOUT;
    loop {
        let probe = browser.eval(PROBE_READ).await?;
        // The fragment (a manage token) may be removed by the page.
        let without_fragment = |url: &str| url.split('#').next().unwrap_or_default().to_owned();
        let current =
            probe["href"].as_str().map(without_fragment) == Some(without_fragment(&page.url));
        let qr_ms = probe["qr"].as_f64();
        if let (true, Some(ready_ms)) = (current, probe["ready"].as_f64()) {
            if page.qr.is_none() || qr_ms.is_some() {
                return Ok(Load {
                    qr_ms: qr_ms.filter(|_| page.qr.is_some()),
                    // Ready means the main action works: for a page with a code, once it shows.
                    ready_ms: ready_ms.max(qr_ms.unwrap_or(0.0)),
                });
            }
        }
        ensure!(
            Instant::now() < deadline,
            "{}: not ready within {} s: {probe}",
            page.name(),
            LOAD_TIMEOUT.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// After the first throttled load of `page`: records the bytes that went over the wire for each
/// file (resource timing's `encodedBodySize`; wrangler dev compresses responses itself), and
/// checks that the emulation is in effect: the HTML took at least the emulated latency, and
/// every file over 50 KB on the wire at least ~80 % of its time at the emulated bandwidth.
pub async fn record_wire_sizes(browser: &Browser, page: &Page, files: &mut [File]) -> Result<()> {
    let timings = browser
        .eval(
            "const nav = performance.getEntriesByType('navigation')[0]; \
             return { htmlEnd: nav.responseEnd, htmlWire: nav.encodedBodySize, \
             res: performance.getEntriesByType('resource').map(e => { const u = new URL(e.name); \
               return [u.pathname + u.search, e.encodedBodySize, e.responseEnd - e.startTime]; }) };",
        )
        .await?;
    let html_end = timings["htmlEnd"].as_f64().unwrap_or(0.0);
    ensure!(
        html_end >= f64::from(LATENCY_MS) * 0.9,
        "{}: the HTML arrived after {html_end:.0} ms; network emulation is not in effect",
        page.name()
    );
    let entries = timings["res"].as_array().cloned().unwrap_or_default();
    for (i, file) in files.iter_mut().enumerate() {
        let (wire, took) = if i == 0 {
            (timings["htmlWire"].as_u64(), None)
        } else {
            match entries
                .iter()
                .find(|e| e[0].as_str() == Some(file.path.as_str()))
            {
                Some(e) => (e[1].as_u64(), e[2].as_f64()),
                None => (None, None),
            }
        };
        file.wire = wire.map(|w| w as usize);
        if let (Some(wire), Some(took)) = (file.wire, took) {
            let expected = wire as f64 / f64::from(DOWN_BPS) * 1000.0;
            ensure!(
                wire <= 50_000 || took >= expected * 0.8,
                "{}: {} ({wire} B on the wire) arrived in {took:.0} ms, expected ≥ {expected:.0} ms; \
                 network emulation is not in effect",
                page.name(),
                file.path
            );
        }
    }
    Ok(())
}

/// The fastest of three runs of a fixed busy loop on the current page, ms.
pub async fn busy_loop_ms(browser: &Browser) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let ms = browser
            .eval(
                "const t = performance.now(); let x = 0; \
                 for (let i = 0; i < 5e6; i++) x += Math.sqrt(i); \
                 return [performance.now() - t, x];",
            )
            .await?;
        best = best.min(ms[0].as_f64().context("busy loop time")?);
    }
    Ok(best)
}

/// After the first throttled load of `page`: the same busy loop must run clearly slower than
/// before throttling (4× expected; at least 2× accepted, the machine is shared).
pub async fn check_cpu_throttling(browser: &Browser, page: &Page, unthrottled: f64) -> Result<()> {
    let throttled = busy_loop_ms(browser).await?;
    let factor = throttled / unthrottled.max(0.1);
    println!("  {}: CPU check: busy loop {unthrottled:.0} ms → {throttled:.0} ms throttled (×{factor:.1})", page.name());
    ensure!(
        factor >= 2.0,
        "{}: CPU throttling is not in effect (×{factor:.1})",
        page.name()
    );
    Ok(())
}
