//! Inbound pushes: the flat `<xml>…</xml>` WeChat posts for messages and events, parsed with a
//! size cap and without any DTD or entity processing (a document that declares one is refused).

use quick_xml::events::Event;
use quick_xml::Reader;

/// Largest push accepted, in bytes.
pub const MAX_XML_BYTES: usize = 64 * 1024;

/// Why a push could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// The body is over [`MAX_XML_BYTES`].
    #[error("XML body is {len} bytes, over the {MAX_XML_BYTES}-byte limit")]
    TooLarge {
        /// Body length.
        len: usize,
    },
    /// The body declares a DTD or entities; refused so no entity can be expanded.
    #[error("XML with <!DOCTYPE or <!ENTITY is refused (no DTD or entity processing)")]
    Dtd,
    /// Not well-formed XML.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// A required element is absent.
    #[error("XML lacks <{0}>")]
    MissingField(&'static str),
    /// An element does not hold what it should (e.g. a non-numeric `CreateTime`).
    #[error("XML element <{field}> has an invalid value \"{value}\"")]
    BadField {
        /// Element name.
        field: &'static str,
        /// Its text.
        value: String,
    },
}

/// The child elements of the root, in document order, with their text (CDATA and escaped text
/// joined). Nested elements are skipped: WeChat pushes are flat for everything handled here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct XmlFields(Vec<(String, String)>);

impl XmlFields {
    /// Text of the first element called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn require(&self, name: &'static str) -> Result<&str, XmlError> {
        self.get(name).ok_or(XmlError::MissingField(name))
    }

    fn non_empty(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_string)
    }
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// Parses a flat WeChat XML document into its fields.
pub fn parse_fields(xml: &str) -> Result<XmlFields, XmlError> {
    if xml.len() > MAX_XML_BYTES {
        return Err(XmlError::TooLarge { len: xml.len() });
    }
    let upper = xml.to_ascii_uppercase();
    if upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY") {
        return Err(XmlError::Dtd);
    }
    let mut reader = Reader::from_str(xml);
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut saw_root = false;
    let mut current: Option<(String, String)> = None;
    loop {
        match reader.read_event().map_err(malformed)? {
            Event::Start(e) => {
                depth += 1;
                if depth == 1 {
                    if saw_root {
                        return Err(malformed("more than one root element"));
                    }
                    saw_root = true;
                } else if depth == 2 {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    current = Some((name, String::new()));
                }
            }
            Event::Empty(e) => {
                if depth == 0 {
                    saw_root = true;
                } else if depth == 1 {
                    let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                    fields.push((name, String::new()));
                }
            }
            Event::End(_) => {
                if depth == 2 {
                    if let Some(field) = current.take() {
                        fields.push(field);
                    }
                }
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => {
                if let (2, Some((_, text))) = (depth, current.as_mut()) {
                    text.push_str(&t.unescape().map_err(malformed)?);
                }
            }
            Event::CData(c) => {
                if let (2, Some((_, text))) = (depth, current.as_mut()) {
                    text.push_str(&c.decode().map_err(malformed)?);
                }
            }
            Event::DocType(_) => return Err(XmlError::Dtd),
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if depth != 0 {
        return Err(malformed("unclosed element"));
    }
    if !saw_root {
        return Err(malformed("no root element"));
    }
    Ok(XmlFields(fields))
}

/// What a push is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageKind {
    /// A text message.
    Text {
        /// The text.
        content: String,
        /// 64-bit message id (the dedup key for messages).
        msg_id: Option<u64>,
    },
    /// The user followed the account; via a parametric QR code when `scene` is set.
    Subscribe {
        /// The QR scene value, with WeChat's `qrscene_` prefix removed.
        scene: Option<String>,
        /// The QR ticket.
        ticket: Option<String>,
    },
    /// The user unfollowed (their data must be deleted).
    Unsubscribe,
    /// An existing follower scanned a parametric QR code.
    Scan {
        /// The QR scene value.
        scene: String,
        /// The QR ticket.
        ticket: Option<String>,
    },
    /// A `click` menu item.
    Click {
        /// The menu item's key.
        key: String,
    },
    /// A `view` menu item (the browser opens the URL).
    View {
        /// The target URL.
        url: String,
        /// The menu id.
        menu_id: Option<String>,
    },
    /// Any other message or event; ignored by design, but parsed rather than refused.
    Unknown {
        /// `MsgType`.
        msg_type: String,
        /// `Event`, for events.
        event: Option<String>,
    },
}

/// An inbound message or event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The account's id (`gh_…`).
    pub to_user_name: String,
    /// The user's openid.
    pub from_user_name: String,
    /// Unix seconds.
    pub create_time: i64,
    /// What it is.
    pub kind: MessageKind,
}

