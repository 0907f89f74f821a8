//! The Content-Security-Policy of the pages the worker writes: scripts only from this site,
//! WeChat's JS-SDK host, and the inline scripts actually in the page, each allowed by its
//! SHA-256 (computed from the HTML at render time, so the app's Trunk loader, the share script
//! and the checkout script are covered whatever their build); `'wasm-unsafe-eval'` for the
//! app's WebAssembly; never `'unsafe-inline'` for scripts, never framed.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// WeChat's JS-SDK host (share cards load `jweixin` from it).
pub const JSSDK_ORIGIN: &str = "https://res.wx.qq.com";

/// The headers every answer carries, static assets included (`public/_headers` repeats them
/// for the asset server): `(name, value)`.
pub const COMMON_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "strict-origin-when-cross-origin"),
    ("x-frame-options", "DENY"),
    (
        "strict-transport-security",
        "max-age=31536000; includeSubDomains",
    ),
];

/// The policy for a response that is not a page (JSON, images): nothing runs, nothing frames it.
pub const NON_PAGE_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// `'sha256-…'` of every inline `<script>` (one without `src`) in `html`, in page order.
pub fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = find_ci(rest, "<script") {
        let after = &rest[start..];
        let Some(tag_end) = after.find('>') else {
            break;
        };
        let tag = &after[..tag_end];
        let body_and_more = &after[tag_end + 1..];
        let Some(close) = find_ci(body_and_more, "</script") else {
            break;
        };
        if !has_src(tag) {
            let digest = Sha256::digest(&body_and_more.as_bytes()[..close]);
            hashes.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        rest = &body_and_more[close..];
    }
    hashes
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn has_src(tag: &str) -> bool {
    let lower = tag.to_ascii_lowercase();
    lower
        .split(|c: char| c.is_ascii_whitespace())
        .any(|attr| attr.starts_with("src="))
}

/// The policy for an HTML page the worker wrote.
pub fn page_policy(html: &str) -> String {
    let hashes = inline_script_hashes(html);
    let mut scripts = vec!["'self'", "'wasm-unsafe-eval'", JSSDK_ORIGIN];
    scripts.extend(hashes.iter().map(String::as_str));
    format!(
        "default-src 'self'; script-src {}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'",
        scripts.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_inline_script_and_only_those_is_hashed() {
        let html =
            "<head><script type=\"module\">import init from '/app.js';\nawait init();</script>\
                    <script src=\"/x.js\"></script></head><body><SCRIPT>alert(1)</SCRIPT>\
                    <script id=\"d\" type=\"application/json\">{}</script></body>";
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 3, "{hashes:?}");
        // sha256("alert(1)"), the standard test vector for CSP hashes.
        let digest = Sha256::digest(b"alert(1)");
        let expected = format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        assert_eq!(hashes[1], expected);
        let policy = page_policy(html);
        assert!(policy.contains(&expected));
        let script_src = policy
            .split(';')
            .find(|d| d.trim().starts_with("script-src"))
            .unwrap();
        assert!(!script_src.contains("unsafe-inline") && !script_src.contains("'unsafe-eval'"));
        assert!(script_src.contains("'wasm-unsafe-eval'"));
        assert!(policy.ends_with("frame-ancestors 'none'"));
    }

    #[test]
    fn a_changed_script_gets_another_hash_and_unclosed_ones_none() {
        assert_ne!(
            inline_script_hashes("<script>a()</script>"),
            inline_script_hashes("<script>b()</script>")
        );
        assert!(inline_script_hashes("<p>no scripts</p><script>x(").is_empty());
        // `data-src` is not `src`.
        assert_eq!(
            inline_script_hashes("<script data-src=\"a\">x()</script>").len(),
            1
        );
    }
}
