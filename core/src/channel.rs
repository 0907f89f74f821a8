//! Channel attribution (渠道): a payee's named source of payers — a printed poster, a shop
//! counter, a partner — with its own parametric QR code (`scene_str = "ch_<id>"`). Scans,
//! menu-jump visits and orders are attributed to a channel and summed as a funnel.

use serde::{Deserialize, Serialize};

use crate::collection::FieldError;
use crate::menu::{is_channel_id, MenuKey};

/// The scene prefix of a channel's QR code.
pub const SCENE_PREFIX: &str = "ch_";
/// Longest channel name, in characters.
pub const MAX_NAME_CHARS: usize = 20;
/// A scan attributes later visits and orders of the same openid for this long (30 days).
pub const ATTRIBUTION_WINDOW_SECS: i64 = 30 * 24 * 3600;

/// The scene string of a channel's QR code.
pub fn scene_for(channel_id: &str) -> String {
    format!("{SCENE_PREFIX}{channel_id}")
}

/// The channel id in a scene value, when it is one of ours.
pub fn channel_from_scene(scene: &str) -> Option<&str> {
    scene
        .strip_prefix(SCENE_PREFIX)
        .filter(|id| is_channel_id(id))
}

/// Temporary (≤ 30 days, unlimited number) or permanent (≤ 100 000 per account) QR code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// `QR_STR_SCENE`.
    Temporary,
    /// `QR_LIMIT_STR_SCENE`.
    Permanent,
}

impl ChannelKind {
    /// Storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Temporary => "temporary",
            ChannelKind::Permanent => "permanent",
        }
    }

    /// Reads a storage name.
    pub fn parse(s: &str) -> Option<ChannelKind> {
        match s {
            "temporary" => Some(ChannelKind::Temporary),
            "permanent" => Some(ChannelKind::Permanent),
            _ => None,
        }
    }
}

/// A channel as submitted (`POST /api/dash/channels`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewChannel {
    /// What the payee calls it (e.g. 门店海报).
    pub name: String,
    /// QR lifetime kind.
    pub kind: ChannelKind,
    /// For temporary codes: days until the code expires (1–30, default 30).
    #[serde(default)]
    pub expire_days: Option<i64>,
    /// The menu-jump key the channel's reply card opens (`/m/<route>?channel=<id>`).
    #[serde(default)]
    pub route: Option<String>,
}

/// A checked channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidChannel {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ChannelKind,
    /// For temporary codes: seconds of validity.
    pub expire_seconds: Option<i64>,
    /// The card's menu-jump key.
    pub route: Option<MenuKey>,
}

impl NewChannel {
    /// Checks every field; returns all problems at once.
    pub fn validate(&self) -> Result<ValidChannel, Vec<FieldError>> {
        let mut errors = Vec::new();
        let err = |field: &str, code: &str, message: &str| FieldError {
            field: field.into(),
            code: code.into(),
            message: message.into(),
        };
        let name = self.name.trim().to_string();
        let len = name.chars().count();
        if len == 0 || len > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            errors.push(err("name", "INVALID_TEXT", "渠道名称需要 1–20 个字"));
        }
        let expire_seconds = match (self.kind, self.expire_days) {
            (ChannelKind::Permanent, None) => None,
            (ChannelKind::Permanent, Some(_)) => {
                errors.push(err("expire_days", "INVALID_EXPIRY", "永久二维码没有有效期"));
                None
            }
            (ChannelKind::Temporary, days) => {
                let days = days.unwrap_or(30);
                if !(1..=30).contains(&days) {
                    errors.push(err(
                        "expire_days",
                        "INVALID_EXPIRY",
                        "临时二维码有效期为 1–30 天",
                    ));
                }
                Some(days.clamp(1, 30) * 86_400)
            }
        };
        let route = match self
            .route
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
        {
            None => None,
            Some(r) => match MenuKey::parse(r) {
                Some(key) => Some(key),
                None => {
                    errors.push(err("route", "INVALID_ROUTE", "入口标识不正确"));
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(ValidChannel {
                name,
                kind: self.kind,
                expire_seconds,
                route,
            })
        } else {
            Err(errors)
        }
    }
}

/// The channel a visit or order counts for: an explicit `channel` parameter wins; otherwise the
/// openid's last scan, if within [`ATTRIBUTION_WINDOW_SECS`].
pub fn attribute<'a>(
    explicit: Option<&'a str>,
    last_scan: Option<(&'a str, i64)>,
    now: i64,
) -> Option<&'a str> {
    explicit.or_else(|| {
        last_scan
            .filter(|(_, at)| now - at <= ATTRIBUTION_WINDOW_SECS)
            .map(|(id, _)| id)
    })
}

