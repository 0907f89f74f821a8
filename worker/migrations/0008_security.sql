-- Ready for the open internet: abuse counters, single-use OAuth states, certificate serials
-- recently tried. Times are Unix seconds unless the column name says _ms.

-- Fixed-window hit counters (core::ratelimit, worker::abuse). `bucket` is the limit's name and
-- the subject (a client address is stored hashed); one row per bucket, reset when its window
-- moves on. The cron deletes rows whose window ended a day ago.
CREATE TABLE rate_counters (
  bucket        TEXT PRIMARY KEY,
  window_start  INTEGER NOT NULL,
  hits          INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_counters_window ON rate_counters (window_start);

-- OAuth `state` values already used at /oauth/callback (SHA-256 of the signed state): a state
-- is good once. Kept past the state's own expiry, then pruned.
CREATE TABLE oauth_states_used (
  state_hash  TEXT PRIMARY KEY,
  used_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_states_used_at ON oauth_states_used (used_at);

-- Unknown platform-certificate serials a callback named, and when a refresh last looked for
-- them: a serial is looked for at most once per hour, whoever sends it.
CREATE TABLE wechatpay_serials_tried (
  serial     TEXT PRIMARY KEY,
  tried_at   INTEGER NOT NULL
) STRICT;

-- Per-payee quotas count rules and channels by owner.
CREATE INDEX keyword_rules_owner ON keyword_rules (owner_openid);
CREATE INDEX channels_owner ON channels (owner_openid);
CREATE INDEX menu_routes_owner ON menu_routes (owner_openid);
-- Unused-image cleanup scans by age.
CREATE INDEX images_created ON images (created_at);
-- The follower's payee (keyword replies) is looked up by the payer's latest order: served by
-- 0006's `orders_payer (payer_openid, created_at) WHERE payer_openid IS NOT NULL`.
