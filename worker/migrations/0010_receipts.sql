-- Receipts (电子回单) and outbound accounting webhooks. Times are Unix seconds; money is fen.

-- One receipt per verified payment (order) or per payee-confirmed split entry. The signed
-- document (core::receipt::SignedReceipt as JSON) is sealed with DATA_KEY; the plain columns
-- only find and list it.
CREATE TABLE receipts (
  id             TEXT PRIMARY KEY,
  -- 'order:<order id>' or 'participant:<participant id>': one receipt per payment.
  source         TEXT NOT NULL UNIQUE,
  payee_openid   TEXT,
  collection_id  TEXT NOT NULL,
  confirmed_by   TEXT NOT NULL CHECK (confirmed_by IN ('wechat_pay', 'payee')),
  key_id         TEXT NOT NULL,
  sealed         TEXT NOT NULL,
  created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX receipts_payee ON receipts (payee_openid, created_at);

-- Where a payee (owner_openid) or the operator (owner_openid NULL) wants events POSTed. The
-- signing secret is sealed with DATA_KEY (it must be read back to sign).
CREATE TABLE webhook_endpoints (
  id             TEXT PRIMARY KEY,
  owner_openid   TEXT,
  url            TEXT NOT NULL,
  secret_sealed  TEXT NOT NULL,
  created_at     INTEGER NOT NULL,
  disabled_at    INTEGER
) STRICT;
CREATE INDEX webhook_endpoints_owner ON webhook_endpoints (owner_openid);

-- One event for one endpoint. `event_id` is the same on every attempt and resend; the
-- (endpoint, event) pair is unique so a repeated hook queues nothing new.
CREATE TABLE webhook_deliveries (
  id               TEXT PRIMARY KEY,
  endpoint_id      TEXT NOT NULL,
  event_id         TEXT NOT NULL,
  event_type       TEXT NOT NULL,
  body             TEXT NOT NULL,
  -- 'pending' (an attempt is due at next_attempt_at), 'delivered', 'failed' (gave up).
  state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  first_attempt_at INTEGER,
  next_attempt_at  INTEGER,
  created_at       INTEGER NOT NULL,
  UNIQUE (endpoint_id, event_id)
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);

-- Every attempt: the delivery log (status code or the network error; never the body).
CREATE TABLE webhook_attempts (
  id           INTEGER PRIMARY KEY,
  delivery_id  TEXT NOT NULL,
  at           INTEGER NOT NULL,
  -- 'cron' or 'resend'.
  trigger      TEXT NOT NULL,
  status       INTEGER,
  error        TEXT,
  duration_ms  INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, at);
