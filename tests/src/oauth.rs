//! Signing in "inside WeChat" through the simulator's OAuth, as the end-to-end tests and the
//! benchmark (a signed-in `/dash`) do.

use crate::worker::Worker;

/// An HTTP client that shows redirects instead of following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The `Location` header of a redirect ("" when absent).
pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Opens `entry` inside "WeChat" as the simulator's user `openid`, follows the OAuth hops
/// (worker → simulated consent → `/oauth/callback`) and returns the session cookie
/// `cookie_name=…` that the callback set.
pub async fn wechat_session(
    worker: &Worker,
    entry: &str,
    openid: &str,
    cookie_name: &str,
) -> String {
    use crate::browser::WECHAT_IOS_UA;
    let client = no_redirects();
    let resp = client
        .get(worker.url(entry))
        .header("user-agent", WECHAT_IOS_UA)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "{entry}");
    // The OAuth nonce cookie the browser keeps for the callback (login CSRF binding).
    let nonce = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| h.split(';').next().filter(|p| p.starts_with("sk_oauth=")))
        .unwrap_or_default()
        .to_string();
    let authorize = location(&resp);
    assert!(
        authorize.contains("/connect/oauth2/authorize?"),
        "{authorize}"
    );
    let authorize = authorize.split('#').next().unwrap().to_string();
    let resp = client
        .get(format!("{authorize}&sim_openid={openid}"))
        .send()
        .await
        .unwrap();
    let callback = location(&resp);
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
        "{callback}: {}",
        resp.text().await.unwrap_or_default()
    );
    let prefix = format!("{cookie_name}=");
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| h.split(';').next().filter(|p| p.starts_with(&prefix)))
        .unwrap_or_else(|| panic!("no {cookie_name} session cookie"))
        .to_string()
}
