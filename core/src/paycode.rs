//! The content of a payee's personal WeChat 收款码, as decoded from the uploaded image.
//!
//! Only the text inside the QR is kept; the payer page re-renders it as a crisp image. We accept
//! WeChat's personal and business receive codes and refuse, with a reason a person understands,
//! what is recognisably something else (Alipay, a merchant order code that expires in two
//! hours, a web page, an add-friend card).

use serde::{Deserialize, Serialize};

/// A validated WeChat receive-money QR content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PayCode(String);

/// Why decoded QR content is not usable as a WeChat 收款码.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayCodeError {
    /// Nothing was decoded.
    #[error("请上传微信收款码图片")]
    Empty,
    /// An Alipay code.
    #[error("这是支付宝收款码，请上传微信收款码")]
    Alipay,
    /// A Native-pay order code (`weixin://wxpay/bizpayurl`): single-use and expires in 2 hours.
    #[error("这是商户订单二维码（2 小时后失效），请上传固定的微信收款码")]
    OrderCode,
    /// Some other QR (a web link, a contact card, …).
    #[error("这不是微信收款码，请在微信「收付款 → 二维码收款」中保存收款码后上传")]
    NotWeChatPay,
    /// Longer than any real receive code.
    #[error("二维码内容过长，不是有效的微信收款码")]
    TooLong,
}

const MAX_LEN: usize = 512;

/// Prefixes of WeChat receive codes: personal (`wxp://f2f0…`, `wxp://f2f1…`) and the
/// business/merchant receive codes served from WeChat Pay's hosts.
const ACCEPTED_PREFIXES: &[&str] = &[
    "wxp://",
    "https://payapp.weixin.qq.com/",
    "https://payapp.wechatpay.cn/",
    "https://wx.tenpay.com/",
];

impl PayCode {
    /// Checks decoded QR content.
    pub fn parse(content: &str) -> Result<Self, PayCodeError> {
        let s = content.trim();
        if s.is_empty() {
            return Err(PayCodeError::Empty);
        }
        if s.len() > MAX_LEN {
            return Err(PayCodeError::TooLong);
        }
        let lower = s.to_ascii_lowercase();
        if lower.contains("alipay.com") || lower.starts_with("alipays://") {
            return Err(PayCodeError::Alipay);
        }
        if lower.starts_with("weixin://wxpay/bizpayurl") {
            return Err(PayCodeError::OrderCode);
        }
        let accepted = ACCEPTED_PREFIXES.iter().any(|p| lower.starts_with(p));
        let payload = s.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        // Everything after the scheme must be plain URL characters: no spaces, quotes or
        // angle brackets that could be smuggled into HTML.
        let plain = payload
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b))
            && !payload.contains(['\'', '(', ')']);
        if !accepted || !plain || payload.len() < 8 {
            return Err(PayCodeError::NotWeChatPay);
        }
        Ok(PayCode(s.to_owned()))
    }

    /// The QR content.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PayCode {
    type Error = PayCodeError;
    fn try_from(s: String) -> Result<Self, PayCodeError> {
        Self::parse(&s)
    }
}

impl From<PayCode> for String {
    fn from(v: PayCode) -> String {
        v.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_personal_and_business_receive_codes() {
        for ok in [
            "wxp://f2f0a3QxLb9kXyZ0v8Xl1n7oRXdF0Ffd0Lh5",
            "wxp://f2f1Jd8tDbU3m2YqHjN1ZtY7sX4",
            "https://payapp.weixin.qq.com/qr/AQHt8xW3dQ?t=GAAA",
        ] {
            assert_eq!(PayCode::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_other_codes_with_the_reason() {
        let cases = [
            ("", PayCodeError::Empty),
            ("https://qr.alipay.com/fkx12345abc", PayCodeError::Alipay),
            (
                "weixin://wxpay/bizpayurl?pr=Abc1234",
                PayCodeError::OrderCode,
            ),
            ("https://example.com/pay", PayCodeError::NotWeChatPay),
            ("https://u.wechat.com/EJ3abcdef", PayCodeError::NotWeChatPay),
            ("wxp://f2f0\"><script>", PayCodeError::NotWeChatPay),
            ("wxp://x", PayCodeError::NotWeChatPay),
        ];
        for (input, err) in cases {
            assert_eq!(PayCode::parse(input), Err(err), "{input:?}");
        }
        assert_eq!(
            PayCode::parse(&format!("wxp://{}", "a".repeat(600))),
            Err(PayCodeError::TooLong)
        );
    }
}