impl InboundMessage {
    /// Parses a (decrypted) push.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        let fields = parse_fields(xml)?;
        let create_time_text = fields.require("CreateTime")?;
        let create_time = create_time_text
            .trim()
            .parse()
            .map_err(|_| XmlError::BadField {
                field: "CreateTime",
                value: create_time_text.to_string(),
            })?;
        let msg_type = fields.require("MsgType")?.trim().to_string();
        let kind = if msg_type == "text" {
            let msg_id = match fields.non_empty("MsgId") {
                None => None,
                Some(text) => Some(text.trim().parse().map_err(|_| XmlError::BadField {
                    field: "MsgId",
                    value: text.clone(),
                })?),
            };
            MessageKind::Text {
                content: fields.get("Content").unwrap_or_default().to_string(),
                msg_id,
            }
        } else if msg_type == "event" {
            let event = fields.require("Event")?.trim().to_string();
            let event_key = fields.non_empty("EventKey");
            let ticket = fields.non_empty("Ticket");
            match event.to_ascii_lowercase().as_str() {
                "subscribe" => MessageKind::Subscribe {
                    scene: event_key.map(|key| {
                        key.strip_prefix("qrscene_")
                            .map(str::to_string)
                            .unwrap_or(key)
                    }),
                    ticket,
                },
                "unsubscribe" => MessageKind::Unsubscribe,
                "scan" => MessageKind::Scan {
                    scene: event_key.unwrap_or_default(),
                    ticket,
                },
                "click" => MessageKind::Click {
                    key: event_key.unwrap_or_default(),
                },
                "view" => MessageKind::View {
                    url: event_key.unwrap_or_default(),
                    menu_id: fields.non_empty("MenuId"),
                },
                _ => MessageKind::Unknown {
                    msg_type,
                    event: Some(event),
                },
            }
        } else {
            MessageKind::Unknown {
                msg_type,
                event: None,
            }
        };
        Ok(InboundMessage {
            to_user_name: fields.require("ToUserName")?.to_string(),
            from_user_name: fields.require("FromUserName")?.to_string(),
            create_time,
            kind,
        })
    }

    /// The key to drop redeliveries by (WeChat retries up to 3 times): `MsgId` for messages,
    /// `FromUserName + CreateTime` for events.
    pub fn dedup_key(&self) -> String {
        match &self.kind {
            MessageKind::Text {
                msg_id: Some(id), ..
            } => format!("msg:{id}"),
            _ => format!("evt:{}:{}", self.from_user_name, self.create_time),
        }
    }
}

/// The body of a safe-mode push: the encrypted message and, outside JSON mode, the account id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedEnvelope {
    /// `ToUserName`, when present.
    pub to_user_name: Option<String>,
    /// `Encrypt`: base64 ciphertext.
    pub encrypt: String,
}

