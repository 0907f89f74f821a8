//! Abuse limits: how many times one subject (a client address, a publisher, a collection) may
//! do one thing within any `window_secs`. The worker counts hits in D1 (`worker::abuse`); the
//! numbers and the window arithmetic live here.
//!
//! The guarantee: **at most `max` hits are accepted in any interval of `window_secs`**, however
//! the hits fall against the clock. Counting per aligned window alone would let `max` in at the
//! end of one window and `max` more at the start of the next (2 × `max` within seconds); so
//! each window also carries the hits accepted in the window before it, and a hit is accepted
//! only while carried + this window's hits ≤ `max`. Any interval of `window_secs` lies within
//! two consecutive aligned windows, whose accepted hits together never exceed `max`. The price:
//! a subject that used all of `max` late in one window waits for the next but one (at most
//! 2 × `window_secs`).

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

    /// Whether the `count`-th hit of a window is still allowed (nothing carried).
    pub fn allows(&self, count: i64) -> bool {
        count <= self.max
    }

    /// The counter at `now` before a new hit, from the stored one (`None`: never hit): within
    /// the same window it is unchanged; in the next window it starts at zero hits and carries
    /// what the stored window accepted; after a gap it starts afresh.
    pub fn roll(&self, stored: Option<Counter>, now: i64) -> Counter {
        let window_start = self.window_start(now);
        match stored {
            Some(c) if c.window_start == window_start => c,
            Some(c) if c.window_start == window_start - self.window_secs.max(1) => Counter {
                window_start,
                hits: 0,
                carried: self.accepted(c),
            },
            _ => Counter {
                window_start,
                hits: 0,
                carried: 0,
            },
        }
    }

    /// How many of a window's `hits` were accepted: the first `max - carried`.
    pub fn accepted(&self, c: Counter) -> i64 {
        c.hits.min(self.max - c.carried).max(0)
    }

    /// The counter key of `subject` (already hashed or public) in the window of `now`.
    pub fn bucket(&self, subject: &str) -> String {
        format!("{}:{subject}", self.name)
    }

    /// Whether the latest hit counted in `c` (its `hits` include it) is accepted.
    pub fn admits(&self, c: Counter) -> bool {
        c.carried + c.hits <= self.max
    }
}

/// A subject's counter: every hit of the current aligned window (accepted or not), and the
/// hits the previous window accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Start of the window `hits` counts (Unix seconds).
    pub window_start: i64,
    /// Hits in that window, refused ones included.
    pub hits: i64,
    /// Hits the window before accepted.
    pub carried: i64,
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

    /// Hits at the given times through `roll` + `admits`, as the worker's upsert does them.
    fn accepted_at(l: &Limit, times: &[i64]) -> Vec<i64> {
        let mut stored = None;
        let mut accepted = Vec::new();
        for &t in times {
            let mut c = l.roll(stored, t);
            c.hits += 1;
            if l.admits(c) {
                accepted.push(t);
            }
            stored = Some(c);
        }
        accepted
    }

    #[test]
    fn a_flood_across_a_window_boundary_gets_max_not_twice_max() {
        let l = Limit {
            name: "t",
            max: 20,
            window_secs: 600,
        };
        // 2 000 hits over 20 s straddling the boundary at 600.
        let times: Vec<i64> = (0..2000).map(|i| 590 + i / 100).collect();
        assert_eq!(accepted_at(&l, &times).len(), 20);
        // Blocked for the rest of the next window, free again in the one after.
        let later = [590, 1199, 1200];
        assert_eq!(
            accepted_at(&l, &[&times[..], &later[1..]].concat()).len(),
            21
        );
    }

    #[test]
    fn no_interval_of_one_window_ever_accepts_more_than_max() {
        let l = Limit {
            name: "t",
            max: 5,
            window_secs: 60,
        };
        // A pseudo-random stream of hits over 20 windows.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut t = 0i64;
        let mut times = Vec::new();
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            t += (x % 3) as i64;
            times.push(t);
        }
        let accepted = accepted_at(&l, &times);
        assert!(accepted.len() > 20, "the limit still lets hits through");
        for (i, &start) in accepted.iter().enumerate() {
            let within = accepted[i..]
                .iter()
                .take_while(|&&a| a < start + 60)
                .count();
            assert!(
                within <= 5,
                "{within} accepted in [{start}, {})",
                start + 60
            );
        }
    }

    #[test]
    fn a_quiet_window_starts_afresh() {
        let l = Limit {
            name: "t",
            max: 2,
            window_secs: 60,
        };
        assert_eq!(
            accepted_at(&l, &[0, 1, 2, 200, 201, 202]),
            vec![0, 1, 200, 201]
        );
        // A window that accepted one carries one: the next accepts one more.
        assert_eq!(accepted_at(&l, &[59, 60, 61]), vec![59, 60]);
    }
}
