-- Profit sharing (分账): each collection's share rule, the receivers added at WeChat, one job
-- per WeChat request (share or unfreeze) with its receivers' results, and returns before
-- refunds. Money is integer fen, ratios 1/10 000, times Unix seconds. The arithmetic lives in
-- shoukuan-core (profitshare); these tables hold its inputs and WeChat's outcomes.

-- A collection's share rule, one row per receiver, served in `position` order.
CREATE TABLE share_rules (
  collection_id  TEXT NOT NULL,
  position       INTEGER NOT NULL CHECK (position >= 0),
  receiver_type  TEXT NOT NULL CHECK (receiver_type IN ('PERSONAL_OPENID', 'MERCHANT_ID')),
  account        TEXT NOT NULL,
  -- The real or full merchant name, sealed with DATA_KEY (NULL: not given).
  name_sealed    TEXT,
  relation_type  TEXT NOT NULL,
  -- Exactly one of a fixed amount and a ratio.
  amount_fen     INTEGER CHECK (amount_fen IS NULL OR amount_fen > 0),
  ratio_bps      INTEGER CHECK (ratio_bps IS NULL OR (ratio_bps > 0 AND ratio_bps <= 10000)),
  description    TEXT NOT NULL,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY (collection_id, position),
  CHECK ((amount_fen IS NULL) <> (ratio_bps IS NULL))
) STRICT;

-- Receivers added at WeChat (receivers/add), per sharing merchant: the sub_mchid (platform)
-- or the mchid (own business). Adding is idempotent at WeChat; this only saves the call.
CREATE TABLE share_receivers (
  merchant       TEXT NOT NULL,
  receiver_type  TEXT NOT NULL,
  account        TEXT NOT NULL,
  relation_type  TEXT NOT NULL,
  added_at       INTEGER NOT NULL,
  PRIMARY KEY (merchant, receiver_type, account)
) STRICT;

-- One row per WeChat request about an order's frozen funds. The same out_order_no is reused
-- for every retry of the same attempt (same number = same request at WeChat); a new attempt
-- (an unfreeze after a failed share) gets a new number.
CREATE TABLE share_jobs (
  out_order_no     TEXT PRIMARY KEY,
  order_id         TEXT NOT NULL,
  kind             TEXT NOT NULL CHECK (kind IN ('share', 'unfreeze')),
  attempt          INTEGER NOT NULL CHECK (attempt >= 1),
  -- planned: amounts fixed, not yet accepted by WeChat; processing: accepted, polling;
  -- finished: every receiver final; failed: refused for good (see last_error).
  state            TEXT NOT NULL DEFAULT 'planned'
                   CHECK (state IN ('planned', 'processing', 'finished', 'failed')),
  -- The sharing merchant's ids at planning time (sub_mchid NULL for a direct merchant).
  sub_mchid        TEXT,
  transaction_id   TEXT NOT NULL,
  -- WeChat's unsplit_amount when the amounts were computed, and the cap that applied.
  unsplit_fen      INTEGER,
  cap_fen          INTEGER,
  wechat_order_id  TEXT,
  next_attempt_at  INTEGER NOT NULL,
  attempts         INTEGER NOT NULL DEFAULT 0,
  last_error       TEXT,
  -- Random token of the cron run that planned it: only that run writes its results.
  planner          TEXT NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  UNIQUE (order_id, kind, attempt)
) STRICT;
CREATE INDEX share_jobs_due ON share_jobs (state, next_attempt_at);
CREATE INDEX share_jobs_order ON share_jobs (order_id);

-- The receivers of a share job with their outcome.
CREATE TABLE share_results (
  out_order_no   TEXT NOT NULL,
  position       INTEGER NOT NULL,
  receiver_type  TEXT NOT NULL,
  account        TEXT NOT NULL,
  relation_type  TEXT NOT NULL,
  -- A copy of the rule's sealed name (the rule may change before the receiver is added).
  name_sealed    TEXT,
  -- 'fee' (the platform's), 'rule' (the collection's rule)
  source         TEXT NOT NULL CHECK (source IN ('fee', 'rule')),
  amount_fen     INTEGER NOT NULL CHECK (amount_fen > 0),
  wanted_fen     INTEGER NOT NULL CHECK (wanted_fen >= amount_fen),
  description    TEXT NOT NULL,
  result         TEXT NOT NULL DEFAULT 'PENDING' CHECK (result IN ('PENDING', 'SUCCESS', 'CLOSED')),
  fail_reason    TEXT,
  finished_at    INTEGER,
  PRIMARY KEY (out_order_no, position)
) STRICT;

-- Returns (分账回退) before a refund: from a merchant receiver, within what it got.
CREATE TABLE share_returns (
  out_return_no  TEXT PRIMARY KEY,
  order_id       TEXT NOT NULL,
  out_order_no   TEXT NOT NULL,
  return_mchid   TEXT NOT NULL,
  amount_fen     INTEGER NOT NULL CHECK (amount_fen > 0),
  result         TEXT NOT NULL DEFAULT 'PROCESSING' CHECK (result IN ('PROCESSING', 'SUCCESS', 'FAILED')),
  return_id      TEXT,
  fail_reason    TEXT,
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX share_returns_order ON share_returns (order_id);

-- The sub-merchant's ratio authorised to the service provider
-- (GET /v3/profitsharing/merchant-configs/{sub_mchid}), cached for a day.
ALTER TABLE payee_merchants ADD COLUMN max_ratio_bps INTEGER;
ALTER TABLE payee_merchants ADD COLUMN max_ratio_checked_at INTEGER;