/// A channel's funnel: scans → visits → orders → paid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Funnel {
    /// QR scans (subscribe with scene, SCAN), each push once.
    pub scans: i64,
    /// Menu-jump visits attributed to the channel.
    pub visits: i64,
    /// Orders created by attributed payers.
    pub orders: i64,
    /// Of those, paid.
    pub paid_orders: i64,
    /// Paid amount in fen.
    pub paid_fen: i64,
    /// visits / scans, per mille (0 when there were no scans).
    pub visit_rate_permille: i64,
    /// paid orders / visits, per mille.
    pub pay_rate_permille: i64,
}

fn permille(part: i64, whole: i64) -> i64 {
    if whole <= 0 {
        0
    } else {
        part.saturating_mul(1000) / whole
    }
}

impl Funnel {
    /// A funnel from raw counts (negative counts, which storage never yields, read as 0).
    pub fn new(scans: i64, visits: i64, orders: i64, paid_orders: i64, paid_fen: i64) -> Funnel {
        let [scans, visits, orders, paid_orders, paid_fen] =
            [scans, visits, orders, paid_orders, paid_fen].map(|n| n.max(0));
        Funnel {
            scans,
            visits,
            orders,
            paid_orders,
            paid_fen,
            visit_rate_permille: permille(visits, scans),
            pay_rate_permille: permille(paid_orders, visits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenes_round_trip_and_foreign_scenes_are_ignored() {
        assert_eq!(
            channel_from_scene(&scene_for("Ch2345abcdEF")),
            Some("Ch2345abcdEF")
        );
        assert_eq!(channel_from_scene("123"), None);
        assert_eq!(channel_from_scene("ch_../x"), None);
        assert_eq!(channel_from_scene("ch_"), None);
    }

    #[test]
    fn channels_are_validated() {
        let good = NewChannel {
            name: " 门店海报 ".into(),
            kind: ChannelKind::Temporary,
            expire_days: None,
            route: Some("pay".into()),
        };
        let v = good.validate().unwrap();
        assert_eq!(v.name, "门店海报");
        assert_eq!(v.expire_seconds, Some(30 * 86_400));
        let permanent = NewChannel {
            kind: ChannelKind::Permanent,
            route: None,
            ..good.clone()
        };
        assert_eq!(permanent.validate().unwrap().expire_seconds, None);
        let bad = NewChannel {
            name: String::new(),
            kind: ChannelKind::Temporary,
            expire_days: Some(31),
            route: Some("a b".into()),
        };
        let codes: Vec<_> = bad
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|e| e.code)
            .collect();
        assert_eq!(codes, ["INVALID_TEXT", "INVALID_EXPIRY", "INVALID_ROUTE"]);
    }

    #[test]
    fn explicit_channel_wins_and_old_scans_expire() {
        assert_eq!(attribute(Some("A"), Some(("B", 0)), 10), Some("A"));
        assert_eq!(attribute(None, Some(("B", 0)), 10), Some("B"));
        assert_eq!(
            attribute(None, Some(("B", 0)), ATTRIBUTION_WINDOW_SECS + 1),
            None
        );
        assert_eq!(attribute(None, None, 10), None);
    }

    #[test]
    fn funnel_rates_are_integer_per_mille() {
        let f = Funnel::new(3, 2, 1, 1, 1234);
        assert_eq!(f.visit_rate_permille, 666);
        assert_eq!(f.pay_rate_permille, 500);
        assert_eq!(Funnel::new(0, 5, 0, 0, 0).visit_rate_permille, 0);
        assert_eq!(Funnel::new(-1, 0, 0, 0, 0).scans, 0);
    }
}
