//! Percent-encoding and query strings, just what the OAuth redirect, the menu-jump targets and
//! the WeChat API URLs need (no `url` dependency in `core`).

/// Percent-encodes a URL component: everything but RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`) becomes `%XX` (upper-case hex, UTF-8 bytes).
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a query component: `+` is a space and `%XX` a byte. `None` when an escape is
/// malformed or the bytes are not UTF-8.
pub fn decode_component(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let text = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(text, 16).ok()?);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// The decoded `name=value` pairs of a query string (without the leading `?`), in order.
/// Pairs whose escapes are malformed are dropped; a pair without `=` has an empty value.
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode_component(name)?, decode_component(value)?))
        })
        .collect()
}

/// The first value of `name` in a query string.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    parse_query(query)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Builds `name=value&…` with both sides encoded.
pub fn build_query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Host (without port) of an absolute `http(s)://` URL, lower-cased; `None` for anything else.
pub fn http_host(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        format!("[{}]", v6.split(']').next()?)
    } else {
        authority.split(':').next().unwrap_or_default().to_string()
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// `scheme://authority` of an absolute `http(s)://` URL (lower-cased), `None` otherwise.
pub fn http_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(format!("{scheme}://{}", authority.to_ascii_lowercase()))
}

/// Whether `url` is http(s) on a loopback host (`localhost`, `127.0.0.1`, `[::1]`): a local
/// run (the simulator), never a deployment.
pub fn is_loopback_url(url: &str) -> bool {
    http_origin(url).is_some_and(|origin| {
        origin
            .split_once("://")
            .is_some_and(|(_, authority)| crate::session::is_local_host(authority))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_only_local_hosts() {
        for url in [
            "http://127.0.0.1:8788",
            "http://localhost/x",
            "http://[::1]:80/",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://api.mch.weixin.qq.com",
            "http://127.0.0.1.evil.example",
            "http://user@127.0.0.1/",
            "ftp://127.0.0.1",
            "",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn components_round_trip_through_encoding() {
        for s in ["", "a b", "收款/c?x=1&y=#z", "~-._", "%+"] {
            assert_eq!(decode_component(&encode_component(s)).as_deref(), Some(s));
        }
        assert_eq!(
            encode_component("http://a.cn/o?x=1"),
            "http%3A%2F%2Fa.cn%2Fo%3Fx%3D1"
        );
    }

    #[test]
    fn malformed_escapes_are_refused() {
        assert_eq!(decode_component("%"), None);
        assert_eq!(decode_component("%zz"), None);
        assert_eq!(decode_component("%ff"), None);
        assert_eq!(decode_component("a+b"), Some("a b".into()));
    }

    #[test]
    fn query_pairs_are_decoded_in_order() {
        let q = parse_query("?a=1&b=%E6%94%B6&c&bad=%zz&a=2");
        assert_eq!(
            q,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "收".into()),
                ("c".into(), String::new()),
                ("a".into(), "2".into())
            ]
        );
        assert_eq!(query_value("a=1&a=2", "a").as_deref(), Some("1"));
        assert_eq!(build_query(&[("u", "a b"), ("s", "x")]), "u=a%20b&s=x");
    }

    #[test]
    fn hosts_and_origins_are_read_from_absolute_urls_only() {
        assert_eq!(
            http_host("https://Pay.Example.cn:8443/c/1?x#y").as_deref(),
            Some("pay.example.cn")
        );
        assert_eq!(http_host("http://[::1]:8787/").as_deref(), Some("[::1]"));
        assert_eq!(http_host("https://evil.cn@good.cn/"), None);
        assert_eq!(http_host("javascript:alert(1)"), None);
        assert_eq!(http_host("//evil.cn/x"), None);
        assert_eq!(
            http_origin("HTTP://127.0.0.1:8787/x").as_deref(),
            Some("http://127.0.0.1:8787")
        );
        assert_eq!(http_origin("ftp://x/"), None);
    }
}
