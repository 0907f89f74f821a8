//! Abuse limits: how many times one subject (a client address, a publisher, a collection) may
//! do one thing within a fixed window. The worker counts hits in D1 (`worker::abuse`); the
//! numbers and the window arithmetic live here.

/// One limit: at most `max` hits per `window_secs`, counted per subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Short stable name, the counter's prefix (`signup`, `upload`, …).
    pub name: &'static str,
    /// Hits allowed in one window.
    pub max: i64,
    /// Window length in seconds.
    pub window_secs: i64,
}

impl Limit {
    /// The start (Unix seconds) of the window `now` falls in.
    pub fn window_start(&self, now: i64) -> i64 {
        now - now.rem_euclid(self.window_secs.max(1))
    }

    /// Seconds until the window of `now` ends (what `Retry-After` says).
    pub fn retry_after(&self, now: i64) -> i64 {
        self.window_start(now) + self.window_secs.max(1) - now
    }

    /// Whether the `count`-th hit of a window is still allowed.
    pub fn allows(&self, count: i64) -> bool {
        count <= self.max
    }

    /// The counter key of `subject` (already hashed or public) in the window of `now`.
    pub fn bucket(&self, subject: &str) -> String {
        format!("{}:{subject}", self.name)
    }
}

/// Sign-ups to splits from one client, across every split (a person signs up a few people).
pub const SIGNUP_PER_CLIENT: Limit = Limit {
    name: "signup-client",
    max: 20,
    window_secs: 600,
};
/// Sign-ups to one split, from everyone (a group of 500 fills in well under this).
pub const SIGNUP_PER_SPLIT: Limit = Limit {
    name: "signup-split",
    max: 600,
    window_secs: 600,
};
/// Image uploads per publisher (payee openid, or client address in invite mode) per day.
pub const UPLOAD_PER_PUBLISHER: Limit = Limit {
    name: "upload",
    max: 60,
    window_secs: 86_400,
};
/// Menu-jump visits recorded per client per minute (the jump itself always works).
pub const VISIT_PER_CLIENT: Limit = Limit {
    name: "visit",
    max: 30,
    window_secs: 60,
};
/// Wrong invite codes per client per hour.
pub const INVITE_GUESS_PER_CLIENT: Limit = Limit {
    name: "invite",
    max: 10,
    window_secs: 3600,
};
/// Orders created per client per 10 minutes.
pub const ORDER_PER_CLIENT: Limit = Limit {
    name: "order-client",
    max: 10,
    window_secs: 600,
};
/// Orders created per collection per minute (each costs a prepay call to WeChat).
pub const ORDER_PER_COLLECTION: Limit = Limit {
    name: "order-collection",
    max: 60,
    window_secs: 60,
};
/// Keyword rules one payee keeps.
pub const RULES_PER_PAYEE: i64 = 30;
/// Channels one payee keeps.
pub const CHANNELS_PER_PAYEE: i64 = 20;
/// Menu-jump routes one payee keeps.
pub const ROUTES_PER_PAYEE: i64 = 20;
/// Images no collection uses are deleted after this long (an upload's publish form has had
/// ample time to finish).
pub const UNUSED_IMAGE_TTL_SECS: i64 = 86_400;

// Checked when compiling: one client can never fill a split alone, nor a collection's order
// budget.
const _: () = assert!(SIGNUP_PER_CLIENT.max < SIGNUP_PER_SPLIT.max / 10);
const _: () = assert!(ORDER_PER_CLIENT.max < ORDER_PER_COLLECTION.max);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_retry_after_counts_down() {
        let l = Limit {
            name: "t",
            max: 2,
            window_secs: 60,
        };
        assert_eq!(l.window_start(120), 120);
        assert_eq!(l.window_start(179), 120);
        assert_eq!(l.window_start(180), 180);
        assert_eq!(l.retry_after(120), 60);
        assert_eq!(l.retry_after(179), 1);
        assert!(l.allows(1) && l.allows(2) && !l.allows(3));
        assert_eq!(l.bucket("abc"), "t:abc");
    }
}
