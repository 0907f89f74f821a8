//! Passive replies (the HTTP response to a push): text and news, with every value in CDATA, and
//! the safe-mode envelope that wraps an encrypted reply.

use super::crypto::{self, EncodingAesKey, RANDOM_LEN};
use super::message::InboundMessage;
use super::signature::msg_signature;

/// Most articles a news reply may carry.
pub const MAX_ARTICLES: usize = 8;

/// Why a reply could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A news reply needs 1 to [`MAX_ARTICLES`] articles.
    #[error("a news reply needs 1 to {MAX_ARTICLES} articles, got {count}")]
    ArticleCount {
        /// Articles given.
        count: usize,
    },
}

/// `text` wrapped in CDATA; a `]]>` inside is split across two sections so it cannot end the
/// section early.
pub fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

/// A text reply. `to_user` is the user's openid (the push's `FromUserName`), `from_user` the
/// account id (its `ToUserName`).
pub fn text_reply(to_user: &str, from_user: &str, create_time: i64, content: &str) -> String {
    format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>{}</Content></xml>",
        cdata(to_user),
        cdata(from_user),
        cdata(content)
    )
}

/// One article of a news reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Article {
    /// Title.
    pub title: String,
    /// Summary line.
    pub description: String,
    /// Cover image URL.
    pub pic_url: String,
    /// Link opened on tap.
    pub url: String,
}

/// A news (图文) reply with 1 to [`MAX_ARTICLES`] articles.
pub fn news_reply(
    to_user: &str,
    from_user: &str,
    create_time: i64,
    articles: &[Article],
) -> Result<String, ReplyError> {
    if articles.is_empty() || articles.len() > MAX_ARTICLES {
        return Err(ReplyError::ArticleCount {
            count: articles.len(),
        });
    }
    let items: String = articles
        .iter()
        .map(|a| {
            format!(
                "<item><Title>{}</Title><Description>{}</Description><PicUrl>{}</PicUrl><Url>{}</Url></item>",
                cdata(&a.title),
                cdata(&a.description),
                cdata(&a.pic_url),
                cdata(&a.url)
            )
        })
        .collect();
    Ok(format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime><MsgType><![CDATA[news]]></MsgType><ArticleCount>{}</ArticleCount><Articles>{items}</Articles></xml>",
        cdata(to_user),
        cdata(from_user),
        articles.len()
    ))
}

impl InboundMessage {
    /// A text reply to this push (To/From swapped).
    pub fn reply_text(&self, create_time: i64, content: &str) -> String {
        text_reply(
            &self.from_user_name,
            &self.to_user_name,
            create_time,
            content,
        )
    }
}

/// The safe-mode reply envelope: `reply_xml` encrypted with a fresh `random`, signed over
/// `[token, timestamp, nonce, Encrypt]`.
pub fn encrypted_reply(
    token: &str,
    key: &EncodingAesKey,
    appid: &str,
    reply_xml: &str,
    timestamp: &str,
    nonce: &str,
    random: &[u8; RANDOM_LEN],
) -> String {
    let encrypt = crypto::encrypt(key, appid, reply_xml.as_bytes(), random);
    let signature = msg_signature(token, timestamp, nonce, &encrypt);
    format!(
        "<xml><Encrypt>{}</Encrypt><MsgSignature>{}</MsgSignature><TimeStamp>{}</TimeStamp><Nonce>{}</Nonce></xml>",
        cdata(&encrypt),
        cdata(&signature),
        timestamp,
        cdata(nonce)
    )
}

#[cfg(test)]
mod tests {
    use super::super::message::{parse_fields, MessageKind};
    use super::*;

    #[test]
    fn cdata_terminator_inside_text_survives_a_round_trip() {
        let tricky = "a]]>b<c>&d";
        let xml = text_reply("o", "gh", 1, tricky);
        assert_eq!(parse_fields(&xml).unwrap().get("Content"), Some(tricky));
    }

    #[test]
    fn reply_swaps_to_and_from() {
        let message = InboundMessage {
            to_user_name: "gh_1".into(),
            from_user_name: "o_user".into(),
            create_time: 1,
            kind: MessageKind::Unsubscribe,
        };
        let fields = parse_fields(&message.reply_text(2, "hi")).unwrap();
        assert_eq!(fields.get("ToUserName"), Some("o_user"));
        assert_eq!(fields.get("FromUserName"), Some("gh_1"));
        assert_eq!(fields.get("MsgType"), Some("text"));
        assert_eq!(fields.get("CreateTime"), Some("2"));
    }

    #[test]
    fn news_reply_counts_its_articles() {
        let article = Article {
            title: "收款".into(),
            description: "d".into(),
            pic_url: "https://p".into(),
            url: "https://u".into(),
        };
        let xml = news_reply("o", "gh", 1, std::slice::from_ref(&article)).unwrap();
        let fields = parse_fields(&xml).unwrap();
        assert_eq!(fields.get("ArticleCount"), Some("1"));
        assert!(xml.contains("<Title><![CDATA[收款]]></Title>"));
        assert_eq!(
            news_reply("o", "gh", 1, &[]),
            Err(ReplyError::ArticleCount { count: 0 })
        );
        let nine = vec![article; 9];
        assert_eq!(
            news_reply("o", "gh", 1, &nine),
            Err(ReplyError::ArticleCount { count: 9 })
        );
    }
}
