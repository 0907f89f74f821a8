//! The one error type at the edge: every failure becomes a status and a JSON
//! `{ "code", "message" }` body in Chinese. Internal causes are logged, never returned.

use shoukuan_core::collection::{ErrorBody, FieldError};
use worker::Response;

/// What went wrong while answering a request.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body is not the JSON we expect.
    BadJson(String),
    /// 400: one or more fields were refused.
    Invalid(Vec<FieldError>),
    /// 401: the manage token is missing or wrong.
    Unauthorized,
    /// 403: publishing needs the operator's invite code.
    Forbidden,
    /// 404: no such route or collection.
    NotFound,
    /// 409: the collection is closed.
    Closed,
    /// 413: the body is over the limit.
    TooLarge,
    /// 415: not `application/json`.
    UnsupportedMediaType,
    /// 500: storage or runtime failure; the cause goes to the log only.
    Internal(String),
    /// 401 `SIGN_IN_REQUIRED`: a payee session is needed (sign in through WeChat).
    SignInRequired,
    /// 403 `PAYEE_NOT_APPROVED`: signed in, but the operator has not approved this payee.
    NotApproved,
    /// 401 `OPERATOR_ONLY`: the operator's bearer secret is missing or wrong (or unset).
    OperatorOnly,
    /// 404 `NOT_FOUND` with the name of what is missing (e.g. "入口", "渠道").
    Missing(&'static str),
    /// 409 with a code and message (a key that is taken, a collection claimed by someone else).
    Conflict(&'static str, &'static str),
    /// 503 `OA_NOT_CONFIGURED`: the Official Account settings (WECHAT_*) are not configured.
    OaNotConfigured,
    /// 502 `WECHAT_UPSTREAM`: WeChat's API failed or timed out; the cause goes to the log only.
    Upstream(String),
    /// 503 with a code and message: a setting this feature needs is missing (e.g. `DATA_KEY`).
    Unavailable(&'static str, &'static str),
    /// 401 `NOT_PARTICIPANT`: the participant token of a sign-up is missing or wrong.
    NotParticipant,
    /// 413 `IMAGE_TOO_LARGE`: an uploaded image is over the limit.
    ImageTooLarge,
    /// Payments: the given status, code and Chinese message (e.g. 403 `DAILY_LIMIT` with the
    /// amount still receivable, 409 `OVER_REFUND`, 401 `PAYER_SIGN_IN_REQUIRED`).
    Pay(u16, &'static str, String),
}

impl From<worker::Error> for ApiError {
    fn from(e: worker::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl ApiError {
    /// The status and the JSON body this error answers with (also what a page shows when a
    /// plain form post is refused).
    pub fn status_and_body(self) -> (u16, ErrorBody) {
        let body = |code: &str, message: &str| ErrorBody {
            code: code.into(),
            message: message.into(),
            fields: vec![],
        };
        match self {
            ApiError::BadJson(detail) => (
                400,
                body("BAD_JSON", &format!("请求内容不是有效的 JSON：{detail}")),
            ),
            ApiError::Invalid(fields) => {
                let first = fields
                    .first()
                    .map(|f| f.code.clone())
                    .unwrap_or_else(|| "INVALID".into());
                let message = fields
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("；");
                (
                    400,
                    ErrorBody {
                        code: first,
                        message,
                        fields,
                    },
                )
            }
            ApiError::Unauthorized => (
                401,
                body("UNAUTHORIZED", "管理链接无效，请使用发布时获得的管理链接"),
            ),
            ApiError::Forbidden => (403, body("FORBIDDEN", "邀请码不正确，请向管理员获取邀请码")),
            ApiError::NotFound => (404, body("NOT_FOUND", "找不到这个收款")),
            ApiError::Closed => (409, body("CLOSED", "该收款已关闭，不能再修改")),
            ApiError::TooLarge => (413, body("BODY_TOO_LARGE", "请求内容过大（上限 64 KiB）")),
            ApiError::UnsupportedMediaType => (
                415,
                body("UNSUPPORTED_MEDIA_TYPE", "请以 application/json 提交"),
            ),
            ApiError::Internal(cause) => {
                worker::console_error!("internal error: {cause}");
                (500, body("INTERNAL", "服务暂时不可用，请稍后再试"))
            }
            ApiError::SignInRequired => {
                (401, body("SIGN_IN_REQUIRED", "请先在微信中登录收款方账号"))
            }
            ApiError::NotApproved => (
                403,
                body("PAYEE_NOT_APPROVED", "收款方账号尚未通过运营方审核"),
            ),
            ApiError::OperatorOnly => (
                401,
                body("OPERATOR_ONLY", "需要运营方密钥（OPERATOR_SECRET）"),
            ),
            ApiError::Missing(what) => (404, body("NOT_FOUND", &format!("找不到这个{what}"))),
            ApiError::Conflict(code, message) => (409, body(code, message)),
            ApiError::OaNotConfigured => (
                503,
                body("OA_NOT_CONFIGURED", "未配置公众号（WECHAT_APPID 等）"),
            ),
            ApiError::Unavailable(code, message) => (503, body(code, message)),
            ApiError::NotParticipant => {
                (401, body("NOT_PARTICIPANT", "只有报名本人可以修改这条接龙"))
            }
            ApiError::ImageTooLarge => {
                (413, body("IMAGE_TOO_LARGE", "图片过大，请换一张或重新选择"))
            }
            ApiError::Pay(status, code, message) => (status, body(code, &message)),
            ApiError::Upstream(cause) => {
                worker::console_error!("wechat api: {cause}");
                (
                    502,
                    body("WECHAT_UPSTREAM", "微信接口暂时不可用，请稍后再试"),
                )
            }
        }
    }

    /// The HTTP response for this error.
    pub fn into_response(self) -> worker::Result<Response> {
        let (status, body) = self.status_and_body();
        Ok(Response::from_json(&body)?.with_status(status))
    }
}
