-- Merchant payments (WeChat Pay API v3): orders, callbacks, refunds, the daily limit, flags
-- for the payee, and the central platform-certificate cache. Money is integer fen; times are
-- Unix seconds unless the column name says _ms. Rules live in shoukuan-core (order, refund,
-- limits); these tables only hold their outcomes.

-- 'merchant': paid through WeChat Pay (JSAPI / Native) instead of the payee's receive code.
ALTER TABLE collections ADD COLUMN pay_mode TEXT NOT NULL DEFAULT 'personal'
  CHECK (pay_mode IN ('personal', 'merchant'));

CREATE TABLE orders (
  -- Public id (in /o/:id).
  id               TEXT PRIMARY KEY,
  out_trade_no     TEXT NOT NULL UNIQUE,
  collection_id    TEXT NOT NULL,
  -- The collection's owner: the daily limit is per payee.
  payee_openid     TEXT NOT NULL,
  amount_fen       INTEGER NOT NULL CHECK (amount_fen > 0),
  trade_type       TEXT NOT NULL CHECK (trade_type IN ('JSAPI', 'NATIVE')),
  payer_openid     TEXT,
  state            TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'paid', 'closed', 'refunding', 'refunded')),
  -- Asia/Shanghai calendar day (days since 1970-01-01) the order's amount counts toward.
  limit_day        INTEGER NOT NULL,
  prepay_id        TEXT,
  code_url         TEXT,
  expires_at       INTEGER NOT NULL,
  transaction_id   TEXT,
  paid_at          INTEGER,
  refunded_fen     INTEGER NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0 AND refunded_fen <= amount_fen),
  -- What made the last state change: 'callback', 'query', 'cron', 'close', 'prepay', 'refund'.
  changed_by       TEXT,
  last_query_at    INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX orders_state_created ON orders (state, created_at);
CREATE INDEX orders_payee_day ON orders (payee_openid, limit_day);
CREATE INDEX orders_collection ON orders (collection_id, created_at);
CREATE UNIQUE INDEX orders_transaction ON orders (transaction_id) WHERE transaction_id IS NOT NULL;

-- Every state change of an order, written by the database itself: one row per transition,
-- whoever made it and however many callbacks raced for it.
CREATE TABLE order_events (
  id          INTEGER PRIMARY KEY,
  order_id    TEXT NOT NULL,
  from_state  TEXT NOT NULL,
  to_state    TEXT NOT NULL,
  changed_by  TEXT,
  at          INTEGER NOT NULL
) STRICT;
CREATE INDEX order_events_order ON order_events (order_id);

CREATE TRIGGER orders_state_changed AFTER UPDATE OF state ON orders
WHEN OLD.state <> NEW.state
BEGIN
  INSERT INTO order_events (order_id, from_state, to_state, changed_by, at)
  VALUES (NEW.id, OLD.state, NEW.state, NEW.changed_by, NEW.updated_at);
END;

-- Verified notifications acted on, once each: the WeChat notification id is the dedupe key.
-- Never the body, the plaintext resource or any key: ids and the outcome only.
CREATE TABLE pay_notifications (
  id             TEXT PRIMARY KEY,
  event_type     TEXT NOT NULL,
  out_trade_no   TEXT,
  out_refund_no  TEXT,
  -- 'applied', 'duplicate', 'flagged', 'refused'
  outcome        TEXT NOT NULL,
  -- The key that signed it: a platform certificate serial or PUB_KEY_ID_….
  key_serial     TEXT NOT NULL,
  received_at    INTEGER NOT NULL
) STRICT;

-- What the payee must look at: a verified payment that disagrees with its order, a payment
-- after a local close, an abnormal refund. `dedupe_key` keeps retries from repeating a flag.
CREATE TABLE pay_flags (
  id            INTEGER PRIMARY KEY,
  dedupe_key    TEXT NOT NULL UNIQUE,
  order_id      TEXT,
  payee_openid  TEXT,
  kind          TEXT NOT NULL,
  message       TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  resolved_at   INTEGER
) STRICT;
CREATE INDEX pay_flags_payee ON pay_flags (payee_openid, created_at);

CREATE TABLE refunds (
  out_refund_no  TEXT PRIMARY KEY,
  order_id       TEXT NOT NULL,
  amount_fen     INTEGER NOT NULL CHECK (amount_fen > 0),
  reason         TEXT NOT NULL,
  state          TEXT NOT NULL DEFAULT 'processing'
                 CHECK (state IN ('processing', 'success', 'closed', 'abnormal')),
  refund_id      TEXT,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX refunds_order ON refunds (order_id);
CREATE INDEX refunds_state ON refunds (state, updated_at);

-- Payees whose identity the operator verified: the daily limit does not apply to them.
CREATE TABLE payee_verifications (
  openid       TEXT PRIMARY KEY,
  verified     INTEGER NOT NULL CHECK (verified IN (0, 1)),
  updated_at   INTEGER NOT NULL
) STRICT;

-- WeChat Pay platform certificates (certificate mode), downloaded from /v3/certificates and
-- shared by every isolate; the PEM is public data.
CREATE TABLE wechatpay_certificates (
  serial         TEXT PRIMARY KEY,
  pem            TEXT NOT NULL,
  effective_at   INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  fetched_at     INTEGER NOT NULL
) STRICT;

-- One row: who may refresh the certificate list now (a lease), and when it last happened, so
-- an unknown serial triggers one refresh for the whole deployment, never one per request.
CREATE TABLE wechatpay_certificate_refresh (
  id               INTEGER PRIMARY KEY CHECK (id = 1),
  lease_until_ms   INTEGER NOT NULL DEFAULT 0,
  lease_owner      TEXT,
  refreshed_at_ms  INTEGER NOT NULL DEFAULT 0,
  refreshes        INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO wechatpay_certificate_refresh (id) VALUES (1);

-- Test switches (honoured only with PAY_TEST_HOOKS=1): answer 500 to the next `remaining`
-- verified callbacks of an order, as if the worker were down.
CREATE TABLE pay_test_faults (
  out_trade_no  TEXT PRIMARY KEY,
  remaining     INTEGER NOT NULL
) STRICT;
