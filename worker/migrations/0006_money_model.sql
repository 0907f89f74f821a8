-- The money model (WECHATPAY_MODEL = own_business | platform): who each payee's money goes to,
-- and, per order, the merchant it was made for, so that callbacks, queries, closes and refunds
-- of an order always go to — and are checked against — that merchant (core::routing).

-- Per payee. Platform: the sub-merchant (特约商户号) the operator bound the payee to; merchant
-- mode is refused to a payee without one. Own business: when the operator declared the payee
-- part of the business (staff, branch, shop) by approving it.
CREATE TABLE payee_merchants (
  openid             TEXT PRIMARY KEY,
  sub_mchid          TEXT CHECK (sub_mchid IS NULL OR (length(sub_mchid) BETWEEN 8 AND 32 AND sub_mchid NOT GLOB '*[^0-9]*')),
  declared_staff_at  INTEGER,
  note               TEXT,
  updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX payee_merchants_sub ON payee_merchants (sub_mchid) WHERE sub_mchid IS NOT NULL;

-- Orders gain their routing and H5 (trade_type 'MWEB'). SQLite cannot change a CHECK in place:
-- the table is rebuilt with every column, index and the state trigger. Rows made before this
-- migration keep NULL mchid/appid, which readers take as the direct configuration (they were
-- all direct orders).
CREATE TABLE orders_new (
  id               TEXT PRIMARY KEY,
  out_trade_no     TEXT NOT NULL UNIQUE,
  collection_id    TEXT NOT NULL,
  payee_openid     TEXT NOT NULL,
  amount_fen       INTEGER NOT NULL CHECK (amount_fen > 0),
  trade_type       TEXT NOT NULL CHECK (trade_type IN ('JSAPI', 'NATIVE', 'MWEB')),
  payer_openid     TEXT,
  state            TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'paid', 'closed', 'refunding', 'refunded')),
  limit_day        INTEGER NOT NULL,
  prepay_id        TEXT,
  code_url         TEXT,
  expires_at       INTEGER NOT NULL,
  transaction_id   TEXT,
  paid_at          INTEGER,
  refunded_fen     INTEGER NOT NULL DEFAULT 0 CHECK (refunded_fen >= 0 AND refunded_fen <= amount_fen),
  changed_by       TEXT,
  last_query_at    INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  participant_id   TEXT,
  -- The signing merchant at creation: mchid (own business) or sp_mchid (platform).
  mchid            TEXT,
  -- The payee's sub-merchant (platform); NULL for a direct order.
  sub_mchid        TEXT,
  -- appid (own business) or sp_appid (platform): the payer's openid is under it.
  appid            TEXT,
  -- 1 = created with settle_info.profit_sharing = true (its funds are frozen until shared).
  profit_sharing   INTEGER NOT NULL DEFAULT 0 CHECK (profit_sharing IN (0, 1))
) STRICT;
INSERT INTO orders_new (id, out_trade_no, collection_id, payee_openid, amount_fen, trade_type,
  payer_openid, state, limit_day, prepay_id, code_url, expires_at, transaction_id, paid_at,
  refunded_fen, changed_by, last_query_at, created_at, updated_at, participant_id)
SELECT id, out_trade_no, collection_id, payee_openid, amount_fen, trade_type,
  payer_openid, state, limit_day, prepay_id, code_url, expires_at, transaction_id, paid_at,
  refunded_fen, changed_by, last_query_at, created_at, updated_at, participant_id
FROM orders;
DROP TRIGGER orders_state_changed;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
CREATE INDEX orders_state_created ON orders (state, created_at);
CREATE INDEX orders_payee_day ON orders (payee_openid, limit_day);
CREATE INDEX orders_collection ON orders (collection_id, created_at);
CREATE UNIQUE INDEX orders_transaction ON orders (transaction_id) WHERE transaction_id IS NOT NULL;
CREATE INDEX orders_participant ON orders (participant_id) WHERE participant_id IS NOT NULL;
-- The payer's own orders ("我的订单").
CREATE INDEX orders_payer ON orders (payer_openid, created_at) WHERE payer_openid IS NOT NULL;

CREATE TRIGGER orders_state_changed AFTER UPDATE OF state ON orders
WHEN OLD.state <> NEW.state
BEGIN
  INSERT INTO order_events (order_id, from_state, to_state, changed_by, at)
  VALUES (NEW.id, OLD.state, NEW.state, NEW.changed_by, NEW.updated_at);
END;
