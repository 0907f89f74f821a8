//! The worker's JSON API, as the app calls it. Answers are interpreted by [`interpret`], a pure
//! function of (status, body text), so the mapping of every failure to a Chinese message is
//! tested natively.

use gloo_net::http::{Request, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use shoukuan_core::collection::{CollectionView, Created, ErrorBody, NewCollection};

/// Why an API call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// No usable answer: the network failed, or something other than the API answered (a
    /// proxy's HTML page). Worth retrying. The text is for the console only.
    Fetch(String),
    /// The server failed (5xx) without saying why in our JSON shape. Worth retrying later.
    Server(u16),
    /// The API answered with an error.
    Api {
        /// HTTP status.
        status: u16,
        /// The JSON body (synthesised from the status when the body was not JSON).
        body: ErrorBody,
    },
}

impl Error {
    /// `404`: the collection does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api { status: 404, .. })
    }

    /// `401`: the manage token is wrong.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Error::Api { status: 401, .. })
    }

    /// `403`: e.g. a wrong or missing invite code.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, Error::Api { status: 403, .. })
    }

    /// What to tell a person, in Chinese.
    pub fn message(&self) -> String {
        match self {
            Error::Fetch(_) => "网络不太好，请检查网络后重试".to_owned(),
            Error::Server(status) => format!("服务暂时出错（{status}），请稍后再试"),
            Error::Api { body, .. } if !body.message.trim().is_empty() => body.message.clone(),
            Error::Api { status, .. } => status_message(*status).to_owned(),
        }
    }
}

fn status_message(status: u16) -> &'static str {
    match status {
        401 => "管理链接无效：请使用发布时保存的完整管理链接",
        403 => "没有权限执行这个操作",
        404 => "找不到这个收款",
        413 => "提交的内容太大",
        429 => "操作太频繁，请稍后再试",
        _ => "请求没有成功，请稍后再试",
    }
}

fn status_code(status: u16) -> &'static str {
    match status {
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        413 => "PAYLOAD_TOO_LARGE",
        _ => "BAD_REQUEST",
    }
}

/// Turns an HTTP answer into the expected value or an [`Error`].
pub fn interpret<T: DeserializeOwned>(status: u16, body: &str) -> Result<T, Error> {
    if (200..300).contains(&status) {
        return serde_json::from_str(body)
            .map_err(|e| Error::Fetch(format!("unexpected answer ({status}): {e}")));
    }
    if status >= 500 {
        // A 5xx in the API's shape says why (e.g. 503 REMINDER_TEMPLATE_MISSING): show that.
        return match serde_json::from_str::<ErrorBody>(body) {
            Ok(body) if !body.message.trim().is_empty() => Err(Error::Api { status, body }),
            _ => Err(Error::Server(status)),
        };
    }
    let body = serde_json::from_str::<ErrorBody>(body).unwrap_or_else(|_| ErrorBody {
        code: status_code(status).to_owned(),
        message: String::new(),
        fields: Vec::new(),
    });
    Err(Error::Api { status, body })
}

/// `GET /api/config`: what this deployment has configured.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct Config {
    /// Whether publishing needs the operator's invite code.
    pub invite_required: bool,
    /// Whether split reminders through the Official Account are configured (its template).
    #[serde(default)]
    pub reminders: bool,
    /// How payees reach the operator (`OPERATOR_CONTACT`), shown while they wait for approval.
    #[serde(default)]
    pub operator_contact: Option<String>,
}

/// Sends a built request and interprets the answer.
pub(crate) async fn send<T: DeserializeOwned>(
    request: Result<Request, gloo_net::Error>,
) -> Result<T, Error> {
    let _in_flight = crate::ready::Call::start();
    let request = request.map_err(|e| Error::Fetch(e.to_string()))?;
    let response = request
        .send()
        .await
        .map_err(|e| Error::Fetch(e.to_string()))?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| Error::Fetch(e.to_string()))?;
    interpret(status, &text)
}

fn with_token(builder: RequestBuilder, token: &str) -> RequestBuilder {
    builder.header("Authorization", &format!("Bearer {token}"))
}

/// `GET /api/config`.
pub async fn config() -> Result<Config, Error> {
    send(Request::get("/api/config").build()).await
}

/// `POST /api/collections`.
pub async fn create(body: &NewCollection) -> Result<Created, Error> {
    send(Request::post("/api/collections").json(body)).await
}

/// `GET /api/collections/:id`.
pub async fn get(id: &str) -> Result<CollectionView, Error> {
    send(Request::get(&format!("/api/collections/{id}")).build()).await
}

/// `GET /api/collections/:id/manage` with the manage token (401 when it is wrong).
pub async fn get_managed(id: &str, token: &str) -> Result<CollectionView, Error> {
    send(
        with_token(
            Request::get(&format!("/api/collections/{id}/manage")),
            token,
        )
        .build(),
    )
    .await
}

/// A price page's buyer contacts (`GET /api/collections/:id/contacts`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Contacts {
    pub contacts: Vec<shoukuan_core::contact::ContactEntry>,
}

