-- The Official Account front door: payee accounts, menu-jump routes, keyword replies, the
-- custom menu, the central WeChat credential cache, message-server dedupe, and channels.
-- Times are Unix seconds unless the column name says _ms.

-- Payees: openids that signed in to the dashboard; the operator approves them.
CREATE TABLE payee_accounts (
  openid      TEXT PRIMARY KEY,
  status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'revoked')),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;

-- A collection published by (or claimed into) a payee account; NULL for manage-link-only ones.
ALTER TABLE collections ADD COLUMN owner_openid TEXT;
CREATE INDEX collections_owner ON collections (owner_openid);

-- `/m/:key` → an allow-listed app path (checked by core::menu::AppTarget on write and read).
CREATE TABLE menu_routes (
  key           TEXT PRIMARY KEY,
  target        TEXT NOT NULL,
  -- NULL: created by the operator.
  owner_openid  TEXT,
  created_at    INTEGER NOT NULL
) STRICT;

-- Keyword replies (core::keywords). reply_value is the text, or a collection id.
CREATE TABLE keyword_rules (
  id            INTEGER PRIMARY KEY,
  trigger       TEXT NOT NULL CHECK (trigger IN ('exact', 'contains', 'subscribe')),
  pattern       TEXT NOT NULL,
  priority      INTEGER NOT NULL DEFAULT 0,
  reply_type    TEXT NOT NULL CHECK (reply_type IN ('text', 'collection')),
  reply_value   TEXT NOT NULL,
  owner_openid  TEXT,
  created_at    INTEGER NOT NULL
) STRICT;

-- The custom menu as defined (core::menu::MenuDef JSON); one per deployment.
CREATE TABLE oa_menu (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  definition    TEXT NOT NULL,
  updated_at    INTEGER NOT NULL,
  published_at  INTEGER
) STRICT;

-- access_token and jsapi_ticket, shared by every isolate. One request holds the lease and
-- refreshes; the others reuse the value or wait (core::oa_api::CacheEntry).
CREATE TABLE wechat_credentials (
  name            TEXT PRIMARY KEY CHECK (name IN ('access_token', 'jsapi_ticket')),
  value           TEXT,
  expires_at_ms   INTEGER NOT NULL DEFAULT 0,
  lease_until_ms  INTEGER NOT NULL DEFAULT 0,
  lease_owner     TEXT,
  -- Set when WeChat refused the value (40001): the next refresh forces a new one.
  invalidated     INTEGER NOT NULL DEFAULT 0,
  refreshes       INTEGER NOT NULL DEFAULT 0,
  updated_at_ms   INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Every push acted on, once: the dedupe key is MsgId, or FromUserName + CreateTime + Event.
-- `reply` is the plain passive reply, answered again to a retry whose first answer was lost.
-- Message contents are never stored.
CREATE TABLE mp_pushes (
  dedup_key   TEXT PRIMARY KEY,
  openid      TEXT,
  kind        TEXT NOT NULL,
  detail      TEXT,
  reply       TEXT,
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX mp_pushes_created ON mp_pushes (created_at);

-- Channels with their parametric QR code (scene_str = 'ch_' || id).
CREATE TABLE channels (
  id            TEXT PRIMARY KEY,
  owner_openid  TEXT,
  name          TEXT NOT NULL,
  kind          TEXT NOT NULL CHECK (kind IN ('temporary', 'permanent')),
  route_key     TEXT,
  qr_ticket     TEXT NOT NULL,
  qr_url        TEXT NOT NULL,
  -- NULL for permanent codes.
  expires_at    INTEGER,
  created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE channel_scans (
  id          INTEGER PRIMARY KEY,
  channel_id  TEXT NOT NULL,
  openid      TEXT,
  subscribed  INTEGER NOT NULL,
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX channel_scans_channel ON channel_scans (channel_id);

-- The last channel each openid scanned (attribution of later visits and orders).
CREATE TABLE openid_channels (
  openid      TEXT PRIMARY KEY,
  channel_id  TEXT NOT NULL,
  scanned_at  INTEGER NOT NULL
) STRICT;

-- Menu-jump visits (`/m/:key`), with the channel they are attributed to.
CREATE TABLE visits (
  id          INTEGER PRIMARY KEY,
  target      TEXT NOT NULL,
  channel_id  TEXT,
  openid      TEXT,
  in_wechat   INTEGER NOT NULL,
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX visits_channel ON visits (channel_id);

-- Orders attributed to a channel (written by the payments code through channels::record_order*).
CREATE TABLE channel_orders (
  out_trade_no  TEXT PRIMARY KEY,
  channel_id    TEXT NOT NULL,
  openid        TEXT,
  amount_fen    INTEGER NOT NULL CHECK (amount_fen > 0),
  status        TEXT NOT NULL DEFAULT 'created' CHECK (status IN ('created', 'paid')),
  created_at    INTEGER NOT NULL,
  paid_at       INTEGER
) STRICT;
CREATE INDEX channel_orders_channel ON channel_orders (channel_id);