impl EncryptedEnvelope {
    /// Parses `<xml><ToUserName>…</ToUserName><Encrypt>…</Encrypt></xml>`.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        let fields = parse_fields(xml)?;
        Ok(EncryptedEnvelope {
            to_user_name: fields.non_empty("ToUserName"),
            encrypt: fields
                .non_empty("Encrypt")
                .ok_or(XmlError::MissingField("Encrypt"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, extra: &str) -> String {
        format!(
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o_user]]></FromUserName>\
             <CreateTime>1714112445</CreateTime><MsgType><![CDATA[event]]></MsgType>\
             <Event><![CDATA[{name}]]></Event>{extra}</xml>"
        )
    }

    #[test]
    fn text_message_with_cdata_and_entities_is_read() {
        let xml = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>\n<FromUserName><![CDATA[o_user]]></FromUserName>\n\
                   <CreateTime>1348831860</CreateTime><MsgType><![CDATA[text]]></MsgType>\
                   <Content><![CDATA[收款 ]]>&amp; more</Content><MsgId>1234567890123456</MsgId></xml>";
        let message = InboundMessage::parse(xml).unwrap();
        assert_eq!(message.from_user_name, "o_user");
        assert_eq!(message.create_time, 1348831860);
        assert_eq!(
            message.kind,
            MessageKind::Text {
                content: "收款 & more".into(),
                msg_id: Some(1234567890123456)
            }
        );
        assert_eq!(message.dedup_key(), "msg:1234567890123456");
    }

    #[test]
    fn subscribe_via_qr_strips_the_qrscene_prefix() {
        let xml = event(
            "subscribe",
            "<EventKey><![CDATA[qrscene_c42]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket>",
        );
        assert_eq!(
            InboundMessage::parse(&xml).unwrap().kind,
            MessageKind::Subscribe {
                scene: Some("c42".into()),
                ticket: Some("TICKET".into())
            }
        );
        let plain = event("subscribe", "<EventKey><![CDATA[]]></EventKey>");
        assert_eq!(
            InboundMessage::parse(&plain).unwrap().kind,
            MessageKind::Subscribe {
                scene: None,
                ticket: None
            }
        );
    }

    #[test]
    fn each_handled_event_is_recognised() {
        let cases = [
            (event("unsubscribe", ""), MessageKind::Unsubscribe),
            (
                event(
                    "SCAN",
                    "<EventKey><![CDATA[c42]]></EventKey><Ticket>T</Ticket>",
                ),
                MessageKind::Scan {
                    scene: "c42".into(),
                    ticket: Some("T".into()),
                },
            ),
            (
                event("CLICK", "<EventKey><![CDATA[MY_COLLECTIONS]]></EventKey>"),
                MessageKind::Click {
                    key: "MY_COLLECTIONS".into(),
                },
            ),
            (
                event(
                    "VIEW",
                    "<EventKey><![CDATA[https://example.com/m]]></EventKey><MenuId>7</MenuId>",
                ),
                MessageKind::View {
                    url: "https://example.com/m".into(),
                    menu_id: Some("7".into()),
                },
            ),
            (
                event("LOCATION", "<Latitude>23.1</Latitude>"),
                MessageKind::Unknown {
                    msg_type: "event".into(),
                    event: Some("LOCATION".into()),
                },
            ),
        ];
        for (xml, kind) in cases {
            let message = InboundMessage::parse(&xml).unwrap();
            assert_eq!(message.kind, kind);
            assert_eq!(message.dedup_key(), "evt:o_user:1714112445");
        }
    }

    #[test]
    fn other_message_types_parse_as_unknown() {
        let xml = "<xml><ToUserName>a</ToUserName><FromUserName>b</FromUserName><CreateTime>1</CreateTime>\
                   <MsgType>image</MsgType><PicUrl>u</PicUrl><MsgId>5</MsgId></xml>";
        assert_eq!(
            InboundMessage::parse(xml).unwrap().kind,
            MessageKind::Unknown {
                msg_type: "image".into(),
                event: None
            }
        );
    }

    #[test]
    fn dtd_and_entity_declarations_are_refused() {
        let xxe =
            "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
                   <xml><Content>&x;</Content></xml>";
        assert_eq!(parse_fields(xxe), Err(XmlError::Dtd));
        assert_eq!(parse_fields("<!doctype xml><xml/>"), Err(XmlError::Dtd));
    }

    #[test]
    fn undeclared_entities_are_an_error_not_expanded() {
        assert!(matches!(
            parse_fields("<xml><Content>&x;</Content></xml>"),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let big = format!(
            "<xml><Content>{}</Content></xml>",
            "a".repeat(MAX_XML_BYTES)
        );
        assert!(matches!(parse_fields(&big), Err(XmlError::TooLarge { .. })));
    }

    #[test]
    fn broken_xml_and_missing_fields_are_errors() {
        assert!(matches!(
            parse_fields("<xml><a>1</b></xml>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            parse_fields("<xml><a>1</a>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(parse_fields(""), Err(XmlError::Malformed(_))));
        assert_eq!(
            InboundMessage::parse("<xml><MsgType>text</MsgType></xml>"),
            Err(XmlError::MissingField("CreateTime"))
        );
        assert_eq!(
            InboundMessage::parse("<xml><CreateTime>x</CreateTime></xml>"),
            Err(XmlError::BadField {
                field: "CreateTime",
                value: "x".into()
            })
        );
    }

    #[test]
    fn encrypted_envelope_needs_encrypt() {
        let envelope = EncryptedEnvelope::parse(
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[abc=]]></Encrypt></xml>",
        )
        .unwrap();
        assert_eq!(envelope.encrypt, "abc=");
        assert_eq!(envelope.to_user_name.as_deref(), Some("gh_1"));
        assert_eq!(
            EncryptedEnvelope::parse("<xml><ToUserName>gh</ToUserName></xml>"),
            Err(XmlError::MissingField("Encrypt"))
        );
    }
}