/// `GET /api/collections/:id/contacts` with the manage token: what buyers left.
pub async fn contacts(id: &str, token: &str) -> Result<Contacts, Error> {
    send(
        with_token(
            Request::get(&format!("/api/collections/{id}/contacts")),
            token,
        )
        .build(),
    )
    .await
}

/// `PUT /api/collections/:id` with the manage token: the collection's fields, and a price
/// page's `product` part.
pub async fn update(
    id: &str,
    token: &str,
    body: &shoukuan_core::publish::PublishBody,
) -> Result<CollectionView, Error> {
    send(with_token(Request::put(&format!("/api/collections/{id}")), token).json(body)).await
}

/// `GET /api/splits/:id`, of which the manage page reads only the rules (it edits their cap and
/// deadline): the list and the numbers are left unparsed, and their code out of its bundle.
pub async fn split_spec(id: &str) -> Result<shoukuan_core::split::SplitSpec, Error> {
    /// The part of a `SplitView` read here.
    #[derive(Deserialize)]
    struct Answer {
        spec: shoukuan_core::split::SplitSpec,
    }
    let answer: Answer = send(Request::get(&format!("/api/splits/{id}")).build()).await?;
    Ok(answer.spec)
}

/// `GET /api/products/:id`, of which the manage page reads only the product (it edits it), as
/// [`split_spec`] does.
pub async fn product(id: &str) -> Result<shoukuan_core::product::Product, Error> {
    /// The part of a `ProductView` read here.
    #[derive(Deserialize)]
    struct Answer {
        product: shoukuan_core::product::Product,
    }
    let answer: Answer = send(Request::get(&format!("/api/products/{id}")).build()).await?;
    Ok(answer.product)
}

/// `POST /api/collections/:id/close` with the manage token.
pub async fn close(id: &str, token: &str) -> Result<CollectionView, Error> {
    send(
        with_token(
            Request::post(&format!("/api/collections/{id}/close")),
            token,
        )
        .build(),
    )
    .await
}

/// `POST /api/collections/:id/reopen` with the manage token.
pub async fn reopen(id: &str, token: &str) -> Result<CollectionView, Error> {
    send(
        with_token(
            Request::post(&format!("/api/collections/{id}/reopen")),
            token,
        )
        .build(),
    )
    .await
}

/// `GET /api/orders/:id` (`refresh`: let the worker ask WeChat Pay while the order is pending).
pub async fn order(id: &str, refresh: bool) -> Result<shoukuan_core::order::OrderView, Error> {
    let query = if refresh { "?refresh=1" } else { "" };
    send(Request::get(&format!("/api/orders/{id}{query}")).build()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_bodies_are_parsed() {
        let config: Config = interpret(200, r#"{"invite_required":true}"#).unwrap();
        assert!(config.invite_required && !config.reminders);
        let config: Config =
            interpret(200, r#"{"invite_required":false,"reminders":true}"#).unwrap();
        assert!(config.reminders);
        let created: Created = interpret(
            201,
            r#"{"id":"aB3dE6gH9k","path":"/c/aB3dE6gH9k","manage_token":"t","manage_path":"/manage/aB3dE6gH9k#t=t"}"#,
        )
        .unwrap();
        assert_eq!(created.path, "/c/aB3dE6gH9k");
    }

    #[test]
    fn api_errors_keep_their_body_and_message() {
        let err = interpret::<Config>(
            400,
            r#"{"code":"VALIDATION","message":"输入有误","fields":[{"field":"note","code":"INVALID_TEXT","message":"备注太长"}]}"#,
        )
        .unwrap_err();
        assert_eq!(err.message(), "输入有误");
        let Error::Api { status: 400, body } = err else {
            panic!("{err:?}")
        };
        assert_eq!(body.fields[0].field, "note");
    }

    #[test]
    fn a_404_without_json_is_still_not_found() {
        let err = interpret::<Config>(404, "<html>Not Found</html>").unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(err.message(), "找不到这个收款");
        assert!(
            interpret::<Config>(404, r#"{"code":"NOT_FOUND","message":"找不到"}"#)
                .unwrap_err()
                .is_not_found()
        );
    }

    #[test]
    fn a_wrong_token_reads_plainly() {
        let err = interpret::<Config>(401, "").unwrap_err();
        assert!(err.is_unauthorized());
        assert!(err.message().contains("管理链接"), "{}", err.message());
    }

    #[test]
    fn server_errors_show_the_servers_message_and_never_blame_the_network() {
        let err = interpret::<Config>(
            503,
            r#"{"code":"REMINDER_TEMPLATE_MISSING","message":"未配置提醒模板"}"#,
        )
        .unwrap_err();
        assert_eq!(err.message(), "未配置提醒模板");
        for (status, body) in [(502, "<html>Bad gateway</html>"), (500, "")] {
            let err = interpret::<Config>(status, body).unwrap_err();
            assert_eq!(err, Error::Server(status));
            assert!(!err.message().contains("网络"), "{}", err.message());
            assert!(err.message().contains(&status.to_string()));
        }
        // A 200 that is not our JSON (e.g. an HTML fallback page) is not trusted either.
        assert!(matches!(
            interpret::<Config>(200, "<!doctype html>"),
            Err(Error::Fetch(_))
        ));
    }
}
