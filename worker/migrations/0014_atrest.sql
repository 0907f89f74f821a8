-- Issue 14 (openids at rest): followers' and payers' openids are no longer stored in clear.
-- Where only equality is needed a column holds the keyed hash of the openid
-- (`worker::personal_data::openid_key`, 32 hex digits); where the openid is needed back it is
-- sealed with the data key and bound to its row (`v<key version>.…`).
--
-- Hashing and sealing need the worker's keys, so existing rows cannot be converted here: the
-- operator's `shoukuan data rotate` (POST /api/operator/data/rotate) converts them in batches
-- and clears the clear columns. Until then readers see only converted rows. New writes never
-- write a clear openid.
--
-- Payees' own openids (payee_accounts, collections.owner_openid, orders.payee_openid, …) stay:
-- they are account identifiers the operator approves by, shown on the payee's own dashboard
-- and in the operator's CLI, not data about a member of the public.

-- Orders: the payer (JSAPI session or the callback's payer.openid) — hash for lookups
-- (self-service 订单, the payer's own orders, OA routing), sealed copy for points.
ALTER TABLE orders ADD COLUMN payer_hash TEXT;
ALTER TABLE orders ADD COLUMN payer_sealed TEXT;
CREATE INDEX orders_payer_hash ON orders (payer_hash, created_at) WHERE payer_hash IS NOT NULL;

-- Pushes, scans, visits, channel orders: only ever matched (unsubscribe clears them).
ALTER TABLE mp_pushes ADD COLUMN openid_key TEXT;
CREATE INDEX mp_pushes_openid_key ON mp_pushes (openid_key) WHERE openid_key IS NOT NULL;
ALTER TABLE channel_scans ADD COLUMN openid_key TEXT;
CREATE INDEX channel_scans_openid_key ON channel_scans (openid_key) WHERE openid_key IS NOT NULL;
ALTER TABLE visits ADD COLUMN openid_key TEXT;
CREATE INDEX visits_openid_key ON visits (openid_key) WHERE openid_key IS NOT NULL;
ALTER TABLE channel_orders ADD COLUMN openid_key TEXT;

-- The last channel each follower scanned, by hash (replaces openid_channels, whose rows the
-- conversion moves here and deletes).
CREATE TABLE channel_followers (
  openid_key  TEXT PRIMARY KEY,
  channel_id  TEXT NOT NULL,
  scanned_at  INTEGER NOT NULL
) STRICT;

-- Follow-ups owed to a follower: the customer-service message needs the openid back, so it
-- is sealed to the order; the hash finds them on unsubscribe. The old table keeps its rows
-- until the conversion moves them.
ALTER TABLE oa_followups RENAME TO oa_followups_clear;
CREATE TABLE oa_followups (
  order_id       TEXT PRIMARY KEY,
  openid_key     TEXT NOT NULL,
  openid_sealed  TEXT NOT NULL,
  asked_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX oa_followups_sealed_asked ON oa_followups (asked_at);
CREATE INDEX oa_followups_openid_key ON oa_followups (openid_key);

-- Abuse limits hold in any interval of the window, not per aligned window
-- (`core::ratelimit`): each counter carries the hits its previous window accepted.
ALTER TABLE rate_counters ADD COLUMN carried INTEGER NOT NULL DEFAULT 0;
